package estimate

import (
	"cmp"
	"fmt"
	"math"
	"strings"
)

// SGLang citations are pinned URLs into github.com/sgl-project/sglang at a
// release tag with line anchors; "sglang#N" names a pull request there as
// history. docs/ENGINES.md §7 and docs/ENGINES-REVIEW-VLLM.md §7 are the spec
// and its review.

// DefaultSGLangVersion is the release assumed when none is given: v0.5.18,
// the newest release whose memory code was read for issue 11
// (docs/SGLANG-2026.md): --mem-fraction-static from the card when unset,
// the hybrid state pool and the sparse indexer in the KV cell, and the
// model classes of Qwen3.5, Granite-4.0-H, Gemma 4 and DeepSeek-V4
// (served.go), which v0.5.5 (the default before issue 11, the first with
// the reserve formula of sglang#10975) lacks.
const DefaultSGLangVersion = "0.5.18"

// SGLang runtime terms: device memory in use before the weights load, which
// SGLang's "total" (the free memory after distributed init) leaves out.
const (
	// sglangPreLoadEarly, sglangPreLoadMid and sglangPreLoad are the CUDA
	// context and cuBLAS init of one rank: SGLang logs "Load weight begin.
	// avail mem=78.81 GB" on a 79.18 GiB H100 at TP 1 in January 2025 builds
	// (0.37 GiB used; testdata/startup_reports_extra.csv row 1024), 1.75 GiB
	// used at TP 8 in September 2025 of which "Init torch distributed ends.
	// mem usage=1.25 GB" (0.50 GiB context), and 78.43–78.48 GB at TP 1 in
	// 2026 builds (0.72 GiB). Limitation: the TP-8 and 2026 figures come from
	// public SGLang CI and issue logs that were read but not pinned; no copy
	// of them is in this repository.
	sglangPreLoadEarly = 379 * MiB
	sglangPreLoadMid   = 512 * MiB
	sglangPreLoad      = 737 * MiB
	// sglangDistInit is the distributed init at TP ≥ 2 on NVSwitch boards
	// (NCCL with NVLink SHARP buffers, custom all-reduce): the 1.25 GB of
	// that September 2025 TP-8 log. Elsewhere vllmCommPlain.
	sglangDistInit = 1280 * MiB
)

// sglangEra is how a release defaults --mem-fraction-static.
type sglangEra int

const (
	// By TP size (sglangTPFraction), up to v0.4.7; from v0.4.6 cards above
	// 80 GiB take other formulas (sglangLargeCardFraction).
	sglangEraTP sglangEra = iota
	// By GPU memory (sglang#7054, merged 2025-06-10; first tagged in
	// v0.4.7.post1, which ParseVersion cannot name, so v0.4.8 here): reserved
	// = 2.8 + tp/10 GiB below 35 GiB, 9.5 + tp/2 below 90 GiB, 12 + tp/2
	// below 160 GiB, else 32 GiB; mfs = round((mem − reserved)/mem, 3)
	// (https://github.com/sgl-project/sglang/blob/v0.4.8/python/sglang/srt/server_args.py#L284-L315;
	// tp stands for tp·pp, pipeline parallelism is not modelled, nor the +2
	// GiB for speculative decoding and +4 GiB for DP attention).
	sglangEraBuckets
	// Reserve formula (sglang#10975, merged 2025-09-29, first in v0.5.3,
	// https://github.com/sgl-project/sglang/blob/v0.5.3/python/sglang/srt/server_args.py#L639-L672):
	// in MiB, 512 + max(chunked_prefill_size, 2048)·1.5 + cuda_graph_max_bs·2
	// + tp·pp/8·1024, at least 10 GiB on cards above 60 GiB,
	// mfs = round((mem − reserved)/mem, 3)
	// (https://github.com/sgl-project/sglang/blob/v0.5.5/python/sglang/srt/server_args.py#L785-L823;
	// the DP-attention and speculative add-ons are not modelled).
	sglangEraReserve
)

type sglangRun struct {
	m   Model
	hw  Hardware
	s   Settings
	v   Version
	era sglangEra
	tp  int

	total   Bytes
	gpuMiB  int
	mfs     float64
	chunk   int
	graphBS int
	ctxLen  int
	page    int
	cell    Bytes
	kvElt   int
	elt     int64
	weights Bytes
	preLoad Bytes // CUDA context before the weights
	comm    Bytes // distributed init at TP ≥ 2
	// statePerReq is one request's state over every state layer (conv
	// part stateConv); stateSlots the state pool's slots (sglang_state.go).
	statePerReq, stateConv Bytes
	stateSlots             int
	// quietState: v0.5.5's fixed state pool was warned about once.
	quietState bool
	// specStates is the requests' slots that hold the speculative
	// intermediate states (sglang_state.go).
	specStates int
	// spec is the speculative draft (sglang_spec.go).
	spec     sglangSpec
	warnings []string
	// unmodelled names what this start does that is not sized (Result.unmodelled).
	unmodelled []string
}

