-- keygate's schema. The same text runs on SQLite and PostgreSQL: times are BIGINT unix
-- milliseconds (UTC), scopes and metadata are JSON text, the hash is hex. No secret is stored.
CREATE TABLE keygate_keys (
    key_id       TEXT    NOT NULL PRIMARY KEY,
    hash_version BIGINT  NOT NULL,
    hash         TEXT    NOT NULL,
    name         TEXT    NOT NULL,
    owner        TEXT    NOT NULL,
    scopes       TEXT    NOT NULL,
    metadata     TEXT    NOT NULL,
    created_at   BIGINT  NOT NULL,
    expires_at   BIGINT,
    revoked_at   BIGINT,
    last_used_at BIGINT,
    rotated_from TEXT,
    rotated_to   TEXT
);

CREATE INDEX keygate_keys_owner ON keygate_keys (owner, created_at);

-- Settings the service and the command line must agree on, such as the key prefix.
CREATE TABLE keygate_meta (
    name  TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
);
