-- articles holds one row per message id; reposts of a story share content_hash.
CREATE TABLE articles (
    id           text        COLLATE "C" PRIMARY KEY,
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

-- Indexes cost insert throughput, so there are few (see BenchmarkCommit):
-- the primary key (id compares bytewise: it is an opaque key) and the story
-- time that bounds top's window. Rows arrive roughly in story-time order, so a
-- BRIN index narrows a window to its block ranges at a fraction of a btree's
-- insert cost. top groups the window's rows by content_hash and filters them
-- by category, so neither needs a btree: one on content_hash (random 256-bit
-- keys, so page splits and full-page writes everywhere) cost ~30 % of the
-- server's insert CPU (24-31 → 18-19 µs per row), one on category ~15 %.
CREATE INDEX articles_story_time_idx ON articles
    USING brin ((coalesce(published_at, ingested_at))) WITH (autosummarize = on);
