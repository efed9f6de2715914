package hfmeta

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/vramcalc/vramcalc/estimate"
)

// MaxHeaderSize is the largest safetensors header accepted, in bytes. It is
// the reference implementation's limit (MAX_HEADER_SIZE = 100_000_000,
// https://github.com/huggingface/safetensors/blob/v0.7.0/safetensors/src/tensor.rs#L10).
const MaxHeaderSize = 100_000_000

// headerPrefix is the size of the little-endian u64 that precedes the JSON.
const headerPrefix = 8

// ParseHeader reads a safetensors header from r: an 8-byte little-endian
// length N, then N bytes of JSON mapping tensor names to
// {"dtype", "shape", "data_offsets"} (plus an optional "__metadata__" map,
// which is ignored). It reads exactly 8+N bytes and never the tensor data.
//
// N above MaxHeaderSize gives ErrHeaderTooLarge before anything is
// allocated; a reader that ends before 8+N bytes gives ErrTruncated, and
// the buffer grows only with the bytes actually read. Tensors come back in
// data order (by data_offsets).
func ParseHeader(r io.Reader) ([]estimate.Tensor, error) {
	ts, _, err := readHeader(r)
	if err != nil {
		return nil, fmt.Errorf("hfmeta: %w", err)
	}
	return ts, nil
}

// ParseHeaderAt is ParseHeader for a file of known size: an N that does
// not fit in size (8+N > size) gives ErrTruncated before anything is
// allocated. A file whose tensor data is missing (a header-only file, as
// the test fixtures are) is accepted, because only the header is read.
func ParseHeaderAt(r io.ReaderAt, size int64) ([]estimate.Tensor, error) {
	ts, _, err := readHeaderAt(r, size)
	if err != nil {
		return nil, fmt.Errorf("hfmeta: %w", err)
	}
	return ts, nil
}

// readHeader is ParseHeader without the package prefix on errors. It also
// returns the bytes read (8+N on success).
func readHeader(r io.Reader) ([]estimate.Tensor, int64, error) {
	var pre [headerPrefix]byte
	if k, err := io.ReadFull(r, pre[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, int64(k), fmt.Errorf("%w: %d bytes, shorter than the 8-byte length prefix", ErrTruncated, k)
		}
		return nil, int64(k), err
	}
	n, err := headerLength(pre[:], -1)
	if err != nil {
		return nil, headerPrefix, err
	}
	// Grow with the data instead of trusting n: a stream that declares
	// 99 MB and holds 100 bytes costs 100 bytes.
	var buf bytes.Buffer
	buf.Grow(int(min(n, 64<<10)))
	got, err := buf.ReadFrom(io.LimitReader(r, n))
	if err != nil {
		return nil, headerPrefix + got, err
	}
	if got < n {
		return nil, headerPrefix + got, fmt.Errorf("%w: %d of %d header bytes", ErrTruncated, got, n)
	}
	ts, err := decodeHeader(buf.Bytes())
	return ts, headerPrefix + n, err
}

// readHeaderAt is ParseHeaderAt without the package prefix on errors. It
// also returns the bytes read.
func readHeaderAt(r io.ReaderAt, size int64) ([]estimate.Tensor, int64, error) {
	if size < headerPrefix {
		return nil, 0, fmt.Errorf("%w: file is %d bytes, shorter than the 8-byte length prefix", ErrTruncated, size)
	}
	var pre [headerPrefix]byte
	if k, err := r.ReadAt(pre[:], 0); k < headerPrefix {
		return nil, int64(k), readAtErr(err, 0, headerPrefix, k)
	}
	n, err := headerLength(pre[:], size)
	if err != nil {
		return nil, headerPrefix, err
	}
	buf := make([]byte, n)
	if k, err := r.ReadAt(buf, headerPrefix); int64(k) < n {
		return nil, headerPrefix + int64(k), readAtErr(err, headerPrefix, n, k)
	}
	ts, err := decodeHeader(buf)
	return ts, headerPrefix + n, err
}

// readAtErr explains a short ReadAt of want bytes at off.
func readAtErr(err error, off, want int64, got int) error {
	if err == nil || errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: read %d of %d bytes at offset %d", ErrTruncated, got, want, off)
	}
	return err
}

// HeaderSize returns the size of the safetensors header that b starts
// with: the 8-byte length prefix plus the N bytes of JSON it declares. It
// is how a reader that fetches a file's first bytes (package hfmeta/hub)
// learns whether it has the whole header. b shorter than the prefix gives
// ErrTruncated, N above MaxHeaderSize ErrHeaderTooLarge and, when
// fileSize >= 0, 8+N past fileSize ErrTruncated. Errors have no package
// prefix, for the caller to say which file.
func HeaderSize(b []byte, fileSize int64) (int64, error) {
	if len(b) < headerPrefix {
		return 0, fmt.Errorf("%w: file is %d bytes, shorter than the 8-byte length prefix", ErrTruncated, len(b))
	}
	n, err := headerLength(b[:headerPrefix], fileSize)
	if err != nil {
		return 0, err
	}
	return headerPrefix + n, nil
}

