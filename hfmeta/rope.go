package hfmeta

import (
	"encoding/json"

	"github.com/vramcalc/vramcalc/estimate"
)

// rope reads rope_scaling (transformers v4) or rope_parameters (v5), text
// config first: its type, factor and original_max_position_embeddings,
// which the engines use to derive the default context. A per-layer-type
// rope_parameters ({"full_attention": {...}, ...}) gives the full
// attention entry.
func (p *parser) rope() estimate.RopeScaling {
	_, v, ok := p.find("rope_scaling", "rope_parameters")
	obj, isObj := v.(map[string]any)
	if !ok || !isObj {
		return estimate.RopeScaling{}
	}
	if inner, nested := obj["full_attention"].(map[string]any); nested {
		obj = inner
	}
	var r estimate.RopeScaling
	r.Type, _ = obj["rope_type"].(string)
	if r.Type == "" {
		r.Type, _ = obj["type"].(string)
	}
	if f, isNum := obj["factor"].(json.Number); isNum {
		r.Factor, _ = f.Float64()
	}
	if n, isNum := obj["original_max_position_embeddings"].(json.Number); isNum {
		if o, err := n.Int64(); err == nil && o > 0 && o <= int64(estimate.MaxTokens) {
			r.OriginalMax = int(o)
		}
	}
	if r.Factor < 0 || r.Factor > 1024 {
		p.warnf("rope_scaling factor %g is implausible: ignored", r.Factor)
		r.Factor = 0
	}
	return r
}