func (r *sglangRun) warn(format string, a ...any) {
	if len(a) == 0 {
		r.warnings = append(r.warnings, format)
		return
	}
	r.warnings = append(r.warnings, fmt.Sprintf(format, a...))
}

// sglangSizer is SGLang's sizer (engine.go).
type sglangSizer struct{}

func (sglangSizer) info() EngineInfo {
	return EngineInfo{Name: "sglang", Title: "SGLang", DefaultVersion: DefaultSGLangVersion, Oldest: "0.1.0", Newest: "0.5.x"}
}

func (sglangSizer) kvBytesPerToken(m Model, ws, elt int) (Bytes, error) {
	return servingKVBytesPerToken(m, ws, elt), nil
}

// sglangNewestRead is the newest SGLang release whose source vramcalc
// models (docs/SGLANG-2026.md, read at tag v0.5.18).
var sglangNewestRead = Version{0, 5, 18}

func (z sglangSizer) run(m Model, hw Hardware, ver string, s Settings) (Result, error) {
	v, err := parseRelease(z.info(), ver)
	if err != nil {
		return Result{}, err
	}
	tp, err := servingTP(m, hw, s)
	if err != nil {
		return Result{}, err
	}
	elt, kvElt, err := servingDTypes(s)
	if err != nil {
		return Result{}, err
	}
	r := &sglangRun{m: m, hw: hw, s: s, v: v, tp: tp, total: hw.GPU.TotalBytes, elt: elt, kvElt: kvElt}
	r.era = sglangEraFor(v)
	r.gpuMiB = hw.GPU.SMITotalMiB
	if r.gpuMiB == 0 {
		r.gpuMiB = int(hw.GPU.TotalBytes / MiB)
	}
	r.resolveDefaults()
	if err := r.setupCell(); err != nil {
		return Result{}, err
	}
	r.page = max(s.BlockSize, 1)
	r.ctxLen = s.MaxModelLen
	if r.ctxLen == 0 {
		r.ctxLen = s.MaxTotalTokens
	}
	if r.ctxLen == 0 {
		r.ctxLen = sglangContextLen(m)
	}
	tensors := m.checkpointTensors()
	if r.weights, err = servingWeights(m, tensors, tp, s, int(elt*8)); err != nil {
		return Result{}, err
	}
	if err := r.setupSpec(); err != nil {
		return Result{}, err
	}
	if err := r.setupState(); err != nil {
		return Result{}, err
	}
	// What the launches or a calibration show in use beyond the model is
	// taken as there before SGLang measures the card (memory before the
	// weights): it lowers both the total and the free memory.
	r.preLoad = max(0, sglangPreLoadFor(v)+s.ExtraOverheadBytes+s.Corrections.overhead())
	if sglangNewestRead.Less(v) {
		// Releases after the newest tag read (docs/SGLANG-2026.md).
		r.warn("SGLang %s is newer than the newest release vramcalc has read (v%s): its sizing is taken as v%s's", v, sglangNewestRead, sglangNewestRead)
	}
	if tp > 1 {
		r.comm = vllmCommPlain
		if nvlsBoard(hw.GPU) {
			r.comm = sglangDistInit
		}
		r.warn("SGLang's total is the free memory after distributed init; at TP %d NCCL and all-reduce buffers take %s per GPU here (interconnect-dependent)", tp, r.comm)
	}
	return r.result(Engine{Name: "sglang", Version: ver}), nil
}

// sglangPreLoadFor is the memory a release takes before the weights.
func sglangPreLoadFor(v Version) Bytes {
	switch {
	case !v.AtLeast(0, 4, 2):
		return sglangPreLoadEarly
	case !v.AtLeast(0, 5, 5):
		return sglangPreLoadMid
	}
	return sglangPreLoad
}

// setupCell sizes the pool's cell: the KV per token of the element type
// or of a format (kvformat.go), and DeepSeek-V3.2's indexer.
func (r *sglangRun) setupCell() error {
	r.cell = servingKVBytesPerToken(r.m, r.tp, r.kvElt)
	if isKVFormat(r.s.KVCacheDType) {
		var err error
		if r.cell, err = r.sglangKVFormat(); err != nil {
			return err
		}
	}
	r.cell += sglangIndexerCell(r.m, r.v)
	return nil
}

