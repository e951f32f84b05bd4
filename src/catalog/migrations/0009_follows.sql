-- What each station follows: a series, a station, a genre or a saved search.
-- `match_key` is the value as follows compare it (a series name folded), so
-- that a station follows each thing once.
CREATE TABLE follows (
    id          TEXT PRIMARY KEY,
    station_id  TEXT NOT NULL REFERENCES stations (id),
    kind        TEXT NOT NULL CHECK (kind IN ('series', 'station', 'genre', 'search')),
    value       TEXT NOT NULL,
    match_key   TEXT NOT NULL,
    deliver     INTEGER NOT NULL DEFAULT 0 CHECK (deliver IN (0, 1)),
    roles       TEXT NOT NULL,   -- JSON array of file roles
    backfill    INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX follows_once ON follows (station_id, kind, match_key);
