// Package launch writes each serving engine's command line for a set of
// limits, in the engine's own flag names: the arguments the engine takes
// (Args, what probe passes to a container) and a command a user can paste
// (Command: `docker run … text-generation-inference …` with the Hugging Face
// cache mounted where TGI's image looks for it, `vllm serve …`,
// `python -m sglang.launch_server …`). One builder per engine; estimate's
// output, plan, probe and the README use these and nothing else.
package launch

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/vramcalc/vramcalc/estimate"
)

// Spec is one engine start to write down.
type Spec struct {
	// Engine is "tgi", "vllm" or "sglang" ("" is TGI).
	Engine string
	// Version is the engine release; TGI's image tag is taken from it.
	Version string
	// Model is the repo id, or a directory when Local.
	Model string
	Local bool
	// Shards is the tensor-parallel degree (1 or 0: no flag).
	Shards int
	// Settings are the limits and options to launch with. Zero values are
	// left out: the engine's default applies. For TGI MaxInputTokens,
	// MaxTotalTokens and MaxBatchPrefillTokens; for vLLM MaxModelLen and
	// MaxNumBatchedTokens; for SGLang MaxModelLen (--context-length).
	Settings estimate.Settings
	// HubCache is the host's Hugging Face hub cache as a shell word for
	// Command's mount (TGI); "" means DefaultHubCache.
	HubCache string
	// LimitMMPerPrompt is vLLM's --limit-mm-per-prompt as the user gave it
	// (JSON or modality=count pairs), written as given.
	LimitMMPerPrompt string
}

// DefaultHubCache is the hub cache huggingface_hub uses unless
// HF_HUB_CACHE says otherwise: $HF_HOME/hub, HF_HOME defaulting to
// ~/.cache/huggingface; written for the user's shell to expand.
const DefaultHubCache = `"${HF_HOME:-$HOME/.cache/huggingface}/hub"`

// tgiImage is TGI's image; releases are tagged 3.3.7 (and series 3.3).
const tgiImage = "ghcr.io/huggingface/text-generation-inference"

// tgiHubCache is where TGI's image keeps the hub cache: HF_HOME=/data
// (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/Dockerfile#L147-L149).
const tgiHubCache = "/data/hub"

// flag is one command-line flag; it is left out when its value is unset.
type flag struct {
	name string
	val  any
}

// Args are the engine's own arguments for s (after `text-generation-launcher`,
// `vllm serve` or `python -m sglang.launch_server`), one word each.
func Args(s Spec) []string {
	var out []string
	switch s.Engine {
	case "vllm":
		out = []string{s.Model}
	case "sglang":
		out = []string{"--model-path", s.Model}
	default:
		out = []string{"--model-id", s.Model}
	}
	for _, p := range set(flagsOf(s)) {
		out = append(out, p...)
	}
	return out
}

// Command is a line to paste into a shell that starts the engine with s.
func Command(s Spec) string {
	var line []string
	switch s.Engine {
	case "vllm":
		line = append(vllmEnv(s.Settings), "vllm serve", quote(s.Model))
	case "sglang":
		line = []string{"python -m sglang.launch_server", "--model-path " + quote(s.Model)}
	default:
		line = tgiDocker(s)
	}
	for _, p := range set(flagsOf(s)) {
		if len(p) == 2 {
			p[1] = quote(p[1])
		}
		line = append(line, strings.Join(p, " "))
	}
	return strings.Join(line, " ")
}

// tgiDocker is `docker run` of TGI's image up to --model-id: the hub cache
// mounted where the image keeps it, or a local model directory.
func tgiDocker(s Spec) []string {
	model, mount := s.Model, s.HubCache
	if mount == "" {
		mount = DefaultHubCache
	}
	mount += ":" + tgiHubCache
	if s.Local {
		mount, model = quote(s.Model)+":/data/model", "/data/model"
	}
	line := []string{"docker run", "--gpus all", "--shm-size 1g", "-p 8080:80", "-v " + mount}
	if !s.Local {
		// Passed through from the caller's environment, never written out.
		line = append(line, "-e HF_TOKEN")
	}
	return append(line, tgiImage+":"+strings.TrimPrefix(s.Version, "v"), "--model-id "+quote(model))
}

func flagsOf(s Spec) []flag {
	switch s.Engine {
	case "vllm":
		return vllmFlags(s)
	case "sglang":
		return sglangFlags(s)
	}
	return tgiFlags(s)
}