// resolveDefaults fills chunked_prefill_size, cuda_graph_max_bs and
// mem_fraction_static for the release and card. gpu_mem is nvidia-smi's
// memory.total in MiB, the minimum over every GPU nvidia-smi lists (it is
// run without -i, so GPUs outside CUDA_VISIBLE_DEVICES count too;
// get_nvgpu_memory_capacity,
// https://github.com/sgl-project/sglang/blob/v0.5.5/python/sglang/srt/utils/common.py#L1514-L1545,
// read at https://github.com/sgl-project/sglang/blob/v0.5.5/python/sglang/srt/server_args.py#L579);
// here the card of the estimate. Not modelled: the fallbacks when gpu_mem is
// unknown (chunk 4096, cuda_graph_max_bs 160, mfs 0.88).
func (r *sglangRun) resolveDefaults() {
	r.chunk, r.graphBS = sglangBuckets(r.era, r.v, r.gpuMiB, r.tp)
	if r.s.ChunkedPrefillSize > 0 {
		r.chunk = r.s.ChunkedPrefillSize
	}
	r.mfs = r.s.MemFractionStatic
	if r.mfs > 0 {
		return
	}
	mem, g, tp := r.gpuMiB, float64(r.gpuMiB), r.tp
	switch r.era {
	case sglangEraReserve:
		reserved := 512 + float64(max(r.chunk, 2048))*1.5 + float64(r.graphBS)*2 + float64(tp)/8*1024
		if mem > 60*1024 {
			reserved = math.Max(reserved, 10*1024)
		}
		reserved += r.specReserveMiB()
		if !r.v.Less(sglangStateFrom) {
			reserved = r.reserveV0518()
		}
		r.mfs = math.Round((g-reserved)/g*1000) / 1000
	case sglangEraBuckets:
		var reservedGiB float64
		switch {
		case mem < 35*1024:
			reservedGiB = 2.8 + float64(tp)/10
		case mem < 90*1024:
			reservedGiB = 9.5 + float64(tp)/2
		case mem < 160*1024:
			reservedGiB = 12 + float64(tp)/2
		default:
			reservedGiB = 32
		}
		r.mfs = math.Round((g-reservedGiB*1024)/g*1000) / 1000
	default:
		r.mfs = sglangTPFraction(r.v, tp)
		if f, ok := sglangLargeCardFraction(r.v, mem); ok {
			r.mfs = f
		}
		if !r.v.AtLeast(0, 1, 23) {
			r.warn("SGLang %s used other --mem-fraction-static tables than v0.1.23's, which is assumed here", r.v)
		}
	}
	if r.m.Vision {
		r.adjustForVLM()
	}
}

// adjustForVLM lowers the default --mem-fraction-static of a vision model
// as adjust_mem_fraction_for_vlm does
// (https://github.com/sgl-project/sglang/blob/v0.5.5/python/sglang/srt/server_args.py#L3929-L3965,
// called for the default fraction only at
// https://github.com/sgl-project/sglang/blob/v0.5.5/python/sglang/srt/server_args.py#L825-L829;
// the same function in v0.5.0rc2 and v0.5.18, docs/SGLANG-2026.md §4):
// mfs × 0.95 × clamp(1 − 0.1·(ratio − 1), 0.8, 1.05), ratio = the tower's
// layers × hidden² over ViT-L/14's 24 × 1024². The layers are
// vision_config.num_hidden_layers, 24 when absent (the Qwen towers name
// theirs depth). Releases before v0.5.0 are not modelled (said).
func (r *sglangRun) adjustForVLM() {
	if !r.v.AtLeast(0, 5, 0) {
		r.unmodelled = append(r.unmodelled, "SGLang "+r.v.String()+"'s lower --mem-fraction-static for vision models")
		return
	}
	t := r.m.VisionTower
	layers, hidden := t.Depth, t.Hidden
	if t.Kind == VisionQwen25VL || t.Kind == VisionQwen3VL || layers == 0 {
		layers = 24
	}
	if hidden == 0 {
		hidden = 1024
	}
	ratio := float64(layers) * float64(hidden) * float64(hidden) / (24 * 1024 * 1024)
	adj := math.Max(0.8, math.Min(1.05, 1-0.1*(ratio-1)))
	r.mfs *= 0.95 * adj
}

// sglangEraFor is the --mem-fraction-static era of a release.
func sglangEraFor(v Version) sglangEra {
	switch {
	case v.AtLeast(0, 5, 3):
		return sglangEraReserve
	case v.AtLeast(0, 4, 8):
		return sglangEraBuckets
	}
	return sglangEraTP
}

