package estimate

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// vLLM citations are pinned URLs into github.com/vllm-project/vllm at a
// release tag with line anchors; "PR #N" / "issue #N" name
// github.com/vllm-project/vllm threads as history. docs/ENGINES.md §6 and
// docs/ENGINES-REVIEW-VLLM.md are the spec and its review (the review
// overrides the spec); measured figures are rows of testdata/startup_reports_dev.csv.

// DefaultVLLMVersion is the release assumed when none is given: v0.31.0,
// the newest release with a measured startup figure in the dev reports
// (testdata/startup_reports_dev.csv row 321, Llama-3.1-8B on an A100:
// +1.12%) and whose budget formula the research for issue 11 confirmed
// (docs/VLLM-MRV2.md appendix §0; v0.32 is modelled with the same terms
// but unconfirmed). It runs every model on Model Runner V2 with the
// 0.92 --gpu-memory-utilization and the CUDA-graph estimate of v0.20+
// (vllm_mrv2.go). Before issue 11 the default was v0.19.0.
const DefaultVLLMVersion = "0.31.0"

// Runtime terms of a vLLM start. They are properties of the CUDA/PyTorch/NCCL
// stack under the engine, not engine constants; each comes from a figure the
// engine itself printed in a public report, not from fitting KV sizes.
const (
	// vllmCUDAContextBytes is the CUDA context of one worker. vLLM v0.6.4
	// charges it with the rest of the non-torch memory
	// (https://github.com/vllm-project/vllm/blob/v0.6.4/vllm/worker/worker.py#L232-L243) and logged
	// non_torch_memory=0.35 GiB on an RTX 3090 at TP 1 (testdata/startup_reports_dev.csv row 44,
	// from https://github.com/vllm-project/vllm/issues/10517); 0.22 GiB of it
	// is the context (derived), the rest the runtime increase below.
	vllmCUDAContextBytes = 225 * MiB
	// vllmNonTorchTP1 is the non-torch memory that appears during the
	// profile run at TP 1 (lazily loaded kernels, cuBLAS/cuBLASLt handles):
	// memory_profiling's non_torch_increase. llm-d measured 0.13–0.14 GiB on
	// H100 for v0.11–v0.17 (testdata/startup_reports_dev.csv rows 20–22, 31–33) and 0.24–0.25 GiB
	// from v0.18 (rows 25, 26, 34).
	vllmNonTorchTP1     = 133 * MiB
	vllmNonTorchTP1v018 = 256 * MiB
	// vllmCommTP2 is the extra non-torch memory at TP ≥ 2 (NCCL
	// communicator buffers, custom all-reduce IPC buffers). It depends on the
	// interconnect: NVSwitch Hopper boards set up NVLink SHARP (NVLS)
	// buffers of ~2 GiB, other boards a few hundred MiB at most.
	//   - before PR #25359 (in v0.11.0: distributed init, then the snapshot,
	//     https://github.com/vllm-project/vllm/blob/v0.11.0/vllm/v1/worker/gpu_worker.py#L165-L182; v0.10.2 took
	//     the snapshot first, https://github.com/vllm-project/vllm/blob/v0.10.2/vllm/v1/worker/gpu_worker.py#L175
	//     and https://github.com/vllm-project/vllm/blob/v0.10.2/vllm/v1/worker/gpu_worker.py#L193) NCCL was
	//     initialised after the memory snapshot, so all of it was charged:
	//     ≈ 2 GiB on H100 (docs/ENGINES-REVIEW-VLLM.md §1, "≈ 2.1 GiB
	//     non-torch at TP ≥ 2"), ≈ 0.13 GiB on the A100 pair of testdata/startup_reports_dev.csv
	//     rows 13/14 (their budget minus weights, profile and TP-1 terms);
	//   - v0.11–v0.18: 0.54 − 0.14 = 0.40 GiB on H100 TP 2 (testdata/startup_reports_dev.csv row 23);
	//   - v0.19: 2.06–2.13 GiB total on H100 TP 2/4, i.e. ≈ 1.85 GiB beyond
	//     the TP-1 term (llm-d-planner's v0.19.0 accuracy report, TP table,
	//     https://github.com/jgchn/llm-d-planner/blob/6417620b546c621155b3f2814b994f7abd6d18e8/accuracy/results/v0.19.0/accuracy_report.md#L142-L153).
	vllmCommNVLS      = 2048 * MiB
	vllmCommNVLSv019  = 1894 * MiB
	vllmCommPlain     = 133 * MiB
	vllmCommAfterInit = 410 * MiB
	// vllmGraphBytesPerPiece is the device memory one captured CUDA graph
	// piece holds (kernel nodes and parameters), derived from vLLM v0.10.1.1
	// capturing 67 batch sizes × 29 piecewise graphs of Qwen2-7B in 0.50 GiB
	// (source log of testdata/startup_reports_dev.csv row 11: "Graph capturing finished in 3 secs,
	// took 0.50 GiB"), less the activations of the largest size (derived).
	vllmGraphBytesPerPiece = 256 * KiB
)

// vllmBudget is how a release turns the profile into the KV budget.
type vllmBudget int

const (
	// V0 ≤ v0.2.4: total·gmu − torch.cuda.max_memory_allocated()
	// (https://github.com/vllm-project/vllm/blob/v0.2.4/vllm/worker/worker.py#L93-L99).
	budgetTorchPeak vllmBudget = iota
	// V0 v0.2.5 – v0.3.0: total·gmu − (total − free after the profile),
	// which charges the CUDA context and everything else on the device
	// (PR #2031, https://github.com/vllm-project/vllm/blob/v0.2.5/vllm/worker/worker.py#L92-L98).
	budgetUsedOnDevice
	// V0 v0.3.1 – v0.6.3: total·gmu − (free at worker init − free after the
	// profile), the context excluded (PR #2863, first in v0.3.1:
	// https://github.com/vllm-project/vllm/blob/v0.3.1/vllm/worker/worker.py#L89 and
	// https://github.com/vllm-project/vllm/blob/v0.3.1/vllm/worker/worker.py#L134-L140; the same in
	// https://github.com/vllm-project/vllm/blob/v0.6.3/vllm/worker/worker.py#L231-L245).
	budgetSinceInit
	// V0 v0.6.4 and V1 v0.7.0 – v0.9.0: total·gmu − (torch allocated peak +
	// (total − free) − torch allocated), which charges the context again
	// (PR #9352, https://github.com/vllm-project/vllm/blob/v0.6.4/vllm/worker/worker.py#L200-L217; V1's
	// determine_available_memory,
	// https://github.com/vllm-project/vllm/blob/v0.9.0/vllm/v1/worker/gpu_worker.py#L167-L214).
	budgetPeakPlusNonTorch
	// V0 ≥ v0.6.5 and V1 ≥ v0.9.1: memory_profiling: total·gmu − (weights +
	// torch peak increase + non-torch increase since the init snapshot)
	// (https://github.com/vllm-project/vllm/blob/v0.19.0/vllm/utils/mem_utils.py#L197-L281,
	// https://github.com/vllm-project/vllm/blob/v0.19.0/vllm/v1/worker/gpu_worker.py#L366-L421; first in V0
	// v0.6.5, PR #10511, https://github.com/vllm-project/vllm/blob/v0.6.5/vllm/worker/worker.py#L198-L211, and in
	// V1 v0.9.1, PR #19312, https://github.com/vllm-project/vllm/blob/v0.9.1/vllm/v1/worker/gpu_worker.py#L183-L231).
	budgetProfiling
)

// vllmSampler is the top-k/top-p path the profile's dummy sampler run takes
// (1 row per request, top_k = V−1, top_p < 1).
type vllmSampler int

const (
	// samplerNone: V1 v0.7.x did not profile the sampler; its profile run
	// computes the logits only ("TODO(woosuk): Consider the memory usage of
	// the sampler.", https://github.com/vllm-project/vllm/blob/v0.7.3/vllm/v1/worker/gpu_model_runner.py#L1301-L1310).
	// PR #13594 added the dummy sampler run in v0.8.0
	// (https://github.com/vllm-project/vllm/blob/v0.8.0/vllm/v1/worker/gpu_model_runner.py#L1401-L1407).
	samplerNone vllmSampler = iota
	// samplerSortFP32: the PyTorch-native apply_top_k_top_p sorts the fp32
	// logits: V1's forward_native
	// (https://github.com/vllm-project/vllm/blob/v0.16.0/vllm/v1/sample/ops/topk_topp_sampler.py#L92-L111, the sort
	// in https://github.com/vllm-project/vllm/blob/v0.16.0/vllm/v1/sample/ops/topk_topp_sampler.py#L243-L282, after
	// https://github.com/vllm-project/vllm/blob/v0.16.0/vllm/v1/sample/sampler.py#L89-L90 "Use float32 for the
	// logits") and V0's Sampler.forward, which first converts them ("Use
	// float32 to apply temperature scaling", logits.to(torch.float),
	// https://github.com/vllm-project/vllm/blob/v0.10.1.1/vllm/model_executor/layers/sampler.py#L273-L280, sorting in
	// https://github.com/vllm-project/vllm/blob/v0.10.1.1/vllm/model_executor/layers/sampler.py#L392-L397).
	samplerSortFP32
	// samplerFlashInfer: FlashInfer's top_k_top_p_sampling_from_logits,
	// used when FlashInfer is installed (PR #15777, PR #18608;
	// https://github.com/vllm-project/vllm/blob/v0.10.1.1/vllm/v1/sample/ops/topk_topp_sampler.py#L31-L52 and
	// https://github.com/vllm-project/vllm/blob/v0.10.1.1/vllm/v1/sample/ops/topk_topp_sampler.py#L262-L298).
	// Limitation: its 12 bytes per element (top_k_mask_logits → softmax →
	// top_p sampling) are inside FlashInfer, which was not read.
	samplerFlashInfer
	// samplerTriton: the Triton top-k/top-p kernel of PR #33538 (first in
	// v0.17.0), masking the fp32 logits in place with a per-program fp32
	// buffer (https://github.com/vllm-project/vllm/blob/v0.19.0/vllm/v1/sample/ops/topk_topp_triton.py#L965-L1051),
	// taken for ≥ 8 rows
	// (https://github.com/vllm-project/vllm/blob/v0.19.0/vllm/v1/sample/ops/topk_topp_sampler.py#L251-L252).
	samplerTriton
	// samplerMRv2Copy: Model Runner V2 before v0.26 copies the logits to
	// fp32 and samples without top-k/top-p (docs/VLLM-MRV2.md §1 [A3]).
	samplerMRv2Copy
)

