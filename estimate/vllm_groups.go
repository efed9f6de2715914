package estimate

import (
	"fmt"
	"strconv"
	"strings"
)

// vLLM V1's KV cache groups: how the hybrid allocator shares one pool of
// blocks among full-attention, sliding-window and state layers. The facts
// and the worked examples they were checked against (a v0.22.0 log of
// Qwen3.5-4B: block 528, padding 0.76 %, 163,225 tokens, 159.40x) are in
// docs/VLLM-HYBRID.md; its §-numbers are cited below.

// vllmStateModeFrom is the first release taken to default --mamba-cache-mode
// to "align" (prefix caching on for hybrid models, PR #50991, merged
// after v0.27.1; docs/VLLM-HYBRID.md §2.3). Before it prefix caching is
// off for hybrid models and the mode is "none".
var vllmStateModeFrom = Version{0, 29, 0}

// vllmLogCapacityFrom is the first release that logs the KV size as
// int(max_concurrency × max_model_len) (docs/VLLM-HYBRID.md §3.3, checked
// on a v0.22.0 log; read at
// https://github.com/vllm-project/vllm/blob/v0.21.0/vllm/v1/core/kv_cache_utils.py#L1696-L1710);
// earlier, num_blocks // groups × block_size
// (https://github.com/vllm-project/vllm/blob/v0.20.0/vllm/v1/core/kv_cache_utils.py#L1693-L1698).
var vllmLogCapacityFrom = Version{0, 21, 0}

// setupHybrid sizes the state page, raises the block size so that one
// attention page holds a state page, and groups the layers the way V1's
// hybrid allocator does (_get_kv_cache_groups_uniform_page_size,
// https://github.com/vllm-project/vllm/blob/v0.19.0/vllm/v1/core/kv_cache_utils.py#L959-L1078, group size at
// https://github.com/vllm-project/vllm/blob/v0.19.0/vllm/v1/core/kv_cache_utils.py#L1043-L1054; the original min-only rule,
// https://github.com/vllm-project/vllm/blob/v0.10.0/vllm/v1/core/kv_cache_utils.py#L950-L961): groups of the smallest
// per-kind layer count, or of the largest when it is below hybridMaxRatio
// times the smallest (v0.12.0+), padding layers where a kind does not
// divide, with one warning per padded kind
// (https://github.com/vllm-project/vllm/blob/v0.19.0/vllm/v1/core/kv_cache_utils.py#L1056-L1063).
// KV-shared layers own no pages.
func (r *vllmRun) setupHybrid() error {
	if n := r.m.kvLayers(); n > 0 {
		r.attnPage1 = r.perToken / Bytes(n)
	}
	if r.m.stateLayers() > 0 {
		if !r.prof.hybridGroups {
			// Before the hybrid allocator (V0, V1 < v0.10) Mamba state lived
			// in a cache of its own beside the KV pool.
			r.unmodelled = append(r.unmodelled, "vLLM "+r.prof.v.String()+"'s Mamba cache outside the KV pool (the hybrid allocator sizes state from v0.10)")
		}
		if err := r.setupState(); err != nil {
			return err
		}
	}
	if !r.prof.hybridGroups || (len(r.m.Kinds) == 0 && len(r.m.LayerTypes) == 0) {
		return nil // one kind of layer: no groups
	}
	order, counts, nb := r.buckets()
	if nb < 2 {
		return nil
	}
	lo, hi := counts[0], counts[0]
	for _, n := range counts[1:nb] {
		lo, hi = min(lo, n), max(hi, n)
	}
	gs := lo
	if r.prof.hybridMaxRatio > 0 && float64(hi) < float64(lo)*r.prof.hybridMaxRatio {
		gs = hi
	}
	r.groupSize = gs
	for j, b := range order[:nb] {
		n := counts[j]
		for range ceilDiv64(int64(n), int64(gs)) {
			r.groupKinds = append(r.groupKinds, b)
		}
		if pad := gs - n%gs; pad != gs && !r.quiet {
			r.warn("vLLM pads a KV group: Add %d padding layers, may waste at most %.2f%% KV cache memory", pad, 100*float64(pad)/float64(n))
		}
	}
	r.groups = len(r.groupKinds)
	return nil
}

