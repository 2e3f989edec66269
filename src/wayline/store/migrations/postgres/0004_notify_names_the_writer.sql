-- A wake-up names the session that wrote it (its application_name; each Wayline store
-- object gives its connections its own), so a process ignores the echo of its own
-- writes, which it already knows of, and only other processes' work wakes it.
CREATE OR REPLACE FUNCTION wayline_notify_work() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('wayline_work', current_setting('application_name'));
    RETURN NULL;
END
$$;
