package estimate

import (
	"fmt"
	"math"
)

// SGLang's speculative decoding (docs/SPECULATIVE.md §5). Two regimes:
//
//   - v0.5.3 – v0.5.13: the target's KV pool is sized without the draft;
//     the default --mem-fraction-static reserves 2 GiB more for an EAGLE
//     family draft (4 GiB from v0.5.10; 6 GiB for STANDALONE, none for
//     NGRAM), and the draft's weights, KV and graphs come out of that
//     slack. Up to v0.5.6 the pool gets headroom tokens for the drafts
//     (§5.3).
//   - from v0.5.14 (sglang#23862, #28855): both checkpoints load before the
//     pool is sized, the draft's embedding and head placeholders included,
//     and the cell is scaled by (1 + draft layers / target layers) when the
//     draft's path is known (§5.4).

// sglangSpecFrom is the first release whose speculative sizing is modelled
// (the reserve formula's era); sglangSpecBudgetFrom the first that budgets
// the draft; sglangSpecNoHeadroomFrom the first without headroom tokens.
var (
	sglangSpecFrom           = Version{0, 5, 3}
	sglangSpecReserve4From   = Version{0, 5, 10}
	sglangSpecBudgetFrom     = Version{0, 5, 14}
	sglangSpecNoHeadroomFrom = Version{0, 5, 7}
)

// sglangSpecRequests is max_running_requests under speculative decoding
// when none is given (server_args.py, docs/SPECULATIVE.md §5.1).
const sglangSpecRequests = 48

// sglangAutoDraftPath are the model types whose MTP draft path SGLang sets to
// the target's own (the architecture list of §5.1, v0.5.18): only for them
// does the NEXTN cell scaling apply without --speculative-draft-model-path.
var sglangAutoDraftPath = map[string]bool{
	"deepseek_v3": true, "deepseek_v32": true, "deepseek_v4": true, "glm4_moe": true, "glm4_moe_lite": true,
	"glm_moe_dsa": true, "bailing_moe": true, "bailing_moe_v2": true,
}

// sglangSpec is what a draft adds to an SGLang start.
type sglangSpec struct {
	weights      Bytes // the draft's own weights per GPU
	placeholders Bytes // its embedding and head before they are shared
	cell         Bytes // its KV per token
	layers       int   // its KV layers
	steps, topK  int
	draftTokens  int
	// scaled: the pool is sized by cell·(1 + layers/target layers).
	scaled bool
}

// setupSpec resolves the draft (docs/SPECULATIVE.md §5): its defaults,
// weights, placeholders and KV cell.
func (r *sglangRun) setupSpec() error {
	sp := &r.s.Spec
	if !sp.On() {
		return nil
	}
	if r.v.Less(sglangSpecFrom) {
		return fmt.Errorf("%w: speculative decoding on SGLang %s (modelled from %s)", ErrUnsupported, r.v, sglangSpecFrom)
	}
	d := &r.spec
	d.steps, d.topK, d.draftTokens = r.specDefaults()
	w, err := draftWeights(&r.m, sp, r.tp, r.s, int(r.elt*8))
	if err != nil {
		return fmt.Errorf("the draft's weights: %w", err)
	}
	d.weights = w
	if g := sp.draftGuess(); g != "" {
		r.unmodelled = append(r.unmodelled, g)
	}
	d.placeholders = Bytes(r.sharedCopies()) * Bytes(ceilDiv64(int64(r.m.Vocab), int64(r.tp))) * Bytes(r.m.Hidden) * Bytes(r.elt)
	kinds := draftKinds(&r.m, sp)
	d.layers = len(kinds)
	var perLayer Bytes
	if n := r.m.kvLayers(); n > 0 {
		perLayer = servingKVBytesPerToken(r.m, r.tp, r.kvElt) / Bytes(n)
		if isKVFormat(r.s.KVCacheDType) {
			perLayer = kvFormatPerToken(&r.m, r.tp, r.s.KVCacheDType) / Bytes(n)
		}
	}
	d.cell = draftKVPerToken(&r.m, sp, perLayer, r.tp, r.kvElt, r.s.KVCacheDType)
	if sp.Method == "mtp" && r.m.IndexHeadDim > 0 {
		d.cell += sglangIndexerCell(r.m, r.v) / Bytes(max(1, r.m.kvLayers())) * Bytes(d.layers)
	}
	pathKnown := sp.usesDraftModel() || sp.ExplicitDraftPath || sglangAutoDraftPath[r.m.Type]
	d.scaled = !r.v.Less(sglangSpecBudgetFrom) && sp.Method != "ngram" && pathKnown && d.layers > 0
	return nil
}

