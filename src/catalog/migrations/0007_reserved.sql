-- Reserved for the people/web migration (another branch); this branch keeps
-- its place so that 0008 is the eighth. Replaced at merge.
SELECT 1;
