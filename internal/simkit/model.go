package simkit

import (
	"bytes"
	_ "embed"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Model is what a simulator knows about a model: the compact JSON of
// SIM_MODEL and of the embedded catalog; config.json files are read into
// the same struct.
type Model struct {
	ID           string `json:"id,omitempty"`
	ModelType    string `json:"model_type,omitempty"`
	Layers       int    `json:"layers"`
	Hidden       int    `json:"hidden"`
	Heads        int    `json:"heads"`
	KVHeads      int    `json:"kv_heads,omitempty"`
	HeadDim      int    `json:"head_dim,omitempty"`
	Intermediate int    `json:"intermediate"`
	Vocab        int    `json:"vocab"`
	MaxPositions int    `json:"max_position_embeddings,omitempty"`
	// WeightsBytes is the checkpoint's tensor bytes (all shards together),
	// as model.safetensors.index.json's metadata.total_size gives it.
	WeightsBytes int64 `json:"weights_bytes"`
	// Tied is tie_word_embeddings (of text_config when the top level
	// lacks it).
	Tied bool `json:"tie_word_embeddings,omitempty"`
	// Vision marks a VLM (config.json has vision_config).
	Vision bool `json:"vision,omitempty"`
	// QuantMethod is quantization_config.quant_method of a pre-quantized checkpoint.
	QuantMethod string `json:"quant_method,omitempty"`
	// ExpertsPerToken, SharedExperts and LocalExperts are
	// num_experts_per_tok, n_shared_experts and num_local_experts (only
	// cmd/tgisim's launcher heuristic reads them); Intermediate is what one
	// token's MLP uses.
	ExpertsPerToken int `json:"experts_per_token,omitempty"`
	SharedExperts   int `json:"shared_experts,omitempty"`
	LocalExperts    int `json:"local_experts,omitempty"`

	// Source says where the description came from (for logs and errors).
	Source string `json:"-"`
	// WeightsFrom says how WeightsBytes was found: "weights_bytes",
	// "model.safetensors.index.json", "safetensors headers" or "config (no
	// safetensors index or headers)".
	WeightsFrom string `json:"-"`
}

//go:embed catalog.json
var catalogJSON []byte

// ErrModelNotFound is the download failure of a hub id that is neither
// local, cached nor in the catalog (the simulators have no network).
var ErrModelNotFound = errors.New("simkit: model not found")

// NumKVHeads is num_key_value_heads, defaulting to the attention heads.
func (m *Model) NumKVHeads() int {
	if m.KVHeads > 0 {
		return m.KVHeads
	}
	return m.Heads
}

// HeadSize is head_dim, else hidden/heads.
func (m *Model) HeadSize() int {
	if m.HeadDim > 0 {
		return m.HeadDim
	}
	if m.Heads > 0 {
		return m.Hidden / m.Heads
	}
	return 0
}

func (m *Model) validate() error {
	var bad []string
	for _, f := range []struct {
		name string
		v    int
	}{{"layers", m.Layers}, {"hidden", m.Hidden}, {"heads", m.Heads}, {"intermediate", m.Intermediate}, {"vocab", m.Vocab}} {
		if f.v <= 0 {
			bad = append(bad, fmt.Sprintf("%s must be > 0 (got %d)", f.name, f.v))
		}
	}
	if m.KVHeads < 0 || m.HeadDim < 0 || m.MaxPositions < 0 {
		bad = append(bad, "kv_heads, head_dim and max_position_embeddings must not be negative")
	}
	if m.WeightsBytes <= 0 {
		bad = append(bad, fmt.Sprintf("weights_bytes must be > 0 (got %d)", m.WeightsBytes))
	}
	if len(bad) > 0 {
		return fmt.Errorf("simkit: model %s: %s", m.Source, strings.Join(bad, "; "))
	}
	return nil
}

// ResolveModel finds the description of id, in order: SIM_MODEL (inline
// JSON, a JSON file or a model directory), id as a local directory, the
// Hugging Face cache (hubCache, else HF_HUB_CACHE, HUGGINGFACE_HUB_CACHE,
// $HF_HOME/hub, ~/.cache/huggingface/hub), then the embedded catalog. It
// wraps ErrModelNotFound when none has it.
func ResolveModel(id, revision, hubCache string, getenv func(string) string) (*Model, error) {
	if v := strings.TrimSpace(getenv("SIM_MODEL")); v != "" {
		m, err := fromSimModel(v)
		if err != nil {
			return nil, fmt.Errorf("simkit: SIM_MODEL: %w", err)
		}
		if m.ID == "" {
			m.ID = id
		}
		return m, nil
	}
	if fi, err := os.Stat(id); err == nil && fi.IsDir() {
		return LoadModelDir(id)
	}
	if dir := hubSnapshot(hubCacheDir(hubCache, getenv), id, revision); dir != "" {
		m, err := LoadModelDir(dir)
		if err != nil {
			return nil, err
		}
		m.ID = id
		return m, nil
	}
	if m := CatalogModel(id); m != nil {
		return m, nil
	}
	return nil, fmt.Errorf("%w: %s is not a directory, not in the hub cache and not in the simulator's catalog", ErrModelNotFound, id)
}

func fromSimModel(v string) (*Model, error) {
	if strings.HasPrefix(v, "{") {
		return ParseCompact([]byte(v), "SIM_MODEL")
	}
	if fi, err := os.Stat(v); err == nil && fi.IsDir() {
		return LoadModelDir(v)
	}
	b, err := os.ReadFile(v)
	if err != nil {
		return nil, fmt.Errorf("read model description: %w", err)
	}
	return ParseCompact(b, v)
}

// ParseCompact reads the compact JSON form, refusing unknown keys.
func ParseCompact(data []byte, src string) (*Model, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	m := &Model{}
	if err := dec.Decode(m); err != nil {
		return nil, fmt.Errorf("simkit: parse model description %s: %w", src, err)
	}
	m.Source, m.WeightsFrom = src, "weights_bytes"
	if err := m.validate(); err != nil {
		return nil, err
	}
	return m, nil
}

// CatalogModel is id's description in the embedded catalog, or nil.
func CatalogModel(id string) *Model {
	var all []Model
	if err := json.Unmarshal(catalogJSON, &all); err != nil {
		panic("simkit: embedded catalog.json: " + err.Error())
	}
	for i := range all {
		if strings.EqualFold(all[i].ID, id) {
			m := all[i]
			m.Source, m.WeightsFrom = "simulator catalog", "weights_bytes"
			return &m
		}
	}
	return nil
}

func hubCacheDir(flag string, getenv func(string) string) string {
	for _, v := range []string{flag, getenv("HF_HUB_CACHE"), getenv("HUGGINGFACE_HUB_CACHE")} {
		if v != "" {
			return v
		}
	}
	if h := getenv("HF_HOME"); h != "" {
		return filepath.Join(h, "hub")
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, ".cache", "huggingface", "hub")
	}
	return ""
}

