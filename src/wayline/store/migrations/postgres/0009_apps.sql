-- Multi-app workflows: the app whose nodes run each instance and activity task, the
-- app of a child's parent, and the app that called a task in another app (NULL: the
-- same app). Rows from before belong to the default app.
ALTER TABLE instances ADD COLUMN app_id TEXT NOT NULL DEFAULT 'wayline';
ALTER TABLE instances ADD COLUMN parent_app_id TEXT;
ALTER TABLE tasks ADD COLUMN app_id TEXT NOT NULL DEFAULT 'wayline';
ALTER TABLE tasks ADD COLUMN source_app_id TEXT;