// tgiFlags are text-generation-launcher's flags
// (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/launcher/src/main.rs#L580-L914).
func tgiFlags(s Spec) []flag {
	st := s.Settings
	frac := 0.0
	if st.CUDAMemoryFraction < 1 {
		frac = st.CUDAMemoryFraction
	}
	return []flag{
		// TGI shards over every GPU it sees unless told, so the shard
		// count is always written.
		{"--num-shard", s.Shards}, {"--quantize", st.Quantize},
		{"--dtype", dtype(st.DType)}, {"--kv-cache-dtype", dtype(st.KVCacheDType)},
		{"--cuda-memory-fraction", frac},
		{"--max-input-tokens", st.MaxInputTokens}, {"--max-total-tokens", st.MaxTotalTokens},
		{"--max-batch-prefill-tokens", st.MaxBatchPrefillTokens},
		{"--max-batch-size", st.MaxBatchSize}, {"--speculate", st.Speculate},
		{"--enable-prefill-logprobs", st.PrefillLogprobs},
	}
}

// vllmFlags are `vllm serve`'s engine arguments.
func vllmFlags(s Spec) []flag {
	st := s.Settings
	return []flag{
		{"--tensor-parallel-size", shards(s.Shards)},
		{"--gpu-memory-utilization", st.GPUMemoryUtilization},
		{"--max-model-len", st.MaxModelLen},
		{"--max-num-batched-tokens", st.MaxNumBatchedTokens},
		{"--max-num-seqs", st.MaxNumSeqs},
		{"--block-size", st.BlockSize},
		{"--quantization", st.Quantize},
		{"--kv-cache-dtype", kvDType(st.KVCacheDType)},
		{"--dtype", dtype(st.DType)},
		{"--enforce-eager", st.EnforceEager},
		{"--mamba-cache-mode", st.MambaCacheMode},
		{"--mamba-ssm-cache-dtype", dtype(st.MambaSSMDType)},
		{"--limit-mm-per-prompt", s.LimitMMPerPrompt},
		{"--speculative-config", vllmSpecConfig(st.Spec)},
	}
}

// vllmEnv are the environment variables Command sets before `vllm serve`
// for the choices vLLM reads from the environment only: the model runner
// (VLLM_USE_V2_MODEL_RUNNER) and the FlashInfer top-k/top-p sampler
// (VLLM_USE_FLASHINFER_SAMPLER); the release's own rule is left alone.
func vllmEnv(st estimate.Settings) []string {
	var env []string
	switch st.ModelRunner {
	case "v1":
		env = append(env, "VLLM_USE_V2_MODEL_RUNNER=0")
	case "v2":
		env = append(env, "VLLM_USE_V2_MODEL_RUNNER=1")
	}
	switch st.Sampler {
	case "flashinfer":
		env = append(env, "VLLM_USE_FLASHINFER_SAMPLER=1")
	case "pytorch":
		env = append(env, "VLLM_USE_FLASHINFER_SAMPLER=0")
	}
	return env
}

// vllmSpecConfig is --speculative-config's JSON, "" without speculation.
func vllmSpecConfig(sp estimate.Speculative) string {
	if !sp.On() {
		return ""
	}
	c := map[string]any{"method": sp.Method}
	if sp.Tokens > 0 {
		c["num_speculative_tokens"] = sp.Tokens
	}
	if sp.DraftPath != "" && sp.Method != "mtp" {
		c["model"] = sp.DraftPath
	}
	b, _ := json.Marshal(c) // a map of strings and ints always marshals
	return string(b)
}

// sglangSpecFlags are SGLang's --speculative-* flags for sp.
func sglangSpecFlags(sp estimate.Speculative) []flag {
	algo := map[string]string{"mtp": "NEXTN", "eagle": "EAGLE", "eagle3": "EAGLE3", "draft_model": "STANDALONE", "ngram": "NGRAM"}[sp.Method]
	return []flag{
		{"--speculative-algorithm", algo}, {"--speculative-draft-model-path", sp.DraftPath},
		{"--speculative-num-steps", sp.Steps}, {"--speculative-eagle-topk", sp.TopK},
		{"--speculative-num-draft-tokens", sp.Tokens},
	}
}

