package hfmeta_test

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/vramcalc/vramcalc/estimate"
	"github.com/vramcalc/vramcalc/hfmeta"
)

func TestParseHeaderQwen3(t *testing.T) {
	file := headerOnly(qwen3_06B.tensors(), map[string]string{"format": "pt"})
	for name, parse := range map[string]func() ([]estimate.Tensor, error){
		"reader": func() ([]estimate.Tensor, error) { return hfmeta.ParseHeader(bytes.NewReader(file)) },
		"readerAt": func() ([]estimate.Tensor, error) {
			return hfmeta.ParseHeaderAt(bytes.NewReader(file), int64(len(file)))
		},
	} {
		t.Run(name, func(t *testing.T) {
			ts, err := parse()
			if err != nil {
				t.Fatal(err)
			}
			// 28 layers × 11 tensors + embed_tokens + norm + lm_head = 311.
			// Elements: 2 × 151,936×1,024 (embed, lm_head) + 1,024 (norm)
			// + 28 × 15,730,944 per layer = 751,632,384, the HF API total.
			n, elements, size := sumTensors(ts)
			if n != 311 || elements != 751_632_384 || size != 1_503_264_768 {
				t.Errorf("got %d tensors, %d elements, %d bytes; want 311, 751632384, 1503264768", n, elements, size)
			}
			if ts[0].Name != "model.embed_tokens.weight" || ts[len(ts)-1].Name != "lm_head.weight" {
				t.Errorf("tensors not in data order: first %q, last %q", ts[0].Name, ts[len(ts)-1].Name)
			}
		})
	}
}

// TestParseHeaderComplex64 reads a C64 tensor, 8 bytes an element as in
// safetensors v0.7.0 ("Dtype::C64 => 64",
// https://github.com/huggingface/safetensors/blob/v0.7.0/safetensors/src/tensor.rs#L850).
func TestParseHeaderComplex64(t *testing.T) {
	ts, err := hfmeta.ParseHeader(bytes.NewReader(raw(`{"freqs":{"dtype":"C64","shape":[3,4],"data_offsets":[0,96]}}`)))
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 1 || ts[0].DType != estimate.C64 || ts[0].Bytes() != 96 {
		t.Errorf("got %+v; want one C64 tensor of 96 bytes", ts)
	}
}

