package loadcmd

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/urfave/cli/v3"

	"github.com/vramcalc/vramcalc/estimate"
	"github.com/vramcalc/vramcalc/gpus"
	"github.com/vramcalc/vramcalc/internal/cmdutil"
	"github.com/vramcalc/vramcalc/load"
	"github.com/vramcalc/vramcalc/nvml"
)

// limitFlag is one engine's own limit flag, as the server was started.
type limitFlag struct {
	name, engine, usage string
	float               bool
	set                 func(s *estimate.Settings, i int, f float64)
}

var limits = []limitFlag{
	{"max-model-len", load.EngineVLLM, "vLLM --max-model-len", false, func(s *estimate.Settings, i int, _ float64) { s.MaxModelLen = i }},
	{"gpu-memory-utilization", load.EngineVLLM, "vLLM --gpu-memory-utilization", true, func(s *estimate.Settings, _ int, f float64) { s.GPUMemoryUtilization = f }},
	{"max-num-seqs", load.EngineVLLM, "vLLM --max-num-seqs", false, func(s *estimate.Settings, i int, _ float64) { s.MaxNumSeqs = i }},
	{"context-length", load.EngineSGLang, "SGLang --context-length", false, func(s *estimate.Settings, i int, _ float64) { s.MaxModelLen = i }},
	{"mem-fraction-static", load.EngineSGLang, "SGLang --mem-fraction-static", true, func(s *estimate.Settings, _ int, f float64) { s.MemFractionStatic = f }},
	{"max-running-requests", load.EngineSGLang, "SGLang --max-running-requests", false, func(s *estimate.Settings, i int, _ float64) { s.MaxNumSeqs = i }},
	{"max-total-tokens", load.EngineTGI, "TGI --max-total-tokens", false, func(s *estimate.Settings, i int, _ float64) { s.MaxTotalTokens = i }},
	{"max-input-tokens", load.EngineTGI, "TGI --max-input-tokens", false, func(s *estimate.Settings, i int, _ float64) { s.MaxInputTokens = i }},
	{"max-batch-prefill-tokens", load.EngineTGI, "TGI --max-batch-prefill-tokens", false, func(s *estimate.Settings, i int, _ float64) { s.MaxBatchPrefillTokens = i }},
	{"cuda-memory-fraction", load.EngineTGI, "TGI --cuda-memory-fraction", true, func(s *estimate.Settings, _ int, f float64) { s.CUDAMemoryFraction = f }},
}

// limitFlags are the engines' limit flags, for the estimate.
func limitFlags() []cli.Flag {
	var out []cli.Flag
	for _, l := range limits {
		cat := map[string]string{load.EngineVLLM: "vLLM", load.EngineSGLang: "SGLang", load.EngineTGI: "TGI"}[l.engine]
		usage := l.usage + " the server was started with; default: the engine's"
		if l.float {
			out = append(out, &cli.FloatFlag{Name: l.name, HideDefault: true, Usage: usage, Category: cat})
		} else {
			out = append(out, &cli.IntFlag{Name: l.name, HideDefault: true, Usage: usage, Category: cat})
		}
	}
	return out
}

// checkLimitFlags refuses another engine's limit flag.
func checkLimitFlags(c *cli.Command, engine string) error {
	for _, l := range limits {
		if c.IsSet(l.name) && l.engine != engine {
			return cmdutil.Usage("give the limits of the engine the server runs: "+strings.Join(limitNames(engine), ", "), "--%s is a %s flag; the server is --engine %s", l.name, strings.Fields(l.usage)[0], engine)
		}
	}
	return nil
}

func limitNames(engine string) []string {
	var out []string
	for _, l := range limits {
		if l.engine == engine {
			out = append(out, "--"+l.name)
		}
	}
	return out
}

// predict runs the estimate for the model, the GPUs (hw, or hwErr why
// none) and the engine's limits, for requests of the lengths' means; when
// any of them is missing it says so in a warning and the run has no
// prediction (never a guess).
func predict(ctx context.Context, c *cli.Command, e cmdutil.Env, hw estimate.Hardware, hwErr error, in, out load.Lengths) (*load.Predicted, []string) {
	model := c.String("model")
	if model == "" {
		return nil, []string{"no --model: the report has no prediction to compare with"}
	}
	if hwErr != nil {
		return nil, []string{fmt.Sprintf("no GPU for the estimate (%v): the report has no prediction; pass --gpu or --vram", hwErr)}
	}
	meta, err := cmdutil.ResolveModel(ctx, c, e, model)
	if err != nil {
		return nil, []string{fmt.Sprintf("the model %s cannot be resolved (%v): the report has no prediction", model, err)}
	}
	engine := strings.ToLower(c.String("engine"))
	st := estimate.Settings{RequestInputTokens: int(math.Round(in.Mean())), RequestOutputTokens: int(math.Round(out.Mean()))}
	for _, l := range limits {
		if l.engine == engine && c.IsSet(l.name) {
			l.set(&st, int(c.Int(l.name)), c.Float(l.name))
		}
	}
	res, err := estimate.Run(meta.Model, hw, estimate.Engine{Name: engine, Version: c.String("engine-version")}, st)
	if err != nil {
		return nil, []string{fmt.Sprintf("the estimate for %s failed (%v): the report has no prediction", model, err)}
	}
	if !res.Startup.Fits {
		return nil, []string{fmt.Sprintf("the estimate says %s would not start with these limits (%s): the report has no prediction", model, res.Startup.Failure)}
	}
	p := &load.Predicted{ServingBytes: uint64(res.PerGPU.Total()), KVPoolTokens: res.Startup.MaxBatchTotalTokens, MaxConcurrency: res.Startup.MaxConcurrentRequests}
	var ws []string
	if in.Kind != load.LengthsFixed || out.Kind != load.LengthsFixed {
		ws = append(ws, fmt.Sprintf("the prediction is for requests of the lengths' means, %d prompt and %d output tokens (--input-len %s, --output-len %s): longer requests hold more of the pool",
			st.RequestInputTokens, st.RequestOutputTokens, in, out))
	}
	if res.Confidence == estimate.ConfidenceLow {
		ws = append(ws, "the estimate's confidence is low for this model (vramcalc estimate lists why): read the prediction with care")
	}
	return p, ws
}

// hardware is --gpu/--vram, else the sampler's first device (its catalog
// entry when the name is known), for --gpus GPUs or as many as it lists.
func hardware(ctx context.Context, c *cli.Command, s nvml.Sampler) (estimate.Hardware, error) {
	var devs []nvml.Device
	if s != nil {
		devs, _ = s.Devices(ctx)
	}
	n := int(c.Int("gpus"))
	if !c.IsSet("gpus") && len(devs) > 0 {
		n = len(devs)
	}
	if c.String("gpu") != "" || c.String("vram") != "" {
		hw, err := cmdutil.GPUFrom(c.String("gpu"), c.String("vram"), n)
		return hw.Hardware, err
	}
	if len(devs) == 0 {
		return estimate.Hardware{}, fmt.Errorf("no --gpu or --vram, and no GPU memory sampler lists a device")
	}
	gpu := estimate.GPU{Name: devs[0].Name, TotalBytes: estimate.Bytes(devs[0].Total)}
	if sku, err := gpus.Lookup(devs[0].Name); err == nil {
		gpu = sku.GPU
	}
	return estimate.Hardware{GPU: gpu, Count: n}, nil
}