// vllmProfile is the sizing behaviour of one vLLM release and engine.
type vllmProfile struct {
	// quiet makes newVLLMRun build a run for a boundary search: no notes.
	quiet  bool
	v      Version
	v1     bool
	budget vllmBudget
	// sampler is the dummy sampler's top-k/top-p path.
	sampler vllmSampler
	// gmu is --gpu-memory-utilization's default: 0.9, 0.92 from v0.20.0
	// (PR #38284, https://github.com/vllm-project/vllm/blob/v0.20.0/vllm/config/cache.py#L66;
	// https://github.com/vllm-project/vllm/blob/v0.19.0/vllm/config/cache.py#L41 has 0.9).
	gmu float64
	// graphsInBudget: from v0.20.0 the budget subtracts the CUDA-graph
	// estimate (PR #30515 made it, opt-in, in v0.18.0,
	// https://github.com/vllm-project/vllm/blob/v0.18.0/vllm/v1/worker/gpu_worker.py#L413-L441;
	// PR #38284 turned VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS on by default
	// in v0.20.0, https://github.com/vllm-project/vllm/blob/v0.20.0/vllm/envs.py#L1724-L1725
	// and https://github.com/vllm-project/vllm/blob/v0.20.0/vllm/v1/worker/gpu_worker.py#L399-L425).
	graphsInBudget bool
	// nameBatchDefaults: V1 v0.7.0 – v0.8.4 picked the batch defaults by
	// device name, "h100"/"h200"
	// (https://github.com/vllm-project/vllm/blob/v0.8.4/vllm/engine/arg_utils.py#L1669;
	// docs/ENGINES-REVIEW-VLLM.md §3).
	nameBatchDefaults bool
	// a100Excluded: from v0.9.0 a card named "a100" keeps the small batch
	// defaults whatever its memory (PR #17885); v0.8.5 decides on memory
	// alone (PR #17073,
	// https://github.com/vllm-project/vllm/blob/v0.8.5/vllm/engine/arg_utils.py#L1596).
	a100Excluded bool
	// clampSeqs: from v0.10.1 a max_num_seqs left at its default is capped at
	// max_num_batched_tokens
	// (https://github.com/vllm-project/vllm/blob/v0.10.1.1/vllm/engine/arg_utils.py#L1709-L1711;
	// https://github.com/vllm-project/vllm/blob/v0.19.0/vllm/engine/arg_utils.py#L2238-L2240).
	clampSeqs bool
	// freeCheck: V1 ≥ v0.9.1 refuses a gmu·total above the free memory.
	freeCheck bool
	// logAvailable: "Available KV cache memory" is logged from v0.9.1
	// (PR #19312,
	// https://github.com/vllm-project/vllm/blob/v0.9.1/vllm/v1/worker/gpu_worker.py#L227-L228;
	// https://github.com/vllm-project/vllm/blob/v0.19.0/vllm/v1/worker/gpu_worker.py#L436-L440).
	logAvailable bool
	// logTokens: V1 logs "GPU KV cache size: N tokens" from v0.8.0 (PR
	// #13596,
	// https://github.com/vllm-project/vllm/blob/v0.8.0/vllm/v1/core/kv_cache_utils.py#L535-L541;
	// https://github.com/vllm-project/vllm/blob/v0.19.0/vllm/v1/core/kv_cache_utils.py#L1319-L1329);
	// V1 v0.7.x, and V0, log "# GPU blocks: N"
	// (https://github.com/vllm-project/vllm/blob/v0.7.3/vllm/v1/core/kv_cache_utils.py#L522).
	logTokens bool
	// concurrencyBlocks: V1 ≥ v0.9.1 prints num_blocks / ⌈mml/bs⌉; V1
	// before, tokens / mml; V0 blocks·bs / mml (docs/ENGINES-REVIEW-VLLM.md
	// summary row 6).
	concurrencyBlocks bool
	// kvCheck: the start refuses a max_model_len the pool cannot hold
	// (V1 always; V0 from v0.2.7, PR #2163,
	// https://github.com/vllm-project/vllm/blob/v0.2.7/vllm/engine/llm_engine.py#L282-L289).
	kvCheck bool
	// v0AutoChunk is V0's chunked-prefill budget when it turns chunked
	// prefill on by itself for max_model_len > 32K: none before v0.5.3; 512
	// in v0.5.3 – v0.6.4 (PR #6666,
	// https://github.com/vllm-project/vllm/blob/v0.5.3/vllm/engine/arg_utils.py#L747-L765,
	// https://github.com/vllm-project/vllm/blob/v0.5.3/vllm/config.py#L805,
	// https://github.com/vllm-project/vllm/blob/v0.6.4/vllm/config.py#L1111-L1114);
	// 2048 from v0.6.5 (PR #10544,
	// https://github.com/vllm-project/vllm/blob/v0.6.5/vllm/config.py#L1344).
	v0AutoChunk int
	// fwdHidden is how many [N, hidden] tensors are live beside the MLP
	// intermediates at the forward peak: residual, normed input and the
	// caller's layer input in eager V0 (the decoder layer keeps them while
	// gate_up and act run); one more, the attention output feeding the
	// compiled piece, under V1's piecewise torch.compile (derived).
	fwdHidden int64
	// hybridGroups: V1 ≥ v0.10 groups sliding and full layers into KV
	// groups of equal size (hybrid allocator, docs/ENGINES-REVIEW-VLLM.md §4).
	hybridGroups bool
	// hybridMaxRatio: from v0.12.0 the group size is the largest per-type
	// layer count when it is below this ratio times the smallest (1.25;
	// 1.5 from v0.18.0); 0 before, the smallest count always (see setupHybrid).
	hybridMaxRatio float64
	// nonTorch is the TP-1 runtime increase charged by the budget.
	nonTorch Bytes
}

func vllmProfileFor(v Version, v1 bool) vllmProfile {
	p := vllmProfile{v: v, v1: v1, gmu: 0.9, kvCheck: true}
	if v1 {
		p.fwdHidden = 4
		p.logTokens = v.AtLeast(0, 8, 0)
		p.concurrencyBlocks = v.AtLeast(0, 9, 1)
		p.freeCheck = v.AtLeast(0, 9, 1)
		p.logAvailable = v.AtLeast(0, 9, 1)
		p.nameBatchDefaults = !v.AtLeast(0, 8, 5)
		p.a100Excluded = v.AtLeast(0, 9, 0)
		p.clampSeqs = v.AtLeast(0, 10, 1)
		p.hybridGroups = v.AtLeast(0, 10, 0)
		switch {
		case v.AtLeast(0, 18, 0):
			p.hybridMaxRatio = 1.5
		case v.AtLeast(0, 12, 0):
			p.hybridMaxRatio = 1.25
		}
		p.budget = budgetPeakPlusNonTorch
		if v.AtLeast(0, 9, 1) {
			p.budget = budgetProfiling
		}
		p.sampler = vllmV1Sampler(v)
		if v.AtLeast(0, 20, 0) {
			p.gmu, p.graphsInBudget = 0.92, true
		}
		p.nonTorch = vllmNonTorchTP1
		if v.AtLeast(0, 18, 0) {
			p.nonTorch = vllmNonTorchTP1v018
		}
		return p
	}
	p.fwdHidden = 3
	p.sampler = samplerSortFP32
	p.nonTorch = vllmNonTorchTP1
	switch {
	case !v.AtLeast(0, 2, 5):
		p.budget = budgetTorchPeak
	case !v.AtLeast(0, 3, 1):
		p.budget = budgetUsedOnDevice
	case !v.AtLeast(0, 6, 4):
		p.budget = budgetSinceInit
	case !v.AtLeast(0, 6, 5):
		p.budget = budgetPeakPlusNonTorch
	default:
		p.budget = budgetProfiling
	}
	p.kvCheck = v.AtLeast(0, 2, 7)
	p.concurrencyBlocks = false
	switch {
	case v.AtLeast(0, 6, 5):
		p.v0AutoChunk = 2048
	case v.AtLeast(0, 5, 3):
		p.v0AutoChunk = 512
	}
	return p
}

