package hfmeta_test

// This file is the generator of the checked-in fixtures under testdata/:
// header-only safetensors files and index files for the fake Hub, and the
// FuzzParseHeader seed corpus. TestFixtures fails when a checked-in file
// differs from what the generator produces; `go test ./hfmeta -run
// TestFixtures -update` rewrites them. The config.json files next to them
// are copies of public configs (shared/models in the vramcalc steering repo), not generated.
//
// Header-only means: the 8-byte length, the JSON header padded with spaces
// to a multiple of 8 (as the reference writer pads), and no tensor data.
// hfmeta reads only headers, so these files behave like the real
// multi-gigabyte checkpoints; ErrTruncated is about a file that ends
// inside its header, never about the missing data section.

import (
	"bytes"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/vramcalc/vramcalc/estimate"
	"github.com/vramcalc/vramcalc/hfmeta"
	"github.com/vramcalc/vramcalc/hfmeta/internal/fixture"
)

var update = flag.Bool("update", false, "rewrite the generated fixtures under testdata/")

// decoder describes a Llama-style decoder-only checkpoint (the tensor names
// transformers' LlamaForCausalLM and Qwen3ForCausalLM save).
type decoder struct {
	layers                                        int
	hidden, inter, heads, kvHeads, headDim, vocab int64
	qkNorm                                        bool // Qwen3: RMSNorm over each q and k head
	lmHead                                        bool // lm_head.weight is stored
	dtype                                         estimate.DType
}

func (d decoder) tensors() []estimate.Tensor {
	t := func(name string, shape ...int64) estimate.Tensor {
		return estimate.Tensor{Name: name, DType: d.dtype, Shape: shape}
	}
	q, kv := d.heads*d.headDim, d.kvHeads*d.headDim
	ts := []estimate.Tensor{t("model.embed_tokens.weight", d.vocab, d.hidden)}
	for i := range d.layers {
		p := fmt.Sprintf("model.layers.%d.", i)
		ts = append(ts,
			t(p+"input_layernorm.weight", d.hidden),
			t(p+"mlp.down_proj.weight", d.hidden, d.inter),
			t(p+"mlp.gate_proj.weight", d.inter, d.hidden),
			t(p+"mlp.up_proj.weight", d.inter, d.hidden),
			t(p+"post_attention_layernorm.weight", d.hidden),
		)
		if d.qkNorm {
			ts = append(ts, t(p+"self_attn.k_norm.weight", d.headDim))
		}
		ts = append(ts,
			t(p+"self_attn.k_proj.weight", kv, d.hidden),
			t(p+"self_attn.o_proj.weight", d.hidden, q),
		)
		if d.qkNorm {
			ts = append(ts, t(p+"self_attn.q_norm.weight", d.headDim))
		}
		ts = append(ts,
			t(p+"self_attn.q_proj.weight", q, d.hidden),
			t(p+"self_attn.v_proj.weight", kv, d.hidden),
		)
	}
	ts = append(ts, t("model.norm.weight", d.hidden))
	if d.lmHead {
		ts = append(ts, t("lm_head.weight", d.vocab, d.hidden))
	}
	return ts
}

// llama31_8B is meta-llama/Llama-3.1-8B-Instruct (config in
// testdata/hub/meta-llama/Llama-3.1-8B-Instruct): 291 BF16 tensors,
// 8,030,261,248 parameters, the HF API's safetensors total.
var llama31_8B = decoder{layers: 32, hidden: 4096, inter: 14336, heads: 32, kvHeads: 8, headDim: 128, vocab: 128256, lmHead: true, dtype: estimate.BF16}

// qwen3_06B is Qwen/Qwen3-0.6B: 311 BF16 tensors in one model.safetensors,
// 751,632,384 parameters (the HF API total; lm_head is stored although
// tie_word_embeddings is true).
var qwen3_06B = decoder{layers: 28, hidden: 1024, inter: 3072, heads: 16, kvHeads: 8, headDim: 128, vocab: 151936, qkNorm: true, lmHead: true, dtype: estimate.BF16}

