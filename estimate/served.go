package estimate

import "fmt"

// Which releases serve a model at all. An engine release without a model's
// architecture does not start it: SGLang and vLLM fall back to their
// Transformers backends (sized nowhere here, and refusing hybrid models
// outright), TGI to transformers' CausalLM. vramcalc refuses those
// estimates with the release that serves the model instead of sizing a
// start that cannot happen.

// servedEntry is one model_type: the architecture config.json names and the
// first SGLang and vLLM releases whose model registry implements it (the
// zero Version: not checked; neverServed: no release through the newest
// one modelled), and the first vLLM release without it (zero: none).
type servedEntry struct {
	arch         string
	sglang, vllm Version
	vllmUntil    Version
}

// neverServed marks an engine with no implementation in any release
// vramcalc models.
var neverServed = Version{1 << 20, 0, 0}

// servedFrom holds the model types of 2025–26 families. SGLang's first
// release is the first tag whose python/sglang/srt/models defines the
// class in an EntryClass (the registry that answers "Model architectures
// … are not supported for now",
// https://github.com/sgl-project/sglang/blob/v0.5.18/python/sglang/srt/models/registry.py#L51),
// e.g. Qwen3.5 at https://github.com/sgl-project/sglang/blob/v0.5.9/python/sglang/srt/models/qwen3_5.py#L1345,
// Granite-4.0-H at https://github.com/sgl-project/sglang/blob/v0.5.9/python/sglang/srt/models/granitemoehybrid.py#L737,
// Falcon-H1 at https://github.com/sgl-project/sglang/blob/v0.5.3/python/sglang/srt/models/falcon_h1.py#L576,
// NemotronH at https://github.com/sgl-project/sglang/blob/v0.5.4/python/sglang/srt/models/nemotron_h.py#L511,
// Kimi-Linear at https://github.com/sgl-project/sglang/blob/v0.5.5/python/sglang/srt/models/kimi_linear.py#L678,
// Qwen3-Next at https://github.com/sgl-project/sglang/blob/v0.5.2/python/sglang/srt/models/qwen3_next.py#L1039;
// vLLM's is the first tag whose vllm/model_executor/models/registry.py maps
// it, e.g. Qwen3.5 at https://github.com/vllm-project/vllm/blob/v0.17.0/vllm/model_executor/models/registry.py#L496,
// Gemma 4 at https://github.com/vllm-project/vllm/blob/v0.19.0/vllm/model_executor/models/registry.py#L385,
// NemotronH at https://github.com/vllm-project/vllm/blob/v0.9.1/vllm/model_executor/models/registry.py#L95;
// Bamba left with MiniMax after v0.23 (PR #45990, docs/SERVED-RELEASES.md).
// The rest are listed with their files and commits in
// docs/SERVED-RELEASES.md. No SGLang release through v0.5.18 has Jamba or
// Bamba, and its Transformers fallback stops at a model its backend is not
// compatible with
// (https://github.com/sgl-project/sglang/blob/v0.5.18/python/sglang/srt/model_loader/utils.py#L180-L187).
var servedFrom = map[string]servedEntry{
	"qwen3":            {arch: "Qwen3ForCausalLM", sglang: Version{0, 4, 6}, vllm: Version{0, 8, 4}},
	"qwen3_moe":        {arch: "Qwen3MoeForCausalLM", sglang: Version{0, 4, 6}, vllm: Version{0, 8, 4}},
	"qwen3_next":       {arch: "Qwen3NextForCausalLM", sglang: Version{0, 5, 2}, vllm: Version{0, 10, 2}},
	"qwen3_5":          {arch: "Qwen3_5ForConditionalGeneration", sglang: Version{0, 5, 9}, vllm: Version{0, 17, 0}},
	"qwen3_5_moe":      {arch: "Qwen3_5MoeForConditionalGeneration", sglang: Version{0, 5, 9}, vllm: Version{0, 17, 0}},
	"qwen3_vl":         {arch: "Qwen3VLForConditionalGeneration", sglang: Version{0, 5, 3}, vllm: Version{0, 11, 0}},
	"qwen3_vl_moe":     {arch: "Qwen3VLMoeForConditionalGeneration", sglang: Version{0, 5, 3}, vllm: Version{0, 11, 0}},
	"qwen2_5_vl":       {arch: "Qwen2_5_VLForConditionalGeneration", sglang: Version{0, 4, 4}, vllm: Version{0, 7, 2}},
	"llama4":           {arch: "Llama4ForConditionalGeneration", sglang: Version{0, 4, 5}, vllm: Version{0, 8, 3}},
	"gemma3":           {arch: "Gemma3ForConditionalGeneration", sglang: Version{0, 4, 5}, vllm: Version{0, 8, 0}},
	"gemma3_text":      {arch: "Gemma3ForCausalLM", sglang: Version{0, 4, 5}, vllm: Version{0, 8, 0}},
	"gemma3n":          {arch: "Gemma3nForConditionalGeneration", sglang: Version{0, 4, 9}, vllm: Version{0, 9, 2}},
	"gemma4":           {arch: "Gemma4ForConditionalGeneration", sglang: Version{0, 5, 11}, vllm: Version{0, 19, 0}},
	"deepseek_v32":     {arch: "DeepseekV32ForCausalLM", sglang: Version{0, 5, 3}, vllm: Version{0, 11, 0}},
	"deepseek_v4":      {arch: "DeepseekV4ForCausalLM", sglang: Version{0, 5, 12}, vllm: Version{0, 20, 0}},
	"kimi_k2":          {arch: "DeepseekV3ForCausalLM", sglang: Version{0, 4, 1}},
	"gpt_oss":          {arch: "GptOssForCausalLM", sglang: Version{0, 5, 1}, vllm: Version{0, 10, 1}},
	"glm4_moe":         {arch: "Glm4MoeForCausalLM", sglang: Version{0, 4, 10}, vllm: Version{0, 10, 0}},
	"minimax_m2":       {arch: "MiniMaxM2ForCausalLM", sglang: Version{0, 5, 5}, vllm: Version{0, 11, 1}},
	"kimi_linear":      {arch: "KimiLinearForCausalLM", sglang: Version{0, 5, 5}, vllm: Version{0, 11, 1}},
	"nemotron_h":       {arch: "NemotronHForCausalLM", sglang: Version{0, 5, 4}, vllm: Version{0, 9, 1}},
	"granitemoehybrid": {arch: "GraniteMoeHybridForCausalLM", sglang: Version{0, 5, 9}, vllm: Version{0, 9, 0}},
	"falcon_h1":        {arch: "FalconH1ForCausalLM", sglang: Version{0, 5, 3}, vllm: Version{0, 9, 0}},
	"jamba":            {arch: "JambaForCausalLM", sglang: neverServed, vllm: Version{0, 5, 1}},
	"bamba":            {arch: "BambaForCausalLM", sglang: neverServed, vllm: Version{0, 7, 3}, vllmUntil: Version{0, 24, 0}},
	"mistral3":         {arch: "Mistral3ForConditionalGeneration", sglang: Version{0, 4, 7}, vllm: Version{0, 8, 3}},
	"phi4mm":           {arch: "Phi4MMForCausalLM", sglang: Version{0, 4, 7}, vllm: Version{0, 8, 0}},
	// vLLM maps MiniMax-Text-01 and MiniMax-M1 from v0.8.3 and v0.9.2
	// (https://github.com/vllm-project/vllm/blob/v0.8.3/vllm/model_executor/models/registry.py#L38,
	// https://github.com/vllm-project/vllm/blob/v0.9.2/vllm/model_executor/models/registry.py#L39)
	// until PR #45993 removed them after v0.23 (docs/VLLM-HYBRID.md §11); no
	// SGLang release has them (docs/SGLANG-2026.md §9).
	"minimax_text_01": {arch: "MiniMaxText01ForCausalLM", sglang: neverServed, vllm: Version{0, 8, 3}, vllmUntil: Version{0, 24, 0}},
	"minimax_m1":      {arch: "MiniMaxM1ForCausalLM", sglang: neverServed, vllm: Version{0, 9, 2}, vllmUntil: Version{0, 24, 0}},
}

