package estimate

import "slices"

// This file derives the checkpoint tensors of the hybrid families (state
// mixers beside or instead of attention) and of DeepSeek-V3.2's sparse
// attention indexer. Module shapes follow transformers' modeling code, read
// at upstream commit e6a8e7debed69d4cf5d493158f3f347931c24c9a (main on
// 2025-10-02, the last commit before the v4.57.0 release that touched
// none of these files' module shapes; the tag itself could not be read
// here) and, for the families added later, at the commit that added them.
// Tensor names are the checkpoints'. Multi-token-prediction layers (mtp.*)
// are left out, as SynthesizeTensors leaves out DeepSeek-V3's: engines do
// not load them unless speculative decoding asks for them.

// layoutDerived reports whether SynthesizeTensors derives m's per-layer
// layout exactly (hybrid state layers, Nemotron-H's block pattern, Jamba's
// periodic MoE, DeepSeek-V3.2's indexer) rather than as uniform attention
// and MLP layers. It is false for layouts it does not model (llama4,
// gemma3n, bamba) and when the facts it needs are missing.
func layoutDerived(m Model) bool {
	if m.Layers <= 0 || m.Hidden <= 0 || m.Heads <= 0 || m.Vocab <= 0 {
		return false
	}
	st := m.State
	mamba2 := st.Kind == KindMamba2 && st.Heads > 0 && st.HeadDim > 0 && st.StateSize > 0 && st.ConvKernel > 0
	switch m.Type {
	case "qwen3_next", "qwen3_5", "qwen3_5_text", "qwen3_5_moe", "qwen3_5_moe_text":
		return len(m.Kinds) == m.Layers && st.Kind == KindLinear && st.ConvKernel > 0 &&
			st.KeyHeads > 0 && st.KeyHeadDim > 0 && st.ValueHeads > 0 && st.ValueHeadDim > 0 &&
			(m.Experts == 0 || m.SharedExpertWidth > 0)
	case "nemotron_h":
		return len(m.BlockPattern) == m.Layers && mamba2 && (!m.IsMoE() || m.SharedExpertWidth > 0)
	case "granitemoehybrid":
		return len(m.Kinds) == m.Layers && mamba2 && m.SharedExpertWidth > 0
	case "jamba":
		return len(m.Kinds) == m.Layers && st.Kind == KindMamba && st.Inner > 0 && st.StateSize > 0 && st.ConvKernel > 0
	case "falcon_h1":
		return len(m.Kinds) == 2*m.Layers && mamba2
	case "deepseek_v32":
		return m.IsMLA() && m.IndexHeadDim > 0 && m.IndexHeads > 0
	case "minimax_text_01", "minimax_m1":
		// A shared MLP (shared_intermediate_size > 0) is not derived.
		return len(m.Kinds) == m.Layers && st.Mixer == MixerLightning && st.ValueHeads > 0 && st.ValueHeadDim > 0 &&
			m.IsMoE() && m.SharedExpertWidth == 0
	case "kimi_linear":
		return len(m.Kinds) == m.Layers && st.Mixer == MixerKDA && st.ValueHeads > 0 && st.ValueHeadDim > 0 &&
			st.ConvKernel > 0 && m.IsMLA()
	case "llama4", "llama4_text":
		return m.IsMoE() && m.SparseStep > 0 && m.SharedExpertWidth > 0 && m.QuantMethod == ""
	}
	return false
}

// hybrid derives the tensors of a family layoutDerived accepts (but
// deepseek_v32, which SynthesizeTensors handles as DeepSeek-V3 plus
// dsaIndexer).
func (s *synth) hybrid() {
	switch s.m.Type {
	case "nemotron_h":
		s.nemotronH()
	case "granitemoehybrid":
		s.graniteHybrid()
	case "jamba":
		s.jamba()
	case "falcon_h1":
		s.falconH1()
	case "llama4", "llama4_text":
		s.llama4()
	case "kimi_linear":
		s.kimiLinear()
	case "minimax_text_01", "minimax_m1":
		s.miniMaxText01()
	default:
		s.qwenNext()
	}
}