// hubSnapshot is the snapshot directory of repo id in a Hugging Face cache
// (refs/<revision or main>, else the first snapshot with a config.json), or "".
func hubSnapshot(cache, id, revision string) string {
	if cache == "" || !strings.Contains(id, "/") {
		return ""
	}
	repo := filepath.Join(cache, "models--"+strings.ReplaceAll(id, "/", "--"))
	snaps := filepath.Join(repo, "snapshots")
	has := func(dir string) bool {
		_, err := os.Stat(filepath.Join(dir, "config.json"))
		return err == nil
	}
	rev := revision
	if rev == "" {
		rev = "main"
	}
	if b, err := os.ReadFile(filepath.Join(repo, "refs", rev)); err == nil && has(filepath.Join(snaps, strings.TrimSpace(string(b)))) {
		return filepath.Join(snaps, strings.TrimSpace(string(b)))
	}
	if revision != "" && has(filepath.Join(snaps, revision)) {
		return filepath.Join(snaps, revision)
	}
	entries, _ := os.ReadDir(snaps)
	for _, e := range entries {
		if has(filepath.Join(snaps, e.Name())) {
			return filepath.Join(snaps, e.Name())
		}
	}
	return ""
}

// LoadModelDir reads config.json and the weight size from a model
// directory: model.safetensors.index.json's total_size, else the
// safetensors headers, else a Llama-shaped parameter count in 16 bits.
func LoadModelDir(dir string) (*Model, error) {
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, fmt.Errorf("simkit: read model config: %w", err)
	}
	m, err := parseHFConfig(b)
	if err != nil {
		return nil, fmt.Errorf("simkit: parse %s: %w", filepath.Join(dir, "config.json"), err)
	}
	m.ID, m.Source = dir, filepath.Join(dir, "config.json")
	n, from, err := weightsInDir(dir)
	if err != nil {
		return nil, err
	}
	m.WeightsBytes, m.WeightsFrom = n, from
	if n == 0 {
		m.WeightsBytes, m.WeightsFrom = paramBytes(m), "config (no safetensors index or headers)"
	}
	if err := m.validate(); err != nil {
		return nil, err
	}
	return m, nil
}

