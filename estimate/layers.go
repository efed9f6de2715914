package estimate

import (
	"slices"
	"strconv"
	"strings"
)

// LayerKind is how one cache-holding module of a model keeps its context:
// per-token KV (full, sliding-window or chunked local attention, MLA's
// latent), a per-sequence state (Mamba, Mamba2, gated delta net / linear
// attention), or nothing of its own (a layer that reads another layer's KV).
type LayerKind string

// Layer kinds (Model.Kinds, Result.LayerKinds).
const (
	KindFull     LayerKind = "full_attention"
	KindSliding  LayerKind = "sliding_attention"
	KindChunked  LayerKind = "chunked_attention"
	KindMLA      LayerKind = "mla"
	KindKVShared LayerKind = "kv_shared"
	KindMamba    LayerKind = "mamba"
	KindMamba2   LayerKind = "mamba2"
	KindLinear   LayerKind = "linear_attention"
)

// OwnsKV reports whether a module of kind k stores per-token KV.
func (k LayerKind) OwnsKV() bool {
	switch k {
	case KindFull, KindSliding, KindChunked, KindMLA:
		return true
	}
	return false
}

// IsState reports whether a module of kind k holds per-sequence state.
func (k LayerKind) IsState() bool {
	switch k {
	case KindMamba, KindMamba2, KindLinear:
		return true
	}
	return false
}

// State is the geometry of a model's state layers, from config.json. One
// model has one state kind (Kind); its fields are what that kind reads.
type State struct {
	// Kind is KindMamba, KindMamba2 or KindLinear; "" when the model has
	// no state layers.
	Kind LayerKind
	// ConvKernel (mamba_d_conv, conv_kernel, linear_conv_kernel_dim) is the
	// short convolution's width; its state keeps ConvKernel − 1 columns.
	ConvKernel int
	// Inner (mamba_expand × hidden_size, mamba_d_ssm, mamba_num_heads ×
	// mamba_head_dim) is the Mamba mixer's inner width.
	Inner int
	// StateSize (mamba_d_state, ssm_state_size) is the SSM state width.
	StateSize int
	// Heads and HeadDim (mamba_n_heads, mamba_head_dim) are Mamba2's heads.
	Heads, HeadDim int
	// Groups (mamba_n_groups, n_groups) is Mamba2's B/C group count.
	Groups int
	// KeyHeads, KeyHeadDim, ValueHeads, ValueHeadDim (linear_num_key_heads,
	// linear_key_head_dim, ...) are the gated delta net's heads.
	KeyHeads, KeyHeadDim, ValueHeads, ValueHeadDim int
	// SSMDType is the recurrent state's dtype when the config fixes it
	// (mamba_ssm_cache_dtype); "" means the engine's default.
	SSMDType DType
	// Mixer names a KindLinear mixer whose state the engines type or shape
	// differently from a gated delta net's: MixerKDA (Kimi-Linear) or
	// MixerLightning (MiniMax-Text-01 / M1); "" for a gated delta net.
	Mixer string
}

// KindLinear mixers other than the gated delta net (State.Mixer).
const (
	// MixerKDA is Kimi Delta Attention: the gated delta net's geometry
	// with KeyHeads = ValueHeads = num_heads and KeyHeadDim = ValueHeadDim
	// = head_dim, three conv states (q, k, v), and a recurrent state vLLM
	// always keeps in float32.
	MixerKDA = "kda"
	// MixerLightning is MiniMax's lightning attention: one (heads, head_dim,
	// head_dim) state in the model dtype, no conv state (ConvKernel 1).
	MixerLightning = "lightning"
)

// CacheKinds lists the model's cache-holding modules in layer order: Kinds
// when the config spells them out, else one per layer, MLA for latent
// attention and layer_types' sliding layers as sliding window.
func (m *Model) CacheKinds() []LayerKind {
	if len(m.Kinds) > 0 {
		return m.Kinds
	}
	out := make([]LayerKind, m.Layers)
	for i := range out {
		out[i] = m.kindAt(i)
	}
	return out
}

// cacheModules is len(CacheKinds()) without building it.
func (m *Model) cacheModules() int {
	if len(m.Kinds) > 0 {
		return len(m.Kinds)
	}
	return m.Layers
}

// kindAt is CacheKinds()[i] without building it.
func (m *Model) kindAt(i int) LayerKind {
	switch {
	case len(m.Kinds) > 0:
		return m.Kinds[i]
	case m.IsMLA():
		return KindMLA
	case i < len(m.LayerTypes) && m.LayerTypes[i] == "sliding_attention":
		return KindSliding
	}
	return KindFull
}

// LayerCounts counts cache-holding modules per kind, indexed as allKinds
// (an array, so that Run builds it without allocating).
type LayerCounts [len(allKinds)]int

// Of is the count of kind k.
func (c LayerCounts) Of(k LayerKind) int { return c[kindIndex(k)] }

