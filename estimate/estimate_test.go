package estimate

import (
	"errors"
	"go/build"
	"strings"
	"testing"
)

// llama31_8B is Llama-3.1-8B-Instruct's config (shared/models).
var llama31_8B = Model{
	ID: "meta-llama/Llama-3.1-8B-Instruct", Type: "llama", Layers: 32, Hidden: 4096, Heads: 32, KVHeads: 8,
	Intermediate: 14336, Vocab: 128256, MaxPositions: 131072, DType: BF16,
}

// llamaTensors lists a Llama checkpoint's tensors by hand (not via
// SynthesizeTensors) so weight tests do not depend on the synthesizer.
func llamaTensors(m Model) []Tensor {
	h, kv, im, v := int64(m.Hidden), int64(m.KVHeadCount()*m.HeadSize()), int64(m.Intermediate), int64(m.Vocab)
	q := int64(m.Heads * m.HeadSize())
	l := int64(m.Layers)
	ts := []Tensor{
		{Name: "model.embed_tokens.weight", DType: BF16, Shape: []int64{v, h}},
		{Name: "model.layers.*.self_attn.q_proj.weight", DType: BF16, Shape: []int64{q, h}, Count: l},
		{Name: "model.layers.*.self_attn.k_proj.weight", DType: BF16, Shape: []int64{kv, h}, Count: l},
		{Name: "model.layers.*.self_attn.v_proj.weight", DType: BF16, Shape: []int64{kv, h}, Count: l},
		{Name: "model.layers.*.self_attn.o_proj.weight", DType: BF16, Shape: []int64{h, q}, Count: l},
		{Name: "model.layers.*.mlp.gate_proj.weight", DType: BF16, Shape: []int64{im, h}, Count: l},
		{Name: "model.layers.*.mlp.up_proj.weight", DType: BF16, Shape: []int64{im, h}, Count: l},
		{Name: "model.layers.*.mlp.down_proj.weight", DType: BF16, Shape: []int64{h, im}, Count: l},
		{Name: "model.layers.*.input_layernorm.weight", DType: BF16, Shape: []int64{h}, Count: l},
		{Name: "model.layers.*.post_attention_layernorm.weight", DType: BF16, Shape: []int64{h}, Count: l},
		{Name: "model.norm.weight", DType: BF16, Shape: []int64{h}},
	}
	if !m.TieWordEmbeddings {
		ts = append(ts, Tensor{Name: "lm_head.weight", DType: BF16, Shape: []int64{v, h}})
	}
	return ts
}

var (
	h100 = GPU{Name: "NVIDIA H100 80GB HBM3", TotalBytes: 85_031_714_816, SMITotalMiB: 81559, ComputeCapability: 90}
	l4   = GPU{Name: "NVIDIA L4", TotalBytes: 23_580_639_232, SMITotalMiB: 23034, ComputeCapability: 89}
	a100 = GPU{Name: "NVIDIA A100-SXM4-80GB", TotalBytes: 85_031_714_816, SMITotalMiB: 81920, ComputeCapability: 80}
	t4   = GPU{Name: "Tesla T4", TotalBytes: 15_655_829_504, SMITotalMiB: 15360, ComputeCapability: 75}
)

func TestEstimateImportsOnlyStandardLibrary(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range pkg.Imports {
		first := strings.SplitN(imp, "/", 2)[0]
		if strings.Contains(first, ".") {
			t.Errorf("estimate imports %s: it must stay a standard-library-only leaf", imp)
		}
	}
	if len(pkg.Imports) == 0 {
		t.Fatal("no imports found: the check is not looking at the package")
	}
}

func TestKVBytesPerToken(t *testing.T) {
	mla := Model{Type: "deepseek_v3", Layers: 61, Hidden: 7168, Heads: 128, KVHeads: 128, KVLoraRank: 512,
		QKRopeHeadDim: 64, QKNopeHeadDim: 128, VHeadDim: 128, Vocab: 129280}
	cases := []struct {
		name string
		m    Model
		ws   int
		elt  int
		want Bytes
	}{
		// Llama-3-8B bf16: 2·32·8·128·2 = 131,072 B/token.
		{"llama3-8b tp1", llama31_8B, 1, 2, 131_072},
		// TP2 splits the 8 KV heads: 2·32·4·128·2 = 65,536.
		{"llama3-8b tp2", llama31_8B, 2, 2, 65_536},
		// fp8 KV: 2·32·8·128·1 = 65,536.
		{"llama3-8b fp8", llama31_8B, 1, 1, 65_536},
		// Llama-2-7B is MHA: 2·32·32·128·2 = 524,288.
		{"llama2-7b mha", Model{Layers: 32, Hidden: 4096, Heads: 32, Vocab: 32000}, 1, 2, 524_288},
		// MQA (1 KV head) is replicated at TP2: 2·32·1·64·2 = 8,192.
		{"mqa replicated", Model{Layers: 32, Hidden: 4544, Heads: 71, KVHeads: 1, HeadDim: 64, Vocab: 65024}, 1, 2, 8_192},
		// gemma-2-9b explicit head_dim 256: 2·42·8·256·2 = 344,064 (no sliding-window saving in TGI).
		{"gemma2-9b", Model{Layers: 42, Hidden: 3584, Heads: 16, KVHeads: 8, HeadDim: 256, Vocab: 256000, SlidingWindow: 4096}, 1, 2, 344_064},
		// DeepSeek-V3 in TGI: full per-head K/V at 192: 2·61·128·192·2 = 5,996,544.
		{"deepseek-v3 tp1", mla, 1, 2, 5_996_544},
		// At TP8: 2·61·16·192·2 = 749,568.
		{"deepseek-v3 tp8", mla, 8, 2, 749_568},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k, err := tgiKVLayout(c.m, c.ws, c.elt)
			if err != nil {
				t.Fatal(err)
			}
			if got := k.perToken(); got != c.want {
				t.Errorf("KV bytes/token = %d, want %d", got, c.want)
			}
		})
	}
	if _, err := tgiKVLayout(llama31_8B, 16, 2); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "num_key_value_heads") {
		t.Errorf("8 KV heads on 16 shards: err = %v, want ErrInvalid naming num_key_value_heads", err)
	}
}

