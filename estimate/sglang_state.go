package estimate

import (
	"cmp"
	"fmt"
	"math"
)

// SGLang's state pool for hybrid models with Mamba2 or gated-delta-net
// layers, as v0.5.18 sizes it (docs/SGLANG-2026.md §2.5, read at
// https://github.com/sgl-project/sglang/blob/v0.5.18/python/sglang/srt/mem_cache/kv_cache_configurator.py#L1970-L2136
// and https://github.com/sgl-project/sglang/blob/v0.5.18/python/sglang/srt/configs/mamba_utils.py#L115-L126).

// sglangStateFrom is the first release whose state pool is modelled: the
// one its source was read at. Earlier releases with state layers are rated
// confidence low (sizedKinds).
var sglangStateFrom = Version{0, 5, 18}

// sglangMambaFullRatio is --mamba-full-memory-ratio's default, 0.9
// (https://github.com/sgl-project/sglang/blob/v0.5.18/python/sglang/srt/server_args.py#L2562-L2569):
// the state pool gets R/(1+R) of what the weights leave.
const sglangMambaFullRatio = 0.9

// sglangSlotsPerRequest is how many state slots one running request takes
// by default: 3 plus 2 for the extra buffer the "auto" radix-cache
// strategy picks with the overlap scheduler (docs/SGLANG-2026.md §2.5,
// MAMBA_CACHE_SIZE_MAX_RUNNING_REQUESTS_RATIO,
// https://github.com/sgl-project/sglang/blob/v0.5.18/python/sglang/srt/mem_cache/kv_cache_configurator.py#L1813-L1842).
const sglangSlotsPerRequest = 5

// v0.5.5 and v0.5.6 size the state pool in ModelRunner.handle_max_mamba_cache
// (https://github.com/sgl-project/sglang/blob/v0.5.5/python/sglang/srt/model_executor/model_runner.py#L1320-L1372,
// the same function at v0.5.6): R/(1+R) of what the weights leave, in
// whole requests of state (of 1 + D with D draft tokens), charged without
// a padding slot, for the "mambaish" models only: Falcon-H1 and Nemotron-H
// (Mamba2), Qwen3-Next (gated delta net) and Kimi-Linear (KDA)
// (https://github.com/sgl-project/sglang/blob/v0.5.5/python/sglang/srt/model_executor/model_runner.py#L1374-L1397).
// The releases between v0.5.6 and v0.5.18 moved the code (pool_configurator.py
// from v0.5.12, kv_cache_configurator.py from v0.5.16) and were not read.
var (
	sglangStateV055  = Version{0, 5, 5}
	sglangStateV055e = Version{0, 5, 7} // the first release after the v0.5.5 form
)

// sglangMambaishV055 are the model types v0.5.5's state pool serves.
var sglangMambaishV055 = map[string]bool{"falcon_h1": true, "nemotron_h": true, "qwen3_next": true, "kimi_linear": true}

// sglangSlotsV055 is v0.5.5's MAMBA_CACHE_SIZE_MAX_RUNNING_REQUESTS_RATIO
// (https://github.com/sgl-project/sglang/blob/v0.5.5/python/sglang/srt/model_executor/model_runner.py#L213),
// applied at https://github.com/sgl-project/sglang/blob/v0.5.5/python/sglang/srt/model_executor/model_runner.py#L1565-L1573.
const sglangSlotsV055 = 3

// sglangStateModelled reports whether this release's state pool is modelled
// for the model's state kind (Mamba2 and gated delta nets; not Mamba1).
func sglangStateModelled(m Model, v Version) bool {
	if m.State.Kind != KindMamba2 && m.State.Kind != KindLinear {
		return false
	}
	return !v.Less(sglangStateFrom) || (sglangStateEarly(v) && sglangMambaishV055[m.Type])
}

