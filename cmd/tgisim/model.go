package main

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

// modelSpec is what the simulator knows about a model. It is the compact
// JSON of SIM_MODEL (and of the embedded catalog); config.json files are
// read into the same struct.
type modelSpec struct {
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
	// Tied is tie_word_embeddings: TGI loads the embedding a second time
	// for the lm_head (docs/ENGINES.md §3).
	Tied bool `json:"tie_word_embeddings,omitempty"`
	// Vision marks a VLM (config.json has vision_config).
	Vision bool `json:"vision,omitempty"`
	// QuantMethod is quantization_config.quant_method of a pre-quantized checkpoint.
	QuantMethod string `json:"quant_method,omitempty"`
	// ExpertsPerToken, SharedExperts and LocalExperts feed the launcher's
	// prefill heuristic only (num_experts_per_tok, n_shared_experts,
	// num_local_experts); Intermediate is what one token's MLP uses.
	ExpertsPerToken int `json:"experts_per_token,omitempty"`
	SharedExperts   int `json:"shared_experts,omitempty"`
	LocalExperts    int `json:"local_experts,omitempty"`

	// source says where the description came from (for logs and errors).
	source string
	// weightsFrom says how WeightsBytes was found.
	weightsFrom string
}

//go:embed catalog.json
var catalogJSON []byte

// kvHeads is num_key_value_heads, defaulting to the attention heads.
func (m *modelSpec) kvHeads() int {
	if m.KVHeads > 0 {
		return m.KVHeads
	}
	return m.Heads
}

// headDim is head_dim, else hidden/heads
// (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/server/text_generation_server/models/flash_causal_lm.py#L1298-L1306).
func (m *modelSpec) headDim() int {
	if m.HeadDim > 0 {
		return m.HeadDim
	}
	if m.Heads > 0 {
		return m.Hidden / m.Heads
	}
	return 0
}

// launcherHeadDim is the launcher's get_head_dim: head_dim, or
// hidden/heads when it divides evenly, or 256 for gemma3.
func (m *modelSpec) launcherHeadDim() int {
	if m.HeadDim > 0 {
		return m.HeadDim
	}
	if m.Heads > 0 && m.Hidden%m.Heads == 0 {
		return m.Hidden / m.Heads
	}
	if m.ModelType == "gemma3" {
		return 256
	}
	return 0
}

func (m *modelSpec) validate() error {
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
	if m.HeadDim == 0 && m.Heads > 0 && m.Hidden%m.Heads != 0 {
		bad = append(bad, fmt.Sprintf("head_dim is needed: hidden %d is not a multiple of heads %d", m.Hidden, m.Heads))
	}
	if len(bad) > 0 {
		return fmt.Errorf("model %s: %s", m.source, strings.Join(bad, "; "))
	}
	return nil
}

// launcherQuantMethods are the quant_method values the launcher's RawConfig
// deserialises; any other value makes the whole config unreadable to it
// (docs/ENGINES.md §1.4 pitfall).
var launcherQuantMethods = map[string]bool{"awq": true, "compressed-tensors": true, "eetq": true, "exl2": true, "gptq": true, "marlin": true, "bitsandbytes": true, "bitsandbytes-nf4": true, "bitsandbytes-fp4": true, "fp8": true}

// launcherReadsConfig reports whether TGI's launcher can parse the config
// (get_config(..).ok() is Some).
func (m *modelSpec) launcherReadsConfig() bool {
	return m.QuantMethod == "" || launcherQuantMethods[m.QuantMethod]
}

// errModelNotFound is the download failure of a hub id that is neither
// cached nor in the embedded catalog (the simulator has no network).
var errModelNotFound = errors.New("model not found")

