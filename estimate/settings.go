package estimate

import (
	"fmt"
	"math"
	"strings"
)

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
	// TGI: more CUDA context; vLLM: more non-torch memory charged before the
	// KV pool; SGLang: more memory before the weights.
	ExtraOverheadBytes Bytes
	// ExtraReserveBytes is memory on each GPU the KV pool is sized
	// without, beyond the engine's own reserve (TGI's wiggle room):
	// negative means the pool gets more. It moves the budget, not the
	// warm-up; validate's search sets it from observations. vLLM and
	// SGLang: memory the pool is sized without.
	ExtraReserveBytes Bytes
	// Corrections are fitted adjustments (vramcalc calibrate): the prefill
	// activation peak ×ActivationFactor, OverheadBytes more per GPU, and
	// Wiggle for the release's default (TGI), CUDAGraphBytes (vLLM). nil
	// means none.
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
	// MambaCacheMode is vLLM's --mamba-cache-mode ("none" or "align"; ""
	// means the release's default) for models with state layers.
	MambaCacheMode string
	// MambaSSMDType is vLLM's --mamba-ssm-cache-dtype (SGLang
	// --mamba-ssm-dtype): the recurrent state's dtype; "" means the
	// engine's default for the model.
	MambaSSMDType DType
	// Sampler is the top-k/top-p path of vLLM's profile run: "flashinfer"
	// (VLLM_USE_FLASHINFER_SAMPLER=1 with FlashInfer installed) or
	// "pytorch" (the native path: a sort before v0.17, the Triton kernel
	// from it); "" means the release's default for its official image.
	Sampler string
	// ModelRunner is vLLM's runner choice, VLLM_USE_V2_MODEL_RUNNER: "v1"
	// (=0), "v2" (=1) or "" for the release's rule (vllm_mrv2.go);
	// ParseModelRunner reads it.
	ModelRunner string
	// TextOnly is vLLM's --limit-mm-per-prompt with image 0 and every
	// other modality given 0: with video 0 too (NoVideo) or a tower without
	// video, the encoder is not profiled (mmProfileOff).
	TextOnly bool
	// NoVideo is vLLM's --limit-mm-per-prompt with video 0: the encoder is
	// profiled on images.
	NoVideo bool
	// EnforceEager is vLLM's --enforce-eager: no CUDA graphs.
	EnforceEager bool
	// OfflineLLM selects the defaults of vLLM's offline LLM class instead of `vllm serve`.
	OfflineLLM bool
	// MemFractionStatic is SGLang's --mem-fraction-static; 0 means its default for the GPU and TP.
	MemFractionStatic float64
	// ChunkedPrefillSize is SGLang's --chunked-prefill-size; 0 means its default.
	ChunkedPrefillSize int
	// Spec is speculative decoding (vLLM --speculative-config, SGLang
	// --speculative-algorithm and its companions); the zero value is off.
	// TGI's speculation is Speculate.
	Spec Speculative
	// SGLangMaxTotalTokens is SGLang's own --max-total-tokens: a cap on the
	// tokens of the KV pool (not TGI's per-request limit of the same name);
	// 0 means no cap.
	SGLangMaxTotalTokens int

	// RequestInputTokens and RequestOutputTokens describe one request for the
	// concurrency figure; 0 means a full-length request (MaxInputTokens in,
	// the rest of MaxTotalTokens out).
	RequestInputTokens  int
	RequestOutputTokens int
}

// flagNames are each engine's own spelling of the Settings fields that all
// engines share, for messages.
var flagNames = map[string]map[string]string{
	"NumShard":    {"tgi": "--num-shard", "vllm": "--tensor-parallel-size", "sglang": "--tp-size"},
	"MaxModelLen": {"vllm": "--max-model-len", "sglang": "--context-length"},
	"MaxNumSeqs":  {"tgi": "--max-batch-size", "vllm": "--max-num-seqs", "sglang": "--max-running-requests"},
	"BlockSize":   {"vllm": "--block-size", "sglang": "--page-size"},
}

// flagName is the engine's flag for a shared Settings field (a name that
// is not a field is already a flag).
func flagName(engine, field string) string {
	if strings.HasPrefix(field, "-") {
		return field
	}
	if n := flagNames[field][engine]; n != "" {
		return n
	}
	for _, e := range []string{"tgi", "vllm", "sglang"} {
		if n := flagNames[field][e]; n != "" {
			return n
		}
	}
	return field
}