// sglangBuckets is the default chunked_prefill_size and cuda_graph_max_bs:
//   - reserve era, by gpu_mem and tp < 4 / ≥ 4
//     (https://github.com/sgl-project/sglang/blob/v0.5.5/python/sglang/srt/server_args.py#L689-L772;
//     docs/ENGINES-REVIEW-VLLM.md summary row 7c): < 20 GiB 2048 / 8;
//     < 35 GiB 2048 / 24 or 80 (16 or 80 in v0.5.3 and v0.5.4,
//     https://github.com/sgl-project/sglang/blob/v0.5.4/python/sglang/srt/server_args.py#L685-L697);
//     < 60 GiB 4096 / 32 or 160; < 160 GiB 8192 / 256 or 512; else 16384 / 512;
//   - buckets era: 2048 below 35 GiB, 8192 below 160 GiB, else 16384; graphs
//     up to 8 (tp < 4) or 80 below 35 GiB
//     (https://github.com/sgl-project/sglang/blob/v0.4.8/python/sglang/srt/server_args.py#L318-L337),
//     else the capture list's default top, 160
//     (https://github.com/sgl-project/sglang/blob/v0.4.8/python/sglang/srt/model_executor/cuda_graph_runner.py#L140-L147);
//   - TP era: 8192 from v0.2.13 (a fixed default,
//     https://github.com/sgl-project/sglang/blob/v0.3.6/python/sglang/srt/server_args.py#L63);
//     from v0.4.0 2048 below 25,000 MiB
//     (https://github.com/sgl-project/sglang/blob/v0.4.6/python/sglang/srt/server_args.py#L240-L245);
//     v0.4.7 16384 above 180,000 MiB
//     (https://github.com/sgl-project/sglang/blob/v0.4.7/python/sglang/srt/server_args.py#L284-L292).
//     Limitation: before v0.2.13 chunked prefill is off by default
//     (https://github.com/sgl-project/sglang/blob/v0.2.12/python/sglang/srt/server_args.py#L49);
//     those releases are given 8192 here.
func sglangBuckets(era sglangEra, v Version, mem, tp int) (chunk, graphBS int) {
	small := tp < 4
	pick := func(a, b int) int {
		if small {
			return a
		}
		return b
	}
	switch era {
	case sglangEraReserve:
		low := 24
		if !v.AtLeast(0, 5, 5) {
			low = 16
		}
		switch {
		case mem < 20*1024:
			return 2048, 8
		case mem < 35*1024:
			return 2048, pick(low, 80)
		case mem < 60*1024:
			return 4096, pick(32, 160)
		case mem < 160*1024:
			return 8192, pick(256, 512)
		}
		return 16384, 512
	case sglangEraBuckets:
		switch {
		case mem < 35*1024:
			return 2048, pick(8, 80)
		case mem < 160*1024:
			return 8192, 160
		}
		return 16384, 160
	}
	switch {
	case v.AtLeast(0, 4, 7) && mem > 180_000:
		return 16384, 160
	case v.AtLeast(0, 4, 0) && mem < 25000:
		return 2048, 160
	}
	return 8192, 160
}

// sglangTPFraction is the TP-era --mem-fraction-static for tp ≥ 16, ≥ 8, ≥ 4,
// ≥ 2 and 1:
//   - v0.4.0 – v0.4.7: 0.79, 0.81, 0.85, 0.87, 0.88
//     (https://github.com/sgl-project/sglang/blob/v0.4.6/python/sglang/srt/server_args.py#L223-L235;
//     v0.4.7 keys it on tp·pp,
//     https://github.com/sgl-project/sglang/blob/v0.4.7/python/sglang/srt/server_args.py#L252-L265);
//   - v0.3.6: 0.82 at tp ≥ 8
//     (https://github.com/sgl-project/sglang/blob/v0.3.6/python/sglang/srt/server_args.py#L157-L166);
//   - v0.2.7 – v0.3.5: 0.83 at tp ≥ 8
//     (https://github.com/sgl-project/sglang/blob/v0.3.5/python/sglang/srt/server_args.py#L144-L154);
//   - v0.1.23 – v0.2.6: 0.80, 0.84, 0.86, 0.88, 0.89
//     (https://github.com/sgl-project/sglang/blob/v0.2.6/python/sglang/srt/server_args.py#L73-L83).
//
// Limitation: v0.1.x before v0.1.23 used several other tables (0.80 / 0.82 /
// 0.85 / 0.90 for tp ≥ 8, ≥ 4, ≥ 2 and 1 in v0.1.5 – v0.1.19, for one,
// https://github.com/sgl-project/sglang/blob/v0.1.19/python/sglang/srt/server_args.py#L68-L76);
// they get v0.1.23's, with a warning.
func sglangTPFraction(v Version, tp int) float64 {
	t := [5]float64{0.79, 0.81, 0.85, 0.87, 0.88}
	switch {
	case !v.AtLeast(0, 2, 7):
		t = [5]float64{0.80, 0.84, 0.86, 0.88, 0.89}
	case !v.AtLeast(0, 3, 6):
		t[1] = 0.83
	case !v.AtLeast(0, 4, 0):
		t[1] = 0.82
	}
	switch {
	case tp >= 16:
		return t[0]
	case tp >= 8:
		return t[1]
	case tp >= 4:
		return t[2]
	case tp >= 2:
		return t[3]
	}
	return t[4]
}

