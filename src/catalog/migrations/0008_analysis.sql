-- What the hub learns by looking inside stored content: one job per content
-- (SHA-256) and kind, so a file stored twice is analysed once. A worker
-- claims a job with a lease it keeps renewing; a job whose lease ran out (its
-- worker died) is claimed again.
CREATE TABLE analysis_jobs (
    sha256           TEXT NOT NULL,
    kind             TEXT NOT NULL CHECK (kind IN ('analyze')),
    state            TEXT NOT NULL CHECK (state IN ('pending', 'running', 'done', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    lease_until      INTEGER,
    error            TEXT,
    result           TEXT,      -- JSON: domain::Findings
    -- Previews, under keys the hub made from the content's SHA-256.
    preview_key      TEXT,
    preview_type     TEXT,
    preview_sha256   TEXT,
    poster_key       TEXT,
    poster_sha256    TEXT,
    waveform_key     TEXT,
    waveform_sha256  TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    PRIMARY KEY (sha256, kind)
) STRICT;
CREATE INDEX analysis_jobs_due ON analysis_jobs (state, next_attempt_at);

-- Files stored before analysis existed wait for it too.
INSERT INTO analysis_jobs (sha256, kind, state, next_attempt_at, created_at, updated_at)
    SELECT DISTINCT sha256, 'analyze', 'pending', 0, 0, 0 FROM program_files;

-- The feed tells of finished analyses: the type check gains `file.analyzed`
-- (SQLite changes a CHECK by copying the table; foreign keys are off while
-- migrations run).
CREATE TABLE events_new (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    type         TEXT NOT NULL CHECK (type IN ('program.published', 'program.updated', 'program.withdrawn', 'file.replaced', 'file.analyzed')),
    program_seq  INTEGER NOT NULL REFERENCES programs (seq),
    at           INTEGER NOT NULL
) STRICT;
INSERT INTO events_new (seq, type, program_seq, at) SELECT seq, type, program_seq, at FROM events;
DROP TABLE events;
ALTER TABLE events_new RENAME TO events;
CREATE INDEX events_by_program ON events (program_seq);
