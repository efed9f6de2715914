package estimate

// This file derives the vision tower and multimodal projector of a VLM from
// Model.VisionTower (read from config.json's vision_config by hfmeta), with
// the tensor names of the Hugging Face checkpoints. Module shapes follow
// transformers' modeling code at the first release tag with each family
// (v4.57.0; Qwen3.5 v5.2.0), cited per family below.

// Vision tower families (VisionTower.Kind).
const (
	// VisionQwen25VL is Qwen2.5-VL's ViT (model_type qwen2_5_vl).
	VisionQwen25VL = "qwen2_5_vl"
	// VisionQwen3VL is Qwen3-VL's ViT with learned position embeddings and
	// DeepStack mergers (qwen3_vl, qwen3_vl_moe); Qwen3.5 (qwen3_5,
	// qwen3_5_moe) has the same tower without the DeepStack mergers.
	VisionQwen3VL = "qwen3_vl"
	// VisionSiglip is the SigLIP encoder of Gemma 3 (gemma3).
	VisionSiglip = "siglip"
	// VisionPixtral is Pixtral's encoder of Mistral 3 (mistral3).
	VisionPixtral = "pixtral"
	// VisionLlama4 is Llama 4's vision model (llama4).
	VisionLlama4 = "llama4"
)

// VisionTower is a VLM's vision encoder and multimodal projector as
// vision_config (and, for Mistral 3, the projector keys beside it) gives
// them, with the transformers config class defaults filled in for absent
// keys. Sizes are in elements; zero means not given.
type VisionTower struct {
	// Kind names the family (VisionQwen25VL, ...); "" means no tower or
	// one whose weights are not derived.
	Kind string
	// Depth (depth; num_hidden_layers) is the encoder block count.
	Depth int
	// Hidden (hidden_size) is the encoder width.
	Hidden int
	// Intermediate (intermediate_size) is the encoder MLP width.
	Intermediate int
	// Heads (num_heads; num_attention_heads) is the encoder head count.
	Heads int
	// InChannels (in_channels; num_channels) is the image channel count.
	InChannels int
	// PatchSize (patch_size) is the square patch side in pixels.
	PatchSize int
	// TemporalPatch (temporal_patch_size) is the frames per patch of the
	// Qwen towers' 3-D patch embedding.
	TemporalPatch int
	// ImageSize (image_size) is the square input side in pixels (SigLIP's
	// and Llama 4's learned position tables are (image/patch)² long).
	ImageSize int
	// SpatialMerge (spatial_merge_size) is the side of the patch square the
	// merger folds into one token (Qwen; Mistral 3's patch merger).
	SpatialMerge int
	// OutHidden (out_hidden_size; Llama 4 vision_output_dim) is the width
	// the merger or projector input has.
	OutHidden int
	// PositionEmbeddings (num_position_embeddings) is the Qwen3-VL learned
	// position table length.
	PositionEmbeddings int
	// Deepstack (len(deepstack_visual_indexes)) is how many DeepStack
	// mergers Qwen3-VL has.
	Deepstack int
	// PoolingHead (vision_use_head, true when absent) adds SigLIP's
	// attention-pooling head.
	PoolingHead bool
	// ProjectorBias (multimodal_projector_bias) gives Mistral 3's projector
	// linears a bias.
	ProjectorBias bool
	// FeatureLayers is how many encoder layers Mistral 3 concatenates
	// (vision_feature_layer: 1 for an integer, else the list length).
	FeatureLayers int
	// ProjectorIn and ProjectorOut (projector_input_dim,
	// projector_output_dim) are Llama 4's pixel-shuffle MLP widths.
	ProjectorIn, ProjectorOut int
}

