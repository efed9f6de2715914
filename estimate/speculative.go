package estimate

import (
	"fmt"
	"slices"
	"strings"
)

// Speculative decoding: what a draft adds to a vLLM or SGLang start. The
// engines' rules, with their sources, are in docs/SPECULATIVE.md; its
// §-numbers are cited below.

// Speculative is speculative decoding as vLLM's --speculative-config or
// SGLang's --speculative-* flags ask for it. The zero value is off.
type Speculative struct {
	// Method is the draft, in vLLM's names: "mtp" (the checkpoint's own
	// multi-token-prediction layers; SGLang NEXTN, or EAGLE without a draft
	// path on an MTP model), "eagle" and "eagle3" (a draft checkpoint,
	// Draft), "draft_model" (a whole smaller model; SGLang STANDALONE) or
	// "ngram" (no draft model). "" is off.
	Method string
	// Tokens is vLLM's num_speculative_tokens (SGLang
	// --speculative-num-draft-tokens); 0 means the engine's default.
	Tokens int
	// Steps and TopK are SGLang's --speculative-num-steps and
	// --speculative-eagle-topk; 0 means its default.
	Steps, TopK int
	// Draft is the draft checkpoint of eagle, eagle3 and draft_model; nil
	// for mtp and ngram.
	Draft *Model
	// DraftPath is the draft as the engine's flag names it (launch lines).
	DraftPath string
	// ExplicitDraftPath is SGLang's --speculative-draft-model-path given
	// for an mtp draft (the target's own path): from v0.5.14 it makes the
	// pool budget the draft's KV for every model type (docs/SPECULATIVE.md §5.4).
	ExplicitDraftPath bool
}

// On reports whether speculative decoding is asked for.
func (sp *Speculative) On() bool { return sp.Method != "" }

// usesDraftModel reports whether the method loads a draft checkpoint of its own.
func (sp *Speculative) usesDraftModel() bool {
	return sp.Method == "eagle" || sp.Method == "eagle3" || sp.Method == "draft_model"
}

// maxSpecTokens bounds the draft tokens, steps and top-k: drafts propose a
// handful of tokens (vLLM's MTP layers up to 3, SGLang's defaults 4–8), a
// thousand is a typo.
const maxSpecTokens = 1024

// SpeculativeMethods are the Speculative.Method values the estimator sizes.
var SpeculativeMethods = []string{"mtp", "eagle", "eagle3", "draft_model", "ngram"}

// check refuses what no start can do: an unknown method, negative counts,
// MTP on a model without MTP layers, a draft method without its draft.
func (sp *Speculative) check(m *Model) error {
	if !sp.On() {
		return nil
	}
	switch {
	case !slices.Contains(SpeculativeMethods, sp.Method):
		return fmt.Errorf("%w: speculative method %q (modelled: %s)", ErrUnsupported, sp.Method, strings.Join(SpeculativeMethods, ", "))
	case sp.Tokens < 0 || sp.Steps < 0 || sp.TopK < 0:
		return fmt.Errorf("%w: speculative token, step and top-k counts must be > 0", ErrInvalid)
	case sp.Tokens > maxSpecTokens || sp.Steps > maxSpecTokens || sp.TopK > maxSpecTokens:
		return fmt.Errorf("%w: speculative token, step and top-k counts above %d", ErrImplausible, maxSpecTokens)
	case sp.Method == "mtp" && m.MTPLayers == 0:
		return fmt.Errorf("%w: the model has no multi-token-prediction layers (no num_nextn_predict_layers or mtp_num_hidden_layers in its config), so method mtp has no draft", ErrInvalid)
	case sp.Method == "mtp" && m.MTPLayers > MaxLayers:
		return fmt.Errorf("%w: %d MTP layers is beyond %d", ErrImplausible, m.MTPLayers, MaxLayers)
	case sp.usesDraftModel() && sp.Draft == nil:
		return fmt.Errorf("%w: speculative method %s needs its draft model", ErrInvalid, sp.Method)
	case sp.usesDraftModel() && sp.Draft.Layers <= 0:
		return fmt.Errorf("%w: the draft model has no layers", ErrInvalid)
	}
	return nil
}

// draftWeights is the draft's weights on one of tp ranks, sized with the
// target's rules (servingWeights) at the target's tensor parallelism
// (docs/SPECULATIVE.md §2): the MTP layers of the checkpoint, or the
// draft checkpoint. The embedding and LM head a draft shares with the
// target cost nothing (§2.2): an MTP layer's own copies, and an EAGLE
// draft's when their shape is the target's. bits is the compute dtype's.
func draftWeights(m *Model, sp *Speculative, tp int, s Settings, bits int) (Bytes, error) {
	var d Model
	var ts []Tensor
	switch {
	case sp.Method == "mtp":
		d, ts = *m, mtpTensors(m)
		// vLLM's get_rope returns the target's cached rotary table for the
		// same arguments, so an MTP layer adds none (§2.1).
		d.MaxPositions = 0
	case sp.usesDraftModel():
		d, ts = *sp.Draft, sp.Draft.checkpointTensors()
		if sp.Method != "draft_model" {
			ts = withoutShared(ts, m)
		}
		s.Quantize = "" // the draft's own quantization_config applies
	default:
		return 0, nil
	}
	d.Layers = 0 // every tensor given is loaded
	return servingWeights(d, ts, tp, s, bits)
}