// sglangFlags are sglang.launch_server's server arguments.
func sglangFlags(s Spec) []flag {
	st := s.Settings
	return append([]flag{
		{"--tp-size", shards(s.Shards)},
		{"--mem-fraction-static", st.MemFractionStatic},
		{"--context-length", st.MaxModelLen},
		{"--max-total-tokens", st.SGLangMaxTotalTokens},
		{"--chunked-prefill-size", st.ChunkedPrefillSize},
		{"--max-running-requests", st.MaxNumSeqs},
		{"--page-size", st.BlockSize},
		{"--quantization", st.Quantize},
		{"--kv-cache-dtype", kvDType(st.KVCacheDType)},
		{"--dtype", dtype(st.DType)},
		{"--mamba-ssm-dtype", dtype(st.MambaSSMDType)},
	}, sglangSpecFlags(st.Spec)...)
}

// set is the flags that are set, as {name, value} or {name} for a true
// bool: a non-zero number, a non-empty string.
func set(flags []flag) [][]string {
	var out [][]string
	for _, f := range flags {
		switch v := f.val.(type) {
		case int:
			if v > 0 {
				out = append(out, []string{f.name, strconv.Itoa(v)})
			}
		case float64:
			if v > 0 {
				out = append(out, []string{f.name, strconv.FormatFloat(v, 'g', -1, 64)})
			}
		case string:
			if v != "" {
				out = append(out, []string{f.name, v})
			}
		case bool:
			if v {
				out = append(out, []string{f.name})
			}
		default:
			panic(fmt.Sprintf("launch: flag %s of type %T", f.name, v))
		}
	}
	return out
}

// shards is the TP degree when there is more than one shard.
func shards(n int) int {
	if n > 1 {
		return n
	}
	return 0
}

// dtype spells --dtype (and TGI's --kv-cache-dtype) as the engines take it.
func dtype(d estimate.DType) string {
	switch d {
	case "":
		return ""
	case estimate.BF16:
		return "bfloat16"
	case estimate.F16:
		return "float16"
	case estimate.F32:
		return "float32"
	case estimate.F8E4M3:
		return "fp8_e4m3fn"
	case estimate.F8E5M2:
		return "fp8_e5m2"
	}
	return strings.ToLower(string(d))
}

// kvDType spells vLLM's and SGLang's --kv-cache-dtype.
func kvDType(d estimate.DType) string {
	switch d {
	case estimate.F8E4M3:
		return "fp8_e4m3"
	case estimate.F8E5M2:
		return "fp8_e5m2"
	}
	return dtype(d)
}

// quote makes s one shell word.
func quote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:@", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Starting is s with limits of res that start, written out and checked:
// the start's own when it fits and still starts with every limit pinned on
// the command line, else the boundary's, which the boundary search found
// pinned; ok is false when neither starts. The check matters for TGI: when
// it picks max_total_tokens itself its warm-up reserves KV for one-token
// requests, so a pinned copy of its own choice (22,317 tokens for
// Llama-3.1-8B on an L4) reserves full-length requests and does not start.
// res is estimate.Run(m, hw, …, s.Settings).
func Starting(s Spec, m estimate.Model, hw estimate.Hardware, res estimate.Result) (Spec, bool) {
	st, b := res.Startup, res.Boundary
	s.Engine, s.Version, s.Shards = res.Engine.Name, res.Engine.Version, res.NumShard
	eng := estimate.Engine{Name: res.Engine.Name, Version: res.Engine.Version}
	pinned := func(I, T, P int) (Spec, bool) {
		c := s
		switch c.Engine {
		case "vllm", "sglang":
			c.Settings.MaxModelLen = T
		default:
			c.Settings.MaxInputTokens, c.Settings.MaxTotalTokens, c.Settings.MaxBatchPrefillTokens = I, T, P
		}
		if c.Settings.MaxModelLen == s.Settings.MaxModelLen && c.Settings.MaxInputTokens == s.Settings.MaxInputTokens &&
			c.Settings.MaxTotalTokens == s.Settings.MaxTotalTokens && c.Settings.MaxBatchPrefillTokens == s.Settings.MaxBatchPrefillTokens {
			return c, st.Fits // nothing pinned that res did not start with
		}
		r, err := estimate.Run(m, hw, eng, c.Settings)
		return c, err == nil && r.Startup.Fits
	}
	if st.Fits {
		if c, ok := pinned(st.MaxInputTokens, st.MaxTotalTokens, st.MaxBatchPrefillTokens); ok {
			return c, true
		}
	}
	if b.MaxTotalTokens > 0 {
		if c, ok := pinned(b.MaxInputTokens, b.MaxTotalTokens, b.PrefillAtMaxTotal); ok {
			return c, true
		}
	}
	return s, false
}
