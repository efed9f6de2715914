package hfmeta

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/vramcalc/vramcalc/estimate"
)

// ErrBadConfig is returned (wrapped, with the JSON decoder's error) when a
// config.json is not a JSON object.
var ErrBadConfig = errors.New("hfmeta: malformed config.json")

// ErrMissingKeys is returned (wrapped) when a config lacks keys the estimator
// cannot do without. The error text names every missing key, e.g.
// "hfmeta: config: missing keys num_hidden_layers, hidden_size".
var ErrMissingKeys = errors.New("hfmeta: config: missing keys")

// maxSize bounds the sizes read from a config that have no limit of their
// own (estimate.ModelLimit and extraLimits give the others).
const maxSize = 1<<31 - 1

// extraLimits are the plausibility limits of keys that are not a Model
// field themselves: Qwen2-MoE's one shared expert is an MLP as wide as
// intermediate_size may be.
var extraLimits = map[string]int{"shared_expert_intermediate_size": estimate.MaxIntermediate}

// limitOf is the largest value accepted for a size read under keys (the
// Model field's config key first) and whether a larger one is refused
// (true) or only ignored (false, for keys without a limit of their own).
func limitOf(keys []string) (int, bool) {
	if n, ok := estimate.ModelLimit(keys[0]); ok {
		return n, true
	}
	if n, ok := extraLimits[keys[0]]; ok {
		return n, true
	}
	return maxSize, false
}

// knownTypes are the model_type values ParseConfig understands. Other types
// go through the generic path (standard keys only) with a warning.
var knownTypes = map[string]bool{
	"llama": true, "mistral": true, "mixtral": true,
	"qwen2": true, "qwen2_moe": true, "qwen3": true, "qwen3_moe": true,
	"gemma": true, "gemma2": true, "gemma3": true, "gemma3_text": true,
	"phi3": true, "phi": true, "opt": true, "gpt_oss": true,
	"deepseek_v2": true, "deepseek_v3": true,
	"falcon": true, "gpt2": true, "gpt_bigcode": true,
	"mistral3": true, "qwen2_5_vl": true, "qwen3_vl": true, "qwen3_vl_moe": true,
	// Layouts layers.go reads (hybrid state, chunked local, KV sharing, sparse indexer).
	"qwen3_next": true, "qwen3_5": true, "qwen3_5_text": true, "qwen3_5_moe": true, "qwen3_5_moe_text": true,
	"nemotron_h": true, "granitemoehybrid": true, "jamba": true, "bamba": true, "falcon_h1": true,
	"gemma3n": true, "gemma3n_text": true, "llama4": true, "llama4_text": true, "deepseek_v32": true,
	"kimi_linear": true, "minimax_text_01": true, "minimax_m1": true,
}

// tiedByDefault lists the model types whose transformers config class leaves
// tie_word_embeddings at PretrainedConfig's default (true) when config.json
// omits the key. The others (LlamaConfig, MistralConfig, Qwen2Config, ...)
// default it to false.
var tiedByDefault = map[string]bool{
	"gemma": true, "gemma2": true, "gemma3": true, "gemma3_text": true, "gemma3n": true, "gemma3n_text": true,
	"opt": true, "falcon": true, "gpt2": true, "gpt_bigcode": true,
}

// gemma3TextDefaults are the transformers Gemma3TextConfig defaults
// (Gemma3TextConfig.__init__,
// https://github.com/huggingface/transformers/blob/008f5c8c29be84d4721dc6d1e0fcd72300580be4/src/transformers/models/gemma3/configuration_gemma3.py#L172-L194). Gemma 3 VLM configs list only the keys that
// differ, so a text_config without vocab_size means 262208.
var gemma3TextDefaults = []struct {
	key string
	val int
}{
	{"vocab_size", 262208},
	{"hidden_size", 2304},
	{"intermediate_size", 9216},
	{"num_hidden_layers", 26},
	{"num_attention_heads", 8},
	{"num_key_value_heads", 4},
	{"head_dim", 256},
	{"max_position_embeddings", 131072},
	{"sliding_window", 4096},
}