// chooseSampler applies --sampler: "flashinfer" or "pytorch" (the native
// path of the release: the fp32 sort, or from v0.17.0 the Triton kernel).
func (p *vllmProfile) chooseSampler(s string) error {
	switch {
	case s == "":
	case !p.v1 || p.sampler == samplerNone:
		return fmt.Errorf("%w: --sampler: vLLM %s's profile run has no top-k/top-p choice (V1 from v0.8.0 has)", ErrInvalid, p.v)
	case s == "flashinfer":
		p.sampler = samplerFlashInfer
	case s == "pytorch" && p.v.AtLeast(0, 17, 0):
		p.sampler = samplerTriton
	case s == "pytorch":
		p.sampler = samplerSortFP32
	default:
		return fmt.Errorf("%w: --sampler %q (want flashinfer or pytorch)", ErrInvalid, s)
	}
	return nil
}

// samplerAssumptions state the sampler path a result assumed: the
// release's default, or the one --sampler chose (built once: Run states
// one every time).
var samplerAssumptions = func() map[vllmSampler][2]string {
	out := map[vllmSampler][2]string{}
	for k, name := range map[vllmSampler]string{
		samplerSortFP32:   "the PyTorch sort of fp32 logits",
		samplerFlashInfer: "FlashInfer's top-k/top-p kernels",
		samplerTriton:     "the Triton top-k/top-p kernel",
	} {
		flag := "pytorch"
		if k == samplerFlashInfer {
			flag = "flashinfer"
		}
		out[k] = [2]string{"the profile run's top-k/top-p sampler is " + name + " (the release's default for its official image)",
			"the profile run's top-k/top-p sampler is " + name + " (--sampler " + flag + ")"}
	}
	return out
}()

// vllmV1Sampler is the top-k/top-p path of V1's dummy sampler run.
func vllmV1Sampler(v Version) vllmSampler {
	switch {
	case !v.AtLeast(0, 8, 0):
		return samplerNone
	case !v.AtLeast(0, 9, 0):
		// PR #14815 (first in v0.8.0) turned FlashInfer off for FlashInfer
		// ≥ 0.2.3
		// (https://github.com/vllm-project/vllm/blob/v0.8.0/vllm/v1/sample/ops/topk_topp_sampler.py#L26-L43)
		// until PR #15777 adapted to its new API in v0.9.0
		// (https://github.com/vllm-project/vllm/blob/v0.9.0/vllm/v1/sample/ops/topk_topp_sampler.py#L34-L48).
		return samplerSortFP32
	case !v.AtLeast(0, 11, 0):
		// v0.9.0 – v0.10.x use FlashInfer's sampler whenever FlashInfer is
		// installed ("Using FlashInfer for top-p & top-k sampling."; the
		// code as it stands in
		// https://github.com/vllm-project/vllm/blob/v0.11.0/vllm/v1/sample/ops/topk_topp_sampler.py#L46-L56),
		// as the source log of testdata/startup_reports_dev.csv row 11
		// (v0.10.1.1) prints.
		return samplerFlashInfer
	case !v.AtLeast(0, 11, 1):
		// v0.11.0's source reads the same and its image installs FlashInfer 0.3.1, yet every measured
		// v0.11.0 start shows the sort path: activation peaks of
		// 4.76–5.64 GiB (38 B per logit, not FlashInfer's ~12) in
		// testdata/startup_reports_dev.csv rows 20–23 and
		// testdata/startup_reports_extra.csv rows 1019–1020, and row 22's
		// failure at --max-model-len 32000. The measurements win; why the
		// source's path was not taken is not known, so result() says so.
		return samplerSortFP32
	case !v.AtLeast(0, 17, 0):
		// PR #26859 (first in v0.11.1) made the FlashInfer sampler opt-in
		// (VLLM_USE_FLASHINFER_SAMPLER=1,
		// https://github.com/vllm-project/vllm/blob/v0.11.1/vllm/v1/sample/ops/topk_topp_sampler.py#L34-L44);
		// the v0.15–v0.16 activations in testdata/startup_reports_dev.csv
		// rows 31, 32 are the sort path's.
		return samplerSortFP32
	}
	return samplerTriton
}

// parseVLLMVersion accepts "0.10.1.1", "v0.19.0", "0.8.5-v0" / "0.8.5 (V0)"
// (force the V0 engine) and "0.7.3-v1". V1 is the default engine from v0.8.0.
func parseVLLMVersion(e EngineInfo, s string) (Version, bool, error) {
	t := strings.TrimPrefix(strings.TrimSpace(strings.ToLower(s)), "v")
	i := 0
	for i < len(t) && (t[i] == '.' || (t[i] >= '0' && t[i] <= '9')) {
		i++
	}
	num, rest := strings.Trim(t[:i], "."), t[i:]
	// "0.10.1.1": the fourth part is a post release of the third.
	for j, dots := 0, 0; j < len(num); j++ {
		if num[j] == '.' {
			if dots++; dots == 3 {
				num = num[:j]
				break
			}
		}
	}
	v, err := parseRelease(e, num)
	if err != nil {
		var re *ReleaseError
		if errors.As(err, &re) {
			re.Version = s
		}
		return Version{}, false, err
	}
	v1 := v.AtLeast(0, 8, 0)
	switch {
	case strings.Contains(rest, "v0"):
		v1 = false
	case strings.Contains(rest, "v1"):
		v1 = true
	}
	if v1 && !v.AtLeast(0, 7, 0) {
		return Version{}, false, &ReleaseError{Engine: e, Version: s, Why: "has no V1 engine (V1 arrived in v0.7.0)"}
	}
	if !v1 && v.AtLeast(0, 11, 0) {
		return Version{}, false, &ReleaseError{Engine: e, Version: s, Why: "has no V0 engine (removed in v0.11.0)"}
	}
	return v, v1, nil
}

// vllmRun holds everything about one vLLM start that does not depend on
// max_model_len and max_num_batched_tokens.
type vllmRun struct {
	m    Model
	hw   Hardware
	s    Settings
	prof vllmProfile
	tp   int

	total    Bytes
	gmu      float64
	mpe      int // the derived max_model_len
	mml      int // resolved max_model_len
	mnbt     int // resolved max_num_batched_tokens (0 = derive per mml in V0)
	userMNBT bool
	seqs     int  // resolved max_num_seqs
	userSeqs bool // --max-num-seqs given
	bs       int
	perToken Bytes // KV bytes per token, all layers, one rank
	elt      int64 // activation element bytes
	vocabPad int64
	sms      int

	weights Bytes
	// draftWeights is the speculative draft's share of weights (vllm_spec.go).
	draftWeights Bytes
	// encMemo is the last encoder profile sized (vllm_encoder.go).
	encMemo encoderMemo
	ctx     Bytes // CUDA context (present always)
	comm    Bytes // NCCL / all-reduce buffers at TP ≥ 2
	graphs  Bytes // CUDA-graph memory estimate
	cublas  Bytes // cuBLAS workspace allocated at the first GEMM of the profile

	// hybrid KV groups (V1 ≥ v0.10): group size and count, 0 when uniform.
	groupSize, groups int
	// groupKinds is each group's kind, in vLLM's order (vllm_groups.go).
	groupKinds []LayerKind
	// attnPage1 is one attention layer's KV per token; statePage one state
	// layer's state per sequence, before padding (0 without state layers).
	attnPage1, statePage Bytes
	// stateBlocks is how many blocks of each state group one request holds
	// (mamba_cache_mode "none": 1, "align": 2).
	stateBlocks int
	// blockRaised: the block size was raised to hold a state page.
	blockRaised bool

	// mrv2: the start runs on Model Runner V2 (vllm_mrv2.go).
	mrv2 bool

	attention string
	quiet     bool
	warnings  []string
	// unmodelled names what this start does that is not sized (Result.unmodelled).
	unmodelled []string
}

// note adds a warning written out already (fmt costs more than the rest
// of a short warning's path).
func (r *vllmRun) note(s string) { r.warnings = append(r.warnings, s) }

func (r *vllmRun) warn(format string, a ...any) {
	if len(a) == 0 {
		r.warnings = append(r.warnings, format)
		return
	}
	r.warnings = append(r.warnings, fmt.Sprintf(format, a...))
}

// vllmSizer is vLLM's sizer (engine.go).
type vllmSizer struct{}

func (vllmSizer) info() EngineInfo {
	return EngineInfo{Name: "vllm", Title: "vLLM", DefaultVersion: DefaultVLLMVersion, Oldest: "0.2.0", Newest: "0.32.x"}
}

func (z vllmSizer) run(m Model, hw Hardware, ver string, s Settings) (Result, error) {
	v, v1, err := parseVLLMVersion(z.info(), ver)
	if err != nil {
		return Result{}, err
	}
	r, err := newVLLMRun(m, hw, s, vllmProfileFor(v, v1))
	if err != nil {
		return Result{}, err
	}
	return r.result(Engine{Name: "vllm", Version: ver}), nil
}

func (vllmSizer) kvBytesPerToken(m Model, ws, elt int) (Bytes, error) {
	return servingKVBytesPerToken(m, ws, elt), nil
}

