package estimate

import "strings"

// This file derives a checkpoint's tensor list from the architecture facts
// when no safetensors headers are available. Names follow the Hugging Face
// checkpoints; tensors repeated per layer (or per layer and expert) are
// grouped into one Tensor with Count set and "*" in place of the index.

// fp8Block is the weight block of block-wise FP8 checkpoints
// (quantization_config.weight_block_size [128, 128] in DeepSeek-V3/R1 and
// Qwen3 *-FP8). Each FP8 weight [out, in] comes with an F32
// weight_scale_inv [ceil(out/128), ceil(in/128)].
const fp8Block = 128

// mxfp4Block is the element count of one MXFP4 block: 32 FP4 values packed
// into 16 U8 bytes with one U8 (E8M0) scale per block (gpt-oss experts).
const mxfp4Block = 32

// SynthesizeTensors derives the checkpoint's tensors from m: embeddings,
// every decoder layer's attention, MLP or experts and norms, the final norm,
// and lm_head unless TieWordEmbeddings. The dtype is m.DType (BF16 when
// empty), except where the stored layout is known from m.QuantMethod:
//
//   - "fp8": linear weights inside the decoder layers are F8_E4M3 with F32
//     weight_scale_inv block scales (128×128 blocks); routers, norms,
//     embeddings and lm_head stay in m.DType.
//   - "mxfp4" (gpt_oss): expert weights are U8 *_blocks [.., n/32, 16] and U8
//     *_scales [.., n/32]; everything else stays BF16.
//
// Hybrid layouts are derived per layer when layoutDerived(m) (synth_hybrid.go):
// Qwen3-Next and Qwen3.5 (gated delta nets, gated attention, MoE with a
// shared expert), Nemotron-H (one Mamba2, attention, MLP or MoE block per
// layer), Granite-4.0-H, Jamba (Mamba1, MoE every expert_layer_period-th
// layer), Falcon-H1 (attention and Mamba2 side by side) and DeepSeek-V3.2's
// indexer; other layouts with Kinds are derived as attention and MLP
// layers.
//
// Other quantization methods (gptq, awq, bitsandbytes, ...) are not modelled:
// the result then describes the unquantized model.
//
// Buffers that some checkpoints carry but engines recompute (Llama-2's
// rotary_emb.inv_freq, 64 F32 values per layer) are left out. For a
// multimodal model the language model is derived (under
// "language_model.model.*") and, for the families synth_vision.go knows
// (towerDerived), the vision tower and projector from m.VisionTower. It
// returns nil when m lacks Layers, Hidden, Heads or Vocab.
func SynthesizeTensors(m Model) []Tensor {
	if m.Layers <= 0 || m.Hidden <= 0 || m.Heads <= 0 || m.Vocab <= 0 {
		return nil
	}
	s := &synth{m: m, dt: m.DType, fp8: m.QuantMethod == "fp8"}
	if s.dt == "" {
		s.dt = BF16
	}
	switch {
	case m.Type == "deepseek_v32":
		// V3.2 keeps DeepSeek-V3's layers, router bias included, and adds the indexer.
		s.m.Type = "deepseek_v3"
		s.deepseek()
		if layoutDerived(m) {
			s.dsaIndexer()
		}
	case layoutDerived(m):
		s.hybrid()
	case m.Type == "opt":
		s.opt(m.Hidden)
	case m.Type == "phi":
		s.phi()
	case m.Type == "gpt_oss":
		s.gptOSS()
	case m.Type == "deepseek_v2" || m.Type == "deepseek_v3" || m.IsMLA():
		s.deepseek()
	default:
		s.llamaLike()
	}
	s.vision()
	return s.out
}

// synth accumulates tensors for one model.
type synth struct {
	m   Model
	dt  DType
	fp8 bool
	out []Tensor
}

// add appends a tensor group of the model dtype. Groups with a zero count or
// dimension are dropped.
func (s *synth) add(name string, count int, shape ...int) {
	s.addT(name, s.dt, count, shape...)
}

// addT appends a tensor group of dtype dt.
func (s *synth) addT(name string, dt DType, count int, shape ...int) {
	if count <= 0 {
		return
	}
	sh := make([]int64, len(shape))
	for i, d := range shape {
		if d <= 0 {
			return
		}
		sh[i] = int64(d)
	}
	t := Tensor{Name: name, DType: dt, Shape: sh}
	if count > 1 || strings.Contains(name, "*") {
		t.Count = int64(count)
	}
	s.out = append(s.out, t)
}

