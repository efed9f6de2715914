package load

import (
	"fmt"
	"math"
	"time"
)

// Predicted is what the estimate says the server holds, to compare the run
// with.
type Predicted struct {
	// ServingBytes is the memory one GPU holds once the engine serves
	// (weights, KV pool, CUDA context and graphs) on the most loaded shard.
	ServingBytes uint64 `json:"serving_bytes"`
	// KVPoolTokens is the KV pool in tokens (TGI's max batch total tokens,
	// vLLM's GPU KV cache size, SGLang's max_total_num_tokens).
	KVPoolTokens int `json:"kv_pool_tokens"`
	// MaxConcurrency is how many requests of the run's shape the pool holds
	// at once.
	MaxConcurrency int `json:"max_concurrency"`
}

// Price is the hourly price of the whole set-up and where it came from.
type Price struct {
	USDPerHour float64 `json:"usd_per_hour"`
	// Source is PriceFlag, PriceFile, PriceBuiltIn or PriceNone; Detail
	// says how it was found, e.g. the file and the GPU × count.
	Source string `json:"source"`
	Detail string `json:"detail,omitempty"`
}

// LevelReport is one concurrency level in the JSON issue 12 asks of
// `vramcalc load -o json`.
type LevelReport struct {
	Level
	// PeakUsedBytes is the highest sample per GPU while the level ran
	// (empty without a memory sampler).
	PeakUsedBytes []uint64 `json:"peak_used_bytes"`
	// PeakKVUsage is the highest KV usage the engine reported (absent
	// when its metrics could not be read).
	PeakKVUsage *float64 `json:"peak_kv_usage"`
	// MaxRunning and MaxWaiting are the highest request counts the engine
	// reported.
	MaxRunning *int `json:"max_running,omitempty"`
	MaxWaiting *int `json:"max_waiting,omitempty"`
	// DurationS is how long the level ran, in seconds.
	DurationS float64 `json:"duration_s"`
}

// Compared sets the run against the prediction; each field is absent
// when either side is unknown.
type Compared struct {
	// PeakUsedBytes is the highest used memory of any GPU over the run,
	// against Predicted.ServingBytes; UsedOverPredicted is their ratio.
	PeakUsedBytes     *uint64  `json:"peak_used_bytes,omitempty"`
	UsedOverPredicted *float64 `json:"used_over_predicted,omitempty"`
	// PeakKVTokens is the peak KV usage times the predicted pool.
	PeakKVUsage  *float64 `json:"peak_kv_usage,omitempty"`
	PeakKVTokens *int     `json:"peak_kv_tokens,omitempty"`
	// MaxRunning is the most requests the engine ran at once, against
	// Predicted.MaxConcurrency.
	MaxRunning *int `json:"max_running,omitempty"`
}

// Report is what a load run measured, in the JSON `load -o json` prints.
type Report struct {
	Levels    []LevelReport `json:"levels"`
	Predicted *Predicted    `json:"predicted"`
	Compared  Compared      `json:"compared"`
	Failures  []Failure     `json:"failures"`
	// Timeline is the file the samples were written to ("" for none).
	Timeline string `json:"timeline"`
	Engine   string `json:"engine"`
	URL      string `json:"url"`
	GPUs     []GPU  `json:"gpus"`
	// InputTokens is the prompt length every request sent, as the
	// server's tokenizer counted it; OutputTokens what each asked for.
	// With a distribution they are its mean, rounded: the request shape
	// a prediction is made for (each level's mean_input_len and
	// mean_output_len are what it sent).
	InputTokens  int `json:"input_tokens"`
	OutputTokens int `json:"output_tokens"`
	// InputLen and OutputLen are the lengths as ParseLengths reads them
	// ("512", "128:2048", "lognormal:512:0.6"); InputStep the rounding
	// of drawn prompt lengths (Lengths.Step, 1: exact); Seed the draws'.
	InputLen  string `json:"input_len"`
	OutputLen string `json:"output_len"`
	InputStep int    `json:"input_step"`
	Seed      uint64 `json:"seed"`
	// Price is the hourly price the cost figures use and its source.
	Price Price `json:"price"`
	// Samples is how many timeline points were taken.
	Samples int `json:"samples"`
	// Interrupted is a run cut short by its context (Ctrl-C): the levels
	// are what was measured until then.
	Interrupted bool `json:"interrupted"`
}

