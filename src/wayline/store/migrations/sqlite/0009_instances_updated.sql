-- The dashboard's "last updated" order pages by keyset on this index, so a page deep
-- in the list costs what the first one costs.
CREATE INDEX instances_updated ON instances (last_updated_at, instance_id);
