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
		// v0.5.18 adds the prefill CUDA graphs, 8 MiB for each of the 58
		// sizes up to 8192: 13,440 + 464 = 13,904 MiB → 0.830
		// (docs/SGLANG-2026.md §1.4); TP 8 with max_bs 512: 512 + 12,288 +
		// 1024 + 1024 + 464 = 15,312 → 0.812.
		{"v0.5.18 h100 tp1", "0.5.18", devH100, 1, 0.830, 8192},
		{"v0.5.18 h100 tp8", "0.5.18", devH100, 8, 0.812, 8192},
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
		r := sglangDefaults(t, c.ver, c.g, c.tp)
		if math.Abs(r.mfs-c.wantMFS) > 1e-9 || r.chunk != c.wantChunk {
			t.Errorf("%s: mfs %.3f chunk %d, want %.3f / %d", c.name, r.mfs, r.chunk, c.wantMFS, c.wantChunk)
		}
	}
}

// sglangDefaults resolves a release's defaults for Llama-3.1-8B on g.
func sglangDefaults(t *testing.T, ver string, g GPU, tp int) *sglangRun {
	t.Helper()
	v, err := ParseVersion(ver)
	if err != nil {
		t.Fatal(err)
	}
	r := &sglangRun{v: v, tp: tp, gpuMiB: g.SMITotalMiB, m: llama31_8B, era: sglangEraFor(v)}
	r.resolveDefaults()
	return r
}

// TestSGLangReleaseDefaults holds each release's defaults to its source.
func TestSGLangReleaseDefaults(t *testing.T) {
	h200 := GPU{Name: "NVIDIA H200", SMITotalMiB: 143771, ComputeCapability: 90}
	b200 := GPU{Name: "NVIDIA B200", SMITotalMiB: 183359, ComputeCapability: 100}
	for _, c := range []struct {
		name           string
		ver            string
		g              GPU
		tp             int
		mfs            float64
		chunk, graphBS int
	}{
		// The reserve formula is in v0.5.3: "reserved_mem = 512" and
		// "reserved_mem += max(self.chunked_prefill_size, 2048) * 1.5"
		// (https://github.com/sgl-project/sglang/blob/v0.5.3/python/sglang/srt/server_args.py#L639-L672);
		// there cuda_graph_max_bs is 16 below 35 GiB at tp < 4 (24 from
		// v0.5.5): 512 + 3072 + 32 + 128 = 3,744 MiB → round(20,832/24,576, 3).
		{"v0.5.3 reserve 3090", "0.5.3", devRTX309, 1, 0.848, 2048, 16},
		{"v0.5.4 reserve 3090", "0.5.4", devRTX309, 1, 0.848, 2048, 16},
		{"v0.5.5 reserve 3090", "0.5.5", devRTX309, 1, 0.847, 2048, 24},
		// v0.5.2 still has sglang#7054's buckets; below 35 GiB
		// "self.cuda_graph_max_bs = 8" at tp < 4, 80 else
		// (https://github.com/sgl-project/sglang/blob/v0.4.8/python/sglang/srt/server_args.py#L318-L337):
		// reserved 2.8 + tp/10 GiB → round((24,576 − 2,969.6)/24,576, 3) at
		// tp 1, round((24,576 − 3,276.8)/24,576, 3) at tp 4.
		{"v0.5.2 buckets 3090", "0.5.2", devRTX309, 1, 0.879, 2048, 8},
		{"v0.4.8 buckets 3090 tp4", "0.4.8", devRTX309, 4, 0.867, 2048, 80},
		// TP tables: `self.mem_fraction_static = 0.82` at tp ≥ 8 in v0.3.6
		// (https://github.com/sgl-project/sglang/blob/v0.3.6/python/sglang/srt/server_args.py#L157-L166),
		// 0.83 in v0.3.5
		// (https://github.com/sgl-project/sglang/blob/v0.3.5/python/sglang/srt/server_args.py#L144-L154),
		// 0.89 at tp 1 and 0.84 at tp ≥ 8 in v0.2.6
		// (https://github.com/sgl-project/sglang/blob/v0.2.6/python/sglang/srt/server_args.py#L73-L83).
		// Chunked prefill is a fixed 8192 before v0.4.0
		// (`chunked_prefill_size: int = 8192`,
		// https://github.com/sgl-project/sglang/blob/v0.3.6/python/sglang/srt/server_args.py#L63),
		// then 2048 below 25,000 MiB.
		{"v0.3.6 tp8", "0.3.6", devH100, 8, 0.82, 8192, 160},
		{"v0.3.5 tp8", "0.3.5", devH100, 8, 0.83, 8192, 160},
		{"v0.2.6 tp1", "0.2.6", devH100, 1, 0.89, 8192, 160},
		{"v0.2.6 tp8", "0.2.6", devH100, 8, 0.84, 8192, 160},
		{"v0.2.7 tp1", "0.2.7", devH100, 1, 0.88, 8192, 160},
		{"v0.3.6 3090", "0.3.6", devRTX309, 1, 0.88, 8192, 160},
		{"v0.4.0 3090", "0.4.0", devRTX309, 1, 0.88, 2048, 160},
		// Above 81,920 MiB: v0.4.6 "(gpu_mem - 1024 * 13) / gpu_mem"
		// (https://github.com/sgl-project/sglang/blob/v0.4.6/python/sglang/srt/server_args.py#L236-L238):
		// (143,771 − 13,312)/143,771 on an H200.
		{"v0.4.6 h200", "0.4.6", h200, 1, (143771.0 - 13312) / 143771, 8192, 160},
		// v0.4.7: min(0.88 + 48·1024·0.12/gpu_mem, (gpu_mem − 18·1024)/gpu_mem)
		// above 96 GiB, 0.79 above 180,000 MiB with chunk 16384
		// (https://github.com/sgl-project/sglang/blob/v0.4.7/python/sglang/srt/server_args.py#L266-L292).
		{"v0.4.7 h200", "0.4.7", h200, 1, (143771.0 - 18432) / 143771, 8192, 160},
		{"v0.4.7 b200", "0.4.7", b200, 1, 0.79, 16384, 160},
		{"v0.4.5 h200 (TP table)", "0.4.5", h200, 1, 0.88, 8192, 160},
	} {
		r := sglangDefaults(t, c.ver, c.g, c.tp)
		if math.Abs(r.mfs-c.mfs) > 1e-9 || r.chunk != c.chunk || r.graphBS != c.graphBS {
			t.Errorf("%s: mfs %.6f chunk %d graphs %d, want %.6f / %d / %d", c.name, r.mfs, r.chunk, r.graphBS, c.mfs, c.chunk, c.graphBS)
		}
	}
}