// sglangLargeCardFraction is the TP era's --mem-fraction-static above
// 81,920 MiB: v0.4.6 (gpu_mem − 13 GiB)/gpu_mem
// (https://github.com/sgl-project/sglang/blob/v0.4.6/python/sglang/srt/server_args.py#L236-L238);
// v0.4.7 0.79 above 180,000 MiB, and above 96 GiB
// min(0.88 + 48 GiB·0.12/gpu_mem, (gpu_mem − 18 GiB)/gpu_mem), else 0.88
// (https://github.com/sgl-project/sglang/blob/v0.4.7/python/sglang/srt/server_args.py#L266-L283;
// the speculative-decoding variants are not modelled).
func sglangLargeCardFraction(v Version, mem int) (float64, bool) {
	g := float64(mem)
	switch {
	case mem <= 81920 || !v.AtLeast(0, 4, 6):
		return 0, false
	case !v.AtLeast(0, 4, 7):
		return (g - 13*1024) / g, true
	case mem > 180_000:
		return 0.79, true
	case mem > 96*1024:
		return math.Min(0.88+48*1024*(1-0.88)/g, (g-18*1024)/g), true
	}
	return 0.88, true
}

// maxTotalTokens follows profile_max_num_token
// (https://github.com/sgl-project/sglang/blob/v0.5.5/python/sglang/srt/model_executor/model_runner.py#L1260-L1323):
// total = free GiB before the weights, the minimum over the ranks after
// distributed init
// (https://github.com/sgl-project/sglang/blob/v0.5.5/python/sglang/srt/model_executor/model_runner.py#L653-L681,
// GiB = bytes / 2^30,
// https://github.com/sgl-project/sglang/blob/v0.5.5/python/sglang/srt/utils/common.py#L455-L537),
// available = free GiB after them, rest = available − total·(1 − mfs),
// tokens = int(rest·2^30 // cell); then page rounding (init_memory_pool,
// https://github.com/sgl-project/sglang/blob/v0.5.5/python/sglang/srt/model_executor/model_runner.py#L1607-L1611).
// SGLang's own --max-total-tokens caps the profiled value before the page
// rounding; a cap above it is ignored with a warning ("max_total_tokens=N
// is larger than the profiled value M. Use the profiled value instead.",
// https://github.com/sgl-project/sglang/blob/v0.5.5/python/sglang/srt/model_executor/model_runner.py#L1599-L1605).
// Not modelled: mamba hybrids count only their full-attention layers and
// carve the state pool out of rest first, and NSA adds an indexer term to
// the cell
// (https://github.com/sgl-project/sglang/blob/v0.5.5/python/sglang/srt/model_executor/model_runner.py#L1273-L1274,
// https://github.com/sgl-project/sglang/blob/v0.5.5/python/sglang/srt/model_executor/model_runner.py#L1299-L1308).
func (r *sglangRun) maxTotalTokens() (int, float64, float64) {
	totalGiB := (r.total - r.preLoad - r.comm).GiBs()
	availGiB := (r.total - r.preLoad - r.comm - r.weights - r.budgetedDraft()).GiBs()
	rest := r.carveState(availGiB - totalGiB*(1-r.mfs) - r.mmReservationGiB() - r.s.ExtraReserveBytes.GiBs())
	tokens := int(math.Floor(rest * float64(GiB) / float64(r.budgetCell())))
	if tokens > 0 {
		tokens += r.specHeadroom()
	}
	if c := r.s.SGLangMaxTotalTokens; c > 0 {
		if c > tokens {
			r.warn("max_total_tokens=%d is larger than the profiled value %d. Use the profiled value instead.", c, tokens)
		}
		tokens = min(tokens, c)
	}
	tokens = tokens / r.page * r.page
	return tokens, totalGiB, availGiB
}

