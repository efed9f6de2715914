package estimate

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"testing"
)

// Models of the vLLM/SGLang dev rows, with architecture numbers copied from
// shared/models/*/config.json (tensors come from SynthesizeTensors).
var (
	qwen2_7B = Model{ID: "Qwen/Qwen2-7B-Instruct", Type: "qwen2", Layers: 28, Hidden: 3584, Heads: 28, KVHeads: 4,
		Intermediate: 18944, Vocab: 152064, MaxPositions: 32768, DType: BF16}
	qwen25_7B = Model{ID: "Qwen/Qwen2.5-7B-Instruct", Type: "qwen2", Layers: 28, Hidden: 3584, Heads: 28, KVHeads: 4,
		Intermediate: 18944, Vocab: 152064, MaxPositions: 32768, DType: BF16}
	qwen3_06B = Model{ID: "Qwen/Qwen3-0.6B", Type: "qwen3", Layers: 28, Hidden: 1024, Heads: 16, KVHeads: 8, HeadDim: 128,
		Intermediate: 3072, Vocab: 151936, MaxPositions: 40960, TieWordEmbeddings: true, DType: BF16}
	qwen3_14B = Model{ID: "Qwen/Qwen3-14B", Type: "qwen3", Layers: 40, Hidden: 5120, Heads: 40, KVHeads: 8, HeadDim: 128,
		Intermediate: 17408, Vocab: 151936, MaxPositions: 40960, DType: BF16}
	qwen3_32B = Model{ID: "Qwen/Qwen3-32B", Type: "qwen3", Layers: 64, Hidden: 5120, Heads: 64, KVHeads: 8, HeadDim: 128,
		Intermediate: 25600, Vocab: 151936, MaxPositions: 40960, DType: BF16}
	llama3_8B = Model{ID: "meta-llama/Meta-Llama-3-8B-Instruct", Type: "llama", Layers: 32, Hidden: 4096, Heads: 32, KVHeads: 8,
		Intermediate: 14336, Vocab: 128256, MaxPositions: 8192, DType: BF16}
	// teknium/OpenHermes-2.5-Mistral-7B is Mistral-7B-v0.1 (shared/models)
	// with two added tokens (vocab 32002, its model card's config).
	openHermes = Model{ID: "teknium/OpenHermes-2.5-Mistral-7B", Type: "mistral", Layers: 32, Hidden: 4096, Heads: 32, KVHeads: 8,
		Intermediate: 14336, Vocab: 32002, MaxPositions: 32768, SlidingWindow: 4096, DType: BF16}
	llama2_7B = Model{ID: "meta-llama/Llama-2-7b-hf", Type: "llama", Layers: 32, Hidden: 4096, Heads: 32, KVHeads: 32,
		Intermediate: 11008, Vocab: 32000, MaxPositions: 4096, DType: F16}
	qwen3_235B_FP8 = Model{ID: "Qwen/Qwen3-235B-A22B-FP8", Type: "qwen3_moe", Layers: 94, Hidden: 4096, Heads: 64, KVHeads: 4, HeadDim: 128,
		Intermediate: 12288, Vocab: 151936, MaxPositions: 40960, DType: BF16, Experts: 128, ExpertsPerToken: 8,
		MoEIntermediate: 1536, QuantMethod: "fp8"}
)

// GPU totals: the catalog's runtime totals, or the row's own figure.
var (
	devH100  = GPU{Name: "NVIDIA H100 80GB HBM3", TotalBytes: 85_017_755_648, SMITotalMiB: 81559, ComputeCapability: 90}
	devA100  = GPU{Name: "NVIDIA A100-SXM4-80GB", TotalBytes: 85_100_068_864, SMITotalMiB: 81920, ComputeCapability: 80}
	devA6000 = GPU{Name: "NVIDIA RTX A6000", TotalBytes: 51_160_023_040, SMITotalMiB: 49140, ComputeCapability: 86}
	// 23.58 GiB is the row's own total_gpu_memory.
	devRTX309 = GPU{Name: "NVIDIA GeForce RTX 3090", TotalBytes: 25_318_832_455, SMITotalMiB: 24576, ComputeCapability: 86}
)

// devRow is one vLLM/SGLang row of shared/data/startup_reports_dev.csv.
type devRow struct {
	id      int
	engine  string
	version string
	model   Model
	gpu     GPU
	tp      int
	s       Settings
	// tokens is the reported KV token count (kv_tokens); kvGiB the reported
	// KV memory when tokens are absent.
	tokens int
	kvGiB  float64
	// approximate rows are reported, not held to the target.
	approximate string
}

