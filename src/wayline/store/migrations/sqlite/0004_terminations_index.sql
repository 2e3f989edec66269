-- A terminate needs no workflow code: every node claims instances with one queued,
-- whatever their workflow's name, through this index of queued terminates only.
CREATE INDEX inbox_terminations ON inbox (instance_id) WHERE kind = 'ExecutionTerminated';
