package main

import (
	"fmt"
	"math"

	"github.com/vramcalc/vramcalc/internal/simkit"
)

// The ground-truth memory model of one start, following vLLM v0.21.0's
// worker step by step (docs/ENGINE-SURFACE.md §A) with physical terms whose
// sizes come from the hidden coefficients (simkit.Env), never from
// vramcalc's estimator.

// Hidden coefficients of the simulated vLLM.
const (
	// defaultOverhead is the non-torch memory the profiler sees grow
	// (cuBLAS workspaces, NCCL, the attention backend's buffers).
	defaultOverhead = 384 << 20
	// defaultContext is the CUDA context, resident before the worker's
	// init snapshot, so never counted against the pool.
	defaultContext = 512 << 20
	// defaultActFactor scales the dummy forward's live activations and the
	// sampler's logits to the torch peak.
	defaultActFactor = 1.2
	// graphBytesPerGraph is what each captured CUDA graph costs beyond
	// the first (driver objects, its share of the pool).
	graphBytesPerGraph = 4 << 20
	// samplerCopies are the float32 [requests, vocab] tensors the dummy
	// sampler run holds at once: logits, probabilities, the sorted copy
	// of top-k/top-p.
	samplerCopies = 3
)

// failure is why a start stops, with the text vLLM prints.
type failure int

const (
	failNone failure = iota
	failArgs
	failFreeMemory
	failLoadOOM
	failProfileOOM
	failNoKVMemory
	failMaxModelLen
	failAutoFit
	failGraphOOM
)

// plan is one start's sizes, per rank where ranks differ.
type plan struct {
	TP          int
	Context     int64
	Requested   int64
	Free        int64 // at the init snapshot
	Weights     int64
	NonTorch    []int64
	Peak        int64 // torch peak increase of the profile run
	GraphEst    int64 // profile_cudagraph_memory's estimate
	GraphActual int64 // what capture takes
	Available   []int64
	PageBytes   int64 // one layer's block (K and V)
	Layers      int
	BlockSize   int
	NumBlocks   int
	MaxModelLen int
	Derived     int // the model's max_position_embeddings
	AutoFrom    int // > 0: auto-fit reduced max_model_len from this
	MaxSeqs     int
	MaxBatched  int
	Captures    int // CUDA graphs captured
	Concurrency float64
	KVTokens    int
	Fail        failure
	Message     string
	OOM         simkit.TorchOOM
}

// KVBytes is the pool on each rank.
func (p *plan) KVBytes() int64 { return int64(p.NumBlocks) * p.PageBytes * int64(p.Layers) }

// Serving is rank r's memory once graphs are captured.
func (p *plan) Serving(r int) int64 {
	return p.Context + p.NonTorch[r] + p.Weights + p.KVBytes() + p.GraphActual
}

// batchDefaults are get_batch_defaults for the OpenAI server: 8192
// batched tokens and 1024 sequences on a device of at least 70 GiB that is
// not an A100, else 2048 and 256 (docs/ENGINE-SURFACE.md §A5).
func batchDefaults(name string, total int64) (batched, seqs int) {
	if total >= 70<<30 && !containsFold(name, "a100") {
		return 8192, 1024
	}
	return 2048, 256
}

func containsFold(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		match := true
		for j := range len(sub) {
			c := s[i+j]
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != sub[j] {
				match = false
				break
			}
		}
		if match {
			return true
		}
	}
	return false
}

// kvElt is the bytes of one KV element: the model dtype (2) unless an
// fp8 cache is asked for.
func kvElt(dtype string) int64 {
	if dtype == "auto" || dtype == "bfloat16" {
		return 2
	}
	return 1
}

// actPerToken is the live bytes of one token at the forward pass's peak
// on one rank: the residual and normed hidden states plus the larger of
// the attention projections (q, k, v, and the output before o_proj) and
// the MLP (gate_up, then the activation), in the model dtype.
func actPerToken(m *simkit.Model, tp int) int64 {
	h, im := int64(m.Hidden), int64(m.Intermediate)/int64(tp)
	nh, nkv, hd := int64(m.Heads)/int64(tp), int64(max(m.NumKVHeads()/tp, 1)), int64(m.HeadSize())
	attn := (2*nh + 2*nkv) * hd
	return 2 * (2*h + max(attn, 3*im))
}

