package results

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/vramcalc/vramcalc/estimate"
)

// Observation is one launch: what was tried, what the engine reported, what
// NVML saw and how it ended. validate appends one per launch to a JSONL file.
type Observation struct {
	Run           string    `json:"run"`
	Seq           int       `json:"seq"`
	Engine        string    `json:"engine"`
	Image         string    `json:"image"`
	EngineVersion string    `json:"engine_version,omitempty"`
	Model         string    `json:"model"`
	GPUs          []string  `json:"gpus,omitempty"`
	Point         Point     `json:"point"`
	Started       time.Time `json:"started"`
	// Outcome is "ok" or "failed".
	Outcome string `json:"outcome"`
	// Failure is one of the estimate.Failure* kinds when Outcome is "failed".
	Failure  string   `json:"failure,omitempty"`
	ExitCode int      `json:"exit_code,omitempty"`
	Reported Reported `json:"reported"`
	// PeakBytes is the highest used memory NVML saw per GPU index while the point ran.
	PeakBytes map[int]uint64 `json:"peak_bytes,omitempty"`
	// PeakError says why a watched GPU has no PeakBytes entry: which
	// reader (NVML, or the simulator's /sim/gpus at its URL), which GPUs,
	// and the last error ("" when every GPU was read).
	PeakError string `json:"peak_error,omitempty"`
	// WarmupPeakBytes is the highest used memory per GPU until the warm-up
	// ended (the engine's "KV-cache blocks" line, before the KV pool is
	// allocated): the warm-up's own peak.
	WarmupPeakBytes map[int]uint64 `json:"warmup_peak_bytes,omitempty"`
	// LoadedBytes is the used memory per GPU when the warm-up began: CUDA
	// context and weights (and other processes).
	LoadedBytes map[int]uint64 `json:"loaded_bytes,omitempty"`
	// Phases are wall-clock durations: pull, load, warmup, requests.
	Phases map[string]time.Duration `json:"phases,omitempty"`
	// Requests counts the token-exact requests sent once the server was up.
	Requests RequestStats `json:"requests"`
	// Predicted is what the estimate said for this point.
	Predicted Prediction `json:"predicted"`
	// LogTail is the last lines of the engine's log, with the secrets the
	// launch was given (the HF token) replaced by "[redacted]".
	LogTail []string `json:"log_tail,omitempty"`
}

// Point is one set of launch limits to try, in TGI's names; vLLM and
// SGLang read MaxTotalTokens as --max-model-len / --context-length (the
// longest request) and MaxBatchPrefillTokens as --max-num-batched-tokens /
// --chunked-prefill-size, and leave MaxInputTokens out.
type Point struct {
	MaxInputTokens        int `json:"max_input_tokens"`
	MaxTotalTokens        int `json:"max_total_tokens"`
	MaxBatchPrefillTokens int `json:"max_batch_prefill_tokens,omitempty"`
}

// Key identifies a point in a results file (for --resume).
func (p Point) Key() string {
	return strconv.Itoa(p.MaxInputTokens) + "/" + strconv.Itoa(p.MaxTotalTokens) + "/" + strconv.Itoa(p.MaxBatchPrefillTokens)
}

