package news

import (
	"slices"
	"time"
)

// Categories is the fixed set of categories enrichment assigns. "other" is the
// fallback for anything that fits none.
var Categories = []string{
	"politics", "world", "business", "technology", "science", "health",
	"sports", "entertainment", "environment", "crime", "other",
}

// ValidCategory reports whether c is one of Categories.
func ValidCategory(c string) bool { return slices.Contains(Categories, c) }

// Enrichment is what the LLM stage adds to a story.
type Enrichment struct {
	// Summary is at most two sentences.
	Summary string `json:"summary"`
	// Category is one of Categories.
	Category string `json:"category"`
	// Importance scores the story from 0 (trivial) to 100 (major).
	Importance int `json:"importance"`
	// Language is the story's language as an ISO 639-1 code.
	Language string `json:"language"`
	// Model names the provider and model that produced it, e.g. "offline/v1".
	Model string `json:"model"`
}

// Article is one row of the articles table: a message, where it was in the
// stream, and its enrichment (zero when enrichment is disabled).
type Article struct {
	Message
	// StreamSeq is the message's JetStream stream sequence.
	StreamSeq uint64
	// IngestedAt is when the worker committed it.
	IngestedAt time.Time
	// ContentHash is Message.ContentHash().
	ContentHash Hash
	// StoryID names the story the article belongs to: the content hash of
	// the first article of its near-duplicate cluster (ContentHash itself
	// when near-duplicate detection is off or the article founded it).
	StoryID Hash
	Enrichment
}

// StoryOr returns a.StoryID, or contentHash (the article's content hash)
// when the story id is unset: an article no story index has seen is a story
// of its own.
func (a *Article) StoryOr(contentHash Hash) Hash {
	if a.StoryID == (Hash{}) {
		return contentHash
	}
	return a.StoryID
}
