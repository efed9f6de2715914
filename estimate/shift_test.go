package estimate

import "testing"

// TestShiftsMoveTheServingPools pins what validate's search and calibrate
// lean on for vLLM and SGLang: memory in use beyond the model
// (ExtraOverheadBytes, Corrections.OverheadBytes), memory the pool is sized
// without (ExtraReserveBytes) and vLLM's CUDA-graph correction each move
// the KV pool by exactly their bytes, and the activation factor scales the
// profile peak.
func TestShiftsMoveTheServingPools(t *testing.T) {
	const gib = 1 << 30
	m := llama3_8B
	m.Tensors = llamaTensors(m)
	hw := Hardware{GPU: h100, Count: 1}
	kv := func(eng string, ver string, s Settings) (Bytes, Result) {
		t.Helper()
		s.MaxModelLen = 8192
		r, err := Run(m, hw, Engine{Name: eng, Version: ver}, s)
		if err != nil {
			t.Fatal(err)
		}
		return r.PerGPU.KVCache, r
	}
	base, b0 := kv("vllm", "0.21.0", Settings{})
	// Llama-3-8B bf16 KV = 2·32·8·128·2 = 131,072 B/token: 1 GiB is 8,192 tokens.
	if b0.KVBytesPerToken != 131072 {
		t.Fatalf("KV per token %d, want 131072", b0.KVBytesPerToken)
	}
	for _, c := range []struct {
		name string
		s    Settings
		want Bytes // the pool's change
	}{
		{"extra overhead 1 GiB", Settings{ExtraOverheadBytes: gib}, -gib},
		{"extra reserve 512 MiB", Settings{ExtraReserveBytes: gib / 2}, -gib / 2},
		{"reserve −256 MiB gives the pool more", Settings{ExtraReserveBytes: -gib / 4}, gib / 4},
		// More room than modelled, beyond the modelled non-torch memory:
		// the pool grows by all of it (the breakdown takes it from the
		// non-torch memory and the context, never below 0).
		{"extra overhead −2 GiB", Settings{ExtraOverheadBytes: -2 * gib}, 2 * gib},
		{"corrections overhead 768 MiB", Settings{Corrections: &Corrections{OverheadBytes: 3 * gib / 4}}, -3 * gib / 4},
		// v0.20+ budgets the graphs before the pool.
		{"corrections CUDA graphs 300 MiB", Settings{Corrections: &Corrections{CUDAGraphBytes: 300 << 20}}, -(300 << 20)},
	} {
		got, r := kv("vllm", "0.21.0", c.s)
		if got-base != c.want {
			t.Errorf("vLLM %s: pool moved %d B, want %d", c.name, got-base, c.want)
		}
		// The breakdown carries the overhead it was given.
		if d := r.PerGPU.Other + r.PerGPU.CUDAContext - b0.PerGPU.Other - b0.PerGPU.CUDAContext; c.s.ExtraOverheadBytes > -gib && d != c.s.ExtraOverheadBytes+c.s.Corrections.overhead() {
			t.Errorf("vLLM %s: Other moved %d B", c.name, d)
		}
	}
	// Activation ×1.5: the profile peak grows by half, the pool shrinks by as much.
	_, ra := kv("vllm", "0.21.0", Settings{Corrections: &Corrections{ActivationFactor: 1.5}})
	if want := b0.PerGPU.ActivationPeak + b0.PerGPU.ActivationPeak/2; ra.PerGPU.ActivationPeak-want > 1 || want-ra.PerGPU.ActivationPeak > 1 {
		t.Errorf("vLLM activation ×1.5: peak %d, want %d", ra.PerGPU.ActivationPeak, want)
	}
	if d := b0.PerGPU.KVCache - ra.PerGPU.KVCache; d < ra.PerGPU.ActivationPeak-b0.PerGPU.ActivationPeak-1 || d > ra.PerGPU.ActivationPeak-b0.PerGPU.ActivationPeak+1 {
		t.Errorf("vLLM activation ×1.5: pool moved %d B, peak %d B", d, ra.PerGPU.ActivationPeak-b0.PerGPU.ActivationPeak)
	}

	// SGLang measures the card after what is in use before the weights, so
	// 1 GiB more there lowers both its total and its free memory: the pool
	// (free − total·(1 − mfs)) loses mfs GiB. A reserve of 1 GiB loses 1 GiB.
	_, s0 := kv("sglang", "0.5.18", Settings{MemFractionStatic: 0.85})
	_, s1 := kv("sglang", "0.5.18", Settings{MemFractionStatic: 0.85, ExtraOverheadBytes: gib})
	_, s2 := kv("sglang", "0.5.18", Settings{MemFractionStatic: 0.85, ExtraReserveBytes: gib})
	tok := func(r Result) int { return r.Startup.MaxBatchTotalTokens }
	// 0.85 GiB = 0.85·8,192 = 6,963.2 tokens, within a page of rounding.
	if d := tok(s0) - tok(s1); d < 6963-1 || d > 6963+1 {
		t.Errorf("SGLang +1 GiB before the weights: pool −%d tokens, want 6,963 ± 1", d)
	}
	if d := tok(s0) - tok(s2); d < 8192-1 || d > 8192+1 {
		t.Errorf("SGLang reserve 1 GiB: pool −%d tokens, want 8,192 ± 1", d)
	}
}
