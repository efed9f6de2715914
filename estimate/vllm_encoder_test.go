package estimate

import "testing"

// TestVLLMEncoderProfile checks the encoder's profile against the two
// data points of docs/VLLM-ENCODER.md §3.3 (the arithmetic is the doc's,
// from vLLM's source; the logs are rows 302 and 201 of the dev file).
func TestVLLMEncoderProfile(t *testing.T) {
	// Qwen2.5-VL-7B on v0.23.0 at max_model_len 128000: video wins with
	// 7·16384 = 114,688 tokens (the log's "Encoder cache will be
	// initialized with a budget of 114688 tokens, and profiled with 1
	// video items"); 4·114,688 = 458,752 patches of 3·2·14² = 1176 values:
	// pixels 458,752·1176·2 = 1,078,984,704 B; the block 10NH + 6NI =
	// 5,872,025,600 + 9,413,591,040 = 15,285,616,640; outputs
	// 114,688·3584·2 = 822,083,584.
	qwen := Model{Type: "qwen2_5_vl", Layers: 28, Hidden: 3584, Heads: 28, KVHeads: 4, Intermediate: 18944, Vocab: 152064, DType: BF16,
		Vision: true, VisionTower: visQwen25VL7B}
	a100 := GPU{Name: "NVIDIA A100-SXM4-80GB", TotalBytes: 85_100_000_000, SMITotalMiB: 81920, ComputeCapability: 80}
	r, err := newVLLMRun(qwen, Hardware{GPU: a100, Count: 1}, Settings{MaxModelLen: 128000, GPUMemoryUtilization: 0.22}, vllmProfileFor(Version{0, 23, 0}, true))
	if err != nil {
		t.Fatal(err)
	}
	e, ok := r.encoderProfile(r.mml, r.mnbt)
	if !ok || e.modality != "video" || e.items != 1 || e.tokens != 114_688 || e.peak != 1_078_984_704+15_285_616_640 || e.held != 1_078_984_704+822_083_584 {
		t.Errorf("Qwen2.5-VL: %+v (ok %v); want 1 video of 114,688 tokens, peak 16,364,601,344, held 1,901,068,288", e, ok)
	}
	// The encoder's phase is the profile's peak: the log's non-KV less the
	// weights is ≈ 15.49 GiB; this peak (15.24 GiB) plus cuBLAS.
	if act := r.profilePeak(r.mml, r.mnbt); act != e.peak+r.cublas {
		t.Errorf("activation %d, want the encoder's %d + cuBLAS %d", act, e.peak, r.cublas)
	}
	// The start fails as the logged one did, and says its negative budget
	// first ("Available KV cache memory: -14.28 GiB" in the log).
	if res := r.result(Engine{Name: "vllm", Version: "0.23.0"}); res.Startup.Failure != FailureNoKVMemory || hasLine(res.Startup.LogLines, "Available KV cache memory: -") == "" {
		t.Errorf("Qwen2.5-VL at 0.22: failure %q, log %q; want no_kv_cache_memory after a negative budget", res.Startup.Failure, res.Startup.LogLines)
	}
	// At max_model_len 32768 the video has 4 frames, 2·16384 tokens.
	if e, _ := r.encoderProfile(32768, r.mnbt); e.modality != "video" || e.tokens != 32768 || e.items != 1 {
		t.Errorf("at 32768: %+v, want 1 video of 32,768 tokens", e)
	}
	// --limit-mm-per-prompt '{"video": 0}': one 16,384-token image, 65,536 patches.
	r.s.NoVideo = true
	if e, _ := r.encoderProfile(r.mml, r.mnbt); e.modality != "image" || e.tokens != 16384 {
		t.Errorf("without video: %+v", e)
	}

	// Gemma-3-27B on an H100 (8192 batched tokens): 32 images of 256
	// tokens, 4096 patches each: pixels 32·3·896²·2 = 154,140,672, block
	// 6NH + 4NI = 905,969,664 + 2,256,535,552 = 3,162,505,216, outputs
	// 32·256·5376·2 = 88,080,384.
	gemma := Model{Type: "gemma3", Layers: 62, Hidden: 5376, Heads: 32, KVHeads: 16, HeadDim: 128, Intermediate: 21504, Vocab: 262208, DType: BF16,
		Vision: true, VisionTower: visGemma3}
	r, err = newVLLMRun(gemma, Hardware{GPU: devH100, Count: 1}, Settings{MaxModelLen: 8192, GPUMemoryUtilization: 0.95}, vllmProfileFor(Version{0, 19, 0}, true))
	if err != nil {
		t.Fatal(err)
	}
	e, ok = r.encoderProfile(r.mml, r.mnbt)
	if !ok || e.items != 32 || e.tokens != 256 || e.peak != 154_140_672+3_162_505_216 || e.held != 154_140_672+88_080_384 {
		t.Errorf("Gemma 3: %+v (ok %v); want 32 images of 256 tokens, peak 3,316,645,888, held 242,221,056", e, ok)
	}
	// Mistral 3's Pixtral is not sized.
	mistral := gemma
	mistral.Type, mistral.VisionTower = "mistral3", visPixtral
	if r, err := newVLLMRun(mistral, Hardware{GPU: devH100, Count: 1}, Settings{MaxModelLen: 8192}, vllmProfileFor(Version{0, 19, 0}, true)); err != nil || len(r.unmodelled) == 0 {
		t.Errorf("Pixtral: %v, unmodelled %v", err, r.unmodelled)
	}
}