// linear appends a linear layer's weight [out, in] under name+".weight" and,
// for FP8 checkpoints with quantized=true, its F32 block scales.
func (s *synth) linear(name string, count, out, in int, quantized bool) {
	if quantized && s.fp8 {
		s.addT(name+".weight", F8E4M3, count, out, in)
		s.addT(name+".weight_scale_inv", F32, count, synthCeilDiv(out, fp8Block), synthCeilDiv(in, fp8Block))
		return
	}
	s.add(name+".weight", count, out, in)
}

func synthCeilDiv(a, b int) int { return (a + b - 1) / b }

// prefixes returns the decoder prefix ("model.") and the lm_head name; VLMs
// whose checkpoints nest the language model use "language_model.".
// routedExperts adds the gate/up/down projections of every routed expert of
// sparse layers, and the shared experts (as one MLP of SharedExperts × the
// expert width) under the model's own name for them.
func (s *synth) routedExperts(lp, sharedName string, sparse int) {
	m := s.m
	E, W, H := m.Experts, m.ExpertWidth(), m.Hidden
	ep := lp + "mlp.experts.*."
	s.linear(ep+"gate_proj", sparse*E, W, H, true)
	s.linear(ep+"up_proj", sparse*E, W, H, true)
	s.linear(ep+"down_proj", sparse*E, H, W, true)
	if m.SharedExperts > 0 {
		sw := m.SharedExperts * W
		s.linear(lp+sharedName+".gate_proj", sparse, sw, H, true)
		s.linear(lp+sharedName+".up_proj", sparse, sw, H, true)
		s.linear(lp+sharedName+".down_proj", sparse, H, sw, true)
	}
}

func (s *synth) prefixes() (model, head string) {
	switch {
	case s.m.Type == "mistral3", s.m.Type == "gemma3" && s.m.Vision:
		return "language_model.model.", "language_model.lm_head.weight"
	}
	return "model.", "lm_head.weight"
}

// embedAndHead appends the token embedding, final norm and (untied) lm_head.
func (s *synth) embedAndHead(prefix, head string, finalNormBias bool) {
	m := s.m
	s.add(prefix+"norm.weight", 1, m.Hidden)
	if finalNormBias {
		s.add(prefix+"norm.bias", 1, m.Hidden)
	}
	if !m.TieWordEmbeddings {
		s.add(head, 1, m.Vocab, m.Hidden)
	}
}

// llamaLike covers llama, mistral, mixtral, qwen2, qwen2_moe, qwen3,
// qwen3_moe, gemma, gemma2, gemma3, phi3, mistral3 and unknown types.
//
// Per layer: q/k/v/o projections (phi3: fused qkv_proj), input and
// post-attention RMSNorm weights, and either a gated MLP (gate/up/down; phi3:
// fused gate_up_proj) or routed experts. Variants:
//   - qwen2, qwen2_moe: q/k/v biases;
//   - qwen3, qwen3_moe, gemma3: q_norm and k_norm [head_dim];
//   - gemma2, gemma3: pre_ and post_feedforward_layernorm;
//   - mixtral: block_sparse_moe.gate and experts.*.w1/w2/w3;
//   - qwen2_moe, qwen3_moe (and MoE of unknown type): mlp.gate and
//     mlp.experts.*.gate_proj/up_proj/down_proj; qwen2_moe adds
//     mlp.shared_expert.* (width SharedExperts × expert width) and
//     mlp.shared_expert_gate [1, hidden].
func (s *synth) llamaLike() {
	p, head := s.prefixes()
	lp := p + "layers.*."

	s.add(p+"embed_tokens.weight", 1, s.m.Vocab, s.m.Hidden)
	s.llamaAttention(lp)
	s.llamaNorms(lp)
	s.llamaMLP(lp)
	s.embedAndHead(p, head, false)
}