// towerDerived reports whether SynthesizeTensors derives m's vision tower
// and projector exactly: a known family with its sizes, in an unquantized
// checkpoint (a quantized one's tower layout is not known).
func towerDerived(m Model) bool {
	v := m.VisionTower
	if !m.Vision || m.QuantMethod != "" || v.Depth <= 0 || v.Hidden <= 0 || v.PatchSize <= 0 || v.InChannels <= 0 {
		return false
	}
	switch v.Kind {
	case VisionQwen25VL, VisionQwen3VL:
		return v.Intermediate > 0 && v.TemporalPatch > 0 && v.SpatialMerge > 0 && v.OutHidden > 0 &&
			(v.Kind == VisionQwen25VL || v.PositionEmbeddings > 0)
	case VisionSiglip:
		return v.Intermediate > 0 && v.ImageSize >= v.PatchSize && m.Hidden > 0
	case VisionPixtral:
		return v.Intermediate > 0 && v.SpatialMerge > 0 && v.FeatureLayers > 0 && m.Hidden > 0
	case VisionLlama4:
		return v.Intermediate > 0 && v.ImageSize >= v.PatchSize && v.OutHidden > 0 && v.ProjectorIn > 0 && v.ProjectorOut > 0 && m.Hidden > 0
	}
	return false
}

// vision appends the vision tower and projector when towerDerived(s.m),
// in the model dtype (the checkpoints store them like the text model).
func (s *synth) vision() {
	if !towerDerived(s.m) {
		return
	}
	switch s.m.VisionTower.Kind {
	case VisionQwen25VL:
		s.qwen25VLTower()
	case VisionQwen3VL:
		s.qwen3VLTower()
	case VisionSiglip:
		s.siglipTower()
	case VisionPixtral:
		s.pixtralTower()
	case VisionLlama4:
		s.llama4Tower()
	}
}

// linearB appends a linear layer's weight [out, in] and, when bias, its bias [out].
func (s *synth) linearB(name string, count, out, in int, bias bool) {
	s.add(name+".weight", count, out, in)
	if bias {
		s.add(name+".bias", count, out)
	}
}

// layerNorm appends a LayerNorm's weight and bias [n].
func (s *synth) layerNorm(name string, count, n int) {
	s.add(name+".weight", count, n)
	s.add(name+".bias", count, n)
}

// qwen25VLTower covers Qwen2.5-VL (visual.*): a bias-free Conv3d patch
// embedding [H, C, T, p, p]; per block RMSNorm norm1/norm2 [H], attention
// qkv [3H, H] and proj [H, H] with biases, a gated MLP gate/up [I, H] and
// down [H, I] with biases; the patch merger's RMSNorm ln_q [H] and MLP
// mlp.0 [H·m², H·m²] and mlp.2 [out, H·m²] with biases
// (Qwen2_5_VisionPatchEmbed, Qwen2_5_VLPatchMerger, Qwen2_5_VLVisionAttention,
// Qwen2_5_VLVisionBlock, Qwen2_5_VisionTransformerPretrainedModel:
// https://github.com/huggingface/transformers/blob/v4.57.0/src/transformers/models/qwen2_5_vl/modeling_qwen2_5_vl.py#L53-L116,
// https://github.com/huggingface/transformers/blob/v4.57.0/src/transformers/models/qwen2_5_vl/modeling_qwen2_5_vl.py#L182-L190,
// https://github.com/huggingface/transformers/blob/v4.57.0/src/transformers/models/qwen2_5_vl/modeling_qwen2_5_vl.py#L265-L271,
// https://github.com/huggingface/transformers/blob/v4.57.0/src/transformers/models/qwen2_5_vl/modeling_qwen2_5_vl.py#L310-L333).
func (s *synth) qwen25VLTower() {
	v := s.m.VisionTower
	H, I, D := v.Hidden, v.Intermediate, v.Depth
	merged := H * v.SpatialMerge * v.SpatialMerge
	const p = "visual."
	bp := p + "blocks.*."
	s.add(p+"patch_embed.proj.weight", 1, H, v.InChannels, v.TemporalPatch, v.PatchSize, v.PatchSize)
	s.add(bp+"norm1.weight", D, H)
	s.add(bp+"norm2.weight", D, H)
	s.linearB(bp+"attn.qkv", D, 3*H, H, true)
	s.linearB(bp+"attn.proj", D, H, H, true)
	s.linearB(bp+"mlp.gate_proj", D, I, H, true)
	s.linearB(bp+"mlp.up_proj", D, I, H, true)
	s.linearB(bp+"mlp.down_proj", D, H, I, true)
	s.add(p+"merger.ln_q.weight", 1, H)
	s.linearB(p+"merger.mlp.0", 1, merged, merged, true)
	s.linearB(p+"merger.mlp.2", 1, v.OutHidden, merged, true)
}