var devRows = []devRow{
	{id: 11, engine: "vllm", version: "0.10.1.1", model: qwen2_7B, gpu: devA100, tp: 1, s: Settings{GPUMemoryUtilization: 0.25, MaxModelLen: 16384}, tokens: 93872},
	{id: 12, engine: "vllm", version: "0.10.1.1", model: qwen2_7B, gpu: devA100, tp: 1, s: Settings{GPUMemoryUtilization: 0.5, MaxModelLen: 16384}, tokens: 464848},
	{id: 13, engine: "vllm", version: "0.10.1.1", model: qwen2_7B, gpu: devA100, tp: 2, s: Settings{GPUMemoryUtilization: 0.25, MaxModelLen: 16384}, tokens: 450192},
	{id: 14, engine: "vllm", version: "0.10.1.1", model: qwen2_7B, gpu: devA100, tp: 2, s: Settings{GPUMemoryUtilization: 0.5, MaxModelLen: 16384}, tokens: 1192160},
	{id: 20, engine: "vllm", version: "0.11.0", model: llama31_8B, gpu: devH100, tp: 1, s: Settings{GPUMemoryUtilization: 0.9, MaxModelLen: 16000, BlockSize: 128}, kvGiB: 51.38},
	{id: 21, engine: "vllm", version: "0.11.0", model: qwen3_06B, gpu: devH100, tp: 1, s: Settings{GPUMemoryUtilization: 0.9, MaxModelLen: 16000, BlockSize: 128}, kvGiB: 64.45},
	{id: 22, engine: "vllm", version: "0.11.0", model: qwen3_32B, gpu: devH100, tp: 1, s: Settings{GPUMemoryUtilization: 0.9, MaxModelLen: 16000, BlockSize: 128}, kvGiB: 4.45},
	{id: 23, engine: "vllm", version: "0.11.0", model: qwen3_32B, gpu: devH100, tp: 2, s: Settings{GPUMemoryUtilization: 0.9, MaxModelLen: 16000, BlockSize: 128}, kvGiB: 34.49},
	{id: 25, engine: "vllm", version: "0.19.0", model: llama31_8B, gpu: devH100, tp: 1, s: Settings{GPUMemoryUtilization: 0.95, MaxModelLen: 16384}, tokens: 476016},
	{id: 26, engine: "vllm", version: "0.19.0", model: qwen25_7B, gpu: devH100, tp: 1, s: Settings{GPUMemoryUtilization: 0.95, MaxModelLen: 8192}, tokens: 1096000},
	{id: 27, engine: "vllm", version: "0.19.0", model: qwen25_7B, gpu: devH100, tp: 1, s: Settings{GPUMemoryUtilization: 0.95, MaxModelLen: 8192, KVCacheDType: F8E4M3}, tokens: 2192000},
	{id: 31, engine: "vllm", version: "0.15.0", model: qwen3_14B, gpu: devH100, tp: 1, s: Settings{GPUMemoryUtilization: 0.95, MaxModelLen: 8192}, kvGiB: 41.94},
	{id: 32, engine: "vllm", version: "0.16.0", model: qwen3_14B, gpu: devH100, tp: 1, s: Settings{GPUMemoryUtilization: 0.95, MaxModelLen: 8192}, kvGiB: 41.94},
	{id: 33, engine: "vllm", version: "0.17.0", model: qwen3_14B, gpu: devH100, tp: 1, s: Settings{GPUMemoryUtilization: 0.95, MaxModelLen: 8192}, kvGiB: 45.34},
	{id: 34, engine: "vllm", version: "0.18.0", model: qwen3_14B, gpu: devH100, tp: 1, s: Settings{GPUMemoryUtilization: 0.95, MaxModelLen: 8192}, kvGiB: 45.23},
	{id: 36, engine: "vllm", version: "0.4.1", model: llama3_8B, gpu: devA6000, tp: 1, s: Settings{GPUMemoryUtilization: 0.9, OfflineLLM: true}, tokens: 211968},
	{id: 37, engine: "vllm", version: "0.4.1", model: openHermes, gpu: devA6000, tp: 1, s: Settings{GPUMemoryUtilization: 0.9, OfflineLLM: true}, tokens: 203760},
	{id: 44, engine: "vllm", version: "0.6.4", model: llama31_8B, gpu: devRTX309, tp: 1, s: Settings{GPUMemoryUtilization: 0.9, MaxModelLen: 20000}, tokens: 31232},
	{id: 49, engine: "vllm", version: "0.2.4", model: llama2_7B, gpu: devA100, tp: 1, s: Settings{GPUMemoryUtilization: 0.9}, tokens: 119184},
	{id: 50, engine: "vllm", version: "0.2.5", model: llama2_7B, gpu: devA100, tp: 1, s: Settings{GPUMemoryUtilization: 0.9}, tokens: 117616},
	{id: 60, engine: "sglang", version: "0.4.9", model: qwen3_235B_FP8, gpu: devH100, tp: 4, s: Settings{MemFractionStatic: 0.93}, tokens: 367404},
}