// sglangStateEarly reports a release with v0.5.5's state pool.
func sglangStateEarly(v Version) bool { return !v.Less(sglangStateV055) && v.Less(sglangStateV055e) }

// slotsPerRequest is how many state slots one running request takes.
func (r *sglangRun) slotsPerRequest() int {
	switch {
	case r.radixOffV055():
		return 1
	case sglangStateEarly(r.v):
		return sglangSlotsV055
	}
	return sglangSlotsPerRequest
}

// radixOffV055 reports v0.5.5's Mamba2 models and Kimi-Linear, for which
// it turns the radix cache off
// (https://github.com/sgl-project/sglang/blob/v0.5.5/python/sglang/srt/model_executor/model_runner.py#L410-L413,
// https://github.com/sgl-project/sglang/blob/v0.5.5/python/sglang/srt/server_args.py#L1055-L1059):
// their state pool is then --max-running-requests slots, or 512.
func (r *sglangRun) radixOffV055() bool {
	return sglangStateEarly(r.v) && (r.m.Type == "falcon_h1" || r.m.Type == "nemotron_h" || r.m.Type == "kimi_linear")
}

// setupState sizes one request's state when the release's pool is
// modelled for the model.
func (r *sglangRun) setupState() error {
	if r.m.stateLayers() == 0 || !sglangStateModelled(r.m, r.v) {
		return nil
	}
	ssm := r.s.MambaSSMDType
	if ssm == "" && sglangStateEarly(r.v) {
		// v0.5.5 reads only --mamba-ssm-dtype (default float32), not the
		// config (https://github.com/sgl-project/sglang/blob/v0.5.5/python/sglang/srt/configs/mamba_utils.py#L96-L104).
		ssm = F32
	}
	var err error
	r.statePerReq, r.stateConv, err = sglangStatePerRequest(r.m, r.tp, ssm)
	return err
}

// stateAssumption says how the state pool was split and capped.
func (r *sglangRun) stateAssumption() string {
	how := "(--mamba-radix-cache-strategy auto with the overlap scheduler)"
	switch {
	case r.radixOffV055():
		how = "(SGLang " + r.v.String() + " turns the radix cache off for this model and keeps --max-running-requests, or 512, slots)"
	case sglangStateEarly(r.v):
		how = "(MAMBA_CACHE_SIZE_MAX_RUNNING_REQUESTS_RATIO with the radix cache on)"
	}
	return fmt.Sprintf("SGLang's state pool takes %.2f of what the weights leave (--mamba-full-memory-ratio %g) and %d state slots per running request %s", sglangMambaFullRatio/(1+sglangMambaFullRatio), sglangMambaFullRatio, r.slotsPerRequest(), how)
}

// sglangStatePerRequest is one request's state on one of tp ranks over
// every state layer (Mamba2StateShape.create,
// https://github.com/sgl-project/sglang/blob/v0.5.18/python/sglang/srt/configs/mamba_utils.py#L188-L238):
// conv (conv_dim/tp) × (K − 1) in bfloat16 (SGLANG_MAMBA_CONV_DTYPE) and
// (heads/tp) × head_dim × state_size in float32, the config's
// mamba_ssm_dtype, or --mamba-ssm-dtype. A gated delta net maps to it with
// intermediate = Hv·Dv, groups = Hk, heads = Hv, head_dim = Dv, state = Dk
// (https://github.com/sgl-project/sglang/blob/v0.5.18/python/sglang/srt/configs/qwen3_next.py#L288-L313),
// the same bytes as vLLM's layout (vllmStatePage).
func sglangStatePerRequest(m Model, tp int, ssm DType) (per, conv Bytes, err error) {
	st := m.State
	if st.Kind == KindLinear {
		st = State{Kind: KindMamba2, ConvKernel: st.ConvKernel, Inner: st.ValueHeads * st.ValueHeadDim, Groups: st.KeyHeads,
			Heads: st.ValueHeads, HeadDim: st.ValueHeadDim, StateSize: st.KeyHeadDim}
	}
	if ssm == "" {
		ssm = cmp.Or(m.State.SSMDType, F32)
	}
	page, err := vllmStatePage(st, tp, 2, int64(ssm.Bits()/8))
	if err != nil {
		return 0, 0, err
	}
	c, _ := vllmStatePage(st, tp, 2, 0)
	n := Bytes(m.stateLayers())
	return page * n, c * n, nil
}

