-- story_id: see the Postgres migration. Nullable for the same reason.
ALTER TABLE articles ADD COLUMN story_id blob;
UPDATE articles SET story_id = content_hash WHERE story_id IS NULL;
CREATE INDEX articles_story_id_idx ON articles (story_id);