// buckets are the kinds the layers group by, in layer order, with their
// counts; nb of the four are used. Counted without allocating: Run does
// this for every estimate.
func (r *vllmRun) buckets() (order [4]LayerKind, counts [4]int, nb int) {
	for i := range r.m.cacheModules() {
		b := vllmBucket(r.m.kindAt(i))
		if b == KindChunked && r.prof.v.Less(vllmChunkedFrom) {
			b = KindFull
		}
		if b == "" {
			continue
		}
		j := 0
		for j < nb && order[j] != b {
			j++
		}
		if j == nb {
			order[j], nb = b, nb+1
		}
		counts[j]++
	}
	return order, counts, nb
}

// vllmChunkedFrom is the first release taken to keep chunked local
// attention in the hybrid allocator by default: PR #21761 (≈ v0.10.1) took
// it out (VLLM_ALLOW_CHUNKED_LOCAL_ATTN_WITH_HYBRID_KV_CACHE=0) and PR
// #29627 put it back, a release of late 2025 taken as v0.13.0
// (docs/VLLM-HYBRID.md §6). Before, chunked layers are sized as full.
var vllmChunkedFrom = Version{0, 13, 0}

// vllmBucket is the spec a layer of kind k is grouped by: MLA with full
// attention (a model has one or the other), every state kind together, ""
// for a layer without pages of its own.
func vllmBucket(k LayerKind) LayerKind {
	switch k {
	case KindMLA, KindFull:
		return KindFull
	case KindSliding, KindChunked:
		return k
	case KindMamba, KindMamba2, KindLinear:
		return KindMamba
	}
	return ""
}

// setupState sizes one state layer's page (docs/VLLM-HYBRID.md §1.4) and
// aligns the block size to it (§2.2): block = A · ⌈state page / (A ·
// attention page per token)⌉ when that exceeds the block size (A is
// stateAlign's), the state page then padded to block · attention page per
// token.
func (r *vllmRun) setupState() error {
	conv, ssm := r.stateDTypes()
	st := r.m.State
	if st.Kind != KindMamba && st.Mixer == "" && r.s.Spec.On() {
		// A Mamba2 or gated delta net conv state keeps num_speculative_tokens
		// more rows (docs/SPECULATIVE.md §3.3). KDA's does not up to v0.21
		// (kda_state_shape takes num_spec and ignores it,
		// https://github.com/vllm-project/vllm/blob/v0.21.0/vllm/model_executor/layers/mamba/mamba_utils.py#L236-L267;
		// vLLM main adds the rows from 2026-06-04, a release not pinned),
		// and lightning attention has no conv state.
		st.ConvKernel += r.s.Spec.Tokens
	}
	page, err := vllmStatePage(st, r.tp, conv, ssm)
	if err != nil {
		return err
	}
	r.statePage = page
	r.stateBlocks = 1
	mode := "none"
	if r.s.MambaCacheMode == "align" || (r.s.MambaCacheMode == "" && !r.prof.v.Less(vllmStateModeFrom)) {
		r.stateBlocks, mode = 2, "align"
	}
	// MambaSpec(num_speculative_blocks=k): a request holds k more state
	// blocks (docs/SPECULATIVE.md §3.3).
	r.stateBlocks += r.s.Spec.Tokens
	if r.s.MambaCacheMode == "" && !r.quiet {
		r.note("vLLM " + r.prof.v.String() + "'s --mamba-cache-mode " + mode + " is assumed (each running request holds " + strconv.Itoa(r.stateBlocks) + " state block(s) per state group); the release that turned prefix caching on for hybrid models by default is not pinned (docs/VLLM-HYBRID.md §2.3)")
	}
	if r.attnPage1 <= 0 {
		return nil
	}
	align := r.stateAlign()
	need := int(ceilDiv64(int64(page), int64(align)*int64(r.attnPage1))) * align
	if need > r.bs {
		r.bs, r.blockRaised = need, true
	}
	return nil
}

