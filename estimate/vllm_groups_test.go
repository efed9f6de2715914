package estimate

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// qwen35_4B is Qwen3.5-4B's text model as vLLM sizes it: 32 layers, every
// fourth full attention (4 KV heads × 256), the others gated delta nets
// (16 key heads, 32 value heads, 128 wide, conv kernel 4) whose recurrent
// state the checkpoint fixes at float32 (mamba_ssm_dtype).
var qwen35_4B = func() Model {
	m := Model{ID: "Qwen/Qwen3.5-4B", Type: "qwen3_5_text", Layers: 32, Hidden: 2560, Heads: 16, KVHeads: 4, HeadDim: 256,
		Intermediate: 9216, Vocab: 248320, MaxPositions: 262144, DType: BF16, TieWordEmbeddings: true,
		State: State{Kind: KindLinear, ConvKernel: 4, KeyHeads: 16, KeyHeadDim: 128, ValueHeads: 32, ValueHeadDim: 128, SSMDType: F32}}
	for i := range m.Layers {
		m.Kinds = append(m.Kinds, pick((i+1)%4 == 0, KindFull, KindLinear))
	}
	return m
}()

func TestVLLMStatePage(t *testing.T) {
	for _, c := range []struct {
		name      string
		st        State
		tp        int
		conv, ssm int64
		want      Bytes
	}{
		// Qwen3-Next GDN, bf16: conv 3·(2·16·128 + 32·128)·2 = 49,152; ssm 32·128·128·2 = 1,048,576.
		{"gdn tp1", State{Kind: KindLinear, ConvKernel: 4, KeyHeads: 16, KeyHeadDim: 128, ValueHeads: 32, ValueHeadDim: 128}, 1, 2, 2, 1_097_728},
		// TP 4: conv 3·2048·2 = 12,288; ssm 8·128·128·2 = 262,144.
		{"gdn tp4", State{Kind: KindLinear, ConvKernel: 4, KeyHeads: 16, KeyHeadDim: 128, ValueHeads: 32, ValueHeadDim: 128}, 4, 2, 2, 274_432},
		// Qwen3.5 float32 state, TP 4: 12,288 + 8·128·128·4 = 536,576.
		{"gdn fp32 tp4", State{Kind: KindLinear, ConvKernel: 4, KeyHeads: 16, KeyHeadDim: 128, ValueHeads: 32, ValueHeadDim: 128}, 4, 2, 4, 536_576},
		// Mamba2 (I 8192 = 128·64, G 8, N 128, K 4), bf16 conv, fp32 ssm:
		// conv 3·(8192 + 2·8·128)·2 = 61,440; ssm 128·64·128·4 = 4,194,304.
		{"mamba2 tp1", State{Kind: KindMamba2, Inner: 8192, Heads: 128, HeadDim: 64, Groups: 8, StateSize: 128, ConvKernel: 4}, 1, 2, 4, 4_255_744},
		// TP 2 with one group: G' = 2: conv 3·(8192 + 2·2·128)/2·2 = 26,112; ssm 64·64·128·4 = 2,097,152.
		{"mamba2 tp2 one group", State{Kind: KindMamba2, Inner: 8192, Heads: 128, HeadDim: 64, Groups: 1, StateSize: 128, ConvKernel: 4}, 2, 2, 4, 2_123_264},
		// Jamba Mamba1 (I = 2·4096 = 8192, N 16, K 4), bf16: conv 3·8192·2 = 49,152; ssm 8192·16·2 = 262,144.
		{"mamba1 tp1", State{Kind: KindMamba, Inner: 8192, StateSize: 16, ConvKernel: 4}, 1, 2, 2, 311_296},
	} {
		got, err := vllmStatePage(c.st, c.tp, c.conv, c.ssm)
		if err != nil || got != c.want {
			t.Errorf("%s: %d, %v; want %d", c.name, got, err, c.want)
		}
	}
	if _, err := vllmStatePage(State{Kind: KindLinear, ConvKernel: 4, KeyHeads: 16, KeyHeadDim: 128, ValueHeads: 32, ValueHeadDim: 128}, 3, 2, 2); !errors.Is(err, ErrInvalid) {
		t.Errorf("tp 3 on 32 value heads: %v, want ErrInvalid", err)
	}
}

