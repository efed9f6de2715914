package probe

import (
	"slices"
	"testing"

	"github.com/vramcalc/vramcalc/estimate"
)

// TestVLLMParseLog reads vLLM's sizing lines as real starts printed them
// (testdata/startup_reports_dev.csv rows 321, 320 and 306; the refusal's
// text is vLLM v0.21.0's, docs/ENGINE-SURFACE.md §A).
func TestVLLMParseLog(t *testing.T) {
	var r Reported
	for _, l := range []string{
		"(EngineCore pid=214) INFO 11-20 10:01:12 [model_runner.py:407] Model loading took 15.0 GiB memory and 5.420225 seconds",
		"(EngineCore pid=214) INFO 11-20 10:01:40 [kv_cache_utils.py:2464] GPU KV cache size: 460,496 tokens",
		"(EngineCore pid=214) INFO 11-20 10:01:40 [kv_cache_utils.py:2465] Maximum concurrency for 131,072 tokens per request: 3.51x",
		"(EngineCore pid=214) INFO 11-20 10:01:39 [gpu_worker.py:692] Available KV cache memory: 56.21 GiB",
	} {
		VLLM{}.ParseLog(l, &r)
	}
	// 15.0 GiB = 16,106,127,360 B; 56.21 GiB = 60,355,027,927 B (⌊56.21·2^30⌋).
	want := Reported{WeightsBytes: 16_106_127_360, KVTokens: 460_496, MaxConcurrencyX100: 351, KVBytes: 60_355_027_927}
	if r != want {
		t.Errorf("row 321's lines: %+v, want %+v", r, want)
	}
	// Model Runner V2 drops the word "memory" (row 320).
	r = Reported{}
	VLLM{}.ParseLog("[model_runner.py:329] Model loading took 0.93 GiB and 6.206722 seconds", &r)
	if r.WeightsBytes != 998_579_896 { // ⌊0.93·2^30⌋
		t.Errorf("MRv2 loading line: %d B", r.WeightsBytes)
	}
	r = Reported{}
	VLLM{}.ParseLog("ValueError: To serve at least one request with the models's max seq len (131072), (16.00 GiB KV cache is needed, which is larger than the available KV cache memory (4.13 GiB). Based on the available memory, the estimated maximum model length is 33808. Try increasing `gpu_memory_utilization` or decreasing `max_model_len` when initializing the engine.", &r)
	if r.EstimatedMaxModelLen != 33808 {
		t.Errorf("estimated maximum model length %d, want 33808", r.EstimatedMaxModelLen)
	}
	r = Reported{}
	VLLM{}.ParseLog("(EngineCore pid=214) INFO 11-20 10:02:01 [gpu_model_runner.py:6243] Graph capturing finished in 12 secs, took 0.45 GiB", &r)
	if r.GraphBytes != 483_183_820 { // ⌊0.45·2^30⌋
		t.Errorf("graph capture line: %d B, want 483,183,820", r.GraphBytes)
	}
}

// TestVLLMClassifyAndMetrics: vLLM's refusals name their failure kinds, and
// the pool comes from cache_config_info's num_gpu_blocks × block_size.
func TestVLLMClassifyAndMetrics(t *testing.T) {
	for text, want := range map[string]string{
		"ValueError: To serve at least one request with the models's max seq len (131072), (16.00 GiB KV cache is needed, which is larger than the available KV cache memory (4.13 GiB).": estimate.FailureMaxModelLen,
		"ValueError: max_num_seqs (1024) exceeds available Mamba cache blocks (797). Each decode sequence requires one Mamba cache block":                                                 estimate.FailureStateBlocks,
		"ValueError: No available memory for the cache blocks. Try increasing `gpu_memory_utilization`":                                                                                   estimate.FailureNoKVMemory,
		"ValueError: Free memory on device cuda:0 (10.2/23.99 GiB) on startup is less than desired GPU memory utilization (0.92, 22.07 GiB).":                                             estimate.FailureGPUMemoryUtilization,
		"ERROR Failed to load model - not enough GPU memory. Try lowering --gpu-memory-utilization":                                                                                       estimate.FailureWeights,
		"vllm serve: error: argument --max-model-len: invalid":                                                                                                                            estimate.FailureArgumentValidation,
	} {
		if got := (VLLM{}).Classify(1, []string{"INFO starting", text}); got != want {
			t.Errorf("Classify(%.60q) = %q, want %q", text, got, want)
		}
	}
	if got := (VLLM{}).Classify(1, []string{"Traceback", "RuntimeError: boom"}); got != estimate.FailureCrash {
		t.Errorf("unknown error: %q", got)
	}
	body := "# HELP vllm:cache_config_info Information of the LLMEngine CacheConfig\n" +
		`vllm:cache_config_info{block_size="16",cache_dtype="auto",engine="0",gpu_memory_utilization="0.92",num_gpu_blocks="28781"} 1.0` + "\n"
	if got := (VLLM{}).ParseMetrics(body); got != 460_496 { // 28,781 blocks × 16
		t.Errorf("ParseMetrics = %d, want 460,496", got)
	}
	if got := (VLLM{}).ParseMetrics(`vllm:cache_config_info{block_size="16",num_gpu_blocks="None"} 1.0`); got != 0 {
		t.Errorf("before sizing: %d", got)
	}
}

