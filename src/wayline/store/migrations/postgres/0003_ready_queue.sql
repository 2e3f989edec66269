-- Claims bounded by runnable work. instances.ready_at: the earliest time the instance
-- has an inbox message it may consume in its status (NULL when it has none: finished,
-- idle, waiting, or suspended with only held events); the partial index holds only
-- the non-NULL rows, so finding work never walks finished or waiting instances.
ALTER TABLE instances ADD COLUMN ready_at BIGINT;
UPDATE instances SET ready_at = (
    SELECT MIN(m.visible_at) FROM inbox m
    WHERE m.instance_id = instances.instance_id AND (
        instances.status = 'RUNNING'
        OR (instances.status = 'PENDING' AND m.kind IN ('ExecutionStarted', 'ExecutionTerminated'))
        OR (instances.status = 'SUSPENDED' AND m.kind IN ('ExecutionResumed', 'ExecutionTerminated'))))
WHERE status IN ('RUNNING', 'PENDING', 'SUSPENDED');
CREATE INDEX instances_ready ON instances (ready_at) WHERE ready_at IS NOT NULL;
DROP INDEX inbox_visible;

-- The length of the current execution's history: the next event's seq, read with the
-- row a commit locks anyway instead of by a MAX over the history.
ALTER TABLE instances ADD COLUMN history_length BIGINT NOT NULL DEFAULT 0;
UPDATE instances SET history_length = (
    SELECT COALESCE(MAX(h.seq) + 1, 0) FROM history h WHERE h.instance_id = instances.instance_id);

-- tasks.visible_at: when a task may be claimed (its creation when queued, its lease's
-- expiry when leased), so a claim is one index range.
ALTER TABLE tasks ADD COLUMN visible_at BIGINT NOT NULL DEFAULT 0;
UPDATE tasks SET visible_at = COALESCE(lease_expires_at, created_at);
DROP INDEX tasks_lease;
CREATE INDEX tasks_visible ON tasks (visible_at);

-- A task leased to the node that created it in the same commit is not work for other
-- nodes: only queued tasks wake them.
DROP TRIGGER tasks_notify ON tasks;
CREATE TRIGGER tasks_notify AFTER INSERT ON tasks
    FOR EACH ROW WHEN (NEW.lease_owner IS NULL) EXECUTE FUNCTION wayline_notify_work();

-- The unique (instance_id, execution_id, task_id) index already serves lookups by
-- instance; a second index would be one more page written by every task insert.
DROP INDEX tasks_instance;