// kindCount counts the entries of m.Kinds of kind k.
func (s *synth) kindCount(k LayerKind) int {
	n := 0
	for _, c := range s.m.Kinds {
		if c == k {
			n++
		}
	}
	return n
}

// attention appends q/k/v/o projections (no biases) under ap for n layers;
// qGate doubles q_proj for the output gate of Qwen3-Next and Qwen3.5, and
// qkNorm adds their per-head q_norm and k_norm.
func (s *synth) attention(ap string, n int, qGate, qkNorm bool) {
	m := &s.m
	H, nh, kv, hd := m.Hidden, m.Heads, m.KVHeadCount(), m.HeadSize()
	q := nh * hd
	if qGate {
		q *= 2
	}
	s.linear(ap+"q_proj", n, q, H, true)
	s.linear(ap+"k_proj", n, kv*hd, H, true)
	s.linear(ap+"v_proj", n, kv*hd, H, true)
	s.linear(ap+"o_proj", n, H, nh*hd, true)
	if qkNorm {
		s.add(ap+"q_norm.weight", n, hd)
		s.add(ap+"k_norm.weight", n, hd)
	}
}

// qwenNext covers Qwen3-Next and Qwen3.5 (dense and MoE). Linear-attention
// layers hold a gated delta net (Qwen3NextGatedDeltaNet,
// https://github.com/huggingface/transformers/blob/e6a8e7debed69d4cf5d493158f3f347931c24c9a/src/transformers/models/qwen3_next/modeling_qwen3_next.py#L564-L617):
// in_proj_qkvz [2·key+2·value, H], in_proj_ba [2·v_heads, H], a depthwise
// conv1d [2·key+value, 1, kernel] without bias, dt_bias and A_log
// [v_heads], a gated RMSNorm [v_head_dim] and out_proj [H, value], with
// key = k_heads·k_head_dim and value = v_heads·v_head_dim. Qwen3.5 splits
// the input projection into in_proj_qkv, in_proj_z, in_proj_b and in_proj_a
// of the same total (Qwen3_5GatedDeltaNet,
// https://github.com/huggingface/transformers/blob/fc9137225880a9d03f130634c20f9dbe36a7b8bf/src/transformers/models/qwen3_5/modeling_qwen3_5.py#L444-L508).
// Full-attention layers have a q_proj twice as wide (the output gate) and
// q/k norms (Qwen3NextAttention, #L321-L348 of the Qwen3-Next file).
func (s *synth) qwenNext() {
	m := &s.m
	p := "model."
	if (m.Type == "qwen3_5" || m.Type == "qwen3_5_moe") && m.Vision {
		p = "model.language_model."
	}
	lp := p + "layers.*."
	s.add(p+"embed_tokens.weight", 1, m.Vocab, m.Hidden)
	s.gatedDeltaNet(lp+"linear_attn.", s.kindCount(KindLinear), m.Type != "qwen3_next")
	s.attention(lp+"self_attn.", s.kindCount(KindFull), true, true)
	s.add(lp+"input_layernorm.weight", m.Layers, m.Hidden)
	s.add(lp+"post_attention_layernorm.weight", m.Layers, m.Hidden)
	s.qwenNextMLP(lp)
	s.embedAndHead(p, "lm_head.weight", false)
}

