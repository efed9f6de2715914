package calccmd

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/urfave/cli/v3"

	"github.com/vramcalc/vramcalc/estimate"
	"github.com/vramcalc/vramcalc/hfmeta"
	"github.com/vramcalc/vramcalc/internal/cmdutil"
)

// Speculative decoding flags: vLLM's --speculative-config and SGLang's
// --speculative-* (docs/SPECULATIVE.md).

func vllmSpecFlag() cli.Flag {
	return &cli.StringFlag{Name: "speculative-config", Usage: `vLLM --speculative-config as JSON: '{"method": "mtp", "num_speculative_tokens": 2}' (the checkpoint's MTP layers), '{"method": "eagle3", "model": "DRAFT", "num_speculative_tokens": 3}', '{"method": "ngram", "num_speculative_tokens": 4}'; methods mtp (and its aliases deepseek_mtp, qwen3_next_mtp, …), eagle, eagle3, draft_model, ngram`, Category: "vLLM"}
}

func sglangSpecFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "speculative-algorithm", Usage: "SGLang --speculative-algorithm: NEXTN (the checkpoint's MTP layers), EAGLE, EAGLE3, STANDALONE or NGRAM", Category: "SGLang"},
		&cli.StringFlag{Name: "speculative-draft-model-path", Usage: "SGLang --speculative-draft-model-path: the draft MODEL (EAGLE, EAGLE3, STANDALONE); the target's own path for an MTP draft makes SGLang ≥ 0.5.14 budget the draft's KV", Category: "SGLang"},
		&cli.IntFlag{Name: "speculative-num-steps", HideDefault: true, Usage: "SGLang --speculative-num-steps; default: SGLang's for the model", Category: "SGLang"},
		&cli.IntFlag{Name: "speculative-eagle-topk", HideDefault: true, Usage: "SGLang --speculative-eagle-topk; default: SGLang's for the model", Category: "SGLang"},
		&cli.IntFlag{Name: "speculative-num-draft-tokens", HideDefault: true, Usage: "SGLang --speculative-num-draft-tokens; default: SGLang's for the model", Category: "SGLang"},
	}
}

// specRequest is the speculative decoding the flags ask for, with the
// draft model still to resolve.
type specRequest struct {
	spec  estimate.Speculative
	draft string // the draft MODEL reference, "" for none
}

// specFrom reads the engine's speculative flags; model is the target's reference.
func specFrom(set map[string]any, model string) (specRequest, error) {
	str := func(name string) string { v, _ := set[name].(string); return v }
	i := func(name string) int { v, _ := set[name].(int); return v }
	if v := str("speculative-config"); v != "" {
		return vllmSpec(v, model)
	}
	algo := strings.ToUpper(strings.TrimSpace(str("speculative-algorithm")))
	path := str("speculative-draft-model-path")
	if algo == "" {
		for _, f := range []string{"speculative-draft-model-path", "speculative-num-steps", "speculative-eagle-topk", "speculative-num-draft-tokens"} {
			if _, ok := set[f]; ok {
				return specRequest{}, cmdutil.Usage("add --speculative-algorithm NEXTN, EAGLE, EAGLE3, STANDALONE or NGRAM", "--%s needs --speculative-algorithm", f)
			}
		}
		return specRequest{}, nil
	}
	req := specRequest{spec: estimate.Speculative{Tokens: i("speculative-num-draft-tokens"), Steps: i("speculative-num-steps"), TopK: i("speculative-eagle-topk")}}
	if _, steps := set["speculative-num-steps"]; !steps && algo != "NGRAM" {
		// SGLang chooses steps, top-k and draft tokens together and asserts
		// that neither of the other two is given without the steps
		// (docs/SPECULATIVE.md §5.1; speculative_hook.py in v0.5.18).
		for _, f := range []string{"speculative-eagle-topk", "speculative-num-draft-tokens"} {
			if _, ok := set[f]; ok {
				return specRequest{}, cmdutil.Usage("give --speculative-num-steps too, or leave all three to SGLang", "--%s without --speculative-num-steps: SGLang refuses to start (it asserts that top-k and draft tokens are unset when it chooses the steps)", f)
			}
		}
	}
	own := path == "" || path == model
	switch algo {
	case "NEXTN", "EAGLE":
		// SGLang runs EAGLE without a draft path (or with the target's own)
		// on the checkpoint's MTP layers.
		if own {
			req.spec.Method, req.spec.ExplicitDraftPath, req.spec.DraftPath = "mtp", path != "", path
			return req, nil
		}
		req.spec.Method, req.draft = "eagle", path
	case "EAGLE3":
		req.spec.Method, req.draft = "eagle3", path
	case "STANDALONE":
		req.spec.Method, req.draft = "draft_model", path
	case "NGRAM":
		req.spec.Method = "ngram"
		return req, nil
	default:
		return req, cmdutil.Usage("use NEXTN, EAGLE, EAGLE3, STANDALONE or NGRAM", "--speculative-algorithm %s is not modelled", algo)
	}
	if path == "" {
		return req, cmdutil.Usage("give the draft with --speculative-draft-model-path MODEL", "--speculative-algorithm %s needs a draft model", algo)
	}
	return req, nil
}