// DecodeHeader parses the safetensors header b starts with (HeaderSize
// bytes; bytes after it are ignored) and checks it as ParseHeader does.
// Errors have no package prefix.
func DecodeHeader(b []byte) ([]estimate.Tensor, error) {
	size, err := HeaderSize(b, int64(len(b)))
	if err != nil {
		return nil, err
	}
	return decodeHeader(b[headerPrefix:size])
}

// headerLength decodes the length prefix and checks it against
// MaxHeaderSize and, when size >= 0, against the file size.
func headerLength(prefix []byte, size int64) (int64, error) {
	n := binary.LittleEndian.Uint64(prefix)
	if n > MaxHeaderSize {
		return 0, fmt.Errorf("%w: length prefix says %d bytes, the limit is %d", ErrHeaderTooLarge, n, MaxHeaderSize)
	}
	if size >= 0 && headerPrefix+int64(n) > size {
		return 0, fmt.Errorf("%w: length prefix says %d bytes, the file has %d after it", ErrTruncated, n, size-headerPrefix)
	}
	return int64(n), nil
}

// headerEntry is one tensor of a safetensors header.
type headerEntry struct {
	DType   string  `json:"dtype"`
	Shape   []int64 `json:"shape"`
	Offsets []int64 `json:"data_offsets"`
}

// decodeHeader parses the header JSON and checks it the way the reference
// implementation does (Metadata::validate, https://github.com/huggingface/safetensors/blob/v0.7.0/safetensors/src/tensor.rs#L595-L632):
// sorted by data_offsets, the tensors tile the data section from 0 with no
// gap or overlap, and each span is exactly shape × dtype bits / 8 bytes.
func decodeHeader(b []byte) ([]estimate.Tensor, error) {
	if t := bytes.TrimLeft(b, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return nil, fmt.Errorf("%w: the JSON is not an object", ErrBadHeader)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadHeader, err)
	}
	type located struct {
		t          estimate.Tensor
		begin, end int64
	}
	ts := make([]located, 0, len(raw))
	for name, msg := range raw {
		if name == "__metadata__" {
			continue
		}
		var e headerEntry
		if err := json.Unmarshal(msg, &e); err != nil {
			return nil, fmt.Errorf("%w: tensor %q: %v", ErrBadHeader, name, err)
		}
		dt := estimate.DType(e.DType)
		if dt.Bits() == 0 {
			// Not estimate.ErrUnknownDType: that one is about the user's
			// --dtype flags, this is about the file.
			return nil, fmt.Errorf("%w: tensor %q has unknown dtype %q", ErrBadHeader, name, e.DType)
		}
		size, err := spanBytes(e.Shape, dt.Bits())
		if err != nil {
			return nil, fmt.Errorf("%w: tensor %q: %w", ErrBadHeader, name, err)
		}
		if len(e.Offsets) != 2 || e.Offsets[0] < 0 || e.Offsets[1] < e.Offsets[0] {
			return nil, fmt.Errorf("%w: tensor %q: data_offsets %v are not [begin, end]", ErrBadHeader, name, e.Offsets)
		}
		if got := e.Offsets[1] - e.Offsets[0]; got != size {
			return nil, fmt.Errorf("%w: tensor %q: data_offsets span %d bytes, shape %v of %s needs %d", ErrBadHeader, name, got, e.Shape, dt, size)
		}
		ts = append(ts, located{
			t:     estimate.Tensor{Name: name, DType: dt, Shape: e.Shape},
			begin: e.Offsets[0],
			end:   e.Offsets[1],
		})
	}
	slices.SortFunc(ts, func(a, b located) int {
		return cmp.Or(cmp.Compare(a.begin, b.begin), cmp.Compare(a.end, b.end), strings.Compare(a.t.Name, b.t.Name))
	})
	out := make([]estimate.Tensor, len(ts))
	var next int64
	for i, l := range ts {
		if l.begin != next {
			return nil, fmt.Errorf("%w: tensor %q starts at byte %d of the data, expected %d (gap or overlap)", ErrBadHeader, l.t.Name, l.begin, next)
		}
		next = l.end
		out[i] = l.t
	}
	return out, nil
}

