package main

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"newsflow/internal/cache"
	"newsflow/internal/enrich"
	"newsflow/internal/news"
)

// TestScrape_LLMSeries: the keys the LLM run reads name series that the
// cache and the enrich stage register, as scrape parses them from a
// metrics page served the way the worker serves it.
func TestScrape_LLMSeries(t *testing.T) {
	reg := prometheus.NewRegistry()
	c, err := cache.New(cache.DefaultConfig(), nil, zap.NewNop(), reg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	call := func(context.Context, news.Message) (news.Enrichment, news.Usage, error) {
		return news.Enrichment{}, news.Usage{}, nil
	}
	if _, err := enrich.New(enrich.Config{Concurrency: 1}, noCache{}, call, zap.NewNop(), reg); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg, EnableOpenMetrics: true}))
	defer srv.Close()
	metrics, err := scrape(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{cacheHits("memory"), cacheHits("redis"), callsSaved("batch"), callsSaved("singleflight")} {
		if _, ok := metrics[k]; !ok {
			t.Errorf("no series %s in the scraped page", k)
		}
	}
}

// noCache is an enrich.Cache that finds nothing; the cache's metrics come
// from the cache.Tiered registered beside it.
type noCache struct{}

func (noCache) GetMany(context.Context, []string) (map[string][]byte, error) { return nil, nil }

func (noCache) Do(ctx context.Context, _ string, fn func(context.Context) ([]byte, error)) ([]byte, bool, error) {
	v, err := fn(ctx)
	return v, true, err
}
