package probe

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/vramcalc/vramcalc/estimate"
	"github.com/vramcalc/vramcalc/launch"
)

// VLLM drives `vllm serve` in vLLM's OpenAI image (vllm/vllm-openai), whose
// entrypoint is `vllm serve`, so the container arguments are the model and
// the engine's flags. The log lines and errors below are vLLM v0.21.0's
// (docs/ENGINE-SURFACE.md §A, each read at the tag).
type VLLM struct{}

// Name implements Engine.
func (VLLM) Name() string { return "vllm" }

// Port is `vllm serve`'s default port (docs/ENGINE-SURFACE.md §A).
func (VLLM) Port() int { return 8000 }

// HealthPath implements Engine: GET /health answers 200 once the engine serves.
func (VLLM) HealthPath() string { return "/health" }

// MetricsPath implements Engine: /metrics on the API port, no flag needed.
func (VLLM) MetricsPath() string { return "/metrics" }

// Args implements Engine with launch's vLLM builder: MaxTotalTokens is
// --max-model-len and MaxBatchPrefillTokens --max-num-batched-tokens.
func (VLLM) Args(model string, p Point, o LaunchOptions) []string {
	kv, _ := estimate.ParseDType(o.KVCacheDType)
	return launch.Args(launch.Spec{Engine: "vllm", Model: model, Shards: o.NumShard, Settings: estimate.Settings{
		MaxModelLen: p.MaxTotalTokens, MaxNumBatchedTokens: p.MaxBatchPrefillTokens,
		GPUMemoryUtilization: o.GPUMemoryUtilization, Quantize: o.Quantize, KVCacheDType: kv,
	}})
}

// vLLM's sizing lines: "Model loading took %s GiB memory and …" (Model
// Runner V2: "Model loading took %s GiB and …",
// https://github.com/vllm-project/vllm/blob/v0.21.0/vllm/v1/worker/gpu_model_runner.py#L4959-L4960,
// https://github.com/vllm-project/vllm/blob/v0.21.0/vllm/v1/worker/gpu/model_runner.py#L293-L297),
// "Available KV cache memory: %s GiB"
// (https://github.com/vllm-project/vllm/blob/v0.21.0/vllm/v1/worker/gpu_worker.py#L462-L463),
// "GPU KV cache size: %s tokens" and "Maximum concurrency for %s tokens per
// request: %.2fx" (https://github.com/vllm-project/vllm/blob/v0.21.0/vllm/v1/core/kv_cache_utils.py#L1710-L1715),
// the refusal's "the estimated maximum model length is N"
// (https://github.com/vllm-project/vllm/blob/v0.21.0/vllm/v1/core/kv_cache_utils.py#L689-L722),
// and "Graph capturing finished in %.0f secs, took %.2f GiB"
// (https://github.com/vllm-project/vllm/blob/v0.21.0/vllm/v1/worker/gpu_model_runner.py#L6243-L6244).
var (
	vllmWeights     = regexp.MustCompile(`Model loading took ([0-9.]+) GiB`)
	vllmKVMemory    = regexp.MustCompile(`Available KV cache memory: (-?[0-9.]+) GiB`)
	vllmKVTokens    = regexp.MustCompile(`GPU KV cache size: ([0-9,]+) tokens`)
	vllmConcurrency = regexp.MustCompile(`Maximum concurrency for [0-9,]+ tokens per request: ([0-9.]+)x`)
	vllmEstimated   = regexp.MustCompile(`the estimated maximum model length is (\d+)`)
	vllmGraphs      = regexp.MustCompile(`Graph capturing finished in [0-9.]+ secs, took (-?[0-9.]+) GiB`)
	vllmCacheInfo   = regexp.MustCompile(`(?m)^vllm:cache_config_info\{([^}]*)\}`)
)

// gib reads a decimal GiB figure as bytes.
func gib(s string) int64 {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0
	}
	return int64(f * (1 << 30))
}

