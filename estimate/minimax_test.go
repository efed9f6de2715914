package estimate

import "testing"

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