// validate is the one place that checks the inputs: every problem gets one
// message, in the chosen engine's words, and all of them are returned at
// once. Engine-specific rules that need the engine's resolved state (head
// divisibility, dtypes, --quantize) stay with the engine.
func validate(m Model, hw Hardware, e EngineInfo, s Settings) error {
	var bad []string
	add := func(format string, a ...any) { bad = append(bad, fmt.Sprintf(format, a...)) }
	positive := func(name string, v int) {
		if v <= 0 {
			add("%s must be > 0 (got %d)", name, v)
		}
	}
	// Zero means "not given" for every limit; a negative one is a mistake.
	limit := func(name string, v int) {
		if v < 0 {
			add("%s must be > 0 (got %d)", name, v)
		}
	}
	fraction := func(name string, v float64, one bool) {
		hi := ")"
		if one {
			hi = "]"
		}
		if v < 0 || v > 1 || (!one && v == 1) || math.IsNaN(v) {
			add("%s must be in (0, 1%s (got %g)", name, hi, v)
		}
	}
	positive("model num_hidden_layers", m.Layers)
	positive("model hidden_size", m.Hidden)
	positive("model num_attention_heads", m.Heads)
	positive("model vocab_size", m.Vocab)
	limit("model num_key_value_heads", m.KVHeads)
	limit("model intermediate_size", m.Intermediate)
	positive("--gpus", hw.Count)
	if hw.GPU.TotalBytes <= 0 {
		add("gpu memory must be > 0 (got %d bytes)", hw.GPU.TotalBytes)
	}
	// Names are resolved only for a value that is wrong: this runs on every
	// estimate. A field name is resolved in the engine's own words.
	var lims [14]namedLimit
	s.limits(&lims)
	for i := range lims {
		if f := &lims[i]; f.v < 0 {
			limit(flagName(e.Name, f.name), f.v)
		}
	}
	fraction("--cuda-memory-fraction", s.CUDAMemoryFraction, true)
	fraction("TGI_WIGGLE_ROOM", s.WiggleRoom, false)
	fraction("--gpu-memory-utilization", s.GPUMemoryUtilization, true)
	fraction("--mem-fraction-static", s.MemFractionStatic, false)
	bad = append(bad, s.Corrections.validate()...)
	if s.NumShard > 0 && hw.Count > 0 && s.NumShard > hw.Count {
		add("%s %d needs %d GPUs, only %d given", flagName(e.Name, "NumShard"), s.NumShard, s.NumShard, hw.Count)
	}
	if s.MaxInputTokens > 0 && s.MaxTotalTokens > 0 && s.MaxInputTokens >= s.MaxTotalTokens {
		// TGI's launcher rule (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/launcher/src/main.rs#L2157-L2164).
		add("`max_input_tokens`(%d) must be < `max_total_tokens`(%d)", s.MaxInputTokens, s.MaxTotalTokens)
	}
	if len(bad) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalid, strings.Join(bad, "; "))
	}
	return nil
}

// namedLimit is one limit of Settings with its flag (or field) name.
type namedLimit struct {
	name string
	v    int
}

// limits fills l with the limits validate checks, each under its flag or field name.
func (s *Settings) limits(l *[14]namedLimit) {
	l[0] = namedLimit{"--max-input-tokens", s.MaxInputTokens}
	l[1] = namedLimit{"--max-total-tokens", s.MaxTotalTokens}
	l[2] = namedLimit{"--max-batch-prefill-tokens", s.MaxBatchPrefillTokens}
	l[3] = namedLimit{"--max-batch-size", s.MaxBatchSize}
	l[4] = namedLimit{"NumShard", s.NumShard}
	l[5] = namedLimit{"--speculate", s.Speculate}
	l[6] = namedLimit{"--input-tokens", s.RequestInputTokens}
	l[7] = namedLimit{"--output-tokens", s.RequestOutputTokens}
	l[8] = namedLimit{"MaxModelLen", s.MaxModelLen}
	l[9] = namedLimit{"--max-num-batched-tokens", s.MaxNumBatchedTokens}
	l[10] = namedLimit{"MaxNumSeqs", s.MaxNumSeqs}
	l[11] = namedLimit{"BlockSize", s.BlockSize}
	l[12] = namedLimit{"--chunked-prefill-size", s.ChunkedPrefillSize}
	l[13] = namedLimit{"--max-total-tokens", s.SGLangMaxTotalTokens}
}
