package estimate

import (
	"fmt"
	"math"
	"strings"
)

func validate(m Model, hw Hardware, s Settings) error {
	var bad []string
	pos := func(name string, v int) {
		if v <= 0 {
			bad = append(bad, fmt.Sprintf("%s must be > 0 (got %d)", name, v))
		}
	}
	nonneg := func(name string, v int) {
		if v < 0 {
			bad = append(bad, fmt.Sprintf("%s must not be negative (got %d)", name, v))
		}
	}
	pos("model num_hidden_layers", m.Layers)
	pos("model hidden_size", m.Hidden)
	pos("model num_attention_heads", m.Heads)
	pos("model vocab_size", m.Vocab)
	nonneg("model num_key_value_heads", m.KVHeads)
	nonneg("model intermediate_size", m.Intermediate)
	pos("gpu count", hw.Count)
	if hw.GPU.TotalBytes <= 0 {
		bad = append(bad, fmt.Sprintf("gpu memory must be > 0 (got %d bytes)", hw.GPU.TotalBytes))
	}
	nonneg("--max-input-tokens", s.MaxInputTokens)
	nonneg("--max-total-tokens", s.MaxTotalTokens)
	nonneg("--max-batch-prefill-tokens", s.MaxBatchPrefillTokens)
	nonneg("--max-batch-size", s.MaxBatchSize)
	nonneg("--num-shard", s.NumShard)
	nonneg("--speculate", s.Speculate)
	nonneg("request input tokens", s.RequestInputTokens)
	nonneg("request output tokens", s.RequestOutputTokens)
	if s.CUDAMemoryFraction < 0 || s.CUDAMemoryFraction > 1 || math.IsNaN(s.CUDAMemoryFraction) {
		bad = append(bad, fmt.Sprintf("--cuda-memory-fraction must be in (0, 1] (got %g)", s.CUDAMemoryFraction))
	}
	if s.WiggleRoom < 0 || s.WiggleRoom >= 1 || math.IsNaN(s.WiggleRoom) {
		bad = append(bad, fmt.Sprintf("TGI_WIGGLE_ROOM must be in (0, 1) (got %g)", s.WiggleRoom))
	}
	bad = append(bad, s.Corrections.validate()...)
	if s.NumShard > 0 && hw.Count > 0 && s.NumShard > hw.Count {
		bad = append(bad, fmt.Sprintf("--num-shard %d needs %d GPUs, only %d given", s.NumShard, s.NumShard, hw.Count))
	}
	if s.MaxInputTokens > 0 && s.MaxTotalTokens > 0 && s.MaxInputTokens >= s.MaxTotalTokens {
		// TGI's launcher rule (v3.3.7:launcher:2157-2164).
		bad = append(bad, fmt.Sprintf("`max_input_tokens`(%d) must be < `max_total_tokens`(%d)", s.MaxInputTokens, s.MaxTotalTokens))
	}
	if len(bad) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalid, strings.Join(bad, "; "))
	}
	return nil
}


