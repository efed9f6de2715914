package estimate

import (
	"errors"
	"testing"
)

// TestKVFormatPerToken holds each format to docs/KV-DTYPES.md §1.5 and
// §2.5, on Llama-3.1-8B (32 layers, 8 KV heads of 128) at TP 1, bytes per
// token and layer:
//
//	nvfp4:               8·2·(128/2 + 128/16) = 8·2·72 = 1,152
//	mxfp8:               8·2·(128 + 128/32) = 8·2·132 = 2,112
//	int8/fp8 per head:   8·2·128 + 2·8·4 = 2,048 + 64 = 2,112
//	int4 per head:       8·2·64 + 64 = 1,088
//
// and DeepSeek-V3's MLA latent in FP4: 576/2 + 576/16 = 324 per layer, 61
// layers = 19,764.
func TestKVFormatPerToken(t *testing.T) {
	for _, c := range []struct {
		d    DType
		want Bytes
	}{{KVNVFP4, 32 * 1152}, {KVFP4Block16, 32 * 1152}, {KVMXFP8, 32 * 2112}, {KVInt8PerTokenHead, 32 * 2112}, {KVFP8PerTokenHead, 32 * 2112}, {KVInt4PerTokenHead, 32 * 1088}} {
		if got := kvFormatPerToken(&llama31_8B, 1, c.d); got != c.want {
			t.Errorf("%s: %d B per token, want %d", c.d, got, c.want)
		}
	}
	// At TP 8 one KV head per rank: nvfp4 32·1·2·72 = 4,608.
	if got := kvFormatPerToken(&llama31_8B, 8, KVNVFP4); got != 4608 {
		t.Errorf("nvfp4 at TP 8: %d, want 4608", got)
	}
	if got := kvFormatPerToken(&synDeepseekV3, 8, KVNVFP4); got != 61*324 {
		t.Errorf("MLA nvfp4: %d, want %d", got, 61*324)
	}
}

func TestParseKVCacheDType(t *testing.T) {
	for in, want := range map[string]DType{"nvfp4": KVNVFP4, "FP4_MX_BLOCK16": KVFP4Block16, "mxfp8": KVMXFP8, "fp8_inc": F8E4M3, "fp8": F8E4M3, "int4_per_token_head": KVInt4PerTokenHead, "auto": ""} {
		if got, err := ParseKVCacheDType(in); err != nil || got != want {
			t.Errorf("%q: %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"turboquant_k8v4", "fp4_e2m1", "nvfp4_ds_mla"} {
		if _, err := ParseKVCacheDType(in); !errors.Is(err, ErrUnsupported) {
			t.Errorf("%q: %v, want ErrUnsupported", in, err)
		}
	}
}

// TestKVFormatStarts: each engine takes a format from its release, on the
// GPUs its kernels run on, and sizes the pool with it.
func TestKVFormatStarts(t *testing.T) {
	b200 := GPU{Name: "NVIDIA B200", TotalBytes: 191_514_001_408, SMITotalMiB: 183359, ComputeCapability: 100}
	ok := func(eng, ver string, g GPU, d DType, perToken Bytes) {
		t.Helper()
		res, err := Run(llama31_8B, Hardware{GPU: g, Count: 1}, Engine{Name: eng, Version: ver}, Settings{KVCacheDType: d, MaxModelLen: 8192})
		if err != nil {
			t.Fatalf("%s %s %s: %v", eng, ver, d, err)
		}
		if res.KVBytesPerToken != perToken {
			t.Errorf("%s %s %s: %d B per token, want %d", eng, ver, d, res.KVBytesPerToken, perToken)
		}
	}
	ok("vllm", "0.21.0", b200, KVNVFP4, 36_864)
	ok("vllm", "0.20.0", devH100, KVInt8PerTokenHead, 67_584)
	// SGLang's FP4 pool adds one fp8 workspace of 2·8·128 = 2,048 B per token.
	ok("sglang", "0.5.18", b200, KVNVFP4, 36_864+2048)
	ok("sglang", "0.5.18", devH100, KVFP4Block16, 36_864+2048)
	for _, c := range []struct {
		eng, ver string
		g        GPU
		d        DType
	}{
		{"vllm", "0.20.0", b200, KVNVFP4},              // no backend took it before v0.21
		{"vllm", "0.26.0", devH100, KVNVFP4},           // datacenter Blackwell only
		{"vllm", "0.19.0", devH100, KVFP8PerTokenHead}, // from v0.20
		{"vllm", "0.26.0", b200, KVMXFP8},              // SGLang's
		{"sglang", "0.5.15", b200, KVNVFP4},            // from v0.5.16
		{"sglang", "0.5.18", devH100, KVNVFP4},         // SM100 or SM120
		{"sglang", "0.5.18", devH100, KVMXFP8},         // SM100+
		{"sglang", "0.5.18", b200, KVInt8PerTokenHead},
		{"tgi", "3.3.7", b200, KVNVFP4},
	} {
		if _, err := Run(llama31_8B, Hardware{GPU: c.g, Count: 1}, Engine{Name: c.eng, Version: c.ver}, Settings{KVCacheDType: c.d}); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s %s on %s with %s: %v, want ErrInvalid", c.eng, c.ver, c.g.Name, c.d, err)
		}
	}
	if _, err := Run(synDeepseekV3, Hardware{GPU: b200, Count: 8}, Engine{Name: "vllm", Version: "0.26.0"}, Settings{KVCacheDType: KVNVFP4}); !errors.Is(err, ErrInvalid) {
		t.Errorf("vLLM nvfp4 with MLA: %v, want ErrInvalid", err)
	}
}
