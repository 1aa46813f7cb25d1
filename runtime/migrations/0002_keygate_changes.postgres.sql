-- Change announcements on PostgreSQL: every change to a key, by any connection or process,
-- sends `NOTIFY keygate_changes` with '<schema> <key id>' from a trigger, in the change's own
-- transaction, so it is delivered on commit and never for a change rolled back. Triggers rather
-- than statements in keygate's code, so a change made with plain SQL (an operator's DELETE) is
-- announced too. A write that only records when a key was last used is not a change anyone needs
-- to hear of.
CREATE FUNCTION keygate_announce() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE'
        AND (to_jsonb(OLD) - 'last_used_at') = (to_jsonb(NEW) - 'last_used_at')
        AND OLD.last_used_at IS DISTINCT FROM NEW.last_used_at THEN
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM pg_notify('keygate_changes', TG_TABLE_SCHEMA || ' ' || OLD.key_id);
    END IF;
    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.key_id <> OLD.key_id) THEN
        PERFORM pg_notify('keygate_changes', TG_TABLE_SCHEMA || ' ' || NEW.key_id);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER keygate_keys_announce AFTER INSERT OR UPDATE OR DELETE ON keygate_keys
FOR EACH ROW EXECUTE FUNCTION keygate_announce();