// raw returns body with its exact length as the prefix.
func raw(body string) []byte { return withPrefix(uint64(len(body)), []byte(body)) }

// The generators the hub tests share (hfmeta/internal/fixture).
var (
	headerOnly = fixture.HeaderOnly
	withPrefix = fixture.WithPrefix
	shards     = fixture.Shards
	sumTensors = fixture.SumTensors
	fileSize   = fixture.FileSize
)

func testdataHub() fs.FS { return os.DirFS("testdata/hub") }

// generated returns every generated fixture, keyed by its path under testdata/.
func generated() map[string][]byte {
	out := make(map[string][]byte)
	add := func(dir string, files map[string][]byte) {
		for name, b := range files {
			out[filepath.Join(dir, name)] = b
		}
	}
	add("hub/meta-llama/Llama-3.1-8B-Instruct/resolve/main", shards(llama31_8B.tensors(), 4))
	add("hub/Qwen/Qwen3-0.6B/resolve/main", map[string][]byte{
		"model.safetensors": headerOnly(qwen3_06B.tensors(), map[string]string{"format": "pt"}),
	})
	// The length prefix says 4096 bytes; the file ends 48 bytes later.
	add("hub/vramcalc-test/truncated-header/resolve/main", map[string][]byte{
		"model.safetensors": withPrefix(4096, []byte(`{"lm_head.weight":{"dtype":"BF16","shape":[1024,`)),
	})
	// The length prefix says 200,000,000 bytes, twice MaxHeaderSize.
	add("hub/vramcalc-test/huge-header/resolve/main", map[string][]byte{
		"model.safetensors": withPrefix(200_000_000, []byte(`{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}`)),
	})
	for name, seed := range fuzzSeeds() {
		out[filepath.Join("fuzz/FuzzParseHeader", name)] = []byte(fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", seed))
	}
	return out
}

// fuzzSeeds is the checked-in FuzzParseHeader corpus: one input per branch
// of the parser.
func fuzzSeeds() map[string][]byte {
	two := []estimate.Tensor{
		{Name: "model.layers.0.mlp.experts.0.w1.weight", DType: estimate.BF16, Shape: []int64{4, 2}},
		{Name: "model.layers.0.mlp.experts.1.w1.weight", DType: estimate.BF16, Shape: []int64{4, 2}},
		{Name: "blocks", DType: estimate.F4, Shape: []int64{3, 2}},
		{Name: "scalar", DType: estimate.F32},
	}
	return map[string][]byte{
		"valid":          headerOnly(two, map[string]string{"format": "pt"}),
		"empty-object":   headerOnly(nil, nil),
		"short-prefix":   {1, 2, 3},
		"huge-length":    withPrefix(hfmeta.MaxHeaderSize+1, []byte("{}")),
		"truncated":      withPrefix(64, []byte(`{"a":{"dtype":"F16"`)),
		"unknown-dtype":  headerOnly([]estimate.Tensor{{Name: "q", DType: "Q4_K", Shape: []int64{32}}}, nil),
		"misaligned-f4":  headerOnly([]estimate.Tensor{{Name: "odd", DType: estimate.F4, Shape: []int64{3}}}, nil),
		"gap":            raw(`{"a":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}}`),
		"not-an-object":  raw(`[1,2,3]`),
		"negative-shape": raw(`{"a":{"dtype":"U8","shape":[-2],"data_offsets":[0,2]}}`),
	}
}

func TestFixtures(t *testing.T) {
	for path, want := range generated() {
		full := filepath.Join("testdata", path)
		if *update {
			if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(full, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(full)
		if err != nil {
			t.Errorf("%v (run go test ./hfmeta -run TestFixtures -update)", err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from its generator (run go test ./hfmeta -run TestFixtures -update)", full)
		}
	}
}
