package estimate

import (
	"errors"
	"math"
	"strings"
	"testing"
)

// qwen3Next80B is Qwen3-Next-80B-A3B's cache geometry: 48 layers, every
// fourth full attention (2 KV heads × 256), 36 gated delta nets (16 key
// heads, 32 value heads, 128 wide, conv kernel 4).
func qwen3Next80B() Model {
	m := Model{ID: "Qwen/Qwen3-Next-80B-A3B-Instruct", Type: "qwen3_next", Layers: 48, Hidden: 2048, Heads: 16, KVHeads: 2, HeadDim: 256,
		Intermediate: 5120, Vocab: 151936, MaxPositions: 262144, DType: BF16,
		State: State{Kind: KindLinear, ConvKernel: 4, KeyHeads: 16, KeyHeadDim: 128, ValueHeads: 32, ValueHeadDim: 128}}
	for i := range m.Layers {
		m.Kinds = append(m.Kinds, pick((i+1)%4 == 0, KindFull, KindLinear))
	}
	return m
}

// TestSGLangStatePool: docs/SGLANG-2026.md §2.7 B, Qwen3-Next at TP 4.
func TestSGLangStatePool(t *testing.T) {
	m := qwen3Next80B()
	// Per request at TP 4: 36 · (3·8192/4·2 + 32/4·128·128·4) = 36 · (12,288 + 524,288) = 19,316,736 B.
	per, conv, err := sglangStatePerRequest(m, 4, "")
	if err != nil || per != 19_316_736 || conv != 36*12_288 {
		t.Fatalf("per request %d, conv %d, %v; want 19316736, 442368", per, conv, err)
	}
	// --mamba-ssm-dtype bfloat16 halves the recurrent part: 36 · (12,288 + 262,144) = 9,879,552 B.
	if half, _, _ := sglangStatePerRequest(m, 4, BF16); half != 9_879_552 {
		t.Errorf("bf16 state: %d, want 9879552", half)
	}
	// 26.79 GiB left after the slack: the state pool's share is 26.79·0.9/1.9 = 12.69 GiB,
	// K = (12.69 GiB − per) // per = 704 slots, 705 allocated (12.68 GiB).
	r := &sglangRun{statePerReq: per, stateConv: conv}
	left := r.carveState(26.79)
	if r.stateSlots != 704 {
		t.Errorf("slots %d, want 704", r.stateSlots)
	}
	if want := 26.79 - 705*float64(per)/float64(GiB); left != want {
		t.Errorf("left %.6f GiB, want %.6f", left, want)
	}
	// conv 705·442,368 B = 0.29 GiB; ssm 705·36·524,288 B = 12.39 GiB.
	if line := r.stateLine(); !strings.HasPrefix(line, "Mamba Cache is allocated. max_mamba_cache_size: 704, conv_state size: 0.29GB, ssm_state size: 12.39GB") {
		t.Errorf("log line %q", line)
	}
	// Not enough for two slots: none.
	r = &sglangRun{statePerReq: per}
	if left := r.carveState(0.03); left != 0 || r.stateSlots != 0 {
		t.Errorf("tiny rest: left %v, slots %d", left, r.stateSlots)
	}
}