// llamaAttention appends llamaLike's attention projections, biases and q/k norms under lp.
func (s *synth) llamaAttention(lp string) {
	m := &s.m
	L, H := m.Layers, m.Hidden
	hd, nh, kv := m.HeadSize(), m.Heads, m.KVHeadCount()
	if m.Type == "phi3" {
		s.linear(lp+"self_attn.qkv_proj", L, (nh+2*kv)*hd, H, true)
	} else {
		s.linear(lp+"self_attn.q_proj", L, nh*hd, H, true)
		s.linear(lp+"self_attn.k_proj", L, kv*hd, H, true)
		s.linear(lp+"self_attn.v_proj", L, kv*hd, H, true)
	}
	if m.Type == "qwen2" || m.Type == "qwen2_moe" || m.Type == "qwen2_5_vl" {
		s.add(lp+"self_attn.q_proj.bias", L, nh*hd)
		s.add(lp+"self_attn.k_proj.bias", L, kv*hd)
		s.add(lp+"self_attn.v_proj.bias", L, kv*hd)
	}
	s.linear(lp+"self_attn.o_proj", L, H, nh*hd, true)
	switch m.Type {
	case "qwen3", "qwen3_moe", "gemma3", "gemma3_text", "qwen3_vl", "qwen3_vl_moe":
		s.add(lp+"self_attn.q_norm.weight", L, hd)
		s.add(lp+"self_attn.k_norm.weight", L, hd)
	}
}

// llamaNorms appends llamaLike's per-layer RMSNorm weights under lp.
func (s *synth) llamaNorms(lp string) {
	L, H := s.m.Layers, s.m.Hidden
	s.add(lp+"input_layernorm.weight", L, H)
	s.add(lp+"post_attention_layernorm.weight", L, H)
	switch s.m.Type {
	case "gemma2", "gemma3", "gemma3_text":
		s.add(lp+"pre_feedforward_layernorm.weight", L, H)
		s.add(lp+"post_feedforward_layernorm.weight", L, H)
	}
}

// llamaMLP appends llamaLike's gated MLP of dense layers and router and experts of sparse ones under lp.
func (s *synth) llamaMLP(lp string) {
	m := &s.m
	L, H := m.Layers, m.Hidden
	dense, sparse := L, 0
	if m.IsMoE() {
		dense = min(max(m.DenseLayers, 0), L)
		sparse = L - dense
	}
	if dense > 0 {
		I := m.Intermediate
		if m.Type == "phi3" {
			s.linear(lp+"mlp.gate_up_proj", dense, 2*I, H, true)
		} else {
			s.linear(lp+"mlp.gate_proj", dense, I, H, true)
			s.linear(lp+"mlp.up_proj", dense, I, H, true)
		}
		s.linear(lp+"mlp.down_proj", dense, H, I, true)
	}
	if sparse > 0 {
		E, W := m.Experts, m.ExpertWidth()
		if m.Type == "mixtral" {
			s.add(lp+"block_sparse_moe.gate.weight", sparse, m.Experts, H)
			ep := lp + "block_sparse_moe.experts.*."
			s.linear(ep+"w1", sparse*E, W, H, true)
			s.linear(ep+"w2", sparse*E, H, W, true)
			s.linear(ep+"w3", sparse*E, W, H, true)
		} else {
			s.add(lp+"mlp.gate.weight", sparse, E, H)
			s.routedExperts(lp, "mlp.shared_expert", sparse)
			if m.SharedExperts > 0 {
				s.add(lp+"mlp.shared_expert_gate.weight", sparse, 1, H)
			}
		}
	}
}