// Reported is what the engine itself printed or exported about sizing.
type Reported struct {
	// MaxBatchTotalTokensLog is from "Setting max batch total tokens to N".
	MaxBatchTotalTokensLog int `json:"max_batch_total_tokens_log,omitempty"`
	// MaxBatchTotalTokensMetric is the tgi_batch_max_total_tokens gauge.
	MaxBatchTotalTokensMetric int `json:"max_batch_total_tokens_metric,omitempty"`
	// KVBlocks and BlockSize are from "KV-cache blocks: N, size: B" (rank 0).
	KVBlocks  int `json:"kv_blocks,omitempty"`
	BlockSize int `json:"block_size,omitempty"`
	// DefaultPrefill is from "Default `max_batch_prefill_tokens` to N".
	DefaultPrefill int `json:"default_max_batch_prefill_tokens,omitempty"`
	// MaxInputTokens / MaxTotalTokens are from "Maximum input/total tokens defaulted to N".
	MaxInputTokens int `json:"max_input_tokens,omitempty"`
	MaxTotalTokens int `json:"max_total_tokens,omitempty"`
	// OOMRequestBytes and OOMFreeBytes are from torch's CUDA OOM message
	// ("Tried to allocate X. GPU 0 has a total capacity of T of which F is
	// free."): how far a failed allocation was short.
	OOMRequestBytes int64 `json:"oom_request_bytes,omitempty"`
	OOMFreeBytes    int64 `json:"oom_free_bytes,omitempty"`

	// KVTokens is the KV pool in tokens as vLLM ("GPU KV cache size: N
	// tokens") or SGLang ("max_total_num_tokens=N") prints it.
	KVTokens int `json:"kv_tokens,omitempty"`
	// KVBytes is the KV pool per GPU: vLLM's "Available KV cache memory: X
	// GiB", SGLang's K + V (or KV) size in GB.
	KVBytes int64 `json:"kv_bytes,omitempty"`
	// WeightsBytes is what loading the weights took per GPU: vLLM's "Model
	// loading took X GiB", SGLang's "Load weight end. … mem usage=X GB".
	WeightsBytes int64 `json:"weights_bytes,omitempty"`
	// MaxConcurrency is vLLM's "Maximum concurrency for N tokens per
	// request: X" (×100, so two decimals stay exact).
	MaxConcurrencyX100 int `json:"max_concurrency_x100,omitempty"`
	// GraphBytes is the CUDA-graph memory vLLM logged once captured
	// ("Graph capturing finished in N secs, took X GiB").
	GraphBytes int64 `json:"graph_bytes,omitempty"`
	// EstimatedMaxModelLen is the longest max_model_len vLLM estimates fits
	// when it refuses one ("the estimated maximum model length is N").
	EstimatedMaxModelLen int `json:"estimated_max_model_len,omitempty"`
}

// RequestStats summarizes the requests of one launch.
type RequestStats struct {
	Sent, OK, Failed int
	// Rejected counts 4xx answers (validation, 429 overloaded): refusals, not failures.
	Rejected int `json:"rejected"`
	// WrongLength counts responses whose generated_tokens or finish_reason
	// did not match the request beyond the tolerance.
	WrongLength int `json:"wrong_length"`
	// Concurrency is how many requests ran at once.
	Concurrency int `json:"concurrency"`
}

// Prediction is the estimate for one point.
type Prediction struct {
	Fits                bool   `json:"fits"`
	Failure             string `json:"failure,omitempty"`
	MaxBatchTotalTokens int    `json:"max_batch_total_tokens"`
	WarmupBytes         int64  `json:"warmup_bytes"`
}

// legacyFailures maps failure kinds that older results files hold to
// today's names (probe's own list before estimate's became the one list).
var legacyFailures = map[string]string{"bad_flag": estimate.FailureArgumentValidation}

// UnmarshalJSON decodes an observation and renames a legacy failure kind
// ("bad_flag" reads as "argument_validation"), so results files written by
// earlier releases compare with today's kinds.
func (o *Observation) UnmarshalJSON(b []byte) error {
	type plain Observation // no methods: no recursion
	if err := json.Unmarshal(b, (*plain)(o)); err != nil {
		return err
	}
	if k, ok := legacyFailures[o.Failure]; ok {
		o.Failure = k
	}
	return nil
}

// MaxPeak is the highest NVML peak over the launch's GPUs (0 if none).
func (o Observation) MaxPeak() uint64 {
	var m uint64
	for _, v := range o.PeakBytes {
		m = max(m, v)
	}
	return m
}

// WarmupPeak is the highest warm-up peak over the launch's GPUs: the peak
// until the warm-up ended, or, for a launch that failed without ending
// its warm-up, the launch's whole peak (0 if neither was read).
func (o Observation) WarmupPeak() uint64 {
	var m uint64
	for _, v := range o.WarmupPeakBytes {
		m = max(m, v)
	}
	if m == 0 && !o.OK() && o.Reported.KVBlocks == 0 && o.Budget() == 0 {
		return o.MaxPeak()
	}
	return m
}

// OK reports a launch that started and served.
func (o Observation) OK() bool { return o.Outcome == "ok" }

// Budget is the KV budget the engine reported, log lines first (TGI's
// "Setting max batch total tokens", vLLM's "GPU KV cache size", SGLang's
// max_total_num_tokens), then the gauge.
func (o Observation) Budget() int {
	if o.Reported.MaxBatchTotalTokensLog > 0 {
		return o.Reported.MaxBatchTotalTokensLog
	}
	if o.Reported.KVTokens > 0 {
		return o.Reported.KVTokens
	}
	return o.Reported.MaxBatchTotalTokensMetric
}
