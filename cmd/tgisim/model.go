package main

import (
	"fmt"

	"github.com/vramcalc/vramcalc/internal/simkit"
)

// The model description is internal/simkit's (simkit.Model): SIM_MODEL,
// --model-id as a local directory, the Hugging Face cache
// (--huggingface-hub-cache, which clap also reads from
// HUGGINGFACE_HUB_CACHE, then HF_HUB_CACHE, $HF_HOME/hub), then the
// embedded catalog. What only TGI reads of it is here.

// launcherHeadDim is the launcher's get_head_dim: head_dim, or
// hidden/heads when it divides evenly, or 256 for gemma3.
func launcherHeadDim(m *simkit.Model) int {
	if m.HeadDim > 0 {
		return m.HeadDim
	}
	if m.Heads > 0 && m.Hidden%m.Heads == 0 {
		return m.Hidden / m.Heads
	}
	if m.ModelType == "gemma3" {
		return 256
	}
	return 0
}

// launcherQuantMethods are the quant_method values the launcher's RawConfig
// deserialises; any other value makes the whole config unreadable to it
// (docs/ENGINES.md §1.4 pitfall).
var launcherQuantMethods = map[string]bool{"awq": true, "compressed-tensors": true, "eetq": true, "exl2": true, "gptq": true, "marlin": true, "bitsandbytes": true, "bitsandbytes-nf4": true, "bitsandbytes-fp4": true, "fp8": true}

// launcherReadsConfig reports whether TGI's launcher can parse the config
// (get_config(..).ok() is Some).
func launcherReadsConfig(m *simkit.Model) bool {
	return m.QuantMethod == "" || launcherQuantMethods[m.QuantMethod]
}

// resolveModel finds the description of --model-id (simkit.ResolveModel,
// which wraps simkit.ErrModelNotFound when nothing has it). TGI's shards
// need head_dim when hidden is not a multiple of the heads
// (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/server/text_generation_server/models/flash_causal_lm.py#L1298-L1306).
func resolveModel(a *Args, getenv func(string) string) (*simkit.Model, error) {
	m, err := simkit.ResolveModel(a.ModelID, a.Revision, a.HubCache, getenv)
	if err != nil {
		return nil, err
	}
	if m.HeadDim == 0 && m.Heads > 0 && m.Hidden%m.Heads != 0 {
		return nil, fmt.Errorf("model %s: head_dim is needed: hidden %d is not a multiple of heads %d", m.Source, m.Hidden, m.Heads)
	}
	return m, nil
}