// qwen3VLTower covers Qwen3-VL and Qwen3.5 (model.visual.*): a Conv3d patch
// embedding [H, C, T, p, p] with bias, a learned position table pos_embed
// [N, H]; per block LayerNorm norm1/norm2, attention qkv [3H, H] and proj
// [H, H] with biases, MLP linear_fc1 [I, H] and linear_fc2 [H, I] with
// biases; the merger (LayerNorm [H], linear_fc1 [H·m², H·m²], linear_fc2
// [out, H·m²], with biases) and, Qwen3-VL only, one DeepStack merger per
// deepstack_visual_indexes entry whose LayerNorm is [H·m²]
// (Qwen3VLVisionMLP, Qwen3VLVisionPatchEmbed, Qwen3VLVisionPatchMerger:
// https://github.com/huggingface/transformers/blob/v4.57.0/src/transformers/models/qwen3_vl/modeling_qwen3_vl.py#L46-L101;
// Qwen3VLVisionAttention and Qwen3VLVisionBlock:
// https://github.com/huggingface/transformers/blob/v4.57.0/src/transformers/models/qwen3_vl/modeling_qwen3_vl.py#L168-L176,
// https://github.com/huggingface/transformers/blob/v4.57.0/src/transformers/models/qwen3_vl/modeling_qwen3_vl.py#L251-L257;
// Qwen3VLVisionModel:
// https://github.com/huggingface/transformers/blob/v4.57.0/src/transformers/models/qwen3_vl/modeling_qwen3_vl.py#L564-L600;
// Qwen3.5's tower has the same modules and no DeepStack mergers:
// https://github.com/huggingface/transformers/blob/v5.2.0/src/transformers/models/qwen3_5/modeling_qwen3_5.py#L914-L1116).
func (s *synth) qwen3VLTower() {
	v := s.m.VisionTower
	H, I, D := v.Hidden, v.Intermediate, v.Depth
	merged := H * v.SpatialMerge * v.SpatialMerge
	const p = "model.visual."
	bp := p + "blocks.*."
	s.add(p+"patch_embed.proj.weight", 1, H, v.InChannels, v.TemporalPatch, v.PatchSize, v.PatchSize)
	s.add(p+"patch_embed.proj.bias", 1, H)
	s.add(p+"pos_embed.weight", 1, v.PositionEmbeddings, H)
	s.layerNorm(bp+"norm1", D, H)
	s.layerNorm(bp+"norm2", D, H)
	s.linearB(bp+"attn.qkv", D, 3*H, H, true)
	s.linearB(bp+"attn.proj", D, H, H, true)
	s.linearB(bp+"mlp.linear_fc1", D, I, H, true)
	s.linearB(bp+"mlp.linear_fc2", D, H, I, true)
	s.layerNorm(p+"merger.norm", 1, H)
	s.linearB(p+"merger.linear_fc1", 1, merged, merged, true)
	s.linearB(p+"merger.linear_fc2", 1, v.OutHidden, merged, true)
	if n := v.Deepstack; n > 0 {
		dp := p + "deepstack_merger_list.*."
		s.layerNorm(dp+"norm", n, merged)
		s.linearB(dp+"linear_fc1", n, merged, merged, true)
		s.linearB(dp+"linear_fc2", n, v.OutHidden, merged, true)
	}
}

