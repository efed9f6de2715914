package hfmeta

import (
	"encoding/json"
	"slices"

	"github.com/vramcalc/vramcalc/estimate"
)

// layerKinds fills Model.Kinds, Model.State, Model.AttentionChunk and
// Model.IndexHeadDim for the layouts it knows (issue 11 §1), from the keys
// each family's transformers config class defines. It returns the
// unmodelledKeys groups (by index) the layout accounts for, so that only
// what stays unread is reported as unmodelled.
func (p *parser) layerKinds(m *estimate.Model) map[int]bool {
	done := map[int]bool{}
	switch m.Type {
	case "qwen3_next", "qwen3_5", "qwen3_5_text", "qwen3_5_moe", "qwen3_5_moe_text":
		if p.gatedDeltaNet(m) {
			done[0], done[1] = true, true
		}
	case "nemotron_h":
		if p.nemotronH(m) {
			done[0], done[1] = true, true
		}
	case "granitemoehybrid", "jamba", "bamba":
		if p.periodicMamba(m) {
			done[0], done[1] = true, true
		}
	case "falcon_h1":
		if p.parallelMamba(m) {
			done[0], done[1] = true, true
		}
	case "gemma3n", "gemma3n_text":
		if p.kvShared(m) {
			done[2] = true
		}
	case "llama4", "llama4_text":
		if p.chunkedLocal(m) {
			done[3] = true
		}
		p.llama4MoE(m)
	case "kimi_linear":
		if p.kimiLinear(m) {
			done[0], done[1] = true, true
		}
	case "minimax_text_01", "minimax_m1":
		if p.lightning(m) {
			done[0], done[1] = true, true
		}
	case "deepseek_v32":
		if m.IsMLA() {
			m.IndexHeadDim = p.optional("index_head_dim")
			m.IndexHeads = p.optional("index_n_heads")
			done[4] = m.IndexHeadDim > 0
		}
	}
	return done
}

// listOf reads a JSON array under key (text config first), nil when absent
// or not an array.
func (p *parser) listOf(key string) []any {
	_, v, ok := p.find(key)
	if !ok {
		return nil
	}
	l, _ := v.([]any)
	return l
}

// kindsFromLayerTypes maps layer_types entries to kinds: names holding
// "linear", "mamba" or "full"/"attention"; false on any other entry.
func kindsFromLayerTypes(types []string, state estimate.LayerKind) ([]estimate.LayerKind, bool) {
	out := make([]estimate.LayerKind, 0, len(types))
	for _, t := range types {
		switch {
		case t == "full_attention" || t == "attention":
			out = append(out, estimate.KindFull)
		case t == "sliding_attention":
			out = append(out, estimate.KindSliding)
		case t == "linear_attention" || t == "mamba" || t == "mamba2":
			out = append(out, state)
		default:
			return nil, false
		}
	}
	return out, true
}

// gatedDeltaNet reads Qwen3-Next's layout: layer_types, or every
// full_attention_interval-th layer full attention (Qwen3NextConfig,
// https://github.com/huggingface/transformers/blob/v4.57.0/src/transformers/models/qwen3_next/configuration_qwen3_next.py#L244-L251),
// the others gated delta nets.
func (p *parser) gatedDeltaNet(m *estimate.Model) bool {
	st := estimate.State{Kind: estimate.KindLinear,
		ConvKernel: p.optional("linear_conv_kernel_dim"),
		KeyHeads:   p.optional("linear_num_key_heads"), KeyHeadDim: p.optional("linear_key_head_dim"),
		ValueHeads: p.optional("linear_num_value_heads"), ValueHeadDim: p.optional("linear_value_head_dim")}
	if st.ConvKernel == 0 || st.KeyHeads == 0 || st.KeyHeadDim == 0 || st.ValueHeads == 0 || st.ValueHeadDim == 0 {
		return false
	}
	var kinds []estimate.LayerKind
	if len(m.LayerTypes) == m.Layers && m.Layers > 0 {
		var ok bool
		if kinds, ok = kindsFromLayerTypes(m.LayerTypes, estimate.KindLinear); !ok {
			return false
		}
	} else {
		every := p.optional("full_attention_interval")
		if every == 0 {
			return false
		}
		for i := range m.Layers {
			kinds = append(kinds, pick((i+1)%every == 0, estimate.KindFull, estimate.KindLinear))
		}
	}
	st.SSMDType = p.ssmDType("mamba_ssm_dtype")
	m.Kinds, m.State = kinds, st
	m.LayerTypes = nil
	m.SharedExpertWidth = p.optional("shared_expert_intermediate_size")
	m.SparseStep = p.optional("decoder_sparse_step")
	for _, e := range p.listOf("mlp_only_layers") {
		if n, ok := e.(interface{ Int64() (int64, error) }); ok {
			if i, err := n.Int64(); err == nil && i >= 0 && i < int64(m.Layers) {
				m.MLPOnlyLayers = append(m.MLPOnlyLayers, int(i))
			}
		}
	}
	return true
}

