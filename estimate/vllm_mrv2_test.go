package estimate

import (
	"strings"
	"testing"
)

// TestMRv2Choice walks VllmConfig.use_v2_model_runner's rule release by
// release (docs/VLLM-MRV2.md §3).
func TestMRv2Choice(t *testing.T) {
	qwen3FP8 := synQwen3_32B
	qwen3FP8.QuantMethod = "fp8"
	hybrid := synQwen3Next80B
	hybrid.StateLayers = true
	for _, c := range []struct {
		name string
		m    Model
		ver  string
		s    Settings
		want bool
	}{
		{"qwen3 dense before MRv2", synQwen3_32B, "0.21.0", Settings{}, false},
		{"qwen3 dense: the first on MRv2", synQwen3_32B, "0.22.0", Settings{}, true},
		{"qwen3 quantized waits for v0.24", qwen3FP8, "0.23.0", Settings{}, false},
		{"qwen3 quantized", qwen3FP8, "0.24.0", Settings{}, true},
		{"llama dense waits for v0.23", synLlama31_8B, "0.22.0", Settings{}, false},
		{"llama dense", synLlama31_8B, "0.23.0", Settings{}, true},
		{"llama with --quantization fp8 at v0.23", synLlama31_8B, "0.23.0", Settings{Quantize: "fp8"}, false},
		{"qwen2 dense waits for every dense model", synQwen25_7B, "0.24.0", Settings{}, false},
		{"qwen2 dense", synQwen25_7B, "0.25.0", Settings{}, true},
		{"qwen2_moe on the MoE list", synQwen15MoE, "0.24.0", Settings{}, true},
		{"qwen3_moe off the list", synQwen3_235B, "0.28.0", Settings{}, false},
		{"qwen3_moe, every model", synQwen3_235B, "0.29.0", Settings{}, true},
		{"hybrid keeps V1", hybrid, "0.27.1", Settings{}, false},
		{"hybrid, every model", hybrid, "0.29.0", Settings{}, true},
		{"n-gram drafts keep V1", synLlama31_8B, "0.29.0", Settings{Spec: Speculative{Method: "ngram", Tokens: 3}}, false},
		{"VLLM_USE_V2_MODEL_RUNNER=0", synLlama31_8B, "0.29.0", Settings{ModelRunner: "v1"}, false},
		{"VLLM_USE_V2_MODEL_RUNNER=1", synQwen3_235B, "0.25.0", Settings{ModelRunner: "v2"}, true},
	} {
		v, _ := ParseVersion(c.ver)
		if got, why := mrv2Choice(&c.m, &c.s, v); got != c.want {
			t.Errorf("%s: MRv2 %v (%s), want %v", c.name, got, why, c.want)
		}
	}
}

// devRTX4090WSL is the RTX 4090 of docs/VLLM-MRV2.md §4 log L3, whose
// CUDA runtime reported 25,756,696,576 B (23.99 GiB, under WSL2).
var devRTX4090WSL = GPU{Name: "NVIDIA GeForce RTX 4090", TotalBytes: 25_756_696_576, SMITotalMiB: 24564, ComputeCapability: 89}

// synQwen25_05B is Qwen2.5-0.5B-Instruct's config.json.
var synQwen25_05B = Model{Type: "qwen2", Layers: 24, Hidden: 896, Heads: 14, KVHeads: 2, Intermediate: 4864,
	Vocab: 151936, MaxPositions: 32768, TieWordEmbeddings: true, DType: BF16}

