package estimate

import (
	"strings"
	"testing"
)

// eagle3Llama8B is an EAGLE-3 head for Llama-3.1-8B as the public
// yuhuili/EAGLE3-LLaMA3.1-Instruct-8B config describes it: one decoder layer
// of the target's geometry and its own head over a 32,000-token draft
// vocabulary (the tensors below stand for that checkpoint's header).
var eagle3Llama8B = Model{Type: "llama", Layers: 1, Hidden: 4096, Heads: 32, KVHeads: 8, Intermediate: 14336, Vocab: 128256, DType: BF16,
	Tensors: []Tensor{
		{Name: "midlayer.self_attn.q_proj.weight", DType: BF16, Shape: []int64{4096, 8192}},
		{Name: "midlayer.self_attn.k_proj.weight", DType: BF16, Shape: []int64{1024, 8192}},
		{Name: "midlayer.self_attn.v_proj.weight", DType: BF16, Shape: []int64{1024, 8192}},
		{Name: "midlayer.self_attn.o_proj.weight", DType: BF16, Shape: []int64{4096, 4096}},
		{Name: "midlayer.mlp.gate_proj.weight", DType: BF16, Shape: []int64{14336, 4096}},
		{Name: "midlayer.mlp.up_proj.weight", DType: BF16, Shape: []int64{14336, 4096}},
		{Name: "midlayer.mlp.down_proj.weight", DType: BF16, Shape: []int64{4096, 14336}},
		{Name: "fc.weight", DType: BF16, Shape: []int64{4096, 12288}},
		{Name: "lm_head.weight", DType: BF16, Shape: []int64{32000, 4096}},
		{Name: "d2t", DType: I64, Shape: []int64{32000}},
	}}