// intList reads a JSON array of non-negative integers under key (text
// config first); ok is false when absent or when an entry is not one.
func (p *parser) intList(key string) ([]int, bool) {
	_, v, found := p.find(key)
	return intsOf(v, found)
}

// intsOf converts a decoded JSON array of non-negative integers.
func intsOf(v any, found bool) ([]int, bool) {
	l, isList := v.([]any)
	if !found || !isList {
		return nil, false
	}
	out := make([]int, 0, len(l))
	for _, e := range l {
		n, isNum := e.(json.Number)
		i, err := n.Int64()
		if !isNum || err != nil || i < 0 || i > 1<<20 {
			return nil, false
		}
		out = append(out, int(i))
	}
	return out, true
}

// kimiLinear reads Kimi-Linear's layout from linear_attn_config: layer i
// (0-based) is a Kimi Delta Attention mixer when i+1 is in kda_layers
// (1-indexed), every other layer MLA (KimiLinearConfig.is_kda_layer,
// https://github.com/vllm-project/vllm/blob/v0.21.0/vllm/transformers_utils/configs/kimi_linear.py#L144-L148;
// SGLang the same,
// https://github.com/sgl-project/sglang/blob/v0.5.18/python/sglang/srt/configs/kimi_linear.py#L156-L168).
// The KDA state has the gated delta net's geometry with num_heads key and
// value heads of head_dim and a short_conv_kernel_size conv
// (https://github.com/vllm-project/vllm/blob/v0.21.0/vllm/model_executor/layers/kda.py#L91-L105).
// The top-level head_dim and num_key_value_heads do not size the MLA KV.
func (p *parser) kimiLinear(m *estimate.Model) bool {
	cfg, _ := p.text["linear_attn_config"].(map[string]any)
	num := func(k string) int {
		n, ok := cfg[k].(json.Number)
		i, err := n.Int64()
		if !ok || err != nil || i <= 0 || i > 1<<20 {
			return 0
		}
		return int(i)
	}
	h, d, k := num("num_heads"), num("head_dim"), num("short_conv_kernel_size")
	kda, ok := intsOf(cfg["kda_layers"], cfg != nil)
	if !ok || h == 0 || d == 0 || k == 0 || !m.IsMLA() || m.Layers == 0 {
		return false
	}
	kinds := make([]estimate.LayerKind, m.Layers)
	for i := range kinds {
		kinds[i] = pick(slices.Contains(kda, i+1), estimate.KindLinear, estimate.KindMLA)
	}
	m.Kinds = kinds
	m.State = estimate.State{Kind: estimate.KindLinear, Mixer: estimate.MixerKDA, ConvKernel: k,
		KeyHeads: h, KeyHeadDim: d, ValueHeads: h, ValueHeadDim: d}
	m.SharedExperts = p.optional("num_shared_experts")
	m.ExpertsPerToken = max(m.ExpertsPerToken, p.optional("num_experts_per_token"))
	m.SparseStep = max(p.optional("moe_layer_freq"), 1)
	return true
}

