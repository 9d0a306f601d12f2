-- No query reads articles by story_id: top and Stats group the rows of a
-- time window (found through the BRIN index) by coalesce(story_id,
-- content_hash), which a btree on story_id cannot serve. Like the dropped
-- content_hash btree, its random 256-bit keys cost every insert a leaf page
-- somewhere in the index, with its page split and full-page write: about
-- a fifth of the server's CPU per row (README's Benchmarks). Dropping it is
-- instant on a populated table; the column stays as it is.
DROP INDEX IF EXISTS articles_story_id_idx;
