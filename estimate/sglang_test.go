package estimate

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

func TestSGLangDevRows(t *testing.T) { checkDevRows(t, "sglang", 3, 3) }

func TestSGLangMemFractionDefaults(t *testing.T) {
	for _, c := range []struct {
		name      string
		ver       string
		g         GPU
		tp        int
		wantMFS   float64
		wantChunk int
	}{
		// sglang#10975 on an H100 (81,559 MiB): 512 + 8192·1.5 + 256·2 +
		// 1/8·1024 = 13,440 MiB (above the 10 GiB floor);
		// round((81,559 − 13,440)/81,559, 3) = 0.835.
		{"reserve h100 tp1", "0.5.5", devH100, 1, 0.835, 8192},
		// TP 4: cuda_graph_max_bs 512, 512 + 12,288 + 1024 + 512 = 14,336 MiB → 0.824.
		{"reserve h100 tp4", "0.5.5", devH100, 4, 0.824, 8192},
		// RTX 3090 (24,576 MiB): chunk 2048, max_bs 24: 512 + 3072 + 48 + 128
		// = 3,760 MiB → round(20,816/24,576, 3) = 0.847.
		{"reserve 3090", "0.5.5", devRTX309, 1, 0.847, 2048},
		// sglang#7054 buckets: < 90 GiB reserves 9.5 + tp/2 GiB: (81,559 −
		// 10,240)/81,559 = 0.874 at TP 1; TP 4: 11.5 GiB → 0.856.
		{"buckets h100 tp1", "0.4.9", devH100, 1, 0.874, 8192},
		{"buckets h100 tp4", "0.4.9", devH100, 4, 0.856, 8192},
		// The TP table before.
		{"tp table tp1", "0.4.0", devH100, 1, 0.88, 8192},
		{"tp table tp2", "0.4.0", devH100, 2, 0.87, 8192},
		{"tp table tp8", "0.4.0", devH100, 8, 0.81, 8192},
	} {
		v, _ := ParseVersion(c.ver)
		r := &sglangRun{v: v, tp: c.tp, gpuMiB: c.g.SMITotalMiB, m: llama31_8B}
		switch {
		case v.AtLeast(0, 5, 4):
			r.era = sglangEraReserve
		case v.AtLeast(0, 4, 8):
			r.era = sglangEraBuckets
		}
		r.resolveDefaults()
		if math.Abs(r.mfs-c.wantMFS) > 1e-9 || r.chunk != c.wantChunk {
			t.Errorf("%s: mfs %.3f chunk %d, want %.3f / %d", c.name, r.mfs, r.chunk, c.wantMFS, c.wantChunk)
		}
	}
}

func TestSGLangPool(t *testing.T) {
	// Llama-3.1-8B, one H100, v0.5.5 defaults: total = free before the
	// weights = 85,017,755,648 − 737 MiB = 84,244,955,136 B (78.4588 GiB);
	// rest = mfs·total − weights = 0.835·78.4588 − 14.9883 GiB; tokens =
	// ⌊rest·2^30 / 131,072⌋.
	res := runOK(t, llama31_8B, devH100, 1, "sglang", "", Settings{})
	total := float64(85_017_755_648-737*(1<<20)) / (1 << 30)
	w := res.PerGPU.Weights.GiBs()
	want := int(math.Floor((0.835*total - w) * (1 << 30) / 131072))
	if got := res.Startup.MaxBatchTotalTokens; got != want {
		t.Errorf("tokens %d, want %d", got, want)
	}
	if res.PerGPU.KVCache != Bytes(want)*131072 {
		t.Errorf("KV bytes %d, want %d", res.PerGPU.KVCache, want*131072)
	}
	l := hasLine(res.Startup.LogLines, "KV Cache is allocated. #tokens: ")
	if !strings.Contains(l, ", K size: ") || !strings.Contains(hasLine(res.Startup.LogLines, "max_total_num_tokens="), "chunked_prefill_size=8192") {
		t.Errorf("log lines %q", res.Startup.LogLines)
	}
	// SGLang's own --max-total-tokens caps the pool (then page rounding);
	// a cap above the profiled value is ignored with SGLang's warning.
	capped := runOK(t, llama31_8B, devH100, 1, "sglang", "", Settings{SGLangMaxTotalTokens: 100_000, BlockSize: 64})
	if got := capped.Startup.MaxBatchTotalTokens; got != 99_968 { // ⌊100,000/64⌋·64
		t.Errorf("capped pool %d, want 99,968", got)
	}
	loose := runOK(t, llama31_8B, devH100, 1, "sglang", "", Settings{SGLangMaxTotalTokens: 10 * want})
	if loose.Startup.MaxBatchTotalTokens != want || !strings.Contains(strings.Join(loose.Warnings, "\n"), fmt.Sprintf("max_total_tokens=%d is larger than the profiled value %d", 10*want, want)) {
		t.Errorf("cap above the pool: %d tokens, warnings %q", loose.Startup.MaxBatchTotalTokens, loose.Warnings)
	}
	// --mem-fraction-static too small for the weights.
	res = runOK(t, llama31_8B, devRTX309, 1, "sglang", "", Settings{MemFractionStatic: 0.5})
	if res.Startup.Fits || res.Startup.Failure != FailureNotEnoughMemory {
		t.Errorf("mfs 0.5 on a 3090: %+v", res.Startup)
	}
	// MLA keeps the latent: (512 + 64) · 61 layers · 2 B = 70,272 B per token on every rank.
	ds := Model{ID: "deepseek-ai/DeepSeek-V3", Type: "deepseek_v3", Layers: 61, Hidden: 7168, Heads: 128, KVHeads: 128,
		Intermediate: 18432, Vocab: 129280, MaxPositions: 163840, DType: BF16, Experts: 256, ExpertsPerToken: 8,
		MoEIntermediate: 2048, SharedExperts: 1, DenseLayers: 3, KVLoraRank: 512, QLoraRank: 1536, QKRopeHeadDim: 64,
		QKNopeHeadDim: 128, VHeadDim: 128, QuantMethod: "fp8"}
	b200 := GPU{Name: "NVIDIA B200", TotalBytes: 191_514_607_616, SMITotalMiB: 183359, ComputeCapability: 100}
	res = runOK(t, ds, b200, 8, "sglang", "", Settings{})
	if res.KVBytesPerToken != 70_272 || !strings.Contains(hasLine(res.Startup.LogLines, "KV Cache is allocated."), "KV size:") {
		t.Errorf("MLA cell %d, lines %q", res.KVBytesPerToken, res.Startup.LogLines)
	}
}

func BenchmarkRunSGLangLlama8B(b *testing.B) {
	hw := Hardware{GPU: devH100, Count: 1}
	for b.Loop() {
		if _, err := Run(llama31_8B, hw, Engine{Name: "sglang"}, Settings{}); err != nil {
			b.Fatal(err)
		}
	}
}