func sglangRunOK(t *testing.T, m Model, g GPU, tp int, ver string, s Settings) *sglangRun {
	t.Helper()
	s.NumShard = tp
	if err := s.Spec.check(&m); err != nil {
		t.Fatal(err)
	}
	if len(m.Tensors) == 0 {
		m.Tensors = SynthesizeTensors(m)
	}
	v, _ := ParseVersion(ver)
	elt, kvElt, _ := servingDTypes(s)
	r := &sglangRun{m: m, hw: Hardware{GPU: g, Count: tp}, s: s, v: v, tp: tp, total: g.TotalBytes, elt: elt, kvElt: kvElt}
	r.era, r.gpuMiB = sglangEraFor(v), g.SMITotalMiB
	r.resolveDefaults()
	r.cell = servingKVBytesPerToken(m, tp, kvElt) + sglangIndexerCell(m, v)
	if err := r.setupSpec(); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestSGLangSpecBudget checks SGLang's speculative sizing against the
// arithmetic of docs/SPECULATIVE.md §5 (SGLang's source at v0.5.5 and
// v0.5.18).
func TestSGLangSpecBudget(t *testing.T) {
	eagle := Settings{Spec: Speculative{Method: "eagle3", Draft: &eagle3Llama8B}}
	// v0.5.5, H100 (81,559 MiB), TP 1: reserve max(512 + 8192·1.5 + 256·2 +
	// 128, 10240) = 13,440 MiB, + 2,048 for an EAGLE draft:
	// round((81,559 − 15,488)/81,559, 3) = 0.810 (0.835 without).
	r := sglangRunOK(t, llama31_8B, devH100, 1, "0.5.5", eagle)
	if r.mfs != 0.810 {
		t.Errorf("v0.5.5 EAGLE-3 mem_fraction_static %.3f, want 0.810", r.mfs)
	}
	// Llama's auto parameters (5, 4, 8) and 48 requests: 48·5·4 + 48·8 +
	// 100 = 1,444 headroom tokens; the draft's cell 2·8·128·2 = 4,096 B.
	if h := r.specHeadroom(); h != 1444 || r.spec.cell != 4096 || r.budgetCell() != 131_072 {
		t.Errorf("headroom %d, draft cell %d, budget cell %d; want 1444, 4096, 131072", h, r.spec.cell, r.budgetCell())
	}
	// The draft's weights: the layer (4096·8192 + 2·1024·8192 + 4096² +
	// 3·14336·4096 = 243,269,632) + fc 4096·12288 + its own head 32000·4096
	// = 424,673,280 elements · 2 B + d2t 32,000·8 B = 849,602,560 B; the
	// embedding is the target's; one placeholder 128,256·4096·2 B.
	if r.spec.weights != 849_602_560 || r.spec.placeholders != 1_050_673_152 {
		t.Errorf("draft weights %d, placeholders %d; want 849602560, 1050673152", r.spec.weights, r.spec.placeholders)
	}
	// v0.5.18: no reserve add-on, no headroom; cell 131,072·(1 + 1/32) = 135,168.
	r = sglangRunOK(t, llama31_8B, devH100, 1, "0.5.18", eagle)
	if r.specReserveMiB() != 0 || r.specHeadroom() != 0 || r.budgetCell() != 135_168 || r.budgetedDraft() != 849_602_560+1_050_673_152 {
		t.Errorf("v0.5.18 reserve %g, headroom %d, budget cell %d, budgeted draft %d", r.specReserveMiB(), r.specHeadroom(), r.budgetCell(), r.budgetedDraft())
	}
}

func TestSGLangSpecMTP(t *testing.T) {
	v3 := synDeepseekV3
	v3.MTPLayers = 1
	h200 := GPU{Name: "NVIDIA H200", TotalBytes: 150_754_820_096, SMITotalMiB: 143771, ComputeCapability: 90}
	// DeepSeek-V3, NEXTN at v0.5.18: the draft path is set for it, so the
	// cell is 70,272·(1 + 1/61) = 71,424 (= 70,272 + the layer's 1,152).
	r := sglangRunOK(t, v3, h200, 8, "0.5.18", Settings{Spec: Speculative{Method: "mtp"}})
	if r.budgetCell() != 71_424 || r.spec.cell != 1152 || !r.spec.scaled {
		t.Errorf("budget cell %d, draft cell %d, scaled %v; want 71424, 1152, true", r.budgetCell(), r.spec.cell, r.spec.scaled)
	}
	// Qwen3-Next's MTP without --speculative-draft-model-path: no scaling
	// (its draft KV comes out of the slack); with it, 12 → 13 layers.
	qn := synQwen3Next80B
	qn.MTPLayers = 1
	r = sglangRunOK(t, qn, devH100, 4, "0.5.18", Settings{Spec: Speculative{Method: "mtp"}})
	if r.spec.scaled || r.budgetCell() != r.cell {
		t.Errorf("Qwen3-Next NEXTN without a path: scaled %v, budget cell %d, cell %d", r.spec.scaled, r.budgetCell(), r.cell)
	}
	r = sglangRunOK(t, qn, devH100, 4, "0.5.18", Settings{Spec: Speculative{Method: "mtp", ExplicitDraftPath: true}})
	// cell 12·2·1·256·2 = 12,288 B at TP 4 → 12,288·13/12 = 13,312.
	if !r.spec.scaled || r.cell != 12_288 || r.budgetCell() != 13_312 {
		t.Errorf("with a path: scaled %v, cell %d, budget cell %d; want true, 12288, 13312", r.spec.scaled, r.cell, r.budgetCell())
	}
	// Its defaults at v0.5.18 are (3, 1, 4): 4 draft tokens.
	if r.spec.steps != 3 || r.spec.topK != 1 || r.spec.draftTokens != 4 {
		t.Errorf("defaults (%d, %d, %d), want (3, 1, 4)", r.spec.steps, r.spec.topK, r.spec.draftTokens)
	}
}

// TestSGLangSpecRun runs whole starts: a speculative start's pool is the
// plain start's less the draft, and it says so in its log lines.
func TestSGLangSpecRun(t *testing.T) {
	plain := runOK(t, llama31_8B, devH100, 1, "sglang", "0.5.18", Settings{})
	spec := runOK(t, llama31_8B, devH100, 1, "sglang", "0.5.18", Settings{Spec: Speculative{Method: "eagle3", Draft: &eagle3Llama8B}})
	p, s := plain.Startup.MaxBatchTotalTokens, spec.Startup.MaxBatchTotalTokens
	// rest shrinks by the draft's 1,900,275,712 B and the cell grows by
	// 33/32: s ≈ (p·131,072 − 1,900,275,712)/135,168 = p·0.9697 − 14,059.
	want := float64(p)*131072/135168 - 1900275712.0/135168
	if d := float64(s) - want; d < -2 || d > 2 {
		t.Errorf("pool %d tokens with the draft, %d without; want ≈ %.0f", s, p, want)
	}
	if spec.KVBytesPerToken != 135_168 || !strings.Contains(strings.Join(spec.Startup.LogLines, "\n"), "max_running_requests=48") {
		t.Errorf("KV per token %d; log %q", spec.KVBytesPerToken, spec.Startup.LogLines)
	}
}

// TestSGLangSpecStatePool: v0.5.18's joint solve of the state pool with
// D = 4 draft tokens (Qwen3-Next at TP 4, NEXTN defaults (3, 1, 4)).
// per = 36 layers · (3·8192/4·2 + 32/4·128·128·4) = 36·536,576 =
// 19,316,736 B (float32 SSM, SGLang's default). rest 20 GiB: budget =
// ⌊20 GiB·0.9/1.9⌋ = 10,172,640,875 B; K = (budget − 5·per)·5 /
// (9·per) = 292 slots (without a draft (budget − per)/per = 525);
// intermediate states for min(48, 292/5) + 1 = 49 requests · 4 · per.
func TestSGLangSpecStatePool(t *testing.T) {
	qn := synQwen3Next80B
	qn.MTPLayers = 1
	r := sglangRunOK(t, qn, devH100, 4, "0.5.18", Settings{Spec: Speculative{Method: "mtp"}})
	var err error
	if r.statePerReq, r.stateConv, err = sglangStatePerRequest(r.m, 4, ""); err != nil {
		t.Fatal(err)
	}
	if r.statePerReq != 19_316_736 {
		t.Fatalf("state per request %d, want 19,316,736", r.statePerReq)
	}
	left := r.carveState(20)
	if r.stateSlots != 289 || r.specStates != 49 {
		t.Errorf("slots %d, intermediate states %d; want 289, 49", r.stateSlots, r.specStates)
	}
	// 20 GiB − (290 + 49·4)·19,316,736 B = 21,474,836,480 − 9,387,933,696.
	if want := float64(21_474_836_480-9_387_933_696) / float64(GiB); left < want-1e-9 || left > want+1e-9 {
		t.Errorf("left %.6f GiB, want %.6f", left, want)
	}
}
