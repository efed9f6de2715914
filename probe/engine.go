package probe

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/vramcalc/vramcalc/estimate"
	"github.com/vramcalc/vramcalc/launch"
)

// Engine is what is specific to one serving engine: its launcher flags, the
// log lines and metrics that report its KV budget, and how a failed start
// reads. The runtime, the sampler and the search do not know which engine
// they drive.
type Engine interface {
	// Name is "tgi", "vllm" or "sglang".
	Name() string
	// Args are the container arguments for a point.
	Args(model string, p Point, o LaunchOptions) []string
	// Port is the port the server listens on inside the container.
	Port() int
	// HealthPath answers 200 once the server serves.
	HealthPath() string
	// MetricsPath serves Prometheus text.
	MetricsPath() string
	// ParseLog reads one log line into the observation's engine-reported fields.
	ParseLog(line string, r *Reported)
	// ParseMetrics reads the KV budget from a metrics body (0 if absent).
	ParseMetrics(body string) int
	// Classify names why a start failed from its exit code and log tail:
	// one of the estimate.Failure* kinds, "" for a clean exit.
	Classify(exitCode int, tail []string) string
	// Milestones are texts of the log lines that say the weights are
	// loaded and that the warm-up (TGI's prefill, vLLM's profile run) is
	// over, before the KV pool is allocated: where the NVML readings of
	// the loaded model and of the warm-up's peak are taken.
	Milestones() (loaded, warmedUp string)
}

// EngineFlags are an engine's own names for a Point's fields: the limit
// (MaxTotalTokens) and the prefill (MaxBatchPrefillTokens); "" for an
// engine probe does not drive.
func EngineFlags(engine string) (limit, prefill string) {
	switch engine {
	case "tgi":
		return "--max-total-tokens", "--max-batch-prefill-tokens"
	case "vllm":
		return "--max-model-len", "--max-num-batched-tokens"
	case "sglang":
		return "--context-length", "--chunked-prefill-size"
	}
	return "", ""
}

// LaunchOptions are engine settings that do not vary between points.
// NumShard is the tensor-parallel degree of every engine; the fractions
// are each engine's own (TGI --cuda-memory-fraction, vLLM
// --gpu-memory-utilization, SGLang --mem-fraction-static).
type LaunchOptions struct {
	NumShard             int
	CUDAMemoryFraction   float64
	GPUMemoryUtilization float64
	MemFractionStatic    float64
	Quantize             string
	KVCacheDType         string
}

// TGI drives text-generation-inference's launcher (ghcr.io/huggingface/text-generation-inference).
type TGI struct{}

// Name implements Engine.
func (TGI) Name() string { return "tgi" }

// Port is the port of TGI's Docker image (PORT=80, https://github.com/huggingface/text-generation-inference/blob/v3.3.7/Dockerfile#L147-L149).
func (TGI) Port() int { return 80 }

// HealthPath implements Engine (TGI's GET /health, 200 once warmed up).
func (TGI) HealthPath() string { return "/health" }

// MetricsPath implements Engine; /metrics is served on the main port.
func (TGI) MetricsPath() string { return "/metrics" }

// Args builds text-generation-launcher's flags with launch's TGI builder;
// zero limits are left to TGI.
func (TGI) Args(model string, p Point, o LaunchOptions) []string {
	kv, _ := estimate.ParseDType(o.KVCacheDType)
	return launch.Args(launch.Spec{Engine: "tgi", Model: model, Shards: o.NumShard, Settings: estimate.Settings{
		MaxInputTokens: p.MaxInputTokens, MaxTotalTokens: p.MaxTotalTokens, MaxBatchPrefillTokens: p.MaxBatchPrefillTokens,
		CUDAMemoryFraction: o.CUDAMemoryFraction, Quantize: o.Quantize, KVCacheDType: kv,
	}})
}

// TGI's log lines about sizing (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/backends/v3/src/lib.rs#L137,
// https://github.com/huggingface/text-generation-inference/blob/v3.3.7/server/text_generation_server/models/flash_causal_lm.py#L1565,
// https://github.com/huggingface/text-generation-inference/blob/v3.3.7/launcher/src/main.rs#L2150,
// https://github.com/huggingface/text-generation-inference/blob/v3.3.7/backends/v3/src/main.rs#L167-L196).
var (
	tgiSetting   = regexp.MustCompile(`Setting max batch total tokens to (\d+)`)
	tgiBlocks    = regexp.MustCompile(`KV-cache blocks: (\d+), size: (\d+)`)
	tgiDefaultP  = regexp.MustCompile("Default `max_batch_prefill_tokens` to (\\d+)")
	tgiDefaultI  = regexp.MustCompile(`Maximum input tokens defaulted to (\d+)`)
	tgiDefaultT  = regexp.MustCompile(`Maximum total tokens defaulted to (\d+)`)
	tgiGauge     = regexp.MustCompile(`(?m)^tgi_batch_max_total_tokens(?:\{[^}]*\})? ([0-9.e+]+)`)
	tgiPrefixOOM = regexp.MustCompile(`Not enough memory to handle \d+ prefill tokens`)
	// torchOOM is PyTorch's CUDA caching allocator's OOM message, sizes in
	// its format_size units (c10/cuda/CUDACachingAllocator.cpp,
	// TORCH_CHECK_WITH(OutOfMemoryError, …); cmd/tgisim prints the same).
	torchOOM = regexp.MustCompile(`Tried to allocate ([0-9.]+) (bytes|KiB|MiB|GiB)\. GPU \d+ has a total capacity of [0-9.]+ (?:bytes|KiB|MiB|GiB) of which ([0-9.]+) (bytes|KiB|MiB|GiB) is free`)
)