func newVLLMRun(m Model, hw Hardware, s Settings, p vllmProfile) (*vllmRun, error) {
	if err := p.chooseSampler(s.Sampler); err != nil {
		return nil, err
	}
	tp, err := servingTP(m, hw, s)
	if err != nil {
		return nil, err
	}
	elt, kvElt, err := servingDTypes(s)
	if err != nil {
		return nil, err
	}
	r := &vllmRun{m: m, hw: hw, s: s, prof: p, tp: tp, total: hw.GPU.TotalBytes, elt: elt, quiet: p.quiet}
	r.gmu = s.GPUMemoryUtilization
	if r.gmu == 0 {
		r.gmu = p.gmu
	}
	// CacheConfig.DEFAULT_BLOCK_SIZE = 16
	// (https://github.com/vllm-project/vllm/blob/v0.19.0/vllm/config/cache.py#L34,
	// https://github.com/vllm-project/vllm/blob/v0.19.0/vllm/config/cache.py#L198-L209; docs/ENGINES-REVIEW-VLLM.md
	// §8), unless the MLA backend forces or prefers another (vllmAttention).
	var mlaBS int
	r.attention, mlaBS = vllmAttention(m, hw, p, s.KVCacheDType == F8E4M3 || s.KVCacheDType == F8E5M2)
	r.bs = s.BlockSize
	if r.bs == 0 {
		r.bs = 16
		if m.IsMLA() {
			r.bs = mlaBS
		}
	}
	if err := r.setupKV(kvElt); err != nil {
		return nil, err
	}
	r.resolveLimits()
	r.vocabPad = int64(padVocab(m.Vocab))
	r.sms = gpuSMs(hw.GPU.Name)

	tensors := m.checkpointTensors()
	if r.weights, err = servingWeights(m, tensors, tp, s, int(elt*8)); err != nil {
		return nil, err
	}
	r.weights += r.marlinPadding(tensors)
	if err := r.setupSpec(kvElt, int(elt*8)); err != nil {
		return nil, err
	}
	r.ctx = vllmCUDAContextBytes
	if tp > 1 {
		r.comm = vllmCommBytes(p, hw.GPU)
	}
	r.cublas = cublasWorkspace(hw.GPU)
	r.graphs = r.cudaGraphBytes()
	r.setupMRv2()
	if err := r.setupHybrid(); err != nil {
		return nil, err
	}
	if !r.quiet {
		r.warnUnmodelled()
	}
	return r, nil
}

// setupKV sizes the KV per token: the element type's, a format's
// (kvformat.go), DeepSeek-V3.2's sparse cache.
func (r *vllmRun) setupKV(kvElt int) error {
	r.perToken = servingKVBytesPerToken(r.m, r.tp, kvElt)
	if isKVFormat(r.s.KVCacheDType) {
		var err error
		if r.perToken, err = r.vllmKVFormat(); err != nil {
			return err
		}
	}
	r.sparseIndexer()
	return nil
}

// resolveLimits fills the derived and resolved max_model_len, max_num_seqs and max_num_batched_tokens.
func (r *vllmRun) resolveLimits() {
	s := &r.s
	r.mpe = vllmDerivedMaxLen(r.m)
	if r.m.Rope.Type == "longrope" || r.m.Rope.Type == "su" {
		r.note("rope_scaling " + r.m.Rope.Type + ": newer vLLM releases default --max-model-len to original_max_position_embeddings (" + strconv.Itoa(r.m.Rope.OriginalMax) + ") when it is not given; the model's full " + strconv.Itoa(r.mpe) + " is assumed (docs/VLLM-RELEASES-2026.md §4)")
	}
	r.mml = s.MaxModelLen
	if r.mml == 0 {
		r.mml = s.MaxTotalTokens
	}
	if r.mml == 0 {
		r.mml = r.mpe
		if r.mml == 0 {
			r.mml = 2048
			r.warn("the model config has no max_position_embeddings; max_model_len assumed 2048 (vLLM's fallback)")
		}
	}
	r.seqs = s.MaxNumSeqs
	if r.seqs == 0 {
		r.seqs = s.MaxBatchSize
	}
	r.userSeqs = r.seqs > 0
	r.mnbt = s.MaxNumBatchedTokens
	if r.mnbt == 0 {
		r.mnbt = s.MaxBatchPrefillTokens
	}
	r.userMNBT = r.mnbt > 0
	r.resolveBatchDefaults()
}

// warnUnmodelled warns about what the start does that is assumed or not modelled.
func (r *vllmRun) warnUnmodelled() {
	p := &r.prof
	if r.m.Vision && !r.mmProfileOff() && !r.mrv2NoEncoder() && !r.encoderSized() {
		// The profile run encodes dummy items of the largest size, up to
		// --limit-mm-per-prompt per request, and keeps their outputs as the
		// encoder cache (docs/VLLM-ENCODER.md); sized for the towers
		// vllm_encoder.go knows.
		r.unmodelled = append(r.unmodelled, "vLLM's multimodal encoder profiling (dummy items of the largest size up to --limit-mm-per-prompt, and the encoder cache): its peak is not in the profiled activation, so the KV budget is overestimated; --limit-mm-per-prompt with every modality 0 skips it")
	}
	if p.v.AtLeast(0, 11, 0) && !p.v.AtLeast(0, 11, 1) {
		r.warn("vLLM %s's source takes the FlashInfer top-k/top-p sampler when FlashInfer is installed, but measured v0.11.0 starts show the sort path's peak, which is assumed; if yours logs \"Using FlashInfer for top-p & top-k sampling.\" the KV cache is larger", p.v)
	}
	if p.sampler == samplerFlashInfer {
		r.note("vLLM " + p.v.String() + " uses the FlashInfer top-k/top-p sampler when FlashInfer is installed (assumed); without it the profile's sampler peak is ~2.7× larger")
	}
	if r.tp > 1 {
		r.note("non-torch memory at TP " + strconv.Itoa(r.tp) + " (NCCL and all-reduce buffers) depends on the interconnect; " + r.comm.String() + " per GPU assumed")
	}
}

// resolveBatchDefaults fills max_num_seqs and (V1) max_num_batched_tokens.
func (r *vllmRun) resolveBatchDefaults() {
	p := r.prof
	if !p.v1 {
		if r.seqs == 0 {
			r.seqs = 256
		}
		return
	}
	big := false
	name := r.hw.GPU.Name
	if p.nameBatchDefaults {
		big = containsFold(name, "h100") || containsFold(name, "h200")
	} else {
		// EngineArgs.get_batch_defaults: device total ≥ 70 GiB and, from
		// v0.9.0, not an A100 (PR #17885,
		// https://github.com/vllm-project/vllm/blob/v0.19.0/vllm/engine/arg_utils.py#L2024-L2072;
		// docs/ENGINES-REVIEW-VLLM.md §3).
		mem := Bytes(r.hw.GPU.SMITotalMiB) * MiB
		if mem == 0 {
			mem = r.total
		}
		big = mem >= 70*GiB && !(p.a100Excluded && containsFold(name, "a100"))
	}
	seqs, serve, offline := 256, 2048, 8192
	if big {
		seqs, serve, offline = 1024, 8192, 16384
	}
	if big && !p.v.Less(vllmHugeCardFrom) && Bytes(r.hw.GPU.SMITotalMiB)*MiB >= 160*GiB {
		// v0.28.0's tier for cards of 160 GiB and more (B200/B300): `vllm
		// serve` batches 16384 tokens (PR #51726,
		// https://github.com/vllm-project/vllm/blob/v0.28.0/vllm/engine/arg_utils.py#L2582-L2591;
		// docs/VLLM-RELEASES-2026.md §3). The LLM class's value there was not
		// read; its 16384 is kept.
		serve = 16384
	}
	if r.seqs == 0 {
		r.seqs = seqs
	}
	if r.mnbt == 0 {
		r.mnbt = serve
		if r.s.OfflineLLM {
			r.mnbt = offline
		}
	}
}

// vllmHugeCardFrom is the first release with a batch tier for cards of
// 160 GiB and more (resolveBatchDefaults).
var vllmHugeCardFrom = Version{0, 28, 0}

// seqsAt is max_num_seqs when max_num_batched_tokens is n: from v0.10.1 a
// defaulted max_num_seqs is capped at n (clampSeqs).
func (r *vllmRun) seqsAt(n int) int {
	if r.prof.clampSeqs && !r.userSeqs && n > 0 {
		return min(r.seqs, n)
	}
	return r.seqs
}

// v0MNBT is V0's max_num_batched_tokens for a max_model_len: the user's,
// the auto chunked-prefill budget above 32K (v0AutoChunk), else
// max(mml, 2048) (https://github.com/vllm-project/vllm/blob/v0.2.7/vllm/config.py#L373-L378; under chunked prefill
// https://github.com/vllm-project/vllm/blob/v0.6.4/vllm/config.py#L1104-L1118; docs/ENGINES-REVIEW-VLLM.md §3).
// Auto chunked prefill also stays off with speculative decoding, LoRA,
// pooling models or ROCm (https://github.com/vllm-project/vllm/blob/v0.7.3/vllm/engine/arg_utils.py#L1163-L1194),
// none of which is modelled.
func (r *vllmRun) v0MNBT(mml int) int {
	if r.userMNBT {
		return r.mnbt
	}
	if r.prof.v0AutoChunk > 0 && mml > 32768 && r.m.SlidingWindow == 0 {
		return r.prof.v0AutoChunk
	}
	return max(mml, 2048)
}

