-- S3 multipart upload ids of single-request uploads in progress, so that the
-- sweeper can abort those a crashed process left.
ALTER TABLE media_uploads ADD COLUMN multipart_id TEXT;

-- Resumable (tus) uploads: everything needed to go on after a dropped
-- connection or a restart.
CREATE TABLE tus_uploads (
    id            TEXT PRIMARY KEY,
    station_id    TEXT NOT NULL REFERENCES stations (id),
    program_id    TEXT NOT NULL,
    role          TEXT NOT NULL,
    filename      TEXT NOT NULL,
    media_type    TEXT NOT NULL,
    metadata      TEXT NOT NULL,     -- Upload-Metadata as received, echoed by HEAD
    length        INTEGER,           -- NULL while the length is deferred
    received      INTEGER NOT NULL,  -- the upload offset
    sink          TEXT NOT NULL,     -- JSON: object key, multipart id and parts, spooled bytes
    sha256_state  BLOB NOT NULL,     -- SHA-256 of the bytes received so far, resumable
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    completed_at  INTEGER
) STRICT;
CREATE INDEX tus_uploads_by_expiry ON tus_uploads (expires_at);
CREATE INDEX tus_uploads_by_key ON tus_uploads (json_extract(sink, '$.key'));