// ParseConfig turns a Hugging Face config.json into an estimate.Model (ID left
// empty) plus warnings about assumptions it made. For multimodal configs
// (gemma3, mistral3) the facts come from text_config and Vision is set when a
// vision_config is present.
//
// It returns an error wrapping ErrBadConfig for malformed JSON, one wrapping
// ErrMissingKeys naming every missing required key (layers, hidden size,
// heads, vocabulary), a plain error for wrongly typed, zero or negative
// sizes, and one wrapping estimate.ErrImplausible naming every size beyond
// its limit (estimate.ModelLimit) under the key as written, e.g.
// "num_hidden_layers 2147483000 is beyond 2048". It never panics.
func ParseConfig(data []byte) (estimate.Model, []string, error) {
	var root map[string]any
	dec := json.NewDecoder(bytes.NewReader(pythonConstants(data)))
	dec.UseNumber()
	if err := dec.Decode(&root); err != nil {
		return estimate.Model{}, nil, fmt.Errorf("%w: %w", ErrBadConfig, err)
	}
	if root == nil {
		return estimate.Model{}, nil, fmt.Errorf("%w: top level is null, want an object", ErrBadConfig)
	}
	if _, err := dec.Token(); err == nil {
		return estimate.Model{}, nil, fmt.Errorf("%w: trailing data after the JSON object", ErrBadConfig)
	}
	p := &parser{root: root}
	return p.parse()
}