// lightning reads MiniMax-Text-01's and MiniMax-M1's layout: attn_type_list
// (or decoder_attention_types, or layer_types) with 0 a lightning-attention
// layer and 1 full softmax attention, every layer full when none is given
// (https://github.com/vllm-project/vllm/blob/v0.21.0/vllm/model_executor/models/minimax_text_01.py#L508-L524).
// A lightning layer keeps one (num_attention_heads, head_dim, head_dim)
// state and no conv state
// (https://github.com/vllm-project/vllm/blob/v0.21.0/vllm/model_executor/layers/mamba/linear_attn.py#L253-L264).
func (p *parser) lightning(m *estimate.Model) bool {
	types, ok := p.intList("attn_type_list")
	if !ok {
		types, ok = p.intList("decoder_attention_types")
	}
	var kinds []estimate.LayerKind
	switch {
	case ok && len(types) == m.Layers:
		for _, t := range types {
			if t > 1 {
				return false
			}
			kinds = append(kinds, pick(t == 1, estimate.KindFull, estimate.KindLinear))
		}
	case len(m.LayerTypes) == m.Layers:
		if kinds, ok = kindsFromLayerTypes(m.LayerTypes, estimate.KindLinear); !ok {
			return false
		}
	default:
		return false
	}
	hd := m.HeadSize()
	if hd == 0 || m.Layers == 0 {
		return false
	}
	m.Kinds, m.LayerTypes = kinds, nil
	m.State = estimate.State{Kind: estimate.KindLinear, Mixer: estimate.MixerLightning, ConvKernel: 1,
		KeyHeads: m.Heads, KeyHeadDim: hd, ValueHeads: m.Heads, ValueHeadDim: hd}
	m.SharedExpertWidth = p.optional("shared_intermediate_size")
	return true
}

// ssmDType reads the recurrent state's dtype a checkpoint fixes under key
// (Qwen3.5's text_config.mamba_ssm_dtype, Nemotron-H's
// mamba_ssm_cache_dtype; docs/VLLM-HYBRID.md §1.2): "" when absent or
// not a dtype, and the engine's default applies.
func (p *parser) ssmDType(key string) estimate.DType {
	_, v, ok := p.find(key)
	name, isStr := v.(string)
	if !ok || !isStr {
		return ""
	}
	d, err := estimate.ParseDType(name)
	if err != nil {
		p.warnf("%s %q: not a dtype; the engine's default state dtype is assumed", key, name)
		return ""
	}
	return d
}

// mambaBiases reads the Mamba mixers' bias switches under the family's
// keys, with the config classes' defaults (conv bias on, projection biases
// off) when absent.
func (p *parser) mambaBiases(m *estimate.Model, convKey, projKey string) {
	m.MambaConvBias = true
	if v, ok := p.lookupBool(convKey); ok {
		m.MambaConvBias = v
	}
	m.MambaProjBias, _ = p.lookupBool(projKey)
}

// mamba2State reads a Mamba2 mixer's geometry under the given keys (the
// families spell them differently); inner defaults to heads × head_dim.
func (p *parser) mamba2State(heads, headDim, state, conv, groups []string, inner int) estimate.State {
	st := estimate.State{Kind: estimate.KindMamba2,
		Heads: p.optional(heads...), HeadDim: p.optional(headDim...),
		StateSize: p.optional(state...), ConvKernel: p.optional(conv...), Groups: p.optional(groups...), Inner: inner}
	if st.Inner == 0 {
		st.Inner = st.Heads * st.HeadDim
	}
	if st.HeadDim == 0 && st.Heads > 0 {
		st.HeadDim = st.Inner / st.Heads
	}
	if st.Groups == 0 {
		st.Groups = 1
	}
	return st
}

// complete reports whether a state geometry has what its kind needs.
func complete(st estimate.State) bool {
	switch st.Kind {
	case estimate.KindMamba:
		return st.Inner > 0 && st.StateSize > 0 && st.ConvKernel > 0
	case estimate.KindMamba2:
		return st.Inner > 0 && st.StateSize > 0 && st.ConvKernel > 0 && st.Heads > 0 && st.HeadDim > 0
	}
	return false
}

