-- Push delivery: where a station's own servers take what it follows (SFTP,
-- FTP or an S3 bucket), and the outbox of files pushed there. The secret is
-- kept as given (the hub logs in with it); it is never shown again.
CREATE TABLE push_targets (
    id          TEXT PRIMARY KEY,
    station_id  TEXT NOT NULL REFERENCES stations (id),
    kind        TEXT NOT NULL CHECK (kind IN ('sftp', 'ftp', 's3')),
    url         TEXT NOT NULL,
    username    TEXT NOT NULL,
    secret      TEXT NOT NULL,
    path        TEXT NOT NULL,
    profile     TEXT,
    -- SFTP: the server's host key, learnt at the first connection; another
    -- key later is refused.
    host_key    TEXT,
    created_at  INTEGER NOT NULL,
    deleted_at  INTEGER
) STRICT;
CREATE INDEX push_targets_by_station ON push_targets (station_id) WHERE deleted_at IS NULL;
-- A delivering follow pushes what it matches to this target.
ALTER TABLE follows ADD COLUMN target_id TEXT REFERENCES push_targets (id);
CREATE TABLE push_deliveries (
    id               TEXT PRIMARY KEY,
    station_id       TEXT NOT NULL REFERENCES stations (id),
    target_id        TEXT NOT NULL REFERENCES push_targets (id),
    program_id       TEXT NOT NULL,
    role             TEXT NOT NULL,
    sha256           TEXT NOT NULL,   -- the content pushed
    size             INTEGER NOT NULL,
    name             TEXT NOT NULL,   -- its name on the target
    state            TEXT NOT NULL
        CHECK (state IN ('pending', 'sending', 'done', 'failed', 'waiting_window')),
    bytes            INTEGER NOT NULL DEFAULT 0,
    attempts         INTEGER NOT NULL DEFAULT 0,
    error            TEXT,
    next_attempt_at  INTEGER NOT NULL,
    lease_until      INTEGER,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    -- Attempts in a row that moved no byte forward: what backs off, and
    -- gives up (a long file over a link that drops keeps going).
    stalls           INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX push_deliveries_due ON push_deliveries (state, next_attempt_at);
CREATE INDEX push_deliveries_by_station ON push_deliveries (station_id, updated_at);
CREATE INDEX push_deliveries_by_program ON push_deliveries (program_id, state);