// TestVLLMHybridQwen35Log reproduces a real v0.22.0 start of Qwen3.5-4B at
// TP 1 with --max-model-len 1024 (docs/VLLM-HYBRID.md §2.4 and §3.4): it
// logged "Setting attention block size to 528 tokens", "Padding mamba page
// size by 0.76%", "Available KV cache memory: 12.85 GiB", "GPU KV cache
// size: 163,225 tokens" and "Maximum concurrency for 1,024 tokens per
// request: 159.40x". Accuracy against that log, given its KV budget.
func TestVLLMHybridQwen35Log(t *testing.T) {
	r, err := newVLLMRun(qwen35_4B, Hardware{GPU: devH100, Count: 1}, Settings{MaxModelLen: 1024}, vllmProfileFor(Version{0, 22, 0}, true))
	if err != nil {
		t.Fatal(err)
	}
	// Attention page per token: 8 layers · 2·4·256·2 = 32,768 B, 4096 B a layer.
	// State page: 3·(2·16·128 + 32·128)·2 + 32·128·128·4 = 49,152 + 2,097,152 = 2,146,304 B.
	// Block: 16·⌈2,146,304 / (16·4096)⌉ = 16·33 = 528; page 528·4096 = 2,162,688 B.
	if r.attnPage1 != 4096 || r.statePage != 2_146_304 || r.bs != 528 || r.pageBytes() != 2_162_688 {
		t.Fatalf("attention page %d, state page %d, block %d, page %d; want 4096, 2146304, 528, 2162688", r.attnPage1, r.statePage, r.bs, r.pageBytes())
	}
	// 8 full and 24 GDN layers: group size 8, 1 + 3 groups; one block 8 pages.
	if r.groupSize != 8 || r.groups != 4 || r.blockBytes() != 17_301_504 {
		t.Fatalf("group size %d, groups %d, block bytes %d; want 8, 4, 17301504", r.groupSize, r.groups, r.blockBytes())
	}
	// 12.85 GiB // 2,162,688 // 8 = 797 blocks; a request takes ⌈1024/528⌉ = 2 + 3·1 = 5:
	// 797 / 5 = 159.40x and int(159.4 · 1024) = 163,225 tokens.
	st := vllmStart{mml: 1024, mnbt: r.mnbt, avail: 13_797_483_315} // 12.85 GiB
	st.numBlocks = int64(st.avail) / int64(r.blockBytes())
	st.tokens = r.tokensOf(st)
	if st.numBlocks != 797 || st.tokens != 163_225 || fixed2(r.concurrency(st, 1024)) != "159.40" {
		t.Errorf("blocks %d, tokens %d, concurrency %s; want 797, 163225, 159.40", st.numBlocks, st.tokens, fixed2(r.concurrency(st, 1024)))
	}
	lines := strings.Join(r.hybridLogLines(), "\n")
	for _, want := range []string{"Setting attention block size to 528 tokens", "Padding mamba page size by 0.76%"} {
		if !strings.Contains(lines, want) {
			t.Errorf("log lines %q lack %q", lines, want)
		}
	}
	// Per sequence: 24 state layers · 1 block · 2,162,688 B = 51,904,512 B.
	if got := r.stateBytesPerSequence(); got != 51_904_512 {
		t.Errorf("state bytes per sequence %d, want 51904512", got)
	}
	// The smallest request takes 1 + 3 blocks: 797 / 4 = 199 sequences.
	if got := r.maxSequences(st); got != 199 {
		t.Errorf("max sequences %d, want 199", got)
	}
}

