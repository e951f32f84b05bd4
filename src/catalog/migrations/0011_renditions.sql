-- Delivery profiles (what a station's playout takes) and the renditions
-- made of stored content to them: one per (content, profile), made by a
-- worker that claims it with a lease, as analyses are.
CREATE TABLE profiles (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    spec        TEXT NOT NULL,     -- JSON: domain::Profile
    created_at  INTEGER NOT NULL
) STRICT;

-- A follow may name the profile its deliveries take, and the cut ID the
-- station's playout knows the series by; a station names its default.
ALTER TABLE follows ADD COLUMN profile TEXT REFERENCES profiles (id);
ALTER TABLE follows ADD COLUMN cut_id TEXT;
ALTER TABLE stations ADD COLUMN default_profile TEXT REFERENCES profiles (id);

CREATE TABLE renditions (
    sha256           TEXT NOT NULL,   -- the content it is made of
    profile_id       TEXT NOT NULL REFERENCES profiles (id),
    state            TEXT NOT NULL CHECK (state IN ('pending', 'running', 'done', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    lease_until      INTEGER,
    error            TEXT,
    -- What was made, under a key the hub made from the content's SHA-256
    -- and the profile's fingerprint.
    key              TEXT,
    media_type       TEXT,
    size             INTEGER,
    head             BLOB,   -- the saved SHA-256 state over the object (media::sha256)
    loudness         TEXT,   -- JSON: domain::Loudness, measured on the rendition
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    PRIMARY KEY (sha256, profile_id)
) STRICT;
CREATE INDEX renditions_due ON renditions (state, next_attempt_at);