func TestTGILauncherHeuristics(t *testing.T) {
	// flop = 32 · (2·32·128·4096 + 2·2·8·128·4096 + 2·32·128·4096·2 + 2·3·4096·14336)
	//      = 32 · (117,440,512 + 352,321,536) = 15,032,385,536.
	f, ok := tgiFlop(llama31_8B)
	if !ok || f != 15_032_385_536 {
		t.Fatalf("flop = %d, %v; want 15,032,385,536", f, ok)
	}
	cases := []struct {
		gpu  GPU
		ver  string
		want int
	}{
		// 900e12 / 15,032,385,536 = 59,870.
		{h100, "3.3.7", 59_870},
		// 121e12 / 15,032,385,536 = 8,049.
		{l4, "3.3.7", 8_049},
		// A100: 312e12 / f = 20,755.
		{a100, "3.3.7", 20_755},
		// T4: 65e12 / f = 4,324, capped by vram_maximum =
		// (15360·2^20·0.95 − 14,449,770,496) / 260,096 = 851,050,496 / 260,096 = 3,272.
		{t4, "3.3.7", 3_272},
		// Unknown card → 4096.
		{GPU{Name: "NVIDIA RTX A6000", TotalBytes: 50_925_535_232, SMITotalMiB: 49140, ComputeCapability: 86}, "3.3.7", 4096},
		// v3.0.0 does not know the A40.
		{GPU{Name: "NVIDIA A40", TotalBytes: 47_697_362_944, SMITotalMiB: 46068, ComputeCapability: 86}, "3.0.0", 4096},
		{GPU{Name: "NVIDIA A40", TotalBytes: 47_697_362_944, SMITotalMiB: 46068, ComputeCapability: 86}, "3.3.7", 9_911},
	}
	for _, c := range cases {
		v, _ := ParseVersion(c.ver)
		r, err := newTGIRun(llama31_8B, Hardware{GPU: c.gpu, Count: 1}, Settings{}, v)
		if err != nil {
			t.Fatal(err)
		}
		if r.defaultP != c.want {
			t.Errorf("%s v%s: default P = %d, want %d", c.gpu.Name, c.ver, r.defaultP, c.want)
		}
	}
	// vram_maximum = (81559·2^20·0.95 − 14,449,770,496) / 260,096 ≈ 256,810 (f32 arithmetic).
	vm, ok := tgiVRAMMaximum(llama31_8B, Hardware{GPU: h100, Count: 1}, 1, 1.0, 0.95)
	if !ok || vm < 256_800 || vm > 256_820 {
		t.Errorf("vram_maximum = %d, %v; want ≈ 256,810", vm, ok)
	}
}

func TestTGIProfiles(t *testing.T) {
	cases := []struct {
		ver      string
		wiggle   float64
		ofTotal  bool
		logits   bool
		defaults tgiDefaults
	}{
		{"1.4.0", 1.0, false, true, defaultsStatic},
		{"1.4.5", 0.95, false, true, defaultsStatic},
		{"2.0.4", 0.95, false, true, defaultsLauncher4096},
		{"2.3.1", 0.95, false, true, defaultsLauncher4096},
		{"2.4.0", 0.90, false, true, defaultsLauncher4096},
		{"2.4.1", 0.90, false, true, defaultsServerP4096},
		{"3.0.2", 0.95, true, false, defaultsComputeOptimal},
		{"3.2.3", 0.93, true, false, defaultsComputeOptimal},
		{"3.3", 0.90, true, false, defaultsComputeOptimal},
	}
	for _, c := range cases {
		v, err := ParseVersion(c.ver)
		if err != nil {
			t.Fatal(err)
		}
		p := tgiProfileFor(v)
		if p.wiggle != c.wiggle || p.wiggleOfTotal != c.ofTotal || p.allLogits != c.logits || p.defaults != c.defaults {
			t.Errorf("v%s: got wiggle %.2f ofTotal %v logits %v defaults %d", c.ver, p.wiggle, p.wiggleOfTotal, p.allLogits, p.defaults)
		}
	}
}