// deepseek covers DeepSeek-V2/V3 (multi-head latent attention, MoE after
// first_k_dense_replace dense layers, fused shared experts).
//
// Attention per layer: q_a_proj [q_lora_rank, H], q_a_layernorm and q_b_proj
// [heads×(nope+rope), q_lora_rank] when q_lora_rank > 0, else q_proj
// [heads×(nope+rope), H]; kv_a_proj_with_mqa [kv_lora_rank+rope, H],
// kv_a_layernorm [kv_lora_rank], kv_b_proj [heads×(nope+v), kv_lora_rank],
// o_proj [H, heads×v]. MoE layers: mlp.gate [experts, H] (V3 adds an F32
// e_score_correction_bias [experts]), routed experts and shared_experts of
// width n_shared_experts × moe_intermediate_size.
func (s *synth) deepseek() {
	m := s.m
	L, H, nh := m.Layers, m.Hidden, m.Heads
	nope, rope, vd := m.QKNopeHeadDim, m.QKRopeHeadDim, m.VHeadDim
	if nope+rope == 0 {
		nope = m.HeadSize()
	}
	if vd == 0 {
		vd = m.HeadSize()
	}
	qk := nope + rope
	lp := "model.layers.*."

	s.add("model.embed_tokens.weight", 1, m.Vocab, H)
	if m.QLoraRank > 0 {
		s.linear(lp+"self_attn.q_a_proj", L, m.QLoraRank, H, true)
		s.add(lp+"self_attn.q_a_layernorm.weight", L, m.QLoraRank)
		s.linear(lp+"self_attn.q_b_proj", L, nh*qk, m.QLoraRank, true)
	} else {
		s.linear(lp+"self_attn.q_proj", L, nh*qk, H, true)
	}
	if m.KVLoraRank > 0 {
		s.linear(lp+"self_attn.kv_a_proj_with_mqa", L, m.KVLoraRank+rope, H, true)
		s.add(lp+"self_attn.kv_a_layernorm.weight", L, m.KVLoraRank)
		s.linear(lp+"self_attn.kv_b_proj", L, nh*(nope+vd), m.KVLoraRank, true)
	} else {
		kv := m.KVHeadCount()
		s.linear(lp+"self_attn.k_proj", L, kv*qk, H, true)
		s.linear(lp+"self_attn.v_proj", L, kv*vd, H, true)
	}
	s.linear(lp+"self_attn.o_proj", L, H, nh*vd, true)
	s.add(lp+"input_layernorm.weight", L, H)
	s.add(lp+"post_attention_layernorm.weight", L, H)

	dense := L
	if m.IsMoE() {
		dense = min(max(m.DenseLayers, 0), L)
	}
	sparse := L - dense
	if dense > 0 {
		I := m.Intermediate
		s.linear(lp+"mlp.gate_proj", dense, I, H, true)
		s.linear(lp+"mlp.up_proj", dense, I, H, true)
		s.linear(lp+"mlp.down_proj", dense, H, I, true)
	}
	if sparse > 0 {
		E := m.Experts
		s.add(lp+"mlp.gate.weight", sparse, E, H)
		if m.Type == "deepseek_v3" {
			s.addT(lp+"mlp.gate.e_score_correction_bias", F32, sparse, E)
		}
		s.routedExperts(lp, "mlp.shared_experts", sparse)
	}
	s.embedAndHead("model.", "lm_head.weight", false)
}

// gptOSS covers gpt-oss: attention with biases and per-head sinks, a router
// with bias, and experts stored fused per layer (gate_up_proj [E, H, 2I] and
// down_proj [E, I, H], each with a bias), or as MXFP4 blocks and scales when
// QuantMethod is "mxfp4" (gate_up_proj_blocks [E, 2I, H/32, 16], down_proj
// blocks [E, H, I/32, 16]).
func (s *synth) gptOSS() {
	m := s.m
	L, H, nh, kv, hd := m.Layers, m.Hidden, m.Heads, m.KVHeadCount(), m.HeadSize()
	E, I := m.Experts, m.ExpertWidth()
	lp := "model.layers.*."

	s.add("model.embed_tokens.weight", 1, m.Vocab, H)
	for _, pr := range []struct {
		name    string
		out, in int
	}{
		{"q_proj", nh * hd, H}, {"k_proj", kv * hd, H}, {"v_proj", kv * hd, H}, {"o_proj", H, nh * hd},
	} {
		s.add(lp+"self_attn."+pr.name+".weight", L, pr.out, pr.in)
		s.add(lp+"self_attn."+pr.name+".bias", L, pr.out)
	}
	s.add(lp+"self_attn.sinks", L, nh)
	s.add(lp+"input_layernorm.weight", L, H)
	s.add(lp+"post_attention_layernorm.weight", L, H)
	s.add(lp+"mlp.router.weight", L, E, H)
	s.add(lp+"mlp.router.bias", L, E)
	ep := lp + "mlp.experts."
	if m.QuantMethod == "mxfp4" {
		s.addT(ep+"gate_up_proj_blocks", U8, L, E, 2*I, synthCeilDiv(H, mxfp4Block), mxfp4Block/2)
		s.addT(ep+"gate_up_proj_scales", U8, L, E, 2*I, synthCeilDiv(H, mxfp4Block))
		s.addT(ep+"down_proj_blocks", U8, L, E, H, synthCeilDiv(I, mxfp4Block), mxfp4Block/2)
		s.addT(ep+"down_proj_scales", U8, L, E, H, synthCeilDiv(I, mxfp4Block))
	} else {
		s.add(ep+"gate_up_proj", L, E, H, 2*I)
		s.add(ep+"down_proj", L, E, I, H)
	}
	s.add(ep+"gate_up_proj_bias", L, E, 2*I)
	s.add(ep+"down_proj_bias", L, E, H)
	s.embedAndHead("model.", "lm_head.weight", false)
}