// gatedDeltaNet appends n gated delta nets under gp (split: Qwen3.5's four
// input projections).
func (s *synth) gatedDeltaNet(gp string, n int, split bool) {
	st, H := s.m.State, s.m.Hidden
	key, val, vh := st.KeyHeads*st.KeyHeadDim, st.ValueHeads*st.ValueHeadDim, st.ValueHeads
	if split {
		s.linear(gp+"in_proj_qkv", n, 2*key+val, H, true)
		s.linear(gp+"in_proj_z", n, val, H, true)
		s.linear(gp+"in_proj_b", n, vh, H, false)
		s.linear(gp+"in_proj_a", n, vh, H, false)
	} else {
		s.linear(gp+"in_proj_qkvz", n, 2*key+2*val, H, true)
		s.linear(gp+"in_proj_ba", n, 2*vh, H, false)
	}
	s.add(gp+"conv1d.weight", n, 2*key+val, 1, st.ConvKernel)
	s.add(gp+"dt_bias", n, vh)
	s.add(gp+"A_log", n, vh)
	s.add(gp+"norm.weight", n, st.ValueHeadDim)
	s.linear(gp+"out_proj", n, H, val, true)
}

// qwenNextMLP appends Qwen3-Next's MLPs: layer i is MoE unless it is in
// mlp_only_layers, when the model has experts and (i+1) % decoder_sparse_step
// == 0 (Qwen3NextDecoderLayer, #L857-L877 of the Qwen3-Next file); MoE
// layers have a router, the routed experts, one shared expert of
// shared_expert_intermediate_size and its gate [1, H]
// (Qwen3NextSparseMoeBlock, #L794-L808). Qwen3.5's layers are all MoE or
// all dense.
func (s *synth) qwenNextMLP(lp string) {
	m := &s.m
	H, E, W, SW := m.Hidden, m.Experts, m.ExpertWidth(), m.SharedExpertWidth
	step := max(m.SparseStep, 1)
	sparse := 0
	for i := range m.Layers {
		if E > 0 && (i+1)%step == 0 && !slices.Contains(m.MLPOnlyLayers, i) {
			sparse++
		}
	}
	s.gatedMLP(lp+"mlp.", m.Layers-sparse, m.Intermediate)
	s.add(lp+"mlp.gate.weight", sparse, E, H)
	s.gatedMLP(lp+"mlp.experts.*.", sparse*E, W)
	s.gatedMLP(lp+"mlp.shared_expert.", sparse, SW)
	s.add(lp+"mlp.shared_expert_gate.weight", sparse, 1, H)
}

// gatedMLP appends n gate/up/down projections of width w under mp.
func (s *synth) gatedMLP(mp string, n, w int) {
	H := s.m.Hidden
	s.linear(mp+"gate_proj", n, w, H, true)
	s.linear(mp+"up_proj", n, w, H, true)
	s.linear(mp+"down_proj", n, H, w, true)
}

// mamba2 appends n Mamba2 mixers under mp (NemotronHMamba2Mixer,
// https://github.com/huggingface/transformers/blob/5c1c72be5f864d10d0efe8ece0768d9ed6ee4fdd/src/transformers/models/nemotron_h/modeling_nemotron_h.py#L238-L303;
// GraniteMoeHybridMambaLayer and FalconH1Mixer have the same tensors):
// in_proj [inner + conv + heads, H] with conv = inner + 2·groups·d_state,
// a depthwise conv1d [conv, 1, kernel] (bias [conv] when MambaConvBias),
// dt_bias, A_log and D [heads], a gated RMSNorm [inner] (norm) and
// out_proj [H, inner]. inBias and outBias add the projections' biases.
func (s *synth) mamba2(mp string, n int, norm, inBias, outBias bool) {
	st, H := s.m.State, s.m.Hidden
	inner := st.Inner
	if inner == 0 {
		inner = st.Heads * st.HeadDim
	}
	conv := inner + 2*max(st.Groups, 1)*st.StateSize
	s.linear(mp+"in_proj", n, inner+conv+st.Heads, H, true)
	if inBias {
		s.add(mp+"in_proj.bias", n, inner+conv+st.Heads)
	}
	s.add(mp+"conv1d.weight", n, conv, 1, st.ConvKernel)
	if s.m.MambaConvBias {
		s.add(mp+"conv1d.bias", n, conv)
	}
	s.add(mp+"dt_bias", n, st.Heads)
	s.add(mp+"A_log", n, st.Heads)
	s.add(mp+"D", n, st.Heads)
	if norm {
		s.add(mp+"norm.weight", n, inner)
	}
	s.linear(mp+"out_proj", n, H, inner, true)
	if outBias {
		s.add(mp+"out_proj.bias", n, H)
	}
}