func TestWeightsPerShard(t *testing.T) {
	ts := llamaTensors(llama31_8B)
	// TP1: 8,030,261,248 params + one pad row of the embedding (4096) = 8,030,265,344 × 2 B.
	if got := must(weightsPerShard(llama31_8B, ts, 1, Settings{}, 16)); got != 16_060_530_688 {
		t.Errorf("tp1 weights = %d, want 16,060,530,688", got)
	}
	// TP2: embedding (64,128+1)·4096 = 262,672,384; layers 32·((218,112,000−8,192)/2 + 8,192) = 3,489,923,072;
	// norm 4,096; lm_head 128,256/2·4096 = 262,668,288 → 4,015,267,840 elements × 2 B.
	if got := must(weightsPerShard(llama31_8B, ts, 2, Settings{}, 16)); got != 8_030_535_680 {
		t.Errorf("tp2 weights = %d, want 8,030,535,680", got)
	}
	// Tied embeddings are loaded twice: Llama-3.2-1B shape, 16 layers, hidden 2048, im 8192, 8 KV heads of 64.
	l32 := Model{Type: "llama", Layers: 16, Hidden: 2048, Heads: 32, KVHeads: 8, Intermediate: 8192, Vocab: 128256, TieWordEmbeddings: true}
	// params 1,235,814,400; TGI holds embed (+1 row) and a second copy as lm_head:
	// 1,235,814,400 + 2,048 + 128,256·2,048 = 1,498,484,736 elements × 2 B.
	if got := must(weightsPerShard(l32, llamaTensors(l32), 1, Settings{}, 16)); got != 2_996_969_472 {
		t.Errorf("tied weights = %d, want 2,996,969,472", got)
	}
	// Vocab not divisible by shards (32,003 on 2): lm_head is replicated.
	odd := llama31_8B
	odd.Vocab = 32003
	full := must(weightsPerShard(odd, llamaTensors(odd), 2, Settings{}, 16))
	// lm_head full 32,003·4096·2 = 262,168,576 B vs half; embedding ⌈32,003/2⌉+1 = 16,003 rows.
	half := must(weightsPerShard(llama31_8B, llamaTensors(llama31_8B), 2, Settings{}, 16))
	wantDiff := int64(262_168_576+16_003*4096*2) - int64(128_256/2*4096*2+64_129*4096*2)
	if int64(full-half) != wantDiff {
		t.Errorf("odd vocab diff = %d, want %d", full-half, wantDiff)
	}
	// --quantize fp8 on Llama: only MLPs of layers 1..30 become 1 B:
	// saving = 30 layers · 176,160,768 MLP params · 1 B = 5,284,823,040 B.
	fp8 := must(weightsPerShard(llama31_8B, ts, 1, Settings{Quantize: "fp8"}, 16))
	if got := int64(16_060_530_688 - fp8); got != 5_284_823_040 {
		t.Errorf("fp8 saving = %d, want 5,284,823,040", got)
	}
}

