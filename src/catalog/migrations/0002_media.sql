-- Media objects, known by their SHA-256: the same bytes are stored once,
-- under a key the hub generates.
CREATE TABLE media_objects (
    sha256      TEXT PRIMARY KEY,
    key         TEXT NOT NULL UNIQUE,
    size        INTEGER NOT NULL,
    created_at  INTEGER NOT NULL
) STRICT;

-- Objects being written: the sweeper leaves these alone while their upload
-- runs, and removes what a crashed upload left behind.
CREATE TABLE media_uploads (
    key         TEXT PRIMARY KEY,
    started_at  INTEGER NOT NULL
) STRICT;
