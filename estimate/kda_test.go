package estimate

import (
	"strings"
	"testing"
)

// kimiLinear48B is Kimi-Linear-48B-A3B-Instruct as hfmeta reads its
// config.json: 27 layers, 20 Kimi Delta Attention mixers (32 heads × 128,
// conv kernel 4) and 7 MLA layers (0-based 3, 7, …, 23 and 26; latent
// 512 + rope 64), layer 0 dense, the others 256 experts of 1024 and one
// shared expert.
func kimiLinear48B() Model {
	m := Model{ID: "moonshotai/Kimi-Linear-48B-A3B-Instruct", Type: "kimi_linear", Layers: 27, Hidden: 2304, Heads: 32,
		KVHeads: 32, HeadDim: 72, Intermediate: 9216, MoEIntermediate: 1024, Experts: 256, ExpertsPerToken: 8,
		SharedExperts: 1, DenseLayers: 1, SparseStep: 1, KVLoraRank: 512, QKRopeHeadDim: 64, QKNopeHeadDim: 128,
		VHeadDim: 128, Vocab: 163840, DType: BF16,
		State: State{Kind: KindLinear, Mixer: MixerKDA, ConvKernel: 4, KeyHeads: 32, KeyHeadDim: 128, ValueHeads: 32, ValueHeadDim: 128}}
	for i := range m.Layers {
		m.Kinds = append(m.Kinds, pick((i+1)%4 == 0 || i == 26, KindMLA, KindLinear))
	}
	return m
}

// devB200 is a Blackwell card (gpus catalog: 191,502,483,456 B, CC 10.0).
var devB200 = GPU{Name: "NVIDIA B200", TotalBytes: 191_502_483_456, SMITotalMiB: 183359, ComputeCapability: 100}

// TestKDAStateVLLM: one KDA layer's state per sequence is
// 3·(K−1)·(H·D/tp)·2 (conv, bf16) + (H/tp)·D·D·4 (recurrent, always
// float32), and --mamba-ssm-cache-dtype does not change it (said in a
// warning). The MLA layers keep 576 elements per token, not split by TP.
func TestKDAStateVLLM(t *testing.T) {
	for _, c := range []struct {
		tp    int
		ssm   DType
		page  Bytes
		words string
	}{
		// TP 1: 3·3·4096·2 = 73,728 + 32·128·128·4 = 2,097,152 → 2,170,880 B.
		{1, "", 2_170_880, ""},
		// TP 2: 36,864 + 1,048,576 = 1,085,440 B.
		{2, "", 1_085_440, ""},
		// bfloat16 asked for: still float32.
		{1, BF16, 2_170_880, "--mamba-ssm-cache-dtype BF16 is ignored"},
	} {
		r, err := newVLLMRun(kimiLinear48B(), Hardware{GPU: devH100, Count: c.tp}, Settings{MambaSSMDType: c.ssm}, vllmProfileFor(Version{0, 21, 0}, true))
		if err != nil {
			t.Fatal(err)
		}
		// KV per token: 7 MLA layers · 576 · 2 = 8,064 B at any TP.
		if r.statePage != c.page || r.perToken != 8064 || r.attnPage1 != 1152 {
			t.Errorf("tp %d ssm %q: state page %d, KV %d, attention page %d; want %d, 8064, 1152", c.tp, c.ssm, r.statePage, r.perToken, r.attnPage1, c.page)
		}
		if got := strings.Join(r.warnings, "\n"); !strings.Contains(got, c.words) || (c.words == "" && strings.Contains(got, "is ignored")) {
			t.Errorf("tp %d ssm %q: warnings %q, want %q", c.tp, c.ssm, got, c.words)
		}
	}
}

// TestKDABlockAlignment: the attention block that holds a KDA state page,
// A·⌈state page / (A · attention page)⌉, with A by release and MLA backend
// (report §3): v0.19 64; v0.20+ the backend's smallest kernel block, 16 for
// FLASH_ATTN_MLA (Hopper) and TRITON_MLA (Ampere), 32 for FLASHINFER_MLA
// (Blackwell), 64 for FLASHMLA (Hopper with an fp8 KV cache).
func TestKDABlockAlignment(t *testing.T) {
	for _, c := range []struct {
		ver  Version
		gpu  GPU
		tp   int
		kv   DType
		want int
	}{
		{Version{0, 21, 0}, devH100, 1, "", 1888},     // 16·⌈2,170,880 / (16·1152)⌉ = 16·118
		{Version{0, 21, 0}, devH100, 2, "", 944},      // 16·⌈1,085,440 / 18,432⌉ = 16·59
		{Version{0, 20, 0}, devA100, 2, "", 944},      // TRITON_MLA: as FLASH_ATTN_MLA
		{Version{0, 21, 0}, devB200, 1, "", 1888},     // 32·⌈2,170,880 / 36,864⌉ = 32·59
		{Version{0, 21, 0}, devB200, 2, "", 960},      // 32·⌈1,085,440 / 36,864⌉ = 32·30
		{Version{0, 19, 0}, devH100, 1, "", 1920},     // 64·⌈2,170,880 / 73,728⌉ = 64·30
		{Version{0, 19, 0}, devH100, 2, "", 960},      // 64·⌈1,085,440 / 73,728⌉ = 64·15
		{Version{0, 21, 0}, devH100, 1, F8E4M3, 3776}, // FLASHMLA, page 576: 64·⌈2,170,880 / 36,864⌉ = 64·59
		{Version{0, 21, 0}, devH100, 2, F8E4M3, 1920}, // 64·⌈1,085,440 / 36,864⌉ = 64·30
	} {
		r, err := newVLLMRun(kimiLinear48B(), Hardware{GPU: c.gpu, Count: c.tp}, Settings{KVCacheDType: c.kv}, vllmProfileFor(c.ver, true))
		if err != nil {
			t.Fatal(err)
		}
		if r.bs != c.want {
			t.Errorf("%s %s tp %d kv %q (%s): block %d, want %d", c.ver, c.gpu.Name, c.tp, c.kv, r.attention, r.bs, c.want)
		}
	}
}