func run(t *testing.T, m Model, g GPU, n int, ver string, s Settings) Result {
	t.Helper()
	if len(m.Tensors) == 0 {
		m.Tensors = llamaTensors(m)
	}
	res, err := Run(m, Hardware{GPU: g, Count: n}, Engine{Name: "tgi", Version: ver}, s)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestTGIv3ZeroConfig(t *testing.T) {
	res := run(t, llama31_8B, h100, 1, "3.3.7", Settings{})
	st := res.Startup
	// P = 59,870 (compute-optimal); I and T unset → one warm-up request of
	// ⌈59,870/1⌉ blocks with flashinfer (block size 1).
	if st.MaxBatchPrefillTokens != 59_870 || st.WarmupRequests != 1 || res.BlockSize != 1 || res.Attention != "flashinfer" {
		t.Fatalf("P=%d R=%d BS=%d attention=%s", st.MaxBatchPrefillTokens, st.WarmupRequests, res.BlockSize, res.Attention)
	}
	// 59,870 tokens in 64 K/V tensors of 59,870·2,048 B = 122,613,760 B
	// (116.93 MiB), each rounded by the caching allocator to 118 MiB:
	// 64 × 123,731,968 = 7,918,845,952 B.
	if st.WarmupKVBytes != 7_918_845_952 {
		t.Errorf("warm-up KV = %d, want 7,918,845,952", st.WarmupKVBytes)
	}
	if !st.Fits || st.MaxTotalTokens != 131_072 || st.MaxInputTokens != 131_071 {
		t.Errorf("fits=%v T=%d I=%d, want a start with T = max_position_embeddings 131,072", st.Fits, st.MaxTotalTokens, st.MaxInputTokens)
	}
	// The pool: v3.3 leaves (1 − 0.9)·Ttot outside it.
	free := int64(h100.TotalBytes) - int64(st.WarmupBytes)
	wantBlocks := (free-int64(0.1*float64(h100.TotalBytes)))/131_072 + 59_870
	if int64(st.MaxBatchTotalTokens) != wantBlocks {
		t.Errorf("MBT = %d, want %d", st.MaxBatchTotalTokens, wantBlocks)
	}
	if !strings.Contains(strings.Join(st.LogLines, "\n"), "Default `max_batch_prefill_tokens` to 59870") {
		t.Errorf("log lines %q lack the prefill default", st.LogLines)
	}
}

func TestTGIWarmupSplitsPrefill(t *testing.T) {
	mistral := Model{Type: "mistral", Layers: 32, Hidden: 4096, Heads: 32, KVHeads: 8, Intermediate: 14336,
		Vocab: 32000, MaxPositions: 32768, SlidingWindow: 4096, DType: BF16}
	// TGI 2.0, T = 8512, I = 8000, P = 32768: R = ⌈32768/8000⌉ = 5 requests,
	// each ⌈8511/16⌉ = 532 blocks, capped by v2.0's flash_mistral at the
	// sliding window ⌈4096/16⌉ = 256 → 1,280 blocks of 16·131,072 B.
	res := run(t, mistral, a100, 1, "2.0.0", Settings{MaxInputTokens: 8000, MaxTotalTokens: 8512, MaxBatchPrefillTokens: 32768})
	st := res.Startup
	if st.WarmupRequests != 5 || st.WarmupKVBytes != 1280*16*131_072 {
		t.Fatalf("R = %d, warm KV = %d; want 5 and %d", st.WarmupRequests, st.WarmupKVBytes, 1280*16*131_072)
	}
	// From v2.1 the cap is gone: 5 × 532 = 2,660 blocks = 5,578,424,320 B in
	// 64 K/V tensors of 87,162,880 B (83.125 MiB), each rounded by the
	// caching allocator to 84 MiB: 64 × 88,080,384 = 5,637,144,576 B.
	if st21 := run(t, mistral, a100, 1, "2.2.0", Settings{MaxInputTokens: 8000, MaxTotalTokens: 8512, MaxBatchPrefillTokens: 32768}).Startup; st21.WarmupKVBytes != 5_637_144_576 {
		t.Errorf("v2.2 warm KV = %d, want 5,637,144,576", st21.WarmupKVBytes)
	}
	if !st.Fits {
		t.Fatalf("did not start: %s", st.Message)
	}
	// Reported: 425,472 (startup_reports_dev.csv row 3). The model must be within 5%.
	if e := relErr(st.MaxBatchTotalTokens, 425_472); e > 0.05 {
		t.Errorf("MBT = %d, reported 425,472: error %.1f%%", st.MaxBatchTotalTokens, 100*e)
	}
}

func relErr(got, want int) float64 {
	d := float64(got-want) / float64(want)
	if d < 0 {
		d = -d
	}
	return d
}

func TestTGIKnownHazards(t *testing.T) {
	// v2.2: I = T−1 and P a multiple of I → the warm-up blocks are not added back (ENGINES-REVIEW N1).
	bug := run(t, llama31_8B, h100, 1, "2.2.0", Settings{MaxInputTokens: 4095, MaxTotalTokens: 4096, MaxBatchPrefillTokens: 4095})
	ok := run(t, llama31_8B, h100, 1, "2.0.4", Settings{MaxInputTokens: 4095, MaxTotalTokens: 4096, MaxBatchPrefillTokens: 4095})
	// One request of ⌈4095/16⌉ = 256 blocks = 4,096 tokens short (same wiggle, 0.95, in both).
	if d := ok.Startup.MaxBatchTotalTokens - bug.Startup.MaxBatchTotalTokens; d != 4096 {
		t.Errorf("v2.0.4 − v2.2.0 budget = %d, want 4,096", d)
	}
	// v3: --max-total-tokens 4096 alone with the H100 default prefill 59,870 wraps in u32.
	n2 := run(t, llama31_8B, h100, 1, "3.3.7", Settings{MaxTotalTokens: 4096})
	if n2.Startup.Fits || n2.Startup.Failure != FailureWarmupOverflow {
		t.Errorf("T only: fits=%v failure=%q, want %s", n2.Startup.Fits, n2.Startup.Failure, FailureWarmupOverflow)
	}
	// v2 launcher defaults I and T independently: T = 2048 alone leaves I = 4095 ≥ T.
	v2 := run(t, llama31_8B, h100, 1, "2.0.4", Settings{MaxTotalTokens: 2048})
	if v2.Startup.Failure != FailureArgumentValidation || !strings.Contains(v2.Startup.Message, "must be < `max_total_tokens`") {
		t.Errorf("v2 T-only: %q %q", v2.Startup.Failure, v2.Startup.Message)
	}
}

func TestTGIBoundary(t *testing.T) {
	// Llama-3.1-8B on one L4 (TGI 3.3.7): weights 16.06 GB on a 23.58 GB card.
	res := run(t, llama31_8B, l4, 1, "3.3.7", Settings{})
	b := res.Boundary
	// With flashinfer (block size 1) and one warm-up request, the warm-up
	// already reserves T−1 tokens; the edge is where less than the v3.3
	// reserve (1 − 0.9)·Ttot plus one block stays free after the prefill, so
	// TGI fails with "Not enough memory to handle `max_total_tokens=T`".
	if b.MaxTotalTokens <= 0 || b.MaxInputTokens != b.MaxTotalTokens-1 || b.LimitedBy != "kv_budget" {
		t.Fatalf("boundary %+v", b)
	}
	// Just inside starts, just outside fails.
	in := run(t, llama31_8B, l4, 1, "3.3.7", Settings{MaxInputTokens: b.MaxTotalTokens - 1, MaxTotalTokens: b.MaxTotalTokens})
	out := run(t, llama31_8B, l4, 1, "3.3.7", Settings{MaxInputTokens: b.MaxTotalTokens, MaxTotalTokens: b.MaxTotalTokens + 1})
	if !in.Startup.Fits || out.Startup.Fits || (out.Startup.Failure != FailureNotEnoughMemory && out.Startup.Failure != FailureCannotServe) {
		t.Errorf("inside fits=%v; outside fits=%v failure=%q", in.Startup.Fits, out.Startup.Fits, out.Startup.Failure)
	}
	if in.Startup.MaxBatchTotalTokens != b.MaxBatchTotalTokens {
		t.Errorf("boundary MBT %d != inside start %d", b.MaxBatchTotalTokens, in.Startup.MaxBatchTotalTokens)
	}
	pin := run(t, llama31_8B, l4, 1, "3.3.7", Settings{MaxBatchPrefillTokens: b.MaxBatchPrefillTokens})
	pout := run(t, llama31_8B, l4, 1, "3.3.7", Settings{MaxBatchPrefillTokens: b.MaxBatchPrefillTokens + 1})
	if !pin.Startup.Fits || pout.Startup.Fits {
		t.Errorf("prefill boundary %d: inside fits=%v, outside fits=%v", b.MaxBatchPrefillTokens, pin.Startup.Fits, pout.Startup.Fits)
	}
	// On an H100 the model reaches its 131,072-token context.
	hb := run(t, llama31_8B, h100, 1, "3.3.7", Settings{}).Boundary
	if hb.MaxTotalTokens != 131_072 || hb.LimitedBy != "max_position_embeddings" {
		t.Errorf("H100 boundary %+v", hb)
	}
}

func TestBadInput(t *testing.T) {
	hw := Hardware{GPU: h100, Count: 1}
	cases := []struct {
		name string
		m    Model
		hw   Hardware
		eng  Engine
		s    Settings
		want string
	}{
		{"input>=total", llama31_8B, hw, Engine{}, Settings{MaxInputTokens: 4096, MaxTotalTokens: 4096}, "must be < `max_total_tokens`"},
		{"negative", llama31_8B, hw, Engine{}, Settings{MaxTotalTokens: -1}, "--max-total-tokens must be > 0 (got -1)"},
		{"zero gpus", llama31_8B, Hardware{GPU: h100}, Engine{}, Settings{}, "--gpus must be > 0 (got 0)"},
		{"zero vram", llama31_8B, Hardware{Count: 1}, Engine{}, Settings{}, "gpu memory must be > 0"},
		{"fraction", llama31_8B, hw, Engine{}, Settings{CUDAMemoryFraction: 1.5}, "--cuda-memory-fraction"},
		{"no layers", Model{Hidden: 1, Heads: 1, Vocab: 1}, hw, Engine{}, Settings{}, "num_hidden_layers"},
		{"shards", llama31_8B, hw, Engine{}, Settings{NumShard: 2}, "needs 2 GPUs"},
		{"quantize", llama31_8B, hw, Engine{}, Settings{Quantize: "int3"}, "--quantize"},
		{"dtype", llama31_8B, hw, Engine{}, Settings{DType: F8E4M3}, "--dtype"},
		{"version", llama31_8B, hw, Engine{Version: "7.0"}, Settings{}, "TGI 7.0 is outside the releases vramcalc models (1.0.0 – 3.3.x)"},
		{"vllm version", llama31_8B, hw, Engine{Name: "vllm", Version: "0.33.0"}, Settings{}, "vLLM 0.33.0 is outside the releases vramcalc models (0.2.0 – 0.32.x)"},
		{"sglang version", llama31_8B, hw, Engine{Name: "sglang", Version: "0.6.0"}, Settings{}, "SGLang 0.6.0 is outside the releases vramcalc models (0.1.0 – 0.5.x)"},
		{"vllm shards", llama31_8B, hw, Engine{Name: "vllm"}, Settings{NumShard: 2}, "--tensor-parallel-size 2 needs 2 GPUs, only 1 given"},
		{"sglang shards", llama31_8B, hw, Engine{Name: "sglang"}, Settings{NumShard: 2}, "--tp-size 2 needs 2 GPUs, only 1 given"},
		{"sglang context", llama31_8B, hw, Engine{Name: "sglang"}, Settings{MaxModelLen: -3}, "--context-length must be > 0 (got -3)"},
		{"all at once", llama31_8B, hw, Engine{Name: "vllm"}, Settings{GPUMemoryUtilization: 1.2, MaxNumSeqs: -1},
			"--max-num-seqs must be > 0 (got -1); --gpu-memory-utilization must be in (0, 1] (got 1.2)"},
		{"engine", llama31_8B, hw, Engine{Name: "ollama"}, Settings{}, "engine \"ollama\""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Run(c.m, c.hw, c.eng, c.s)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want it to mention %q", err, c.want)
			}
		})
	}
}

