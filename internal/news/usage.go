package news

import "fmt"

// Usage counts the tokens one LLM call consumed, as the provider reported
// them. The LLM client reports it and the enrich stage accounts for it.
type Usage struct {
	// InputTokens is the prompt size in tokens, cached ones included.
	InputTokens int
	// CachedInputTokens is the part of InputTokens the provider served from
	// its prompt cache and bills at a discount (OpenAI
	// usage.prompt_tokens_details.cached_tokens, Gemini
	// usageMetadata.cachedContentTokenCount).
	CachedInputTokens int
	// OutputTokens is the answer size in tokens (thinking tokens included
	// where the provider bills them as output).
	OutputTokens int
}

// Add returns the sum of u and v.
func (u Usage) Add(v Usage) Usage {
	return Usage{InputTokens: u.InputTokens + v.InputTokens, CachedInputTokens: u.CachedInputTokens + v.CachedInputTokens,
		OutputTokens: u.OutputTokens + v.OutputTokens}
}

// Prices turns tokens into money, in any one currency. The zero Prices
// counts no cost.
type Prices struct {
	// PerKInput is the price of 1000 input tokens.
	PerKInput float64
	// PerKOutput is the price of 1000 output tokens.
	PerKOutput float64
	// PerKInputCached is the price of 1000 input tokens the provider served
	// from its prompt cache (they are not also priced as input).
	PerKInputCached float64
}

// Cost is what u costs at p: uncached input, cached input and output each
// at its own price.
func (p Prices) Cost(u Usage) float64 {
	return (float64(u.InputTokens-u.CachedInputTokens)*p.PerKInput + float64(u.CachedInputTokens)*p.PerKInputCached +
		float64(u.OutputTokens)*p.PerKOutput) / 1000
}

// Validate rejects negative prices.
func (p Prices) Validate() error {
	if p.PerKInput < 0 || p.PerKOutput < 0 || p.PerKInputCached < 0 {
		return fmt.Errorf("prices must be ≥ 0, got %g, %g and %g per 1000 input, output and cached input tokens",
			p.PerKInput, p.PerKOutput, p.PerKInputCached)
	}
	return nil
}
