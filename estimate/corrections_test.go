package estimate

import (
	"errors"
	"strings"
	"testing"
)

// TestCorrectionsTerms shows each correction's effect on one known start:
// Llama-3.1-8B-Instruct bf16 on one L4 (23,580,639,232 B), TGI 3.3.7,
// flashinfer (block size 1), --max-input-tokens 4095 --max-total-tokens 4096
// --max-batch-prefill-tokens 4096. KV is 2·32·8·128·2 = 131,072 B/token and
// v3 sizes the pool as (free − (1 − W)·Ttot)/131,072 blocks + the warm-up's
// (v3.3.7:fcl.py:1556).
func TestCorrectionsTerms(t *testing.T) {
	s := Settings{MaxInputTokens: 4095, MaxTotalTokens: 4096, MaxBatchPrefillTokens: 4096}
	base := run(t, llama31_8B, l4, 1, "3.3.7", s).Startup
	if !base.Fits || base.MaxBatchTotalTokens != 27_763 || base.ActivationBytes != 717_520_640 {
		t.Fatalf("base: fits=%v MBT=%d activation=%d", base.Fits, base.MaxBatchTotalTokens, base.ActivationBytes)
	}
	with := func(c Corrections) Startup {
		s := s
		s.Corrections = &c
		return run(t, llama31_8B, l4, 1, "3.3.7", s).Startup
	}
	cases := []struct {
		name       string
		c          Corrections
		wantMBT    int
		wantAct    Bytes
		wantWarm   Bytes
		arithmetic string
	}{
		{"none", Corrections{}, 27_763, 717_520_640, base.WarmupBytes, "a zero Corrections changes nothing"},
		{"overhead +1 GiB", Corrections{OverheadBytes: GiB}, 27_763 - 8_192, 717_520_640, base.WarmupBytes + GiB,
			"1 GiB / 131,072 B = 8,192 tokens less"},
		{"activation ×1.5", Corrections{ActivationFactor: 1.5}, 27_763 - 2_738, 1_076_280_960, base.WarmupBytes + 358_760_320,
			"0.5 · 717,520,640 = 358,760,320 B more at warm-up; / 131,072 = 2,737.1 → 2,738 tokens less after the floor"},
		{"wiggle 0.85", Corrections{Wiggle: 0.85}, 27_763 - 8_996, 717_520_640, base.WarmupBytes,
			"(0.90 − 0.85) · 23,580,639,232 = 1,179,031,961.6 B; / 131,072 = 8,995.3 → 8,996 tokens less after the floor"},
	}
	for _, tc := range cases {
		st := with(tc.c)
		if st.MaxBatchTotalTokens != tc.wantMBT || st.ActivationBytes != tc.wantAct || st.WarmupBytes != tc.wantWarm {
			t.Errorf("%s (%s): MBT=%d activation=%d warm-up=%d, want %d, %d, %d", tc.name, tc.arithmetic,
				st.MaxBatchTotalTokens, st.ActivationBytes, st.WarmupBytes, tc.wantMBT, tc.wantAct, tc.wantWarm)
		}
	}
	// An explicit TGI_WIGGLE_ROOM is what the engine reads: it wins over the fitted wiggle.
	s2 := s
	s2.WiggleRoom = 0.90
	s2.Corrections = &Corrections{Wiggle: 0.85}
	if got := run(t, llama31_8B, l4, 1, "3.3.7", s2).Startup.MaxBatchTotalTokens; got != 27_763 {
		t.Errorf("explicit wiggle 0.90 with a fitted 0.85: MBT=%d, want 40,426", got)
	}
}

func TestCorrectionsWarningAndValidation(t *testing.T) {
	c := &Corrections{Version: 1, Engine: "tgi", EngineVersion: "3.3.7", GPU: "NVIDIA L4", ActivationFactor: 1.1, OverheadBytes: 256 * MiB, MarginPct: 2.5, SafeSide: "below"}
	res := run(t, llama31_8B, l4, 1, "3.3.7", Settings{Corrections: c})
	want := "calibrated corrections (tgi 3.3.7 on NVIDIA L4): activation ×1.100, overhead +256 MiB, wiggle default; the KV budget was within ±2.50% of the prediction for 95% of the fitted starts; the safe side is below it: plan on the budget less the margin"
	if !strings.Contains(strings.Join(res.Warnings, "\n"), want) {
		t.Errorf("warnings %q lack %q", res.Warnings, want)
	}
	for _, bad := range []Corrections{{ActivationFactor: -1}, {Wiggle: 1.2}, {MarginPct: -3}} {
		_, err := Run(llama31_8B, Hardware{GPU: l4, Count: 1}, Engine{Name: "tgi"}, Settings{Corrections: &bad})
		if !IsInvalid(err) {
			t.Errorf("%+v: err = %v, want ErrInvalid", bad, err)
		}
	}
}

// TestExtraReserveBytes: memory kept back from the KV pool moves the budget
// and not the warm-up. On the start of TestCorrectionsTerms, 1,000 blocks of
// 131,072 B = 131,072,000 B more kept back is 27,763 − 1,000 = 26,763
// tokens with the same warm-up peak; 131,072,000 B less kept back is
// 28,763.
func TestExtraReserveBytes(t *testing.T) {
	s := Settings{MaxInputTokens: 4095, MaxTotalTokens: 4096, MaxBatchPrefillTokens: 4096}
	base := run(t, llama31_8B, l4, 1, "3.3.7", s).Startup
	for _, c := range []struct {
		reserve Bytes
		want    int
	}{{131_072_000, 26_763}, {-131_072_000, 28_763}} {
		s := s
		s.ExtraReserveBytes = c.reserve
		st := run(t, llama31_8B, l4, 1, "3.3.7", s).Startup
		if st.MaxBatchTotalTokens != c.want || st.WarmupBytes != base.WarmupBytes || !st.Fits {
			t.Errorf("reserve %d: MBT=%d warm-up=%d fits=%v, want %d, %d", c.reserve, st.MaxBatchTotalTokens, st.WarmupBytes, st.Fits, c.want, base.WarmupBytes)
		}
	}
}

// TestTGIRefusesStateLayers: a model with state layers of a type TGI does
// not implement is not served the way the estimate sizes it: ErrNotServed
// for TGI, an estimate (whose confidence the caller rates) for vLLM.
func TestTGIRefusesStateLayers(t *testing.T) {
	m := llama31_8B
	m.Type, m.StateLayers = "qwen3_next", true
	if _, err := Run(m, Hardware{GPU: l4, Count: 1}, Engine{Name: "tgi"}, Settings{}); !errors.Is(err, ErrNotServed) {
		t.Errorf("tgi: %v, want ErrNotServed", err)
	}
	if _, err := Run(m, Hardware{GPU: l4, Count: 1}, Engine{Name: "vllm"}, Settings{}); err != nil {
		t.Errorf("vllm: %v", err)
	}
	m.Type = "mamba" // TGI implements Mamba itself
	if _, err := Run(m, Hardware{GPU: l4, Count: 1}, Engine{Name: "tgi"}, Settings{}); errors.Is(err, ErrNotServed) {
		t.Errorf("tgi mamba: %v", err)
	}
}
