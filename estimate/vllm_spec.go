package estimate

import (
	"fmt"
	"slices"
	"strconv"
)

// setupSpec adds a speculative draft to a vLLM start (docs/SPECULATIVE.md
// §1–§4): its weights are loaded with the target's and measured with them,
// its attention layers get KV pages beside the target's (an MTP layer in
// the target's own group, DeepSeek's MLA included), and a gated delta
// net's conv state keeps num_speculative_tokens more columns. Runs after
// the target's weights and before setupHybrid, which then groups the draft
// layers with the target's.
func (r *vllmRun) setupSpec(kvElt int, computeBits int) error {
	sp := &r.s.Spec
	if !sp.On() {
		return nil
	}
	if !r.prof.v1 {
		return fmt.Errorf("%w: speculative decoding on vLLM %s's V0 engine (vramcalc sizes it on V1)", ErrUnsupported, r.prof.v)
	}
	if sp.Tokens == 0 {
		if sp.Method != "mtp" {
			// SpeculativeConfig.__post_init__ (docs/SPECULATIVE.md §1.4).
			return fmt.Errorf("%w: num_speculative_tokens must be provided with speculative method %s", ErrInvalid, sp.Method)
		}
		sp.Tokens = r.m.MTPLayers // n_predict, the default (§1.4)
	}
	if sp.Method == "mtp" && sp.Tokens > r.m.MTPLayers && sp.Tokens%r.m.MTPLayers != 0 {
		return fmt.Errorf("%w: num_speculative_tokens %d must be divisible by n_predict=%d", ErrInvalid, sp.Tokens, r.m.MTPLayers)
	}
	w, err := draftWeights(&r.m, sp, r.tp, r.s, computeBits)
	if err != nil {
		return fmt.Errorf("the draft's weights: %w", err)
	}
	r.weights += w
	r.draftWeights = w
	if g := sp.draftGuess(); g != "" {
		r.unmodelled = append(r.unmodelled, g)
	}
	if kinds := draftKinds(&r.m, sp); len(kinds) > 0 {
		var perLayer Bytes
		if n := r.m.kvLayers(); n > 0 {
			perLayer = r.perToken / Bytes(n)
		}
		r.perToken += draftKVPerToken(&r.m, sp, perLayer, r.tp, kvElt, r.s.KVCacheDType)
		r.m.Kinds = append(slices.Clip(r.m.CacheKinds()), kinds...)
	}
	if !r.quiet {
		r.note("speculative decoding (" + sp.Method + ", num_speculative_tokens " + strconv.Itoa(sp.Tokens) + "): the draft adds " + w.String() + " of weights per GPU and " + strconv.Itoa(len(draftKinds(&r.m, sp))) + " KV layer(s)")
	}
	return nil
}

// specCaptureSizes is vllmCaptureSizes with speculative decoding: the
// largest size is min(max_num_seqs·q·2, 512, max_num_batched_tokens), q =
// 1 + num_speculative_tokens, and each size is rounded up to a multiple of
// q, duplicates and sizes above that largest dropped (docs/SPECULATIVE.md
// §4.5). It returns how many sizes remain and the largest.
func specCaptureSizes(v Version, seqs, mnbt, q int) (int, int) {
	top := min(2*max(seqs, 1)*q, 512)
	if mnbt > 0 {
		top = min(top, mnbt)
	}
	n, last := 0, 0
	var buf [captureSizesMax]int
	for _, s := range captureSizes(v, top, mnbt, &buf) {
		if r := (s + q - 1) / q * q; r <= top && r > last {
			n, last = n+1, r
		}
	}
	return n, last
}