// nemotronH reads hybrid_override_pattern: one character per layer, "M" a
// Mamba2 mixer, "*" attention, "-" an MLP and "E" an MoE block, neither of
// which holds a cache (NemotronHConfig, first in transformers v5.3.0,
// https://github.com/huggingface/transformers/blob/v5.3.0/src/transformers/models/nemotron_h/configuration_nemotron_h.py#L255-L263;
// "-" was mapped from a later release, transformers PR #44763; the Hub's
// configs spell all four).
// The Mamba2 keys are the ones the Hub's configs spell
// (https://github.com/huggingface/transformers/blob/v5.3.0/src/transformers/models/nemotron_h/configuration_nemotron_h.py#L313-L319).
func (p *parser) nemotronH(m *estimate.Model) bool {
	_, v, ok := p.find("hybrid_override_pattern")
	pat, isStr := v.(string)
	if !ok || !isStr || len(pat) != m.Layers {
		return false
	}
	st := p.mamba2State([]string{"mamba_num_heads"}, []string{"mamba_head_dim"}, []string{"ssm_state_size"},
		[]string{"conv_kernel"}, []string{"n_groups"}, 0)
	if !complete(st) {
		return false
	}
	var kinds []estimate.LayerKind
	for _, c := range pat {
		switch c {
		case 'M':
			kinds = append(kinds, estimate.KindMamba2)
		case '*':
			kinds = append(kinds, estimate.KindFull)
		case '-', 'E':
		default:
			return false
		}
	}
	st.SSMDType = p.ssmDType("mamba_ssm_cache_dtype")
	m.Kinds, m.State = kinds, st
	m.BlockPattern = pat
	m.SharedExpertWidth = p.optional("moe_shared_expert_intermediate_size")
	p.mambaBiases(m, "use_conv_bias", "use_bias")
	return true
}

// periodicMamba reads Granite-4.0-H's and Bamba's layer_types (or
// layers_block_type) of "mamba"/"attention" with Mamba2 mixers, and
// Jamba's attn_layer_period/offset with Mamba1 mixers (JambaConfig,
// https://github.com/huggingface/transformers/blob/v4.57.0/src/transformers/models/jamba/configuration_jamba.py#L215-L227).
func (p *parser) periodicMamba(m *estimate.Model) bool {
	if m.Type == "jamba" {
		period, offset := p.optional("attn_layer_period"), p.optional("attn_layer_offset")
		inner := p.optional("mamba_expand") * m.Hidden
		st := estimate.State{Kind: estimate.KindMamba, Inner: inner,
			StateSize: p.optional("mamba_d_state"), ConvKernel: p.optional("mamba_d_conv")}
		if period == 0 || !complete(st) {
			return false
		}
		kinds := make([]estimate.LayerKind, m.Layers)
		for i := range kinds {
			kinds[i] = pick(i%period == offset, estimate.KindFull, estimate.KindMamba)
		}
		m.Kinds, m.State = kinds, st
		m.ExpertPeriod, m.ExpertOffset = p.optional("expert_layer_period"), p.optional("expert_layer_offset")
		if _, _, ok := p.find("expert_layer_period"); !ok {
			m.ExpertPeriod, m.ExpertOffset = 2, 1 // JambaConfig defaults
		}
		if _, v, ok := p.find("mamba_dt_rank"); ok {
			if _, isStr := v.(string); !isStr {
				m.MambaDtRank = p.optional("mamba_dt_rank")
			}
		}
		p.mambaBiases(m, "mamba_conv_bias", "mamba_proj_bias")
		return true
	}
	types := m.LayerTypes
	if len(types) == 0 {
		for _, e := range p.listOf("layers_block_type") {
			s, _ := e.(string)
			types = append(types, s)
		}
	}
	inner := p.optional("mamba_expand") * m.Hidden
	st := p.mamba2State([]string{"mamba_n_heads"}, []string{"mamba_d_head"}, []string{"mamba_d_state"},
		[]string{"mamba_d_conv"}, []string{"mamba_n_groups"}, inner)
	kinds, ok := kindsFromLayerTypes(types, estimate.KindMamba2)
	if !ok || len(kinds) != m.Layers || !complete(st) {
		return false
	}
	m.Kinds, m.State = kinds, st
	m.LayerTypes = nil
	m.SharedExpertWidth = p.optional("shared_intermediate_size")
	p.mambaBiases(m, "mamba_conv_bias", "mamba_proj_bias")
	return true
}