// resolveModel finds the model description, in order: SIM_MODEL (inline
// JSON or a file), --model-id as a local directory, the Hugging Face cache
// (--huggingface-hub-cache, HUGGINGFACE_HUB_CACHE, HF_HUB_CACHE,
// $HF_HOME/hub), then the embedded catalog.
func resolveModel(a *Args, getenv func(string) string) (*modelSpec, error) {
	if v := strings.TrimSpace(getenv("SIM_MODEL")); v != "" {
		var data []byte
		src := "SIM_MODEL"
		if strings.HasPrefix(v, "{") {
			data = []byte(v)
		} else {
			if fi, err := os.Stat(v); err == nil && fi.IsDir() {
				m, err := loadModelDir(v)
				if err != nil {
					return nil, fmt.Errorf("SIM_MODEL: %w", err)
				}
				return m, nil
			}
			b, err := os.ReadFile(v)
			if err != nil {
				return nil, fmt.Errorf("SIM_MODEL: %w", err)
			}
			data, src = b, v
		}
		m, err := parseCompact(data, src)
		if err != nil {
			return nil, fmt.Errorf("SIM_MODEL: %w", err)
		}
		if m.ID == "" {
			m.ID = a.ModelID
		}
		return m, nil
	}
	if fi, err := os.Stat(a.ModelID); err == nil && fi.IsDir() {
		return loadModelDir(a.ModelID)
	}
	if dir := hubSnapshot(hubCacheDir(a, getenv), a.ModelID, a.Revision); dir != "" {
		m, err := loadModelDir(dir)
		if err != nil {
			return nil, err
		}
		m.ID = a.ModelID
		return m, nil
	}
	if m := catalogModel(a.ModelID); m != nil {
		return m, nil
	}
	return nil, fmt.Errorf("%w: %s is not a directory, not in the hub cache and not in tgisim's catalog", errModelNotFound, a.ModelID)
}

// parseCompact reads the compact JSON form, refusing unknown keys.
func parseCompact(data []byte, src string) (*modelSpec, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	m := &modelSpec{}
	if err := dec.Decode(m); err != nil {
		return nil, fmt.Errorf("parse model description %s: %w", src, err)
	}
	m.source, m.weightsFrom = src, "weights_bytes"
	if err := m.validate(); err != nil {
		return nil, err
	}
	return m, nil
}

func catalogModel(id string) *modelSpec {
	var all []modelSpec
	if err := json.Unmarshal(catalogJSON, &all); err != nil {
		panic("tgisim: embedded catalog.json: " + err.Error())
	}
	for i := range all {
		if strings.EqualFold(all[i].ID, id) {
			m := all[i]
			m.source, m.weightsFrom = "tgisim catalog", "weights_bytes"
			return &m
		}
	}
	return nil
}

func hubCacheDir(a *Args, getenv func(string) string) string {
	for _, v := range []string{a.HubCache, getenv("HUGGINGFACE_HUB_CACHE"), getenv("HF_HUB_CACHE")} {
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

// hubSnapshot returns the snapshot directory of repo id in a Hugging Face
// cache (models--org--name/snapshots/<sha>, chosen by refs/<revision>,
// refs/main, or the only snapshot), or "".
func hubSnapshot(cache, id, revision string) string {
	if cache == "" || id == "" || !strings.Contains(id, "/") {
		return ""
	}
	repo := filepath.Join(cache, "models--"+strings.ReplaceAll(id, "/", "--"))
	snaps := filepath.Join(repo, "snapshots")
	rev := revision
	if rev == "" {
		rev = "main"
	}
	if b, err := os.ReadFile(filepath.Join(repo, "refs", rev)); err == nil {
		dir := filepath.Join(snaps, strings.TrimSpace(string(b)))
		if _, err := os.Stat(filepath.Join(dir, "config.json")); err == nil {
			return dir
		}
	}
	if revision != "" {
		dir := filepath.Join(snaps, revision)
		if _, err := os.Stat(filepath.Join(dir, "config.json")); err == nil {
			return dir
		}
	}
	entries, err := os.ReadDir(snaps)
	if err != nil {
		return ""
	}
	for _, e := range entries {
		dir := filepath.Join(snaps, e.Name())
		if _, err := os.Stat(filepath.Join(dir, "config.json")); err == nil {
			return dir
		}
	}
	return ""
}

// loadModelDir reads config.json and the weight size from a model directory.
func loadModelDir(dir string) (*modelSpec, error) {
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, fmt.Errorf("read model config: %w", err)
	}
	m, err := parseHFConfig(b)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", filepath.Join(dir, "config.json"), err)
	}
	m.ID, m.source = dir, filepath.Join(dir, "config.json")
	if n, from, err := weightsInDir(dir); err != nil {
		return nil, err
	} else if n > 0 {
		m.WeightsBytes, m.weightsFrom = n, from
	} else {
		m.WeightsBytes, m.weightsFrom = configParamBytes(m), "config (no safetensors index or headers)"
	}
	if err := m.validate(); err != nil {
		return nil, err
	}
	return m, nil
}