// torchBytes reads one of format_size's sizes ("1.50 GiB").
func torchBytes(num, unit string) int64 {
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0
	}
	shift := map[string]uint{"bytes": 0, "KiB": 10, "MiB": 20, "GiB": 30}[unit]
	return int64(f * float64(uint64(1)<<shift))
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// ParseLog implements Engine.
func (TGI) ParseLog(line string, r *Reported) {
	if m := tgiSetting.FindStringSubmatch(line); m != nil {
		r.MaxBatchTotalTokensLog = atoi(m[1])
	}
	if m := tgiBlocks.FindStringSubmatch(line); m != nil {
		r.KVBlocks, r.BlockSize = atoi(m[1]), atoi(m[2])
	}
	if m := tgiDefaultP.FindStringSubmatch(line); m != nil {
		r.DefaultPrefill = atoi(m[1])
	}
	if m := tgiDefaultI.FindStringSubmatch(line); m != nil {
		r.MaxInputTokens = atoi(m[1])
	}
	if m := tgiDefaultT.FindStringSubmatch(line); m != nil {
		r.MaxTotalTokens = atoi(m[1])
	}
	if m := torchOOM.FindStringSubmatch(line); m != nil {
		r.OOMRequestBytes, r.OOMFreeBytes = torchBytes(m[1], m[2]), torchBytes(m[3], m[4])
	}
}

// Milestones implements Engine: the router's "Warming up model" before the
// warm-up prefill
// (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/backends/v3/src/lib.rs#L59-L138)
// and the shard's "KV-cache blocks:" once it is done, before the pool is
// allocated (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/server/text_generation_server/models/flash_causal_lm.py#L1565).
func (TGI) Milestones() (string, string) { return "Warming up model", "KV-cache blocks:" }

// ParseMetrics implements Engine: the tgi_batch_max_total_tokens gauge
// (v2.3.1+, https://github.com/huggingface/text-generation-inference/blob/v3.3.7/backends/v3/src/lib.rs#L138).
func (TGI) ParseMetrics(body string) int { return gaugeValue(tgiGauge, body) }

// gaugeValue is the value of the Prometheus gauge re matches in body (its
// first group), 0 when absent.
func gaugeValue(re *regexp.Regexp, body string) int {
	m := re.FindStringSubmatch(body)
	if m == nil {
		return 0
	}
	f, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0
	}
	return int(f)
}

// Classify implements Engine. A warm-up OOM reads "Not enough memory to
// handle N prefill tokens" (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/server/text_generation_server/models/flash_causal_lm.py#L1549-L1553), or an
// UnboundLocalError on num_tokens when the warm KV allocation itself fails
// (docs/ENGINES.md §2.2); launcher and router validation print
// `Error: ArgumentValidation(…)`.
func (TGI) Classify(exitCode int, tail []string) string {
	text := strings.Join(tail, "\n")
	switch {
	case tgiPrefixOOM.MatchString(text), strings.Contains(text, "num_tokens") && strings.Contains(text, "UnboundLocalError"):
		return estimate.FailureWarmupOOM
	case strings.Contains(text, "Not enough memory to handle `max_total_tokens"), strings.Contains(text, "NotEnoughMemory"):
		return estimate.FailureNotEnoughMemory
	case strings.Contains(text, "OutOfMemoryError"), strings.Contains(text, "CUDA out of memory"), strings.Contains(text, "out of memory"):
		return estimate.FailureCUDAOOM
	case strings.Contains(text, "ArgumentValidation"), strings.Contains(text, "error: unexpected argument"), strings.Contains(text, "error: invalid value"):
		return estimate.FailureArgumentValidation
	case strings.Contains(text, "DownloadError"), strings.Contains(text, "Download encountered an error"), strings.Contains(text, "Repository Not Found"), strings.Contains(text, "401 Client Error"):
		return estimate.FailureDownload
	}
	if exitCode == 0 {
		return ""
	}
	return estimate.FailureCrash
}