func (r *vllmRun) v0Chunked(mml int) bool {
	return !r.userMNBT && r.prof.v0AutoChunk > 0 && mml > 32768 && r.m.SlidingWindow == 0
}

// vllmAttention is the attention backend a release picks by default and,
// for MLA, the KV block size that backend forces or prefers:
//   - v0.8.0 – v0.17.x force 64 for FlashMLA, the default on Hopper (FlashMLA
//     runs on compute capability 9.x only)
//     (https://github.com/vllm-project/vllm/blob/v0.8.0/vllm/platforms/cuda.py#L148-L160;
//     last in https://github.com/vllm-project/vllm/blob/v0.17.0/vllm/platforms/cuda.py#L225-L248).
//     On Blackwell (10.x) v0.10.1 – v0.14.x force 128 for CUTLASS_MLA
//     (https://github.com/vllm-project/vllm/blob/v0.11.0/vllm/platforms/cuda.py#L142-L172),
//     and v0.15.0 – v0.17.x prefer FlashInfer-MLA at 64 when
//     qk_nope_head_dim is 128, else CUTLASS_MLA
//     (https://github.com/vllm-project/vllm/blob/v0.17.0/vllm/platforms/cuda.py#L205-L262).
//   - From v0.18.0 nothing is forced: the first usable backend of the
//     platform's priority list keeps the default 16 when it supports it,
//     else its smallest size
//     (https://github.com/vllm-project/vllm/blob/v0.19.0/vllm/platforms/interface.py#L427-L474,
//     https://github.com/vllm-project/vllm/blob/v0.19.0/vllm/v1/attention/backend.py#L189-L197):
//     FLASH_ATTN_MLA on Hopper (MultipleOf(16), so 16,
//     https://github.com/vllm-project/vllm/blob/v0.19.0/vllm/v1/attention/backends/mla/flashattn_mla.py#L52-L53),
//     FLASHINFER_MLA on Blackwell ([32, 64], so 32,
//     https://github.com/vllm-project/vllm/blob/v0.19.0/vllm/v1/attention/backends/mla/flashinfer_mla.py#L49-L50)
//     (priorities:
//     https://github.com/vllm-project/vllm/blob/v0.19.0/vllm/platforms/cuda.py#L83-L98).
//     With an fp8 KV cache on Hopper FLASH_ATTN_MLA is passed over (its KV
//     dtypes are auto, float16 and bfloat16,
//     https://github.com/vllm-project/vllm/blob/v0.21.0/vllm/v1/attention/backends/mla/flashattn_mla.py#L45-L49)
//     for the next, FLASHMLA, which takes fp8 and blocks of 64 only
//     (https://github.com/vllm-project/vllm/blob/v0.21.0/vllm/v1/attention/backends/mla/flashmla.py#L49-L59;
//     order https://github.com/vllm-project/vllm/blob/v0.21.0/vllm/platforms/cuda.py#L123-L130).
//   - Elsewhere, and before v0.8.0, Triton MLA with the default 16.
//
// Limitations: the backends' own availability checks (FA3 built, FlashMLA
// kernels present, sparse MLA) are taken as passed; non-MLA names are
// FLASH_ATTN (XFORMERS below compute capability 8.0, as V0), although v0.19.0
// puts FLASHINFER first on Blackwell
// (https://github.com/vllm-project/vllm/blob/v0.19.0/vllm/platforms/cuda.py#L100-L106).
func vllmAttention(m Model, hw Hardware, p vllmProfile, fp8KV bool) (string, int) {
	cc := hw.GPU.ComputeCapability
	if !m.IsMLA() {
		if cc > 0 && cc < 80 {
			return "XFORMERS", 16
		}
		return "FLASH_ATTN", 16
	}
	v := p.v
	hopper, blackwell := cc >= 90 && cc < 100, cc >= 100 && cc < 110
	switch {
	case !v.AtLeast(0, 8, 0):
	case v.AtLeast(0, 18, 0) && hopper && fp8KV:
		return "FLASHMLA", 64
	case v.AtLeast(0, 18, 0) && hopper:
		return "FLASH_ATTN_MLA", 16
	case v.AtLeast(0, 18, 0) && blackwell:
		return "FLASHINFER_MLA", 32
	case v.AtLeast(0, 18, 0):
	case hopper:
		return "FLASHMLA", 64
	case blackwell && v.AtLeast(0, 15, 0) && m.QKNopeHeadDim == 128:
		return "FLASHINFER_MLA", 64
	case blackwell && v.AtLeast(0, 10, 1):
		return "CUTLASS_MLA", 128
	}
	return "TRITON_MLA", 16
}

// gpuSMs is the streaming-multiprocessor count of common cards (for the
// Triton sampler's per-program buffer); 132 when unknown.
func gpuSMs(name string) int {
	for _, c := range []struct {
		key string
		sms int
	}{{"h100 pcie", 114}, {"h100 nvl", 132}, {"h100", 132}, {"h200", 132}, {"h20", 78}, {"b200", 148},
		{"a100", 108}, {"a800", 108}, {"l40", 142}, {"a6000", 84}, {"a40", 84}, {"a10g", 80}, {"a10", 72},
		{"l4", 58}, {"4090", 128}, {"3090", 82}, {"t4", 40}, {"v100", 80}} {
		if containsFold(name, c.key) {
			return c.sms
		}
	}
	return 132
}

func vllmCommBytes(p vllmProfile, g GPU) Bytes {
	nvls := nvlsBoard(g)
	switch {
	case !p.v1 || !p.v.AtLeast(0, 11, 0):
		if nvls {
			return vllmCommNVLS
		}
		return vllmCommPlain
	case p.v.AtLeast(0, 19, 0) && nvls:
		return vllmCommNVLSv019
	}
	return vllmCommAfterInit
}

// cublasWorkspace is the cuBLAS workspace PyTorch allocates through its
// caching allocator at the first GEMM, inside the profile: 4096 KiB × 8 on
// Hopper, ":4096:2:16:8" (≈ 8 MiB) before (PyTorch's
// getChosenWorkspaceSize and its default,
// https://github.com/pytorch/pytorch/blob/26a39059ec580351411f180816c47e2ef5134ae1/aten/src/ATen/cuda/CublasHandlePool.cpp#L209-L212 and
// https://github.com/pytorch/pytorch/blob/26a39059ec580351411f180816c47e2ef5134ae1/aten/src/ATen/cuda/CublasHandlePool.cpp#L133-L175).
// Limitation: that is a PyTorch main commit, not matched to the torch
// release a vLLM version pins (v0.19.0 pins 2.10.0); there the 32 MiB case
// is compute capability 9.0 only, so Blackwell gets 8.125 MiB, while later
// PyTorch copies also give 32 MiB to 10.x and 12.x. This follows the later
// rule (≥ 9.0).
func cublasWorkspace(g GPU) Bytes {
	if g.ComputeCapability >= 90 {
		return 32 * MiB
	}
	return 8*MiB + 128*KiB
}

// samplerBytes is the dummy sampler's peak over rows × vocab: the model-dtype
// logits (padded vocab) plus the path's own tensors, in bytes per element:
//   - sort (V0, V1 native): fp32 copy (4), sorted values (4) and int64
//     indices (8), and inside torch.sort the int64 index array (8, PyTorch's
//     segmented_sort_pairs for ≥ 128 rows,
//     https://github.com/pytorch/pytorch/blob/420d374dfeb7a2826c9101260e74d730304d1a73/aten/src/ATen/native/cuda/SortStable.cu#L182-L214 and
//     https://github.com/pytorch/pytorch/blob/420d374dfeb7a2826c9101260e74d730304d1a73/aten/src/ATen/native/cuda/SortStable.cu#L265-L274) and CUB's
//     alternate key/value buffers (4 + 8; inside CUB, not read) = 36; it
//     reproduces the 38-byte-per-element peaks of testdata/startup_reports_dev.csv
//     rows 20–22, 31–32. Limitation: below 128 rows torch takes its full
//     sort (two int2 arrays, 16 bytes) instead; not modelled.
//   - FlashInfer: fp32 copy, masked logits, probabilities = 12 (see
//     samplerFlashInfer).
//   - Triton: fp32 copy, probabilities, exponential noise = 12, plus the
//     per-program fp32 buffer of min(next_power_of_2(min(SMs, rows)), SMs)
//     rows (https://github.com/vllm-project/vllm/blob/v0.19.0/vllm/v1/sample/ops/topk_topp_triton.py#L1010-L1016).
func samplerBytes(kind vllmSampler, rows, vocab, vpad int64, sms int) int64 {
	base := rows * vpad * 2
	switch kind {
	case samplerSortFP32:
		return base + rows*vocab*36
	case samplerFlashInfer:
		return base + rows*vocab*12
	case samplerTriton:
		progs := min(int64(sms), rows)
		return base + rows*vocab*12 + 4*min(nextPow2(progs), int64(sms))*vocab
	case samplerMRv2Copy:
		return base + rows*vocab*4
	}
	return base
}