// stateDTypes are the element bytes of the conv and the recurrent state
// (MambaStateDtypeCalculator, docs/VLLM-HYBRID.md §1.2): the model dtype
// for both, the recurrent one --mamba-ssm-cache-dtype when given or the
// config's for the families vLLM reads it for. KDA's recurrent state is
// float32 whatever the flags (kda_state_dtype,
// https://github.com/vllm-project/vllm/blob/v0.21.0/vllm/model_executor/layers/mamba/mamba_utils.py#L118-L125),
// lightning attention's one state the model dtype
// (linear_attention_state_dtype, same file #L52-L59).
func (r *vllmRun) stateDTypes() (conv, ssm int64) {
	conv, ssm = r.elt, r.elt
	mixer := r.m.State.Mixer
	switch {
	case mixer != "":
		if mixer == MixerKDA {
			ssm = 4
		}
		if r.s.MambaSSMDType != "" && !r.quiet {
			r.note("--mamba-ssm-cache-dtype " + string(r.s.MambaSSMDType) + " is ignored: vLLM keeps " + pick(mixer == MixerKDA, "Kimi-Linear's KDA recurrent state in float32", "MiniMax's lightning-attention state in the model dtype") + " whatever it says")
		}
	case r.s.MambaSSMDType != "":
		ssm = int64(r.s.MambaSSMDType.Bits() / 8)
	case r.m.State.SSMDType != "" && (r.m.Type == "nemotron_h" || strings.HasPrefix(r.m.Type, "qwen3_5")):
		// The config's own state dtype, which vLLM applies for these
		// families only (Qwen3.5's mamba_ssm_dtype, Nemotron-H's
		// mamba_ssm_cache_dtype; docs/VLLM-HYBRID.md §1.2).
		ssm = int64(r.m.State.SSMDType.Bits() / 8)
	case r.m.Type == "nemotron_h":
		// NemotronHForCausalLMConfig: float32 when the config names none
		// (DEFAULT_MAMBA_SSM_CACHE_DTYPE, docs/VLLM-HYBRID.md §1.2).
		ssm = 4
	}
	return conv, ssm
}

// vllmKernelAlignFrom is the first release that aligns a hybrid's
// attention block to the chosen backend's kernel block size (Platform.
// _align_hybrid_block_size,
// https://github.com/vllm-project/vllm/blob/v0.20.0/vllm/platforms/interface.py#L575-L584).
var vllmKernelAlignFrom = Version{0, 20, 0}

// stateAlign is the alignment A of a hybrid's attention block. Without
// MLA it is the larger of 16 and --block-size. With MLA, releases before
// vllmKernelAlignFrom take 64, or 128 with CUTLASS_MLA
// (HybridAttentionMambaModelConfig,
// https://github.com/vllm-project/vllm/blob/v0.19.0/vllm/model_executor/models/config.py#L200-L216;
// the release that brought this rule was not read and it is applied to
// every earlier one); later ones the larger of the MLA backend's smallest
// kernel block size (vllmMLAKernelMin) and the block size the backend
// chose (https://github.com/vllm-project/vllm/blob/v0.21.0/vllm/platforms/interface.py#L614-L622).
func (r *vllmRun) stateAlign() int {
	switch {
	case !r.m.IsMLA():
		return max(16, r.s.BlockSize)
	case r.prof.v.Less(vllmKernelAlignFrom):
		return pick(r.attention == "CUTLASS_MLA", 128, 64)
	}
	return max(vllmMLAKernelMin(r.attention), r.bs)
}