// ParseLog implements Engine.
func (VLLM) ParseLog(line string, r *Reported) {
	if m := vllmWeights.FindStringSubmatch(line); m != nil {
		r.WeightsBytes = gib(m[1])
	}
	if m := vllmKVMemory.FindStringSubmatch(line); m != nil {
		r.KVBytes = gib(m[1])
	}
	if m := vllmKVTokens.FindStringSubmatch(line); m != nil {
		r.KVTokens = atoi(strings.ReplaceAll(m[1], ",", ""))
	}
	if m := vllmConcurrency.FindStringSubmatch(line); m != nil {
		if f, err := strconv.ParseFloat(m[1], 64); err == nil {
			r.MaxConcurrencyX100 = int(f*100 + 0.5)
		}
	}
	if m := vllmEstimated.FindStringSubmatch(line); m != nil {
		r.EstimatedMaxModelLen = atoi(m[1])
	}
	if m := vllmGraphs.FindStringSubmatch(line); m != nil {
		r.GraphBytes = gib(m[1])
	}
	if m := torchOOM.FindStringSubmatch(line); m != nil {
		r.OOMRequestBytes, r.OOMFreeBytes = torchBytes(m[1], m[2]), torchBytes(m[3], m[4])
	}
}

// Milestones implements Engine: "Model loading took" once the weights are
// in, "Available KV cache memory" once the profile run is over and before
// the pool is allocated (docs/ENGINE-SURFACE.md §A2 rows 3 and 4).
func (VLLM) Milestones() (string, string) { return "Model loading took", "Available KV cache memory" }

// ParseMetrics implements Engine: num_gpu_blocks × block_size from the
// vllm:cache_config_info labels (every CacheConfig field,
// https://github.com/vllm-project/vllm/blob/v0.21.0/vllm/config/cache.py#L215-L218);
// 0 before the engine sized its pool ("None"). For hybrid models it counts
// blocks of the unified page, not tokens of one layer.
func (VLLM) ParseMetrics(body string) int {
	m := vllmCacheInfo.FindStringSubmatch(body)
	if m == nil {
		return 0
	}
	labels := promLabels(m[1])
	return atoi(labels["num_gpu_blocks"]) * atoi(labels["block_size"])
}

// promLabels reads a Prometheus label set: name="value",… (values without
// escaped quotes, which these labels never hold).
func promLabels(s string) map[string]string {
	out := map[string]string{}
	for _, kv := range strings.Split(s, `",`) {
		name, val, ok := strings.Cut(kv, `="`)
		if ok {
			out[strings.TrimSpace(name)] = strings.TrimSuffix(val, `"`)
		}
	}
	return out
}

// Classify implements Engine with vLLM's own refusals (the texts in
// docs/ENGINE-SURFACE.md §A "Fatal sizing errors"); the engine process
// exits 1 on any of them.
func (VLLM) Classify(exitCode int, tail []string) string {
	return classifyBy(vllmFailures, exitCode, tail)
}

// vllmFailures are vLLM's refusals, most specific first.
var vllmFailures = []failureRule{
	{estimate.FailureStateBlocks, []string{"exceeds available Mamba cache blocks"}},
	{estimate.FailureMaxModelLen, []string{"KV cache is needed, which is larger than the available KV cache memory"}},
	{estimate.FailureNoKVMemory, []string{"No available memory for the cache blocks", "Cannot auto-fit max_model_len"}},
	{estimate.FailureGPUMemoryUtilization, []string{"is less than desired GPU memory utilization"}},
	{estimate.FailureWeights, []string{"Failed to load model - not enough GPU memory"}},
	{estimate.FailureCUDAOOM, []string{"OutOfMemoryError", "CUDA out of memory"}},
	{estimate.FailureArgumentValidation, []string{"must be greater than or equal to max_num_seqs", "is greater than the derived max_model_len", "error: argument", "unrecognized arguments"}},
	{estimate.FailureDownload, hubFailures},
}

// hubFailures are huggingface_hub's errors for a model it cannot fetch.
var hubFailures = []string{"Repository Not Found", "401 Client Error", "GatedRepoError"}

// failureRule names the failure kind of a log holding any of its texts.
type failureRule struct {
	kind  string
	texts []string
}

// classifyBy is the kind of the first rule whose text the log tail holds,
// else "" for a clean exit and FailureCrash for any other.
func classifyBy(rules []failureRule, exitCode int, tail []string) string {
	text := strings.Join(tail, "\n")
	for _, r := range rules {
		for _, t := range r.texts {
			if strings.Contains(text, t) {
				return r.kind
			}
		}
	}
	if exitCode == 0 {
		return ""
	}
	return estimate.FailureCrash
}

var (
	_ Engine = VLLM{}
	_ Engine = SGLang{}
)
