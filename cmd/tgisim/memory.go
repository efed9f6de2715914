package main

import (
	"fmt"
	"math/rand/v2"

	"github.com/vramcalc/vramcalc/internal/simkit"
)

// The ground-truth memory model. It follows TGI v3.3's startup step by
// step (docs/ENGINES.md §2.1-2.4,
// https://github.com/huggingface/text-generation-inference/blob/v3.3.7/server/text_generation_server/models/flash_causal_lm.py#L1507-L1684)
// with physical terms whose sizes come from hidden coefficients (simEnv),
// not from vramcalc's estimator: the estimator is what the simulator tests.

// warmupBatch is the router's warm-up batch
// (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/backends/v3/src/client/grpc_client.rs#L109-L223).
type warmupBatch struct {
	// Truncates are the prompt lengths of the requests; they sum to Tokens.
	Truncates []int
	Tokens    int
	// BlockTokens are the KV tokens the server maps per request:
	// prompt + max_new_tokens − 1 + speculate
	// (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/server/text_generation_server/models/flash_causal_lm.py#L346-L357).
	BlockTokens []int64
}

// buildWarmup splits P into requests of min(I, P − n) tokens until P is
// reached or --max-batch-size requests exist. max_new_tokens is T − truncate
// in u32 (it wraps when the prompt exceeds T), or 1 when T is unset.
func buildWarmup(I *int, P int, T *int, maxBatchSize *int, speculate int) warmupBatch {
	var b warmupBatch
	for b.Tokens < P {
		trunc := P - b.Tokens
		if I != nil {
			trunc = min(*I, trunc)
		}
		if trunc <= 0 {
			break
		}
		newTokens := int64(1)
		if T != nil {
			newTokens = int64(uint32(int64(*T) - int64(trunc)))
		}
		b.Truncates = append(b.Truncates, trunc)
		b.BlockTokens = append(b.BlockTokens, int64(trunc)+newTokens-1+int64(speculate))
		b.Tokens += trunc
		if maxBatchSize != nil && len(b.Truncates) == *maxBatchSize {
			break
		}
	}
	return b
}

// shardModel is the per-shard geometry.
type shardModel struct {
	// KVHeads is num_kv_heads // ws (kept when 1: MQA is replicated).
	KVHeads int
	HeadDim int
	// LayerBlockBytes is one layer's K (or V) tensor per block.
	LayerBlockBytes int64
	// BlockBytes is TGI's total_cache_size: all layers, K and V, per block.
	BlockBytes int64
	// Weights is the parameters held on one GPU.
	Weights int64
	// ActPerToken is the live activation bytes of one prefill token.
	ActPerToken int64
}

// llamaFamily raise on KV heads not divisible by the shard count
// (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/server/text_generation_server/models/custom_modeling/flash_llama_modeling.py#L167-L176)
// even for one KV head.
var llamaFamily = map[string]bool{"llama": true, "mistral": true, "mixtral": true, "qwen2": true, "granite": true, "baichuan": true, "phi3": true}