// Settings are the engine's launch limits, named after TGI's flags. Zero
// means "not given": the engine's own default for that version applies.
type Settings struct {
	// MaxInputTokens is --max-input-tokens (MAX_INPUT_TOKENS).
	MaxInputTokens int
	// MaxTotalTokens is --max-total-tokens (MAX_TOTAL_TOKENS).
	MaxTotalTokens int
	// MaxBatchPrefillTokens is --max-batch-prefill-tokens (MAX_BATCH_PREFILL_TOKENS).
	MaxBatchPrefillTokens int
	// MaxBatchSize is --max-batch-size; 0 means unlimited.
	MaxBatchSize int
	// CUDAMemoryFraction is --cuda-memory-fraction (CUDA_MEMORY_FRACTION); 0 means 1.0.
	CUDAMemoryFraction float64
	// NumShard is --num-shard; 0 means every GPU of the Hardware.
	NumShard int
	// DType is --dtype (float16 or bfloat16); "" means the engine default.
	DType DType
	// Quantize is --quantize (fp8, bitsandbytes, bitsandbytes-nf4, bitsandbytes-fp4,
	// eetq, awq, gptq, marlin, exl2, compressed-tensors); "" means none or the
	// checkpoint's own quantization_config.
	Quantize string
	// KVCacheDType is --kv-cache-dtype (fp8_e4m3fn, fp8_e5m2); "" means the model dtype.
	KVCacheDType DType
	// Attention overrides the attention backend (env ATTENTION: flashinfer,
	// flashdecoding, paged); "" lets the engine choose.
	Attention string
	// Speculate is --speculate, extra tokens reserved per request.
	Speculate int
	// WiggleRoom overrides TGI_WIGGLE_ROOM; 0 means the version's default.
	WiggleRoom float64
	// PrefillLogprobs is --enable-prefill-logprobs (TGI ≥ 3.0).
	PrefillLogprobs bool
	// ExtraOverheadBytes is memory in use on each GPU beyond what the
	// estimator models (other processes, a larger CUDA context); negative
	// means less. validate's search and calibrate set it from observations.
	// TGI only for now.
	ExtraOverheadBytes Bytes
	// Corrections are fitted adjustments (vramcalc calibrate): the prefill
	// activation peak ×ActivationFactor, OverheadBytes more per GPU, and
	// Wiggle for the release's default. nil means none. TGI only for now.
	Corrections *Corrections

	// vLLM and SGLang settings (TGI ignores them). The tensor-parallel
	// degree is NumShard (vLLM --tensor-parallel-size, SGLang --tp-size) and
	// the KV dtype KVCacheDType for every engine.

	// GPUMemoryUtilization is vLLM's --gpu-memory-utilization; 0 means the release's default.
	GPUMemoryUtilization float64
	// MaxModelLen is vLLM's --max-model-len (SGLang --context-length); 0 means
	// the model's max_position_embeddings.
	MaxModelLen int
	// MaxNumBatchedTokens is vLLM's --max-num-batched-tokens; 0 means the release's default.
	MaxNumBatchedTokens int
	// MaxNumSeqs is vLLM's --max-num-seqs (SGLang --max-running-requests); 0 means the default.
	MaxNumSeqs int
	// BlockSize is vLLM's --block-size (SGLang --page-size); 0 means the default.
	BlockSize int
	// EnforceEager is vLLM's --enforce-eager: no CUDA graphs.
	EnforceEager bool
	// OfflineLLM selects the defaults of vLLM's offline LLM class instead of `vllm serve`.
	OfflineLLM bool
	// MemFractionStatic is SGLang's --mem-fraction-static; 0 means its default for the GPU and TP.
	MemFractionStatic float64
	// ChunkedPrefillSize is SGLang's --chunked-prefill-size; 0 means its default.
	ChunkedPrefillSize int

	// RequestInputTokens and RequestOutputTokens describe one request for the
	// concurrency figure; 0 means a full-length request (MaxInputTokens in,
	// the rest of MaxTotalTokens out).
	RequestInputTokens  int
	RequestOutputTokens int
}


// validateServing checks the vLLM/SGLang settings every engine shares.
func validateServing(s Settings) error {
	var bad []string
	if s.GPUMemoryUtilization < 0 || s.GPUMemoryUtilization > 1 || math.IsNaN(s.GPUMemoryUtilization) {
		bad = append(bad, fmt.Sprintf("--gpu-memory-utilization must be in (0, 1] (got %g)", s.GPUMemoryUtilization))
	}
	if s.MemFractionStatic < 0 || s.MemFractionStatic >= 1 || math.IsNaN(s.MemFractionStatic) {
		bad = append(bad, fmt.Sprintf("--mem-fraction-static must be in (0, 1) (got %g)", s.MemFractionStatic))
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"--max-model-len", s.MaxModelLen}, {"--max-num-batched-tokens", s.MaxNumBatchedTokens},
		{"--max-num-seqs", s.MaxNumSeqs}, {"--block-size", s.BlockSize}, {"--chunked-prefill-size", s.ChunkedPrefillSize}} {
		if f.v < 0 {
			bad = append(bad, fmt.Sprintf("%s must not be negative (got %d)", f.name, f.v))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalid, strings.Join(bad, "; "))
	}
	return nil
}