func TestParseHeaderErrors(t *testing.T) {
	tests := []struct {
		name     string
		file     []byte
		want     error
		contains string
	}{
		{"short prefix", []byte{1, 2, 3}, hfmeta.ErrTruncated, "shorter than the 8-byte length prefix"},
		{"length past end", withPrefix(4096, []byte(`{"a":`)), hfmeta.ErrTruncated, "4096"},
		{"too large", withPrefix(hfmeta.MaxHeaderSize+1, []byte("{}")), hfmeta.ErrHeaderTooLarge, "100000001"},
		{"u64 max", withPrefix(1<<64-1, nil), hfmeta.ErrHeaderTooLarge, "18446744073709551615"},
		{"bad json", raw(`{"a":`), hfmeta.ErrBadHeader, "unexpected end of JSON input"},
		{"array", raw(`[]`), hfmeta.ErrBadHeader, "not an object"},
		{"unknown dtype", headerOnly([]estimate.Tensor{{Name: "w", DType: "Q4_K", Shape: []int64{32}}}, nil), hfmeta.ErrBadHeader, `bad safetensors header: tensor "w" has unknown dtype "Q4_K"`},
		{"span mismatch", raw(`{"w":{"dtype":"BF16","shape":[4],"data_offsets":[0,4]}}`), hfmeta.ErrBadHeader, "span 4 bytes, shape [4] of BF16 needs 8"},
		{"gap", raw(`{"w":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}}`), hfmeta.ErrBadHeader, "starts at byte 1 of the data, expected 0"},
		{"overlap", raw(`{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}}`), hfmeta.ErrBadHeader, `tensor "b" starts at byte 1`},
		{"negative dim", raw(`{"w":{"dtype":"U8","shape":[-2],"data_offsets":[0,2]}}`), hfmeta.ErrBadHeader, "negative dimension"},
		{"overflow", raw(`{"w":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,0]}}`), hfmeta.ErrBadHeader, "has more than 1099511627776 elements"},
		// 2^35 × (2^20 + 1) = 2^55 + 2^35 elements, 2^15 times the 2^40 limit; its F32 span 2^57 + 2^37 bytes fits in int64.
		{"2^55 elements", raw(`{"w":{"dtype":"F32","shape":[34359738368,1048577],"data_offsets":[0,144115325014261760]}}`), estimate.ErrImplausible,
			"tensor \"w\": implausible input: shape [34359738368 1048577] has more than 1099511627776 elements"},
		// Exactly 2^40 elements is accepted up to the span check (2^40 U8 bytes claimed as 0).
		{"2^40 elements", raw(`{"w":{"dtype":"U8","shape":[1048576,1048576],"data_offsets":[0,0]}}`), hfmeta.ErrBadHeader, "needs 1099511627776"},
		{"misaligned F4", headerOnly([]estimate.Tensor{{Name: "w", DType: estimate.F4, Shape: []int64{3}}}, nil), hfmeta.ErrBadHeader, "byte boundary"},
		{"no offsets", raw(`{"w":{"dtype":"U8","shape":[2]}}`), hfmeta.ErrBadHeader, "not [begin, end]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for how, err := range map[string]error{
				"reader":   second(hfmeta.ParseHeader(bytes.NewReader(tt.file))),
				"readerAt": second(hfmeta.ParseHeaderAt(bytes.NewReader(tt.file), int64(len(tt.file)))),
			} {
				if !errors.Is(err, tt.want) {
					t.Errorf("%s: err = %v, want %v", how, err, tt.want)
					continue
				}
				if !strings.HasPrefix(err.Error(), "hfmeta: ") || !strings.Contains(err.Error(), tt.contains) {
					t.Errorf("%s: err = %q, want the hfmeta: prefix and %q", how, err, tt.contains)
				}
			}
			// DecodeHeader, as hfmeta/hub calls it: the same error
			// without the prefix, for the caller to say which file.
			_, atErr := hfmeta.ParseHeaderAt(bytes.NewReader(tt.file), int64(len(tt.file)))
			if _, err := hfmeta.DecodeHeader(tt.file); !errors.Is(err, tt.want) || "hfmeta: "+err.Error() != atErr.Error() {
				t.Errorf("DecodeHeader: err = %v, want %q without its prefix", err, atErr)
			}
		})
	}
}

// TestHeaderSize pins what hfmeta/hub learns from a shard's first bytes:
// the header's size with its prefix, checked against the file's size when
// known, and the exact errors.
func TestHeaderSize(t *testing.T) {
	file := headerOnly(qwen3_06B.tensors(), map[string]string{"format": "pt"})
	if len(file) != 35_352 {
		t.Fatalf("the Qwen3-0.6B header is %d bytes, want 35352", len(file))
	}
	for _, tt := range []struct {
		b    []byte
		size int64
	}{{file[:16<<10], 35_352}, {file[:8], -1}, {file, 1 << 30}} {
		if n, err := hfmeta.HeaderSize(tt.b, tt.size); n != 35_352 || err != nil {
			t.Errorf("HeaderSize(%d bytes, %d) = %d, %v; want 35352", len(tt.b), tt.size, n, err)
		}
	}
	// Bytes after the header are ignored.
	ts, err := hfmeta.DecodeHeader(append(slices.Clip(file), make([]byte, 1000)...))
	if n, elements, _ := sumTensors(ts); err != nil || n != 311 || elements != 751_632_384 {
		t.Errorf("DecodeHeader: %d tensors, %d elements, %v; want 311, 751632384", n, elements, err)
	}
	for _, tt := range []struct {
		b    []byte
		size int64
		want error
		msg  string
	}{
		{[]byte{1, 2, 3}, -1, hfmeta.ErrTruncated, "safetensors header truncated: file is 3 bytes, shorter than the 8-byte length prefix"},
		{withPrefix(4096, make([]byte, 48)), 56, hfmeta.ErrTruncated, "safetensors header truncated: length prefix says 4096 bytes, the file has 48 after it"},
		{withPrefix(200_000_000, nil), -1, hfmeta.ErrHeaderTooLarge, "safetensors header too large: length prefix says 200000000 bytes, the limit is 100000000"},
	} {
		if n, err := hfmeta.HeaderSize(tt.b, tt.size); n != 0 || !errors.Is(err, tt.want) || err.Error() != tt.msg {
			t.Errorf("HeaderSize = %d, %v; want %q", n, err, tt.msg)
		}
	}
}

