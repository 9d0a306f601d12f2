package console

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"newsflow/internal/store"
)

// maxStories caps the stories one page lists.
const maxStories = 200

// storyRow is one story of /api/stories, reposts collapsed.
type storyRow struct {
	Rank        int       `json:"rank"`
	Importance  int       `json:"importance"`
	Category    string    `json:"category"`
	Sources     []string  `json:"sources"`
	Reposts     int       `json:"reposts"`
	Title       string    `json:"title"`
	Summary     string    `json:"summary"`
	URL         string    `json:"url,omitempty"`
	PublishedAt time.Time `json:"published_at"`
	ContentHash string    `json:"content_hash"`
}

// storiesQuery reads since (a Go duration, default 24h, 0 for all time),
// category and n (default 20) from the query.
func storiesQuery(r *http.Request) (store.TopQuery, string, error) {
	q := r.URL.Query()
	tq := store.TopQuery{Since: 24 * time.Hour, Limit: 20, Category: q.Get("category")}
	since := q.Get("since")
	if since != "" {
		d, err := time.ParseDuration(since)
		if err != nil || d < 0 {
			return tq, since, fmt.Errorf("since: want a duration such as 1h or 24h (0 for all time), got %q", since)
		}
		tq.Since = d
	} else {
		since = "24h"
	}
	if v := q.Get("n"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxStories {
			return tq, since, fmt.Errorf("n: want a number from 1 to %d, got %q", maxStories, v)
		}
		tq.Limit = n
	}
	return tq, since, nil
}

func (c *Console) top(ctx context.Context, q store.TopQuery) ([]storyRow, error) {
	if c.cfg.Stories == nil {
		return nil, errNotAvailable("the database", "no database")
	}
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	ss, err := c.cfg.Stories.Top(ctx, q)
	if err != nil {
		return nil, err
	}
	rows := make([]storyRow, len(ss))
	for i, s := range ss {
		rows[i] = storyRow{Rank: i + 1, Importance: s.Importance, Category: s.Category, Sources: s.Sources, Reposts: s.Reposts,
			Title: s.Title, Summary: s.Summary, URL: s.URL, PublishedAt: s.PublishedAt, ContentHash: s.ContentHash.String()}
	}
	return rows, nil
}

// storiesBody is the /api/stories answer.
type storiesBody struct {
	Stories []storyRow `json:"stories"`
}

func (c *Console) apiStories(w http.ResponseWriter, r *http.Request) {
	q, _, err := storiesQuery(r)
	if err != nil {
		c.fail(w, r, http.StatusBadRequest, err)
		return
	}
	rows, err := c.top(r.Context(), q)
	if err != nil {
		c.fail(w, r, statusOf(err), err)
		return
	}
	writeJSON(w, http.StatusOK, storiesBody{Stories: rows})
}

// storiesData is the Stories page's.
type storiesData struct {
	Since    string
	Category string
	N        int
	Rows     []storyRow
	Err      string
}

func (c *Console) stories(w http.ResponseWriter, r *http.Request) {
	q, since, err := storiesQuery(r)
	d := storiesData{Since: since, Category: q.Category, N: q.Limit}
	code := http.StatusOK
	if err != nil {
		code = http.StatusBadRequest
	} else if d.Rows, err = c.top(r.Context(), q); err != nil {
		code = statusOf(err)
	}
	if err != nil {
		d.Err = err.Error()
	}
	c.render(w, code, "stories", "Stories", d)
}
