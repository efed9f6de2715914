package estimate

import (
	"errors"
	"testing"
)

// TestMTPTensorsDerived checks the MTP layers derived from config.json
// against the published parameter counts: a checkpoint's total (HF API)
// less the main model derived from the same config
// (TestSynthesizeHybridParameterCounts) is its MTP module, whose own
// embedding and LM head copies the engines share with the target.
func TestMTPTensorsDerived(t *testing.T) {
	qn := synQwen3Next80B
	qn.MTPLayers = 1
	v3 := synDeepseekV3
	v3.MTPLayers = 1
	v32 := v3
	v32.Type, v32.IndexHeads, v32.IndexHeadDim = "deepseek_v32", 64, 128
	for _, tt := range []struct {
		name string
		m    Model
		want int64
	}{
		// Qwen3-Next-80B-A3B: 81,324,862,720 (HF API) − 79,674,391,296 (main
		// model) = 1,650,471,424 = fc 2048·4096 + 3 norms·2048 + one
		// full-attention MoE layer; it stores no embedding of its own
		// (mtp_use_dedicated_embeddings false).
		{"Qwen3-Next-80B-A3B", qn, 1_650_471_424},
		// DeepSeek-V3: layer 61 holds 13,464,128,568 (fp8 block scales
		// counted, as the HF API counts them) of which embed_tokens and
		// shared_head.head are 2·129,280·7168 = 1,853,358,080:
		// 11,610,770,488 are the draft's own.
		{"DeepSeek-V3", v3, 11_610_770_488},
		// DeepSeek-V3.2: the same layer plus its indexer, 13,960,248.
		{"DeepSeek-V3.2", v32, 11_624_730_736},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got, _ := synthElements(mtpTensors(&tt.m)); got != tt.want {
				t.Errorf("MTP elements %d, want %d (off by %d)", got, tt.want, got-tt.want)
			}
		})
	}
}

// TestVLLMSpecMTP checks what MTP adds to a vLLM v0.19 start; the rules are
// docs/SPECULATIVE.md §2–§3 (vLLM's source), the arithmetic independent of
// the code under test.
func TestVLLMSpecMTP(t *testing.T) {
	h200 := GPU{Name: "NVIDIA H200", TotalBytes: 150_754_820_096, SMITotalMiB: 143771, ComputeCapability: 90}
	v3 := synDeepseekV3
	v3.MTPLayers = 1
	base, err := newVLLMRun(v3, Hardware{GPU: h200, Count: 8}, Settings{NumShard: 8, MaxModelLen: 32768}, vllmProfileFor(Version{0, 19, 0}, true))
	if err != nil {
		t.Fatal(err)
	}
	spec, err := newVLLMRun(v3, Hardware{GPU: h200, Count: 8}, Settings{NumShard: 8, MaxModelLen: 32768, Spec: Speculative{Method: "mtp"}}, vllmProfileFor(Version{0, 19, 0}, true))
	if err != nil {
		t.Fatal(err)
	}
	// MLA KV: (512 + 64)·2 B a layer; 61 layers + the MTP layer = 62:
	// 70,272 → 71,424 B per token, in one group.
	if base.perToken != 70_272 || spec.perToken != 71_424 || spec.groups != 0 {
		t.Errorf("KV per token %d → %d (groups %d); want 70272 → 71424, no groups", base.perToken, spec.perToken, spec.groups)
	}
	// The draft on each of 8 GPUs: 256 experts' fp8 gate/up/down with
	// intermediate 2048/8: 256·3·256·7168 = 1,409,286,144 B; the shared
	// expert 3·2048·7168/8 = 5,505,024; MLA projections ≈ 36.6 MB
	// (q_a 1536·7168 and kv_a 576·7168 whole, q_b 24576·1536, kv_b
	// 32768·512 and o 7168·16384 over 8); eh_proj, an unsharded bf16
	// nn.Linear, 7168·14336·2 = 205,520,896; router 256·7168·2 = 3,670,016:
	// ≈ 1.6606e9 B, scales and norms within 0.1 %.
	if d := spec.weights - base.weights; d != spec.draftWeights || d < 1_659_000_000 || d > 1_663_000_000 {
		t.Errorf("draft weights %d (field %d), want ≈ 1,660,600,000", d, spec.draftWeights)
	}
	if spec.s.Spec.Tokens != 1 {
		t.Errorf("num_speculative_tokens defaulted to %d, want n_predict 1", spec.s.Spec.Tokens)
	}
}