func TestParseVersionAndDType(t *testing.T) {
	v, err := ParseVersion("v3.3")
	if err != nil || v != (Version{3, 3, 99}) || !v.AtLeast(3, 3, 7) {
		t.Errorf("v3.3 = %+v %v", v, err)
	}
	if _, err := ParseVersion("three"); err == nil {
		t.Error("want an error for 'three'")
	}
	for in, want := range map[string]DType{"bfloat16": BF16, "fp8_e4m3fn": F8E4M3, "fp8": F8E4M3, "float16": F16, "F8_E5M2": F8E5M2} {
		if got, err := ParseDType(in); err != nil || got != want {
			t.Errorf("ParseDType(%q) = %q, %v", in, got, err)
		}
	}
	// safetensors v0.7.0 Dtype::bitsize: "Dtype::C64 => 64"
	// (https://github.com/huggingface/safetensors/blob/v0.7.0/safetensors/src/tensor.rs#L850).
	if got, err := ParseDType("complex64"); err != nil || got != C64 || got.Bits() != 64 || got.IsFloat() {
		t.Errorf("ParseDType(complex64) = %q (%d bits, float %v), %v; want C64, 64 bits, not cast", got, got.Bits(), got.IsFloat(), err)
	}
	if _, err := ParseDType("int3"); !errors.Is(err, ErrUnknownDType) {
		t.Errorf("int3: %v", err)
	}
	if got := Bytes(85_031_714_816).String(); got != "79.19 GiB" {
		t.Errorf("Bytes.String = %q", got)
	}
}