// TestSGLangAttention follows the default backend selection: MHA "fa3" on
// Hopper from v0.4.6, else "flashinfer"; MLA "fa3" on Hopper, "flashinfer"
// on Blackwell from v0.4.8, else "triton"
// (https://github.com/sgl-project/sglang/blob/v0.5.5/python/sglang/srt/server_args.py#L1129-L1179).
func TestSGLangAttention(t *testing.T) {
	b200 := GPU{Name: "NVIDIA B200", ComputeCapability: 100}
	mla := Model{KVLoraRank: 512}
	for _, c := range []struct {
		ver  string
		m    Model
		g    GPU
		want string
	}{
		{"0.5.5", llama31_8B, devH100, "fa3"},
		{"0.5.5", llama31_8B, b200, "flashinfer"},
		{"0.5.5", llama31_8B, devA100, "flashinfer"},
		{"0.5.5", llama31_8B, GPU{ComputeCapability: 75}, "flashinfer"},
		{"0.5.5", mla, devH100, "fa3"},
		{"0.5.5", mla, b200, "flashinfer"},
		{"0.5.5", mla, devA100, "triton"},
		{"0.4.7", mla, b200, "triton"},
		{"0.4.5", llama31_8B, devH100, "flashinfer"},
		{"0.4.5", mla, devH100, "triton"},
	} {
		r := &sglangRun{v: mustVersion(t, c.ver), m: c.m, hw: Hardware{GPU: c.g}}
		if got := r.attention(); got != c.want {
			t.Errorf("%s %v on cc %d: %s, want %s", c.ver, c.m.IsMLA(), c.g.ComputeCapability, got, c.want)
		}
	}
}