// TestMRv2Terms pins MRv2's three terms on log L3 of docs/VLLM-MRV2.md
// §4 (vLLM 0.27.1, LLM class, Qwen2.5-0.5B, RTX 4090 at 23.99 GiB):
// "Available KV cache memory: 20.52 GiB", 1,793,232 tokens measured.
func TestMRv2Terms(t *testing.T) {
	// The sampler rows: V1's dummy sampler (here the Triton top-k/top-p
	// path) against MRv2's before v0.26, logits (2 B) and an fp32 copy (4 B)
	// per element: 256·151,936·6 = 233,373,696 B.
	if got := samplerBytes(samplerMRv2Copy, 256, 151936, 151936, 128); got != 233_373_696 {
		t.Errorf("MRv2 v0.22 sampler %d B, want 233,373,696", got)
	}
	// From v0.26 the logits alone: 256·151,936·2 = 77,791,232 B.
	if got := samplerBytes(samplerNone, 256, 151936, 151936, 128); got != 77_791_232 {
		t.Errorf("MRv2 v0.26 sampler %d B, want 77,791,232", got)
	}
	r := mrv2Run(t, Version{0, 27, 1})
	if !r.mrv2 || r.prof.graphsInBudget {
		t.Fatalf("v0.27.1 Qwen2.5-0.5B: MRv2 %v, CUDA graphs in budget %v; want MRv2 and none reserved", r.mrv2, r.prof.graphsInBudget)
	}
	// Penalty counts: 4·256·(151,936 + ⌈151,936/32⌉ = 4,748) = 160,444,416 B.
	if got := r.mrv2Charged(8192); got != 160_444_416 {
		t.Errorf("penalty counts %d B, want 160,444,416", got)
	}
	st := r.checked(32768, 0)
	// 1,787,808 tokens = 20.46 GiB, −0.30% from the measured 1,793,232;
	// v0.21's terms (a CUDA-graph reserve and the Triton sampler) gave
	// 1,744,352 (−2.73%).
	if st.tokens != 1_787_808 {
		t.Errorf("v0.27.1 MRv2: %d KV tokens, want 1,787,808 (measured 1,793,232)", st.tokens)
	}
	if l := r.logLines(st); hasLine(l, "Estimated CUDA graph memory") != "" {
		t.Errorf("MRv2 before v0.29 logs no CUDA-graph estimate: %q", l)
	}
	// v0.29 reserves the graphs again (PR #53306): the budget loses them.
	r29 := mrv2Run(t, Version{0, 29, 0})
	st29 := r29.checked(32768, 0)
	if !r29.prof.graphsInBudget || st.avail-st29.avail != r29.graphs || r29.graphs <= 0 {
		t.Errorf("v0.29 budget %s, v0.27.1 %s: want the CUDA-graph estimate %s less", st29.avail, st.avail, r29.graphs)
	}
}

// mrv2Run is log L3's start at release v.
func mrv2Run(t *testing.T, v Version) *vllmRun {
	t.Helper()
	r, err := newVLLMRun(synQwen25_05B, Hardware{GPU: devRTX4090WSL, Count: 1}, Settings{OfflineLLM: true}, vllmProfileFor(v, true))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestMRv2NoEncoderBefore026: MRv2 before v0.26 runs a text-only profile
// (docs/VLLM-MRV2.md §1 [A1]); from v0.26 the encoder is profiled ([A5]).
func TestMRv2NoEncoderBefore026(t *testing.T) {
	for _, c := range []struct {
		ver     string
		encoder bool
	}{{"0.25.0", false}, {"0.26.0", true}} {
		qwen := Model{Type: "qwen2_5_vl", Layers: 28, Hidden: 3584, Heads: 28, KVHeads: 4, Intermediate: 18944, Vocab: 152064, DType: BF16,
			MaxPositions: 128000, Vision: true, VisionTower: visQwen25VL7B}
		res := runOK(t, qwen, devH100, 1, "vllm", c.ver, Settings{MaxModelLen: 32768})
		profiled := false
		for _, a := range res.Assumptions {
			profiled = profiled || strings.Contains(a, "the profile encodes")
		}
		if profiled != c.encoder {
			t.Errorf("vLLM %s Qwen2.5-VL-7B: encoder profiled %v, want %v (%q)", c.ver, profiled, c.encoder, res.Assumptions)
		}
	}
}

// TestMRv2Gemma3Profile: Gemma-3-27B on an H100 at v0.26 (8192 batched
// tokens, 1024 sequences). V1's runner peaks in its sampler; MRv2's runs
// no top-k/top-p, so the encoder's phase (32 images: pixels 154,140,672 +
// block 3,162,505,216, docs/VLLM-ENCODER.md §3.3) is the peak, plus
// cuBLAS's 32 MiB. MRv2 charges its penalty counts 4·1024·(262,208 +
// 8,194) = 1,107,566,592 and inputs_embeds 8192·5376·2 = 88,080,384.
func TestMRv2Gemma3Profile(t *testing.T) {
	gemma := Model{Type: "gemma3", Layers: 62, Hidden: 5376, Heads: 32, KVHeads: 16, HeadDim: 128, Intermediate: 21504, Vocab: 262208, DType: BF16,
		Vision: true, VisionTower: visGemma3}
	r, err := newVLLMRun(gemma, Hardware{GPU: devH100, Count: 1}, Settings{MaxModelLen: 8192}, vllmProfileFor(Version{0, 26, 0}, true))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := r.profilePeak(r.mml, r.mnbt), Bytes(154_140_672+3_162_505_216+32*MiB); !r.mrv2 || got != want {
		t.Errorf("MRv2 %v: profile peak %d, want the encoder's %d", r.mrv2, got, want)
	}
	if got := r.mrv2Charged(r.mnbt); got != 1_107_566_592+88_080_384 {
		t.Errorf("MRv2 charges %d, want 1,195,646,976", got)
	}
}
