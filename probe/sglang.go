package probe

import (
	"regexp"
	"strconv"

	"github.com/vramcalc/vramcalc/estimate"
	"github.com/vramcalc/vramcalc/launch"
)

// SGLang drives `python3 -m sglang.launch_server` in SGLang's image
// (lmsysorg/sglang), which defines no entrypoint, so the container
// arguments start with the command; the server listens on 127.0.0.1 by
// default, so it is told 0.0.0.0, and /metrics needs --enable-metrics
// (docs/ENGINE-SURFACE.md §B, read at v0.5.18). The log lines below are
// v0.5.18's.
type SGLang struct{}

// Name implements Engine.
func (SGLang) Name() string { return "sglang" }

// Port is launch_server's default port (docs/ENGINE-SURFACE.md §B).
func (SGLang) Port() int { return 30000 }

// HealthPath implements Engine: /health answers 503 until the warm-up
// request succeeded, then 200.
func (SGLang) HealthPath() string { return "/health" }

// MetricsPath implements Engine (with --enable-metrics).
func (SGLang) MetricsPath() string { return "/metrics" }

// Args implements Engine with launch's SGLang builder: MaxTotalTokens is
// --context-length and MaxBatchPrefillTokens --chunked-prefill-size.
func (e SGLang) Args(model string, p Point, o LaunchOptions) []string {
	kv, _ := estimate.ParseDType(o.KVCacheDType)
	args := launch.Args(launch.Spec{Engine: "sglang", Model: model, Shards: o.NumShard, Settings: estimate.Settings{
		MaxModelLen: p.MaxTotalTokens, ChunkedPrefillSize: p.MaxBatchPrefillTokens,
		MemFractionStatic: o.MemFractionStatic, Quantize: o.Quantize, KVCacheDType: kv,
	}})
	out := append([]string{"python3", "-m", "sglang.launch_server"}, args...)
	return append(out, "--host", "0.0.0.0", "--port", strconv.Itoa(e.Port()), "--enable-metrics")
}

// SGLang's sizing lines, GB being GiB (get_available_gpu_memory divides by
// 1 << 30,
// https://github.com/sgl-project/sglang/blob/v0.5.18/python/sglang/srt/utils/common.py#L546):
// "Load weight end. … mem usage=X GB."
// (https://github.com/sgl-project/sglang/blob/v0.5.18/python/sglang/srt/model_executor/model_runner.py#L1154-L1162),
// "KV Cache is allocated. … #tokens: N, K size: X GB, V size: Y GB" or
// "KV size: X GB" for MLA
// (https://github.com/sgl-project/sglang/blob/v0.5.18/python/sglang/srt/mem_cache/memory_pool.py#L1670-L1696),
// "max_total_num_tokens=N, …"
// (https://github.com/sgl-project/sglang/blob/v0.5.18/python/sglang/srt/managers/scheduler.py#L1091-L1099)
// and the sglang:max_total_num_tokens gauge.
var (
	sglangWeights = regexp.MustCompile(`Load weight end\..* mem usage=([0-9.]+) GB`)
	sglangKVSizes = regexp.MustCompile(`KV Cache is allocated\..*?(?:K size: ([0-9.]+) GB, V size: ([0-9.]+) GB|KV size: ([0-9.]+) GB)`)
	sglangTokens  = regexp.MustCompile(`max_total_num_tokens=(\d+)`)
	sglangGauge   = regexp.MustCompile(`(?m)^sglang:max_total_num_tokens(?:\{[^}]*\})? ([0-9.e+]+)`)
)

// ParseLog implements Engine.
func (SGLang) ParseLog(line string, r *Reported) {
	if m := sglangWeights.FindStringSubmatch(line); m != nil {
		r.WeightsBytes = gib(m[1])
	}
	if m := sglangKVSizes.FindStringSubmatch(line); m != nil {
		if m[3] != "" {
			r.KVBytes = gib(m[3])
		} else {
			r.KVBytes = gib(m[1]) + gib(m[2])
		}
	}
	if m := sglangTokens.FindStringSubmatch(line); m != nil {
		r.KVTokens = atoi(m[1])
	}
	if m := torchOOM.FindStringSubmatch(line); m != nil {
		r.OOMRequestBytes, r.OOMFreeBytes = torchBytes(m[1], m[2]), torchBytes(m[3], m[4])
	}
}

// Milestones implements Engine: "Load weight end" once the weights are
// in; SGLang runs no warm-up before it sizes its pool from the free
// memory, so the same line ends what a warm-up peak would read
// (docs/ENGINE-SURFACE.md §B2).
func (SGLang) Milestones() (string, string) { return "Load weight end", "Load weight end" }

// ParseMetrics implements Engine: the sglang:max_total_num_tokens gauge.
func (SGLang) ParseMetrics(body string) int { return gaugeValue(sglangGauge, body) }

// Classify implements Engine with SGLang's refusals
// (https://github.com/sgl-project/sglang/blob/v0.5.18/python/sglang/srt/model_executor/pool_configurator.py#L71-L77,
// https://github.com/sgl-project/sglang/blob/v0.5.18/python/sglang/srt/mem_cache/kv_cache_configurator.py#L1793-L1808).
// SGLang may exit 0 after a failed start (it SIGKILLs itself, which PID 1
// ignores, then calls sys.exit(0); docs/ENGINE-SURFACE.md §B), so the log
// decides before the exit code does, and a start that never served is a
// failure however it exited (the launcher's readiness check).
func (SGLang) Classify(exitCode int, tail []string) string {
	return classifyBy(sglangFailures, exitCode, tail)
}

// sglangFailures are SGLang's refusals, most specific first.
var sglangFailures = []failureRule{
	{estimate.FailureNotEnoughMemory, []string{"Not enough memory. Please try to increase --mem-fraction-static", "Loaded weights leave no GPU memory for the KV cache"}},
	{estimate.FailureCUDAOOM, []string{"OutOfMemoryError", "CUDA out of memory"}},
	{estimate.FailureArgumentValidation, []string{"error: argument", "unrecognized arguments"}},
	{estimate.FailureDownload, hubFailures},
	{estimate.FailureCrash, []string{"scheduler died during initialization"}},
}