func TestSGLangPool(t *testing.T) {
	// Llama-3.1-8B, one H100, v0.5.5 defaults: total = free before the
	// weights = 85,017,755,648 − 737 MiB = 84,244,955,136 B (78.4588 GiB);
	// rest = mfs·total − weights = 0.835·78.4588 − 14.9883 GiB; tokens =
	// ⌊rest·2^30 / 131,072⌋.
	res := runOK(t, llama31_8B, devH100, 1, "sglang", "0.5.5", Settings{})
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
	capped := runOK(t, llama31_8B, devH100, 1, "sglang", "0.5.5", Settings{SGLangMaxTotalTokens: 100_000, BlockSize: 64})
	if got := capped.Startup.MaxBatchTotalTokens; got != 99_968 { // ⌊100,000/64⌋·64
		t.Errorf("capped pool %d, want 99,968", got)
	}
	loose := runOK(t, llama31_8B, devH100, 1, "sglang", "0.5.5", Settings{SGLangMaxTotalTokens: 10 * want})
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

// TestSGLangFractionAdvice: a start that fails for want of pool suggests
// the --mem-fraction-static that starts, and a fraction that leaves less
// than the run-time peak outside the pool is warned about. Each suggestion
// is checked by running it.
func TestSGLangFractionAdvice(t *testing.T) {
	warning := func(res Result, prefix string) string {
		for _, w := range res.Warnings {
			if strings.HasPrefix(w, prefix) {
				return w
			}
		}
		return ""
	}
	pool := func(g GPU, mfs float64, ctx int) Result {
		return runOK(t, llama31_8B, g, 1, "sglang", "", Settings{MemFractionStatic: mfs, MaxModelLen: ctx})
	}

	// One H100, v0.5.5: total = 85,017,755,648 B − 737 MiB = 78.4588 GiB,
	// weights 14.9883 GiB, so available = 63.4705 GiB. One full
	// 131,072-token request is 131,072 · 131,072 B = 16 GiB of pool:
	// mfs ≥ 1 − (63.4705 − 16)/78.4588 = 0.39497 → 0.395.
	res := pool(devH100, 0.15, 0)
	if res.Startup.Failure != FailureNotEnoughMemory {
		t.Fatalf("mfs 0.15 on an H100: %+v", res.Startup)
	}
	if w := warning(res, "--mem-fraction-static 0.395 starts with a KV pool of one full --context-length 131072 request"); w == "" {
		t.Errorf("mfs 0.15: warnings %q", res.Warnings)
	}
	if got := pool(devH100, 0.395, 0).Startup.MaxBatchTotalTokens; got < 131072 {
		t.Errorf("the suggested 0.395 gives a pool of %d tokens, want ≥ 131,072", got)
	}
	if got := pool(devH100, 0.394, 0).Startup.MaxBatchTotalTokens; got >= 131072 {
		t.Errorf("0.394 gives %d tokens: the suggestion is not the smallest", got)
	}

	// mfs 0.999 leaves 0.001 · 78.4588 = 0.08 GiB outside the pool; the run
	// time needs the forward pass of an 8192-token chunk (864 MiB) and 256
	// CUDA graphs · 2 MiB = 1.34 GiB: at most 1 − 1.34/78.4588 = 0.9829 →
	// 0.982 leaves it.
	res = pool(devH100, 0.999, 0)
	if !res.Startup.Fits || warning(res, "--mem-fraction-static 0.999 leaves 0.08 GiB outside the KV pool, less than the 1.34 GiB") == "" ||
		!strings.HasSuffix(warning(res, "--mem-fraction-static 0.999"), "at most 0.982 leaves it") {
		t.Errorf("mfs 0.999: fits %v, warnings %q", res.Startup.Fits, res.Warnings)
	}
	if w := warning(pool(devH100, 0.982, 0), "--mem-fraction-static"); w != "" {
		t.Errorf("0.982 still warned: %q", w)
	}
	if w := warning(pool(devH100, 0.984, 0), "--mem-fraction-static"); w == "" {
		t.Error("0.984 not warned")
	}
	// The default fraction leaves room: no advice.
	if w := warning(pool(devH100, 0, 0), "--mem-fraction-static"); w != "" {
		t.Errorf("default fraction: %q", w)
	}

	// A 3090 cannot hold a full 131,072-token request (16 GiB) beside the
	// 15 GiB of weights: the smallest fraction that starts (one token) is
	// suggested with the context a full request can have at the largest
	// fraction that leaves the run-time peak.
	res = pool(devRTX309, 0.5, 0)
	w := warning(res, "--mem-fraction-static 0.656 starts, with a KV pool shorter than --context-length 131072 (requests are capped); full-length requests need --mem-fraction-static 0.988 with --context-length 62236 at most")
	if res.Startup.Fits || w == "" {
		t.Fatalf("mfs 0.5 on a 3090: %+v, warnings %q", res.Startup, res.Warnings)
	}
	if got := pool(devRTX309, 0.656, 0); !got.Startup.Fits || pool(devRTX309, 0.655, 0).Startup.Fits {
		t.Errorf("0.656 fits %v, 0.655 should not", got.Startup.Fits)
	}
	full := pool(devRTX309, 0.988, 62236)
	if full.Startup.MaxBatchTotalTokens < 62236 || warning(full, "--mem-fraction-static") != "" || warning(full, "the KV pool") != "" {
		t.Errorf("0.988 at 62,236: pool %d, warnings %q", full.Startup.MaxBatchTotalTokens, full.Warnings)
	}

	// A 16,200 MiB card: the weights (15,348 MiB) and the CUDA context (737
	// MiB) leave 115 MiB, less than the run-time peak: no
	// fraction both starts and serves, and the warning says what would.
	tight := GPU{Name: "tight", TotalBytes: 16_200 * MiB, SMITotalMiB: 16_200, ComputeCapability: 75}
	res = pool(tight, 0.9, 0)
	if res.Startup.Failure != FailureNotEnoughMemory || !strings.Contains(warning(res, "no --mem-fraction-static both starts"), "use more GPUs (--tp-size), a quantized checkpoint or a smaller --chunked-prefill-size") {
		t.Errorf("tight card: %s, warnings %q", res.Startup.Failure, res.Warnings)
	}

	// Weights that do not fit get no fraction advice: no fraction helps.
	huge := llama31_8B
	huge.Layers *= 4
	if res := pool(devRTX309, 0.9, 0); res.Startup.Failure == FailureWeights {
		t.Fatalf("llama 8B weights fail on a 3090")
	}
	res = runOK(t, huge, devRTX309, 1, "sglang", "", Settings{MemFractionStatic: 0.9})
	if res.Startup.Failure != FailureWeights || warning(res, "--mem-fraction-static") != "" || warning(res, "no --mem-fraction-static") != "" {
		t.Errorf("weights too big: %s, warnings %q", res.Startup.Failure, res.Warnings)
	}
}

// TestSGLangNewerRelease: a release after the newest tag read is sized as
// v0.5.18 and says so; v0.5.18 itself does not.
func TestSGLangNewerRelease(t *testing.T) {
	newer := runOK(t, llama31_8B, devH100, 1, "sglang", "0.5.20", Settings{})
	read := runOK(t, llama31_8B, devH100, 1, "sglang", "0.5.18", Settings{})
	if hasLine(newer.Warnings, "SGLang 0.5.20 is newer than the newest release vramcalc has read (v0.5.18)") == "" || hasLine(read.Warnings, "SGLang 0.5.18 is newer") != "" {
		t.Errorf("warnings: 0.5.20 %q; 0.5.18 %q", newer.Warnings, read.Warnings)
	}
	if newer.Startup.MaxBatchTotalTokens != read.Startup.MaxBatchTotalTokens || newer.Startup.MaxBatchTotalTokens == 0 {
		t.Errorf("0.5.20 sized %d KV tokens, v0.5.18 %d: want v0.5.18's", newer.Startup.MaxBatchTotalTokens, read.Startup.MaxBatchTotalTokens)
	}
}

// TestNVLSBoard: NCCL's NVLink SHARP buffers (sglangDistInit, vLLM's
// vllmCommNVLS) belong to NVSwitch datacenter boards only; GeForce and RTX
// PRO Blackwell cards (compute capability 12.0) have no NVLink. On such a
// card, Qwen3-32B at TP 4 on SGLang 0.5.13 (testdata/startup_reports_dev.csv
// row 400) goes from −7.13% to +1.50% once the 1.25 GiB is not charged.
func TestNVLSBoard(t *testing.T) {
	for _, c := range []struct {
		name string
		cc   int
		want bool
	}{
		{"NVIDIA H100 80GB HBM3", 90, true},
		{"NVIDIA H200", 90, true},
		{"NVIDIA B200", 100, true},
		{"NVIDIA H100 PCIe", 90, false},
		{"NVIDIA H100 NVL", 90, false},
		{"NVIDIA A100-SXM4-80GB", 80, false},
		{"NVIDIA GeForce RTX 5090", 120, false},
		{"NVIDIA RTX PRO 6000 Blackwell Server Edition", 120, false},
	} {
		if got := nvlsBoard(GPU{Name: c.name, ComputeCapability: c.cc}); got != c.want {
			t.Errorf("%s (CC %d): NVLS %v, want %v", c.name, c.cc, got, c.want)
		}
	}
}
