package estimate

import (
	"errors"
	"strings"
	"testing"
)

// TestRunRefusesImplausibleInputs: each value one past its limit is refused
// with ErrImplausible (and ErrInvalid), naming the key and the limit; the
// value at the limit is not refused as implausible.
func TestRunRefusesImplausibleInputs(t *testing.T) {
	tests := []struct {
		name string
		edit func(m *Model, hw *Hardware, s *Settings, v int)
		at   int    // the limit
		want string // the message one past it
	}{
		{"layers", func(m *Model, _ *Hardware, _ *Settings, v int) { m.Layers = v }, 2048, "num_hidden_layers 2049 is beyond 2048"},
		{"hidden", func(m *Model, _ *Hardware, _ *Settings, v int) { m.Hidden = v }, 1 << 18, "hidden_size 262145 is beyond 262144"},
		{"heads", func(m *Model, _ *Hardware, _ *Settings, v int) { m.Heads, m.HeadDim = v, 128 }, 1 << 14, "num_attention_heads 16385 is beyond 16384"},
		{"vocab", func(m *Model, _ *Hardware, _ *Settings, v int) { m.Vocab = v }, 1 << 24, "vocab_size 16777217 is beyond 16777216"},
		{"experts", func(m *Model, _ *Hardware, _ *Settings, v int) {
			m.Experts, m.ExpertsPerToken, m.MoEIntermediate = v, 2, 64
		}, 1 << 16,
			"num_local_experts 65537 is beyond 65536"},
		{"positions", func(m *Model, _ *Hardware, _ *Settings, v int) { m.MaxPositions = v }, 1 << 30, "max_position_embeddings 1073741825 is beyond 1073741824"},
		{"gpus", func(_ *Model, hw *Hardware, _ *Settings, v int) { hw.Count = v }, 1024, "--gpus 1025 is beyond 1024"},
		{"gpu bytes", func(_ *Model, hw *Hardware, _ *Settings, v int) { hw.GPU.TotalBytes = Bytes(v) << 32 }, 1 << 10,
			"gpu memory (bytes) 4402341478400 is beyond 4398046511104"},
		{"max total tokens", func(_ *Model, _ *Hardware, s *Settings, v int) { s.MaxTotalTokens = v }, 1 << 30,
			"--max-total-tokens 1073741825 is beyond 1073741824"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, v := range []int{tt.at, tt.at + 1} {
				m, hw, s := llama31_8B, Hardware{GPU: h100, Count: 1}, Settings{}
				m.Tensors = nil
				tt.edit(&m, &hw, &s, v)
				_, err := Run(m, hw, Engine{}, s)
				if v == tt.at {
					if errors.Is(err, ErrImplausible) {
						t.Errorf("at the limit %d: %v", v, err)
					}
					continue
				}
				if !errors.Is(err, ErrImplausible) || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("one past the limit: err = %v, want ErrImplausible and %q", err, tt.want)
				}
			}
		})
	}
}