// vllmMLAKernelMin is an MLA backend's smallest kernel block size
// (get_supported_kernel_block_sizes, v0.21.0): FLASH_ATTN_MLA and
// TRITON_MLA MultipleOf(16)
// (https://github.com/vllm-project/vllm/blob/v0.21.0/vllm/v1/attention/backends/mla/flashattn_mla.py#L52-L53,
// https://github.com/vllm-project/vllm/blob/v0.21.0/vllm/v1/attention/backends/mla/triton_mla.py#L45-L46),
// FLASHINFER_MLA [32, 64]
// (https://github.com/vllm-project/vllm/blob/v0.21.0/vllm/v1/attention/backends/mla/flashinfer_mla.py#L49-L50),
// FLASHMLA [64]
// (https://github.com/vllm-project/vllm/blob/v0.21.0/vllm/v1/attention/backends/mla/flashmla.py#L58-L59),
// CUTLASS_MLA [128]
// (https://github.com/vllm-project/vllm/blob/v0.21.0/vllm/v1/attention/backends/mla/cutlass_mla.py#L49-L50).
func vllmMLAKernelMin(backend string) int {
	switch backend {
	case "FLASHINFER_MLA":
		return 32
	case "FLASHMLA":
		return 64
	case "CUTLASS_MLA":
		return 128
	}
	return 16
}

// vllmStatePage is one state layer's state per sequence on one of tp ranks
// (MambaStateShapeCalculator, docs/VLLM-HYBRID.md §1.3–1.4), conv and ssm
// the two tensors' element bytes:
//
//	Mamba:  (K−1)·I/tp·conv + I/tp·N·ssm
//	Mamba2: (K−1)·(I + 2·G'·N)/tp·conv + H/tp·P·N·ssm, G' = G, or tp when tp does not divide G
//	GDN:    (K−1)·(2·Hk·Dk + Hv·Dv)/tp·conv + Hv/tp·Dv·Dk·ssm
//
// vLLM divides exactly; a tp that does not divide the heads is refused.
func vllmStatePage(st State, tp int, conv, ssm int64) (Bytes, error) {
	t := int64(tp)
	k1 := int64(st.ConvKernel - 1)
	switch st.Kind {
	case KindMamba:
		i := int64(st.Inner)
		if i%t != 0 {
			return 0, fmt.Errorf("%w: the Mamba inner width %d is not divisible by --tensor-parallel-size %d", ErrInvalid, i, tp)
		}
		return Bytes(k1*i/t*conv + i/t*int64(st.StateSize)*ssm), nil
	case KindMamba2:
		g := int64(st.Groups)
		if g%t != 0 {
			g = t
		}
		width := int64(st.Inner) + 2*g*int64(st.StateSize)
		if width%t != 0 || int64(st.Heads)%t != 0 {
			return 0, fmt.Errorf("%w: the Mamba2 heads (%d) are not divisible by --tensor-parallel-size %d", ErrInvalid, st.Heads, tp)
		}
		return Bytes(k1*width/t*conv + int64(st.Heads)/t*int64(st.HeadDim)*int64(st.StateSize)*ssm), nil
	case KindLinear:
		width := 2*int64(st.KeyHeads*st.KeyHeadDim) + int64(st.ValueHeads*st.ValueHeadDim)
		if width%t != 0 || int64(st.ValueHeads)%t != 0 {
			return 0, fmt.Errorf("%w: the gated delta net heads (%d value heads) are not divisible by --tensor-parallel-size %d", ErrInvalid, st.ValueHeads, tp)
		}
		return Bytes(k1*width/t*conv + int64(st.ValueHeads)/t*int64(st.ValueHeadDim*st.KeyHeadDim)*ssm), nil
	}
	return 0, fmt.Errorf("%w: state layers of kind %q", ErrUnsupported, st.Kind)
}

