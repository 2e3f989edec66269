-- The last-updated index of 0010 cost about 5% of concurrent step throughput (every
-- commit moves last_updated_at, so every commit rewrote its entry): the dashboard's
-- "last updated" order scans instead, like its duration order.
DROP INDEX IF EXISTS instances_updated;
