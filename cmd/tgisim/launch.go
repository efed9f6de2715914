package main

import (
	"fmt"
	"strings"

	"github.com/vramcalc/vramcalc/internal/simkit"
)

// logLine is one line the launcher (or a process it runs) prints.
type logLine struct {
	level string // INFO, WARN, ERROR
	// span prefixes the target ("shard-manager", "download"); fields go
	// after the message ("rank=0"), as tracing's compact format prints them.
	span, fields string
	// target is the module path; file:line follow it for the router's format.
	target string
	file   string
	line   int
	msg    string
}

const launcherTarget = "text_generation_launcher"

func info(msg string) logLine { return logLine{level: "INFO", target: launcherTarget, msg: msg} }
func warn(msg string) logLine { return logLine{level: "WARN", target: launcherTarget, msg: msg} }

// launchPlan is what text-generation-launcher decides before it starts any
// process (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/launcher/src/main.rs#L2036-L2208).
type launchPlan struct {
	Attention     string
	PrefixCaching string
	BlockSize     int
	NumShard      int
	// MaxInputTokens and MaxTotalTokens are the user's (nil: left to the warm-up).
	MaxInputTokens, MaxTotalTokens *int
	// Prefill is --max-batch-prefill-tokens or the launcher's default.
	Prefill int
	// CUDAGraphs are the batch sizes the server captures, largest first.
	CUDAGraphs []int
	// MF is --cuda-memory-fraction.
	MF float64
	// ConfigRead is false when the launcher cannot parse config.json.
	ConfigRead bool
}

// cardTFLOPs is the launcher's f16 TFLOPs by card key
// (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/launcher/src/main.rs#L1713-L1785).
var cardTFLOPs = map[string]uint64{
	"nvidia-4090": 82, "nvidia-t4": 65, "nvidia-l4": 121, "nvidia-l40": 181, "nvidia-l40s": 363,
	"nvidia-a10g": 125, "nvidia-a40": 149, "nvidia-h100-80gb-hbm3": 900, "nvidia-h100-nvl": 900,
	"nvidia-h100": 900, "nvidia-a100-sxm4-80gb": 312, "nvidia-a100-sxm4-40gb": 312,
	"nvidia-a100-80gb-pcie": 312, "nvidia-a100": 312, "nvidia-h200": 989,
}

// planLaunch runs the launcher's checks and defaults in TGI's order. The
// error is what the launcher exits with (printed to stderr, exit code 1).
func planLaunch(a *Args, m *simkit.Model, env simEnv) (*launchPlan, []logLine, error) {
	p := &launchPlan{MF: a.CUDAMemoryFraction, ConfigRead: m != nil && launcherReadsConfig(m)}
	cfg := m
	if !p.ConfigRead {
		cfg = nil
	}
	var logs []logLine
	p.Attention, p.PrefixCaching, logs = resolveAttention(a, cfg, env)
	p.BlockSize = attentionBlockSize(p.Attention)

	ws, err := a.numShards(env.GPU.Count)
	if err != nil {
		return nil, logs, err
	}
	p.NumShard = ws
	if ws > 1 {
		if a.Quantize == "exl2" {
			return nil, logs, &argumentValidation{"Sharding is currently not supported with `exl2` quantization"}
		}
		logs = append(logs, info(fmt.Sprintf("Sharding model on %d processes", ws)))
	}

	if p.MaxInputTokens, err = a.maxInputTokens(); err != nil {
		return nil, logs, err
	}
	p.MaxTotalTokens = a.MaxTotalTokens

	if a.MaxBatchPrefillTokens != nil {
		p.Prefill = *a.MaxBatchPrefillTokens
	} else {
		var l []logLine
		p.Prefill, l = defaultPrefill(cfg, env, ws, a.CUDAMemoryFraction)
		logs = append(logs, l...)
	}

	if p.MaxInputTokens != nil && p.MaxTotalTokens != nil && *p.MaxInputTokens >= *p.MaxTotalTokens {
		return nil, logs, &argumentValidation{fmt.Sprintf("`max_input_tokens`(%d) must be < `max_total_tokens`(%d)", *p.MaxInputTokens, *p.MaxTotalTokens)}
	}
	if a.Quantize == "bitsandbytes" {
		logs = append(logs, warn("Bitsandbytes is deprecated, use `eetq` instead, which provides better latencies overall and is drop-in in most cases."))
	}
	var l []logLine
	p.CUDAGraphs, l = cudaGraphSizes(a, cfg)
	logs = append(logs, l...)

	if err := a.checkBeforeStart(p); err != nil {
		return nil, logs, err
	}
	return p, logs, nil
}

