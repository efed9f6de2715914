package hfmeta

import (
	"encoding/json"
	"slices"

	"github.com/vramcalc/vramcalc/estimate"
)

// maxVisionSize bounds every vision_config size; a larger one leaves the
// tower underived (with a warning) rather than failing the whole config.
const maxVisionSize = 1 << 20

// visionKey is one vision_config size: the keys it is read under (first
// present wins) and the transformers config class default for its family.
type visionKey struct {
	field *int
	keys  []string
	def   int
}

// visionFamilies maps model_type to the tower family and the vision
// config class whose defaults apply to absent keys.
var visionFamilies = map[string]string{
	"qwen2_5_vl": estimate.VisionQwen25VL,
	"qwen3_vl":   estimate.VisionQwen3VL, "qwen3_vl_moe": estimate.VisionQwen3VL,
	"qwen3_5": estimate.VisionQwen3VL, "qwen3_5_moe": estimate.VisionQwen3VL,
	"gemma3":   estimate.VisionSiglip,
	"mistral3": estimate.VisionPixtral,
	"llama4":   estimate.VisionLlama4,
}

// visionTowerModelTypes are the vision_config model_type values each family
// builds its tower from (AutoModel.from_config for gemma3 and mistral3); an
// absent model_type means the family's own.
var visionTowerModelTypes = map[string][]string{
	estimate.VisionSiglip:  {"siglip_vision_model"},
	estimate.VisionPixtral: {"pixtral"},
}

// visionTower reads vision_config into m.VisionTower for the families
// estimate.SynthesizeTensors derives, leaving Kind empty for others and
// for configs whose sizes it cannot read.
func (p *parser) visionTower(m *estimate.Model) {
	vc, ok := p.root["vision_config"].(map[string]any)
	kind := visionFamilies[m.Type]
	if !ok || kind == "" {
		return
	}
	if mt, _ := vc["model_type"].(string); mt != "" && visionTowerModelTypes[kind] != nil && !slices.Contains(visionTowerModelTypes[kind], mt) {
		p.warnf("vision_config model_type %q: the vision tower is not derived", mt)
		return
	}
	v := estimate.VisionTower{Kind: kind}
	for _, k := range visionKeys(&v) {
		n, ok := p.visionSize(vc, k.keys, k.def)
		if !ok {
			return
		}
		*k.field = n
	}
	switch {
	case kind == estimate.VisionQwen3VL && (m.Type == "qwen3_vl" || m.Type == "qwen3_vl_moe"):
		v.Deepstack = 3 // deepstack_visual_indexes=[8, 16, 24]
		if l, isList := vc["deepstack_visual_indexes"].([]any); isList {
			v.Deepstack = len(l)
		}
	case kind == estimate.VisionSiglip:
		v.PoolingHead = true // SiglipVisionTransformer: no vision_use_head attribute means a head
		if b, isBool := vc["vision_use_head"].(bool); isBool {
			v.PoolingHead = b
		}
	case kind == estimate.VisionPixtral:
		p.pixtralProjector(&v)
	}
	m.VisionTower = v
}

// pixtralProjector reads Mistral 3's top-level projector keys
// (Mistral3Config.__init__, spatial_merge_size=2, vision_feature_layer=-1,
// multimodal_projector_bias=False:
// https://github.com/huggingface/transformers/blob/v4.57.0/src/transformers/models/mistral3/configuration_mistral3.py#L77-L86).
func (p *parser) pixtralProjector(v *estimate.VisionTower) {
	n, ok := p.visionSize(p.root, []string{"spatial_merge_size"}, 2)
	if !ok {
		v.Kind = ""
	}
	v.SpatialMerge = n
	v.FeatureLayers = 1
	if l, isList := p.root["vision_feature_layer"].([]any); isList {
		v.FeatureLayers = len(l)
	}
	v.ProjectorBias, _ = p.root["multimodal_projector_bias"].(bool)
}

