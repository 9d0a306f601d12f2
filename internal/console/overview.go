package console

import (
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"time"
)

// samplesBody is the /api/samples answer.
type samplesBody struct {
	// IntervalSeconds is the time between samples.
	IntervalSeconds float64 `json:"interval_seconds"`
	// WindowSeconds is how far back the history reaches at most.
	WindowSeconds float64 `json:"window_seconds"`
	// Samples holds the history, oldest first.
	Samples []Sample `json:"samples"`
}

func (c *Console) samples() samplesBody {
	s := c.cfg.Sampler
	return samplesBody{IntervalSeconds: s.Interval().Seconds(), WindowSeconds: s.Window().Seconds(),
		Samples: s.History()}
}

func (c *Console) apiSamples(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, c.samples())
}

// overviewData is the overview page's.
type overviewData struct {
	Last    Sample
	HasLast bool
	// History is the samples as JSON, for the charts' script.
	History template.JS
	Now     time.Time
	// DLQ names the dead-letter stream and DLQCount its letters at page
	// load; DLQErr says why they are missing.
	DLQ      string
	DLQCount uint64
	DLQErr   string
}

func (c *Console) overview(w http.ResponseWriter, r *http.Request) {
	body := c.samples()
	b, err := json.Marshal(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	// The figures are the charts' last sample, not a later one.
	d := overviewData{History: template.JS(b), Now: c.now()}
	if n := len(body.Samples); n > 0 {
		d.Last, d.HasLast = body.Samples[n-1], true
	}
	if dlq, err := c.dlq(); err != nil {
		d.DLQErr = err.Error()
	} else {
		ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
		defer cancel()
		d.DLQ = dlq.Name()
		if d.DLQCount, err = dlq.Count(ctx); err != nil {
			d.DLQErr = err.Error()
		}
	}
	c.render(w, http.StatusOK, "overview", "Overview", d)
}

// events streams each new sample as a server-sent event ("data: {json}")
// until the client goes away or the server shuts down.
func (c *Console) events(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	// The browser reconnects after this many milliseconds if the stream breaks.
	fmt.Fprintf(w, "retry: %d\n\n", c.cfg.Sampler.Interval().Milliseconds())
	if err := rc.Flush(); err != nil {
		return
	}
	ch, stop := c.cfg.Sampler.Subscribe()
	defer stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case s := <-ch:
			b, err := json.Marshal(s)
			if err != nil {
				return
			}
			if _, err := fmt.Fprintf(w, "data: %s\n\n", b); err != nil {
				return
			}
			if err := rc.Flush(); err != nil {
				return
			}
		}
	}
}