// activation is the profile's torch peak increase for n batched tokens:
// the forward, or the sampler run with the forward's output still held,
// whichever is larger, plus the cuBLAS workspace.
func (r *vllmRun) activation(n int) Bytes {
	nn := int64(n)
	rows := int64(min(r.seqs, n))
	fwd := servingForwardBytes(&r.m, r.tp, nn, r.elt, r.prof.fwdHidden)
	samp := nn*int64(r.m.Hidden)*r.elt + samplerBytes(r.prof.sampler, rows, int64(r.m.Vocab), r.vocabPad, r.sms)
	if r.s.Spec.On() {
		// The rejection sampler's dummy pass (docs/SPECULATIVE.md §4.2):
		// random target logits of 2·rows (one draft token per request) and
		// the bonus rows gathered from them, where the plain pass held one
		// copy of the logits: 2·rows·vocab more in the logits' dtype.
		samp += 2 * rows * int64(r.m.Vocab) * r.elt
	}
	return Bytes(max(fwd, samp)) + r.cublas
}

// profilePeak is the profile's torch peak increase at max_model_len mml
// with n batched tokens: the language model's (activation), or with a
// multimodal encoder profiled first the larger of its phase and the
// language model's with the encoder's outputs held (vllm_encoder.go).
func (r *vllmRun) profilePeak(mml, n int) Bytes {
	act := r.activation(n)
	if !r.m.Vision {
		return act
	}
	if e, ok := r.encoderProfile(mml, n); ok {
		held := e.held
		if r.mrv2 {
			held -= e.pix // freed before the language model's run (docs/VLLM-ENCODER.md §1.6)
		}
		act = max(e.peak+r.cublas, act+held)
	}
	return act
}

// cudaGraphBytes estimates the captured graphs: V1 captures piecewise graphs
// (one per attention split, layers + 1) for each size of
// vllmCaptureSizes; V0 full graphs for 35 sizes up to 256
// (https://github.com/vllm-project/vllm/blob/v0.6.4/vllm/worker/model_runner.py#L74-L76). Each holds its nodes; the pool
// holds the largest size's activations (derived, see
// vllmGraphBytesPerPiece); a calibrated correction is added.
func (r *vllmRun) cudaGraphBytes() Bytes {
	if r.s.EnforceEager {
		return 0
	}
	sizes, top := vllmCaptureSizes(r.prof.v, r.seqsAt(r.mnbt), r.mnbt)
	if r.s.Spec.On() {
		sizes, top = specCaptureSizes(r.prof.v, r.seqsAt(r.mnbt), r.mnbt, 1+r.s.Spec.Tokens)
	}
	if !r.prof.v1 {
		sizes, top = 35, min(256, max(r.seqs, 1)*2)
	}
	pieces := int64(r.m.Layers + 1)
	g := Bytes(int64(sizes)*pieces)*vllmGraphBytesPerPiece +
		Bytes(servingForwardBytes(&r.m, r.tp, int64(top), r.elt, r.prof.fwdHidden))
	return max(0, g+r.s.Corrections.graphs())
}

// vllmCaptureSizes is how many batch sizes V1 captures CUDA graphs for, and
// the largest:
//   - from v0.11.1, up to min(2·max_num_seqs, 512, max_num_batched_tokens):
//     1, 2, 4, then steps of 8 below 256 and of 16 from 256 (51 sizes at
//     512; https://github.com/vllm-project/vllm/blob/v0.11.1/vllm/config/vllm.py#L847-L888, the same in
//     https://github.com/vllm-project/vllm/blob/v0.19.0/vllm/config/vllm.py#L1399-L1444);
//   - v0.10.0 – v0.11.0: 1, 2, 4 and steps of 8 up to min(2·max_num_seqs,
//     512), those above max_num_batched_tokens dropped (67 sizes at 512;
//     https://github.com/vllm-project/vllm/blob/v0.11.0/vllm/config/__init__.py#L595-L596 and
//     https://github.com/vllm-project/vllm/blob/v0.11.0/vllm/config/__init__.py#L606-L610, the 512 cap at
//     https://github.com/vllm-project/vllm/blob/v0.11.0/vllm/config/scheduler.py#L226-L227).
//
// Limitation: V1 v0.7 – v0.9 are given v0.10's rule; their own defaults
// (a fixed list up to 512, filtered by max_num_seqs) were not re-read.
func vllmCaptureSizes(v Version, seqs, mnbt int) (int, int) {
	top := min(2*max(seqs, 1), 512)
	if mnbt > 0 && v.AtLeast(0, 11, 1) {
		top = min(top, mnbt)
	}
	// Counted without building the list (captureSizes does, for the
	// rounding speculative decoding needs): this runs for every start.
	n, last := 0, min(top, 4)
	for _, s := range []int{1, 2, 4} {
		if s <= top && (mnbt <= 0 || s <= mnbt) {
			n++
		}
	}
	for s := 8; s <= top && (mnbt <= 0 || s <= mnbt); s += captureStep(v, s) {
		n, last = n+1, s
	}
	return n, last
}

// captureStep is the capture list's step after size s: 8, and 16 from
// 256 on v0.11.1 and later.
func captureStep(v Version, s int) int {
	if s >= 256 && v.AtLeast(0, 11, 1) {
		return 16
	}
	return 8
}

// captureSizesMax bounds V1's capture list (67 sizes up to 512 before
// v0.11.1, 51 after).
const captureSizesMax = 80

// captureSizes fills buf with V1's capture list up to top: 1, 2, 4, then
// steps of 8 (of 16 from 256, v0.11.1 on), none above mnbt.
func captureSizes(v Version, top, mnbt int, buf *[captureSizesMax]int) []int {
	out := buf[:0]
	for _, s := range []int{1, 2, 4} {
		if s <= top && (mnbt <= 0 || s <= mnbt) {
			out = append(out, s)
		}
	}
	for s := 8; s <= top && (mnbt <= 0 || s <= mnbt) && len(out) < captureSizesMax; s += captureStep(v, s) {
		out = append(out, s)
	}
	return out
}

// charged returns the non-torch bytes the release's budget subtracts.
func (r *vllmRun) charged() Bytes {
	switch r.prof.budget {
	case budgetTorchPeak:
		return 0
	case budgetUsedOnDevice, budgetPeakPlusNonTorch:
		return r.ctx + r.comm + r.prof.nonTorch
	}
	return r.comm + r.prof.nonTorch
}

// vllmStart is one start with resolved limits.
type vllmStart struct {
	mml, mnbt  int
	act        Bytes
	avail      Bytes // the budget for KV ("Available KV cache memory")
	numBlocks  int64
	tokens     int
	fail       string
	msg        string
	needed     Bytes
	chunked    bool
	usedAtPeak Bytes
	// slack is the bytes to spare before a limit-dependent check fails (searches only).
	slack float64
}

// start simulates the budget for max_model_len mml with n batched tokens
// (n = 0: the release's default).
func (r *vllmRun) start(mml, n int) vllmStart {
	st := vllmStart{mml: mml, mnbt: n}
	if !r.prof.v1 {
		if n == 0 {
			st.mnbt = r.v0MNBT(mml)
		}
		st.chunked = r.v0Chunked(mml) || r.userMNBT
	} else if n == 0 {
		st.mnbt = r.mnbt
	}
	st.act = r.profilePeak(mml, st.mnbt)
	if f := r.s.Corrections.activationFactor(); f != 1 {
		st.act = Bytes(f * float64(st.act))
	}
	extra := r.s.ExtraOverheadBytes + r.s.Corrections.overhead()
	capacity := Bytes(r.gmu * float64(r.total))
	avail := capacity - r.weights - st.act - r.charged() - r.mrv2Charged(st.mnbt) - extra - r.s.ExtraReserveBytes
	if r.prof.graphsInBudget {
		avail -= r.graphs
	}
	st.avail = avail
	st.usedAtPeak = r.ctx + r.comm + r.prof.nonTorch + r.weights + st.act + extra
	if avail > 0 {
		st.numBlocks = int64(avail) / int64(r.blockBytes())
	}
	st.tokens = r.tokensOf(st)
	return st
}

// checked is a start with max_model_len mml and n batched tokens, checked.
func (r *vllmRun) checked(mml, n int) vllmStart {
	st := r.start(mml, n)
	r.check(&st)
	return st
}

// fits reports whether a start with max_model_len mml succeeds.
func (r *vllmRun) fits(mml, n int) bool { return r.checked(mml, n).fail == "" }

// vllmSearch searches over vLLM starts (search.go).
func vllmSearch(try func(int) vllmStart) searcher[vllmStart] {
	return searcher[vllmStart]{try: try, fits: func(st vllmStart) bool { return st.fail == "" },
		slack: func(st vllmStart) float64 { return st.slack }}
}

// slack is how many bytes a start has to spare before the first of the
// memory checks that depend on the limits fails (negative past it), for
// the searches: the profile's peak against the card, the KV budget, and
// one request of max_model_len against it.
func (r *vllmRun) slack(st *vllmStart) float64 {
	s := min(float64(r.total-st.usedAtPeak), float64(st.avail))
	switch {
	case !r.prof.kvCheck:
	case r.prof.v1:
		st.needed = r.neededBytes(st.mml, st.mnbt)
		s = min(s, float64(st.avail-st.needed))
		if r.stateBlockCheck() {
			s = min(s, float64(st.avail-Bytes(r.seqsAt(st.mnbt))*r.blockBytes()))
		}
	default:
		s = min(s, float64(st.tokens-st.mml)*float64(r.perToken))
	}
	return s
}

