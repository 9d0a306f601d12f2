-- articles mirrors the Postgres table. Times are integer Unix nanoseconds (UTC),
-- content_hash a 32-byte blob.
CREATE TABLE articles (
    id           text    PRIMARY KEY NOT NULL,
    source       text    NOT NULL,
    url          text    NOT NULL DEFAULT '',
    title        text    NOT NULL DEFAULT '',
    body         text    NOT NULL DEFAULT '',
    lang         text    NOT NULL DEFAULT '',
    published_at integer,
    ingested_at  integer NOT NULL,
    content_hash blob    NOT NULL,
    summary      text    NOT NULL DEFAULT '',
    category     text    NOT NULL DEFAULT '',
    importance   integer NOT NULL DEFAULT 0 CHECK (importance BETWEEN 0 AND 100),
    llm_model    text    NOT NULL DEFAULT '',
    stream_seq   integer NOT NULL DEFAULT 0
);

-- SQLite has no BRIN: a btree on story time bounds top's window.
CREATE INDEX articles_content_hash_idx ON articles (content_hash);
CREATE INDEX articles_story_time_idx ON articles (coalesce(published_at, ingested_at));