// TestSGLangStateRun: from v0.5.18 the state pool is sized, caps the
// running requests and leaves the estimate's confidence to the weights;
// before, state layers are named as not modelled.
func TestSGLangStateRun(t *testing.T) {
	m := qwen3Next80B()
	m.Tensors = SynthesizeTensors(m)
	m.TensorsFrom = WeightsFromCatalog
	hw := Hardware{GPU: devH100, Count: 4}
	res, err := Run(m, hw, Engine{Name: "sglang", Version: "0.5.18"}, Settings{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Startup.Fits || res.StateBytesPerSequence != 19_316_736 || res.MaxConcurrentSequences <= 0 {
		t.Fatalf("fits %v, state %d, sequences %d", res.Startup.Fits, res.StateBytesPerSequence, res.MaxConcurrentSequences)
	}
	if res.Confidence != ConfidenceHigh {
		t.Errorf("v0.5.18: confidence %s: %q", res.Confidence, res.Warnings)
	}
	if !strings.Contains(strings.Join(res.Startup.LogLines, "\n"), "Mamba Cache is allocated. max_mamba_cache_size: ") {
		t.Errorf("log lines %q", res.Startup.LogLines)
	}
	// v0.5.5 sizes it its own way (TestSGLangStatePoolV055); v0.5.8 was not read.
	early, err := Run(m, hw, Engine{Name: "sglang", Version: "0.5.5"}, Settings{})
	if err != nil {
		t.Fatal(err)
	}
	if early.Confidence != ConfidenceHigh || !strings.Contains(strings.Join(early.Warnings, "\n"), "3 state slots per request") {
		t.Errorf("v0.5.5: confidence %s, warnings %q", early.Confidence, early.Warnings)
	}
	old, err := Run(m, hw, Engine{Name: "sglang", Version: "0.5.8"}, Settings{})
	if err != nil {
		t.Fatal(err)
	}
	if old.Confidence != ConfidenceLow || !strings.Contains(strings.Join(old.Warnings, "\n"), "36 linear_attention layers are not modelled for SGLang") {
		t.Errorf("v0.5.8: confidence %s, warnings %q", old.Confidence, old.Warnings)
	}
}

// TestSGLangVLMFraction: adjust_mem_fraction_for_vlm on the default
// fraction. Gemma 3's SigLIP (27 layers, 1152 wide): ratio 27·1152² /
// (24·1024²) = 1.423828, factor 0.95·(1 − 0.1·0.423828) = 0.909736, so
// 0.830 → 0.755081 (docs/SGLANG-2026.md §4). Qwen2.5-VL names its layers
// depth, so SGLang reads 24: ratio 1280²/1024² = 1.5625, factor
// 0.95·0.94375 = 0.896563. Before v0.5.0 it is named as not modelled.
func TestSGLangVLMFraction(t *testing.T) {
	for _, c := range []struct {
		tower VisionTower
		want  float64
	}{
		{VisionTower{Kind: VisionSiglip, Depth: 27, Hidden: 1152}, 0.830 * 0.909736},
		{VisionTower{Kind: VisionQwen25VL, Depth: 32, Hidden: 1280}, 0.830 * 0.896563},
	} {
		r := &sglangRun{v: Version{0, 5, 5}, mfs: 0.830, m: Model{Vision: true, VisionTower: c.tower}}
		r.adjustForVLM()
		if math.Abs(r.mfs-c.want) > 1e-6 {
			t.Errorf("%s: mfs %.6f, want %.6f", c.tower.Kind, r.mfs, c.want)
		}
	}
	r := &sglangRun{v: Version{0, 4, 9}, mfs: 0.830, m: Model{Vision: true}}
	r.adjustForVLM()
	if r.mfs != 0.830 || len(r.unmodelled) != 1 {
		t.Errorf("v0.4.9: mfs %v, unmodelled %q", r.mfs, r.unmodelled)
	}
}

// TestSGLangIndexerCell: DeepSeek-V3.2 on SGLang v0.5.18 with bf16 KV:
// MLA 61·(512 + 64)·2 = 70,272 B plus the indexer 61·(128 + 128/128·4) =
// 8,052 B = 78,324 B per token (docs/SGLANG-2026.md §2.3's table); before
// v0.5.18 the indexer is not added (and the estimate says so).
func TestSGLangIndexerCell(t *testing.T) {
	m := Model{Layers: 61, KVLoraRank: 512, QKRopeHeadDim: 64, IndexHeadDim: 128}
	if got := servingKVBytesPerToken(m, 8, 2) + sglangIndexerCell(m, Version{0, 5, 18}); got != 78_324 {
		t.Errorf("v0.5.18 cell %d, want 78324", got)
	}
	if got := sglangIndexerCell(m, Version{0, 5, 5}); got != 0 {
		t.Errorf("v0.5.5 indexer %d, want 0", got)
	}
	u := unsizedKinds(&m, m.Counts(), EngineInfo{Name: "sglang", Title: "SGLang"}, "0.5.5")
	if len(u) != 1 || !strings.Contains(u[0], "sparse-attention indexer") {
		t.Errorf("v0.5.5 unsized %q", u)
	}
	if u := unsizedKinds(&m, m.Counts(), EngineInfo{Name: "sglang", Title: "SGLang"}, "0.5.18"); len(u) != 0 {
		t.Errorf("v0.5.18 unsized %q", u)
	}
}

// TestSGLangMMReservation: v0.5.18 takes 100 MiB of a multimodal model's
// KV budget for its embedding cache: with Llama-3.1-8B's 131,072 B per
// token that is 104,857,600 / 131,072 = 800 tokens fewer (the fraction
// given, so the VLM factor does not apply); v0.5.5 keeps it outside.
func TestSGLangMMReservation(t *testing.T) {
	text := llama31_8B
	text.Tensors, text.TensorsFrom = SynthesizeTensors(text), WeightsFromCatalog
	vlm := text
	vlm.Vision = true
	hw := Hardware{GPU: devH100, Count: 1}
	tokens := func(m Model, ver string) int {
		res, err := Run(m, hw, Engine{Name: "sglang", Version: ver}, Settings{MemFractionStatic: 0.85})
		if err != nil {
			t.Fatal(err)
		}
		return res.Startup.MaxBatchTotalTokens
	}
	if d := tokens(text, "0.5.18") - tokens(vlm, "0.5.18"); d < 799 || d > 801 {
		t.Errorf("v0.5.18: the reservation costs %d tokens, want 800", d)
	}
	if d := tokens(text, "0.5.5") - tokens(vlm, "0.5.5"); d != 0 {
		t.Errorf("v0.5.5: %d tokens, want 0", d)
	}
}

// TestSGLangPrefillGraphReserve: v0.5.18's prefill CUDA-graph sizes (42 up
// to 2048, 58 up to 8192, 74 up to 16384; docs/SGLANG-2026.md §1.2) and
// the MLA reserve: DeepSeek-V3 on 8 H200s (143,771 MiB, max_bs 512)
// reserves 512 + 12,288 + 1024 + 1024 + 1536 = 16,384 MiB → 0.886.
func TestSGLangPrefillGraphReserve(t *testing.T) {
	for maxBS, want := range map[int]int{2048: 42, 8192: 58, 16384: 74, 4: 1, 3: 0} {
		if got := sglangPrefillGraphSizes(maxBS); got != want {
			t.Errorf("sizes up to %d: %d, want %d", maxBS, got, want)
		}
	}
	r := &sglangRun{v: Version{0, 5, 18}, tp: 8, gpuMiB: 143771, m: synDeepseekV3, era: sglangEraReserve}
	r.resolveDefaults()
	if r.mfs != 0.886 {
		t.Errorf("DeepSeek-V3 on 8 H200s: mfs %.3f, want 0.886", r.mfs)
	}
}

// TestSGLangStatePoolV055: v0.5.5's handle_max_mamba_cache on the same
// 26.79 GiB. Qwen3-Next keeps the radix cache: K = ⌊12.69 GiB / 19,316,736
// B⌋ = ⌊705.39⌋ = 705 slots, 705·19,316,736 B charged (no padding slot),
// and 705 // 3 = 235 running requests. Kimi-Linear (and the Mamba2
// models) turn the radix cache off: 512 slots, one per request.
func TestSGLangStatePoolV055(t *testing.T) {
	const per = 19_316_736
	r := &sglangRun{statePerReq: per, v: Version{0, 5, 5}, m: Model{Type: "qwen3_next"}}
	left := r.carveState(26.79)
	if r.stateSlots != 705 || r.slotsPerRequest() != 3 || left != 26.79-705*float64(per)/float64(GiB) {
		t.Errorf("qwen3_next v0.5.5: %d slots, %d per request, %.6f GiB left", r.stateSlots, r.slotsPerRequest(), left)
	}
	k := &sglangRun{statePerReq: per, v: Version{0, 5, 6}, m: Model{Type: "kimi_linear"}}
	if left := k.carveState(26.79); k.stateSlots != 512 || k.slotsPerRequest() != 1 || left != 26.79-512*float64(per)/float64(GiB) {
		t.Errorf("kimi_linear v0.5.6: %d slots, %d per request, %.6f GiB left", k.stateSlots, k.slotsPerRequest(), left)
	}
	k.s.MaxNumSeqs = 64 // --max-running-requests 64
	if k.carveState(26.79); k.stateSlots != 64 {
		t.Errorf("--max-running-requests 64: %d slots", k.stateSlots)
	}
	// v0.5.8 to v0.5.17 were not read: not modelled.
	if sglangStateModelled(qwen3Next80B(), Version{0, 5, 8}) || !sglangStateModelled(qwen3Next80B(), Version{0, 5, 5}) {
		t.Error("the state pool is modelled at v0.5.5 – v0.5.6 and from v0.5.18 only")
	}
}

// TestSGLangNemotronMoE: v0.5.5 has no NemotronH MoE layers, so
// Nemotron-3-Nano is refused there with what serves it; v0.5.6 sizes it,
// its radix cache off: 512 state slots unless --max-running-requests.
func TestSGLangNemotronMoE(t *testing.T) {
	m := synNemotron3Nano
	m.Kinds = nil
	for _, c := range m.BlockPattern {
		switch c {
		case 'M':
			m.Kinds = append(m.Kinds, KindMamba2)
		case '*':
			m.Kinds = append(m.Kinds, KindFull)
		}
	}
	m.StateLayers = true
	hw := Hardware{GPU: devH100, Count: 2}
	_, err := Run(m, hw, Engine{Name: "sglang", Version: "0.5.5"}, Settings{NumShard: 2})
	var ns *NotServedError
	if !errors.As(err, &ns) || !errors.Is(err, ErrNotServed) || !strings.Contains(ns.Hint, "0.5.6") {
		t.Fatalf("v0.5.5: %v; want not served, with a hint naming v0.5.6", err)
	}
	res, err := Run(m, hw, Engine{Name: "sglang", Version: "0.5.6"}, Settings{NumShard: 2, MaxNumSeqs: 64})
	if err != nil || !strings.Contains(strings.Join(res.Startup.LogLines, "\n"), "max_mamba_cache_size: 64,") {
		t.Errorf("v0.5.6 with --max-running-requests 64: %v, %q", err, res.Startup.LogLines)
	}
}