// vllmSpec reads --speculative-config as vLLM's SpeculativeConfig does
// (docs/SPECULATIVE.md §1): every MTP alias is mtp; without a method a
// "model" of ngram is ngram, a path naming eagle3 or eagle- is that
// method, the target's own path mtp, any other a draft_model.
func vllmSpec(raw, model string) (specRequest, error) {
	var c struct {
		Method string `json:"method"`
		Tokens *int   `json:"num_speculative_tokens"`
		Model  string `json:"model"`
	}
	dec := json.NewDecoder(strings.NewReader(raw))
	if err := dec.Decode(&c); err != nil {
		return specRequest{}, cmdutil.Usage(`give JSON such as '{"method": "mtp", "num_speculative_tokens": 2}'`, "--speculative-config %q: %v", raw, err)
	}
	req := specRequest{}
	if c.Tokens != nil {
		if *c.Tokens <= 0 {
			return req, cmdutil.Usage("num_speculative_tokens is the draft tokens per step, at least 1", "--speculative-config: num_speculative_tokens must be > 0 (got %d)", *c.Tokens)
		}
		req.spec.Tokens = *c.Tokens
	}
	m := strings.ToLower(strings.TrimSpace(c.Method))
	path := strings.ToLower(c.Model)
	switch {
	case m == "mtp" || strings.HasSuffix(m, "_mtp"):
		m = "mtp"
	case m == "" && (path == "ngram" || path == "[ngram]"):
		m = "ngram"
	case m == "" && c.Model == "":
		return req, cmdutil.Usage(`name a method ("mtp", "eagle3", "ngram", …) or a draft "model"`, "--speculative-config has neither method nor model")
	case m == "" && strings.Contains(path, "eagle3"):
		m = "eagle3"
	case m == "" && strings.Contains(path, "eagle-"):
		m = "eagle"
	case m == "" && c.Model == model:
		m = "mtp"
	case m == "":
		m = "draft_model"
	}
	req.spec.Method = m
	switch m {
	case "eagle", "eagle3", "draft_model":
		if c.Model == "" {
			return req, cmdutil.Usage(`add "model": "DRAFT" to --speculative-config`, "--speculative-config method %s needs its draft model", m)
		}
		req.draft = c.Model
	case "mtp", "ngram":
	default:
		return req, cmdutil.Usage("vramcalc sizes "+strings.Join(estimate.SpeculativeMethods, ", "), "--speculative-config method %q is not modelled", c.Method)
	}
	return req, nil
}

// resolve fills the draft model's metadata and refuses an MTP draft for a
// target without MTP layers, with what to use instead.
func (sr specRequest) resolve(ctx context.Context, c *cli.Command, e cmdutil.Env, model string, target estimate.Model) (estimate.Speculative, error) {
	if sr.spec.Method == "mtp" && target.MTPLayers == 0 {
		return sr.spec, cmdutil.WithHint(fmt.Errorf("%s has no multi-token-prediction layers (no num_nextn_predict_layers or mtp_num_hidden_layers in its config), so it has no MTP draft", model),
			"MTP drafts come with DeepSeek-V3/R1/V3.2, GLM-4.5, MiMo, Qwen3-Next and Qwen3.5 checkpoints; for other models use an EAGLE or EAGLE-3 draft (method eagle3 with its \"model\") or n-grams")
	}
	if sr.draft == "" {
		return sr.spec, nil
	}
	meta, err := cmdutil.ResolveModel(ctx, c, e, sr.draft)
	if err != nil {
		return sr.spec, fmt.Errorf("the draft model %s: %w", sr.draft, err)
	}
	sr.spec.Draft, sr.spec.DraftPath = &meta.Model, sr.draft
	return sr.spec, nil
}

// mtpWarnings rewrites hfmeta's note that a checkpoint's MTP layers are not
// loaded: with an MTP draft they are (sized as derived from config.json).
func mtpWarnings(ws []string) []string {
	out := make([]string, 0, len(ws))
	for _, w := range ws {
		if before, ok := strings.CutSuffix(w, hfmeta.SkippedLayersNote); ok {
			w = before + ": the MTP draft loads them; they are sized as derived from config.json (docs/SPECULATIVE.md §2.1)"
		}
		out = append(out, w)
	}
	return out
}
