package llm

import (
	"context"

	"newsflow/internal/news"
)

// None is the provider for enrichment switched off: it answers at once with
// an empty enrichment whose Model is "none".
type None struct{}

// NewNone returns the none provider.
func NewNone() *None { return &None{} }

// Model returns "none".
func (*None) Model() string { return ProviderNone }

// Names returns "none" twice.
func (*None) Names() (provider, model string) { return ProviderNone, ProviderNone }

// Enrich returns an empty enrichment, or ctx's error if it is done.
func (*None) Enrich(ctx context.Context, _ news.Message) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	return Result{Enrichment: news.Enrichment{Model: ProviderNone}}, nil
}