// resolveAttention is resolve_attention
// (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/launcher/src/main.rs#L131-L204):
// the ATTENTION and PREFIX_CACHING overrides, else what the model and card
// allow. cfg is nil when the launcher could not read config.json.
func resolveAttention(a *Args, cfg *simkit.Model, env simEnv) (attention, prefix string, logs []logLine) {
	attention, prefix = env.Attention, env.PrefixCaching
	if cfg != nil {
		attention, prefix, logs = modelAttention(a, cfg, env.GPU, attention, prefix)
	}
	if attention == "paged" && prefix == "" {
		logs = append(logs, info("Disabling prefix caching on paged attention"))
		prefix = "0"
	}
	if attention == "" {
		attention = "flashinfer"
	}
	if prefix == "" {
		prefix = "true"
	}
	logs = append(logs, info(fmt.Sprintf("Using attention %s - Prefix caching %s", attention, prefix)))
	return attention, prefix, logs
}

// modelAttention is resolve_attention's model-dependent part: vision
// models, LoRA adapters, falcon and deepseek_v2, and head dims flashinfer
// does not support force the fallback or disable prefix caching, unless
// overridden ("" is not overridden).
func modelAttention(a *Args, cfg *simkit.Model, gpu gpuSpec, attention, prefix string) (string, string, []logLine) {
	var logs []logLine
	if prefix == "" && cfg.Vision {
		logs = append(logs, info("Disabling prefix caching because of VLM model"))
		prefix = "0"
	}
	fallback := "flashdecoding"
	if gpu.ComputeCapability < 8 {
		fallback = "paged"
	}
	switch hd := launcherHeadDim(cfg); {
	case hd == 64 || hd == 128 || hd == 256:
		if a.LoraAdapters != "" && prefix == "" {
			logs = append(logs, info("Disabling prefix caching because of lora adapters"))
			prefix = "0"
		}
		if cfg.ModelType == "falcon" || cfg.ModelType == "deepseek_v2" {
			if attention == "" {
				logs = append(logs, info(fmt.Sprintf("Forcing attention to '%s' because model %s requires it", fallback, cfg.ModelType)))
				attention = fallback
			}
			if fallback == "paged" && prefix == "" {
				logs = append(logs, info("Disabling prefix caching because it is not supported with 'paged' attention"))
				prefix = "0"
			}
		}
	default:
		if attention == "" {
			logs = append(logs, info(fmt.Sprintf("Forcing attention to '%s' because head dim is not supported by flashinfer, also disabling prefix caching", fallback)))
			attention = fallback
		}
		if prefix == "" {
			prefix = "0"
		}
	}
	return attention, prefix, logs
}

// attentionBlockSize is the server's BLOCK_SIZE for an attention backend.
func attentionBlockSize(attention string) int {
	switch attention {
	case "flashinfer":
		return 1
	case "flashdecoding":
		return 256
	}
	return 16
}

// cudaGraphSizes are the batch sizes the server captures: --cuda-graphs
// (sizes of 0 dropped), else none for bitsandbytes and exl2, else the
// default ones.
func cudaGraphSizes(a *Args, cfg *simkit.Model) ([]int, []logLine) {
	var sizes []int
	var logs []logLine
	quant := a.Quantize
	if quant == "" && cfg != nil {
		quant = cfg.QuantMethod
	}
	switch {
	case a.CUDAGraphs != nil:
		for _, g := range a.CUDAGraphs {
			if g > 0 {
				sizes = append(sizes, g)
			}
		}
	case quant == "bitsandbytes":
		logs = append(logs, warn("Bitsandbytes doesn't work with cuda graphs, deactivating them"))
	case quant == "exl2":
		logs = append(logs, warn("Exl2 doesn't work with cuda graphs, deactivating them"))
	default:
		sizes = []int{1, 2, 4, 8, 16, 32}
		logs = append(logs, info("Using default cuda graphs [1, 2, 4, 8, 16, 32]"))
	}
	// The server sorts them largest first
	// (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/server/text_generation_server/models/globals.py#L57-L59).
	for i := 1; i < len(sizes); i++ {
		for j := i; j > 0 && sizes[j] > sizes[j-1]; j-- {
			sizes[j], sizes[j-1] = sizes[j-1], sizes[j]
		}
	}
	return sizes, logs
}

// checkBeforeStart is the launcher's last checks before it starts any
// process: validation workers, --max-total-tokens against
// --max-batch-total-tokens, and ngrok's settings.
func (a *Args) checkBeforeStart(p *launchPlan) error {
	if a.ValidationWorkers == 0 {
		return &argumentValidation{"`validation_workers` must be > 0"}
	}
	if a.MaxBatchTotalTokens != nil && p.MaxTotalTokens != nil && *p.MaxTotalTokens > *a.MaxBatchTotalTokens {
		return &argumentValidation{fmt.Sprintf("`max_total_tokens` must be <= `max_batch_total_tokens`. Given: %d and %d", *p.MaxTotalTokens, *a.MaxBatchTotalTokens)}
	}
	if a.Ngrok {
		if a.NgrokAuthtoken == "" {
			return &argumentValidation{"`ngrok-authtoken` must be set when using ngrok tunneling"}
		}
		if a.NgrokEdge == "" {
			return &argumentValidation{"`ngrok-edge` must be set when using ngrok tunneling"}
		}
	}
	return nil
}

