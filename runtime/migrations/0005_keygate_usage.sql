-- Usage history: per key and UTC hour (`hour` is the hour's start, unix milliseconds), how many
-- requests were admitted and refused, by kind. Instances add to the same rows; old hours are
-- pruned by the service's usage writer.
CREATE TABLE keygate_usage (
    key_id             TEXT   NOT NULL,
    hour               BIGINT NOT NULL,
    admitted           BIGINT NOT NULL,
    insufficient_scope BIGINT NOT NULL,
    rate_limited       BIGINT NOT NULL,
    wrong_secret       BIGINT NOT NULL,
    PRIMARY KEY (key_id, hour)
);

-- Pruning looks hours up across keys.
CREATE INDEX keygate_usage_hour ON keygate_usage (hour);