// carveState takes the state pool out of rest (GiB after the static
// fraction's slack): K = (rest·R/(1+R) − per) // per slots, K + 1 of them
// allocated (one padding slot). It returns what is left for the KV pool.
// With speculative decoding (D draft tokens) the running requests' slots
// also hold D intermediate states: K = (budget − per·(1+D)) //
// (per·(1 + D/ratio)), and per·(min(R, K/ratio) + 1)·D more is charged
// (docs/SPECULATIVE.md §5.5).
func (r *sglangRun) carveState(rest float64) float64 {
	if r.statePerReq == 0 || rest <= 0 {
		return rest
	}
	if sglangStateEarly(r.v) {
		return r.carveStateV055(rest)
	}
	budget := int64(math.Floor(rest * sglangMambaFullRatio / (1 + sglangMambaFullRatio) * float64(GiB)))
	per := int64(r.statePerReq)
	d := int64(0)
	if r.s.Spec.On() {
		d = int64(r.spec.draftTokens)
	}
	ratio := int64(sglangSlotsPerRequest)
	r.stateSlots = int((budget - per*(1+d)) * ratio / (per * (ratio + d)))
	if r.stateSlots <= 0 {
		r.stateSlots = 0
		return 0
	}
	r.specStates = 0
	if d > 0 {
		r.specStates = min(r.specRequests(), r.stateSlots/sglangSlotsPerRequest) + 1
	}
	return rest - float64(int64(r.stateSlots+1)*per+int64(r.specStates)*per*d)/float64(GiB)
}

// carveStateV055 is v0.5.5's carve: K = ⌊⌊rest·R/(1+R)·2^30⌋ / per /
// (1 + D)⌋ slots (--max-running-requests or 512 with the radix cache off),
// K·per·(1 + D) charged (the tensors hold K + 1 slots).
func (r *sglangRun) carveStateV055(rest float64) float64 {
	per := float64(r.statePerReq)
	d := 0.0
	if r.s.Spec.On() {
		d = float64(r.spec.draftTokens)
	}
	raw := rest * sglangMambaFullRatio / (1 + sglangMambaFullRatio) * float64(GiB)
	r.stateSlots = int(math.Floor(math.Floor(raw/per) / (1 + d)))
	if r.radixOffV055() {
		r.stateSlots = cmp.Or(r.s.MaxNumSeqs, 512)
		if r.s.MaxNumSeqs == 0 && !r.quietState {
			r.quietState = true
			r.warn("SGLang %s turns the radix cache off for this model and keeps 512 state slots (%s) unless --max-running-requests sets fewer", r.v, Bytes(512*r.statePerReq))
		}
	}
	r.specStates = 0
	return rest - float64(r.stateSlots)*per*(1+d)/float64(GiB)
}

// stateLine is the state pool's log line (GB = 2^30 bytes).
func (r *sglangRun) stateLine() string {
	conv := float64(r.stateConv) * float64(r.stateSlots+1) / float64(GiB)
	ssm := float64(r.statePerReq-r.stateConv) * float64(r.stateSlots+1) / float64(GiB)
	return fmt.Sprintf("Mamba Cache is allocated. max_mamba_cache_size: %d, conv_state size: %.2fGB, ssm_state size: %.2fGB ", r.stateSlots, conv, ssm)
}

