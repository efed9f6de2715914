package estimate

import (
	"errors"
	"strings"
	"testing"
)

// TestCheckServed: a release without the model's architecture refuses with
// the first release that has it (SGLang's EntryClass at each tag,
// served.go), a model no release of an engine has names the engines that
// serve it, and model types the table does not list are never refused.
func TestCheckServed(t *testing.T) {
	cases := []struct {
		typ, engine, ver string
		moe              bool
		why, hint        string // "" why: served
	}{
		{"qwen3_5", "sglang", "0.5.5", false, `SGLang 0.5.5 has no implementation of Qwen3_5ForConditionalGeneration (model_type "qwen3_5"): it arrived in v0.5.9`, "use --engine-version 0.5.9 or later"},
		{"qwen3_5", "sglang", "0.5.9", false, "", ""},
		{"qwen3_5", "sglang", "0.5.x", false, "", ""},
		{"granitemoehybrid", "sglang", "0.5.8", false, "it arrived in v0.5.9", "use --engine-version 0.5.9 or later"},
		{"gemma4", "sglang", "0.5.10", false, "it arrived in v0.5.11", "use --engine-version 0.5.11 or later"},
		{"qwen3_next", "sglang", "0.5.1", false, "it arrived in v0.5.2", "use --engine-version 0.5.2 or later"},
		{"jamba", "sglang", "0.5.18", false, "no SGLang release vramcalc models implements JambaForCausalLM", "use --engine vllm, which serves it"},
		{"jamba", "vllm", "0.19.0", false, "", ""},
		{"jamba", "tgi", "3.3.7", false, "", ""}, // tgi.go refuses state models itself
		{"nemotron_h", "sglang", "0.5.3", false, "it arrived in v0.5.4", "use --engine-version 0.5.4 or later"},
		{"nemotron_h", "sglang", "0.5.5", false, "", ""},
		{"nemotron_h", "sglang", "0.5.5", true, "nemotron_h has no MoE layers", "use --engine-version 0.5.6 or later, or --engine vllm"},
		{"minimax_m1", "vllm", "0.24.0", false, "vLLM 0.24.0 no longer has MiniMaxM1ForCausalLM", "use --engine-version 0.23 or older"},
		{"minimax_text_01", "sglang", "0.5.18", false, "no SGLang release vramcalc models implements MiniMaxText01ForCausalLM", "use --engine vllm with --engine-version 0.23 or older, the last vLLM releases that serve it"},
		{"minimax_m1", "vllm", "0.23.0", false, "", ""},
		{"llama", "sglang", "0.1.0", false, "", ""},
		{"qwen3_5", "vllm", "0.16.0", false, "vLLM 0.16.0 has no implementation of Qwen3_5ForConditionalGeneration", "use --engine-version 0.17.0 or later"},
		{"qwen3_5", "vllm", "0.17.0", false, "", ""},
		{"gemma4", "vllm", "0.18.1", false, "it arrived in v0.19.0", "use --engine-version 0.19.0 or later"},
		{"nemotron_h", "vllm", "0.9.0", false, "it arrived in v0.9.1", "use --engine-version 0.9.1 or later"},
		{"bamba", "vllm", "0.23.0", false, "", ""},
		{"bamba", "vllm", "0.24.0", false, "it was removed in v0.24.0", "use --engine-version 0.23 or older"},
		{"minimax_m1", "vllm", "0.9.1", false, "it arrived in v0.9.2", "use --engine-version 0.9.2 to 0.23"},
		{"kimi_k2", "vllm", "0.2.0", false, "", ""}, // DeepseekV3ForCausalLM: not checked on vLLM
	}
	for _, c := range cases {
		m := Model{Type: c.typ}
		if c.moe {
			m.Experts, m.ExpertsPerToken = 128, 6
		}
		err := checkServed(m, c.engine, c.ver)
		var ns *NotServedError
		switch {
		case c.why == "" && err != nil:
			t.Errorf("%s on %s %s: %v, want served", c.typ, c.engine, c.ver, err)
		case c.why != "" && (!errors.As(err, &ns) || !errors.Is(err, ErrNotServed)):
			t.Errorf("%s on %s %s: %v, want a NotServedError", c.typ, c.engine, c.ver, err)
		case c.why != "" && (!strings.Contains(ns.Why, c.why) || ns.Hint != c.hint):
			t.Errorf("%s on %s %s: why %q hint %q, want %q and %q", c.typ, c.engine, c.ver, ns.Why, ns.Hint, c.why, c.hint)
		}
	}
	if got := servedHint("jamba"); got != "use --engine vllm, which serves it" {
		t.Errorf("TGI's hint for jamba = %q", got)
	}
	if got := servedHint("bamba"); got != "use --engine vllm with --engine-version 0.23 or older, the last vLLM releases that serve it" {
		t.Errorf("TGI's hint for bamba = %q", got)
	}
	if got := servedHint("qwen3_next"); got != "use --engine vllm or --engine sglang, which serve it" {
		t.Errorf("TGI's hint for qwen3_next = %q", got)
	}
}