// parseHFConfig maps a transformers config.json onto Model, reading
// text_config for what the top level lacks (VLMs).
func parseHFConfig(b []byte) (*Model, error) {
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, err
	}
	text, _ := raw["text_config"].(map[string]any)
	num := func(keys ...string) int {
		for _, src := range []map[string]any{raw, text} {
			for _, k := range keys {
				if v, ok := src[k].(float64); ok {
					return int(v)
				}
			}
		}
		return 0
	}
	m := &Model{
		Layers: num("num_hidden_layers", "n_layer", "num_layers"), Hidden: num("hidden_size", "n_embd", "d_model"),
		Heads: num("num_attention_heads", "n_head"), KVHeads: num("num_key_value_heads"), HeadDim: num("head_dim"),
		Intermediate: num("intermediate_size", "n_inner", "ffn_dim"), Vocab: num("vocab_size"),
		MaxPositions:    num("max_position_embeddings", "max_seq_len", "n_positions"),
		ExpertsPerToken: num("num_experts_per_tok"), SharedExperts: num("n_shared_experts"), LocalExperts: num("num_local_experts"),
	}
	if m.Intermediate == 0 {
		m.Intermediate = 4 * m.Hidden
	}
	m.ModelType, _ = raw["model_type"].(string)
	_, m.Vision = raw["vision_config"]
	m.Tied, _ = raw["tie_word_embeddings"].(bool)
	if _, ok := raw["tie_word_embeddings"]; !ok && text != nil {
		m.Tied, _ = text["tie_word_embeddings"].(bool)
	}
	if q, ok := raw["quantization_config"].(map[string]any); ok {
		m.QuantMethod, _ = q["quant_method"].(string)
	}
	return m, nil
}

// weightsInDir is the index's metadata.total_size, else the sum of the
// safetensors headers' tensor bytes (header-only files work), with where
// it came from; 0 when neither exists.
func weightsInDir(dir string) (int64, string, error) {
	if b, err := os.ReadFile(filepath.Join(dir, "model.safetensors.index.json")); err == nil {
		var idx struct {
			Metadata struct {
				TotalSize json.Number `json:"total_size"`
			} `json:"metadata"`
		}
		if err := json.Unmarshal(b, &idx); err != nil {
			return 0, "", fmt.Errorf("simkit: parse safetensors index: %w", err)
		}
		if n, err := idx.Metadata.TotalSize.Int64(); err == nil && n > 0 {
			return n, "model.safetensors.index.json", nil
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.safetensors"))
	sort.Strings(files)
	var total int64
	for _, f := range files {
		n, err := safetensorsBytes(f)
		if err != nil {
			return 0, "", err
		}
		total += n
	}
	return total, "safetensors headers", nil
}

// maxHeader bounds a safetensors JSON header (real ones are a few MB).
const maxHeader = 100 << 20

// safetensorsBytes is the largest data_offsets end in a file's header.
func safetensorsBytes(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("simkit: open safetensors: %w", err)
	}
	defer f.Close()
	var n uint64
	if err := binary.Read(f, binary.LittleEndian, &n); err != nil || n == 0 || n > maxHeader {
		return 0, fmt.Errorf("simkit: safetensors %s: bad header length %d (%v)", path, n, err)
	}
	hdr := make([]byte, n)
	if _, err := io.ReadFull(f, hdr); err != nil {
		return 0, fmt.Errorf("simkit: read safetensors header of %s: %w", path, err)
	}
	var tensors map[string]struct {
		DataOffsets [2]int64 `json:"data_offsets"`
	}
	var meta map[string]json.RawMessage
	if err := json.Unmarshal(hdr, &meta); err != nil {
		return 0, fmt.Errorf("simkit: parse safetensors header of %s: %w", path, err)
	}
	delete(meta, "__metadata__")
	clean, _ := json.Marshal(meta)
	if err := json.Unmarshal(clean, &tensors); err != nil {
		return 0, fmt.Errorf("simkit: safetensors %s: %w", path, err)
	}
	var end int64
	for _, t := range tensors {
		end = max(end, t.DataOffsets[1])
	}
	return end, nil
}

// paramBytes is a Llama-shaped parameter count in 16 bits: embeddings,
// attention, gated MLP, norms, and an lm_head unless tied.
func paramBytes(m *Model) int64 {
	h, v, l := int64(m.Hidden), int64(m.Vocab), int64(m.Layers)
	hd, nh, nkv := int64(m.HeadSize()), int64(m.Heads), int64(m.NumKVHeads())
	layer := h*nh*hd + 2*h*nkv*hd + nh*hd*h + 3*h*int64(m.Intermediate) + 2*h
	params := v*h + l*layer + h
	if !m.Tied {
		params += v * h
	}
	return params * 2
}
