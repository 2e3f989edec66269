-- Continue-as-new generations: 1 for the first execution, +1 at each continue-as-new
-- (the history keeps only the current generation's events, as durabletask's does).
ALTER TABLE instances ADD COLUMN generation INTEGER NOT NULL DEFAULT 1;