// visionKeys lists the sizes of v's family with their config class defaults:
//   - Qwen2_5_VLVisionConfig: https://github.com/huggingface/transformers/blob/v4.57.0/src/transformers/models/qwen2_5_vl/configuration_qwen2_5_vl.py#L34-L51
//     (legacy in_chans and spatial_patch_size are not read by it either);
//   - Qwen3VLVisionConfig: https://github.com/huggingface/transformers/blob/v4.57.0/src/transformers/models/qwen3_vl/configuration_qwen3_vl.py#L29-L45,
//     Qwen3VLMoeVisionConfig: https://github.com/huggingface/transformers/blob/v4.57.0/src/transformers/models/qwen3_vl_moe/configuration_qwen3_vl_moe.py#L229-L245,
//     Qwen3_5VisionConfig: https://github.com/huggingface/transformers/blob/v5.2.0/src/transformers/models/qwen3_5/configuration_qwen3_5.py#L202-L217,
//     Qwen3_5MoeVisionConfig: https://github.com/huggingface/transformers/blob/v5.2.0/src/transformers/models/qwen3_5_moe/configuration_qwen3_5_moe.py#L225-L240;
//   - SiglipVisionConfig: https://github.com/huggingface/transformers/blob/v4.57.0/src/transformers/models/siglip/configuration_siglip.py#L167-L180;
//   - PixtralVisionConfig: https://github.com/huggingface/transformers/blob/v4.57.0/src/transformers/models/pixtral/configuration_pixtral.py#L75-L89;
//   - Llama4VisionConfig: https://github.com/huggingface/transformers/blob/v4.57.0/src/transformers/models/llama4/configuration_llama4.py#L84-L106.
func visionKeys(v *estimate.VisionTower) []visionKey {
	switch v.Kind {
	case estimate.VisionQwen25VL, estimate.VisionQwen3VL:
		qwen3 := v.Kind == estimate.VisionQwen3VL
		ks := []visionKey{
			{&v.Depth, []string{"depth"}, visionPick(qwen3, 27, 32)},
			{&v.Hidden, []string{"hidden_size"}, visionPick(qwen3, 1152, 3584)},
			{&v.Intermediate, []string{"intermediate_size"}, visionPick(qwen3, 4304, 3420)},
			{&v.Heads, []string{"num_heads"}, 16},
			{&v.InChannels, []string{"in_channels"}, 3},
			{&v.PatchSize, []string{"patch_size"}, visionPick(qwen3, 16, 14)},
			{&v.SpatialMerge, []string{"spatial_merge_size"}, 2},
			{&v.TemporalPatch, []string{"temporal_patch_size"}, 2},
			{&v.OutHidden, []string{"out_hidden_size"}, 3584},
		}
		if qwen3 {
			ks = append(ks, visionKey{&v.PositionEmbeddings, []string{"num_position_embeddings"}, 2304})
		}
		return ks
	case estimate.VisionSiglip, estimate.VisionPixtral:
		siglip := v.Kind == estimate.VisionSiglip
		return []visionKey{
			{&v.Depth, []string{"num_hidden_layers"}, visionPick(siglip, 12, 24)},
			{&v.Hidden, []string{"hidden_size"}, visionPick(siglip, 768, 1024)},
			{&v.Intermediate, []string{"intermediate_size"}, visionPick(siglip, 3072, 4096)},
			{&v.Heads, []string{"num_attention_heads"}, visionPick(siglip, 12, 16)},
			{&v.InChannels, []string{"num_channels"}, 3},
			{&v.ImageSize, []string{"image_size"}, visionPick(siglip, 224, 1024)},
			{&v.PatchSize, []string{"patch_size"}, 16},
		}
	case estimate.VisionLlama4:
		return []visionKey{
			{&v.Depth, []string{"num_hidden_layers"}, 34},
			{&v.Hidden, []string{"hidden_size"}, 768},
			{&v.Intermediate, []string{"intermediate_size"}, 5632},
			{&v.Heads, []string{"num_attention_heads"}, 16},
			{&v.InChannels, []string{"num_channels"}, 3},
			{&v.ImageSize, []string{"image_size"}, 448},
			{&v.PatchSize, []string{"patch_size"}, 14},
			{&v.OutHidden, []string{"vision_output_dim"}, 7680},
			{&v.ProjectorIn, []string{"projector_input_dim"}, 4096},
			{&v.ProjectorOut, []string{"projector_output_dim"}, 4096},
		}
	}
	return nil
}

// visionPick returns a when cond, else b.
func visionPick(cond bool, a, b int) int {
	if cond {
		return a
	}
	return b
}

// visionSize reads a positive size under the first of keys present in vc
// (def when none is, or the value is null). A value that is not a positive
// integer up to maxVisionSize gives a warning and false.
func (p *parser) visionSize(vc map[string]any, keys []string, def int) (int, bool) {
	for _, k := range keys {
		v, ok := vc[k]
		if !ok || v == nil {
			continue
		}
		num, isNum := v.(json.Number)
		n, err := num.Int64()
		if !isNum || err != nil || n <= 0 || n > maxVisionSize {
			p.warnf("vision_config %s: want a positive integer up to %d, got %v; the vision tower is not derived", k, maxVisionSize, v)
			return 0, false
		}
		return int(n), true
	}
	return def, true
}