// siglipTower covers Gemma 3's SigLIP encoder (vision_tower.vision_model.*)
// and projector: a Conv2d patch embedding [H, C, p, p] with bias, a learned
// position table [(image/p)², H]; per layer LayerNorm layer_norm1/2,
// q/k/v/out_proj [H, H] and mlp.fc1 [I, H], fc2 [H, I], all with biases;
// post_layernorm; the attention-pooling head when vision_use_head is not
// false (probe [1, 1, H], nn.MultiheadAttention in_proj [3H, H] and
// out_proj [H, H] with biases, LayerNorm, MLP); then
// multi_modal_projector.mm_input_projection_weight [H, text hidden] and
// mm_soft_emb_norm [H] (SiglipVisionEmbeddings, SiglipAttention, SiglipMLP,
// SiglipEncoderLayer, SiglipVisionTransformer, SiglipMultiheadAttentionPoolingHead:
// https://github.com/huggingface/transformers/blob/v4.57.0/src/transformers/models/siglip/modeling_siglip.py#L216-L235,
// https://github.com/huggingface/transformers/blob/v4.57.0/src/transformers/models/siglip/modeling_siglip.py#L352-L373,
// https://github.com/huggingface/transformers/blob/v4.57.0/src/transformers/models/siglip/modeling_siglip.py#L415-L436,
// https://github.com/huggingface/transformers/blob/v4.57.0/src/transformers/models/siglip/modeling_siglip.py#L678-L689,
// https://github.com/huggingface/transformers/blob/v4.57.0/src/transformers/models/siglip/modeling_siglip.py#L717-L726;
// Gemma3MultiModalProjector:
// https://github.com/huggingface/transformers/blob/v4.57.0/src/transformers/models/gemma3/modeling_gemma3.py#L693-L703).
func (s *synth) siglipTower() {
	v := s.m.VisionTower
	H, I, L := v.Hidden, v.Intermediate, v.Depth
	side := v.ImageSize / v.PatchSize
	const p = "vision_tower.vision_model."
	lp := p + "encoder.layers.*."
	s.add(p+"embeddings.patch_embedding.weight", 1, H, v.InChannels, v.PatchSize, v.PatchSize)
	s.add(p+"embeddings.patch_embedding.bias", 1, H)
	s.add(p+"embeddings.position_embedding.weight", 1, side*side, H)
	s.layerNorm(lp+"layer_norm1", L, H)
	s.layerNorm(lp+"layer_norm2", L, H)
	for _, n := range []string{"q_proj", "k_proj", "v_proj", "out_proj"} {
		s.linearB(lp+"self_attn."+n, L, H, H, true)
	}
	s.linearB(lp+"mlp.fc1", L, I, H, true)
	s.linearB(lp+"mlp.fc2", L, H, I, true)
	s.layerNorm(p+"post_layernorm", 1, H)
	if v.PoolingHead {
		hp := p + "head."
		s.add(hp+"probe", 1, 1, 1, H)
		s.add(hp+"attention.in_proj_weight", 1, 3*H, H)
		s.add(hp+"attention.in_proj_bias", 1, 3*H)
		s.linearB(hp+"attention.out_proj", 1, H, H, true)
		s.layerNorm(hp+"layernorm", 1, H)
		s.linearB(hp+"mlp.fc1", 1, I, H, true)
		s.linearB(hp+"mlp.fc2", 1, H, I, true)
	}
	s.add("multi_modal_projector.mm_input_projection_weight", 1, H, s.m.Hidden)
	s.add("multi_modal_projector.mm_soft_emb_norm.weight", 1, H)
}

// pixtralTower covers Mistral 3's Pixtral encoder (vision_tower.*) and
// projector: a bias-free Conv2d patch_conv [H, C, p, p], RMSNorm ln_pre
// [H]; per layer RMSNorm attention_norm and ffn_norm [H], bias-free
// q/k/v/o_proj [H, H] and a gated MLP gate/up [I, H], down [H, I]; then
// multi_modal_projector.norm [H], patch_merger.merging_layer [H, H·m²]
// (no bias), linear_1 [text hidden, H·feature layers] and linear_2
// [text hidden, text hidden], with biases when multimodal_projector_bias
// (PixtralAttention, PixtralMLP, PixtralAttentionLayer, PixtralVisionModel:
// https://github.com/huggingface/transformers/blob/v4.57.0/src/transformers/models/pixtral/modeling_pixtral.py#L160-L181,
// https://github.com/huggingface/transformers/blob/v4.57.0/src/transformers/models/pixtral/modeling_pixtral.py#L234-L242,
// https://github.com/huggingface/transformers/blob/v4.57.0/src/transformers/models/pixtral/modeling_pixtral.py#L271-L277,
// https://github.com/huggingface/transformers/blob/v4.57.0/src/transformers/models/pixtral/modeling_pixtral.py#L439-L455;
// its rotary inv_freq is a non-persistent buffer, not stored:
// https://github.com/huggingface/transformers/blob/v4.57.0/src/transformers/models/pixtral/modeling_pixtral.py#L85;
// Mistral3PatchMerger and Mistral3MultiModalProjector:
// https://github.com/huggingface/transformers/blob/v4.57.0/src/transformers/models/mistral3/modeling_mistral3.py#L61-L115).
func (s *synth) pixtralTower() {
	v := s.m.VisionTower
	H, I, L, T := v.Hidden, v.Intermediate, v.Depth, s.m.Hidden
	const p = "vision_tower."
	lp := p + "transformer.layers.*."
	s.add(p+"patch_conv.weight", 1, H, v.InChannels, v.PatchSize, v.PatchSize)
	s.add(p+"ln_pre.weight", 1, H)
	s.add(lp+"attention_norm.weight", L, H)
	s.add(lp+"ffn_norm.weight", L, H)
	for _, n := range []string{"q_proj", "k_proj", "v_proj", "o_proj"} {
		s.add(lp+"attention."+n+".weight", L, H, H)
	}
	s.add(lp+"feed_forward.gate_proj.weight", L, I, H)
	s.add(lp+"feed_forward.up_proj.weight", L, I, H)
	s.add(lp+"feed_forward.down_proj.weight", L, H, I)
	const mp = "multi_modal_projector."
	s.add(mp+"norm.weight", 1, H)
	s.add(mp+"patch_merger.merging_layer.weight", 1, H, H*v.SpatialMerge*v.SpatialMerge)
	s.linearB(mp+"linear_1", 1, T, H*v.FeatureLayers, v.ProjectorBias)
	s.linearB(mp+"linear_2", 1, T, T, v.ProjectorBias)
}

