-- Hubs that follow each other (issue 26).
--
-- A station of kind `peer` is another cluster's hub; its tokens have role
-- `peer`; a program whose audience is `all` reaches the stations of peer
-- hubs too. SQLite cannot alter a CHECK constraint, and rebuilding these
-- tables would have to name every column other migrations add, so the
-- constraint's text is edited in place (SQLite's documented way for a
-- change that no stored row breaks: every value allowed before still is),
-- and the schema is reloaded before anything else runs.
PRAGMA writable_schema = ON;
UPDATE sqlite_schema
   SET sql = replace(sql, 'CHECK (kind IN (''provincial'', ''national''))',
                          'CHECK (kind IN (''provincial'', ''national'', ''peer''))')
 WHERE type = 'table' AND name = 'stations';
UPDATE sqlite_schema
   SET sql = replace(sql, 'CHECK (role IN (''station'', ''national'', ''admin''))',
                          'CHECK (role IN (''station'', ''national'', ''admin'', ''peer''))')
 WHERE type = 'table' AND name = 'tokens';
UPDATE sqlite_schema
   SET sql = replace(sql, 'CHECK (audience IN (''cluster'', ''national'', ''stations''))',
                          'CHECK (audience IN (''cluster'', ''national'', ''stations'', ''all''))')
 WHERE type = 'table' AND name = 'programs';
PRAGMA writable_schema = RESET;

-- The hubs this hub follows. `token` is the one the peer's operator issued
-- for this hub (kept to call the peer; never shown). `cursor` is where the
-- peer's feed is read from next.
CREATE TABLE peers (
    id          TEXT PRIMARY KEY REFERENCES stations (id),
    name        TEXT NOT NULL,
    url         TEXT NOT NULL,
    token       TEXT NOT NULL,
    cursor      TEXT,
    last_error  TEXT,
    created_at  INTEGER NOT NULL
) STRICT;

-- A program mirrored from a peer: the peer (whose station row owns it
-- here, so it stays when the peer is removed and its mirrors withdrawn),
-- the origin station there, and its id there.
ALTER TABLE programs ADD COLUMN origin_peer TEXT;
ALTER TABLE programs ADD COLUMN origin_station TEXT;
ALTER TABLE programs ADD COLUMN origin_station_name TEXT;
ALTER TABLE programs ADD COLUMN origin_program_id TEXT;
CREATE UNIQUE INDEX programs_by_origin ON programs (origin_peer, origin_program_id)
    WHERE origin_peer IS NOT NULL;

-- On the hub that follows: takes and rebroadcasts of peers' programs by
-- this hub's stations, written with the take or the rebroadcast, sent to
-- the origin until it acknowledges. `id` is the idempotency key the origin
-- counts each once by.
CREATE TABLE peer_outbox (
    id          TEXT PRIMARY KEY,
    peer        TEXT NOT NULL,
    program_id  TEXT NOT NULL,   -- the program's id at the peer
    kind        TEXT NOT NULL CHECK (kind IN ('take', 'rebroadcast')),
    body        TEXT NOT NULL,   -- the JSON sent
    created_at  INTEGER NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT,
    sent_at     INTEGER
) STRICT;
CREATE INDEX peer_outbox_unsent ON peer_outbox (created_at) WHERE sent_at IS NULL;

-- On the hub that shares: its programs' takes and rebroadcasts by the
-- stations of peer hubs, as the peers report them, once per key.
CREATE TABLE peer_uses (
    peer          TEXT NOT NULL REFERENCES stations (id),
    key           TEXT NOT NULL,
    program_seq   INTEGER NOT NULL REFERENCES programs (seq),
    kind          TEXT NOT NULL CHECK (kind IN ('take', 'rebroadcast')),
    station       TEXT NOT NULL,
    station_name  TEXT NOT NULL,
    role          TEXT,
    aired_at      INTEGER,
    channel       TEXT,
    at            INTEGER NOT NULL,
    PRIMARY KEY (peer, key)
) STRICT;
CREATE INDEX peer_uses_by_program ON peer_uses (program_seq);
CREATE INDEX peer_uses_by_time ON peer_uses (at);

-- Programs once shared with every cluster whose audience was narrowed
-- since: their events still reach peer hubs, which withdraw their mirrors.
CREATE TABLE unshared (
    program_seq  INTEGER PRIMARY KEY REFERENCES programs (seq),
    at           INTEGER NOT NULL
) STRICT;
