-- Retention: when a finished instance's state may be deleted (NULL: kept). Stamped at
-- completion from the finishing node's policy; every node deletes what is due.
ALTER TABLE instances ADD COLUMN expires_at INTEGER;
CREATE INDEX instances_expiry ON instances (expires_at) WHERE expires_at IS NOT NULL;