// pythonConstants returns data with the bare NaN, Infinity and -Infinity
// that Python's json module writes for non-finite floats replaced by null
// outside strings. transformers saves config.json with json.dumps, which
// allows them (Nemotron-H, Granite-4.0-H and Bamba store "time_step_limit":
// [0.0, Infinity]); encoding/json does not. No size vramcalc reads is
// non-finite, so null loses nothing. data without them is returned as is.
func pythonConstants(data []byte) []byte {
	if !bytes.Contains(data, []byte("Infinity")) && !bytes.Contains(data, []byte("NaN")) {
		return data
	}
	out := make([]byte, 0, len(data))
	inString, escaped := false, false
	for i := 0; i < len(data); i++ {
		c := data[i]
		if inString {
			out = append(out, c)
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		if c == '"' {
			inString = true
		}
		if n := constantAt(data[i:]); n > 0 {
			out = append(out, "null"...)
			i += n - 1
			continue
		}
		out = append(out, c)
	}
	return out
}

// constantAt is the length of the Python constant b starts with, 0 if none.
func constantAt(b []byte) int {
	for _, k := range [...]string{"-Infinity", "Infinity", "NaN"} {
		if bytes.HasPrefix(b, []byte(k)) {
			return len(k)
		}
	}
	return 0
}

// parser holds the state of one ParseConfig call.
type parser struct {
	root     map[string]any
	text     map[string]any // text_config, or root for text-only models
	nested   bool           // text is a separate text_config
	warnings []string
	errs     []string
	missing  []string
	// beyond lists sizes beyond physical sense (estimate.ErrImplausible).
	beyond []string
}

func (p *parser) warnf(format string, a ...any) {
	p.warnings = append(p.warnings, fmt.Sprintf(format, a...))
}

func (p *parser) errorf(format string, a ...any) {
	p.errs = append(p.errs, fmt.Sprintf(format, a...))
}

// parse reads the model facts in a fixed order (the warnings come in it)
// and then reports missing keys and bad values together.
func (p *parser) parse() (estimate.Model, []string, error) {
	var m estimate.Model
	p.modelType(&m)
	p.requiredSizes(&m)
	p.attentionShape(&m)
	p.mlpAndContext(&m)
	p.embeddingTying(&m)
	m.DType = p.dtype()
	p.mixtureOfExperts(&m)
	p.latentAttention(&m)
	// Sliding window and per-layer attention kinds. Qwen2-style configs carry
	// sliding_window together with use_sliding_window=false; the value is
	// kept as written because TGI reads the raw key and compares it with
	// --max-input-tokens
	// (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/server/text_generation_server/models/__init__.py#L646-L659)
	// although transformers then applies no window.
	m.SlidingWindow = p.optional("sliding_window")
	m.LayerTypes = p.layerTypes(m.Layers)
	if m.LayerTypes == nil {
		m.LayerTypes = p.gemmaLayerTypes(m)
	}
	m.Rope = p.rope()
	// Multi-token-prediction layers: DeepSeek-V3, GLM-4.5 and MiMo
	// (num_nextn_predict_layers), Qwen3-Next and Qwen3.5
	// (mtp_num_hidden_layers), MiniMax-M2 (num_mtp_modules with use_mtp).
	m.MTPLayers = p.optional("num_nextn_predict_layers", "mtp_num_hidden_layers")
	if m.MTPLayers == 0 && p.boolean(p.text, "use_mtp") {
		m.MTPLayers = p.optional("num_mtp_modules")
	}
	if _, _, ok := p.find("num_nextn_predict_layers"); !ok && m.Type == "qwen3_next" {
		// Qwen3-Next's configs name no MTP key, and its checkpoints carry
		// one layer: vLLM's Qwen3NextMTP takes 1 by default
		// (https://github.com/vllm-project/vllm/blob/v0.19.0/vllm/model_executor/models/qwen3_next_mtp.py#L56-L57),
		// SGLang forces 1 (docs/SPECULATIVE.md, Appendix B §3).
		m.MTPLayers = 1
	}
	// Pre-quantized checkpoints.
	m.QuantMethod = p.quantMethod()
	m.QuantActOrder = p.gptqActOrder(m.QuantMethod)
	p.optProjection(m)
	p.visionTower(&m)
	m.Unmodelled = p.unmodelled(&m, p.layerKinds(&m))

	if len(p.missing) > 0 {
		return estimate.Model{}, p.warnings, fmt.Errorf("%w %s", ErrMissingKeys, strings.Join(p.missing, ", "))
	}
	if len(p.errs) > 0 {
		return estimate.Model{}, p.warnings, fmt.Errorf("hfmeta: config: %s", strings.Join(p.errs, "; "))
	}
	if len(p.beyond) > 0 {
		return estimate.Model{}, p.warnings, fmt.Errorf("hfmeta: config: %w: %s", estimate.ErrImplausible, strings.Join(p.beyond, "; "))
	}
	return m, p.warnings, nil
}

// modelType reads model_type, picks the scope the facts come from
// (text_config for multimodal configs), notes a vision tower, and fills the
// Gemma 3 text defaults.
func (p *parser) modelType(m *estimate.Model) {
	m.Type = p.str(p.root, "model_type")
	p.text = p.root
	if tc, ok := p.root["text_config"].(map[string]any); ok {
		p.text = tc
		p.nested = true
		if m.Type == "" {
			m.Type = p.str(tc, "model_type")
		}
	}
	if vc, ok := p.root["vision_config"]; ok && vc != nil {
		m.Vision = true
	}
	switch {
	case m.Type == "":
		p.warnf("no model_type: using the standard keys")
	case !knownTypes[m.Type]:
		p.warnf("unknown model_type %q: using the standard keys", m.Type)
	}
	if m.Type == "gemma3" || m.Type == "gemma3_text" {
		p.applyGemma3Defaults()
	}
}

// requiredSizes reads the sizes no estimate can do without.
func (p *parser) requiredSizes(m *estimate.Model) {
	m.Layers = p.required("num_hidden_layers", "n_layer", "num_layers", "n_layers")
	m.Hidden = p.required("hidden_size", "n_embd", "d_model")
	m.Heads = p.required("num_attention_heads", "n_head", "num_heads")
	m.Vocab = p.required("vocab_size", "padded_vocab_size")
}

// attentionShape reads the KV head count (multi_query means 1) and the head
// width, warning about shapes that do not divide evenly.
func (p *parser) attentionShape(m *estimate.Model) {
	m.KVHeads = p.optional("num_key_value_heads", "num_kv_heads", "n_head_kv")
	if m.KVHeads == 0 && p.boolean(p.text, "multi_query") {
		m.KVHeads = 1
	}
	m.HeadDim = p.optional("head_dim")
	if m.HeadDim == 0 && m.Heads > 0 && m.Hidden%m.Heads != 0 {
		p.warnf("hidden_size %d is not a multiple of num_attention_heads %d and head_dim is absent", m.Hidden, m.Heads)
	}
	if kv := m.KVHeadCount(); kv > 0 && m.Heads > 0 && m.Heads%kv != 0 {
		p.warnf("num_attention_heads %d is not a multiple of num_key_value_heads %d", m.Heads, kv)
	}
}

// mlpAndContext reads the MLP width (4 × hidden where the config class
// defaults it so) and the context length.
func (p *parser) mlpAndContext(m *estimate.Model) {
	m.Intermediate = p.optional("intermediate_size", "ffn_dim", "n_inner", "ffn_hidden_size")
	if m.Intermediate == 0 && m.Hidden > 0 {
		switch m.Type {
		case "gpt2", "gpt_bigcode", "falcon":
			// GPT2Config n_inner=None and FalconConfig ffn_hidden_size=None mean 4 × hidden.
			m.Intermediate = 4 * m.Hidden
		}
	}
	// model_max_length is the context of configs without the others
	// (Kimi-Linear), as vLLM and SGLang read it
	// (https://github.com/vllm-project/vllm/blob/v0.21.0/vllm/transformers_utils/model_arch_config_convertor.py#L278-L310,
	// https://github.com/sgl-project/sglang/blob/v0.5.18/python/sglang/srt/utils/hf_transformers/common.py#L521-L547).
	// Both prefer it to max_position_embeddings when a config has both
	// (Command-R); that is not modelled, and no catalog config has both.
	m.MaxPositions = p.optional("max_position_embeddings", "n_positions", "max_seq_len", "seq_length", "max_sequence_length", "model_max_length")
}

// embeddingTying reads tie_word_embeddings, with the config class default
// when the key is absent.
func (p *parser) embeddingTying(m *estimate.Model) {
	if v, ok := p.lookupBool("tie_word_embeddings"); ok {
		m.TieWordEmbeddings = v
		return
	}
	// Unknown types get PretrainedConfig's default, true.
	m.TieWordEmbeddings = tiedByDefault[m.Type] || !knownTypes[m.Type]
}

// mixtureOfExperts reads the routed and shared experts and the leading
// dense layers, warning about layouts the estimate simplifies.
func (p *parser) mixtureOfExperts(m *estimate.Model) {
	m.Experts = p.optional("num_local_experts", "num_experts", "n_routed_experts", "moe_num_experts")
	m.ExpertsPerToken = p.optional("num_experts_per_tok", "experts_per_token", "moe_top_k")
	m.MoEIntermediate = p.optional("moe_intermediate_size")
	m.SharedExperts = p.optional("n_shared_experts")
	m.DenseLayers = p.optional("first_k_dense_replace")
	if m.Type == "qwen2_moe" {
		p.qwen2MoESharedExpert(m)
	}
	if m.Experts > 0 && m.DenseLayers > m.Layers {
		p.warnf("first_k_dense_replace %d exceeds num_hidden_layers %d: every layer is dense", m.DenseLayers, m.Layers)
		m.DenseLayers = m.Layers
	}
	if m.Type == "qwen2_moe" || m.Type == "qwen3_moe" {
		if s := p.optional("decoder_sparse_step"); s > 1 {
			p.warnf("decoder_sparse_step %d: only every %dth layer is sparse, but the estimate treats all layers as MoE", s, s)
		}
		if v, ok := p.text["mlp_only_layers"].([]any); ok && len(v) > 0 {
			p.warnf("mlp_only_layers lists %d dense layers, but the estimate treats all layers as MoE", len(v))
		}
	}
}

// latentAttention reads multi-head latent attention's widths (DeepSeek V2/V3).
func (p *parser) latentAttention(m *estimate.Model) {
	m.KVLoraRank = p.optional("kv_lora_rank")
	m.QLoraRank = p.optional("q_lora_rank")
	m.QKRopeHeadDim = p.optional("qk_rope_head_dim")
	m.QKNopeHeadDim = p.optional("qk_nope_head_dim")
	m.VHeadDim = p.optional("v_head_dim")
}

// optProjection warns when an OPT model's embedding is narrower than its
// hidden size (project_in/project_out are not in the model facts).
func (p *parser) optProjection(m estimate.Model) {
	if m.Type != "opt" {
		return
	}
	if d := p.optional("word_embed_proj_dim"); d > 0 && d != m.Hidden {
		p.warnf("word_embed_proj_dim %d differs from hidden_size %d: project_in/project_out and the narrower embedding are not in the model facts", d, m.Hidden)
	}
}

// applyGemma3Defaults fills the Gemma3TextConfig defaults for keys the text
// config omits and reports which ones it filled.
func (p *parser) applyGemma3Defaults() {
	var filled []string
	for _, d := range gemma3TextDefaults {
		if v, ok := p.text[d.key]; ok && v != nil {
			continue
		}
		if d.key == "sliding_window" {
			if _, ok := p.text[d.key]; ok {
				continue // an explicit null means no window
			}
		}
		p.text[d.key] = json.Number(fmt.Sprint(d.val))
		filled = append(filled, fmt.Sprintf("%s=%d", d.key, d.val))
	}
	if len(filled) > 0 {
		p.warnf("gemma3 text config omits keys; using the transformers Gemma3TextConfig defaults %s", strings.Join(filled, ", "))
	}
}

// qwen2MoESharedExpert maps Qwen2-MoE's single shared expert of width
// shared_expert_intermediate_size onto SharedExperts, counted in units of
// moe_intermediate_size (Qwen1.5-MoE-A2.7B: 5632 / 1408 = 4), which gives the
// same tensor sizes as one expert of the full width.
func (p *parser) qwen2MoESharedExpert(m *estimate.Model) {
	w := p.optional("shared_expert_intermediate_size")
	if w == 0 || m.SharedExperts > 0 {
		return
	}
	unit := m.ExpertWidth()
	if unit <= 0 {
		p.warnf("shared_expert_intermediate_size %d ignored: no moe_intermediate_size", w)
		return
	}
	m.SharedExperts = (w + unit - 1) / unit
	if w%unit != 0 {
		p.warnf("shared_expert_intermediate_size %d is not a multiple of moe_intermediate_size %d: counted as %d experts of width %d", w, unit, m.SharedExperts, unit)
	}
}

// find returns the first of keys present with a non-null value, looking in
// the text config first and then at the top level.
func (p *parser) find(keys ...string) (string, any, bool) {
	scopes := []map[string]any{p.text}
	if p.nested {
		scopes = append(scopes, p.root)
	}
	for _, s := range scopes {
		for _, k := range keys {
			if v, ok := s[k]; ok && v != nil {
				return k, v, true
			}
		}
	}
	return "", nil, false
}

// required reads a size that must be present and positive; a missing one is
// recorded under the first key name.
func (p *parser) required(keys ...string) int {
	k, v, ok := p.find(keys...)
	if !ok {
		p.missing = append(p.missing, keys[0])
		return 0
	}
	n, ok := p.toInt(k, v)
	if !ok {
		return 0
	}
	if n <= 0 {
		p.errorf("%s is %d, want > 0", k, n)
		return 0
	}
	return p.bounded(keys, k, n)
}

// optional reads a size that may be absent or null (0). Negative values are
// errors; values beyond maxSize are dropped with a warning.
func (p *parser) optional(keys ...string) int {
	k, v, ok := p.find(keys...)
	if !ok {
		return 0
	}
	n, ok := p.toInt(k, v)
	if !ok {
		return 0
	}
	if n < 0 {
		p.errorf("%s is %d, want >= 0", k, n)
		return 0
	}
	return p.bounded(keys, k, n)
}

// bounded returns n read under key k (one of keys) when it is within the
// keys' limit. Beyond a limit of a Model field it is refused, naming the
// key as written ("num_hidden_layers 2147483000 is beyond 2048"); beyond
// maxSize for a key without one it is ignored with a warning.
func (p *parser) bounded(keys []string, k string, n int64) int {
	limit, refuse := limitOf(keys)
	switch {
	case n <= int64(limit):
		return int(n)
	case refuse:
		p.beyond = append(p.beyond, fmt.Sprintf("%s %d is beyond %d", k, n, limit))
	default:
		p.warnf("%s %d is implausibly large: ignored", k, n)
	}
	return 0
}

// toInt converts a JSON number holding an integer (4096 or 4096.0).
func (p *parser) toInt(key string, v any) (int64, bool) {
	num, ok := v.(json.Number)
	if !ok {
		p.errorf("%s: want an integer, got %s", key, jsonKind(v))
		return 0, false
	}
	if n, err := num.Int64(); err == nil {
		return n, true
	}
	f, err := num.Float64()
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) || f != math.Trunc(f) || math.Abs(f) > 1<<62 {
		p.errorf("%s: want an integer, got %s", key, num.String())
		return 0, false
	}
	return int64(f), true
}