// vllmStateCheckFrom is the first release taken to refuse a max_num_seqs
// above the pool's blocks for a model with state layers (PR #38270, merged
// 2026-03-30 between v0.19.0 and v0.20.0; present in every later release
// reported, docs/VLLM-HYBRID.md §4.2). v0.17 – v0.19 capped the CUDA-graph
// capture sizes instead (PR #34571), with a warning.
var vllmStateCheckFrom = Version{0, 20, 0}

// stateBlockCheck reports whether the start refuses max_num_seqs above the
// pool's blocks: state layers, full CUDA graphs (not --enforce-eager) and
// a release with the check.
func (r *vllmRun) stateBlockCheck() bool {
	return r.statePage > 0 && r.prof.v1 && !r.s.EnforceEager && !r.prof.v.Less(vllmStateCheckFrom)
}

// checkStateBlocks applies the check that every decode sequence of a full
// CUDA graph has a state block: max_num_seqs ≤ num_blocks
// (GPUModelRunner._check_and_update_cudagraph_mode, docs/VLLM-HYBRID.md §4.1).
func (r *vllmRun) checkStateBlocks(st *vllmStart) {
	seqs := r.seqsAt(st.mnbt)
	if !r.stateBlockCheck() || int64(seqs) <= st.numBlocks {
		return
	}
	st.fail = FailureStateBlocks
	if !r.quiet {
		st.msg = fmt.Sprintf("max_num_seqs (%d) exceeds available Mamba cache blocks (%d). Each decode sequence requires one Mamba cache block, so CUDA graph capture cannot proceed. Please lower max_num_seqs to at most %d or increase gpu_memory_utilization.", seqs, st.numBlocks, st.numBlocks)
	}
}

