-- A station may follow a person's download list (kind `list`, the value a
-- login of one of its people): the kind's CHECK takes it. SQLite changes a
-- CHECK only by making the table again, with its rows and index as they were.
CREATE TABLE follows_new (
    id          TEXT PRIMARY KEY,
    station_id  TEXT NOT NULL REFERENCES stations (id),
    kind        TEXT NOT NULL CHECK (kind IN ('series', 'station', 'genre', 'search', 'list')),
    value       TEXT NOT NULL,
    match_key   TEXT NOT NULL,
    deliver     INTEGER NOT NULL DEFAULT 0 CHECK (deliver IN (0, 1)),
    roles       TEXT NOT NULL,   -- JSON array of file roles
    backfill    INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    profile     TEXT REFERENCES profiles (id),
    cut_id      TEXT,
    target_id   TEXT REFERENCES push_targets (id)
) STRICT;
INSERT INTO follows_new (id, station_id, kind, value, match_key, deliver, roles, backfill, created_at, profile, cut_id,
    target_id)
SELECT id, station_id, kind, value, match_key, deliver, roles, backfill, created_at, profile, cut_id, target_id
FROM follows;
DROP TABLE follows;
ALTER TABLE follows_new RENAME TO follows;
CREATE UNIQUE INDEX follows_once ON follows (station_id, kind, match_key);
