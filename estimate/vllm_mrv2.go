package estimate

import (
	"fmt"
	"strconv"
	"strings"
)

// vLLM's Model Runner V2 (MRv2, vllm/v1/worker/gpu/), the default runner
// for more models release by release from v0.22 and for every model from
// v0.29 (docs/VLLM-MRV2.md). Its profile differs from V1's runner in three
// terms: the dummy sampler never runs top-k/top-p, no CUDA-graph memory is
// reserved before v0.29, and no multimodal encoder is profiled before
// v0.26. From v0.26 the budget also charges its int32 penalty counts
// [max_num_seqs, vocab].

// Releases where MRv2's sizing changes (docs/VLLM-MRV2.md §0).
var (
	// vllmMRv2From: Qwen3 dense models first (PR #39337).
	vllmMRv2From = Version{0, 22, 0}
	// vllmMRv2Quantized: quantized models and the first MoE whitelist
	// (PR #44446, PR #42667, PR #45461).
	vllmMRv2Quantized = Version{0, 24, 0}
	// vllmMRv2Dense: every dense model (PR #44443).
	vllmMRv2Dense = Version{0, 25, 0}
	// vllmMRv2Lean: the dummy sampler keeps the logits in the model's
	// dtype (PR #47711), the encoder is profiled (PR #47985) and the
	// budget counts what left the free memory, the penalty counts included
	// (PR #49208).
	vllmMRv2Lean = Version{0, 26, 0}
	// vllmMRv2All: every model (PR #53183) and a CUDA-graph estimate of
	// MRv1's shape (PR #53306).
	vllmMRv2All = Version{0, 29, 0}
)

// mrv2Whitelist is the MoE (and from v0.25 the only) architectures MRv2
// takes by default, by model_type, with the release each joined
// (docs/VLLM-MRV2.md §3): v0.22 Qwen3, v0.23 Llama and Mistral (dense
// only until v0.25 made every dense model MRv2's), v0.24 DeepseekV2,
// Qwen2Moe and GraniteMoe, v0.28 DeepSeek-V4 (PR #51768; not pinned
// nearer). The v0.26 – v0.27 additions (Inkling, LongcatFlashNgram,
// KimiK3) have no model_type vramcalc knows.
var mrv2Whitelist = map[string]Version{
	"qwen3": {0, 22, 0}, "llama": {0, 23, 0}, "mistral": {0, 23, 0},
	"deepseek_v2": {0, 24, 0}, "qwen2_moe": {0, 24, 0}, "granitemoe": {0, 24, 0},
	"deepseek_v4": {0, 28, 0},
}

// mrv2Choice says whether a start runs on MRv2 and why, as
// VllmConfig.use_v2_model_runner decides (docs/VLLM-MRV2.md §3):
// VLLM_USE_V2_MODEL_RUNNER (Settings.ModelRunner) wins; speculative
// methods MRv2 lacks (n-grams, a separate draft model) keep MRv1; then the
// release's rule.
func mrv2Choice(m *Model, s *Settings, v Version) (bool, string) {
	switch {
	case s.ModelRunner == "v2":
		return true, "VLLM_USE_V2_MODEL_RUNNER=1"
	case s.ModelRunner == "v1":
		return false, "VLLM_USE_V2_MODEL_RUNNER=0"
	case v.Less(vllmMRv2From):
		return false, ""
	case s.Spec.Method == "ngram" || s.Spec.Method == "draft_model":
		return false, "speculative method " + s.Spec.Method + " is not supported by Model Runner V2"
	case !v.Less(vllmMRv2All):
		return true, "Model Runner V2 is the default for every model from v0.29"
	}
	from, listed := mrv2Whitelist[m.Type]
	listed = listed && !v.Less(from)
	quantized := m.QuantMethod != "" || s.Quantize != ""
	switch {
	case v.Less(vllmMRv2Dense):
		dense := !m.IsMoE() || (listed && !v.Less(vllmMRv2Quantized))
		if listed && dense && (!quantized || !v.Less(vllmMRv2Quantized)) {
			return true, "model_type " + m.Type + " is on this release's Model Runner V2 list"
		}
		return false, "model_type " + m.Type + " is not on this release's Model Runner V2 list"
	case m.StateLayers || attentionFree(m):
		return false, "hybrid and attention-free models keep Model Runner V1 before v0.29"
	case listed || !m.IsMoE():
		return true, "Model Runner V2 is the default for dense models from v0.25"
	}
	return false, "MoE models off Model Runner V2's list keep V1 before v0.29"
}

// attentionFree reports a model whose every cache module is a state layer.
func attentionFree(m *Model) bool {
	if len(m.Kinds) == 0 {
		return false
	}
	for _, k := range m.Kinds {
		if !k.IsState() {
			return false
		}
	}
	return true
}