// TestSGLangArgsAndLog: SGLang's image has no entrypoint, so the command
// comes first, the server is told 0.0.0.0 and metrics; its sizing lines
// as real starts printed them (testdata/startup_reports_dev.csv rows 401
// and 316's format; memory_pool.py's MLA form).
func TestSGLangArgsAndLog(t *testing.T) {
	args := SGLang{}.Args("Qwen/Qwen3-32B", Point{MaxTotalTokens: 40960, MaxBatchPrefillTokens: 4096}, LaunchOptions{NumShard: 4, MemFractionStatic: 0.88})
	want := []string{"python3", "-m", "sglang.launch_server", "--model-path", "Qwen/Qwen3-32B", "--tp-size", "4", "--mem-fraction-static", "0.88",
		"--context-length", "40960", "--chunked-prefill-size", "4096", "--host", "0.0.0.0", "--port", "30000", "--enable-metrics"}
	if !slices.Equal(args, want) {
		t.Errorf("args %q\nwant %q", args, want)
	}
	var r Reported
	for _, l := range []string{
		"[2026-11-02 10:00:00 TP0] Load weight end. elapsed=100.34 s, type=Qwen3ForCausalLM, avail mem=17.40 GB, mem usage=61.07 GB.",
		"[2026-11-02 10:00:01 TP0] KV Cache is allocated. dtype: torch.bfloat16, #tokens: 39078, K size: 4.77 GB, V size: 4.77 GB",
		"[2026-11-02 10:01:03 TP0] max_total_num_tokens=39078, chunked_prefill_size=8192, max_prefill_tokens=16384, max_running_requests=2048, context_len=40960, available_gpu_mem=4.52 GB",
	} {
		SGLang{}.ParseLog(l, &r)
	}
	// 61.07 GiB = 65,573,413,191 B; K + V = 2·⌊4.77·2^30⌋ = 2·5,121,748,500.
	if r.WeightsBytes != 65_573_413_191 || r.KVBytes != 10_243_497_000 || r.KVTokens != 39078 {
		t.Errorf("row 401's lines: %+v", r)
	}
	r = Reported{}
	SGLang{}.ParseLog("KV Cache is allocated. #tokens: 1406810, KV size: 42.93 GB", &r)
	if r.KVBytes != 46_095_736_504 { // ⌊42.93·2^30⌋
		t.Errorf("MLA KV line: %d", r.KVBytes)
	}
	if got := (SGLang{}).ParseMetrics("sglang:max_total_num_tokens{model_name=\"Qwen/Qwen3-32B\"} 39078.0\n"); got != 39078 {
		t.Errorf("ParseMetrics = %d", got)
	}
}

// TestSGLangClassify: SGLang's refusals decide even when it exits 0 (it
// can, as PID 1: docs/ENGINE-SURFACE.md §B).
func TestSGLangClassify(t *testing.T) {
	for text, want := range map[string]string{
		"RuntimeError: Not enough memory. Please try to increase --mem-fraction-static. Current value: mem_fraction_static=0.5": estimate.FailureNotEnoughMemory,
		"ValueError: Loaded weights leave no GPU memory for the KV cache under --mem-fraction-static=0.6.":                      estimate.FailureNotEnoughMemory,
		"torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB.":                                               estimate.FailureCUDAOOM,
		"launch_server.py: error: unrecognized arguments: --max-model-len":                                                      estimate.FailureArgumentValidation,
	} {
		if got := (SGLang{}).Classify(0, []string{text}); got != want {
			t.Errorf("Classify(%.50q) = %q, want %q", text, got, want)
		}
	}
}