// checkServed refuses a model the engine's release does not implement: a
// model type of servedFrom outside its releases (or with none), and
// NemotronH MoE models (Nemotron-3-Nano) on SGLang before v0.5.6. TGI
// refuses the state models it lacks itself (tgiServes).
func checkServed(m Model, engine, ver string) error {
	if engine == "tgi" {
		return nil // TGI's own refusal is tgiServes
	}
	e, listed := servedFrom[m.Type]
	if !listed {
		return nil // before parsing the version: Run's hot path
	}
	v, err := ParseVersion(ver)
	if err != nil {
		return nil // the sizer reports it
	}
	if err := e.check(m, engine, v); err != nil {
		return err
	}
	if m.Type == "nemotron_h" && m.IsMoE() && engine == "sglang" && v.Less(Version{0, 5, 6}) {
		// SGLang's NemotronHMoE arrived in v0.5.6: v0.5.5's nemotron_h.py
		// has no expert layers
		// (https://github.com/sgl-project/sglang/blob/v0.5.6/python/sglang/srt/models/nemotron_h.py#L121-L139).
		return &NotServedError{Why: fmt.Sprintf("SGLang %s's nemotron_h has no MoE layers (Nemotron-3-Nano and other NemotronH MoE models need v0.5.6)", v),
			Hint: "use --engine-version 0.5.6 or later, or --engine vllm"}
	}
	return nil
}

