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
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/vramcalc/vramcalc/estimate"
	"github.com/vramcalc/vramcalc/hfmeta"
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

// gptq70B is a 4-bit GPTQ export of a Llama-3-70B-shaped model (AutoGPTQ
// names: qweight, qzeros, scales, g_idx per linear layer), 2,403 tensors.
// Split into 30 shards it has ~80 tensors and a ~9 KB header per shard,
// the size the 30-shard transfer bound is measured on.
func gptq70B() []estimate.Tensor {
	const hidden, inter, kv, vocab, group = 8192, 28672, 1024, 128256, 128
	ts := []estimate.Tensor{{Name: "model.embed_tokens.weight", DType: estimate.F16, Shape: []int64{vocab, hidden}}}
	linear := func(name string, in, out int64) []estimate.Tensor {
		return []estimate.Tensor{
			{Name: name + ".g_idx", DType: estimate.I32, Shape: []int64{in}},
			{Name: name + ".qweight", DType: estimate.I32, Shape: []int64{in / 8, out}},
			{Name: name + ".qzeros", DType: estimate.I32, Shape: []int64{in / group, out / 8}},
			{Name: name + ".scales", DType: estimate.F16, Shape: []int64{in / group, out}},
		}
	}
	for i := range 80 {
		p := fmt.Sprintf("model.layers.%d.", i)
		ts = append(ts, estimate.Tensor{Name: p + "input_layernorm.weight", DType: estimate.F16, Shape: []int64{hidden}})
		ts = append(ts, linear(p+"mlp.down_proj", inter, hidden)...)
		ts = append(ts, linear(p+"mlp.gate_proj", hidden, inter)...)
		ts = append(ts, linear(p+"mlp.up_proj", hidden, inter)...)
		ts = append(ts, estimate.Tensor{Name: p + "post_attention_layernorm.weight", DType: estimate.F16, Shape: []int64{hidden}})
		ts = append(ts, linear(p+"self_attn.k_proj", hidden, kv)...)
		ts = append(ts, linear(p+"self_attn.o_proj", hidden, hidden)...)
		ts = append(ts, linear(p+"self_attn.q_proj", hidden, hidden)...)
		ts = append(ts, linear(p+"self_attn.v_proj", hidden, kv)...)
	}
	return append(ts,
		estimate.Tensor{Name: "model.norm.weight", DType: estimate.F16, Shape: []int64{hidden}},
		estimate.Tensor{Name: "lm_head.weight", DType: estimate.F16, Shape: []int64{vocab, hidden}},
	)
}

// headerOnly returns a header-only safetensors file for ts, in the given
// order, with consecutive data offsets.
func headerOnly(ts []estimate.Tensor, meta map[string]string) []byte {
	var j bytes.Buffer
	j.WriteByte('{')
	if meta != nil {
		m, _ := json.Marshal(meta)
		j.WriteString(`"__metadata__":`)
		j.Write(m)
	}
	var off int64
	for i, t := range ts {
		if i > 0 || meta != nil {
			j.WriteByte(',')
		}
		name, _ := json.Marshal(t.Name)
		shape, _ := json.Marshal(t.Shape)
		if t.Shape == nil {
			shape = []byte("[]")
		}
		size := t.Bytes()
		fmt.Fprintf(&j, `%s:{"dtype":"%s","shape":%s,"data_offsets":[%d,%d]}`, name, t.DType, shape, off, off+size)
		off += size
	}
	j.WriteByte('}')
	for j.Len()%8 != 0 {
		j.WriteByte(' ')
	}
	return withPrefix(uint64(j.Len()), j.Bytes())
}

// raw returns body with its exact length as the prefix.
func raw(body string) []byte { return withPrefix(uint64(len(body)), []byte(body)) }

// withPrefix returns the 8-byte little-endian n followed by body.
func withPrefix(n uint64, body []byte) []byte {
	out := binary.LittleEndian.AppendUint64(nil, n)
	return append(out, body...)
}

// shards splits ts into k shards of consecutive tensors with nearly equal
// counts and returns the files plus a model.safetensors.index.json as
// transformers writes it (sorted keys, two-space indent).
func shards(ts []estimate.Tensor, k int) map[string][]byte {
	files := make(map[string][]byte)
	weightMap := make(map[string]string)
	var total int64
	for i := range k {
		part := ts[i*len(ts)/k : (i+1)*len(ts)/k]
		name := fmt.Sprintf("model-%05d-of-%05d.safetensors", i+1, k)
		files[name] = headerOnly(part, map[string]string{"format": "pt"})
		for _, t := range part {
			weightMap[t.Name] = name
			total += t.Bytes()
		}
	}
	index := map[string]any{"metadata": map[string]int64{"total_size": total}, "weight_map": weightMap}
	b, _ := json.MarshalIndent(index, "", "  ")
	files["model.safetensors.index.json"] = append(b, '\n')
	return files
}

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

// sumTensors returns the number of tensors, elements and bytes in ts,
// counting each entry Count times.
func sumTensors(ts []estimate.Tensor) (n, elements, bytes int64) {
	for _, t := range ts {
		n += t.N()
		elements += t.Elements() * t.N()
		bytes += t.Bytes()
	}
	return n, elements, bytes
}