// specDefaults are --speculative-num-steps, --speculative-eagle-topk and
// --speculative-num-draft-tokens as given or as SGLang chooses them
// (auto_choose_speculative_params, docs/SPECULATIVE.md §5.1): (3, 1, 4)
// for STANDALONE and DeepSeek, gpt-oss, GLM-4.5 and Bailing MoE targets,
// (5, 4, 8) for Llama; other targets (5, 4, 8) before v0.5.14 and (3, 1, 4)
// from it (the change is not pinned nearer); top-k 1 makes the draft tokens
// steps + 1. NGRAM: top-k 10, 12 draft tokens.
func (r *sglangRun) specDefaults() (steps, topK, tokens int) {
	sp := r.s.Spec
	if sp.Method == "ngram" {
		topK, tokens = 10, 12
		if sp.TopK > 0 {
			topK = sp.TopK
		}
		if sp.Tokens > 0 {
			tokens = sp.Tokens
		}
		return max(1, tokens/topK), topK, tokens
	}
	steps, topK, tokens = 5, 4, 8
	switch {
	case sp.Method == "draft_model", sglangAutoDraftPath[r.m.Type], r.m.Type == "gpt_oss":
		steps, topK, tokens = 3, 1, 4
	case r.m.Type == "llama":
	case !r.v.Less(sglangSpecBudgetFrom):
		steps, topK, tokens = 3, 1, 4
	}
	if sp.Steps > 0 {
		steps, topK, tokens = sp.Steps, max(sp.TopK, 1), max(sp.Tokens, sp.Steps+1)
	}
	if topK == 1 {
		tokens = steps + 1
	}
	return steps, topK, tokens
}

// sharedCopies is how many of the target's embedding and head the draft
// first builds copies of (docs/SPECULATIVE.md §5.2): both for an MTP
// layer and for an EAGLE draft without a head of its own, the embedding
// alone for one with its own (EAGLE-3's smaller vocabulary), none for a
// STANDALONE draft or n-grams.
func (r *sglangRun) sharedCopies() int {
	sp := &r.s.Spec
	switch {
	case sp.Method == "mtp":
		return 2
	case sp.Method == "eagle" || sp.Method == "eagle3":
		for _, t := range sp.Draft.checkpointTensors() {
			if classifyTensor(t.Name) == lmHead && len(t.Shape) == 2 && t.Shape[0] != int64(r.m.Vocab) {
				return 1 // a head of its own
			}
		}
		return 2
	}
	return 0
}

// specReserveMiB is the default --mem-fraction-static's reserve for the
// draft before v0.5.14 (docs/SPECULATIVE.md §5.3).
func (r *sglangRun) specReserveMiB() float64 {
	switch m := r.s.Spec.Method; {
	case m == "" || m == "ngram" || !r.v.Less(sglangSpecBudgetFrom):
		return 0
	case m == "draft_model":
		return 6 * 1024
	case !r.v.Less(sglangSpecReserve4From):
		return 4 * 1024
	}
	return 2 * 1024
}

// budgetCell is the cell the pool's tokens are counted in.
func (r *sglangRun) budgetCell() Bytes {
	if !r.spec.scaled {
		return r.cell
	}
	if r.m.IndexHeadDim > 0 {
		return r.cell + r.spec.cell // the DSA variant adds the draft's share
	}
	n := r.m.kvLayers()
	return Bytes(math.Floor(float64(r.cell) * (1 + float64(r.spec.layers)/float64(max(n, 1)))))
}

// specHeadroom is the tokens a release before v0.5.7 adds to the pool for
// the drafts: R·steps·topk + R·draft tokens + 100 (§5.3).
func (r *sglangRun) specHeadroom() int {
	sp := r.s.Spec
	if !sp.On() || sp.Method == "ngram" || !r.v.Less(sglangSpecNoHeadroomFrom) {
		return 0
	}
	reqs := r.specRequests()
	return reqs*r.spec.steps*r.spec.topK + reqs*r.spec.draftTokens + 100
}