func (r *sglangRun) result(eng Engine) Result {
	res := Result{
		Engine:          eng,
		NumShard:        r.tp,
		KVBytesPerToken: r.cell + r.spec.cell,
		BlockSize:       r.page,
		Attention:       r.attention(),
		PrefixCaching:   true,
		Chunking:        r.chunk > 0,
		WeightsFrom:     r.m.weightsSource(),
	}
	tokens, totalGiB, availGiB := r.maxTotalTokens()
	st := r.startup(tokens, totalGiB)
	kvBytes := Bytes(0)
	if st.Fits {
		kvBytes = r.serve(&st, tokens, availGiB)
	}
	r.fractionAdvice(st, totalGiB, availGiB)
	res.Startup = st
	b := Breakdown{Weights: r.weights + r.spec.weights, KVCache: kvBytes, CUDAContext: r.preLoad, NCCL: r.comm, ActivationPeak: st.ActivationBytes}
	if st.Fits {
		b.CUDAGraphs = r.graphBytes()
	}
	b.Reserve = b.unallocated(r.total)
	res.PerGPU = b
	res.Boundary = r.boundary(st, tokens)
	res.unmodelled = r.unmodelled
	res.StateBytesPerSequence = r.statePerReq
	if st.Fits && r.statePerReq > 0 {
		res.MaxConcurrentSequences = r.stateSlots / r.slotsPerRequest()
		res.Assumptions = append(res.Assumptions, r.stateAssumption())
	}
	res.Assumptions = append(res.Assumptions, "the boundary is the largest --context-length whose one request fits the KV pool; its input plus output may use all of it")
	if a := r.specAssumption(); a != "" {
		res.Assumptions = append(res.Assumptions, a)
	}
	res.Warnings = r.warnings
	return res
}

// graphBytes is the CUDA graphs' memory: 2 MiB per captured batch size
// up to cuda_graph_max_bs, as the reserve formula counts it (sglangEraReserve).
func (r *sglangRun) graphBytes() Bytes { return Bytes(r.graphBS) * 2 * MiB }

// startup is the start with a pool of tokens: which check fails first, if
// any, with the engine's message.
func (r *sglangRun) startup(tokens int, totalGiB float64) Startup {
	st := Startup{
		MaxInputTokens:        r.ctxLen - 1,
		MaxTotalTokens:        r.ctxLen,
		MaxBatchPrefillTokens: r.chunk,
		CapacityBytes:         Bytes(r.mfs * totalGiB * float64(GiB)),
		WarmupBytes:           r.preLoad + r.comm + r.weights + r.budgetedDraft(),
		ActivationBytes:       Bytes(servingForwardBytes(&r.m, r.tp, int64(r.chunk), r.elt, 3)),
	}
	switch {
	case r.m.MaxPositions > 0 && r.ctxLen > sglangContextLen(r.m):
		st.Failure = FailureArgumentValidation
		st.Message = fmt.Sprintf("User-specified context_length (%d) is greater than the derived context_length (%d). This may lead to incorrect model outputs or CUDA errors.", r.ctxLen, sglangContextLen(r.m))
	case r.weights+r.preLoad+r.comm > r.total:
		st.Failure = FailureWeights
		st.Message = fmt.Sprintf("torch.OutOfMemoryError: CUDA out of memory while loading the weights (%s per GPU on a %s card)", r.weights, r.total)
	case r.statePerReq > 0 && r.stateSlots <= 0:
		st.Failure = FailureNotEnoughMemory
		st.Message = fmt.Sprintf("Not enough GPU memory for hybrid (mamba/linear-attention) state cache. Computed max_mamba_cache_size=%d.", r.stateSlots)
	case tokens <= 0:
		st.Failure = FailureNotEnoughMemory
		// https://github.com/sgl-project/sglang/blob/v0.5.5/python/sglang/srt/model_executor/model_runner.py#L1626-L1630
		st.Message = "Not enough memory. Please try to increase --mem-fraction-static."
	case r.draftOverflows(tokens):
		st.Failure = FailureWeights
		st.Message = fmt.Sprintf("torch.OutOfMemoryError: CUDA out of memory while the draft loads: its weights (%s) and KV pool (%s) exceed the memory the target's pool leaves", r.spec.weights, Bytes(tokens)*r.spec.cell)
	}
	st.Fits = st.Failure == ""
	return st
}

