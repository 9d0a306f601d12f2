-- articles holds one row per message id; reposts of a story share content_hash.
CREATE TABLE articles (
    id           text        PRIMARY KEY,
    source       text        NOT NULL,
    url          text        NOT NULL DEFAULT '',
    title        text        NOT NULL DEFAULT '',
    body         text        NOT NULL DEFAULT '',
    lang         text        NOT NULL DEFAULT '',
    published_at timestamptz,
    ingested_at  timestamptz NOT NULL DEFAULT now(),
    content_hash bytea       NOT NULL,
    summary      text        NOT NULL DEFAULT '',
    category     text        NOT NULL DEFAULT '',
    importance   smallint    NOT NULL DEFAULT 0 CHECK (importance BETWEEN 0 AND 100),
    llm_model    text        NOT NULL DEFAULT '',
    stream_seq   bigint      NOT NULL DEFAULT 0
);

-- top: group by story, window by story time, optional category filter.
CREATE INDEX articles_content_hash_idx ON articles (content_hash);
CREATE INDEX articles_story_time_idx ON articles ((coalesce(published_at, ingested_at)));
CREATE INDEX articles_category_time_idx ON articles (category, (coalesce(published_at, ingested_at)));