// newShardModel checks what the model code checks at load and sizes one shard.
func newShardModel(m *simkit.Model, ws int, blockSize int, kvElt int64, quantize string) (*shardModel, error) {
	nkv := m.NumKVHeads()
	if m.Heads%ws != 0 {
		return nil, fmt.Errorf("ValueError: `num_heads` must be divisible by `num_shards` (got `num_heads`: %d and `num_shards`: %d", m.Heads, ws)
	}
	if llamaFamily[m.ModelType] && nkv%ws != 0 {
		return nil, fmt.Errorf("ValueError: `num_key_value_heads` must be divisible by `num_shards` (got `num_key_value_heads`: %d and `num_shards`: %d", nkv, ws)
	}
	s := &shardModel{KVHeads: nkv, HeadDim: m.HeadSize()}
	if nkv > 1 {
		s.KVHeads = nkv / ws
	}
	if s.KVHeads == 0 {
		return nil, fmt.Errorf("AssertionError")
	}
	s.LayerBlockBytes = int64(blockSize) * int64(s.KVHeads) * int64(s.HeadDim) * kvElt
	s.BlockBytes = s.LayerBlockBytes * 2 * int64(m.Layers)

	// Weights: the checkpoint split over the shards, plus the second copy
	// of a tied embedding. On-the-fly quantization of a 16-bit checkpoint
	// shrinks the linear layers (not the embeddings and lm_head).
	w := simkit.CeilDiv(m.WeightsBytes, int64(ws))
	emb := 2 * int64(m.Vocab) * int64(m.Hidden) * 2 / int64(ws)
	if m.Tied {
		w += int64(m.Vocab) * int64(m.Hidden) * 2 / int64(ws)
	}
	if m.QuantMethod == "" {
		num, den := int64(1), int64(1)
		switch quantize {
		case "fp8", "eetq", "bitsandbytes":
			den = 2
		case "bitsandbytes-nf4", "bitsandbytes-fp4":
			den = 4
		}
		if den > 1 && w > emb {
			w = emb + (w-emb)*num/den
		}
	}
	s.Weights = w

	// The larger of the attention phase (residual, norm, o_proj output,
	// fused QKV, attention output) and the MLP phase (residual, norm,
	// gate_up, act, product), in 16-bit.
	h, im, hd := int64(m.Hidden), int64(m.Intermediate), int64(s.HeadDim)
	attn := 3*h + (2*int64(m.Heads)+2*int64(nkv))*hd/int64(ws)
	mlp := 2*h + 4*im/int64(ws)
	s.ActPerToken = 2 * max(attn, mlp)
	return s, nil
}

// kvBytes is what init_kv_cache(n) holds: one K and one V tensor per layer,
// each rounded by the allocator.
func (s *shardModel) kvBytes(layers int, blocks int64) int64 {
	return 2 * int64(layers) * simkit.AllocRound(blocks*s.LayerBlockBytes)
}

// Failure kinds of a start, in the order TGI meets them.
const (
	failNone            = ""
	failShardInit       = "shard_init"        // the model code raised at load
	failLoadOOM         = "load_oom"          // weights do not fit
	failKVAllocOOM      = "kv_alloc_oom"      // the warm-up KV allocation itself (UnboundLocalError)
	failPrefillOOM      = "prefill_oom"       // the warm-up prefill
	failNotEnoughMemory = "not_enough_memory" // T above the budget
	failRouterArgs      = "router_args"       // the router's checks after warm-up
)

// rankMemory is one GPU's memory at each phase of the start.
type rankMemory struct {
	Context    int64 // overhead + jitter: non-torch memory
	Weights    int64
	WarmKV     int64 // the warm-up batch's KV tensors
	Activation int64 // the prefill's reserved peak, logits included
	NumBlocks  int64 // this shard's KV blocks after warm-up
	Pool       int64 // the KV tensors of NumBlocks
	Graphs     int64 // CUDA graph pool (0 when capture failed or is off)
	GraphOOM   bool
}

// Loaded is the memory in use once the weights are loaded.
func (r rankMemory) Loaded() int64 { return r.Context + r.Weights }

// WarmupPeak is the memory in use at the warm-up prefill's peak.
func (r rankMemory) WarmupPeak() int64 { return r.Context + r.Weights + r.WarmKV + r.Activation }

// Serving is the memory in use once TGI serves: the KV pool is allocated
// in full at startup.
func (r rankMemory) Serving() int64 { return r.Context + r.Weights + r.Pool + r.Graphs }

// startup is the outcome of one simulated start.
type startup struct {
	Plan  *launchPlan
	Shard *shardModel
	Warm  warmupBatch
	// WarmBlocks is batch.num_blocks of the warm-up.
	WarmBlocks int64
	Chunking   bool
	Ranks      []rankMemory
	// Failure is failNone or a fail* kind; FailRank the shard it hit;
	// Message the Python exception or the router's error text.
	Failure  string
	FailRank int
	Message  string
	// OOM describes the failing allocation for the torch message.
	OOM simkit.TorchOOM
	// NumBlocks is the router's view: the minimum over shards.
	NumBlocks int64
	// MaxBatchTotalTokens is num_blocks × BLOCK_SIZE.
	MaxBatchTotalTokens int64
	MaxInputTokens      int
	MaxTotalTokens      int
	AutoInput           bool
	AutoTotal           bool
}

