package hfmeta

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/vramcalc/vramcalc/estimate"
)

// unmodelledKeys are config.json keys of memory-relevant features (hybrid
// state layers, KV sharing, chunked local and sparse attention), grouped,
// with what they mean. A group the family's layout reader (layers.go) reads
// into Model.Kinds is sized; one it does not (an unknown family, a config
// missing a key the layout needs) goes into Model.Unmodelled, so that
// estimate.Run warns and rates the figures' confidence low instead of
// sizing such layers as ordinary attention.
var unmodelledKeys = []struct{ keys []string }{
	{[]string{"layers_block_type", "hybrid_override_pattern", "attn_layer_period", "attn_layer_offset", "full_attention_interval",
		"linear_attn_config", "attn_type_list", "decoder_attention_types"}},
	{[]string{"mamba_d_state", "mamba_d_conv", "mamba_expand", "mamba_n_heads", "mamba_d_head", "mamba_d_ssm", "ssm_state_size", "ssm_cfg",
		"linear_num_key_heads", "linear_num_value_heads", "linear_key_head_dim", "linear_value_head_dim", "linear_conv_kernel_dim"}},
	{[]string{"num_kv_shared_layers"}},
	{[]string{"attention_chunk_size"}},
	{[]string{"index_topk", "index_n_heads", "index_head_dim"}},
}

// unmodelledWhat says what each group of unmodelledKeys is, in the order
// of the groups.
var unmodelledWhat = []string{
	"a hybrid layer layout: layers other than attention (Mamba, gated delta net, linear attention) hold per-sequence state, not per-token KV, and are sized as attention",
	"state-space or linear-attention layers: their per-sequence conv and recurrent state is not sized",
	"KV-shared layers: layers that reuse another layer's KV are sized as owning theirs",
	"chunked local attention: its layers' KV is sized for the whole context, not the chunk",
	"the sparse-attention indexer: its cache per token is not sized",
}

// modelledLayerTypes are the layer_types values the estimate sizes.
var modelledLayerTypes = []string{"full_attention", "attention", "sliding_attention"}

// unmodelled lists the memory-relevant features of the config the
// estimate does not size: the keys above, layer_types entries other than
// full and sliding attention, and an unknown model_type.
func (p *parser) unmodelled(m *estimate.Model, read map[int]bool) []string {
	var out []string
	for i, g := range unmodelledKeys {
		if read[i] {
			m.StateLayers = m.StateLayers || i < 2
			continue
		}
		var found []string
		for _, k := range g.keys {
			if _, _, ok := p.find(k); ok {
				found = append(found, k)
			}
		}
		if len(found) > 0 {
			out = append(out, unmodelledWhat[i]+" ("+strings.Join(found, ", ")+")")
			m.StateLayers = m.StateLayers || i < 2
		}
	}
	if other := otherLayerTypes(m.LayerTypes); other != "" {
		m.StateLayers = m.StateLayers || slices.ContainsFunc(m.LayerTypes, isStateLayer)
		out = append(out, fmt.Sprintf("layer_types %s: only full and sliding attention layers are sized, the others as full attention", other))
	}
	if m.Type != "" && !knownTypes[m.Type] {
		out = append(out, fmt.Sprintf("model_type %q: the standard keys are read, and any layer kind of its own is missed", m.Type))
	}
	return out
}

// otherLayerTypes counts the layer_types entries the estimate does not
// size ("36 of 48 are linear_attention"), "" when there are none.
func otherLayerTypes(types []string) string {
	counts := map[string]int{}
	for _, t := range types {
		if !slices.Contains(modelledLayerTypes, t) {
			counts[t]++
		}
	}
	var parts []string
	for _, t := range slices.Sorted(maps.Keys(counts)) {
		parts = append(parts, fmt.Sprintf("%d of %d are %s", counts[t], len(types), t))
	}
	return strings.Join(parts, ", ")
}

// isStateLayer reports whether a layer_types entry keeps per-sequence state
// rather than per-token KV ("mamba", "linear_attention", ...).
func isStateLayer(t string) bool {
	for _, k := range []string{"mamba", "linear", "ssm", "delta", "recurrent", "conv"} {
		if strings.Contains(t, k) {
			return true
		}
	}
	return false
}
