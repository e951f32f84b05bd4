-- People managed on the page and with the command line: a person may be
-- disabled (kept, with what they did, but unable to sign in), or removed
-- (kept only for the history of what they did: hidden, disabled, their
-- login free again); a station's editor may be its editor in charge, who
-- manages the station's people.
ALTER TABLE people ADD COLUMN disabled_at INTEGER;
ALTER TABLE people ADD COLUMN removed_at INTEGER;
ALTER TABLE people ADD COLUMN in_charge INTEGER NOT NULL DEFAULT 0 CHECK (in_charge IN (0, 1));
