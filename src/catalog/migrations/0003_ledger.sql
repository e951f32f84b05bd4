-- The exchange ledger: completed downloads (takes) and reported
-- rebroadcasts. Rows are never updated or deleted through the API.

-- A station took a file of a program: it has received every byte of it.
-- Once per station, program, role and content.
CREATE TABLE takes (
    station_id   TEXT NOT NULL REFERENCES stations (id),
    program_seq  INTEGER NOT NULL REFERENCES programs (seq),
    role         TEXT NOT NULL,
    sha256       TEXT NOT NULL,
    size         INTEGER NOT NULL,
    taken_at     INTEGER NOT NULL,
    PRIMARY KEY (station_id, program_seq, role, sha256)
) WITHOUT ROWID;
CREATE INDEX takes_by_program ON takes (program_seq);
CREATE INDEX takes_by_time ON takes (taken_at);

-- Byte ranges a station has received of a file it has not fully taken yet
-- (a download that broke off, resumed with Range).
CREATE TABLE download_ranges (
    station_id   TEXT NOT NULL,
    program_seq  INTEGER NOT NULL REFERENCES programs (seq),
    role         TEXT NOT NULL,
    sha256       TEXT NOT NULL,
    first        INTEGER NOT NULL,
    last         INTEGER NOT NULL   -- exclusive
) STRICT;
CREATE INDEX download_ranges_by_file ON download_ranges (station_id, program_seq, role, sha256);

CREATE TABLE rebroadcasts (
    id           TEXT PRIMARY KEY,
    station_id   TEXT NOT NULL REFERENCES stations (id),
    program_seq  INTEGER NOT NULL REFERENCES programs (seq),
    aired_at     INTEGER NOT NULL,
    channel      TEXT NOT NULL,
    note         TEXT,
    reported_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX rebroadcasts_by_program ON rebroadcasts (program_seq);
CREATE INDEX rebroadcasts_by_time ON rebroadcasts (aired_at);
