-- The ScheduleTask action's task execution id (a GUID stable across retries), handed
-- to the activity and copied into its TaskCompleted/TaskFailed event.
ALTER TABLE tasks ADD COLUMN task_execution_id TEXT NOT NULL DEFAULT '';
