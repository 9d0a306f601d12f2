package store

import (
	"fmt"
	"time"

	"newsflow/internal/news"
)

// Defaults of TopQuery.
const (
	// DefaultTopLimit is the number of stories Top returns when Limit is 0.
	DefaultTopLimit = 10
)

// TopQuery selects the stories Top returns.
type TopQuery struct {
	// Since bounds the window: stories whose rows have a story time
	// (published_at, else ingested_at) within Since before now. Zero or
	// negative means no bound.
	Since time.Duration
	// Limit caps the number of stories. Zero means DefaultTopLimit.
	Limit int
	// Category keeps only rows of this category. Empty means all.
	Category string
}

// MaxTopIDs bounds TopStory.IDs.
const MaxTopIDs = 100

// TopStory is one story: every row in the window sharing one story id
// (near-duplicate reposts included).
type TopStory struct {
	// StoryID identifies the story.
	StoryID news.Hash
	// ContentHash is the content hash of the story's earliest row.
	ContentHash news.Hash
	// Title, Summary, Category and URL come from the story's earliest row
	// (by story time, then id).
	Title, Summary, Category, URL string
	// Importance is the highest importance of the story's rows.
	Importance int
	// PublishedAt is the story time of the earliest row, in UTC.
	PublishedAt time.Time
	// Sources are the distinct sources that carried the story, sorted bytewise.
	Sources []string
	// Reposts is the number of rows (message ids) of the story in the window.
	Reposts int
	// Variants is the number of distinct texts (content hashes) among them.
	Variants int
	// IDs are the message ids of the rows, earliest first, at most MaxTopIDs.
	IDs []string
}

// Stats summarises the articles table.
type Stats struct {
	// Rows is the number of rows (message ids).
	Rows int64
	// Stories is the number of unique stories (distinct story ids).
	Stories int64
}

// DataError reports that the database rejected a batch because of its data:
// a value that is invalid (SQLSTATE class 22, e.g. an invalid byte sequence or
// a number out of range) or breaks a constraint (class 23, e.g. a check
// violation). Retrying the same batch cannot succeed, so it is permanent; the
// caller splits the batch to find the poison row.
type DataError struct {
	// SQLState is the Postgres SQLSTATE, or for SQLite its nearest
	// equivalent (23514 check, 23502 not null, 22021 invalid text, ...).
	SQLState string
	// Err is the driver's error.
	Err error
}

// Error implements error.
func (e *DataError) Error() string {
	return fmt.Sprintf("store: data rejected (SQLSTATE %s): %v", e.SQLState, e.Err)
}

// Unwrap returns the driver's error.
func (e *DataError) Unwrap() error { return e.Err }

// zeroHash is the unset content hash; Commit computes the hash then.
var zeroHash news.Hash

// contentHash returns a's content hash, computing it when unset.
func contentHash(a *news.Article) news.Hash {
	if a.ContentHash == zeroHash {
		return a.Message.ContentHash()
	}
	return a.ContentHash
}
