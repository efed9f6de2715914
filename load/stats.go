package load

import (
	"slices"
	"time"

	"gonum.org/v1/gonum/stat"
)

// Request is one request of a load level, as the driver timed it.
type Request struct {
	// FirstToken is the time to the first output token (TTFT); 0 when none
	// arrived.
	FirstToken time.Duration
	// Total is the time to the last output token (or the failure).
	Total time.Duration
	// OutputTokens is how many tokens came back.
	OutputTokens int
	// InputLen is the prompt's tokens and OutputLen the tokens asked for.
	InputLen, OutputLen int
	// Failed marks a request that ended in an error.
	Failed bool
}

// Percentiles are in milliseconds.
type Percentiles struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99,omitempty"`
}

// Level is one concurrency level of a load test, in the JSON issue 12
// asks of `vramcalc load -o json`.
type Level struct {
	Concurrency int `json:"concurrency"`
	Requests    int `json:"requests"`
	Errors      int `json:"errors"`
	// TTFT is over the successful requests; ITL, the inter-token latency,
	// is each request's mean gap between output tokens, (Total −
	// FirstToken) / (OutputTokens − 1), over those with two tokens or more.
	TTFT             Percentiles `json:"ttft_ms"`
	ITL              Percentiles `json:"itl_ms"`
	OutputTokensPerS float64     `json:"output_tokens_per_s"`
	RequestsPerS     float64     `json:"requests_per_s"`
	// MeanInputLen and MeanOutputLen are the mean prompt tokens and output
	// tokens asked for over the level's requests, failed ones included:
	// the lengths the level sent.
	MeanInputLen  float64 `json:"mean_input_len"`
	MeanOutputLen float64 `json:"mean_output_len"`
	// USDPerMillionOutputTokens is the price of the set-up per hour over the
	// output tokens it made in that hour, ×10⁶; absent without a price or
	// output.
	USDPerMillionOutputTokens *float64 `json:"usd_per_million_output_tokens,omitempty"`
}

// Summarize makes a Level of the requests one level ran for span, at
// usdPerHour for the whole set-up (0: no price).
func Summarize(concurrency int, reqs []Request, span time.Duration, usdPerHour float64) Level {
	l := Level{Concurrency: concurrency, Requests: len(reqs)}
	var ttft, itl []float64
	tokens, in, out := 0, 0, 0
	for _, r := range reqs {
		in, out = in+r.InputLen, out+r.OutputLen
		if r.Failed {
			l.Errors++
			continue
		}
		tokens += r.OutputTokens
		if r.FirstToken > 0 {
			ttft = append(ttft, ms(r.FirstToken))
		}
		if r.OutputTokens > 1 && r.Total > r.FirstToken {
			itl = append(itl, ms(r.Total-r.FirstToken)/float64(r.OutputTokens-1))
		}
	}
	if len(reqs) > 0 {
		l.MeanInputLen, l.MeanOutputLen = float64(in)/float64(len(reqs)), float64(out)/float64(len(reqs))
	}
	l.TTFT = quantiles(ttft, true)
	l.ITL = quantiles(itl, false)
	if s := span.Seconds(); s > 0 {
		l.OutputTokensPerS = float64(tokens) / s
		l.RequestsPerS = float64(len(reqs)-l.Errors) / s
	}
	if usdPerHour > 0 && l.OutputTokensPerS > 0 {
		usd := usdPerHour / (l.OutputTokensPerS * 3600) * 1e6
		l.USDPerMillionOutputTokens = &usd
	}
	return l
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// quantiles are the empirical p50, p90 (and p99) of xs: the lowest sample
// at or above that fraction of the samples (stat.Empirical); zero for none.
func quantiles(xs []float64, p99 bool) Percentiles {
	if len(xs) == 0 {
		return Percentiles{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	q := Percentiles{P50: stat.Quantile(0.5, stat.Empirical, s, nil), P90: stat.Quantile(0.9, stat.Empirical, s, nil)}
	if p99 {
		q.P99 = stat.Quantile(0.99, stat.Empirical, s, nil)
	}
	return q
}