// Served returns a *NotServedError (ErrNotServed) when the engine release
// has no implementation of the model, as Run would, without sizing
// anything: a plan checks it once instead of failing every set-up.
func Served(m Model, eng Engine) error {
	z, err := sizerFor(eng.Name)
	if err != nil {
		return err
	}
	ver := eng.Version
	if ver == "" {
		ver = z.info().DefaultVersion
	}
	if err := checkServed(m, eng.Name, ver); err != nil {
		return err
	}
	if v, err := ParseVersion(ver); err == nil && eng.Name == "tgi" {
		return tgiServes(m, v)
	}
	return nil
}

// check refuses an engine release before the entry's first one or from its
// last.
func (e servedEntry) check(m Model, engine string, v Version) error {
	first, title := e.sglang, "SGLang"
	if engine == "vllm" {
		first, title = e.vllm, "vLLM"
		if e.vllmUntil != (Version{}) && !v.Less(e.vllmUntil) {
			return &NotServedError{
				Why:  fmt.Sprintf("vLLM %s no longer has %s (model_type %q): it was removed in v%s", v, e.arch, m.Type, e.vllmUntil),
				Hint: "use --engine-version " + e.lastVLLM() + " or older"}
		}
	}
	if engine == "tgi" || first == (Version{}) || !v.Less(first) {
		return nil
	}
	if first == neverServed {
		return &NotServedError{
			Why:  fmt.Sprintf("no %s release vramcalc models implements %s (model_type %q); its Transformers fallback does not keep this model's state in the pools vramcalc sizes", title, e.arch, m.Type),
			Hint: e.otherEngines(engine)}
	}
	hint := fmt.Sprintf("use --engine-version %s or later", first)
	if engine == "vllm" && e.vllmUntil != (Version{}) {
		hint = fmt.Sprintf("use --engine-version %s to %s", first, e.lastVLLM())
	}
	return &NotServedError{
		Why:  fmt.Sprintf("%s %s has no implementation of %s (model_type %q): it arrived in v%s", title, v, e.arch, m.Type, first),
		Hint: hint}
}

// lastVLLM is the last vLLM series with the model ("0.23" when vllmUntil
// is v0.24.0).
func (e servedEntry) lastVLLM() string {
	return fmt.Sprintf("%d.%d", e.vllmUntil.Major, e.vllmUntil.Minor-1)
}

// otherEngines names the engines that serve the entry's model.
func (e servedEntry) otherEngines(not string) string {
	switch {
	case not != "vllm" && e.vllmUntil != (Version{}):
		return "use --engine vllm with --engine-version " + e.lastVLLM() + " or older, the last vLLM releases that serve it"
	case not != "vllm" && e.vllm != neverServed && not != "sglang" && e.sglang != neverServed:
		return "use --engine vllm or --engine sglang, which serve it"
	case not != "vllm" && e.vllm != neverServed:
		return "use --engine vllm, which serves it"
	case not != "sglang" && e.sglang != neverServed:
		return "use --engine sglang, which serves it"
	}
	return "no engine vramcalc models serves it"
}

// servedHint names the engines that serve a model type TGI does not, for
// TGI's refusal of state models.
func servedHint(modelType string) string {
	if e, ok := servedFrom[modelType]; ok {
		return e.otherEngines("tgi")
	}
	return "use --engine vllm or --engine sglang, which serve it"
}
