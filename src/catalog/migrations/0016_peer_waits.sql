-- Hubs that follow each other (issue 26): what the operator and the pages
-- say about a peer that is down.
--
-- When the peer's feed was last read (or tried): `/admin` shows it beside
-- `last_error`.
ALTER TABLE peers ADD COLUMN polled_at INTEGER;

-- The peer's webhooks wake this hub's peer worker: this hub subscribed on
-- the peer (with its peer token) as webhook `wake_hook` there, whose
-- deliveries are signed with `wake_secret` (made here; never shown).
ALTER TABLE peers ADD COLUMN wake_secret TEXT;
ALTER TABLE peers ADD COLUMN wake_hook TEXT;

-- A mirrored program's file that could not be fetched from its origin (the
-- peer could not be reached, or answered with a failure): the program waits
-- for its origin, and its page says so, with when it was last tried. The
-- row goes when the file is fetched, or with its peer.
CREATE TABLE peer_waits (
    sha256    TEXT PRIMARY KEY,
    peer      TEXT NOT NULL REFERENCES peers (id) ON DELETE CASCADE,
    tried_at  INTEGER NOT NULL
) STRICT;

-- Eager mirroring: the peer's files are fetched ahead of any need (`all`
-- its mirrored programs, or those a station here `followed`), newest first,
-- while the files stored here of its programs stay within
-- `eager_max_bytes` (0: no limit), so that they are served while it is down.
ALTER TABLE peers ADD COLUMN eager TEXT NOT NULL DEFAULT 'none'
    CHECK (eager IN ('none', 'all', 'followed'));
ALTER TABLE peers ADD COLUMN eager_max_bytes INTEGER NOT NULL DEFAULT 0;