// weightsPerRank is the checkpoint split over the ranks; --quantization
// fp8 halves what is not the embeddings and lm_head.
func weightsPerRank(m *simkit.Model, a *Args) int64 {
	w := m.WeightsBytes
	if a.Quantization == "fp8" && m.QuantMethod == "" {
		emb := int64(m.Vocab) * int64(m.Hidden) * 2
		if !m.Tied {
			emb *= 2
		}
		w = emb + (w-emb)/2
	}
	return simkit.CeilDiv(w, int64(a.TP))
}

// captureSizes are v0.21.0's default CUDA-graph sizes: 1, 2, 4, then
// steps of 8 below 256 and 16 from 256, up to min(2·max_num_seqs, 512)
// capped by max_num_batched_tokens, which is added when it is below the cap
// (https://github.com/vllm-project/vllm/blob/v0.21.0/vllm/config/vllm.py#L1525-L1587).
func captureSizes(maxSeqs, maxBatched int) []int {
	limit := min(min(maxSeqs*2, 512), maxBatched)
	var out []int
	for _, s := range []int{1, 2, 4} {
		if s <= limit {
			out = append(out, s)
		}
	}
	for s := 8; s <= limit && s < 256; s += 8 {
		out = append(out, s)
	}
	for s := 256; s <= limit; s += 16 {
		out = append(out, s)
	}
	if maxBatched <= limit && out[len(out)-1] != maxBatched {
		out = append(out, maxBatched)
	}
	return out
}

// graphMemory is profile_cudagraph_memory's estimate for the default
// FULL_AND_PIECEWISE mode: per mode the first (largest) capture plus one
// graph's cost for each further size, the modes overlaid in one pool
// (https://github.com/vllm-project/vllm/blob/v0.21.0/vllm/v1/worker/gpu_model_runner.py#L6049-L6140).
// PIECEWISE captures every size, FULL the decode sizes up to max_num_seqs.
func graphMemory(sizes []int, maxSeqs int, act int64) (estimate int64, graphs int) {
	first := func(largest int) int64 { return simkit.AllocRound(int64(largest)*act) + graphBytesPerGraph }
	full := 0
	for _, s := range sizes {
		if s <= maxSeqs {
			full++
		}
	}
	shared := first(sizes[len(sizes)-1])
	if full > 0 {
		shared = max(shared, first(sizes[full-1]))
	}
	per := int64(len(sizes)-1) * graphBytesPerGraph
	if full > 0 {
		per += int64(full-1) * graphBytesPerGraph
	}
	return shared + per, len(sizes) + full
}

// profilePeak is the torch peak of profile_run: a dummy forward of
// max_num_batched_tokens tokens, then the sampler over min(max_num_seqs,
// tokens) rows of float32 logits
// (https://github.com/vllm-project/vllm/blob/v0.21.0/vllm/v1/worker/gpu_model_runner.py#L5888-L5960),
// scaled by the hidden activation factor.
func profilePeak(m *simkit.Model, tp, maxSeqs, maxBatched int, factor float64) int64 {
	forward := int64(maxBatched) * actPerToken(m, tp)
	sampler := int64(min(maxSeqs, maxBatched)) * int64(m.Vocab) * 4 * samplerCopies
	return int64(math.Ceil(factor * float64(max(forward, sampler))))
}

// neededBytes is FullAttentionSpec.max_memory_usage_bytes over the
// layers: ⌈len/block⌉ blocks per layer.
func (p *plan) neededBytes(modelLen int) int64 {
	return simkit.CeilDiv(int64(modelLen), int64(p.BlockSize)) * p.PageBytes * int64(p.Layers)
}

// estimateMaxModelLen is vLLM's binary search for the longest length
// whose KV fits, 0 if not even one token does
// (https://github.com/vllm-project/vllm/blob/v0.21.0/vllm/v1/core/kv_cache_utils.py#L735-L786).
func (p *plan) estimateMaxModelLen(maxModelLen int, available int64) int {
	fits := func(n int) bool { return p.neededBytes(n) <= available }
	left, right := 1, maxModelLen
	if !fits(left) {
		return 0
	}
	result := 1
	for left <= right {
		mid := (left + right) / 2
		if fits(mid) {
			result, left = mid, mid+1
		} else {
			right = mid - 1
		}
	}
	return result
}

// formatGiB is vLLM's format_gib: round(b / GiB, 2) printed as Python
// prints a float (https://github.com/vllm-project/vllm/blob/v0.21.0/vllm/utils/mem_utils.py#L27-L28).
func formatGiB(b int64) string {
	f := math.Round(float64(b)/(1<<30)*100) / 100
	s := fmt.Sprintf("%v", f)
	for _, c := range s {
		if c == '.' || c == 'e' {
			return s
		}
	}
	return s + ".0"
}