// TestRunRefusesImplausibleTensors: tensors whose elements, count or total
// bytes are beyond their limits, and a model whose one token takes more
// than 1 GiB, are refused before any arithmetic can wrap.
func TestRunRefusesImplausibleTensors(t *testing.T) {
	tests := []struct {
		name  string
		model func() Model
		want  string
	}{
		// 2^35 × (2^20 + 1) = 2^55 + 2^35 elements: the tensor, which printed −67,108,800 GiB of weights.
		{"2^55 elements", func() Model {
			m := llama31_8B
			m.Tensors = append(llamaTensors(m), Tensor{Name: "model.layers.0.mlp.extra.weight", DType: F32, Shape: []int64{1 << 35, 1<<20 + 1}})
			return m
		}, "shape [34359738368 1048577] has more than 1099511627776 elements"},
		// 2^20 × 2^20 = 2^40 elements, 2^8 of them = 2^48 > 2^47.
		{"checkpoint beyond 2^47 elements", func() Model {
			m := llama31_8B
			m.Tensors = []Tensor{{Name: "model.layers.*.mlp.down_proj.weight", DType: F32, Shape: []int64{1 << 20, 1 << 20}, Count: 1 << 8}}
			return m
		}, "the checkpoint's tensors hold more than 140737488355328 elements"},
		{"negative dimension", func() Model {
			m := llama31_8B
			m.Tensors = []Tensor{{Name: "model.norm.weight", DType: BF16, Shape: []int64{4096, -1}}}
			return m
		}, "tensor model.norm.weight has a negative dimension in shape [4096 -1]"},
		{"count", func() Model {
			m := llama31_8B
			m.Tensors = []Tensor{{Name: "model.norm.weight", DType: BF16, Shape: []int64{4096}, Count: 1<<27 + 1}}
			return m
		}, "count 134217729 is beyond 134217728"},
		// KV cache of one token: 2 × 2048 layers × 16384 heads × 128 × 4 B = 2^35 > 2^30.
		{"one token", func() Model {
			m := llama31_8B
			m.Tensors, m.Layers, m.Heads, m.KVHeads, m.HeadDim = nil, 2048, 16384, 16384, 128
			return m
		}, "one token of this model takes 32.00 GiB of KV cache or activations, beyond 1.00 GiB"},
		// Derived from config.json: 32 layers × 2^16 experts × 3 projections of 2^16 × 4096
		// = 2^5 · 2^16 · 3 · 2^28 = 3 · 2^49 elements > 2^47.
		{"derived tensors", func() Model {
			m := llama31_8B
			m.Tensors, m.Experts, m.ExpertsPerToken, m.MoEIntermediate = nil, 1<<16, 1, 1<<16
			return m
		}, "the checkpoint's tensors hold more than 140737488355328 elements"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Run(tt.model(), Hardware{GPU: h100, Count: 1}, Engine{}, Settings{})
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want ErrInvalid and %q", err, tt.want)
			}
		})
	}
}

// TestCheckResultRefusesWrappedBytes: a result with a negative byte figure
// or a total that wraps is refused with ErrOverflow; one with a negative
// overhead larger than the rest with ErrInvalid.
func TestCheckResultRefusesWrappedBytes(t *testing.T) {
	ok := Result{PerGPU: Breakdown{Weights: 16 * GiB, KVCache: 50 * GiB, CUDAContext: CUDAContextBytes}}
	if err := checkResult(&ok); err != nil {
		t.Fatalf("a sound result: %v", err)
	}
	neg := ok
	neg.PerGPU.Weights = -67_108_800 * GiB // what the 2^55-element tensor printed
	wrap := ok
	wrap.PerGPU.Weights, wrap.PerGPU.KVCache = 1<<62, 1<<62 // their sum 2^63 would wrap
	less := ok
	less.PerGPU.CUDAContext = -100 * GiB // 16 + 50 − 100 < 0
	for name, tc := range map[string]struct {
		r    Result
		want error
	}{"negative weights": {neg, ErrOverflow}, "wrapped total": {wrap, ErrOverflow}, "negative total": {less, ErrInvalid}} {
		if err := checkResult(&tc.r); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", name, err, tc.want)
		}
	}
}

// TestModelLimit: the config keys hfmeta refuses at parse time have the
// limits Run applies.
func TestModelLimit(t *testing.T) {
	for key, want := range map[string]int{"num_hidden_layers": 2048, "hidden_size": 262144, "vocab_size": 16777216,
		"num_local_experts": 65536, "num_attention_heads": 16384, "sliding_window": 1 << 30} {
		if got, ok := ModelLimit(key); !ok || got != want {
			t.Errorf("ModelLimit(%s) = %d, %v; want %d", key, got, ok, want)
		}
	}
	if _, ok := ModelLimit("decoder_sparse_step"); ok {
		t.Error("decoder_sparse_step has no limit")
	}
}

// must is a weight figure of a test whose tensors are within the limits.
func must(b Bytes, err error) Bytes {
	if err != nil {
		panic(err)
	}
	return b
}