// nemotronH covers Nemotron-H and Nemotron 3: every layer is one block, a
// pre-norm and one mixer named by hybrid_override_pattern (NemotronHBlock,
// https://github.com/huggingface/transformers/blob/5c1c72be5f864d10d0efe8ece0768d9ed6ee4fdd/src/transformers/models/nemotron_h/modeling_nemotron_h.py#L1020-L1043):
// M a Mamba2 mixer, * attention, - an MLP of up_proj/down_proj (ReLU², no
// gate; NemotronHMLP #L718-L725), E an MoE of an F32-biased router,
// routed up/down experts of moe_intermediate_size and one shared MLP of
// moe_shared_expert_intermediate_size (NemotronHMoE #L794-L812,
// NemotronHTopkRouter #L870-L877). The checkpoints keep the
// remote-code names (backbone.*, per-expert tensors), which transformers
// renames on load.
func (s *synth) nemotronH() {
	m := &s.m
	H, E, W, SW := m.Hidden, m.Experts, m.ExpertWidth(), m.SharedExpertWidth
	count := func(c rune) int {
		n := 0
		for _, b := range m.BlockPattern {
			if b == c {
				n++
			}
		}
		return n
	}
	lp := "backbone.layers.*."
	xp := lp + "mixer."
	s.add("backbone.embeddings.weight", 1, m.Vocab, H)
	s.add(lp+"norm.weight", m.Layers, H)
	s.mamba2(xp, count('M'), true, m.MambaProjBias, m.MambaProjBias)
	s.attention(xp, count('*'), false, false)
	s.linear(xp+"up_proj", count('-'), m.Intermediate, H, true)
	s.linear(xp+"down_proj", count('-'), H, m.Intermediate, true)
	nE := count('E')
	s.add(xp+"gate.weight", nE, E, H)
	s.addT(xp+"gate.e_score_correction_bias", F32, nE, E)
	s.linear(xp+"experts.*.up_proj", nE*E, W, H, true)
	s.linear(xp+"experts.*.down_proj", nE*E, H, W, true)
	s.linear(xp+"shared_experts.up_proj", nE, SW, H, true)
	s.linear(xp+"shared_experts.down_proj", nE, H, SW, true)
	s.add("backbone.norm_f.weight", 1, H)
	if !m.TieWordEmbeddings {
		s.add("lm_head.weight", 1, m.Vocab, H)
	}
}

// graniteHybrid covers Granite-4.0-H: each layer has a Mamba2 mixer or
// attention, then the routed experts (when num_local_experts > 0) and a
// shared MLP (GraniteMoeHybridDecoderLayer,
// https://github.com/huggingface/transformers/blob/e6a8e7debed69d4cf5d493158f3f347931c24c9a/src/transformers/models/granitemoehybrid/modeling_granitemoehybrid.py#L1110-L1129).
// The experts are stored fused: input_linear [E, 2·I, H] (gate and up),
// output_linear [E, H, I] and router.layer [E, H] (GraniteMoeHybridMoE,
// #L1050-L1072); the shared MLP is input_linear [2·S, H] and output_linear
// [H, S] with S = shared_intermediate_size (GraniteMoeHybridMLP,
// #L886-L902). Attention heads are hidden/heads wide.
func (s *synth) graniteHybrid() {
	m := &s.m
	L, H, E, W, SW := m.Layers, m.Hidden, m.Experts, m.ExpertWidth(), m.SharedExpertWidth
	lp := "model.layers.*."
	s.add("model.embed_tokens.weight", 1, m.Vocab, H)
	s.mamba2(lp+"mamba.", s.kindCount(KindMamba2), true, m.MambaProjBias, m.MambaProjBias)
	s.attention(lp+"self_attn.", s.kindCount(KindFull), false, false)
	s.add(lp+"input_layernorm.weight", L, H)
	s.add(lp+"post_attention_layernorm.weight", L, H)
	if E > 0 {
		s.add(lp+"block_sparse_moe.router.layer.weight", L, E, H)
		s.add(lp+"block_sparse_moe.input_linear.weight", L, E, 2*W, H)
		s.add(lp+"block_sparse_moe.output_linear.weight", L, E, H, W)
	}
	s.linear(lp+"shared_mlp.input_linear", L, 2*SW, H, true)
	s.linear(lp+"shared_mlp.output_linear", L, H, SW, true)
	s.embedAndHead("model.", "lm_head.weight", false)
}