// phi covers phi-1/1.5/2 (PhiForCausalLM): q/k/v with biases, dense output
// projection, fc1/fc2 MLP with biases, one LayerNorm (weight and bias) per
// layer, final_layernorm and an lm_head with bias.
func (s *synth) phi() {
	m := s.m
	L, H, nh, kv, hd, I := m.Layers, m.Hidden, m.Heads, m.KVHeadCount(), m.HeadSize(), m.Intermediate
	lp := "model.layers.*."

	s.add("model.embed_tokens.weight", 1, m.Vocab, H)
	for _, pr := range []struct {
		name    string
		out, in int
	}{
		{"self_attn.q_proj", nh * hd, H}, {"self_attn.k_proj", kv * hd, H}, {"self_attn.v_proj", kv * hd, H},
		{"self_attn.dense", H, nh * hd}, {"mlp.fc1", I, H}, {"mlp.fc2", H, I},
	} {
		s.add(lp+pr.name+".weight", L, pr.out, pr.in)
		s.add(lp+pr.name+".bias", L, pr.out)
	}
	s.add(lp+"input_layernorm.weight", L, H)
	s.add(lp+"input_layernorm.bias", L, H)
	s.add("model.final_layernorm.weight", 1, H)
	s.add("model.final_layernorm.bias", 1, H)
	if !m.TieWordEmbeddings {
		s.add("lm_head.weight", 1, m.Vocab, H)
		s.add("lm_head.bias", 1, m.Vocab)
	}
}

// opt covers OPT: learned positions with an offset of 2 rows
// (embed_positions [max_position_embeddings+2, H]), q/k/v/out_proj, fc1/fc2
// and LayerNorms, all with biases, and project_in/project_out when the word
// embedding width embedDim differs from the hidden size (opt-350m). The model
// facts carry no word_embed_proj_dim, so SynthesizeTensors passes Hidden.
func (s *synth) opt(embedDim int) {
	m := s.m
	L, H, F := m.Layers, m.Hidden, m.Intermediate
	if F == 0 {
		F = 4 * H
	}
	pos := m.MaxPositions
	if pos == 0 {
		pos = 2048 // OPTConfig default
	}
	dp := "model.decoder."
	lp := dp + "layers.*."

	s.add(dp+"embed_tokens.weight", 1, m.Vocab, embedDim)
	s.add(dp+"embed_positions.weight", 1, pos+2, H)
	if embedDim != H {
		s.add(dp+"project_in.weight", 1, H, embedDim)
		s.add(dp+"project_out.weight", 1, embedDim, H)
	}
	for _, pr := range []struct {
		name    string
		out, in int
	}{
		{"self_attn.q_proj", H, H}, {"self_attn.k_proj", H, H}, {"self_attn.v_proj", H, H},
		{"self_attn.out_proj", H, H}, {"fc1", F, H}, {"fc2", H, F},
	} {
		s.add(lp+pr.name+".weight", L, pr.out, pr.in)
		s.add(lp+pr.name+".bias", L, pr.out)
	}
	for _, n := range []string{"self_attn_layer_norm", "final_layer_norm"} {
		s.add(lp+n+".weight", L, H)
		s.add(lp+n+".bias", L, H)
	}
	s.add(dp+"final_layer_norm.weight", 1, H)
	s.add(dp+"final_layer_norm.bias", 1, H)
	if !m.TieWordEmbeddings {
		s.add("lm_head.weight", 1, m.Vocab, embedDim)
	}
}