// sglangIndexerCell is DeepSeek-V3.2's sparse-attention indexer in the KV
// cell from v0.5.18 (_compute_dsa_indexer_cell_size,
// https://github.com/sgl-project/sglang/blob/v0.5.18/python/sglang/srt/model_executor/pool_configurator.py#L352-L413):
// index_head_dim fp8 bytes plus a 4-byte scale per 128, one byte each, on
// every layer. The MLA part keeps the --kv-cache-dtype (bfloat16 by default
// below Blackwell, docs/SGLANG-2026.md §2.3).
func sglangIndexerCell(m Model, v Version) Bytes {
	if m.IndexHeadDim == 0 || !m.IsMLA() || v.Less(sglangStateFrom) {
		return 0
	}
	return Bytes(m.kvLayers() * (m.IndexHeadDim + m.IndexHeadDim/128*4))
}

// mmReservationGiB is what v0.5.18 takes out of a multimodal model's KV
// budget for its embedding cache, SGLANG_VLM_CACHE_SIZE_MB = 100 MiB by
// default (mm_runtime_reservation_gb,
// https://github.com/sgl-project/sglang/blob/v0.5.18/python/sglang/srt/mem_cache/kv_cache_configurator.py#L130-L147;
// https://github.com/sgl-project/sglang/blob/v0.5.18/python/sglang/srt/environ.py#L1146); earlier releases
// kept it outside the budget. The GPU feature-transport pools
// (--mm-feature-transport cuda_ipc/cuda_vmm, 1 GiB more) are not modelled.
func (r *sglangRun) mmReservationGiB() float64 {
	if !r.m.Vision || r.v.Less(sglangStateFrom) {
		return 0
	}
	return 100.0 / 1024
}

// reserveV0518 is v0.5.18's reserved memory in MiB (docs/SGLANG-2026.md
// §1.3, server_args.py#L4948-L4996 and reserve_for_graph_mb #L5078-L5118 at
// that tag): 512 + 1.5·max(chunk, 2048) + tp/8·1024 + 2·decode max_bs + the
// prefill CUDA graphs' 8 MiB per captured size (1,536 MiB for MLA), at
// least 10 GiB on cards above 60 GiB; no speculative add-on (§5.4 of
// docs/SPECULATIVE.md). A vision model's prefill graphs are off unless
// SGLang allow-lists it (the list was not read): they are kept and said.
func (r *sglangRun) reserveV0518() float64 {
	reserved := 512 + float64(max(r.chunk, 2048))*1.5 + float64(r.tp)/8*1024 + float64(r.graphBS)*2
	switch {
	case r.m.IsMLA():
		reserved += 1536
	default:
		top := r.chunk
		if c := r.s.SGLangMaxTotalTokens; c > 0 {
			top = min(top, c)
		}
		reserved += 8 * float64(sglangPrefillGraphSizes(top))
	}
	if r.m.Vision {
		r.warn("SGLang %s's default --mem-fraction-static reserves memory for prefill CUDA graphs, which it turns off for vision models it does not allow-list; the reserve is counted here, so the default fraction may be up to about 0.6%% low for this model", r.v)
	}
	if r.gpuMiB > 60*1024 {
		reserved = math.Max(reserved, 10*1024)
	}
	return reserved
}

// sglangPrefillGraphSizes counts v0.5.18's prefill CUDA-graph sizes up to
// maxBS (_generate_prefill_cuda_graph_batch_sizes, server_args.py#L5186-L5203
// at that tag): 4–32 by 4, 48–256 by 16, 288–512 by 32, 576–1024 by 64,
// 1280–4096 by 256, then by 512.
func sglangPrefillGraphSizes(maxBS int) int {
	n := 0
	for _, r := range [...]struct{ from, to, step int }{{4, 32, 4}, {48, 256, 16}, {288, 512, 32}, {576, 1024, 64}, {1280, 4096, 256}, {4608, 1 << 30, 512}} {
		for s := r.from; s <= r.to && s <= maxBS; s += r.step {
			n++
		}
	}
	return n
}
