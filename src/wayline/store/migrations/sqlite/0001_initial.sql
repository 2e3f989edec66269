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
    parent_task_id INTEGER,
    parent_execution_id TEXT,
    created_at INTEGER NOT NULL,
    last_updated_at INTEGER NOT NULL,
    completed_at INTEGER,
    scheduled_start_at INTEGER,
    version INTEGER NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_expires_at INTEGER,
    lease_token INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX instances_created ON instances (created_at, instance_id);
CREATE INDEX instances_status_created ON instances (status, created_at);
CREATE INDEX instances_name_created ON instances (name, created_at);
CREATE INDEX instances_parent ON instances (parent_instance_id);
CREATE INDEX instances_completed ON instances (completed_at);

-- History: the append-only event list of each instance's current execution.
CREATE TABLE history (
    instance_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    event TEXT NOT NULL,
    PRIMARY KEY (instance_id, seq)
) WITHOUT ROWID;

-- Inbox: events waiting for a turn; timers are rows whose visible_at is in the future.
CREATE TABLE inbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id TEXT NOT NULL,
    execution_id TEXT,
    kind TEXT NOT NULL,
    event TEXT NOT NULL,
    visible_at INTEGER NOT NULL
);
CREATE INDEX inbox_instance ON inbox (instance_id, id);
CREATE INDEX inbox_visible ON inbox (visible_at);

-- Activity tasks waiting for (or leased to) a worker.
CREATE TABLE tasks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id TEXT NOT NULL,
    execution_id TEXT NOT NULL,
    task_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    input TEXT,
    created_at INTEGER NOT NULL,
    lease_owner TEXT,
    lease_expires_at INTEGER,
    attempt INTEGER NOT NULL DEFAULT 0,
    UNIQUE (instance_id, execution_id, task_id)
);
CREATE INDEX tasks_instance ON tasks (instance_id);
CREATE INDEX tasks_lease ON tasks (lease_expires_at);
