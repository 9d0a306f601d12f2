-- No query of the SQLite store looks rows up by content_hash or story_id:
-- top finds its window through articles_story_time_idx and groups the
-- window's rows by coalesce(story_id, content_hash) in a temporary b-tree,
-- Stats scans the table. Both indexes have random 32-byte keys, so each
-- committed row dirtied a page of each, written twice into the WAL
-- (BenchmarkCommit/sqlite and go run ./bench --embedded-only; see README).
DROP INDEX IF EXISTS articles_content_hash_idx;
DROP INDEX IF EXISTS articles_story_id_idx;
