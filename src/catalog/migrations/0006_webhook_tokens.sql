-- The token that made a subscription: revoking the token ends it. NULL for
-- subscriptions made before this was recorded (they stay until deleted).
ALTER TABLE webhooks ADD COLUMN token_id TEXT REFERENCES tokens (id);
CREATE INDEX webhooks_by_token ON webhooks (token_id) WHERE deleted_at IS NULL;
