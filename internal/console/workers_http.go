package console

import (
	"context"
	"net/http"
	"time"
)

// workersBody is the /api/workers answer.
type workersBody struct {
	Workers []WorkerRow `json:"workers"`
}

func (c *Console) listWorkers(ctx context.Context) ([]WorkerRow, error) {
	if c.cfg.Workers == nil {
		return nil, errNotAvailable("the worker registry", "no registry to read")
	}
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	ws, err := c.cfg.Workers(ctx)
	if err != nil {
		return nil, err
	}
	return c.seen.rows(ws, c.now(), c.cfg.StaleAfter), nil
}

func (c *Console) apiWorkers(w http.ResponseWriter, r *http.Request) {
	rows, err := c.listWorkers(r.Context())
	if err != nil {
		c.fail(w, r, statusOf(err), err)
		return
	}
	writeJSON(w, http.StatusOK, workersBody{Workers: nonNil(rows)})
}

// workersData is the Workers page's.
type workersData struct {
	Rows []WorkerRow
	Err  string
	Now  time.Time
}

func (c *Console) workers(w http.ResponseWriter, r *http.Request) {
	rows, err := c.listWorkers(r.Context())
	d := workersData{Rows: rows, Now: c.now()}
	code := http.StatusOK
	if err != nil {
		d.Err, code = err.Error(), statusOf(err)
	}
	c.render(w, code, "workers", "Workers", d)
}
