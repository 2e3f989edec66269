-- Tracing: what a tracing adapter keeps about an instance's orchestration span, and
-- the span an activity task's span continues (opaque text; NULL: not traced).
ALTER TABLE instances ADD COLUMN trace_context TEXT;
ALTER TABLE tasks ADD COLUMN trace_context TEXT;
