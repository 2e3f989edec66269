-- History propagation: the scope of history an activity task receives (NULL: none).
ALTER TABLE tasks ADD COLUMN propagation TEXT;