// simulate runs the shards' load and warm-up and the router's checks.
func simulate(a *Args, m *simkit.Model, env simEnv, lp *launchPlan) *startup {
	st := &startup{Plan: lp}
	speculate := 0
	if a.Speculate != nil {
		speculate = *a.Speculate
	}
	if !st.initShards(a, m, env) {
		return st
	}
	st.Chunking = env.PrefillChunking && speculate == 0 && lp.Attention != "paged" && !noChunking[m.ModelType] && !m.Vision
	budget := gpuBudget{total: env.GPU.Total, torchCap: int64(lp.MF * float64(env.GPU.Total))}
	st.Ranks = newRanks(env, st.Shard.Weights, lp.NumShard)
	if !st.loadWeights(m, budget) || !st.runWarmup(a, m, env, speculate, budget) {
		return st
	}
	st.allocateKVPool(m, env)
	st.settleTokenLimits(m)
	st.captureCUDAGraphs(m, budget)
	st.checkRouter()
	return st
}

// fail records the start's failure.
func (st *startup) fail(kind string, rank int, msg string) {
	st.Failure, st.FailRank, st.Message = kind, rank, msg
}

// gpuBudget is what one GPU's memory allows: total for the process,
// torchCap (--cuda-memory-fraction of total) for PyTorch's allocations.
type gpuBudget struct {
	total, torchCap int64
}

// exceeded tells whether torch bytes held by PyTorch, on top of the rank's
// non-torch context, pass either limit.
func (b gpuBudget) exceeded(r rankMemory, torch int64) bool {
	return torch > b.torchCap || r.Context+torch > b.total
}

// initShards runs the shard processes' checks up to the model's load and
// sizes one shard; false when a shard fails to start. Process start:
// torch.cuda.set_per_process_memory_fraction and the device assertion
// (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/server/text_generation_server/utils/dist.py#L48-L56),
// the wiggle assertion at import
// (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/server/text_generation_server/models/globals.py#L32-L34).
func (st *startup) initShards(a *Args, m *simkit.Model, env simEnv) bool {
	lp := st.Plan
	switch {
	case lp.NumShard > env.GPU.Count:
		st.fail(failShardInit, 0, `AssertionError: Each process is one gpu`)
		return false
	case !(env.Wiggle > 0 && env.Wiggle < 1):
		st.fail(failShardInit, 0, "AssertionError")
		return false
	case lp.MF < 0 || lp.MF > 1:
		st.fail(failShardInit, 0, fmt.Sprintf("ValueError: Invalid fraction value: %s. Allowed range: 0~1", simkit.PyFloat(lp.MF)))
		return false
	}
	kvElt := int64(2)
	if a.KVCacheDType != "" {
		kvElt = 1
		if lp.Attention == "flashdecoding" {
			st.fail(failShardInit, 0, "ValueError: FP8 KV cache is currently only supported for flashinfer on CUDA and paged attention on CUDA, ROCm and INTEL IPEX and flashdecoding in Intel IPEX ")
			return false
		}
	}
	sm, err := newShardModel(m, lp.NumShard, lp.BlockSize, kvElt, a.Quantize)
	if err != nil {
		st.fail(failShardInit, 0, err.Error())
		return false
	}
	st.Shard = sm
	return true
}

// newRanks gives each of ws GPUs its context (the overhead plus this
// launch's jitter, drawn from the seed) and the shard's weights.
func newRanks(env simEnv, weights int64, ws int) []rankMemory {
	rng := rand.New(rand.NewPCG(env.Seed, 0x7467697369))
	ranks := make([]rankMemory, ws)
	for r := range ranks {
		ctx := env.Overhead
		if env.Jitter > 0 {
			ctx += rng.Int64N(env.Jitter + 1)
		}
		ranks[r] = rankMemory{Context: ctx, Weights: weights}
	}
	return ranks
}

