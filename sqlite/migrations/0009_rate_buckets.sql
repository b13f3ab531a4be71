-- The rate limits that hold for a whole cluster (package ratelimit, with
-- Config.Shared): one row per limit and key, holding the bucket's
-- theoretical arrival time in microseconds since the epoch, when the bucket
-- is full again. A row whose tat has passed is a full bucket, the same as
-- no row: Purge deletes those.
CREATE TABLE rate_buckets (
    name TEXT NOT NULL,
    key  TEXT NOT NULL,
    tat  INTEGER NOT NULL,
    PRIMARY KEY (name, key)
);
