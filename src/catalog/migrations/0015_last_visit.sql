-- When each person was last seen on the pages, and when their previous
-- visit ended: "Mới từ lần trước" lists what was published since then.
ALTER TABLE people ADD COLUMN seen_at INTEGER;
ALTER TABLE people ADD COLUMN previous_visit_at INTEGER;

-- Each person's download list ("Danh sách tải"): programs picked to take
-- one by one.
CREATE TABLE download_lists (
    person_id    TEXT NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    program_seq  INTEGER NOT NULL REFERENCES programs (seq) ON DELETE CASCADE,
    added_at     INTEGER NOT NULL,
    PRIMARY KEY (person_id, program_seq)
) STRICT;