// TestVLLMStateBlockCheck: max_num_seqs above the pool's blocks fails the
// start from v0.20 with vLLM's message and the largest value that starts;
// v0.19 and --enforce-eager do not check.
func TestVLLMStateBlockCheck(t *testing.T) {
	hw := Hardware{GPU: devH100, Count: 1}
	run := func(ver string, seqs int, eager bool) Result {
		t.Helper()
		res, err := Run(qwen35_4B, hw, Engine{Name: "vllm", Version: ver}, Settings{MaxModelLen: 262144, GPUMemoryUtilization: 0.3, MaxNumSeqs: seqs, EnforceEager: eager})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	res := run("0.22.0", 1024, false)
	var n int
	if res.Startup.Failure != FailureStateBlocks {
		t.Fatalf("1024 seqs: failure %q %q, want %q", res.Startup.Failure, res.Startup.Message, FailureStateBlocks)
	}
	if _, err := fmt.Sscanf(res.Startup.Message[strings.Index(res.Startup.Message, "at most "):], "at most %d", &n); err != nil || n <= 0 || n >= 1024 {
		t.Fatalf("message %q: at most %d (%v)", res.Startup.Message, n, err)
	}
	if !strings.HasPrefix(res.Startup.Message, fmt.Sprintf("max_num_seqs (1024) exceeds available Mamba cache blocks (%d).", n)) {
		t.Errorf("message %q", res.Startup.Message)
	}
	// V1's pool does not grow as max_model_len shrinks, so no length starts
	// with 1024 sequences, and the boundary says why.
	if res.Boundary.MaxTotalTokens != 0 || res.Boundary.LimitedBy != "state_blocks" {
		t.Errorf("boundary %d limited by %q, want 0 and state_blocks", res.Boundary.MaxTotalTokens, res.Boundary.LimitedBy)
	}
	// The number the message gives starts. Fewer sequences shrink the
	// sampler's dummy batch, so the pool grows a little: the boundary is at
	// least n, and one past it fails the state check.
	if res := run("0.22.0", n, false); !res.Startup.Fits {
		t.Errorf("%d seqs: %s", n, res.Startup.Message)
	}
	b := res.Boundary.MaxNumSeqs
	if b < n || b >= 1024 {
		t.Fatalf("boundary max_num_seqs %d, want in [%d, 1024)", b, n)
	}
	if res := run("0.22.0", b, false); !res.Startup.Fits {
		t.Errorf("boundary %d seqs: %s", b, res.Startup.Message)
	}
	if res := run("0.22.0", b+1, false); res.Startup.Failure != FailureStateBlocks {
		t.Errorf("%d seqs: failure %q", b+1, res.Startup.Failure)
	}
	// v0.19 capped the CUDA-graph sizes instead; --enforce-eager captures no full graphs.
	if res := run("0.19.0", 1024, false); res.Startup.Failure == FailureStateBlocks {
		t.Error("v0.19.0 ran the state check")
	}
	if res := run("0.22.0", 1024, true); res.Startup.Failure == FailureStateBlocks {
		t.Error("--enforce-eager ran the state check")
	}
}

// TestVLLMLayerKinds: KV-shared layers own no KV, chunked layers form their
// own groups, state layers hold none per token, and the kinds are counted.
func TestVLLMLayerKinds(t *testing.T) {
	// gemma-3n-like: 35 layers, the last 15 KV-shared: 20 · 2·2·256·2 = 40,960 B per token at TP 1.
	g := Model{Layers: 35, Heads: 8, KVHeads: 2, HeadDim: 256}
	for i := range 35 {
		g.Kinds = append(g.Kinds, pick(i < 20, KindFull, KindKVShared))
	}
	if got := servingKVBytesPerToken(g, 1, 2); got != 40_960 {
		t.Errorf("kv-shared: %d B per token, want 40960", got)
	}
	// Qwen3.5-4B: only the 8 full-attention layers: 8 · 2·4·256·2 = 32,768 B.
	if got := servingKVBytesPerToken(qwen35_4B, 1, 2); got != 32_768 {
		t.Errorf("hybrid: %d B per token, want 32768", got)
	}
	if c := qwen35_4B.KindCounts(); c[KindFull] != 8 || c[KindLinear] != 24 || len(c) != 2 {
		t.Errorf("kind counts %v", c)
	}
}

// TestDerivedContext: the default context each engine derives from
// max_position_embeddings and rope_scaling (vLLM: docs/VLLM-RELEASES-2026.md
// §4; SGLang: get_context_length at v0.5.5 and v0.5.18).
func TestDerivedContext(t *testing.T) {
	for _, c := range []struct {
		name         string
		typ          string
		mpe          int
		rope         RopeScaling
		vllm, sglang int
	}{
		{"no rope_scaling", "qwen3", 40960, RopeScaling{}, 40960, 40960},
		// Llama 3.1: llama3 keeps max_position_embeddings in both.
		{"llama3", "llama", 131072, RopeScaling{Type: "llama3", Factor: 8, OriginalMax: 8192}, 131072, 131072},
		// DeepSeek-V3: yarn, vLLM 4096·40 = 163,840; SGLang ignores the factor beside original_max_position_embeddings.
		{"yarn deepseek", "deepseek_v3", 163840, RopeScaling{Type: "yarn", Factor: 40, OriginalMax: 4096}, 163840, 163840},
		// Qwen3 with the YaRN block its card suggests: vLLM 32,768·4 = 131,072; SGLang 40,960.
		{"yarn qwen3", "qwen3", 40960, RopeScaling{Type: "yarn", Factor: 4, OriginalMax: 32768}, 131072, 40960},
		// linear / dynamic without original: 4096·2 = 8,192 in both.
		{"dynamic", "llama", 4096, RopeScaling{Type: "dynamic", Factor: 2}, 8192, 8192},
		// Gemma 3: vLLM treats it as already scaled; SGLang 131,072·8 = 1,048,576.
		{"gemma3 linear", "gemma3", 131072, RopeScaling{Type: "linear", Factor: 8}, 131072, 1048576},
		// longrope (Phi-3.5): no factor key, no change.
		{"longrope", "phi3", 131072, RopeScaling{Type: "longrope", OriginalMax: 4096}, 131072, 131072},
	} {
		m := Model{Type: c.typ, MaxPositions: c.mpe, Rope: c.rope}
		if got := vllmDerivedMaxLen(m); got != c.vllm {
			t.Errorf("%s: vLLM %d, want %d", c.name, got, c.vllm)
		}
		if got := sglangContextLen(m); got != c.sglang {
			t.Errorf("%s: SGLang %d, want %d", c.name, got, c.sglang)
		}
	}
}

// TestMarlinMXFP4Padding: gpt-oss-20b's MXFP4 experts (24 layers · 32
// experts · 90 blocks · 17 B · (5760 + 2880) rows = 10,152,345,600 B) on an
// A100 (sm_80, Marlin): hidden 2880 → 3072, intermediate 2880 → 2944 at TP 1,
// so 10,152,345,600 · (2944·3072 − 2880²)/2880² = 917,471,232 B more; at
// TP 2 1440 → 1536 on half the bytes: 5,076,172,800 · (1536·3072 −
// 1440·2880)/(1440·2880) = 699,383,808 B.
func TestMarlinMXFP4Padding(t *testing.T) {
	m := Model{Type: "gpt_oss", Layers: 24, Hidden: 2880, Heads: 64, KVHeads: 8, HeadDim: 64, Intermediate: 2880, Vocab: 201088,
		MaxPositions: 131072, Experts: 32, ExpertsPerToken: 4, QuantMethod: "mxfp4", SlidingWindow: 128}
	tensors := SynthesizeTensors(m)
	a100 := GPU{Name: "NVIDIA A100-SXM4-80GB", TotalBytes: 85_095_874_560, ComputeCapability: 80}
	for _, c := range []struct {
		gpu  GPU
		tp   int
		want Bytes
	}{{a100, 1, 917_471_232}, {a100, 2, 699_383_808}, {devH100, 1, 0}} {
		r := &vllmRun{m: m, hw: Hardware{GPU: c.gpu, Count: c.tp}, tp: c.tp, quiet: true}
		if got := r.marlinPadding(tensors); got != c.want {
			t.Errorf("%s TP %d: %d, want %d", c.gpu.Name, c.tp, got, c.want)
		}
	}
}

// TestVLLMSamplerFlag: --sampler picks the profile's top-k/top-p path and
// the result says which one it assumed. Llama-3.1-8B at v0.19.0, H100,
// max_num_seqs 1024: the Triton path holds 12 B per logit of the
// 1024 × 128,256 dummy batch beside the logits; FlashInfer's, 12 too, but
// the Triton kernel adds its per-program buffer, so FlashInfer's peak is
// never larger, and the PyTorch sort's 36 B is larger than both.
func TestVLLMSamplerFlag(t *testing.T) {
	hw := Hardware{GPU: devH100, Count: 1}
	peak := func(sampler string) (Bytes, []string) {
		t.Helper()
		res, err := Run(llama31_8B, hw, Engine{Name: "vllm", Version: "0.19.0"}, Settings{Sampler: sampler})
		if err != nil {
			t.Fatal(err)
		}
		return res.PerGPU.ActivationPeak, res.Assumptions
	}
	def, as := peak("")
	py, _ := peak("pytorch")
	fi, asFI := peak("flashinfer")
	if def != py || fi > py {
		t.Errorf("default %s, pytorch %s, flashinfer %s: want default = pytorch (v0.19's Triton path) ≥ flashinfer", def, py, fi)
	}
	if !strings.Contains(strings.Join(as, "\n"), "the Triton top-k/top-p kernel (the release's default") ||
		!strings.Contains(strings.Join(asFI, "\n"), "FlashInfer's top-k/top-p kernels (--sampler flashinfer)") {
		t.Errorf("assumptions %q / %q", as, asFI)
	}
	// v0.15's native path is the sort: 36 B per logit against FlashInfer's 12.
	at15 := func(sampler string) Bytes {
		res, err := Run(llama31_8B, hw, Engine{Name: "vllm", Version: "0.15.0"}, Settings{Sampler: sampler})
		if err != nil {
			t.Fatal(err)
		}
		return res.PerGPU.ActivationPeak
	}
	if sort, fi15 := at15("pytorch"), at15("flashinfer"); sort <= fi15 {
		t.Errorf("v0.15: sort %s, flashinfer %s: want the sort larger", sort, fi15)
	}
	if _, err := Run(llama31_8B, hw, Engine{Name: "vllm", Version: "0.19.0"}, Settings{Sampler: "fast"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("--sampler fast: %v, want ErrInvalid", err)
	}
}

// TestVLLMBoundarySeqsEdge: the boundary's max_num_seqs, found by a
// gallop from the pool's blocks and a bisection, is the edge on every
// release and budget: it starts, and one more sequence fails the state
// check (and a budget that holds no state block gives 0).
func TestVLLMBoundarySeqsEdge(t *testing.T) {
	hw := Hardware{GPU: devH100, Count: 1}
	for _, ver := range []string{"0.22.0", "0.27.1", "0.31.0"} {
		for _, gmu := range []float64{0.3, 0.5, 0.92} {
			s := Settings{MaxModelLen: 262144, GPUMemoryUtilization: gmu}
			res, err := Run(qwen35_4B, hw, Engine{Name: "vllm", Version: ver}, s)
			if err != nil {
				t.Fatal(err)
			}
			b := res.Boundary.MaxNumSeqs
			if b <= 0 {
				t.Errorf("%s gmu %.2f: boundary max_num_seqs %d", ver, gmu, b)
				continue
			}
			s.MaxNumSeqs = b
			if r, _ := Run(qwen35_4B, hw, Engine{Name: "vllm", Version: ver}, s); !r.Startup.Fits {
				t.Errorf("%s gmu %.2f: %d seqs do not start: %s", ver, gmu, b, r.Startup.Message)
			}
			s.MaxNumSeqs = b + 1
			if r, _ := Run(qwen35_4B, hw, Engine{Name: "vllm", Version: ver}, s); r.Startup.Failure != FailureStateBlocks {
				t.Errorf("%s gmu %.2f: %d seqs: failure %q, want the state check", ver, gmu, b+1, r.Startup.Failure)
			}
		}
	}
}