// Map is the non-zero counts keyed by kind.
func (c LayerCounts) Map() map[LayerKind]int {
	out := make(map[LayerKind]int, 4)
	for i, n := range c {
		if n > 0 {
			out[allKinds[i]] = n
		}
	}
	return out
}

// Counts counts the model's cache-holding modules per kind.
func (m *Model) Counts() LayerCounts {
	var c LayerCounts
	if len(m.Kinds) > 0 {
		for _, k := range m.Kinds {
			c[kindIndex(k)]++
		}
		return c
	}
	if m.IsMLA() {
		c[kindIndex(KindMLA)] = m.Layers
		return c
	}
	sliding := 0
	for i := 0; i < m.Layers && i < len(m.LayerTypes); i++ {
		if m.LayerTypes[i] == "sliding_attention" {
			sliding++
		}
	}
	c[kindIndex(KindFull)], c[kindIndex(KindSliding)] = m.Layers-sliding, sliding
	return c
}

// KindCounts counts the model's cache-holding modules per kind, as a map.
func (m *Model) KindCounts() map[LayerKind]int { return m.Counts().Map() }

// allKinds lists every layer kind, in kindIndex's order.
var allKinds = [...]LayerKind{KindFull, KindSliding, KindChunked, KindMLA, KindKVShared, KindMamba, KindMamba2, KindLinear}

// kindIndex is k's index in allKinds (KindLinear's for an unknown kind,
// which hfmeta never produces).
func kindIndex(k LayerKind) int {
	switch k {
	case KindFull:
		return 0
	case KindSliding:
		return 1
	case KindChunked:
		return 2
	case KindMLA:
		return 3
	case KindKVShared:
		return 4
	case KindMamba:
		return 5
	case KindMamba2:
		return 6
	}
	return 7
}

// kvLayers is how many modules store per-token KV (every layer of the
// default layout).
func (m *Model) kvLayers() int {
	if len(m.Kinds) == 0 {
		return m.Layers
	}
	n := 0
	for _, k := range m.Kinds {
		if k.OwnsKV() {
			n++
		}
	}
	return n
}

// stateLayers is how many modules hold per-sequence state (none in the
// default layout).
func (m *Model) stateLayers() int {
	n := 0
	for _, k := range m.Kinds {
		if k.IsState() {
			n++
		}
	}
	return n
}

// sortedKinds is the kinds counts holds, by name, for output.
func sortedKinds(counts LayerCounts) []LayerKind {
	var out []LayerKind
	for i, n := range counts {
		if n > 0 {
			out = append(out, allKinds[i])
		}
	}
	slices.Sort(out)
	return out
}

// describeCounts is "12 full_attention + 36 linear_attention".
func describeCounts(counts LayerCounts) string {
	var parts []string
	for _, k := range sortedKinds(counts) {
		parts = append(parts, strconv.Itoa(counts.Of(k))+" "+string(k))
	}
	return strings.Join(parts, " + ")
}

// sizedKinds are the layer kinds each engine's sizer models. TGI allocates
// every layer at full length (its allocator has no per-kind pools), so a
// chunked or sliding layer costs what a full one does there; what it does
// with KV-shared layers is not modelled, and models with state layers it
// refuses (tgi.go). SGLang's state pool is modelled from v0.5.18 for Mamba2
// and gated delta nets (sglang_state.go); its chunked and KV-shared layers
// are not modelled yet.
var sizedKinds = map[string][]LayerKind{
	"tgi":    {KindFull, KindSliding, KindChunked, KindMLA},
	"vllm":   {KindFull, KindSliding, KindChunked, KindMLA, KindKVShared, KindMamba, KindMamba2, KindLinear},
	"sglang": {KindFull, KindSliding, KindMLA},
}

// unsizedKinds names the model's layer kinds the engine's sizer does not
// model, one phrase each.
func unsizedKinds(m *Model, counts LayerCounts, e EngineInfo, ver string) []string {
	if len(m.Kinds) == 0 && m.IndexHeadDim == 0 {
		return nil // full, sliding and MLA layers: every engine sizes them
	}
	var out []string
	v, _ := ParseVersion(ver)
	for _, k := range sortedKinds(counts) {
		if e.Name == "sglang" && k.IsState() && sglangStateModelled(*m, v) {
			continue
		}
		if !slices.Contains(sizedKinds[e.Name], k) {
			out = append(out, strconv.Itoa(counts.Of(k))+" "+string(k)+" layers are not modelled for "+e.Title+": what they hold is a guess")
		}
	}
	// vLLM sizes the indexer (vllm_groups.go), SGLang from v0.5.18
	// (sglangIndexerCell), TGI not at all.
	indexer := e.Name == "tgi" || (e.Name == "sglang" && v.Less(sglangStateFrom))
	if m.IndexHeadDim > 0 && indexer {
		out = append(out, "the sparse-attention indexer's cache (index_head_dim "+strconv.Itoa(m.IndexHeadDim)+") is not modelled for "+e.Title)
	}
	return out
}