// jsonKind names a decoded JSON value's type for error messages.
func jsonKind(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

// str reads a string key of m, or "".
func (p *parser) str(m map[string]any, key string) string {
	s, _ := m[key].(string)
	return s
}

// boolean reads a boolean key of m (false when absent or not a boolean).
func (p *parser) boolean(m map[string]any, key string) bool {
	b, _ := m[key].(bool)
	return b
}

// lookupBool reads a boolean from the text config or the top level.
func (p *parser) lookupBool(key string) (bool, bool) {
	k, v, ok := p.find(key)
	if !ok {
		return false, false
	}
	b, isBool := v.(bool)
	if !isBool {
		p.warnf("%s: want a boolean, got %s; ignored", k, jsonKind(v))
		return false, false
	}
	return b, true
}

// dtype reads torch_dtype (or transformers v5's dtype), top level first
// because that is what the checkpoint was saved with.
func (p *parser) dtype() estimate.DType {
	for _, s := range []map[string]any{p.root, p.text} {
		for _, k := range []string{"torch_dtype", "dtype"} {
			v, ok := s[k]
			if !ok || v == nil {
				continue
			}
			name, isStr := v.(string)
			if !isStr {
				p.warnf("%s: want a string, got %s; ignored", k, jsonKind(v))
				continue
			}
			d, err := estimate.ParseDType(name)
			if err != nil {
				p.warnf("%s %q is not a known dtype; ignored", k, name)
				continue
			}
			return d
		}
	}
	p.warnf("no torch_dtype: the checkpoint dtype is unknown (bfloat16 assumed for derived tensors)")
	return ""
}

// layerTypes copies layer_types, checking its length against the layer count.
func (p *parser) layerTypes(layers int) []string {
	_, v, ok := p.find("layer_types")
	if !ok {
		return nil
	}
	list, isList := v.([]any)
	if !isList {
		p.warnf("layer_types: want an array, got %s; ignored", jsonKind(v))
		return nil
	}
	out := make([]string, 0, len(list))
	for i, e := range list {
		s, isStr := e.(string)
		if !isStr {
			p.warnf("layer_types[%d]: want a string, got %s; layer_types ignored", i, jsonKind(e))
			return nil
		}
		out = append(out, s)
	}
	if layers > 0 && len(out) != layers {
		p.warnf("layer_types has %d entries for %d layers", len(out), layers)
	}
	return out
}

// gemmaLayerTypes is the layer_types transformers derives when a Gemma 2
// or 3 config has none: every layer sliding but each sliding_window_pattern-th
// (6 by default in Gemma 3,
// https://github.com/huggingface/transformers/blob/c5553b41201fe4f83ba020c88740fbb1d073ab22/src/transformers/models/gemma3/configuration_gemma3.py#L236-L242;
// 2 in Gemma 2,
// https://github.com/huggingface/transformers/blob/c5553b41201fe4f83ba020c88740fbb1d073ab22/src/transformers/models/gemma2/configuration_gemma2.py#L175-L178).
func (p *parser) gemmaLayerTypes(m estimate.Model) []string {
	every := 0
	switch m.Type {
	case "gemma2":
		every = 2
	case "gemma3", "gemma3_text":
		every = cmp.Or(p.optional("sliding_window_pattern"), 6)
	}
	if every == 0 || m.Layers == 0 || m.SlidingWindow == 0 {
		return nil
	}
	out := make([]string, m.Layers)
	for i := range out {
		out[i] = "sliding_attention"
		if (i+1)%every == 0 {
			out[i] = "full_attention"
		}
	}
	return out
}

// gptqActOrder reads whether a GPTQ checkpoint was quantized with
// act-order (desc_act true) or per channel (group_size −1): its
// row-parallel scales are then whole on every rank (Model.QuantActOrder).
func (p *parser) gptqActOrder(method string) bool {
	if method != "gptq" {
		return false
	}
	_, v, _ := p.find("quantization_config")
	qc, _ := v.(map[string]any)
	act, _ := qc["desc_act"].(bool)
	group, ok := qc["group_size"].(float64)
	return act || (ok && group == -1)
}

// quantMethod reads quantization_config.quant_method (text or top level).
func (p *parser) quantMethod() string {
	_, v, ok := p.find("quantization_config")
	if !ok {
		return ""
	}
	qc, isObj := v.(map[string]any)
	if !isObj {
		p.warnf("quantization_config: want an object, got %s; ignored", jsonKind(v))
		return ""
	}
	method, _ := qc["quant_method"].(string)
	if method == "" {
		keys := make([]string, 0, len(qc))
		for k := range qc {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		p.warnf("quantization_config has no quant_method (keys: %s)", strings.Join(keys, ", "))
		return ""
	}
	switch method {
	case "fp8", "mxfp4":
	default:
		p.warnf("quant_method %q: tensors derived from the config are unquantized; the checkpoint's safetensors headers give the stored sizes", method)
	}
	return method
}