// parallelMamba reads Falcon-H1, whose every layer runs attention and a
// Mamba2 mixer side by side (FalconH1DecoderLayer,
// https://github.com/huggingface/transformers/blob/v4.57.0/src/transformers/models/falcon_h1/modeling_falcon_h1.py#L1046-L1062):
// one KV module and one state module per layer.
func (p *parser) parallelMamba(m *estimate.Model) bool {
	inner := p.optional("mamba_d_ssm")
	if inner == 0 {
		inner = p.optional("mamba_expand") * m.Hidden
	}
	st := p.mamba2State([]string{"mamba_n_heads"}, []string{"mamba_d_head"}, []string{"mamba_d_state"},
		[]string{"mamba_d_conv"}, []string{"mamba_n_groups"}, inner)
	if !complete(st) {
		return false
	}
	kinds := make([]estimate.LayerKind, 0, 2*m.Layers)
	for range m.Layers {
		kinds = append(kinds, estimate.KindFull, estimate.KindMamba2)
	}
	m.Kinds, m.State = kinds, st
	p.mambaBiases(m, "mamba_conv_bias", "mamba_proj_bias")
	m.MambaGatedNorm, _ = p.lookupBool("mamba_rms_norm")
	return true
}

// kvShared reads gemma-3n: the last num_kv_shared_layers layers read the
// KV of the last earlier layer of their attention type and store none
// (Gemma3nTextAttention,
// https://github.com/huggingface/transformers/blob/v4.57.0/src/transformers/models/gemma3n/modeling_gemma3n.py#L1298-L1310).
func (p *parser) kvShared(m *estimate.Model) bool {
	shared := p.optional("num_kv_shared_layers")
	if shared == 0 || shared >= m.Layers {
		return false
	}
	plain := estimate.Model{Layers: m.Layers, LayerTypes: m.LayerTypes}
	base := plain.CacheKinds()
	for i := m.Layers - shared; i < m.Layers; i++ {
		base[i] = estimate.KindKVShared
	}
	m.Kinds = base
	return true
}

// chunkedLocal reads Llama 4: layers with RoPE use chunked local attention
// of attention_chunk_size tokens, the NoPE layers (no_rope_layers[i] == 0,
// by default every fourth) attend globally (Llama4TextConfig,
// https://github.com/huggingface/transformers/blob/v4.57.0/src/transformers/models/llama4/configuration_llama4.py#L371-L394).
func (p *parser) chunkedLocal(m *estimate.Model) bool {
	m.AttentionChunk = p.optional("attention_chunk_size")
	if m.AttentionChunk == 0 {
		return false
	}
	rope := p.listOf("no_rope_layers")
	interval := p.optional("no_rope_layer_interval")
	if interval == 0 {
		interval = 4
	}
	kinds := make([]estimate.LayerKind, m.Layers)
	for i := range kinds {
		useRope := (i+1)%interval != 0
		if len(rope) == m.Layers {
			n, _ := rope[i].(interface{ String() string })
			useRope = n != nil && n.String() != "0"
		}
		kinds[i] = pick(useRope, estimate.KindChunked, estimate.KindFull)
	}
	m.Kinds = kinds
	return true
}

// pick is c ? a : b.
func pick[T any](c bool, a, b T) T {
	if c {
		return a
	}
	return b
}

// llama4MoE reads Llama 4's feed-forward layout: every
// interleave_moe_layer_step-th layer (1 by default) is MoE with
// num_local_experts experts and a shared expert, both intermediate_size
// wide; the others are dense MLPs intermediate_size_mlp wide
// (Llama4TextConfig, moe_layers,
// https://github.com/huggingface/transformers/blob/v4.57.0/src/transformers/models/llama4/configuration_llama4.py#L371-L394).
func (p *parser) llama4MoE(m *estimate.Model) {
	if m.Experts == 0 {
		return
	}
	m.SparseStep = max(p.optional("interleave_moe_layer_step"), 1)
	m.MoEIntermediate, m.SharedExpertWidth = m.Intermediate, m.Intermediate
	if mlp := p.optional("intermediate_size_mlp"); mlp > 0 {
		m.Intermediate = mlp
	}
}
