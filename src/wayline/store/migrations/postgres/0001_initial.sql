-- The PostgreSQL twin of migrations/sqlite/0001_initial.sql: same tables, columns
-- and indexes. Times are BIGINT microseconds since the epoch (UTC), ids BIGSERIAL.

-- Instances: one row per instance id, describing its current execution.
CREATE TABLE instances (
    instance_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    execution_id TEXT NOT NULL,
    input TEXT,
    output TEXT,
    custom_status TEXT,
    failure TEXT,
    parent_instance_id TEXT,
    parent_task_id BIGINT,
    parent_execution_id TEXT,
    created_at BIGINT NOT NULL,
    last_updated_at BIGINT NOT NULL,
    completed_at BIGINT,
    scheduled_start_at BIGINT,
    version BIGINT NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_expires_at BIGINT,
    lease_token BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX instances_created ON instances (created_at, instance_id);
CREATE INDEX instances_status_created ON instances (status, created_at);
CREATE INDEX instances_name_created ON instances (name, created_at);
CREATE INDEX instances_parent ON instances (parent_instance_id);
CREATE INDEX instances_completed ON instances (completed_at);

-- History: the append-only event list of each instance's current execution.
CREATE TABLE history (
    instance_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    event TEXT NOT NULL,
    PRIMARY KEY (instance_id, seq)
);

-- Inbox: events waiting for a turn; timers are rows whose visible_at is in the future.
CREATE TABLE inbox (
    id BIGSERIAL PRIMARY KEY,
    instance_id TEXT NOT NULL,
    execution_id TEXT,
    kind TEXT NOT NULL,
    event TEXT NOT NULL,
    visible_at BIGINT NOT NULL
);
CREATE INDEX inbox_instance ON inbox (instance_id, id);
CREATE INDEX inbox_visible ON inbox (visible_at);

-- Activity tasks waiting for (or leased to) a worker.
CREATE TABLE tasks (
    id BIGSERIAL PRIMARY KEY,
    instance_id TEXT NOT NULL,
    execution_id TEXT NOT NULL,
    task_id BIGINT NOT NULL,
    name TEXT NOT NULL,
    input TEXT,
    created_at BIGINT NOT NULL,
    lease_owner TEXT,
    lease_expires_at BIGINT,
    attempt BIGINT NOT NULL DEFAULT 0,
    UNIQUE (instance_id, execution_id, task_id)
);
CREATE INDEX tasks_instance ON tasks (instance_id);
CREATE INDEX tasks_lease ON tasks (lease_expires_at);

-- Wake-ups: a transaction that adds runnable work (an inbox message, a timer, an
-- activity task) tells every listening engine, at commit. PostgreSQL folds
-- identical notifications of one transaction into one. (PostgreSQL migrations run
-- as one script, so this function body may hold ';'.)
CREATE FUNCTION wayline_notify_work() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('wayline_work', TG_TABLE_NAME);
    RETURN NULL;
END
$$;
CREATE TRIGGER inbox_notify AFTER INSERT ON inbox
    FOR EACH STATEMENT EXECUTE FUNCTION wayline_notify_work();
CREATE TRIGGER tasks_notify AFTER INSERT ON tasks
    FOR EACH STATEMENT EXECUTE FUNCTION wayline_notify_work();
