-- Change announcements on SQLite: every change to a key, by any connection or process, appends
-- its key id to a log in the same transaction; running stores poll the log and forget those
-- keys. Triggers rather than statements in keygate's code, so a change made with plain SQL (an
-- operator's DELETE) is announced too. A write that only records when a key was last used is not
-- a change anyone needs to hear of.
CREATE TABLE keygate_changes (
    seq    INTEGER PRIMARY KEY AUTOINCREMENT,
    key_id TEXT NOT NULL
);

CREATE TRIGGER keygate_keys_inserted AFTER INSERT ON keygate_keys
BEGIN
    INSERT INTO keygate_changes (key_id) VALUES (NEW.key_id);
END;

CREATE TRIGGER keygate_keys_updated AFTER UPDATE ON keygate_keys
WHEN OLD.last_used_at IS NEW.last_used_at
    OR OLD.key_id IS NOT NEW.key_id
    OR OLD.hash IS NOT NEW.hash
    OR OLD.scopes IS NOT NEW.scopes
    OR OLD.expires_at IS NOT NEW.expires_at
    OR OLD.revoked_at IS NOT NEW.revoked_at
    OR OLD.rotated_to IS NOT NEW.rotated_to
BEGIN
    INSERT INTO keygate_changes (key_id) VALUES (OLD.key_id);
    INSERT INTO keygate_changes (key_id) SELECT NEW.key_id WHERE NEW.key_id IS NOT OLD.key_id;
END;

CREATE TRIGGER keygate_keys_deleted AFTER DELETE ON keygate_keys
BEGIN
    INSERT INTO keygate_changes (key_id) VALUES (OLD.key_id);
END;

-- The log keeps the last thousand changes: a poller that fell further behind than that sees the
-- gap in the sequence and drops everything it caches.
CREATE TRIGGER keygate_changes_pruned AFTER INSERT ON keygate_changes
BEGIN
    DELETE FROM keygate_changes WHERE seq <= NEW.seq - 1000;
END;
