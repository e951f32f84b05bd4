-- The catalog: stations, their tokens, programs and their files, and the
-- full-text index. Timestamps are microseconds since the Unix epoch, UTC.

CREATE TABLE stations (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    province    TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('provincial', 'national')),
    created_at  INTEGER NOT NULL
) STRICT;

-- Only the SHA-256 of a token's secret is kept.
CREATE TABLE tokens (
    id             TEXT PRIMARY KEY,
    station_id     TEXT REFERENCES stations (id),
    role           TEXT NOT NULL CHECK (role IN ('station', 'national', 'admin')),
    label          TEXT NOT NULL,
    secret_sha256  BLOB NOT NULL,
    created_at     INTEGER NOT NULL,
    revoked_at     INTEGER,
    CHECK ((role = 'admin') = (station_id IS NULL))
) STRICT;
CREATE INDEX tokens_by_station ON tokens (station_id);

CREATE TABLE programs (
    seq                INTEGER PRIMARY KEY,   -- rowid, shared with program_fts
    id                 TEXT NOT NULL UNIQUE,
    station_id         TEXT NOT NULL REFERENCES stations (id),
    status             TEXT NOT NULL CHECK (status IN ('draft', 'published', 'withdrawn')),
    title              TEXT NOT NULL,
    title_key          TEXT NOT NULL,         -- folded title, for sorting
    summary            TEXT,
    description        TEXT,
    tags               TEXT NOT NULL,         -- JSON array of strings
    kind               TEXT NOT NULL,
    genre              TEXT NOT NULL,
    series             TEXT,
    episode            INTEGER,
    first_aired_at     INTEGER,
    duration_seconds   INTEGER,
    credits            TEXT NOT NULL,         -- JSON array of {role, name}
    audience           TEXT NOT NULL CHECK (audience IN ('cluster', 'national', 'stations')),
    available_from     INTEGER,
    available_until    INTEGER,
    credit_required    INTEGER NOT NULL,
    terms              TEXT,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    published_at       INTEGER,
    withdrawn_at       INTEGER,
    withdrawal_reason  TEXT,
    listed_at          INTEGER NOT NULL,      -- publication time, or creation for drafts: "newest"
    version            INTEGER NOT NULL
) STRICT;
-- Search filters, counts and sorts in memory (catalog::index); the catalog
-- is read by primary key for a page, and in full at start.
CREATE INDEX programs_by_station ON programs (station_id, status);

CREATE TABLE program_languages (
    lang         TEXT NOT NULL,
    program_seq  INTEGER NOT NULL REFERENCES programs (seq) ON DELETE CASCADE,
    position     INTEGER NOT NULL,
    PRIMARY KEY (lang, program_seq)
) WITHOUT ROWID;
CREATE INDEX program_languages_by_program ON program_languages (program_seq, position);

-- The stations that may take a program whose audience is `stations`.
CREATE TABLE program_audience (
    program_seq  INTEGER NOT NULL REFERENCES programs (seq) ON DELETE CASCADE,
    station_id   TEXT NOT NULL,
    PRIMARY KEY (program_seq, station_id)
) WITHOUT ROWID;

CREATE TABLE program_files (
    program_seq  INTEGER NOT NULL REFERENCES programs (seq) ON DELETE CASCADE,
    role         TEXT NOT NULL,
    filename     TEXT NOT NULL,
    media_type   TEXT NOT NULL,
    size         INTEGER NOT NULL,
    sha256       TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (program_seq, role)
) WITHOUT ROWID;
CREATE INDEX program_files_by_sha256 ON program_files (sha256);

-- Folded text (see domain::text::fold); the rowid is programs.seq.
CREATE VIRTUAL TABLE program_fts USING fts5 (
    title, summary, description, tags, series, credits,
    content = '', contentless_delete = 1,
    tokenize = 'unicode61 remove_diacritics 2',
    prefix = '1 2 3 4'
);

-- Hub-wide secrets and settings, e.g. the key that signs search cursors.
CREATE TABLE hub_settings (
    key    TEXT PRIMARY KEY,
    value  BLOB NOT NULL
) STRICT;
