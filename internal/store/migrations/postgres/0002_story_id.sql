-- story_id names the story an article belongs to: the content hash of the
-- first article of its near-duplicate cluster. Rows stored before near-dup
-- detection are their own stories. It stays nullable so that a worker of the
-- previous version can still insert during a rolling upgrade; readers use
-- coalesce(story_id, content_hash).
ALTER TABLE articles ADD COLUMN story_id bytea;
UPDATE articles SET story_id = content_hash WHERE story_id IS NULL;
CREATE INDEX articles_story_id_idx ON articles (story_id);
