-- The change feed: one total order of what happened to published programs,
-- written in the same transaction as the change.
CREATE TABLE events (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    type         TEXT NOT NULL CHECK (type IN ('program.published', 'program.updated', 'program.withdrawn', 'file.replaced')),
    program_seq  INTEGER NOT NULL REFERENCES programs (seq),
    at           INTEGER NOT NULL
) STRICT;
CREATE INDEX events_by_program ON events (program_seq);

-- Webhook subscriptions of national broadcasters (or the operator: station NULL).
CREATE TABLE webhooks (
    id          TEXT PRIMARY KEY,
    station_id  TEXT REFERENCES stations (id),
    url         TEXT NOT NULL,
    events      TEXT NOT NULL,   -- JSON array of event types
    secret      TEXT NOT NULL,   -- signs deliveries; must be kept to sign
    created_at  INTEGER NOT NULL,
    deleted_at  INTEGER
) STRICT;

-- One delivery per subscription and event, written with the event, so that a
-- restart loses none.
CREATE TABLE deliveries (
    id               TEXT PRIMARY KEY,
    webhook_id       TEXT NOT NULL REFERENCES webhooks (id),
    event_seq        INTEGER NOT NULL REFERENCES events (seq),
    state            TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    last_status      INTEGER,
    last_error       TEXT,
    created_at       INTEGER NOT NULL,
    delivered_at     INTEGER
) STRICT;
CREATE INDEX deliveries_due ON deliveries (state, next_attempt_at);
CREATE INDEX deliveries_by_webhook ON deliveries (webhook_id, event_seq);