// serve fills what a started server reports: its pool, concurrency and
// log lines; it returns the pool's bytes.
func (r *sglangRun) serve(st *Startup, tokens int, availGiB float64) Bytes {
	st.MaxBatchTotalTokens = tokens
	kvBytes := Bytes(tokens) * (r.cell + r.spec.cell)
	// max_num_reqs
	// (https://github.com/sgl-project/sglang/blob/v0.5.5/python/sglang/srt/model_executor/model_runner.py#L1554-L1563).
	maxReqs := min(max(int(float64(tokens)/float64(max(r.ctxLen, 1))*512), 2048), 4096)
	running := min(tokens/2, maxReqs)
	if r.s.MaxNumSeqs > 0 || r.s.Spec.On() {
		running = r.specRequests()
	}
	if r.statePerReq > 0 {
		st.LogLines = append(st.LogLines, r.stateLine())
		if capped := r.stateSlots / r.slotsPerRequest(); capped < running {
			running = capped
			r.warn("max_running_requests is capped to %d by the mamba state cache (max_mamba_cache_size=%d, %d state slots per request)", capped, r.stateSlots, r.slotsPerRequest())
		}
	}
	if per := requestShape(r.s, r.ctxLen); per > 0 {
		st.MaxConcurrentRequests = min(tokens/per, running)
	}
	st.LogLines = append(st.LogLines,
		fmt.Sprintf("Load weight end. type=%s, dtype=%s, avail mem=%.2f GB, mem usage=%.2f GB.", r.m.Type, r.dtypeName(), availGiB+r.budgetedDraft().GiBs(), r.weights.GiBs()))
	target := Bytes(tokens) * r.cell // the draft's pool has a line of its own
	if r.m.IsMLA() {
		st.LogLines = append(st.LogLines, fmt.Sprintf("KV Cache is allocated. #tokens: %d, KV size: %.2f GB", tokens, target.GiBs()))
	} else {
		half := target / 2
		st.LogLines = append(st.LogLines, fmt.Sprintf("KV Cache is allocated. #tokens: %d, K size: %.2f GB, V size: %.2f GB", tokens, half.GiBs(), half.GiBs()))
	}
	st.LogLines = append(st.LogLines, r.specLogLines(tokens)...)
	st.LogLines = append(st.LogLines, fmt.Sprintf("max_total_num_tokens=%d, chunked_prefill_size=%d, max_prefill_tokens=%d, max_running_requests=%d, context_len=%d",
		tokens, r.chunk, 16384, running, r.ctxLen))
	if tokens < r.ctxLen {
		r.warn("the KV pool (%d tokens) is shorter than context_len %d: SGLang starts but caps each request's input at %d tokens", tokens, r.ctxLen, tokens-1)
	}
	return kvBytes
}

// boundary is the largest --context-length whose one request fits the pool.
func (r *sglangRun) boundary(st Startup, tokens int) Boundary {
	bd := Boundary{MaxBatchPrefillTokens: r.chunk, PrefillAtMaxTotal: r.chunk}
	switch {
	case !st.Fits && st.Failure != FailureArgumentValidation:
		bd.LimitedBy = "weights"
		if st.Failure == FailureNotEnoughMemory {
			bd.LimitedBy = "kv_budget"
		}
	default:
		bd.MaxBatchTotalTokens = tokens
		// Without a known context, the longest vramcalc accepts (MaxTokens),
		// as vLLM's search stops at a cap.
		bd.MaxTotalTokens, bd.LimitedBy = cmp.Or(sglangContextLen(r.m), MaxTokens), "max_position_embeddings"
		if tokens < bd.MaxTotalTokens {
			bd.MaxTotalTokens, bd.LimitedBy = tokens, "kv_budget"
		}
		bd.MaxInputTokens = bd.MaxTotalTokens - 1
		if per := requestShape(r.s, bd.MaxTotalTokens); per > 0 {
			bd.MaxConcurrentRequests = tokens / per
		}
	}
	return bd
}

// fractionAdvice warns about --mem-fraction-static both ways. Outside the
// static pool (total·(1 − mfs), total being the free memory before the
// weights) SGLang runs the forward pass of a prefill chunk and replays its
// CUDA graphs; a fraction that leaves less than those need starts and then
// runs out of memory under load. When the pool is empty at start ("Not
// enough memory"), the fraction that starts solves rest = available −
// total·(1 − mfs) ≥ what the pool must hold, rounded up to 0.001 as
// SGLang rounds its own; it is suggested only when it still leaves the
// run-time memory.
func (r *sglangRun) fractionAdvice(st Startup, totalGiB, availGiB float64) {
	needGiB := (st.ActivationBytes + r.graphBytes()).GiBs()
	most := 1 - needGiB/totalGiB // the largest fraction that leaves it
	if st.Fits {
		if r.mfs > most {
			r.warn("--mem-fraction-static %.3g leaves %.2f GiB outside the KV pool, less than the %.2f GiB the forward pass of a %d-token prefill chunk and the CUDA graphs need at run time: expect CUDA out of memory under load; at most %.3f leaves it",
				r.mfs, totalGiB*(1-r.mfs), needGiB, r.chunk, math.Floor(most*1000)/1000)
		}
		return
	}
	if st.Failure != FailureNotEnoughMemory {
		return
	}
	starts := func(poolTokens int) float64 {
		f := 1 - (availGiB-r.restFor(poolTokens))/totalGiB
		return math.Ceil(f*1000) / 1000
	}
	full, one := starts(r.ctxLen), starts(r.page)
	switch {
	case full <= most:
		r.warn("--mem-fraction-static %.3f starts with a KV pool of one full --context-length %d request and leaves %.2f GiB for run time", full, r.ctxLen, totalGiB*(1-full))
	case one <= most:
		f := math.Floor(most*1000) / 1000
		fit := int((availGiB-totalGiB*(1-f))*float64(GiB)/float64(r.cell)) / r.page * r.page
		r.warn("--mem-fraction-static %.3f starts, with a KV pool shorter than --context-length %d (requests are capped); full-length requests need --mem-fraction-static %.3f with --context-length %d at most, or more GPUs (--tp-size)", one, r.ctxLen, f, fit)
	default:
		more := ""
		if r.radixOffV055() {
			more = ", or fewer state slots with --max-running-requests"
		}
		r.warn("no --mem-fraction-static both starts and leaves the %.2f GiB the forward pass and CUDA graphs need at run time (the weights leave %.2f GiB of %.2f): use more GPUs (--tp-size), a quantized checkpoint or a smaller --chunked-prefill-size%s", needGiB, availGiB, totalGiB, more)
	}
}