func BenchmarkRunLlama8B(b *testing.B) {
	m := llama31_8B
	m.Tensors = llamaTensors(m)
	hw := Hardware{GPU: h100, Count: 1}
	for b.Loop() {
		if _, err := Run(m, hw, Engine{Name: "tgi"}, Settings{}); err != nil {
			b.Fatal(err)
		}
	}
}

func TestKVBytesPerTokenByEngine(t *testing.T) {
	v3 := Model{Type: "deepseek_v3", Layers: 61, Hidden: 7168, Heads: 128, KVHeads: 128, KVLoraRank: 512,
		QKRopeHeadDim: 64, QKNopeHeadDim: 128, VHeadDim: 128, Vocab: 129280}
	qwen := Model{Layers: 28, Hidden: 3584, Heads: 28, KVHeads: 4, Vocab: 152064}
	cases := []struct {
		engine string
		m      Model
		ws     int
		want   Bytes
	}{
		// DeepSeek-V3 bf16: TGI 2·61·128·192·2 = 5,996,544; vLLM/SGLang latent 61·(512+64)·2 = 70,272 on every rank.
		{"tgi", v3, 1, 5_996_544},
		{"vllm", v3, 1, 70_272},
		{"vllm", v3, 8, 70_272},
		{"sglang", v3, 8, 70_272},
		// Qwen2.5-7B (4 KV heads of 128): TP8 in vLLM replicates to 1 head per rank: 2·28·1·128·2 = 14,336.
		{"vllm", qwen, 8, 14_336},
		// TP4: 2·28·1·128·2 = 14,336 in every engine.
		{"tgi", qwen, 4, 14_336},
		// TP1: 2·28·4·128·2 = 57,344.
		{"sglang", qwen, 1, 57_344},
	}
	for _, c := range cases {
		got, err := KVBytesPerToken(c.engine, c.m, c.ws, 2)
		if err != nil || got != c.want {
			t.Errorf("%s ws=%d: %d, %v; want %d", c.engine, c.ws, got, err, c.want)
		}
	}
	// TGI refuses 4 KV heads on 8 shards (flash_llama_modeling.py:172-178).
	if _, err := KVBytesPerToken("tgi", qwen, 8, 2); !errors.Is(err, ErrInvalid) {
		t.Errorf("tgi 4 heads on 8 shards: %v", err)
	}
}

func TestLoadedTensorsDropsExtraLayers(t *testing.T) {
	ts := []Tensor{
		{Name: "model.layers.0.mlp.gate.weight", DType: BF16, Shape: []int64{256, 7168}},
		{Name: "model.layers.60.mlp.gate.weight", DType: BF16, Shape: []int64{256, 7168}},
		{Name: "model.layers.61.mlp.gate.weight", DType: BF16, Shape: []int64{256, 7168}},
		{Name: "model.layers.61.embed_tokens.weight", DType: BF16, Shape: []int64{129280, 7168}},
		{Name: "model.layers.*.input_layernorm.weight", DType: BF16, Shape: []int64{7168}, Count: 61},
		// Qwen3-Next's MTP module (mtp.*), dropped too.
		{Name: "mtp.fc.weight", DType: BF16, Shape: []int64{2048, 4096}},
	}
	kept, dropped := LoadedTensors(ts, 61)
	if len(kept) != 3 || dropped != 3 {
		t.Errorf("kept %d, dropped %d; want 3 and 3", len(kept), dropped)
	}
	for _, c := range []struct {
		name string
		n    int
		ok   bool
	}{{"model.layers.61.self_attn.q_a_proj.weight", 61, true}, {"transformer.h.3.attn.c_attn.weight", 3, true}, {"model.layers.*.mlp.down_proj.weight", 0, false}, {"lm_head.weight", 0, false},
		// MTP modules number past every decoder layer (mtpLayerBase = 2^20 = 1,048,576).
		{"mtp.layers.0.self_attn.q_proj.weight", 1 << 20, true}, {"mtp.fc.weight", 1 << 20, true},
		{"model.mtp_layers.1.eh_proj.weight", 1<<20 + 1, true}, {"model.layers.3.mtp_gate.weight", 3, true}} {
		if n, ok := layerIndex(c.name); n != c.n || ok != c.ok {
			t.Errorf("layerIndex(%q) = %d, %v", c.name, n, ok)
		}
	}
}