// jamba covers Jamba: layers hold attention or a Mamba (1) mixer, then a
// dense MLP or, when i % expert_layer_period == expert_layer_offset
// (JambaConfig.layers_num_experts,
// https://github.com/huggingface/transformers/blob/e6a8e7debed69d4cf5d493158f3f347931c24c9a/src/transformers/models/jamba/configuration_jamba.py#L223-L227),
// a router and num_experts gated experts (JambaSparseMoeBlock,
// https://github.com/huggingface/transformers/blob/e6a8e7debed69d4cf5d493158f3f347931c24c9a/src/transformers/models/jamba/modeling_jamba.py#L843-L863).
func (s *synth) jamba() {
	m := &s.m
	L, H, E := m.Layers, m.Hidden, m.Experts
	period, offset := m.ExpertPeriod, m.ExpertOffset
	if period <= 0 {
		period, offset = 2, 1 // JambaConfig defaults
	}
	moe := 0
	for i := range L {
		if E > 1 && i%period == offset {
			moe++
		}
	}
	lp := "model.layers.*."
	s.add("model.embed_tokens.weight", 1, m.Vocab, H)
	s.mamba1(lp+"mamba.", s.kindCount(KindMamba))
	s.attention(lp+"self_attn.", s.kindCount(KindFull), false, false)
	s.add(lp+"input_layernorm.weight", L, H)
	s.add(lp+"pre_ff_layernorm.weight", L, H)
	s.gatedMLP(lp+"feed_forward.", L-moe, m.Intermediate)
	s.add(lp+"feed_forward.router.weight", moe, E, H)
	s.gatedMLP(lp+"feed_forward.experts.*.", moe*E, m.ExpertWidth())
	s.add("model.final_layernorm.weight", 1, H)
	if !m.TieWordEmbeddings {
		s.add("lm_head.weight", 1, m.Vocab, H)
	}
}

// mamba1 appends n Jamba Mamba mixers under mp (JambaMambaMixer,
// https://github.com/huggingface/transformers/blob/e6a8e7debed69d4cf5d493158f3f347931c24c9a/src/transformers/models/jamba/modeling_jamba.py#L558-L609):
// in_proj [2·inner, H], conv1d [inner, 1, kernel] (bias [inner] when
// MambaConvBias), x_proj [R + 2·d_state, inner], dt_proj [inner, R] with
// bias [inner], A_log [inner, d_state], D [inner], out_proj [H, inner] and
// RMSNorms of dt [R], B and C [d_state]; R = mamba_dt_rank, "auto" being
// ceil(hidden/16).
func (s *synth) mamba1(mp string, n int) {
	st, H := s.m.State, s.m.Hidden
	in, N := st.Inner, st.StateSize
	R := s.m.MambaDtRank
	if R <= 0 {
		R = synthCeilDiv(H, 16)
	}
	s.linear(mp+"in_proj", n, 2*in, H, true)
	s.linear(mp+"x_proj", n, R+2*N, in, true)
	s.linear(mp+"dt_proj", n, in, R, true)
	s.add(mp+"dt_proj.bias", n, in)
	s.linear(mp+"out_proj", n, H, in, true)
	if s.m.MambaProjBias {
		s.add(mp+"in_proj.bias", n, 2*in)
		s.add(mp+"out_proj.bias", n, H)
	}
	s.add(mp+"conv1d.weight", n, in, 1, st.ConvKernel)
	if s.m.MambaConvBias {
		s.add(mp+"conv1d.bias", n, in)
	}
	s.add(mp+"A_log", n, in, N)
	s.add(mp+"D", n, in)
	s.add(mp+"dt_layernorm.weight", n, R)
	s.add(mp+"b_layernorm.weight", n, N)
	s.add(mp+"c_layernorm.weight", n, N)
}

