package estimate

import (
	"strings"
	"testing"
)

// miniMaxM1 is MiniMax-M1 as hfmeta reads its config.json: 80 layers,
// every eighth full attention (8 KV heads × 128), the others lightning
// attention (64 heads × 128), every layer 32 experts of 9216, top-2.
func miniMaxM1() Model {
	m := Model{ID: "MiniMaxAI/MiniMax-M1-80k", Type: "minimax_m1", Layers: 80, Hidden: 6144, Heads: 64, KVHeads: 8,
		HeadDim: 128, Intermediate: 9216, Experts: 32, ExpertsPerToken: 2, Vocab: 200064, MaxPositions: 10240000,
		DType: BF16,
		State: State{Kind: KindLinear, Mixer: MixerLightning, ConvKernel: 1, KeyHeads: 64, KeyHeadDim: 128, ValueHeads: 64, ValueHeadDim: 128}}
	for i := range m.Layers {
		m.Kinds = append(m.Kinds, pick((i+1)%8 == 0, KindFull, KindLinear))
	}
	return m
}

// TestSynthesizeMiniMaxM1: the checkpoint's total_size is 912,210,767,872
// B (model.safetensors.index.json; catalog source.txt). Lightning layer
// (×70): qkv 3·8192·6144 + gate 8192·6144 + out 6144·8192 + norm 8192 =
// 251,666,432; full layer (×10): q 8192·6144 + k, v 2·1024·6144 + o
// 6144·8192 = 113,246,208; experts 80·32·3·9216·6144 = 434,865,438,720;
// routers 80·32·6144 = 15,728,640 (float32); 2·80 + 1 norms·6144; embed
// and lm_head 2·200064·6144 → 456,089,655,296 elements, and bytes
// 2·456,089,655,296 + 2·15,728,640 (the routers' extra 2 B) = 912,210,767,872.
func TestSynthesizeMiniMaxM1(t *testing.T) {
	m := miniMaxM1()
	if !layoutDerived(m) {
		t.Fatal("layoutDerived = false")
	}
	ts := SynthesizeTensors(m)
	var bytes int64
	for _, x := range ts {
		bytes += x.Bytes()
	}
	if n, by := synthElements(ts); n != 456_089_655_296 || by[F32] != 15_728_640 || bytes != 912_210_767_872 {
		t.Errorf("elements %d (F32 %d), bytes %d; want 456089655296 (15728640), 912210767872", n, by[F32], bytes)
	}
}

// TestLightningStateVLLM: one lightning layer keeps (H/tp)·D·D elements in
// the model dtype and no conv state; --mamba-ssm-cache-dtype does not
// change it (a warning says so). TP 1: 64·128·128·2 = 2,097,152 B; TP 8:
// 8·128·128·2 = 262,144 B. The full layers' KV: 10·2·(8/tp)·128·2 = 40,960
// B per token at TP 1, 5,120 at TP 8; blocks 16·⌈2,097,152 / (16·4096)⌉ =
// 512 and 16·⌈262,144 / (16·512)⌉ = 512, no padding.
func TestLightningStateVLLM(t *testing.T) {
	for _, c := range []struct {
		tp       int
		ssm      DType
		page, kv Bytes
	}{
		{1, "", 2_097_152, 40_960},
		{8, "", 262_144, 5_120},
		{8, F32, 262_144, 5_120},
	} {
		r, err := newVLLMRun(miniMaxM1(), Hardware{GPU: devH100, Count: c.tp}, Settings{MambaSSMDType: c.ssm}, vllmProfileFor(Version{0, 21, 0}, true))
		if err != nil {
			t.Fatal(err)
		}
		if r.statePage != c.page || r.perToken != c.kv || r.bs != 512 || r.pageBytes() != c.page {
			t.Errorf("tp %d ssm %q: state %d, KV %d, block %d, page %d; want %d, %d, 512, %d", c.tp, c.ssm, r.statePage, r.perToken, r.bs, r.pageBytes(), c.page, c.kv, c.page)
		}
		warned := strings.Contains(strings.Join(r.warnings, "\n"), "--mamba-ssm-cache-dtype F32 is ignored")
		if warned != (c.ssm != "") {
			t.Errorf("tp %d ssm %q: warned %v (%q)", c.tp, c.ssm, warned, r.warnings)
		}
		// 10 full and 70 lightning layers: groups of 10, 1 + 7.
		if r.groupSize != 10 || r.groups != 8 {
			t.Errorf("tp %d: group size %d, groups %d; want 10, 8", c.tp, r.groupSize, r.groups)
		}
	}
}