// loadWeights puts the weights straight on the GPU; false when they do not fit.
func (st *startup) loadWeights(m *simkit.Model, b gpuBudget) bool {
	ws := int64(st.Plan.NumShard)
	for r, rm := range st.Ranks {
		if b.exceeded(rm, rm.Weights) {
			chunk := min(rm.Weights, simkit.AllocRound(int64(m.Vocab)*int64(m.Hidden)*2/ws))
			st.OOM = simkit.TorchOOM{Request: chunk, Total: b.total, Free: max(0, b.total-rm.Context-(rm.Weights-chunk)), InUse: rm.Context + rm.Weights - chunk, Allocated: rm.Weights - chunk}
			st.fail(failLoadOOM, r, "torch.OutOfMemoryError: "+oomMessage(st.OOM, r))
			return false
		}
	}
	return true
}

// runWarmup allocates the warm-up batch's KV blocks and runs its prefill on
// every rank; false when either runs out of memory.
func (st *startup) runWarmup(a *Args, m *simkit.Model, env simEnv, speculate int, b gpuBudget) bool {
	lp, sm := st.Plan, st.Shard
	st.Warm = buildWarmup(lp.MaxInputTokens, lp.Prefill, lp.MaxTotalTokens, a.MaxBatchSize, speculate)
	for _, bt := range st.Warm.BlockTokens {
		st.WarmBlocks += simkit.CeilDiv(bt, int64(lp.BlockSize))
	}
	logitRows := int64(len(st.Warm.Truncates))
	if a.EnablePrefillLogprobs {
		logitRows = int64(st.Warm.Tokens)
	}
	act := simkit.AllocRound(int64(env.ActFactor*float64(int64(st.Warm.Tokens)*sm.ActPerToken)) + logitRows*int64(m.Vocab)*4)
	for r := range st.Ranks {
		rm := &st.Ranks[r]
		rm.WarmKV = sm.kvBytes(m.Layers, st.WarmBlocks)
		if b.exceeded(*rm, rm.Weights+rm.WarmKV) {
			// init_kv_cache raises before num_tokens is bound, so the
			// except clause fails with UnboundLocalError (docs/ENGINES.md §2.2).
			layer := simkit.AllocRound(st.WarmBlocks * sm.LayerBlockBytes)
			st.OOM = simkit.TorchOOM{Request: layer, Total: b.total, Free: max(0, b.total-rm.Loaded()), InUse: rm.Loaded(), Allocated: rm.Weights}
			st.fail(failKVAllocOOM, r, "UnboundLocalError: cannot access local variable 'num_tokens' where it is not associated with a value")
			return false
		}
		rm.Activation = act
		if b.exceeded(*rm, rm.Weights+rm.WarmKV+act) {
			used := rm.Loaded() + rm.WarmKV
			st.OOM = simkit.TorchOOM{Request: simkit.AllocRound(int64(st.Warm.Tokens) * 2 * int64(m.Intermediate) / int64(lp.NumShard) * 2), Total: b.total, Free: max(0, b.total-used), InUse: used, Allocated: rm.Weights + rm.WarmKV}
			st.fail(failPrefillOOM, r, fmt.Sprintf("RuntimeError: Not enough memory to handle %d prefill tokens. You need to decrease `--max-batch-prefill-tokens`", st.Warm.Tokens))
			return false
		}
	}
	return true
}

// allocateKVPool sizes each rank's KV pool after the prefill, with its peak
// still reserved: free memory minus the reserve (1 − MF·W)·total, in whole
// blocks, plus the warm-up's blocks.
func (st *startup) allocateKVPool(m *simkit.Model, env simEnv) {
	total := env.GPU.Total
	for r := range st.Ranks {
		rm := &st.Ranks[r]
		free := float64(total-rm.WarmupPeak()) - (1-st.Plan.MF*env.Wiggle)*float64(total)
		extra := int64(0)
		if free > 0 {
			extra = int64(free) / st.Shard.BlockBytes
		}
		rm.NumBlocks = extra + st.WarmBlocks
		rm.Pool = st.Shard.kvBytes(m.Layers, rm.NumBlocks)
	}
}