// llama4Tower covers Llama 4's vision model (vision_model.*) and projector:
// the unfold patch embedding's bias-free linear [H, C·p·p], class_embedding
// [H], positional_embedding_vlm [(image/p)² + 1, H], LayerNorm
// layernorm_pre/post; per layer q/k/v/o_proj [H, H] and mlp.fc1 [I, H],
// fc2 [H, I], all with biases, LayerNorm input_layernorm and
// post_attention_layernorm; the pixel-shuffle adapter
// vision_adapter.mlp.fc1 [projector_input_dim, I] and fc2
// [projector_output_dim, projector_output_dim] without biases; and
// multi_modal_projector.linear_1 [text hidden, vision_output_dim] without
// bias (Llama4VisionMLP2, Llama4MultiModalProjector, Llama4VisionAttention,
// Llama4VisionMLP, Llama4VisionEncoderLayer, Llama4UnfoldConvolution,
// Llama4VisionModel:
// https://github.com/huggingface/transformers/blob/v4.57.0/src/transformers/models/llama4/modeling_llama4.py#L677-L701,
// https://github.com/huggingface/transformers/blob/v4.57.0/src/transformers/models/llama4/modeling_llama4.py#L762-L776,
// https://github.com/huggingface/transformers/blob/v4.57.0/src/transformers/models/llama4/modeling_llama4.py#L821-L845,
// https://github.com/huggingface/transformers/blob/v4.57.0/src/transformers/models/llama4/modeling_llama4.py#L962-L973,
// https://github.com/huggingface/transformers/blob/v4.57.0/src/transformers/models/llama4/modeling_llama4.py#L1004-L1031).
func (s *synth) llama4Tower() {
	v := s.m.VisionTower
	H, I, L := v.Hidden, v.Intermediate, v.Depth
	side := v.ImageSize / v.PatchSize
	const p = "vision_model."
	lp := p + "model.layers.*."
	s.add(p+"patch_embedding.linear.weight", 1, H, v.InChannels*v.PatchSize*v.PatchSize)
	s.add(p+"class_embedding", 1, H)
	s.add(p+"positional_embedding_vlm", 1, side*side+1, H)
	s.layerNorm(p+"layernorm_pre", 1, H)
	s.layerNorm(p+"layernorm_post", 1, H)
	for _, n := range []string{"q_proj", "k_proj", "v_proj", "o_proj"} {
		s.linearB(lp+"self_attn."+n, L, H, H, true)
	}
	s.linearB(lp+"mlp.fc1", L, I, H, true)
	s.linearB(lp+"mlp.fc2", L, H, I, true)
	s.layerNorm(lp+"input_layernorm", L, H)
	s.layerNorm(lp+"post_attention_layernorm", L, H)
	s.add(p+"vision_adapter.mlp.fc1.weight", 1, v.ProjectorIn, I)
	s.add(p+"vision_adapter.mlp.fc2.weight", 1, v.ProjectorOut, v.ProjectorOut)
	s.add("multi_modal_projector.linear_1.weight", 1, s.m.Hidden, v.OutHidden)
}