func TestClassifyTensor(t *testing.T) {
	cases := map[string]shardKind{
		"model.layers.*.self_attn.q_proj.weight":           column,
		"model.layers.*.self_attn.q_proj.weight_scale_inv": column,
		"model.layers.*.self_attn.o_proj.weight":           row,
		"model.layers.*.mlp.experts.*.w2.weight":           row,
		"model.layers.*.mlp.experts.gate_up_proj_blocks":   column,
		"model.layers.*.mlp.experts.gate_up_proj":          column,
		"model.layers.*.mlp.experts.down_proj_bias":        row,
		"model.layers.*.mlp.router.weight":                 replicated,
		"model.layers.*.input_layernorm.weight":            replicated,
		"model.embed_tokens.weight":                        embedding,
		"lm_head.weight":                                   lmHead,
		// Llama 4's and Mistral 3's head under the language model: split on
		// the vocab, not replicated (testdata/startup_reports_dev.csv row
		// 203, Llama-4-Scout at TP 4: 1.45 GiB per GPU, −6.64% → +1.98%).
		"language_model.lm_head.weight":            lmHead,
		"language_model.model.embed_tokens.weight": embedding,
		// State mixers split like vLLM's parallel linears: Qwen3-Next-80B
		// at TP 4 loses 1.27 GiB per GPU of in_proj_qkvz (36·12288·2048·2 B
		// × 3/4) that was counted whole on every rank.
		"model.layers.*.linear_attn.in_proj_qkvz.weight":               column,
		"model.language_model.layers.*.linear_attn.in_proj_qkv.weight": column,
		"model.language_model.layers.*.linear_attn.in_proj_b.weight":   column,
		"model.layers.*.linear_attn.conv1d.weight":                     column,
		"backbone.layers.*.mixer.in_proj.weight":                       column,
		"backbone.layers.*.mixer.out_proj.weight":                      row,
		"model.layers.*.mamba.x_proj.weight":                           row,
		"backbone.embeddings.weight":                                   embedding,
		"vision_model.embeddings.patch_embedding.weight":               replicated,
		// Qwen-VL vision towers split like the engines' parallel linears:
		// Qwen2.5-VL-32B at TP 2 holds 262,266,880 B less per GPU
		// (TestVisionTowerPerShard).
		"visual.blocks.*.attn.qkv.weight":                        column,
		"visual.blocks.*.attn.proj.bias":                         row,
		"model.visual.blocks.*.mlp.linear_fc1.weight":            column,
		"model.visual.blocks.*.mlp.linear_fc2.weight":            row,
		"visual.merger.mlp.0.weight":                             column,
		"visual.merger.mlp.2.weight":                             row,
		"model.visual.deepstack_merger_list.*.linear_fc2.weight": row,
		"visual.patch_embed.proj.weight":                         replicated,
		"multi_modal_projector.linear_1.weight":                  replicated,
		"transformer.h.*.attn.c_attn.weight":                     column,
		"model.decoder.layers.*.self_attn.out_proj.weight":       row,
		"model.layers.*.self_attn.kv_a_proj_with_mqa.weight":     replicated,
	}
	for name, want := range cases {
		if got := classifyTensor(name); got != want {
			t.Errorf("classifyTensor(%q) = %d, want %d", name, got, want)
		}
	}
}

// TestTGICUDAGraphs: the launcher captures [1, 2, 4, 8, 16, 32] by default
// from v2.0.0 (`let cuda_graphs = vec![1, 2, 4, 8, 16, 32];`,
// https://github.com/huggingface/text-generation-inference/blob/v2.0.0/launcher/src/main.rs#L1374-L1393);
// v1.4.x only with ENABLE_CUDA_GRAPHS ("false" by default,
// https://github.com/huggingface/text-generation-inference/blob/v1.4.1/server/text_generation_server/models/globals.py#L6);
// "Bitsandbytes doesn't work with cuda graphs, deactivating them", for
// NF4/FP4 too until v3.0.1
// (https://github.com/huggingface/text-generation-inference/blob/v3.0.2/launcher/src/main.rs#L2086-L2096).
func TestTGICUDAGraphs(t *testing.T) {
	// Llama-3.1-8B, 32 rows: 32·(2·4096 + 4·14,336)·2 B of decode
	// activations + 32·128,256·4 B of logits = 20,611,072 B; v3 adds the
	// [32, T] int32 block tables, 32·4096·4 = 524,288 B at T 4096.
	for _, c := range []struct {
		ver, quantize string
		want          Bytes
	}{
		{"1.4.5", "", 0},
		{"2.0.0", "", 20_611_072},
		{"2.0.0", "bitsandbytes-nf4", 0},
		{"3.0.1", "bitsandbytes-nf4", 0},
		{"3.0.2", "bitsandbytes-nf4", 20_611_072 + 524_288},
		{"3.3.7", "bitsandbytes", 0},
		{"3.3.7", "", 20_611_072 + 524_288},
	} {
		res := runOK(t, llama31_8B, devA100, 1, "tgi", c.ver, Settings{MaxInputTokens: 4095, MaxTotalTokens: 4096, MaxBatchPrefillTokens: 4096, Quantize: c.quantize})
		if !res.Startup.Fits || res.PerGPU.CUDAGraphs != c.want {
			t.Errorf("TGI %s --quantize %q: fits %v, graphs %d B, want %d", c.ver, c.quantize, res.Startup.Fits, res.PerGPU.CUDAGraphs, c.want)
		}
	}
}