// spanBytes returns the stored size of one tensor, refusing negative
// dimensions, sub-byte types that end mid-byte and more elements than
// estimate.MaxTensorElements (2^40, wrapping estimate.ErrImplausible):
// beyond that the estimate's byte arithmetic would not be safe, and no
// real checkpoint comes near it.
func spanBytes(shape []int64, bits int) (int64, error) {
	n := int64(1)
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension in shape %v", shape)
		}
		// n ≤ 2^40 here, so n·d is only formed when it cannot overflow.
		if d != 0 && n > estimate.MaxTensorElements/d {
			return 0, fmt.Errorf("%w: shape %v has more than %d elements", estimate.ErrImplausible, shape, int64(estimate.MaxTensorElements))
		}
		n *= d
	}
	if n*int64(bits)%8 != 0 {
		return 0, fmt.Errorf("shape %v of %d-bit elements does not end on a byte boundary", shape, bits)
	}
	return n * int64(bits) / 8, nil
}

// CompactTensors groups tensors that differ only in numeric path
// components (layer and expert indices): every all-digit component of the
// dot-separated name becomes "*", and tensors with the same pattern, dtype
// and shape become one entry whose Count is the sum of theirs. A group of
// one keeps its original name. Groups appear in the order of their first
// member, and total bytes are unchanged, so a 90k-tensor MoE checkpoint
// shrinks to a few hundred entries with the same estimate.
func CompactTensors(ts []estimate.Tensor) []estimate.Tensor {
	type key struct {
		name  string
		dtype estimate.DType
		shape string
	}
	index := make(map[key]int)
	var out []estimate.Tensor
	var patterns []string
	var members []int
	for _, t := range ts {
		p := namePattern(t.Name)
		k := key{p, t.DType, shapeKey(t.Shape)}
		if i, ok := index[k]; ok {
			out[i].Count += t.N()
			members[i]++
			continue
		}
		index[k] = len(out)
		out = append(out, estimate.Tensor{Name: t.Name, DType: t.DType, Shape: slices.Clone(t.Shape), Count: t.N()})
		patterns = append(patterns, p)
		members = append(members, 1)
	}
	for i := range out {
		if members[i] > 1 {
			out[i].Name = patterns[i]
		}
		if out[i].Count == 1 {
			out[i].Count = 0
		}
	}
	return out
}

// namePattern replaces every all-digit component of a dotted tensor name
// with "*": "model.layers.3.mlp.experts.17.w1.weight" becomes
// "model.layers.*.mlp.experts.*.w1.weight".
func namePattern(name string) string {
	parts := strings.Split(name, ".")
	for i, p := range parts {
		if p != "" && strings.Trim(p, "0123456789") == "" {
			parts[i] = "*"
		}
	}
	return strings.Join(parts, ".")
}

func shapeKey(shape []int64) string {
	var b strings.Builder
	for i, d := range shape {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(d, 10))
	}
	return b.String()
}

// SetTensors gives m.Model the tensors ts without the layers the engine
// never builds (numbered at or beyond m.Model.Layers, e.g. DeepSeek's
// multi-token-prediction layer; noted in m.Warnings), compacted, and says
// in m.Model.TensorsFrom where they came from: from, an
// estimate.WeightsFrom* label. When no tensor is left both stay empty: the
// estimate then derives the weights from config.json and says so. Every
// source calls it once, after setting m.Model from config.json.
// SkippedLayersNote ends the warning SetTensors gives when it drops the
// layers numbered past the decoder's; a caller that does load them (an
// MTP draft) rewrites that warning by it.
const SkippedLayersNote = " (not loaded for serving, e.g. a multi-token-prediction layer)"

func (m *Meta) SetTensors(ts []estimate.Tensor, from string) {
	kept, dropped := estimate.LoadedTensors(ts, m.Model.Layers)
	if dropped > 0 {
		m.Warnings = append(m.Warnings, fmt.Sprintf("skipped %d tensors of layers numbered %d and above", dropped, m.Model.Layers)+SkippedLayersNote)
	}
	m.Model.Tensors, m.Model.TensorsFrom = CompactTensors(kept), ""
	if len(m.Model.Tensors) > 0 {
		m.Model.TensorsFrom = from
	}
}

// ParseIndex returns the distinct shard files a
// model.safetensors.index.json's weight_map names, sorted. Names must be
// relative paths inside the repo. Errors start "bad index: ", for the
// caller to say which file.
func ParseIndex(data []byte) ([]string, error) {
	var idx struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(data, &idx); err != nil {
		return nil, fmt.Errorf("bad index: %v", err)
	}
	if len(idx.WeightMap) == 0 {
		return nil, errors.New("bad index: empty weight_map")
	}
	var files []string
	for _, f := range idx.WeightMap {
		if f == "" || path.IsAbs(f) || path.Clean(f) != f || f == ".." || strings.HasPrefix(f, "../") || strings.Contains(f, `\`) {
			return nil, fmt.Errorf("bad index: shard name %q is not a relative path inside the repo", f)
		}
		files = append(files, f)
	}
	slices.Sort(files)
	return slices.Compact(files), nil
}