func second[T any](_ T, err error) error { return err }

// A length prefix of 99 MB on a 100-byte stream must not allocate 99 MB,
// and one past MaxHeaderSize must allocate nothing of that order.
func TestParseHeaderAllocatesWithTheData(t *testing.T) {
	for _, file := range [][]byte{
		withPrefix(99_000_000, bytes.Repeat([]byte{' '}, 100)),
		withPrefix(200_000_000, []byte("{}")),
	} {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, err := hfmeta.ParseHeader(bytes.NewReader(file))
		runtime.ReadMemStats(&after)
		if !errors.Is(err, hfmeta.ErrTruncated) && !errors.Is(err, hfmeta.ErrHeaderTooLarge) {
			t.Fatalf("err = %v", err)
		}
		if got := after.TotalAlloc - before.TotalAlloc; got > 1<<20 {
			t.Errorf("allocated %d bytes for a %d-byte input; want under 1 MiB", got, len(file))
		}
	}
}

func TestCompactTensorsMoE(t *testing.T) {
	// A Qwen3-235B-A22B-shaped checkpoint: 94 layers, 128 experts of
	// width 1536, hidden 4096, 64 query / 4 KV heads of 128, vocab 151,936.
	// Per layer: q 8192×4096 + k, v 512×4096 + o 4096×8192 + q_norm, k_norm
	// 128 + router 128×4096 + 128 × 3 × 1536×4096 experts + 2 × 4096 norms
	// = 2,487,755,008 elements; × 94 + 2 × 151,936×4096 + 4096
	// = 235,093,634,560 elements, the parameter count the HF API reports
	// for Qwen/Qwen3-235B-A22B (shared/models/INDEX.md in the vramcalc steering repo, via llmfit).
	var ts []estimate.Tensor
	add := func(name string, shape ...int64) {
		ts = append(ts, estimate.Tensor{Name: name, DType: estimate.BF16, Shape: shape})
	}
	add("model.embed_tokens.weight", 151936, 4096)
	for l := range 94 {
		p := fmt.Sprintf("model.layers.%d.", l)
		add(p+"input_layernorm.weight", 4096)
		for e := range 128 {
			q := fmt.Sprintf("%smlp.experts.%d.", p, e)
			add(q+"down_proj.weight", 4096, 1536)
			add(q+"gate_proj.weight", 1536, 4096)
			add(q+"up_proj.weight", 1536, 4096)
		}
		add(p+"mlp.gate.weight", 128, 4096)
		add(p+"post_attention_layernorm.weight", 4096)
		add(p+"self_attn.k_norm.weight", 128)
		add(p+"self_attn.k_proj.weight", 512, 4096)
		add(p+"self_attn.o_proj.weight", 4096, 8192)
		add(p+"self_attn.q_norm.weight", 128)
		add(p+"self_attn.q_proj.weight", 8192, 4096)
		add(p+"self_attn.v_proj.weight", 512, 4096)
	}
	add("model.norm.weight", 4096)
	add("lm_head.weight", 151936, 4096)

	n, elements, size := sumTensors(ts)
	if n != 36_945 || elements != 235_093_634_560 {
		t.Fatalf("fixture: %d tensors, %d elements", n, elements)
	}
	c := hfmeta.CompactTensors(ts)
	cn, celements, csize := sumTensors(c)
	if len(c) != 15 || cn != n || celements != elements || csize != size {
		t.Errorf("compacted to %d entries (%d tensors, %d elements, %d bytes); want 15 (%d, %d, %d)",
			len(c), cn, celements, csize, n, elements, size)
	}
	want := estimate.Tensor{Name: "model.layers.*.mlp.experts.*.gate_proj.weight", DType: estimate.BF16, Shape: []int64{1536, 4096}, Count: 94 * 128}
	if !reflect.DeepEqual(c[3], want) {
		t.Errorf("c[3] = %+v, want %+v", c[3], want)
	}
	if c[0].Name != "model.embed_tokens.weight" || c[0].Count != 0 {
		t.Errorf("c[0] = %+v, want embed_tokens kept as is", c[0])
	}
	// Compacting again changes nothing.
	if again := hfmeta.CompactTensors(c); !reflect.DeepEqual(again, c) {
		t.Errorf("CompactTensors is not idempotent")
	}
}