// specRequests is max_running_requests as the speculative defaults leave it.
func (r *sglangRun) specRequests() int {
	if r.s.MaxNumSeqs > 0 {
		return r.s.MaxNumSeqs
	}
	return sglangSpecRequests
}

// budgetedDraft is the draft memory resident when the pool is sized: from
// v0.5.14 its weights and placeholders, before it none (§5.3–§5.4).
func (r *sglangRun) budgetedDraft() Bytes {
	if !r.s.Spec.On() || r.v.Less(sglangSpecBudgetFrom) {
		return 0
	}
	return r.spec.weights + r.spec.placeholders
}

// draftOverflows reports a draft that does not fit beside a pool sized
// without it (before v0.5.14): the target's weights and pool, the draft's
// weights and its pool of the same tokens exceed the card.
func (r *sglangRun) draftOverflows(tokens int) bool {
	if !r.s.Spec.On() || !r.v.Less(sglangSpecBudgetFrom) {
		return false
	}
	used := r.preLoad + r.comm + r.weights + Bytes(tokens)*(r.cell+r.spec.cell) + r.spec.weights + r.spec.placeholders
	return used > r.total
}

// specLogLines are the draft worker's lines: its load (placeholders
// included) and its pool of the target's tokens (§5.6).
func (r *sglangRun) specLogLines(tokens int) []string {
	if !r.s.Spec.On() || r.s.Spec.Method == "ngram" {
		return nil
	}
	kv := Bytes(tokens) * r.spec.cell
	lines := []string{fmt.Sprintf("Load weight end. type=%s (draft), mem usage=%.2f GB.", r.s.Spec.Method, (r.spec.weights + r.spec.placeholders).GiBs())}
	if r.m.IsMLA() && r.s.Spec.Method == "mtp" {
		return append(lines, fmt.Sprintf("KV Cache is allocated. #tokens: %d, KV size: %.2f GB", tokens, kv.GiBs()))
	}
	return append(lines, fmt.Sprintf("KV Cache is allocated. #tokens: %d, K size: %.2f GB, V size: %.2f GB", tokens, (kv/2).GiBs(), (kv/2).GiBs()))
}

// specAssumption states how the draft was sized, "" without one.
func (r *sglangRun) specAssumption() string {
	sp := r.s.Spec
	switch {
	case !sp.On():
		return ""
	case sp.Method == "ngram":
		return "speculative decoding (NGRAM): no draft model; max_running_requests defaults to 48"
	case r.v.Less(sglangSpecBudgetFrom):
		reserve := ""
		if m := r.specReserveMiB(); m > 0 && r.s.MemFractionStatic == 0 {
			reserve = fmt.Sprintf(" (the default %.3f reserves %.0f MiB more for it)", r.mfs, m)
		}
		return fmt.Sprintf("speculative decoding (%s; %d steps, top-k %d, %d draft tokens): SGLang %s sizes the pool without the draft, whose weights (%s), KV (%d B per token) and CUDA graphs come out of the --mem-fraction-static slack%s; its graphs are not sized", sp.Method, r.spec.steps, r.spec.topK, r.spec.draftTokens, r.v, r.spec.weights, r.spec.cell, reserve)
	case !r.spec.scaled:
		return fmt.Sprintf("speculative decoding (%s; %d steps, top-k %d, %d draft tokens): the draft's weights (%s) and head placeholders (%s) are budgeted; without --speculative-draft-model-path SGLang %s does not budget its KV (%d B per token), which comes out of the slack; its CUDA graphs are not sized", sp.Method, r.spec.steps, r.spec.topK, r.spec.draftTokens, r.spec.weights, r.spec.placeholders, r.v, r.spec.cell)
	}
	return fmt.Sprintf("speculative decoding (%s; %d steps, top-k %d, %d draft tokens): the draft's weights (%s), head placeholders (%s) and KV (%d B per token) are budgeted; its CUDA graphs are not sized", sp.Method, r.spec.steps, r.spec.topK, r.spec.draftTokens, r.spec.weights, r.spec.placeholders, r.spec.cell)
}