// parseHFConfig maps a transformers config.json onto modelSpec, reading
// text_config for fields the top level lacks (VLMs).
func parseHFConfig(b []byte) (*modelSpec, error) {
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
	m := &modelSpec{
		Layers:          num("num_hidden_layers", "n_layer", "num_layers"),
		Hidden:          num("hidden_size", "n_embd", "d_model"),
		Heads:           num("num_attention_heads", "n_head"),
		KVHeads:         num("num_key_value_heads"),
		HeadDim:         num("head_dim"),
		Intermediate:    num("intermediate_size", "n_inner", "ffn_dim"),
		Vocab:           num("vocab_size"),
		MaxPositions:    num("max_position_embeddings", "max_seq_len", "n_positions"),
		ExpertsPerToken: num("num_experts_per_tok"),
		SharedExperts:   num("n_shared_experts"),
		LocalExperts:    num("num_local_experts"),
	}
	if m.Intermediate == 0 && m.Hidden > 0 {
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

// weightsInDir sums the checkpoint: model.safetensors.index.json's
// metadata.total_size, else the tensors described by every *.safetensors
// header (header-only files work). 0 means neither exists.
func weightsInDir(dir string) (int64, string, error) {
	if b, err := os.ReadFile(filepath.Join(dir, "model.safetensors.index.json")); err == nil {
		var idx struct {
			Metadata struct {
				TotalSize json.Number `json:"total_size"`
			} `json:"metadata"`
		}
		if err := json.Unmarshal(b, &idx); err != nil {
			return 0, "", fmt.Errorf("parse %s: %w", filepath.Join(dir, "model.safetensors.index.json"), err)
		}
		if n, err := idx.Metadata.TotalSize.Int64(); err == nil && n > 0 {
			return n, "model.safetensors.index.json", nil
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.safetensors"))
	sort.Strings(files)
	var total int64
	for _, f := range files {
		n, err := safetensorsDataBytes(f)
		if err != nil {
			return 0, "", err
		}
		total += n
	}
	if total > 0 {
		return total, "safetensors headers", nil
	}
	return 0, "", nil
}

// maxSafetensorsHeader bounds the JSON header read from a file (real
// headers are at most a few MB).
const maxSafetensorsHeader = 100 << 20

// safetensorsDataBytes is the end of the last tensor in a safetensors
// file: the largest data_offsets[1] of its header.
func safetensorsDataBytes(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("open safetensors: %w", err)
	}
	defer f.Close()
	var n uint64
	if err := binary.Read(f, binary.LittleEndian, &n); err != nil {
		return 0, fmt.Errorf("read safetensors header length of %s: %w", path, err)
	}
	if n == 0 || n > maxSafetensorsHeader {
		return 0, fmt.Errorf("safetensors %s: header length %d out of range", path, n)
	}
	hdr := make([]byte, n)
	if _, err := io.ReadFull(f, hdr); err != nil {
		return 0, fmt.Errorf("read safetensors header of %s: %w", path, err)
	}
	var tensors map[string]json.RawMessage
	if err := json.Unmarshal(hdr, &tensors); err != nil {
		return 0, fmt.Errorf("parse safetensors header of %s: %w", path, err)
	}
	var end int64
	for name, raw := range tensors {
		if name == "__metadata__" {
			continue
		}
		var t struct {
			DataOffsets [2]int64 `json:"data_offsets"`
		}
		if err := json.Unmarshal(raw, &t); err != nil {
			return 0, fmt.Errorf("safetensors %s: tensor %s: %w", path, name, err)
		}
		end = max(end, t.DataOffsets[1])
	}
	return end, nil
}

// configParamBytes is a Llama-shaped parameter count in 16-bit when the
// directory has no safetensors: embeddings, attention, gated MLP, norms,
// and an lm_head unless tied.
func configParamBytes(m *modelSpec) int64 {
	h, v, l := int64(m.Hidden), int64(m.Vocab), int64(m.Layers)
	hd, nh, nkv := int64(m.headDim()), int64(m.Heads), int64(m.kvHeads())
	layer := h*nh*hd + 2*h*nkv*hd + nh*hd*h + 3*h*int64(m.Intermediate) + 2*h
	params := v*h + l*layer + h
	if !m.Tied {
		params += v * h
	}
	return params * 2
}