// TestVLLMSpecMTPHybrid checks MTP on Qwen3-Next at TP 4 with
// num_speculative_tokens 2: the MTP layer joins the full-attention layers
// and the gated delta nets' conv state keeps 2 more rows.
func TestVLLMSpecMTPHybrid(t *testing.T) {
	qn := synQwen3Next80B
	qn.MTPLayers = 1
	s := Settings{NumShard: 4, MaxModelLen: 32768, Spec: Speculative{Method: "mtp", Tokens: 2}}
	r, err := newVLLMRun(qn, Hardware{GPU: devH100, Count: 4}, s, vllmProfileFor(Version{0, 19, 0}, true))
	if err != nil {
		t.Fatal(err)
	}
	// Attention per token: 13 full layers · 2·max(1, 2/4)·256·2 B = 13,312.
	// State page (bf16, the model dtype): conv (4−1+2)·(2·16·128 +
	// 32·128)/4·2 B = 20,480 + SSM 32/4·128·128·2 = 262,144 → 282,624 B
	// (274,432 without the draft).
	// 13 full and 36 GDN layers: 36 ≥ 1.5·13, so groups of 13: 1 + 3.
	if r.perToken != 13_312 || r.statePage != 282_624 || r.groupSize != 13 || r.groups != 4 {
		t.Errorf("KV per token %d, state page %d, group size %d, groups %d; want 13312, 282624, 13, 4", r.perToken, r.statePage, r.groupSize, r.groups)
	}
	// A request holds 1 + 2 state blocks per state group (mode none at v0.19).
	if r.stateBlocks != 3 {
		t.Errorf("state blocks %d, want 3", r.stateBlocks)
	}
}

func TestSpecRefusals(t *testing.T) {
	llama := synMistral7B
	for _, tt := range []struct {
		name string
		eng  string
		s    Speculative
		want error
	}{
		{"mtp without MTP layers", "vllm", Speculative{Method: "mtp"}, ErrInvalid},
		{"eagle without a draft", "vllm", Speculative{Method: "eagle3", Tokens: 3}, ErrInvalid},
		{"unknown method", "sglang", Speculative{Method: "medusa", Tokens: 3}, ErrUnsupported},
		{"ngram without tokens", "vllm", Speculative{Method: "ngram"}, ErrInvalid},
		{"tgi", "tgi", Speculative{Method: "ngram", Tokens: 3}, ErrInvalid},
		{"a typo's token count", "vllm", Speculative{Method: "ngram", Tokens: 1 << 20}, ErrImplausible},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Run(llama, Hardware{GPU: devH100, Count: 1}, Engine{Name: tt.eng}, Settings{Spec: tt.s})
			if !errors.Is(err, tt.want) {
				t.Errorf("err %v, want %v", err, tt.want)
			}
		})
	}
}

// TestSpecCaptureSizes: v0.19's list up to 512 is 1, 2, 4, 8…248 by 8,
// 256…512 by 16 (51 sizes). With k = 1 (q = 2) every size rounds to an even
// one and 1 joins 2: 50 sizes, the largest 512. With k = 2 (q = 3) 1 and 2
// both round to 3 and 512 rounds to 513 > 512 and is dropped: 49 sizes,
// the largest round_up(496, 3) = 498. With max_num_seqs 16 and k = 3 the
// largest allowed is 16·4·2 = 128: 1, 2, 4 → 4; then 8, 16, …, 128 → 17 sizes.
func TestSpecCaptureSizes(t *testing.T) {
	v := Version{0, 19, 0}
	for _, c := range []struct{ seqs, q, n, top int }{{256, 2, 50, 512}, {256, 3, 49, 498}, {16, 4, 17, 128}} {
		if n, top := specCaptureSizes(v, c.seqs, 8192, c.q); n != c.n || top != c.top {
			t.Errorf("seqs %d q %d: %d sizes up to %d, want %d up to %d", c.seqs, c.q, n, top, c.n, c.top)
		}
	}
}

// TestVLLMSpecRejectionPass: the rejection sampler's dummy pass holds
// 2·rows·vocab more logits bytes than the plain sampler pass. Qwen2.5-7B
// (vocab 152,064) at max_num_seqs 256: 2·256·152,064·2 B = 155,713,536 B
// when the sampler pass is the profile's peak.
func TestVLLMSpecRejectionPass(t *testing.T) {
	m := qwen25_7B
	s := Settings{MaxNumSeqs: 256, MaxModelLen: 4096, MaxNumBatchedTokens: 256}
	base, err := newVLLMRun(m, Hardware{GPU: devH100, Count: 1}, s, vllmProfileFor(Version{0, 19, 0}, true))
	if err != nil {
		t.Fatal(err)
	}
	s.Spec = Speculative{Method: "ngram", Tokens: 4}
	spec, err := newVLLMRun(m, Hardware{GPU: devH100, Count: 1}, s, vllmProfileFor(Version{0, 19, 0}, true))
	if err != nil {
		t.Fatal(err)
	}
	if d := spec.activation(256) - base.activation(256); d != 155_713_536 {
		t.Errorf("activation grows by %d, want 155,713,536 (base %d)", d, base.activation(256))
	}
	if spec.weights != base.weights || spec.perToken != base.perToken {
		t.Errorf("ngram changed weights %d → %d or KV %d → %d", base.weights, spec.weights, base.perToken, spec.perToken)
	}
}