// TestKDAGroups: 7 MLA + 20 KDA layers group by 7 (20 ≥ 1.5·7), one MLA
// group and three KDA groups with one padding layer. With 40 GiB for KV at
// TP 1 and --max-model-len 131072 (report §6.1): 42,949,672,960 //
// 2,174,976 // 7 = 2821 blocks; a request takes ⌈131072/1888⌉ + 3 = 73,
// so 2821/73 = 38.64x and int(38.6438… · 131072) = 5,065,124 tokens.
func TestKDAGroups(t *testing.T) {
	r, err := newVLLMRun(kimiLinear48B(), Hardware{GPU: devH100, Count: 1}, Settings{MaxModelLen: 131072}, vllmProfileFor(Version{0, 21, 0}, true))
	if err != nil {
		t.Fatal(err)
	}
	// Page 1888·1152 = 2,174,976 B; a block id is 7 pages.
	if r.groupSize != 7 || r.groups != 4 || r.pageBytes() != 2_174_976 || r.blockBytes() != 15_224_832 {
		t.Fatalf("group size %d, groups %d, page %d, block %d; want 7, 4, 2174976, 15224832", r.groupSize, r.groups, r.pageBytes(), r.blockBytes())
	}
	st := vllmStart{mml: 131072, mnbt: r.mnbt, avail: 40 * GiB}
	st.numBlocks = int64(st.avail) / int64(r.blockBytes())
	st.tokens = r.tokensOf(st)
	if st.numBlocks != 2821 || st.tokens != 5_065_124 || fixed2(r.concurrency(st, 131072)) != "38.64" {
		t.Errorf("blocks %d, tokens %d, concurrency %s; want 2821, 5065124, 38.64", st.numBlocks, st.tokens, fixed2(r.concurrency(st, 131072)))
	}
	// Padding: (2,174,976 − 2,170,880) / 2,170,880 = 0.19 %.
	if lines := strings.Join(r.hybridLogLines(), "\n"); !strings.Contains(lines, "Padding mamba page size by 0.19%") {
		t.Errorf("log lines %q", lines)
	}
}

// TestKDAStateSGLang: SGLang v0.5.18 keeps the conv state in bfloat16 and
// the recurrent state in float32 by default; --mamba-ssm-dtype bfloat16
// halves the recurrent part. Per request at TP 1: 20·(3·(3·32·128)·2 +
// 32·128·128·4) = 20·2,170,880 = 43,417,600 B; at TP 2 21,708,800 B. With
// 40 GiB after the slack the pool takes ⌊40·0.9/1.9 GiB⌋ = 20,344,581,928
// B: K = (20,344,581,928 − 43,417,600) // 43,417,600 = 467 slots.
func TestKDAStateSGLang(t *testing.T) {
	m := kimiLinear48B()
	if !sglangStateModelled(m, Version{0, 5, 18}) {
		t.Fatal("kimi_linear state not modelled on SGLang 0.5.18")
	}
	per, conv, err := sglangStatePerRequest(m, 1, "")
	if err != nil || per != 43_417_600 || conv != 20*73_728 {
		t.Fatalf("per request %d, conv %d, %v; want 43417600, 1474560", per, conv, err)
	}
	// 20·(36,864 + 1,048,576) = 21,708,800 B.
	if per2, _, _ := sglangStatePerRequest(m, 2, ""); per2 != 21_708_800 {
		t.Errorf("tp 2: %d, want 21708800", per2)
	}
	// bfloat16 recurrent state: 20·(73,728 + 1,048,576) = 22,446,080 B.
	if half, _, _ := sglangStatePerRequest(m, 1, BF16); half != 22_446_080 {
		t.Errorf("bf16: %d, want 22446080", half)
	}
	r := &sglangRun{statePerReq: per, stateConv: conv}
	r.carveState(40)
	if r.stateSlots != 467 {
		t.Errorf("slots %d, want 467", r.stateSlots)
	}
}
