-- Queued timers by their firing time, so counting the timers that are due (metrics'
-- wayline_due_timers) is a range of this index, never a walk of the whole inbox. It
-- holds timer rows only: the activity step's fast path writes none.
CREATE INDEX inbox_timers ON inbox (visible_at) WHERE kind = 'TimerFired';