// falconH1 covers Falcon-H1: every layer runs attention and a Mamba2 mixer
// side by side, then a gated MLP (FalconH1DecoderLayer,
// https://github.com/huggingface/transformers/blob/e6a8e7debed69d4cf5d493158f3f347931c24c9a/src/transformers/models/falcon_h1/modeling_falcon_h1.py#L1046-L1063).
// The mixer's inner width is mamba_d_ssm, its gated norm exists only with
// mamba_rms_norm, and its out_proj bias follows projectors_bias, taken as
// false, its default (FalconH1Mixer, #L497-L569).
func (s *synth) falconH1() {
	m := &s.m
	L, H := m.Layers, m.Hidden
	lp := "model.layers.*."
	s.add("model.embed_tokens.weight", 1, m.Vocab, H)
	s.attention(lp+"self_attn.", L, false, false)
	s.mamba2(lp+"mamba.", L, m.MambaGatedNorm, m.MambaProjBias, false)
	s.gatedMLP(lp+"feed_forward.", L, m.Intermediate)
	s.add(lp+"input_layernorm.weight", L, H)
	s.add(lp+"pre_ff_layernorm.weight", L, H)
	s.add("model.final_layernorm.weight", 1, H)
	if !m.TieWordEmbeddings {
		s.add("lm_head.weight", 1, m.Vocab, H)
	}
}

// dsaIndexer appends DeepSeek-V3.2's sparse-attention indexer to every
// layer (DeepseekV32Indexer,
// https://github.com/huggingface/transformers/blob/513146c175a534a913b8cfd448b9a06f0caf9365/src/transformers/models/deepseek_v32/modeling_deepseek_v32.py#L166-L194):
// wq_b [index_n_heads·index_head_dim, q_lora_rank], wk [index_head_dim, H],
// a LayerNorm k_norm (weight and bias [index_head_dim]) and weights_proj
// [index_n_heads, H], which FP8 checkpoints keep unquantized.
func (s *synth) dsaIndexer() {
	m := &s.m
	ip := "model.layers.*.self_attn.indexer."
	s.linear(ip+"wq_b", m.Layers, m.IndexHeads*m.IndexHeadDim, m.QLoraRank, true)
	s.linear(ip+"wk", m.Layers, m.IndexHeadDim, m.Hidden, true)
	s.add(ip+"k_norm.weight", m.Layers, m.IndexHeadDim)
	s.add(ip+"k_norm.bias", m.Layers, m.IndexHeadDim)
	s.add(ip+"weights_proj.weight", m.Layers, m.IndexHeads, m.Hidden)
}

