-- The nodes sharing this store and what each can run (see store/nodes.py).
CREATE TABLE nodes (
    node_id TEXT PRIMARY KEY,
    app_id TEXT NOT NULL,
    workflows TEXT NOT NULL,
    activities TEXT NOT NULL,
    remote_workers INTEGER NOT NULL,
    expires_at BIGINT NOT NULL
);
