-- A push sends the station's house format, named as the station names it.
-- A target may give its file names' template; a delivery keeps the master's
-- content it was made for (`master_sha256`: a changed master is a new
-- delivery) and the profile it is sent in, while `sha256` and `size` become
-- what the target receives (the rendition's, once it is made).
ALTER TABLE push_targets ADD COLUMN template TEXT;
ALTER TABLE push_deliveries ADD COLUMN master_sha256 TEXT NOT NULL DEFAULT '';
UPDATE push_deliveries SET master_sha256 = sha256;
ALTER TABLE push_deliveries ADD COLUMN profile TEXT;
-- A push into a bucket: its multipart upload and the parts the bucket holds
-- (JSON), resumed by the next attempt.
ALTER TABLE push_deliveries ADD COLUMN resume TEXT;
CREATE INDEX push_deliveries_by_content ON push_deliveries (target_id, program_id, role, master_sha256);
