package hfmeta_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/vramcalc/vramcalc/estimate"
	"github.com/vramcalc/vramcalc/hfmeta"
)

// TestHybridConfigsDeriveWeights parses public hybrid configs and checks
// that the tensors derived from them add up to the published counts worked
// out in estimate/synth_hybrid_test.go (which gives the arithmetic).
func TestHybridConfigsDeriveWeights(t *testing.T) {
	tests := []struct {
		file string
		want int64
	}{
		// Qwen3-Next-80B-A3B-Instruct HF API 81,324,862,720 less its MTP layer 1,650,471,424.
		{"qwen3-next-80b-a3b-thinking.json", 79_674_391_296},
		// Sum over the checkpoint's tensors (HF API 31,577,937,344 + 23·128).
		{"nemotron-3-nano-30b-a3b-bf16.json", 31_577_940_288},
		// HF API 685,396,921,376 less the MTP layer 13,478,088,816.
		{"deepseek-v3.2.json", 671_918_832_560},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", "hybrid", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			m, _, err := hfmeta.ParseConfig(b)
			if err != nil {
				t.Fatal(err)
			}
			var got int64
			for _, ts := range estimate.SynthesizeTensors(m) {
				got += ts.Elements() * ts.N()
			}
			if got != tt.want {
				t.Errorf("elements = %d, want %d (off by %d)", got, tt.want, got-tt.want)
			}
		})
	}
}

// TestHybridConfigQwen35Layout checks the facts read from Qwen3.5-35B-A3B's
// text_config: 30 gated delta nets and 10 full-attention layers
// (full_attention_interval 4 over 40 layers), one shared expert of 512.
func TestHybridConfigQwen35Layout(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "hybrid", "qwen3.5-35b-a3b.json"))
	if err != nil {
		t.Fatal(err)
	}
	m, _, err := hfmeta.ParseConfig(b)
	if err != nil {
		t.Fatal(err)
	}
	c := m.KindCounts()
	if c[estimate.KindLinear] != 30 || c[estimate.KindFull] != 10 || m.SharedExpertWidth != 512 || m.Experts != 256 {
		t.Errorf("kinds %v, shared width %d, experts %d; want 30 linear, 10 full, 512, 256", c, m.SharedExpertWidth, m.Experts)
	}
}