// mtpTensors are the checkpoint's MTP layers less their own embedding and
// LM head copies (DeepSeek-V3 stores both in model.layers.61), or, for a
// checkpoint described by config.json alone, MTPLayers layers derived as
// one decoder layer of the model's last kind (attention with its MoE or MLP)
// plus the projection of [embedding; hidden] to hidden (eh_proj, fc) and
// three norms (docs/SPECULATIVE.md §2.1).
func mtpTensors(m *Model) []Tensor {
	var out []Tensor
	for _, t := range m.checkpointTensors() {
		if n, ok := layerIndex(t.Name); ok && m.Layers > 0 && n >= m.Layers && !isSharedCopy(t.Name) {
			out = append(out, t)
		}
	}
	if len(out) > 0 {
		return out
	}
	one := *m
	one.Layers, one.DenseLayers, one.MLPOnlyLayers, one.Tensors = 1, 0, nil, nil
	one.Vision, one.VisionTower = false, VisionTower{}
	kind := KindFull
	if m.IsMLA() {
		kind = KindMLA
	}
	if len(m.Kinds) > 0 {
		one.Kinds = []LayerKind{kind}
	}
	if len(m.LayerTypes) > 0 {
		one.LayerTypes = []string{"full_attention"}
	}
	dt := m.DType
	if dt == "" {
		dt = BF16
	}
	n := int64(m.MTPLayers)
	for _, t := range SynthesizeTensors(one) {
		if !strings.Contains(t.Name, "layers.") {
			continue // the embedding, final norm and head: shared
		}
		t.Count = max(1, t.Count) * n
		out = append(out, t)
	}
	h := int64(m.Hidden)
	return append(out,
		Tensor{Name: "mtp.layers.*.eh_proj.weight", DType: dt, Shape: []int64{h, 2 * h}, Count: n},
		Tensor{Name: "mtp.layers.*.norm.weight", DType: dt, Shape: []int64{h}, Count: 3 * n})
}

// isSharedCopy reports an MTP layer's own embedding or LM head, which the
// engines replace by the target's.
func isSharedCopy(name string) bool {
	return strings.Contains(name, "embed_tokens") || strings.Contains(name, "shared_head.head") || strings.Contains(name, "lm_head")
}

// withoutShared drops a draft's embedding and LM head where their shape is
// the target's: the engines share the target's (docs/SPECULATIVE.md §2.2).
// An EAGLE-3 head over a smaller draft vocabulary stays.
func withoutShared(ts []Tensor, target *Model) []Tensor {
	h, v := int64(target.Hidden), int64(target.Vocab)
	out := make([]Tensor, 0, len(ts))
	for _, t := range ts {
		if isSharedCopy(t.Name) && len(t.Shape) == 2 && t.Shape[0] == v && t.Shape[1] == h {
			continue
		}
		out = append(out, t)
	}
	return out
}

// draftKinds are the cache layers the draft adds beside the target's: an
// MTP layer is an attention layer of the target's own kind, an EAGLE or
// draft model's layers full attention (docs/SPECULATIVE.md §3).
func draftKinds(m *Model, sp *Speculative) []LayerKind {
	var k LayerKind = KindFull
	n := 0
	switch {
	case sp.Method == "mtp":
		n = m.MTPLayers
		if m.IsMLA() {
			k = KindMLA
		}
	case sp.usesDraftModel():
		n = sp.Draft.kvLayers()
	}
	out := make([]LayerKind, n)
	for i := range out {
		out[i] = k
	}
	return out
}

// draftKVPerToken is the KV bytes per token the draft's layers add on one
// of tp ranks: an MTP layer holds what one of the target's attention
// layers holds (perLayer, the indexer's key cache included), a draft
// checkpoint's layers what its geometry gives.
func draftKVPerToken(m *Model, sp *Speculative, perLayer Bytes, tp, elt int, kv DType) Bytes {
	switch {
	case sp.Method == "mtp":
		return perLayer * Bytes(m.MTPLayers)
	case sp.usesDraftModel() && isKVFormat(kv):
		return kvFormatPerToken(sp.Draft, tp, kv)
	case sp.usesDraftModel():
		return servingKVBytesPerToken(*sp.Draft, tp, elt)
	}
	return 0
}

// draftGuess names what a draft checkpoint known by config.json alone
// leaves out, "" when nothing: an EAGLE head's fc (and EAGLE-3's own head
// over its draft vocabulary) are not in a decoder layout, so such weights
// are a guess (Result.unmodelled); its safetensors headers give them.
func (sp *Speculative) draftGuess() string {
	if (sp.Method != "eagle" && sp.Method != "eagle3") || sp.Draft == nil {
		return ""
	}
	if len(sp.Draft.Tensors) > 0 && sp.Draft.TensorsFrom != WeightsFromConfig {
		return ""
	}
	return "the " + sp.Method + " draft's weights from its config.json alone: its fc projection and any head of its own are not in a decoder layout (its safetensors headers give them)"
}