// TestParseVersionForms: the forms ParseVersion takes (a missing or
// wildcard part is 99, the latest of the series) and refuses.
func TestParseVersionForms(t *testing.T) {
	for in, want := range map[string]Version{
		"3.3.7": {3, 3, 7}, "v3.3": {3, 3, 99}, "V3.3": {3, 3, 99}, " 3.3.x ": {3, 3, 99}, "3.X": {3, 99, 99},
		"3.*": {3, 99, 99}, "3": {3, 99, 99}, "2.0.4": {2, 0, 4}, "0.8.5-v0": {0, 8, 5}, "0.5.5 (post1)": {0, 5, 5},
		"3.3.7+cu124": {3, 3, 7},
	} {
		if got, err := ParseVersion(in); err != nil || got != want {
			t.Errorf("ParseVersion(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "v", "three", "x.1", "3..1", "3.1.2.4", "-1.0", "3.1.", "3.-1"} {
		if got, err := ParseVersion(in); err == nil {
			t.Errorf("ParseVersion(%q) = %+v, want an error", in, got)
		}
	}
}

func TestContainsFold(t *testing.T) {
	for _, c := range []struct {
		s, sub string
		want   bool
	}{
		{"NVIDIA H100 80GB HBM3", "h100", true}, {"NVIDIA H100 PCIe", "pcie", true}, {"NVIDIA H100 NVL", "nvl", true},
		{"NVIDIA L4", "l40", false}, {"NVIDIA L40S", "l40", true}, {"NVIDIA A100-SXM4-80GB", "a10g", false},
		{"", "a", false}, {"a", "", true},
	} {
		if got := containsFold(c.s, c.sub); got != c.want {
			t.Errorf("containsFold(%q, %q) = %v", c.s, c.sub, got)
		}
	}
}

// TestVisionTowerPerShard: Qwen2.5-VL-32B's vision tower (32 blocks, hidden
// 1280, MLP 3456, merger 5120, as hfmeta compacts it) splits across TP 2
// like the engines' parallel linears. Elements: patch_embed 1280·3·2·14·14
// = 1,505,280, norm1+norm2 2·32·1280 = 81,920, qkv 32·3840·1280 =
// 157,286,400 (+ bias 122,880), proj 32·1280² = 52,428,800 (+ 40,960),
// gate+up 2·32·3456·1280 = 283,115,520 (+ 221,184), down 141,557,760
// (+ 40,960), ln_q 1280, merger mlp.0+mlp.2 2·5120² = 52,428,800
// (+ 10,240): 688,841,984 → 1,377,683,968 B at TP 1. At TP 2 the norms,
// patch embedding and row biases (proj, down, merger) stay whole:
// 1,505,280+81,920+1,280+40,960+40,960+10,240 = 1,680,640, the other
// 687,161,344 halve: (1,680,640 + 343,580,672)·2 = 690,522,624 B per GPU
// (it was 1,377,683,968 − 262,266,880 more when qkv, proj and the merger
// were counted whole).
func TestVisionTowerPerShard(t *testing.T) {
	b := func(name string, count int64, shape ...int64) Tensor {
		return Tensor{Name: name, DType: BF16, Shape: shape, Count: count}
	}
	tower := []Tensor{
		b("visual.patch_embed.proj.weight", 0, 1280, 3, 2, 14, 14),
		b("visual.blocks.*.norm1.weight", 32, 1280), b("visual.blocks.*.norm2.weight", 32, 1280),
		b("visual.blocks.*.attn.qkv.weight", 32, 3840, 1280), b("visual.blocks.*.attn.qkv.bias", 32, 3840),
		b("visual.blocks.*.attn.proj.weight", 32, 1280, 1280), b("visual.blocks.*.attn.proj.bias", 32, 1280),
		b("visual.blocks.*.mlp.gate_proj.weight", 32, 3456, 1280), b("visual.blocks.*.mlp.gate_proj.bias", 32, 3456),
		b("visual.blocks.*.mlp.up_proj.weight", 32, 3456, 1280), b("visual.blocks.*.mlp.up_proj.bias", 32, 3456),
		b("visual.blocks.*.mlp.down_proj.weight", 32, 1280, 3456), b("visual.blocks.*.mlp.down_proj.bias", 32, 1280),
		b("visual.merger.ln_q.weight", 0, 1280),
		b("visual.merger.mlp.*.weight", 2, 5120, 5120), b("visual.merger.mlp.*.bias", 2, 5120),
	}
	m := Model{Layers: 64, Vocab: 152064}
	for _, c := range []struct {
		ws   int
		want Bytes
	}{{1, 1_377_683_968}, {2, 690_522_624}} {
		got, err := weightsPerShard(m, tower, c.ws, Settings{}, 16)
		if err != nil || got != c.want {
			t.Errorf("TP %d: tower = %d B, %v; want %d", c.ws, int64(got), err, int64(c.want))
		}
	}
}