// Same pattern, different shapes stay apart (dense layers 0-2 of
// DeepSeek-V3 against its MoE layers).
func TestCompactTensorsKeepsShapesApart(t *testing.T) {
	ts := []estimate.Tensor{
		{Name: "model.layers.0.mlp.gate_proj.weight", DType: estimate.BF16, Shape: []int64{18432, 7168}},
		{Name: "model.layers.1.mlp.gate_proj.weight", DType: estimate.BF16, Shape: []int64{18432, 7168}},
		{Name: "model.layers.3.mlp.gate_proj.weight", DType: estimate.F8E4M3, Shape: []int64{18432, 7168}},
		{Name: "model.layers.4.mlp.gate_proj.weight", DType: estimate.BF16, Shape: []int64{2048, 7168}},
	}
	c := hfmeta.CompactTensors(ts)
	if len(c) != 3 || c[0].Count != 2 || c[0].Name != "model.layers.*.mlp.gate_proj.weight" || c[1].Name != ts[2].Name {
		t.Errorf("got %+v", c)
	}
}

func FuzzParseHeader(f *testing.F) {
	// The seed corpus is testdata/fuzz/FuzzParseHeader (see fuzzSeeds).
	f.Fuzz(func(t *testing.T, b []byte) {
		ts, err := hfmeta.ParseHeader(bytes.NewReader(b))
		ts2, err2 := hfmeta.ParseHeaderAt(bytes.NewReader(b), int64(len(b)))
		if (err == nil) != (err2 == nil) {
			t.Fatalf("ParseHeader: %v; ParseHeaderAt: %v", err, err2)
		}
		if err != nil {
			for _, e := range []error{err, err2} {
				if !errors.Is(e, hfmeta.ErrTruncated) && !errors.Is(e, hfmeta.ErrHeaderTooLarge) && !errors.Is(e, hfmeta.ErrBadHeader) {
					t.Fatalf("error wraps no sentinel: %v", e)
				}
			}
			return
		}
		if !reflect.DeepEqual(ts, ts2) {
			t.Fatalf("ParseHeader and ParseHeaderAt disagree")
		}
		for _, tt := range ts {
			if tt.DType.Bits() == 0 {
				t.Fatalf("tensor %q has unknown dtype %q", tt.Name, tt.DType)
			}
		}
		n, elements, size := sumTensors(ts)
		cn, celements, csize := sumTensors(hfmeta.CompactTensors(ts))
		if cn != n || celements != elements || csize != size {
			t.Fatalf("compaction changed totals: %d/%d/%d -> %d/%d/%d", n, elements, size, cn, celements, csize)
		}
	})
}