// levelReport summarizes one level's requests and its timeline points.
func levelReport(conc int, reqs []Request, span time.Duration, usdPerHour float64, pts []Point) LevelReport {
	r := LevelReport{Level: Summarize(conc, reqs, span, usdPerHour), PeakUsedBytes: []uint64{}, DurationS: span.Seconds()}
	for _, p := range pts {
		for i, u := range p.UsedBytes {
			if i >= len(r.PeakUsedBytes) {
				r.PeakUsedBytes = append(r.PeakUsedBytes, u)
			}
			r.PeakUsedBytes[i] = max(r.PeakUsedBytes[i], u)
		}
		r.PeakKVUsage = maxPtr(r.PeakKVUsage, p.KVUsage)
		r.MaxRunning = maxPtr(r.MaxRunning, p.Running)
		r.MaxWaiting = maxPtr(r.MaxWaiting, p.Waiting)
	}
	return r
}

func maxPtr[T int | float64](a, b *T) *T {
	if b == nil {
		return a
	}
	if a == nil || *b > *a {
		v := *b
		return &v
	}
	return a
}

// compare fills Compared from the levels and the prediction.
func compare(levels []LevelReport, pred *Predicted) Compared {
	var c Compared
	for _, l := range levels {
		for _, u := range l.PeakUsedBytes {
			v := u
			c.PeakUsedBytes = maxPtr64(c.PeakUsedBytes, &v)
		}
		c.PeakKVUsage = maxPtr(c.PeakKVUsage, l.PeakKVUsage)
		c.MaxRunning = maxPtr(c.MaxRunning, l.MaxRunning)
	}
	if pred == nil {
		return c
	}
	if c.PeakUsedBytes != nil && pred.ServingBytes > 0 {
		r := float64(*c.PeakUsedBytes) / float64(pred.ServingBytes)
		c.UsedOverPredicted = &r
	}
	if c.PeakKVUsage != nil && pred.KVPoolTokens > 0 {
		t := int(*c.PeakKVUsage*float64(pred.KVPoolTokens) + 0.5)
		c.PeakKVTokens = &t
	}
	return c
}

func maxPtr64(a, b *uint64) *uint64 {
	if a == nil || *b > *a {
		return b
	}
	return a
}

// errorFailures are the levels whose error rate is above limit.
// A level the server died in is left to the runtime_oom (dead).
func errorFailures(levels []LevelReport, starts []float64, limit float64, dead bool) []Failure {
	var out []Failure
	for i, l := range levels {
		if l.Requests == 0 || (dead && i == len(levels)-1) {
			continue
		}
		if rate := float64(l.Errors) / float64(l.Requests); rate > limit {
			out = append(out, Failure{Kind: "errors", AtS: starts[i],
				Detail: fmt.Sprintf("%d of %d requests failed at concurrency %d (%.1f%%, above %.1f%%)", l.Errors, l.Requests, l.Concurrency, 100*rate, 100*limit)})
		}
	}
	return out
}

// trendFailures runs Trend over each GPU's used memory of the whole run
// (up to a runtime OOM: what follows is a dead server's memory).
func trendFailures(pts []Point, gpus []GPU, until float64) []Failure {
	var out []Failure
	for i, g := range gpus {
		var s []Sample
		for _, p := range pts {
			if i < len(p.UsedBytes) && (until <= 0 || p.T < until) {
				s = append(s, Sample{At: time.Duration(math.Round(p.T * float64(time.Second))), Used: p.UsedBytes[i]})
			}
		}
		if f, ok := Trend(s, g.Total); ok {
			f.Detail = fmt.Sprintf("GPU %d: %s", g.Index, f.Detail)
			out = append(out, f)
		}
	}
	return out
}