// boundarySeqs is the largest --max-num-seqs that starts with the resolved
// max_model_len when the state check applies (0 otherwise): the sampler's
// dummy batch and the CUDA graphs grow with max_num_seqs, so each
// candidate is a start of its own.
func (r *vllmRun) boundarySeqs() int {
	if !r.stateBlockCheck() {
		return 0
	}
	quiet := r.prof
	quiet.quiet = true
	trial := func(n int) vllmStart {
		s := r.s
		s.MaxNumSeqs = n
		c, err := newVLLMRun(r.m, r.hw, s, quiet)
		if err != nil {
			return vllmStart{fail: "error"}
		}
		st := c.start(c.mml, 0)
		c.check(&st)
		return st
	}
	starts := func(n int) bool { return trial(n).fail == "" }
	lo, hi := 0, 1<<16
	// The edge is where max_num_seqs meets the pool's blocks, which shrink
	// almost linearly as max_num_seqs grows (graph and penalty memory):
	// a secant step from this run's own max_num_seqs lands on or beside
	// it, and a gallop from there brackets it for the bisection below.
	// Any guess is only a start: the bracket is checked.
	own := r.start(r.mml, 0)
	n0, b0 := r.seqsAt(own.mnbt), own.numBlocks
	if b0 > 0 {
		guess := min(int(b0), hi)
		if n1 := guess; n1 != n0 {
			f0, f1 := b0-int64(n0), trial(n1).numBlocks-int64(n1)
			if f1 != f0 {
				guess = n1 - int(f1*int64(n1-n0)/(f1-f0))
			}
		}
		if own.mnbt > 0 {
			// SchedulerConfig refuses max_num_seqs above
			// max_num_batched_tokens (vllm.go's check), so a model whose
			// state is small meets that first.
			guess = min(guess, own.mnbt)
		}
		lo, hi = bracket(starts, min(max(guess, 1), hi), hi)
	}
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if starts(mid) {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo
}

// bracket narrows [0, hi] around the largest n ≥ 1 with starts(n) (0
// when none), galloping out from guess; starts holds up to the edge and
// not past it. It returns lo, which starts (or is 0), and hi ≥ lo.
func bracket(starts func(int) bool, guess, hi int) (int, int) {
	lo := 0
	if starts(guess) {
		lo = guess
		for step := 1; lo < hi; step *= 2 {
			next := min(lo+step, hi)
			if !starts(next) {
				return lo, next - 1
			}
			lo = next
		}
		return lo, hi
	}
	hi = guess - 1
	for step := 1; hi > lo; step *= 2 {
		next := max(hi-step, 1)
		if next > hi {
			break
		}
		if starts(next) {
			return next, hi
		}
		hi = next - 1
	}
	return lo, hi
}

// maxSequences is how many sequences the state pool lets run at once: one
// block per running request for the start to pass the state check, and
// no more than the pool holds of the smallest request (1 token).
func (r *vllmRun) maxSequences(st vllmStart) int {
	if r.statePage == 0 || st.numBlocks <= 0 {
		return 0
	}
	per := r.blocksPerRequest(1, st.mnbt)
	if per <= 0 {
		return 0
	}
	return int(st.numBlocks / per)
}

// pageBytes is one layer's page: block size × attention bytes per token
// (a state page is padded to it).
func (r *vllmRun) pageBytes() Bytes {
	if r.attnPage1 == 0 {
		return r.statePage
	}
	return Bytes(r.bs) * r.attnPage1
}

// blockBytes is the memory of one block id of the pool: a page per layer,
// or with groups a page for each of group_size layers (§3.2).
func (r *vllmRun) blockBytes() Bytes {
	if r.groupSize > 0 {
		return r.pageBytes() * Bytes(r.groupSize)
	}
	return Bytes(r.bs) * r.perToken
}

// tokensOf is the logged token count of a start: from
// vllmLogCapacityFrom int(num_blocks / blocks per request × max_model_len)
// (§3.3), before it blocks × block size, or with groups num_blocks //
// groups × block size (docs/ENGINES-REVIEW-VLLM.md §4).
func (r *vllmRun) tokensOf(st vllmStart) int {
	if r.prof.v1 && !r.prof.v.Less(vllmLogCapacityFrom) {
		if per := r.blocksPerRequest(st.mml, st.mnbt); per > 0 {
			return int(float64(st.numBlocks) / float64(per) * float64(st.mml))
		}
	}
	if r.groupSize > 0 {
		return int(st.numBlocks/int64(r.groups)) * r.bs
	}
	return int(st.numBlocks) * r.bs
}

// blocksPerRequest is how many pool blocks one request of n tokens takes:
// per group ⌈n/bs⌉ (full), ⌈min(n, window − 1 + mnbt)/bs⌉ + 1 (sliding),
// ⌈min(n, chunk + mnbt)/bs⌉ (chunked), the mode's state blocks (state).
func (r *vllmRun) blocksPerRequest(n int, mnbt int) int64 {
	if r.groupSize == 0 {
		return ceilDiv64(int64(n), int64(r.bs))
	}
	var per int64
	for _, k := range r.groupKinds {
		switch k {
		case KindFull:
			per += ceilDiv64(int64(n), int64(r.bs))
		case KindSliding:
			sw := n
			if r.m.SlidingWindow > 0 {
				sw = min(n, r.m.SlidingWindow-1+mnbt)
			}
			per += ceilDiv64(int64(sw), int64(r.bs)) + 1
		case KindChunked:
			per += ceilDiv64(int64(min(n, r.m.AttentionChunk+mnbt)), int64(r.bs))
		case KindMamba:
			per += int64(r.stateBlocks)
		}
	}
	return per
}

// neededBytes is V1's max_memory_usage_bytes for one request of mml tokens:
// cdiv(max_model_len, block_size) pages for full attention
// (https://github.com/vllm-project/vllm/blob/v0.19.0/vllm/v1/kv_cache_interface.py#L113-L121), (cdiv(min(window − 1 +
// mnbt, mml), block_size) + 1) for a sliding window
// (https://github.com/vllm-project/vllm/blob/v0.19.0/vllm/v1/kv_cache_interface.py#L251-L270), group_size·page per block
// with hybrid groups (https://github.com/vllm-project/vllm/blob/v0.19.0/vllm/v1/core/kv_cache_utils.py#L1332-L1367).
// Decode/prefill context-parallel divisors are not modelled.
func (r *vllmRun) neededBytes(mml, mnbt int) Bytes {
	return Bytes(r.blocksPerRequest(mml, mnbt)) * r.blockBytes()
}

// stateBytesPerSequence is the state one running request holds on one
// rank: every state layer's (padded) page, times the mode's blocks.
func (r *vllmRun) stateBytesPerSequence() Bytes {
	if r.statePage == 0 {
		return 0
	}
	return Bytes(r.m.stateLayers()*r.stateBlocks) * r.pageBytes()
}

// hybridLogLines are the block-size lines of a model with state layers (§2.2).
func (r *vllmRun) hybridLogLines() []string {
	if !r.blockRaised {
		return nil
	}
	lines := []string{"Setting attention block size to " + strconv.Itoa(r.bs) + " tokens to ensure that attention page size is >= mamba page size."}
	if pad := r.pageBytes() - r.statePage; pad > 0 {
		lines = append(lines, "Padding mamba page size by "+fixed2(100*float64(pad)/float64(r.statePage))+"% to ensure that mamba page size and attention page size are exactly equal.")
	}
	return lines
}

// sparseIndexer sizes DeepSeek-V3.2's sparse attention (docs/VLLM-HYBRID.md
// §5.1): the MLA cache defaults to fp8_ds_mla, 656 B per token and layer,
// and every layer adds its indexer's keys, index_head_dim fp8 bytes plus a
// 4-byte scale per 128, in the same group; FlashMLA-sparse uses blocks of 64.
func (r *vllmRun) sparseIndexer() {
	if r.m.IndexHeadDim == 0 || !r.m.IsMLA() {
		return
	}
	layers := Bytes(r.m.kvLayers())
	if r.s.KVCacheDType == "" {
		r.perToken = layers * 656
	}
	r.perToken += layers * Bytes(r.m.IndexHeadDim+r.m.IndexHeadDim/128*4)
	if r.s.BlockSize == 0 {
		r.bs = 64
	}
}

// marlinPadding is what vLLM's Marlin MXFP4 MoE path adds to the experts on
// GPUs without native FP4 below compute capability 9.0 (A100, A10, L4,
// L40S, RTX 30/40): each expert's intermediate width per rank is rounded up
// to a multiple of 128 and the hidden size to 256, and the packed weights
// and scales are allocated at the padded size (Mxfp4MoEMethod.create_weights,
// docs/VLLM-RELEASES-2026.md §9). Hopper's and Blackwell's kernels pad
// differently; not modelled there (said in a warning).
func (r *vllmRun) marlinPadding(tensors []Tensor) Bytes {
	if r.m.QuantMethod != "mxfp4" || r.m.Experts == 0 {
		return 0
	}
	cc := r.hw.GPU.ComputeCapability
	if cc == 0 || cc >= 90 {
		r.note("MXFP4 experts are counted as stored; below compute capability 9.0 vLLM's Marlin kernel pads them (about +9 % for gpt-oss), and on this GPU its padding is not modelled")
		return 0
	}
	h, i := int64(r.m.Hidden), int64(r.m.ExpertWidth())/int64(r.tp)
	hp, ip := ceilDiv64(h, 256)*256, ceilDiv64(i, 128)*128
	var stored int64
	for _, t := range tensors {
		if strings.Contains(t.Name, "experts.") && (strings.HasSuffix(t.Name, "_blocks") || strings.HasSuffix(t.Name, "_scales")) {
			stored += t.Bytes()
		}
	}
	per := stored / int64(r.tp)
	return Bytes(per*hp*ip/(h*i) - per)
}

// pick is c ? a : b.
func pick[T any](c bool, a, b T) T {
	if c {
		return a
	}
	return b
}