// setupMRv2 applies MRv2's profile to the run when the release picks it.
func (r *vllmRun) setupMRv2() {
	if !r.prof.v1 {
		return
	}
	on, why := mrv2Choice(&r.m, &r.s, r.prof.v)
	if !on {
		if why != "" && !r.quiet {
			r.note("vLLM " + r.prof.v.String() + " runs this start on Model Runner V1 (" + why + "), whose profile is sized with v0.21's terms")
		}
		return
	}
	r.mrv2 = true
	v := r.prof.v
	// The dummy sampler computes the logits and, before v0.26, always
	// copies them to fp32; it never runs top-k/top-p
	// (docs/VLLM-MRV2.md §1 [A3], [A4]).
	r.prof.sampler = samplerMRv2Copy
	if !v.Less(vllmMRv2Lean) {
		r.prof.sampler = samplerNone
	}
	// profile_cudagraph_memory returns 0 before v0.29 (§2 [B1]–[B3]).
	r.prof.graphsInBudget = r.prof.graphsInBudget && !v.Less(vllmMRv2All)
	if r.quiet {
		return // a boundary search's run: no note
	}
	var b strings.Builder
	b.WriteString("vLLM " + v.String() + " runs this start on Model Runner V2 (" + why + "; VLLM_USE_V2_MODEL_RUNNER=0 or --model-runner v1 turns it off): its profile's sampler computes the logits")
	if v.Less(vllmMRv2Lean) {
		b.WriteString(" and an fp32 copy")
	}
	b.WriteString(" without top-k/top-p")
	if r.s.Sampler != "" {
		b.WriteString(" (so --sampler " + r.s.Sampler + " does not change it)")
	}
	if v.Less(vllmMRv2All) && !r.s.EnforceEager {
		b.WriteString("; no CUDA-graph memory is reserved, so capturing the graphs after the KV cache takes " + r.graphs.String() + " (derived) beyond --gpu-memory-utilization")
	}
	if r.m.Vision && v.Less(vllmMRv2Lean) {
		b.WriteString("; the multimodal encoder is not profiled, so its first large image runs outside the budget")
	}
	if v.Less(vllmMRv2Lean) {
		b.WriteString("; its penalty counts (" + r.mrv2Penalties(r.seqsAt(r.mnbt)).String() + ") are allocated outside the budget")
	}
	if !r.s.EnforceEager {
		// testdata/startup_reports_dev.csv rows 404 and 405: the same
		// worker, 1.18 GiB of profile peak compiling, 0.19 GiB with the cache.
		b.WriteString("; a start that compiles the model (no torch.compile cache under VLLM_CACHE_ROOT) has peaked about 1 GiB higher in the profile than one with the cache, which is sized here: expect up to that much less KV on a first start")
	}
	if v.AtLeast(0, 30, 0) {
		// docs/VLLM-MRV2.md appendix §0: v0.31's budget matches a real
		// start (testdata/startup_reports_dev.csv row 321); v0.30 and
		// v0.32 are not confirmed.
		b.WriteString("; v0.29's terms are used for v0.30 and later (v0.31's budget checked against a real start, v0.30's and v0.32's not)")
	}
	r.note(b.String() + " (docs/VLLM-MRV2.md)")
}

// mrv2Penalties is MRv2's penalty state for seqs requests: int32
// output_bin_counts [seqs, vocab] and prompt_bin_mask [seqs, ⌈vocab/32⌉]
// (docs/VLLM-MRV2.md §1 [A6]).
func (r *vllmRun) mrv2Penalties(seqs int) Bytes {
	v := int64(r.m.Vocab)
	return Bytes(4 * int64(seqs) * (v + (v+31)/32))
}

// mrv2Charged is what MRv2 adds to the budget's charges for n batched
// tokens: the penalty counts and a multimodal model's input embeddings,
// counted from v0.26 (PR #49208 measures what
// left the free memory, §1 [D2]).
func (r *vllmRun) mrv2Charged(n int) Bytes {
	if !r.mrv2 || r.prof.v.Less(vllmMRv2Lean) {
		return 0
	}
	b := r.mrv2Penalties(r.seqsAt(n))
	if r.m.Vision {
		// EncoderRunner's inputs_embeds [max_num_batched_tokens, hidden]
		// (docs/VLLM-ENCODER.md §1.6).
		b += Bytes(int64(n) * int64(r.m.Hidden) * r.elt)
	}
	return b
}

// mrv2NoEncoder reports MRv2 before v0.26, whose profile runs no
// multimodal encoder (§1 [A1]).
func (r *vllmRun) mrv2NoEncoder() bool { return r.mrv2 && r.prof.v.Less(vllmMRv2Lean) }

// ParseModelRunner reads vLLM's runner choice: "v1", "v2" (as
// VLLM_USE_V2_MODEL_RUNNER=0/1 chooses) or "" / "auto" for the release's
// rule.
func ParseModelRunner(s string) (string, error) {
	switch t := strings.ToLower(strings.TrimSpace(s)); t {
	case "", "auto":
		return "", nil
	case "v1", "v2":
		return t, nil
	case "0", "1":
		return "v" + strconv.Itoa(int(t[0]-'0')+1), nil
	}
	return "", fmt.Errorf("%w: model runner %q (want v1, v2 or auto)", ErrInvalid, s)
}