// check applies the engine's start-up checks to st: the argument checks,
// then the memory checks (checkMemory) and the one-request check
// (checkMaxModelLen).
func (r *vllmRun) check(st *vllmStart) {
	p := &r.prof
	st.slack = r.slack(st)
	switch {
	case r.mpe > 0 && st.mml > r.mpe:
		st.fail = FailureArgumentValidation
		if !r.quiet {
			st.msg = fmt.Sprintf("User-specified max_model_len (%d) is greater than the derived max_model_len (max_position_embeddings=%d or model_max_length=None in model's config.json). This may lead to incorrect model outputs or CUDA errors. To allow overriding this maximum, set the env var VLLM_ALLOW_LONG_MAX_MODEL_LEN=1", st.mml, r.mpe)
		}
		return
	case p.v1 && st.mnbt < r.seqsAt(st.mnbt):
		// SchedulerConfig's check
		// (https://github.com/vllm-project/vllm/blob/v0.19.0/vllm/config/scheduler.py#L273-L278; the same in
		// https://github.com/vllm-project/vllm/blob/v0.8.0/vllm/config.py#L1723-L1727); from v0.10.1 only an explicit
		// --max-num-seqs can trip it (seqsAt).
		st.fail = FailureArgumentValidation
		if !r.quiet {
			st.msg = fmt.Sprintf("max_num_batched_tokens (%d) must be greater than or equal to max_num_seqs (%d).", st.mnbt, r.seqsAt(st.mnbt))
		}
		return
	case !p.v1 && !st.chunked && st.mnbt < st.mml:
		st.fail = FailureArgumentValidation
		if !r.quiet {
			st.msg = fmt.Sprintf("max_num_batched_tokens (%d) is smaller than max_model_len (%d). This effectively limits the maximum sequence length to max_num_batched_tokens and makes vLLM reject longer sequences. Please increase max_num_batched_tokens or decrease max_model_len.", st.mnbt, st.mml)
		}
		return
	}
	if r.checkMemory(st) || !p.kvCheck {
		return
	}
	r.checkMaxModelLen(st)
	if st.fail == "" {
		r.checkStateBlocks(st)
	}
}

// checkMemory applies the checks on loading, free memory, the profile's peak and the KV budget; it reports whether one failed.
func (r *vllmRun) checkMemory(st *vllmStart) bool {
	p := &r.prof
	free := r.total - r.ctx
	if p.v1 && p.v.AtLeast(0, 11, 0) {
		free -= r.comm
	}
	if r.weights+r.ctx > r.total || (p.freeCheck && r.weights > free) {
		st.fail = FailureWeights
		if !r.quiet {
			st.msg = fmt.Sprintf("torch.OutOfMemoryError: CUDA out of memory while loading the weights (%s per GPU on a %s card)", r.weights, r.total)
		}
		return true
	}
	if p.freeCheck && r.gmu*float64(r.total) > float64(free) {
		st.fail = FailureGPUMemoryUtilization
		if !r.quiet {
			st.msg = fmt.Sprintf("Free memory on device (%.2f/%.2f GiB) on startup is less than desired GPU memory utilization (%g, %.2f GiB). Decrease GPU memory utilization or reduce GPU memory used by other processes.",
				free.GiBs(), r.total.GiBs(), r.gmu, r.gmu*r.total.GiBs())
		}
		return true
	}
	if st.usedAtPeak > r.total {
		st.fail = FailureWarmupOOM
		if !r.quiet {
			rows := min(r.seqs, st.mnbt)
			st.msg = fmt.Sprintf("CUDA out of memory occurred when warming up sampler with %d dummy requests. Please try lowering `max_num_seqs` or `gpu_memory_utilization` when initializing the engine.", rows)
		}
		return true
	}
	if st.avail <= 0 || st.numBlocks <= 0 {
		st.fail = FailureNoKVMemory
		if !r.quiet {
			st.msg = "No available memory for the cache blocks. Try increasing `gpu_memory_utilization` when initializing the engine."
		}
		return true
	}
	return false
}

// checkMaxModelLen applies the check that one request of max_model_len fits the KV cache.
func (r *vllmRun) checkMaxModelLen(st *vllmStart) {
	if r.prof.v1 {
		if st.needed > st.avail {
			st.fail = FailureMaxModelLen
			if !r.quiet {
				est := r.estimateMaxModelLen(st.avail, st.mml, st.mnbt)
				extra := ""
				if est > 0 {
					extra = fmt.Sprintf("Based on the available memory, the estimated maximum model length is %d. ", est)
				}
				st.msg = fmt.Sprintf("To serve at least one request with the models's max seq len (%d), (%.2f GiB KV cache is needed, which is larger than the available KV cache memory (%.2f GiB). %sTry increasing `gpu_memory_utilization` or decreasing `max_model_len` when initializing the engine.",
					st.mml, st.needed.GiBs(), st.avail.GiBs(), extra)
			}
		}
		return
	}
	if st.mml > st.tokens {
		st.fail = FailureMaxModelLen
		if !r.quiet {
			st.msg = fmt.Sprintf("The model's max seq len (%d) is larger than the maximum number of tokens that can be stored in KV cache (%d). Try increasing `gpu_memory_utilization` or decreasing `max_model_len` when initializing the engine.", st.mml, st.tokens)
		}
	}
}

// estimateMaxModelLen is V1's binary search for the largest max_model_len
// whose one request fits the available memory, between 1 and limit
// (_estimate_max_model_len_from_groups,
// https://github.com/vllm-project/vllm/blob/v0.19.0/vllm/v1/core/kv_cache_utils.py#L1370-L1402, called by the start-up
// check at https://github.com/vllm-project/vllm/blob/v0.19.0/vllm/v1/core/kv_cache_utils.py#L1575-L1584; its error text,
// https://github.com/vllm-project/vllm/blob/v0.19.0/vllm/v1/core/kv_cache_utils.py#L619-L653).
func (r *vllmRun) estimateMaxModelLen(avail Bytes, limit, mnbt int) int {
	lo, hi, res := 1, limit, 0
	for lo <= hi {
		mid := (lo + hi) / 2
		if r.neededBytes(mid, mnbt) <= avail {
			res, lo = mid, mid+1
		} else {
			hi = mid - 1
		}
	}
	return res
}

// concurrency is vLLM's printed "Maximum concurrency" for requests of n tokens.
func (r *vllmRun) concurrency(st vllmStart, n int) float64 {
	if n <= 0 {
		return 0
	}
	if r.prof.concurrencyBlocks || r.groupSize > 0 {
		per := r.blocksPerRequest(n, st.mnbt)
		if per <= 0 {
			return 0
		}
		return float64(st.numBlocks) / float64(per)
	}
	return float64(st.tokens) / float64(n)
}

// logLines renders the lines the release prints about sizing.
func (r *vllmRun) logLines(st vllmStart) []string {
	p := &r.prof
	lines := make([]string, 0, 6)
	lines = append(lines, "Model loading took "+strconv.FormatFloat(r.weights.GiBs(), 'f', 4, 64)+" GiB")
	lines = append(lines, r.hybridLogLines()...)
	if !p.v1 && p.budget == budgetProfiling && p.v.AtLeast(0, 7, 0) {
		lines = append(lines, "the current vLLM instance can use total_gpu_memory ("+fixed2(r.total.GiBs())+"GiB) x gpu_memory_utilization ("+fixed2(r.gmu)+") = "+fixed2(r.gmu*r.total.GiBs())+"GiB",
			"model weights take "+fixed2(r.weights.GiBs())+"GiB; non_torch_memory takes "+fixed2(r.charged().GiBs())+"GiB; PyTorch activation peak memory takes "+fixed2(st.act.GiBs())+"GiB; the rest of the memory reserved for KV Cache is "+fixed2(st.avail.GiBs())+"GiB.")
	}
	if p.logAvailable {
		lines = append(lines, "Available KV cache memory: "+fixed2(st.avail.GiBs())+" GiB")
	}
	if st.numBlocks <= 0 {
		return lines
	}
	switch {
	case !p.v1:
		cpu := int64(4*GiB) / (int64(r.bs) * int64(r.perToken))
		lines = append(lines, "# GPU blocks: "+strconv.FormatInt(st.numBlocks, 10)+", # CPU blocks: "+strconv.FormatInt(cpu, 10))
		if p.v.AtLeast(0, 6, 3) {
			lines = append(lines, "Maximum concurrency for "+strconv.Itoa(st.mml)+" tokens per request: "+fixed2(float64(st.tokens)/float64(st.mml))+"x")
		}
	case p.logTokens:
		lines = append(lines, "GPU KV cache size: "+commas(st.tokens)+" tokens",
			"Maximum concurrency for "+commas(st.mml)+" tokens per request: "+fixed2(r.concurrency(st, st.mml))+"x")
	default:
		lines = append(lines, "# GPU blocks: "+strconv.FormatInt(st.numBlocks, 10))
	}
	if p.graphsInBudget && !r.s.EnforceEager && !r.mrv2 {
		lines = append(lines, "Estimated CUDA graph memory: "+fixed2(r.graphs.GiBs())+" GiB total")
	}
	return lines
}