// settleTokenLimits is the router's view of the pools: the minimum over
// shards (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/backends/v3/src/client/sharded_client.rs#L127-L133),
// and the token limits the user left to the warm-up.
func (st *startup) settleTokenLimits(m *simkit.Model) {
	lp := st.Plan
	st.NumBlocks = st.Ranks[0].NumBlocks
	for _, rm := range st.Ranks[1:] {
		st.NumBlocks = min(st.NumBlocks, rm.NumBlocks)
	}
	st.MaxBatchTotalTokens = st.NumBlocks * int64(lp.BlockSize)
	st.AutoTotal, st.AutoInput = lp.MaxTotalTokens == nil, lp.MaxInputTokens == nil
	switch {
	case !st.AutoTotal:
		st.MaxTotalTokens = *lp.MaxTotalTokens
	case st.Chunking:
		t := st.MaxBatchTotalTokens
		if m.MaxPositions > 0 {
			t = min(t, int64(m.MaxPositions))
		}
		st.MaxTotalTokens = int(t)
	default:
		st.MaxTotalTokens = st.Warm.Tokens
	}
	if st.AutoInput {
		st.MaxInputTokens = st.MaxTotalTokens - 1
	} else {
		st.MaxInputTokens = *lp.MaxInputTokens
	}
}

// captureCUDAGraphs captures the CUDA graphs after the pool is
// re-allocated; an OOM here is logged and startup goes on
// (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/server/text_generation_server/models/flash_causal_lm.py#L1649-L1680).
func (st *startup) captureCUDAGraphs(m *simkit.Model, b gpuBudget) {
	if len(st.Plan.CUDAGraphs) == 0 {
		return
	}
	bs := int64(st.Plan.CUDAGraphs[0])
	graphs := simkit.AllocRound(bs*(int64(m.Vocab)*4+st.Shard.ActPerToken) + bs*int64(st.MaxTotalTokens)*4)
	for r := range st.Ranks {
		rm := &st.Ranks[r]
		if b.exceeded(*rm, rm.Weights+rm.Pool+graphs) {
			rm.GraphOOM = true
			continue
		}
		rm.Graphs = graphs
	}
}

// checkRouter is the router's checks of the token limits
// (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/backends/v3/src/lib.rs#L59-L138,
// https://github.com/huggingface/text-generation-inference/blob/v3.3.7/backends/v3/src/main.rs#L167-L196).
func (st *startup) checkRouter() {
	lp, mbt := st.Plan, st.MaxBatchTotalTokens
	if int64(st.MaxTotalTokens) > mbt {
		st.fail(failNotEnoughMemory, 0, fmt.Sprintf("Backend(NotEnoughMemory(%d))", st.MaxTotalTokens))
		return
	}
	switch {
	case st.MaxInputTokens >= st.MaxTotalTokens:
		st.fail(failRouterArgs, 0, "`max_input_tokens` must be < `max_total_tokens`")
	case st.MaxInputTokens > lp.Prefill && !st.Chunking:
		st.fail(failRouterArgs, 0, fmt.Sprintf("`max_batch_prefill_tokens` must be >= `max_input_tokens`. Given: %d and %d", lp.Prefill, st.MaxInputTokens))
	case int64(lp.Prefill) > mbt:
		st.fail(failRouterArgs, 0, fmt.Sprintf("`max_batch_prefill_tokens` must be <= `max_batch_total_tokens`. Given: %d and %d", lp.Prefill, mbt))
	}
}

// noChunking are the model types TGI serves without prefill chunking.
var noChunking = map[string]bool{"qwen2_vl": true, "qwen2_5_vl": true, "gemma3": true, "mllama": true}

// oomMessage is torch's CUDA OOM text of o on rank.
func oomMessage(o simkit.TorchOOM, rank int) string {
	o.GPU = rank
	return o.Message()
}
