-- Per-key rate limits: `100/min`, `10/s burst 20`; NULL for none (the service default applies).
ALTER TABLE keygate_keys ADD COLUMN rate_limit TEXT;