// predict runs the row and returns the figure the row reports.
func (r devRow) predict(t *testing.T) (got, want float64, res Result) {
	t.Helper()
	s := r.s
	s.NumShard = r.tp
	res, err := Run(r.model, Hardware{GPU: r.gpu, Count: r.tp}, Engine{Name: r.engine, Version: r.version}, s)
	if err != nil {
		t.Fatalf("row %d: %v", r.id, err)
	}
	if r.tokens > 0 {
		return float64(res.Startup.MaxBatchTotalTokens), float64(r.tokens), res
	}
	return res.PerGPU.KVCache.GiBs(), r.kvGiB, res
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// checkDevRows runs every row of one engine, logs the table and holds the
// median and worst |error| to the project's targets.
func checkDevRows(t *testing.T, engine string, medianMax, worstMax float64) {
	var errs []float64
	var b strings.Builder
	fmt.Fprintf(&b, "\n%4s  %-10s  %-36s  %3s  %12s  %12s  %7s\n", "row", "version", "model", "tp", "reported", "predicted", "err %")
	for _, r := range devRows {
		if r.engine != engine {
			continue
		}
		got, want, res := r.predict(t)
		e := 100 * (got - want) / want
		unit := "tok"
		if r.tokens == 0 {
			unit = "GiB"
		}
		fmt.Fprintf(&b, "%4d  %-10s  %-36s  %3d  %12.2f  %12.2f  %+7.2f  %s  act %.2f GiB, weights %.2f GiB\n",
			r.id, r.version, r.model.ID, r.tp, want, got, e, unit, res.PerGPU.ActivationPeak.GiBs(), res.PerGPU.Weights.GiBs())
		if !res.Startup.Fits {
			t.Errorf("row %d: predicted not to start: %s %s", r.id, res.Startup.Failure, res.Startup.Message)
		}
		if r.approximate != "" {
			continue
		}
		errs = append(errs, math.Abs(e))
	}
	med := median(errs)
	worst := 0.0
	for _, e := range errs {
		worst = math.Max(worst, e)
	}
	fmt.Fprintf(&b, "%s: %d rows, median |error| %.2f%%, worst %.2f%%", engine, len(errs), med, worst)
	t.Log(b.String())
	if med > medianMax {
		t.Errorf("%s median |error| %.2f%% > %.1f%%", engine, med, medianMax)
	}
	if worst > worstMax {
		t.Errorf("%s worst |error| %.2f%% > %.1f%%", engine, worst, worstMax)
	}
}

func TestVLLMDevRows(t *testing.T) { checkDevRows(t, "vllm", 2, 8) }

func BenchmarkRunVLLMLlama8B(b *testing.B) {
	hw := Hardware{GPU: devH100, Count: 1}
	s := Settings{MaxModelLen: 16384}
	for b.Loop() {
		if _, err := Run(llama31_8B, hw, Engine{Name: "vllm"}, s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRunVLLMV0Llama8B(b *testing.B) {
	hw := Hardware{GPU: devRTX309, Count: 1}
	s := Settings{MaxModelLen: 20000}
	for b.Loop() {
		if _, err := Run(llama31_8B, hw, Engine{Name: "vllm", Version: "0.6.4"}, s); err != nil {
			b.Fatal(err)
		}
	}
}

func runOK(t *testing.T, m Model, g GPU, tp int, engine, ver string, s Settings) Result {
	t.Helper()
	s.NumShard = tp
	res, err := Run(m, Hardware{GPU: g, Count: tp}, Engine{Name: engine, Version: ver}, s)
	if err != nil {
		t.Fatalf("%s %s: %v", engine, ver, err)
	}
	return res
}

func hasLine(lines []string, prefix string) string {
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}

func TestVLLMKVArithmetic(t *testing.T) {
	for _, c := range []struct {
		name string
		m    Model
		tp   int
		want Bytes
	}{
		// Qwen2-7B: 2 (K,V) · 28 layers · 4 KV heads · 128 · 2 B = 57,344 B.
		{"qwen2-7b tp1", qwen2_7B, 1, 57_344},
		// TP 2 splits the 4 KV heads: 2 · 28 · 2 · 128 · 2 = 28,672 B.
		{"qwen2-7b tp2", qwen2_7B, 2, 28_672},
		// TP 4 leaves one KV head per rank: 2 · 28 · 1 · 128 · 2 = 14,336 B.
		{"qwen2-7b tp4", qwen2_7B, 4, 14_336},
		// Llama-3.1-8B: 2 · 32 · 8 · 128 · 2 = 131,072 B.
		{"llama-3.1-8b", llama31_8B, 1, 131_072},
	} {
		res := runOK(t, c.m, devH100, c.tp, "vllm", "", Settings{MaxModelLen: 4096})
		if res.KVBytesPerToken != c.want {
			t.Errorf("%s: KV/token %d, want %d", c.name, res.KVBytesPerToken, c.want)
		}
	}
	// fp8 KV halves it: 57,344 / 2 = 28,672 B, so row 27 logs twice row 26's tokens.
	r26 := runOK(t, qwen25_7B, devH100, 1, "vllm", "0.19.0", Settings{GPUMemoryUtilization: 0.95, MaxModelLen: 8192})
	r27 := runOK(t, qwen25_7B, devH100, 1, "vllm", "0.19.0", Settings{GPUMemoryUtilization: 0.95, MaxModelLen: 8192, KVCacheDType: F8E4M3})
	if r27.KVBytesPerToken != 28_672 || r27.Startup.MaxBatchTotalTokens != 2*r26.Startup.MaxBatchTotalTokens {
		t.Errorf("fp8 KV: %d B/token, %d vs %d tokens", r27.KVBytesPerToken, r27.Startup.MaxBatchTotalTokens, r26.Startup.MaxBatchTotalTokens)
	}
	// Blocks: num_blocks = ⌊available / (16 tokens · 57,344 B)⌋ = ⌊available / 917,504⌋,
	// tokens = num_blocks · 16, concurrency = num_blocks / ⌈16,384/16⌉.
	res := runOK(t, qwen2_7B, devA100, 1, "vllm", "0.10.1.1", Settings{GPUMemoryUtilization: 0.25, MaxModelLen: 16384})
	blocks := int64(res.PerGPU.KVCache) / 917_504
	if got := res.Startup.MaxBatchTotalTokens; got != int(blocks)*16 {
		t.Errorf("tokens %d, want %d blocks × 16", got, blocks)
	}
	want := fmt.Sprintf("Maximum concurrency for 16,384 tokens per request: %.2fx", float64(blocks)/1024)
	if l := hasLine(res.Startup.LogLines, "Maximum concurrency"); l != want {
		t.Errorf("log %q, want %q", l, want)
	}
	if l := hasLine(res.Startup.LogLines, "GPU KV cache size: "); !strings.HasSuffix(l, ",896 tokens") {
		t.Errorf("tokens line %q", l)
	}
}

func TestVLLMWeights(t *testing.T) {
	// Llama-3.1-8B: 8,030,261,248 params · 2 B + the rotary cache
	// 131,072 positions · 128 · 2 B (32 MiB) = 16,093,601,792 B ("14.99 GiB", dev row 20).
	res := runOK(t, llama31_8B, devH100, 1, "vllm", "0.11.0", Settings{MaxModelLen: 4096})
	if got, want := res.PerGPU.Weights, Bytes(8_030_261_248*2+131_072*128*2); got != want {
		t.Errorf("llama weights %d, want %d", got, want)
	}
	// Qwen3-0.6B ties lm_head to the embedding: 596,049,920 params · 2 B +
	// 40,960 · 128 · 2 B = 1,202,585,600 B ("1.12 GiB", dev row 21), not the
	// 751.6 M the checkpoint stores.
	res = runOK(t, qwen3_06B, devH100, 1, "vllm", "0.11.0", Settings{MaxModelLen: 4096})
	if got, want := res.PerGPU.Weights, Bytes(596_049_920*2+40_960*128*2); got != want {
		t.Errorf("qwen3-0.6b weights %d, want %d", got, want)
	}
	withHead := qwen3_06B
	withHead.Tensors = append(SynthesizeTensors(qwen3_06B), Tensor{Name: "lm_head.weight", DType: BF16, Shape: []int64{151936, 1024}})
	if got := runOK(t, withHead, devH100, 1, "vllm", "0.11.0", Settings{MaxModelLen: 4096}).PerGPU.Weights; got != res.PerGPU.Weights {
		t.Errorf("a tied checkpoint's lm_head.weight was loaded: %d vs %d", got, res.PerGPU.Weights)
	}
	// Vocab 32,002 pads to 32,064 rows and splits 16,032 per rank at TP 2.
	if got := padVocab(32002); got != 32064 {
		t.Errorf("padVocab(32002) = %d", got)
	}
	ts := []Tensor{{Name: "model.embed_tokens.weight", DType: BF16, Shape: []int64{32002, 4096}}}
	if got := must(servingWeights(Model{Layers: 1}, ts, 2, Settings{}, 16)); got != 16032*4096*2 {
		t.Errorf("padded embedding shard %d, want %d", got, 16032*4096*2)
	}
	// KV heads are replicated when TP exceeds them: Qwen2-7B's 4 KV heads at
	// TP 4 is one head each, k_proj 128 × 3584 per rank.
	kts := []Tensor{{Name: "model.layers.0.self_attn.k_proj.weight", DType: BF16, Shape: []int64{512, 3584}}}
	if got := must(servingWeights(Model{Layers: 1, Heads: 28, KVHeads: 4, Hidden: 3584}, kts, 4, Settings{}, 16)); got != 128*3584*2 {
		t.Errorf("k_proj shard %d, want %d", got, 128*3584*2)
	}
	if got := must(servingWeights(Model{Layers: 1, Heads: 28, KVHeads: 2, Hidden: 3584}, []Tensor{{Name: "model.layers.0.self_attn.k_proj.weight", DType: BF16, Shape: []int64{256, 3584}}}, 4, Settings{}, 16)); got != 128*3584*2 {
		t.Errorf("replicated k_proj shard %d, want %d", got, 128*3584*2)
	}
}

// TestGPTQActOrderScales pins the row-parallel shard of a GPTQ 4-bit,
// group-128 o_proj of Llama-3-70B (8192 → 8192) at TP 4: with act-order
// its scales and qzeros stay whole on every rank, its qweight and g_idx
// split.
func TestGPTQActOrderScales(t *testing.T) {
	ts := []Tensor{
		{Name: "model.layers.0.self_attn.o_proj.qweight", DType: I32, Shape: []int64{1024, 8192}}, // 8192/8 packed rows
		{Name: "model.layers.0.self_attn.o_proj.scales", DType: F16, Shape: []int64{64, 8192}},    // 8192/128 groups
		{Name: "model.layers.0.self_attn.o_proj.qzeros", DType: I32, Shape: []int64{64, 1024}},
		{Name: "model.layers.0.self_attn.o_proj.g_idx", DType: I32, Shape: []int64{8192}},
	}
	m := Model{Layers: 1, Heads: 64, KVHeads: 8, Hidden: 8192, QuantMethod: "gptq"}
	for _, c := range []struct {
		act  bool
		want Bytes
	}{
		// qweight 1024·8192·4/4 = 8,388,608; scales 64·8192·2/4 = 262,144;
		// qzeros 64·1024·4/4 = 65,536; g_idx 8192·4/4 = 8,192.
		{false, 8_388_608 + 262_144 + 65_536 + 8_192},
		// act-order: scales 64·8192·2 = 1,048,576 and qzeros 64·1024·4 =
		// 262,144 whole.
		{true, 8_388_608 + 1_048_576 + 262_144 + 8_192},
	} {
		m.QuantActOrder = c.act
		if got := must(servingWeights(m, ts, 4, Settings{}, 16)); got != c.want {
			t.Errorf("act-order %v: o_proj shard %d B, want %d", c.act, got, c.want)
		}
	}
}

func TestVLLMBatchDefaults(t *testing.T) {
	h100Name := devH100
	a100 := devA100
	for _, c := range []struct {
		name      string
		g         GPU
		ver       string
		offline   bool
		wantMNBT  int
		wantSeqs  int
		wantRowsS int
	}{
		{"h100 serve", h100Name, "0.19.0", false, 8192, 1024, 1024},
		{"h100 LLM class", h100Name, "0.19.0", true, 16384, 1024, 1024},
		{"a100 serve (carve-out)", a100, "0.19.0", false, 2048, 256, 256},
		{"a100 LLM class", a100, "0.19.0", true, 8192, 256, 256},
		{"a6000 serve", devA6000, "0.19.0", false, 2048, 256, 256},
		// v0.8.4 by name: `if "h100" in device_name or "h200" in device_name:`
		// (https://github.com/vllm-project/vllm/blob/v0.8.4/vllm/engine/arg_utils.py#L1669).
		{"v0.8.4 by name: h100", h100Name, "0.8.4", false, 8192, 1024, 1024},
		{"v0.8.4 by name: a100", a100, "0.8.4", false, 2048, 256, 256},
		// v0.8.5 by memory, no A100 carve-out: `if device_memory >= 70 * GiB_bytes:`
		// (https://github.com/vllm-project/vllm/blob/v0.8.5/vllm/engine/arg_utils.py#L1596).
		{"v0.8.5 by memory: a100", a100, "0.8.5", false, 8192, 1024, 1024},
		// v0.9.0 adds it: `... and "a100" not in device_name:`
		// (https://github.com/vllm-project/vllm/blob/v0.9.0/vllm/engine/arg_utils.py#L1495).
		{"v0.9.0 carve-out: a100", a100, "0.9.0", false, 2048, 256, 256},
	} {
		res := runOK(t, llama31_8B, c.g, 1, "vllm", c.ver, Settings{MaxModelLen: 4096, OfflineLLM: c.offline})
		if res.Startup.MaxBatchPrefillTokens != c.wantMNBT || res.Startup.WarmupRequests != c.wantRowsS {
			t.Errorf("%s: mnbt %d rows %d, want %d / %d", c.name, res.Startup.MaxBatchPrefillTokens, res.Startup.WarmupRequests, c.wantMNBT, c.wantRowsS)
		}
	}
	// V0 profiles max(max_model_len, 2048) tokens, and above 32K turns on
	// chunked prefill by itself from v0.5.3 with a 512-token budget
	// (`self.max_num_batched_tokens = 512`,
	// https://github.com/vllm-project/vllm/blob/v0.5.3/vllm/config.py#L805), 2048
	// from v0.6.5 (`self.max_num_batched_tokens = 2048`,
	// https://github.com/vllm-project/vllm/blob/v0.6.5/vllm/config.py#L1344).
	for _, c := range []struct {
		ver  string
		mml  int
		want int
	}{{"0.6.4", 20000, 20000}, {"0.6.4", 1024, 2048}, {"0.6.4", 65536, 512}, {"0.8.5-v0", 65536, 2048},
		{"0.4.1", 65536, 65536}, {"0.5.2", 65536, 65536}, {"0.5.3", 65536, 512}, {"0.6.5", 65536, 2048}, {"0.7.3-v0", 65536, 2048}} {
		res := runOK(t, llama31_8B, devA100, 1, "vllm", c.ver, Settings{MaxModelLen: c.mml})
		if res.Startup.MaxBatchPrefillTokens != c.want {
			t.Errorf("V0 %s mml %d: mnbt %d, want %d", c.ver, c.mml, res.Startup.MaxBatchPrefillTokens, c.want)
		}
	}
}

func TestVLLMProfilePeak(t *testing.T) {
	// v0.11 on H100: sampler over 1024 rows × 128,256 with the sort path,
	// 2 B (bf16 logits) + 36 B = 38 B per element = 4,990,418,944 B, plus the
	// forward's output 8192 · 4096 · 2 = 67,108,864 B and the 32 MiB cuBLAS
	// workspace = 5,091,082,240 B (4.74 GiB; llm-d measured 4.76, dev row 20).
	res := runOK(t, llama31_8B, devH100, 1, "vllm", "0.11.0", Settings{MaxModelLen: 16000})
	if got, want := res.PerGPU.ActivationPeak, Bytes(1024*128256*38+8192*4096*2)+32*MiB; got != want {
		t.Errorf("v0.11 peak %d, want %d", got, want)
	}
	// v0.17+: the Triton kernel masks in place: 2 + 12 B per element plus its
	// [132 SMs, V] fp32 buffer = 1024·128,256·14 + 132·128,256·4 + 67,108,864
	// + 32 MiB = 1,999,... (1.87 GiB; llm-d measured 1.89 on v0.19, dev row 25).
	res = runOK(t, llama31_8B, devH100, 1, "vllm", "0.19.0", Settings{MaxModelLen: 16384})
	if got, want := res.PerGPU.ActivationPeak, Bytes(1024*128256*14+132*128256*4+8192*4096*2)+32*MiB; got != want {
		t.Errorf("v0.19 peak %d, want %d", got, want)
	}
	// Eager V0 at 20,000 tokens: the MLP phase holds 3 [N, H] tensors, gate_up
	// and act: 20,000 · (3·4096 + 3·14,336) · 2 B = 2,211,840,000 B plus the
	// 8 MiB pre-Hopper cuBLAS workspace: 2.07 GiB as row 44's
	// peak_torch_memory − weights (17.06 − 14.99).
	res = runOK(t, llama31_8B, devRTX309, 1, "vllm", "0.6.4", Settings{GPUMemoryUtilization: 0.9, MaxModelLen: 20000})
	if got, want := res.PerGPU.ActivationPeak, Bytes(20000*(3*4096+3*14336)*2)+8*MiB+128*KiB; got != want {
		t.Errorf("v0.6.4 peak %d, want %d", got, want)
	}
	if l := hasLine(res.Startup.LogLines, "# GPU blocks: "); !strings.HasSuffix(l, "# CPU blocks: 2048") {
		// swap space 4 GiB / (16 · 131,072 B) = 2048, as the real log says.
		t.Errorf("V0 blocks line %q", l)
	}
}

func TestVLLMMaxModelLenTooLong(t *testing.T) {
	// Dev row 22's note: Qwen3-32B on one H100 at max-model-len 32000 failed.
	// KV per token 2·64·8·128·2 = 262,144 B; 32,000 tokens need 2000 blocks
	// of 16 · 262,144 B = 7.81 GiB, more than the ≈ 4.5 GiB left.
	res := runOK(t, qwen3_32B, devH100, 1, "vllm", "0.11.0", Settings{GPUMemoryUtilization: 0.9, MaxModelLen: 32000})
	st := res.Startup
	if st.Fits || st.Failure != FailureMaxModelLen || !strings.Contains(st.Message, "the estimated maximum model length is ") {
		t.Fatalf("want %s, got fits=%v %s %q", FailureMaxModelLen, st.Fits, st.Failure, st.Message)
	}
	// The estimate is the largest length whose ⌈L/16⌉ blocks fit, which is the boundary.
	avail := res.PerGPU.KVCache
	est := int(int64(avail)/(16*262_144)) * 16
	if !strings.Contains(st.Message, fmt.Sprintf("is %d.", est)) || res.Boundary.MaxTotalTokens != est || res.Boundary.LimitedBy != "kv_budget" {
		t.Errorf("estimate %d; message %q; boundary %d %s", est, st.Message, res.Boundary.MaxTotalTokens, res.Boundary.LimitedBy)
	}
	if ok := runOK(t, qwen3_32B, devH100, 1, "vllm", "0.11.0", Settings{GPUMemoryUtilization: 0.9, MaxModelLen: est}); !ok.Startup.Fits {
		t.Errorf("the boundary %d does not start: %s", est, ok.Startup.Message)
	}
	if bad := runOK(t, qwen3_32B, devH100, 1, "vllm", "0.11.0", Settings{GPUMemoryUtilization: 0.9, MaxModelLen: est + 1}); bad.Startup.Fits {
		t.Errorf("one past the boundary (%d) starts", est+1)
	}
	// Longer than the model: vLLM's own refusal.
	res = runOK(t, llama31_8B, devH100, 1, "vllm", "", Settings{MaxModelLen: 200000})
	if res.Startup.Failure != FailureArgumentValidation || !strings.Contains(res.Startup.Message, "derived max_model_len") {
		t.Errorf("mml > max_position_embeddings: %s %q", res.Startup.Failure, res.Startup.Message)
	}
	// A small boundary check: with room for the whole context the boundary is max_position_embeddings.
	res = runOK(t, llama31_8B, devH100, 1, "vllm", "", Settings{MaxModelLen: 8192})
	if res.Boundary.MaxTotalTokens != 131072 || res.Boundary.LimitedBy != "max_position_embeddings" || res.Boundary.MaxBatchPrefillTokens <= 8192 {
		t.Errorf("boundary %+v", res.Boundary)
	}
}

func TestVLLMStartChecks(t *testing.T) {
	// V1 ≥ v0.9.1 refuses a budget above the free memory.
	res := runOK(t, llama31_8B, devH100, 1, "vllm", "0.19.0", Settings{GPUMemoryUtilization: 1.0, MaxModelLen: 8192})
	if res.Startup.Failure != FailureGPUMemoryUtilization || !strings.HasPrefix(res.Startup.Message, "Free memory on device") {
		t.Errorf("gmu 1.0: %s %q", res.Startup.Failure, res.Startup.Message)
	}
	// Weights that leave nothing for KV.
	res = runOK(t, qwen3_32B, devH100, 1, "vllm", "0.19.0", Settings{GPUMemoryUtilization: 0.75, MaxModelLen: 8192})
	if res.Startup.Failure != FailureNoKVMemory {
		t.Errorf("no KV memory: %s %q", res.Startup.Failure, res.Startup.Message)
	}
	// Weights larger than the card.
	res = runOK(t, qwen3_32B, devRTX309, 1, "vllm", "0.19.0", Settings{MaxModelLen: 8192})
	if res.Startup.Failure != FailureWeights || res.Boundary.LimitedBy != "weights" {
		t.Errorf("weights: %s, boundary %s", res.Startup.Failure, res.Boundary.LimitedBy)
	}
	// Head divisibility.
	if _, err := Run(qwen2_7B, Hardware{GPU: devH100, Count: 8}, Engine{Name: "vllm"}, Settings{NumShard: 8}); !IsInvalid(err) {
		t.Errorf("28 heads on TP 8: %v", err)
	}
}

func TestVLLMVersions(t *testing.T) {
	for _, c := range []struct {
		in     string
		v1     bool
		err    error
		budget vllmBudget
	}{
		{"0.10.1.1", true, nil, budgetProfiling},
		{"v0.19.0", true, nil, budgetProfiling},
		{"0.8.5", true, nil, budgetPeakPlusNonTorch},
		{"0.8.5-v0", false, nil, budgetProfiling},
		{"0.7.3 (V1)", true, nil, budgetPeakPlusNonTorch},
		{"0.6.4", false, nil, budgetPeakPlusNonTorch},
		{"0.4.1", false, nil, budgetSinceInit},
		{"0.2.5", false, nil, budgetUsedOnDevice},
		{"0.2.4", false, nil, budgetTorchPeak},
		{"0.6.4-v1", false, ErrUnsupported, 0},
		{"0.12.0-v0", false, ErrUnsupported, 0},
		{"1.2.0", false, ErrUnsupported, 0},
		{"0.33.0", false, ErrUnsupported, 0},
		{"0.1.9", false, ErrUnsupported, 0},
		{"x.y", false, ErrInvalid, 0},
	} {
		v, v1, err := parseVLLMVersion(vllmSizer{}.info(), c.in)
		if c.err != nil {
			if !errors.Is(err, c.err) {
				t.Errorf("%q: err %v, want %v", c.in, err, c.err)
			}
			continue
		}
		if err != nil || v1 != c.v1 || vllmProfileFor(v, v1).budget != c.budget {
			t.Errorf("%q: v1=%v budget=%d err=%v", c.in, v1, vllmProfileFor(v, v1).budget, err)
		}
	}
	for _, c := range []struct {
		v     Version
		gmu   float64
		graph bool
	}{
		// `gpu_memory_utilization: float = Field(default=0.9, gt=0, le=1)`
		// (https://github.com/vllm-project/vllm/blob/v0.19.0/vllm/config/cache.py#L41),
		// VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS "0"
		// (https://github.com/vllm-project/vllm/blob/v0.19.0/vllm/envs.py#L1654-L1655).
		{Version{0, 19, 99}, 0.9, false},
		// `gpu_memory_utilization: float = Field(default=0.92, gt=0, le=1)`
		// (https://github.com/vllm-project/vllm/blob/v0.20.0/vllm/config/cache.py#L66),
		// VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS "1"
		// (https://github.com/vllm-project/vllm/blob/v0.20.0/vllm/envs.py#L1724-L1725).
		{Version{0, 20, 0}, 0.92, true},
		{Version{0, 21, 0}, 0.92, true},
	} {
		if p := vllmProfileFor(c.v, true); p.gmu != c.gmu || p.graphsInBudget != c.graph {
			t.Errorf("%s: gmu %g, graphs in budget %v; want %g, %v", c.v, p.gmu, p.graphsInBudget, c.gmu, c.graph)
		}
	}
	// v0.20.0 on an H100: 0.92 · 85,017,755,648 B = 78,216,335,196 B of capacity.
	if res := runOK(t, llama31_8B, devH100, 1, "vllm", "0.20.0", Settings{MaxModelLen: 8192}); res.Startup.CapacityBytes != 78_216_335_196 ||
		hasLine(res.Startup.LogLines, "Estimated CUDA graph memory: ") == "" {
		t.Errorf("v0.20.0: capacity %d, log %q", res.Startup.CapacityBytes, res.Startup.LogLines)
	}
	res := runOK(t, llama31_8B, devH100, 1, "vllm", "", Settings{MaxModelLen: 8192})
	if res.Engine.Version != DefaultVLLMVersion || res.Engine.Name != "vllm" {
		t.Errorf("engine %+v", res.Engine)
	}
}

// TestVLLMReleaseBoundaries holds each release-dependent behaviour to the
// first release whose source has it.
func TestVLLMReleaseBoundaries(t *testing.T) {
	type got struct {
		budget                  vllmBudget
		sampler                 vllmSampler
		logTokens, logAvailable bool
	}
	for _, c := range []struct {
		ver  string
		want got
	}{
		// v0.7.3 V1: "TODO(woosuk): Consider the memory usage of the sampler."
		// (https://github.com/vllm-project/vllm/blob/v0.7.3/vllm/v1/worker/gpu_model_runner.py#L1301-L1310)
		// and `logger.info("# GPU blocks: %d", num_blocks)`
		// (https://github.com/vllm-project/vllm/blob/v0.7.3/vllm/v1/core/kv_cache_utils.py#L522).
		{"0.7.3-v1", got{budgetPeakPlusNonTorch, samplerNone, false, false}},
		// v0.8.0: `sampler_output = self._dummy_sampler_run(hidden_states)`
		// (https://github.com/vllm-project/vllm/blob/v0.8.0/vllm/v1/worker/gpu_model_runner.py#L1401-L1407),
		// native sort as FlashInfer ≥ 0.2.3 is turned off
		// (https://github.com/vllm-project/vllm/blob/v0.8.0/vllm/v1/sample/ops/topk_topp_sampler.py#L26-L43),
		// and `logger.info("GPU KV cache size: %s tokens", num_tokens_str)`
		// (https://github.com/vllm-project/vllm/blob/v0.8.0/vllm/v1/core/kv_cache_utils.py#L535-L541).
		{"0.8.0", got{budgetPeakPlusNonTorch, samplerSortFP32, true, false}},
		// v0.9.0: determine_available_memory's peak form
		// (https://github.com/vllm-project/vllm/blob/v0.9.0/vllm/v1/worker/gpu_worker.py#L167-L214).
		{"0.9.0", got{budgetPeakPlusNonTorch, samplerFlashInfer, true, false}},
		// v0.9.1: `with memory_profiling(` and
		// `logger.info("Available KV cache memory: %.2f GiB",`
		// (https://github.com/vllm-project/vllm/blob/v0.9.1/vllm/v1/worker/gpu_worker.py#L183-L231).
		{"0.9.1", got{budgetProfiling, samplerFlashInfer, true, true}},
		{"0.10.2", got{budgetProfiling, samplerFlashInfer, true, true}},
		// v0.11.0: the source would take FlashInfer, but every measured
		// v0.11.0 start shows the sort path's peak (dev rows 20–23,
		// held-out 1019–1020); the data wins and a warning says so.
		{"0.11.0", got{budgetProfiling, samplerSortFP32, true, true}},
		// v0.11.1: "Users must opt in explicitly via VLLM_USE_FLASHINFER_SAMPLER=1."
		// (https://github.com/vllm-project/vllm/blob/v0.11.1/vllm/v1/sample/ops/topk_topp_sampler.py#L34-L44).
		{"0.11.1", got{budgetProfiling, samplerSortFP32, true, true}},
		// v0.17.0: apply_top_k_top_p_triton for ≥ 8 rows (PR #33538).
		{"0.17.0", got{budgetProfiling, samplerTriton, true, true}},
		// V0 v0.3.0: `peak_memory = total_gpu_memory - free_gpu_memory`
		// (as https://github.com/vllm-project/vllm/blob/v0.2.5/vllm/worker/worker.py#L92-L98).
		{"0.3.0", got{budgetUsedOnDevice, samplerSortFP32, false, false}},
		// V0 v0.3.1: `peak_memory = self.init_gpu_memory - free_gpu_memory`
		// (https://github.com/vllm-project/vllm/blob/v0.3.1/vllm/worker/worker.py#L134-L140).
		{"0.3.1", got{budgetSinceInit, samplerSortFP32, false, false}},
	} {
		v, v1, err := parseVLLMVersion(vllmSizer{}.info(), c.ver)
		if err != nil {
			t.Fatalf("%s: %v", c.ver, err)
		}
		p := vllmProfileFor(v, v1)
		if g := (got{p.budget, p.sampler, p.logTokens, p.logAvailable}); g != c.want {
			t.Errorf("%s: got %+v, want %+v", c.ver, g, c.want)
		}
	}
	// Only v0.11.0 states the sampler assumption that contradicts its source.
	for ver, want := range map[string]bool{"0.10.2": false, "0.11.0": true, "0.11.1": false} {
		res := runOK(t, llama31_8B, devH100, 1, "vllm", ver, Settings{MaxModelLen: 8192})
		found := false
		for _, w := range res.Warnings {
			found = found || strings.Contains(w, "measured v0.11.0 starts show the sort path")
		}
		if found != want {
			t.Errorf("%s: sort-path warning = %v, want %v: %q", ver, found, want, res.Warnings)
		}
	}
	// The log lines follow: v0.7.3 V1 prints blocks, v0.8.0 tokens; v0.9.0
	// prints no "Available KV cache memory", v0.9.1 does.
	for _, c := range []struct {
		ver, line string
		present   bool
	}{
		{"0.7.3-v1", "# GPU blocks: ", true}, {"0.7.3-v1", "GPU KV cache size: ", false},
		{"0.8.0", "GPU KV cache size: ", true}, {"0.9.0", "Available KV cache memory: ", false},
		{"0.9.1", "Available KV cache memory: ", true},
	} {
		res := runOK(t, llama31_8B, devH100, 1, "vllm", c.ver, Settings{MaxModelLen: 8192})
		if (hasLine(res.Startup.LogLines, c.line) != "") != c.present {
			t.Errorf("%s: line %q present = %v, want %v: %q", c.ver, c.line, !c.present, c.present, res.Startup.LogLines)
		}
	}
}

// TestVLLMMLABackend follows the MLA backend and block size per release and
// card (vllmAttention's sources).
func TestVLLMMLABackend(t *testing.T) {
	dsv2 := Model{Type: "deepseek_v2", Layers: 27, Hidden: 2048, Heads: 16, KVHeads: 16, KVLoraRank: 512,
		QKRopeHeadDim: 64, QKNopeHeadDim: 128, VHeadDim: 128, Intermediate: 10944, Vocab: 102400, MaxPositions: 163840}
	b200 := GPU{Name: "NVIDIA B200", TotalBytes: 191_511_117_824, SMITotalMiB: 183359, ComputeCapability: 100}
	for _, c := range []struct {
		ver  string
		g    GPU
		name string
		bs   int
	}{
		// Before v0.8.0 no FlashMLA default: Triton MLA, block 16.
		{"0.7.3-v1", devH100, "TRITON_MLA", 16},
		// "Forcing kv cache block size to 64 for FlashMLA backend."
		// (https://github.com/vllm-project/vllm/blob/v0.8.0/vllm/platforms/cuda.py#L148-L160).
		{"0.8.0", devH100, "FLASHMLA", 64},
		{"0.17.0", devH100, "FLASHMLA", 64},
		// FlashMLA is Hopper-only: "FlashMLA is only supported on Hopper devices."
		{"0.8.0", b200, "TRITON_MLA", 16},
		// "Blackwell => Force CutlassMLA."
		// (https://github.com/vllm-project/vllm/blob/v0.11.0/vllm/platforms/cuda.py#L142-L172).
		{"0.11.0", b200, "CUTLASS_MLA", 128},
		// "Blackwell => Force FlashInfer MLA ... only if qk_nope_head_dim == 128"
		// (https://github.com/vllm-project/vllm/blob/v0.17.0/vllm/platforms/cuda.py#L205-L262).
		{"0.17.0", b200, "FLASHINFER_MLA", 64},
		// v0.18.0+: the priority list's first backend, FLASH_ATTN_MLA on
		// Hopper (MultipleOf(16): the default 16 stays) and FLASHINFER_MLA on
		// Blackwell ([32, 64]: 32)
		// (https://github.com/vllm-project/vllm/blob/v0.19.0/vllm/platforms/cuda.py#L83-L98).
		{"0.18.0", devH100, "FLASH_ATTN_MLA", 16},
		{"0.19.0", devH100, "FLASH_ATTN_MLA", 16},
		{"0.19.0", b200, "FLASHINFER_MLA", 32},
		{"0.19.0", devA100, "TRITON_MLA", 16},
	} {
		res := runOK(t, dsv2, c.g, 1, "vllm", c.ver, Settings{MaxModelLen: 8192})
		if res.Attention != c.name || res.BlockSize != c.bs {
			t.Errorf("%s on %s: %s block %d, want %s block %d", c.ver, c.g.Name, res.Attention, res.BlockSize, c.name, c.bs)
		}
	}
}

// TestVLLMHybridGroups follows _get_kv_cache_groups_uniform_page_size:
// "if max_num_layers < min_num_layers * 1.5: group_size = max_num_layers"
// (https://github.com/vllm-project/vllm/blob/v0.19.0/vllm/v1/core/kv_cache_utils.py#L1043-L1054),
// 1.25 in v0.12.0 – v0.17.x, the minimum always before.
func TestVLLMHybridGroups(t *testing.T) {
	types := func(full, sw int) []string {
		var ts []string
		for range full {
			ts = append(ts, "full_attention")
		}
		for range sw {
			ts = append(ts, "sliding_attention")
		}
		return ts
	}
	m := Model{Type: "gpt_oss", Layers: 25, Hidden: 2880, Heads: 64, KVHeads: 8, HeadDim: 64, Intermediate: 2880,
		Vocab: 201088, MaxPositions: 131072, SlidingWindow: 128, LayerTypes: types(13, 12)}
	for _, c := range []struct {
		ver        string
		full, sw   int
		gs, groups int
		warnings   []string
	}{
		// 13 full + 12 sliding: groups of 12 before v0.12.0, 1 padding layer
		// in the second full group: "Add 11 padding layers, may waste at most
		// 84.62% KV cache memory" (11/13·100).
		{"0.11.0", 13, 12, 12, 3, []string{"vLLM pads a KV group: Add 11 padding layers, may waste at most 84.62% KV cache memory"}},
		// v0.12.0: 13 < 12·1.25 = 15, groups of 13, 1 padding layer for the
		// sliding type: 1/12·100 = 8.33%.
		{"0.12.0", 13, 12, 13, 2, []string{"vLLM pads a KV group: Add 1 padding layers, may waste at most 8.33% KV cache memory"}},
		// 10 full + 14 sliding: 14 ≥ 12.5 at v0.12 (groups of 10), < 15 at
		// v0.18 (groups of 14).
		{"0.17.0", 10, 14, 10, 3, []string{"vLLM pads a KV group: Add 6 padding layers, may waste at most 42.86% KV cache memory"}},
		{"0.18.0", 10, 14, 14, 2, []string{"vLLM pads a KV group: Add 4 padding layers, may waste at most 40.00% KV cache memory"}},
	} {
		mm := m
		mm.LayerTypes, mm.Layers = types(c.full, c.sw), c.full+c.sw
		r, err := newVLLMRun(mm, Hardware{GPU: devH100, Count: 1}, Settings{MaxModelLen: 8192}, vllmProfileFor(mustVersion(t, c.ver), true))
		if err != nil {
			t.Fatal(err)
		}
		var pads []string
		for _, w := range r.warnings {
			if strings.HasPrefix(w, "vLLM pads") {
				pads = append(pads, w)
			}
		}
		if r.groupSize != c.gs || r.groups != c.groups || strings.Join(pads, "|") != strings.Join(c.warnings, "|") {
			t.Errorf("%s %d full + %d sw: group size %d × %d groups, warnings %q; want %d × %d, %q",
				c.ver, c.full, c.sw, r.groupSize, r.groups, pads, c.gs, c.groups, c.warnings)
		}
	}
}

func mustVersion(t *testing.T, s string) Version {
	t.Helper()
	v, err := ParseVersion(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestVLLMCaptureSizes counts the CUDA-graph batch sizes: from v0.11.1
// "range(256, max_cudagraph_capture_size + 1, 16)" above 256
// (https://github.com/vllm-project/vllm/blob/v0.11.1/vllm/config/vllm.py#L847-L888),
// before it steps of 8 to min(2·max_num_seqs, 512)
// (https://github.com/vllm-project/vllm/blob/v0.11.0/vllm/config/scheduler.py#L226-L227).
func TestVLLMCaptureSizes(t *testing.T) {
	for _, c := range []struct {
		ver            string
		seqs, mnbt     int
		wantN, wantTop int
	}{
		{"0.11.0", 1024, 8192, 67, 512}, // 3 + 64 multiples of 8
		{"0.19.0", 1024, 8192, 51, 512}, // 3 + 31 (8…248) + 17 (256…512 by 16)
		{"0.19.0", 64, 8192, 19, 128},   // 3 + 16 (8…128)
		{"0.19.0", 1024, 300, 37, 288},  // cap 300: 3 + 31 + 256, 272, 288
		{"0.11.0", 1024, 300, 40, 296},  // 3 + 37 (8…296), those ≤ 300
	} {
		n, top := vllmCaptureSizes(mustVersion(t, c.ver), c.seqs, c.mnbt)
		if n != c.wantN || top != c.wantTop {
			t.Errorf("%s seqs %d mnbt %d: %d sizes up to %d, want %d up to %d", c.ver, c.seqs, c.mnbt, n, top, c.wantN, c.wantTop)
		}
	}
}

// TestVLLMMaxNumSeqsCheck: `if self.max_num_batched_tokens < self.max_num_seqs:`
// (https://github.com/vllm-project/vllm/blob/v0.19.0/vllm/config/scheduler.py#L273-L278),
// where from v0.10.1 a defaulted max_num_seqs is first capped:
// `self.max_num_seqs = min(self.max_num_seqs, self.max_num_batched_tokens)`
// (https://github.com/vllm-project/vllm/blob/v0.19.0/vllm/engine/arg_utils.py#L2238-L2240).
func TestVLLMMaxNumSeqsCheck(t *testing.T) {
	for _, c := range []struct {
		ver      string
		seqs     int
		fits     bool
		msg      string
		warmRows int
	}{
		{"0.19.0", 0, true, "", 512},
		{"0.19.0", 1024, false, "max_num_batched_tokens (512) must be greater than or equal to max_num_seqs (1024).", 0},
		{"0.10.0", 0, false, "max_num_batched_tokens (512) must be greater than or equal to max_num_seqs (1024).", 0},
	} {
		res := runOK(t, llama31_8B, devH100, 1, "vllm", c.ver, Settings{MaxModelLen: 4096, MaxNumBatchedTokens: 512, MaxNumSeqs: c.seqs})
		st := res.Startup
		if st.Fits != c.fits || st.Message != c.msg || (c.fits && st.WarmupRequests != c.warmRows) {
			t.Errorf("%s --max-num-seqs %d: fits %v %q, %d warm-up rows; want %v %q, %d", c.ver, c.seqs, st.Fits, st.Message, st.WarmupRequests, c.fits, c.msg, c.warmRows)
		}
	}
}

// TestVLLMTritonSamplerBuffer: the per-program buffer has
// `min(next_power_of_2(NUM_PROGRAMS), num_sm)` rows, NUM_PROGRAMS =
// min(num_sm, batch_size)
// (https://github.com/vllm-project/vllm/blob/v0.19.0/vllm/v1/sample/ops/topk_topp_triton.py#L1010-L1016).
func TestVLLMTritonSamplerBuffer(t *testing.T) {
	const v = 1000
	for _, c := range []struct {
		rows, sms, bufRows int64
	}{
		{100, 132, 128}, // next power of two of 100
		{200, 132, 132}, // capped at the SMs
		{64, 132, 64},
		{1024, 108, 108},
	} {
		got := samplerBytes(samplerTriton, c.rows, v, v, int(c.sms))
		if want := c.rows*v*2 + c.rows*v*12 + 4*c.bufRows*v; got != want {
			t.Errorf("%d rows, %d SMs: %d bytes, want %d (%d buffer rows)", c.rows, c.sms, got, want, c.bufRows)
		}
	}
}

// TestVLLMHugeCardBatch: from v0.28.0 `vllm serve` batches 16384 tokens on
// a card of 160 GiB or more (a B200 reports 183,359 MiB = 179 GiB); an H200
// (143,771 MiB) keeps 8192, as every card did before.
func TestVLLMHugeCardBatch(t *testing.T) {
	b200 := GPU{Name: "NVIDIA B200", TotalBytes: 191_514_001_408, SMITotalMiB: 183359, ComputeCapability: 100}
	h200 := GPU{Name: "NVIDIA H200", TotalBytes: 150_754_820_096, SMITotalMiB: 143771, ComputeCapability: 90}
	for _, c := range []struct {
		g    GPU
		ver  Version
		want int
	}{{b200, Version{0, 28, 0}, 16384}, {b200, Version{0, 27, 1}, 8192}, {h200, Version{0, 28, 0}, 8192}} {
		r, err := newVLLMRun(llama31_8B, Hardware{GPU: c.g, Count: 1}, Settings{MaxModelLen: 8192}, vllmProfileFor(c.ver, true))
		if err != nil {
			t.Fatal(err)
		}
		if r.mnbt != c.want || r.seqs != 1024 {
			t.Errorf("%s v%s: max_num_batched_tokens %d, max_num_seqs %d; want %d, 1024", c.g.Name, c.ver, r.mnbt, r.seqs, c.want)
		}
	}
}