// llama4 derives Llama 4's language model: Llama attention (q/k norms have
// no weights) and, in the feed-forward, every SparseStep-th layer MoE —
// fused experts gate_up_proj [E, H, 2·I] and down_proj [E, I, H], a router
// and a shared expert I wide — the others a dense MLP Intermediate
// (intermediate_size_mlp) wide (Llama4TextMoe and Llama4TextMLP,
// https://github.com/huggingface/transformers/blob/v4.57.0/src/transformers/models/llama4/modeling_llama4.py#L64-L140).
// Checkpoint names carry language_model.model. when the config is
// multimodal.
func (s *synth) llama4() {
	m := &s.m
	p, head := "model.", "lm_head.weight"
	if m.Vision {
		p, head = "language_model.model.", "language_model.lm_head.weight"
	}
	lp := p + "layers.*."
	L, H, step := m.Layers, m.Hidden, m.SparseStep
	moe := L / step
	dense := L - moe
	s.add(p+"embed_tokens.weight", 1, m.Vocab, H)
	s.llamaAttention(lp)
	s.llamaNorms(lp)
	E, I := m.Experts, m.MoEIntermediate
	s.add(lp+"feed_forward.router.weight", moe, E, H)
	s.linear(lp+"feed_forward.experts.gate_up_proj", moe, E*H, 2*I, true)
	s.linear(lp+"feed_forward.experts.down_proj", moe, E*I, H, true)
	sw := m.SharedExpertWidth
	s.linear(lp+"feed_forward.shared_expert.gate_proj", moe, sw, H, true)
	s.linear(lp+"feed_forward.shared_expert.up_proj", moe, sw, H, true)
	s.linear(lp+"feed_forward.shared_expert.down_proj", moe, H, sw, true)
	if dense > 0 {
		s.linear(lp+"feed_forward.gate_proj", dense, m.Intermediate, H, true)
		s.linear(lp+"feed_forward.up_proj", dense, m.Intermediate, H, true)
		s.linear(lp+"feed_forward.down_proj", dense, H, m.Intermediate, true)
	}
	s.embedAndHead(p, head, false)
}

// kimiLinear covers Kimi-Linear (tensor names and shapes as vLLM's
// KimiLinearForCausalLM loads them and as the 48B-A3B checkpoint stores
// them, report kda-minimax §5). A KDA layer
// (https://github.com/vllm-project/vllm/blob/v0.21.0/vllm/model_executor/layers/kda.py#L137-L245),
// with P = heads·head_dim: q/k/v_proj [P, H], f_a_proj and g_a_proj
// [head_dim, H], f_b_proj and g_b_proj [P, head_dim], b_proj [heads, H],
// q/k/v_conv1d [P, 1, kernel], A_log [1, 1, heads, 1] and dt_bias [P] in
// float32, o_norm [head_dim] and o_proj [H, P]. The other layers are MLA
// without a q LoRA (KimiMLAAttention,
// https://github.com/vllm-project/vllm/blob/v0.21.0/vllm/model_executor/models/kimi_linear.py#L214-L245).
// Layer i is MoE when i ≥ first_k_dense_replace and i % moe_layer_freq
// == 0 (#L329-L348 of that file): a router with a correction bias, the
// routed experts w1/w3/w2 and num_shared_experts shared experts as one
// MLP; the others a dense MLP.
func (s *synth) kimiLinear() {
	m := &s.m
	st, H, nh := m.State, m.Hidden, m.Heads
	D := st.ValueHeadDim
	P := st.ValueHeads * D
	lp := "model.layers.*."
	s.add("model.embed_tokens.weight", 1, m.Vocab, H)
	n := s.kindCount(KindLinear)
	ap := lp + "self_attn."
	for _, name := range []string{"q_proj", "k_proj", "v_proj"} {
		s.linear(ap+name, n, P, H, true)
	}
	s.linear(ap+"f_a_proj", n, D, H, true)
	s.linear(ap+"f_b_proj", n, P, D, true)
	s.linear(ap+"g_a_proj", n, D, H, true)
	s.linear(ap+"g_b_proj", n, P, D, true)
	s.linear(ap+"b_proj", n, st.ValueHeads, H, false)
	for _, name := range []string{"q_conv1d", "k_conv1d", "v_conv1d"} {
		s.add(ap+name+".weight", n, P, 1, st.ConvKernel)
	}
	s.addT(ap+"A_log", F32, n, 1, 1, st.ValueHeads, 1)
	s.addT(ap+"dt_bias", F32, n, P)
	s.add(ap+"o_norm.weight", n, D)
	s.linear(ap+"o_proj", n, H, P, true)
	mla := s.kindCount(KindMLA)
	rope, nope, vd := m.QKRopeHeadDim, m.QKNopeHeadDim, m.VHeadDim
	s.linear(ap+"q_proj", mla, nh*(nope+rope), H, true)
	s.linear(ap+"kv_a_proj_with_mqa", mla, m.KVLoraRank+rope, H, true)
	s.add(ap+"kv_a_layernorm.weight", mla, m.KVLoraRank)
	s.linear(ap+"kv_b_proj", mla, nh*(nope+vd), m.KVLoraRank, true)
	s.linear(ap+"o_proj", mla, H, nh*vd, true)
	s.add(lp+"input_layernorm.weight", m.Layers, H)
	s.add(lp+"post_attention_layernorm.weight", m.Layers, H)
	sparse := 0
	for i := range m.Layers {
		if m.Experts > 0 && i >= m.DenseLayers && i%max(m.SparseStep, 1) == 0 {
			sparse++
		}
	}
	s.gatedMLP(lp+"mlp.", m.Layers-sparse, m.Intermediate)
	mp := lp + "block_sparse_moe."
	s.add(mp+"gate.weight", sparse, m.Experts, H)
	s.add(mp+"gate.e_score_correction_bias", sparse, m.Experts)
	W := m.ExpertWidth()
	s.linear(mp+"experts.*.w1", sparse*m.Experts, W, H, true)
	s.linear(mp+"experts.*.w3", sparse*m.Experts, W, H, true)
	s.linear(mp+"experts.*.w2", sparse*m.Experts, H, W, true)
	s.gatedMLP(mp+"shared_experts.", sparse, m.SharedExperts*W)
	s.embedAndHead("model.", "lm_head.weight", false)
}

