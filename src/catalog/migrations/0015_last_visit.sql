-- When each person was last seen on the pages, and when their previous
-- visit ended: "Mới từ lần trước" lists what was published since then.
ALTER TABLE people ADD COLUMN seen_at INTEGER;
ALTER TABLE people ADD COLUMN previous_visit_at INTEGER;