// boundaryMML is the largest max_model_len that starts with the resolved
// (or default) batched tokens, capped by max_position_embeddings.
func (r *vllmRun) boundaryMML() (int, string, vllmStart) {
	hi := r.mpe
	if hi <= 0 {
		hi = max(r.mml, 1<<20)
	}
	n := r.s.MaxNumBatchedTokens
	if n == 0 {
		n = r.s.MaxBatchPrefillTokens
	}
	if r.prof.v1 {
		n = 0
	}
	s := vllmSearch(func(mml int) vllmStart { return r.checked(mml, n) })
	top := probe[vllmStart]{hi, s.try(hi)}
	if top.st.fail == "" {
		return hi, "max_position_embeddings", top.st
	}
	first := probe[vllmStart]{1, s.try(1)}
	if first.st.fail != "" {
		lim := "kv_budget"
		switch first.st.fail {
		case FailureWeights:
			lim = "weights"
		case FailureWarmupOOM, FailureGPUMemoryUtilization:
			lim = "warmup"
		case FailureStateBlocks:
			lim = "state_blocks"
		}
		return 0, lim, first.st
	}
	lo, _ := s.edge(first, top)
	return lo.at, "kv_budget", lo.st
}

// boundaryMNBT is the largest max_num_batched_tokens that starts with max_model_len mml.
func (r *vllmRun) boundaryMNBT(mml int) int {
	s := vllmSearch(func(n int) vllmStart {
		if r.prof.v1 {
			return r.checked(mml, n)
		}
		// V0: an explicit --max-num-batched-tokens.
		save := r.userMNBT
		r.userMNBT = true
		st := r.checked(mml, n)
		r.userMNBT = save
		return st
	})
	n, _ := s.largestFrom(1<<22, r.mnbt, mml, 2048, 512, max(r.seqs, 1))
	return n
}

// result is the estimate for the resolved settings: the start at them, its
// per-GPU breakdown and the boundary.
func (r *vllmRun) result(eng Engine) Result {
	res := Result{
		Engine:          eng,
		NumShard:        r.tp,
		KVBytesPerToken: r.perToken,
		BlockSize:       r.bs,
		Attention:       r.attention,
		PrefixCaching:   r.prof.v1,
		Chunking:        r.prof.v1,
		WeightsFrom:     r.m.weightsSource(),
	}
	n := 0
	if !r.prof.v1 {
		n = r.mnbt
	}
	st := r.start(r.mml, n)
	r.check(&st)
	if !r.prof.v1 {
		res.Chunking = st.chunked
	}
	res.Startup = r.startup(&st)
	res.StateBytesPerSequence = r.stateBytesPerSequence()
	if st.fail == "" {
		res.MaxConcurrentSequences = r.maxSequences(st)
	}
	res.PerGPU = r.perGPU(&st)
	res.Boundary = r.boundary(res.Startup.Fits)
	if res.Boundary.PrefillAtMaxTotal > 0 {
		res.Assumptions = append(res.Assumptions, "the boundary is the largest --max-model-len that starts with --max-num-batched-tokens "+strconv.Itoa(res.Boundary.PrefillAtMaxTotal)+"; one request's input plus output may use all of it")
	}
	if r.statePage > 0 {
		res.Assumptions = append(res.Assumptions, "the profile run's forward peak counts the state layers' mixers as attention and MLP would (their kernels' own workspaces are not modelled); their state is sized")
	}
	if e, ok := r.encoderProfile(st.mml, st.mnbt); r.m.Vision && ok {
		res.Assumptions = append(res.Assumptions, fmt.Sprintf("the profile encodes %d dummy %s item(s) of %d tokens (the largest the processor makes) before the language model's run; its outputs and pixels (%s) stay held through that run, and its largest block peaks at %s (docs/VLLM-ENCODER.md); --limit-mm-per-prompt with every modality 0 skips it", e.items, e.modality, e.tokens, e.held, e.peak))
	}
	if r.s.Spec.On() {
		res.Assumptions = append(res.Assumptions, "speculative decoding: the draft's weights and KV layers are sized; the drafter's forward in the profile run and its CUDA graphs are taken to fit within the target's (docs/SPECULATIVE.md §4)")
	}
	if a, ok := samplerAssumptions[r.prof.sampler]; ok && r.prof.v1 {
		res.Assumptions = append(res.Assumptions, a[min(len(r.s.Sampler), 1)])
	}
	if r.prof.graphsInBudget && !r.s.EnforceEager {
		r.warn("vLLM %s subtracts its CUDA-graph memory estimate from the budget; the estimate here (%s) is derived, not vLLM's own profiling", r.prof.v, r.graphs)
	}
	res.Warnings = r.warnings
	res.unmodelled = r.unmodelled
	return res
}

// startup is the Startup of the checked start st, with its log lines and capacity.
func (r *vllmRun) startup(st *vllmStart) Startup {
	up := Startup{
		MaxInputTokens:        r.mml - 1,
		MaxTotalTokens:        r.mml,
		MaxBatchPrefillTokens: st.mnbt,
		WarmupRequests:        min(r.seqs, st.mnbt),
		WarmupBytes:           st.usedAtPeak,
		ActivationBytes:       st.act,
		CapacityBytes:         Bytes(r.gmu * float64(r.total)),
		Fits:                  st.fail == "",
		Failure:               st.fail,
		Message:               st.msg,
	}
	if st.fail == "" || st.fail == FailureMaxModelLen || (st.fail == FailureNoKVMemory && r.prof.logAvailable) {
		// V1 logs the budget before it refuses a negative one ("Available
		// KV cache memory: -14.28 GiB" then "No available memory for the
		// cache blocks", testdata/startup_reports_dev.csv row 302).
		up.LogLines = r.logLines(*st)
	}
	if st.numBlocks > 0 && (st.fail == "" || st.fail == FailureMaxModelLen) {
		up.MaxBatchTotalTokens = st.tokens
	}
	if st.fail == "" {
		per := r.blocksPerRequest(requestShape(r.s, r.mml), st.mnbt)
		if per > 0 {
			up.MaxConcurrentRequests = int(st.numBlocks / per)
		}
	}
	return up
}

// perGPU is the per-GPU memory breakdown of the checked start st.
func (r *vllmRun) perGPU(st *vllmStart) Breakdown {
	b := Breakdown{Weights: r.weights, CUDAContext: r.ctx, NCCL: r.comm, Other: r.prof.nonTorch + r.s.ExtraOverheadBytes + r.s.Corrections.overhead(), ActivationPeak: st.act}
	if b.Other < 0 {
		// Less in use than modelled (a search's or a calibration's shift):
		// taken from the non-torch memory, then the context, never below 0.
		b.CUDAContext, b.Other = max(0, b.CUDAContext+b.Other), 0
	}
	if st.avail > 0 && (st.fail == "" || st.fail == FailureMaxModelLen) {
		b.KVCache = st.avail
	}
	if st.fail == "" {
		b.CUDAGraphs = r.graphs
	}
	b.Reserve = b.unallocated(r.total)
	return b
}

// boundary is the result's Boundary, searched quietly; fits is whether the resolved start fits.
func (r *vllmRun) boundary(fits bool) Boundary {
	r.quiet = true
	bm, lim, bst := r.boundaryMML()
	bd := Boundary{MaxTotalTokens: bm, LimitedBy: lim}
	if bm > 0 {
		bd.MaxInputTokens = bm - 1
		bd.MaxBatchTotalTokens = bst.tokens
		bd.PrefillAtMaxTotal = bst.mnbt
		if per := r.blocksPerRequest(requestShape(r.s, bm), bst.mnbt); per > 0 {
			bd.MaxConcurrentRequests = int(bst.numBlocks / per)
		}
	}
	pm := r.mml
	if !fits && bm > 0 {
		pm = bm
	}
	bd.MaxBatchPrefillTokens = r.boundaryMNBT(pm)
	bd.MaxNumSeqs = r.boundarySeqs()
	r.quiet = false
	return bd
}

// nextPow2 is the smallest power of two ≥ n (1 for n ≤ 1), as Triton's
// next_power_of_2.
func nextPow2(n int64) int64 {
	p := int64(1)
	for p < n {
		p <<= 1
	}
	return p
}

// vllmDerivedMaxLen is the max_model_len vLLM derives from the config
// (docs/VLLM-RELEASES-2026.md §4): max_position_embeddings times
// rope_scaling's factor, except for rope types su, longrope and llama3
// and for Gemma 3 ("already scaled"); yarn scales
// original_max_position_embeddings when rope_scaling has it.
func vllmDerivedMaxLen(m Model) int {
	r, n := m.Rope, m.MaxPositions
	if n == 0 || r.Factor <= 0 || strings.HasPrefix(m.Type, "gemma3") {
		return n
	}
	switch r.Type {
	case "su", "longrope", "llama3":
		return n
	case "yarn":
		if r.OriginalMax > 0 {
			n = r.OriginalMax
		}
	}
	return int(float64(n) * r.Factor)
}
