-- People at the stations (accounts for the web page), their sessions, failed
-- sign-ins per login, and what each person did to which program.

CREATE TABLE people (
    id                   TEXT PRIMARY KEY,
    login                TEXT NOT NULL UNIQUE,    -- lowercase
    name                 TEXT NOT NULL,
    station_id           TEXT REFERENCES stations (id),
    role                 TEXT NOT NULL CHECK (role IN ('editor', 'viewer', 'operator')),
    password_hash        TEXT NOT NULL,           -- Argon2id, PHC string
    language             TEXT,
    created_at           INTEGER NOT NULL,
    password_changed_at  INTEGER NOT NULL,
    CHECK ((role = 'operator') = (station_id IS NULL))
) STRICT;
CREATE INDEX people_by_station ON people (station_id);

-- A signed-in browser: only the SHA-256 of the session id is kept.
CREATE TABLE sessions (
    id_sha256     BLOB PRIMARY KEY,
    person_id     TEXT NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    created_at    INTEGER NOT NULL,
    last_seen_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX sessions_by_person ON sessions (person_id);

-- Failed sign-ins per login name (whether or not such a person exists).
CREATE TABLE sign_in_failures (
    login           TEXT PRIMARY KEY,
    failures        INTEGER NOT NULL,
    last_failed_at  INTEGER NOT NULL,
    locked_until    INTEGER
) STRICT;

-- Who did what when: uploads, publications, withdrawals, takes,
-- rebroadcasts made by people through the page.
CREATE TABLE program_actions (
    program_seq  INTEGER NOT NULL REFERENCES programs (seq) ON DELETE CASCADE,
    person_id    TEXT NOT NULL REFERENCES people (id),
    action       TEXT NOT NULL,
    detail       TEXT,
    at           INTEGER NOT NULL
) STRICT;
CREATE INDEX program_actions_by_program ON program_actions (program_seq, at);