// defaultPrefill is the launcher's default --max-batch-prefill-tokens
// (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/launcher/src/main.rs#L2114-L2154):
// compute-optimal for the card, capped by max_position_embeddings and by
// its own VRAM estimate.
func defaultPrefill(cfg *simkit.Model, env simEnv, ws int, mf float64) (int, []logLine) {
	var logs []logLine
	defOptimal := 4096
	if cfg != nil {
		switch cfg.ModelType {
		case "qwen2_vl", "qwen2_5_vl":
			defOptimal = 10_000
		case "gemma3":
			defOptimal = 8000
		}
	}
	cardKnown := env.GPU.Name != ""
	cardKey := strings.ToLower(strings.ReplaceAll(env.GPU.Name, " ", "-"))
	value := defOptimal
	if cfg != nil && cardKnown {
		// compute_optimal: the card's f16 FLOPs first (which warns about an
		// unknown card), then the model's.
		if tflops, known := cardTFLOPs[cardKey]; !known {
			logs = append(logs, warn("Unkown compute for card "+cardKey))
		} else if flop, ok := launcherFlop(cfg); ok {
			if opt := tflops * 1_000_000_000_000 * uint64(ws) / flop; opt > 100 {
				value = int(opt)
			}
		}
	}
	def := value
	if cfg != nil && cfg.MaxPositions > 0 {
		value = min(value, cfg.MaxPositions)
	}
	if cfg != nil && cardKnown {
		if vm, ok, l := vramMaximum(cfg, env, ws, mf); ok {
			if vm < value {
				logs = append(logs, warn(fmt.Sprintf("Reducing the max batch prefill from %d to %d because there is not enough VRAM to support it.", def, vm)))
				value = vm
			}
		} else {
			logs = append(logs, l...)
		}
	}
	logs = append(logs, info(fmt.Sprintf("Default `max_batch_prefill_tokens` to %d", value)))
	return value, logs
}

// launcherFlop is Config::flop (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/launcher/src/main.rs#L281-L308).
func launcherFlop(m *simkit.Model) (uint64, bool) {
	hd := uint64(launcherHeadDim(m))
	if m.Vision || hd == 0 {
		return 0, false
	}
	nh, nkv, h := uint64(m.Heads), uint64(m.NumKVHeads()), uint64(m.Hidden)
	k := uint64(max(m.ExpertsPerToken, 1))
	im := uint64(m.Intermediate) * (k + uint64(m.SharedExperts))
	attn := 2*nh*hd*h + 2*nkv*hd*h + 2*nkv*hd*h + 2*nh*hd*h + 2*nh*hd*h
	f := (attn + 2*3*h*im) * uint64(m.Layers)
	return f, f > 0
}

// vramMaximum is the launcher's vram_maximum with its bugs (the qkv term
// lacks a factor hidden; https://github.com/huggingface/text-generation-inference/blob/v3.3.7/launcher/src/main.rs#L62-L89,
// https://github.com/huggingface/text-generation-inference/blob/v3.3.7/launcher/src/main.rs#L310-L351,
// https://github.com/huggingface/text-generation-inference/blob/v3.3.7/launcher/src/main.rs#L1787-L1811).
func vramMaximum(m *simkit.Model, env simEnv, ws int, mf float64) (int, bool, []logLine) {
	if m.QuantMethod != "" {
		return 0, false, nil
	}
	hd := uint64(launcherHeadDim(m))
	if hd == 0 {
		return 0, false, nil
	}
	smiBytes := uint64(env.GPU.Total>>20) << 20
	available := uint64(float32(smiBytes*uint64(ws)) * float32(mf) * env.LauncherWiggle)
	experts := uint64(max(m.LocalExperts, 1))
	nh, nkv, h, im := uint64(m.Heads), uint64(m.NumKVHeads()), uint64(m.Hidden), uint64(m.Intermediate)
	params := (3*im*experts*h+(nh+2*nkv)*hd+nh*hd*h)*uint64(m.Layers) + 2*h*uint64(m.Vocab)
	model := params * 2
	token := nkv*2*hd*2*uint64(m.Layers) + (im+im/2)*experts*2*3
	if available < model {
		return 0, false, []logLine{warn(fmt.Sprintf("Not enough VRAM to run the model: Available: %s - Model %s.", humanSize(float64(available), "B"), humanSize(float64(model), "B")))}
	}
	return int((available - model) / token), true, nil
}

// humanSize is the launcher's human_size: decimal prefixes, two decimals.
func humanSize(size float64, suffix string) string {
	p := ""
	for _, prefix := range []string{"", "K", "M", "G", "T"} {
		p = prefix
		if size > 1000 {
			size /= 1000
		} else {
			break
		}
	}
	return fmt.Sprintf("%.2f%s%s", size, p, suffix)
}