// miniMaxText01 covers MiniMax-Text-01 and MiniMax-M1 (the checkpoints
// name their tensors as vLLM's MiniMaxText01ForCausalLM does, report
// kda-minimax §5.4). A lightning layer
// (https://github.com/vllm-project/vllm/blob/v0.21.0/vllm/model_executor/layers/mamba/linear_attn.py#L302-L326),
// with I = heads·head_dim: qkv_proj [3·I, H], output_gate [I, H], out_proj
// [H, I] and norm [I]; a full layer q/k/v/o projections of GQA. Every
// layer is MoE: a router kept in float32
// (https://github.com/vllm-project/vllm/blob/v0.21.0/vllm/model_executor/models/minimax_text_01.py#L151-L158;
// the M1 checkpoint stores it so: its total_size is the bfloat16 rest plus
// 4 bytes per router element) and experts w1/w3/w2 of intermediate_size.
// A shared MLP (shared_intermediate_size > 0, none in the public configs)
// is not derived: layoutDerived refuses such a config.
func (s *synth) miniMaxText01() {
	m := &s.m
	st, H := m.State, m.Hidden
	inner := st.ValueHeads * st.ValueHeadDim
	lp := "model.layers.*."
	s.add("model.embed_tokens.weight", 1, m.Vocab, H)
	n := s.kindCount(KindLinear)
	s.linear(lp+"self_attn.qkv_proj", n, 3*inner, H, true)
	s.linear(lp+"self_attn.output_gate", n, inner, H, true)
	s.linear(lp+"self_attn.out_proj", n, H, inner, true)
	s.add(lp+"self_attn.norm.weight", n, inner)
	s.attention(lp+"self_attn.", s.kindCount(KindFull), false, false)
	s.add(lp+"input_layernorm.weight", m.Layers, H)
	s.add(lp+"post_attention_layernorm.weight", m.Layers, H)
	mp := lp + "block_sparse_moe."
	s.addT(mp+"gate.weight", F32, m.Layers, m.Experts, H)
	W := m.ExpertWidth()
	s.linear(mp+"experts.*.w1", m.Layers*m.Experts, W, H, true)
	s.linear(mp+"experts.*.w3", m.Layers*m.Experts, W, H, true)
	s.linear(mp+"experts.*.w2", m.Layers*m.Experts, H, W, true)
	s.embedAndHead("model.", "lm_head.weight", false)
}