// restFor is the GiB the static pool must hold for a KV pool of
// poolTokens: the KV, and the state pool beside it (a fixed number of
// slots with v0.5.5's radix cache off, else R/(1+R) of the rest plus a
// slot, sglang_state.go).
func (r *sglangRun) restFor(poolTokens int) float64 {
	kv := (Bytes(poolTokens) * r.cell).GiBs()
	switch {
	case r.statePerReq == 0:
		return kv
	case r.radixOffV055():
		return kv + (Bytes(r.stateSlots) * r.statePerReq).GiBs()
	}
	return kv*(1+sglangMambaFullRatio) + r.statePerReq.GiBs()
}

func (r *sglangRun) dtypeName() string {
	switch {
	case r.s.DType == F16:
		return "torch.float16"
	case r.s.DType == F32:
		return "torch.float32"
	case r.s.DType == BF16 || r.m.DType == BF16 || r.m.DType == "":
		return "torch.bfloat16"
	}
	return "torch.float16"
}

// attention is SGLang's default backend:
//   - from v0.4.6, FA3 on Hopper for MHA (when the architecture is one of
//     is_fa3_default_architecture's, taken as so here) and for MLA, else
//     FlashInfer for MHA and Triton for MLA
//     (https://github.com/sgl-project/sglang/blob/v0.4.6/python/sglang/srt/model_executor/model_runner.py#L246-L263);
//   - from v0.4.8, FlashInfer for MLA on Blackwell (sm100)
//     (https://github.com/sgl-project/sglang/blob/v0.4.8/python/sglang/srt/model_executor/model_runner.py#L335-L354;
//     v0.5.5 the same,
//     https://github.com/sgl-project/sglang/blob/v0.5.5/python/sglang/srt/server_args.py#L1129-L1179);
//   - before v0.4.6, FlashInfer for MHA and Triton for MLA
//     (https://github.com/sgl-project/sglang/blob/v0.4.5/python/sglang/srt/model_executor/model_runner.py#L236-L243).
//
// FlashInfer is taken as installed (SGLang falls back to Triton without
// it). Per-model overrides (e.g. trtllm_mla for DeepSeek on Blackwell from
// v0.5.4) are not modelled. The name is a label: no size depends on it.
func (r *sglangRun) attention() string {
	cc := r.hw.GPU.ComputeCapability
	hopper, blackwell := cc >= 90 && cc < 100, cc >= 100 && cc < 110
	v := r.v
	switch {
	case r.s.Attention != "":
		return strings.ToLower(r.s.Attention)
	case hopper && v.AtLeast(0, 4, 6):
		return "fa3"
	case !r.m.IsMLA():
		return "flashinfer"
	case blackwell && v.AtLeast(0, 4, 8):
		return "flashinfer"
	}
	return "triton"
}

// sglangContextLen is the context length SGLang derives from the config
// (get_context_length,
// https://github.com/sgl-project/sglang/blob/v0.5.5/python/sglang/srt/utils/hf_transformers_utils.py#L328-L345,
// the same in https://github.com/sgl-project/sglang/blob/v0.5.18/python/sglang/srt/utils/hf_transformers/common.py#L530-L547):
// max_position_embeddings times rope_scaling's factor, unless rope_scaling
// has original_max_position_embeddings or is llama3.
func sglangContextLen(m Model) int {
	r := m.Rope
	if r.Factor <= 0 || r.OriginalMax > 0 || r.Type == "llama3" {
		return m.MaxPositions
	}
	return int(float64(m.MaxPositions) * r.Factor)
}
