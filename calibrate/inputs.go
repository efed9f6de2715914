package calibrate

import (
	"context"
	"encoding/json"
	"math"
	"strings"

	"github.com/vramcalc/vramcalc/estimate"
	"github.com/vramcalc/vramcalc/gpus"
	"github.com/vramcalc/vramcalc/hfmeta"
)

// Inputs are the estimate's inputs for one observed start.
type Inputs struct {
	Model    estimate.Model
	Hardware estimate.Hardware
	Engine   estimate.Engine
	Settings estimate.Settings
	// Notes say what was assumed.
	Notes []string
}

// ReportInputs turns a report row into the estimate's inputs: the row's
// engine, version, model (resolved with client), GPUs and settings (the
// engine's defaults for what the row does not state).
func ReportInputs(ctx context.Context, client *hfmeta.Client, r Report) (Inputs, error) {
	meta, err := client.Resolve(ctx, r.Model)
	if err != nil {
		return Inputs{}, err
	}
	hw, notes, err := reportHardware(r)
	if err != nil {
		return Inputs{}, err
	}
	version, vnote := reportVersion(r)
	if vnote != "" {
		notes = append(notes, vnote)
	}
	return Inputs{Model: meta.Model, Hardware: hw, Engine: estimate.Engine{Name: r.Engine, Version: version},
		Settings: reportSettings(r), Notes: notes}, nil
}

// reportHardware is the row's GPU and count: max(num_gpus, tensor_parallel,
// 1). A total the engine printed wins over the catalog's when they differ
// by more than the print's rounding (0.005 GiB), with a note.
func reportHardware(r Report) (estimate.Hardware, []string, error) {
	sku, err := lookupReportGPU(r.GPUModel, r.GPUMemory)
	if err != nil {
		return estimate.Hardware{}, nil, err
	}
	gpu := sku.GPU
	var notes []string
	if r.TotalBytes > 0 && math.Abs(float64(r.TotalBytes)-float64(gpu.TotalBytes)) > 0.005*float64(estimate.GiB) {
		gpu.TotalBytes = estimate.Bytes(r.TotalBytes)
		notes = append(notes, "total from the row")
	}
	return estimate.Hardware{GPU: gpu, Count: max(r.NumGPUs, r.TP, 1)}, notes, nil
}

// reportSettings maps the row's settings onto the engine's flags.
func reportSettings(r Report) estimate.Settings {
	s := estimate.Settings{NumShard: r.TP}
	if dt, err := estimate.ParseDType(firstWord(r.KVCacheDType)); err == nil && dt != "" {
		s.KVCacheDType = dt
	}
	switch r.Engine {
	case "tgi":
		s.MaxInputTokens, s.MaxTotalTokens, s.MaxBatchPrefillTokens = r.MaxInputTokens, r.MaxModelLen, r.MaxBatchPrefillTokens
		s.CUDAMemoryFraction = r.MemoryFraction
	case "vllm":
		s.GPUMemoryUtilization, s.MaxModelLen, s.MaxNumBatchedTokens, s.BlockSize = r.MemoryFraction, r.MaxModelLen, r.MaxBatchPrefillTokens, r.BlockSize
		s.OfflineLLM = r.OfflineLLM
		s.Spec = reportSpec(r.Speculative)
	case "sglang":
		s.MemFractionStatic, s.MaxModelLen = r.MemoryFraction, r.MaxModelLen
	}
	return s
}

// reportSpec reads a row's speculative_config: an MTP or n-gram draft
// (a draft checkpoint would need its own metadata; such rows are marked
// not evaluable). Unreadable JSON gives none.
func reportSpec(raw string) estimate.Speculative {
	var c struct {
		Method string `json:"method"`
		Tokens int    `json:"num_speculative_tokens"`
	}
	if raw == "" || json.Unmarshal([]byte(raw), &c) != nil {
		return estimate.Speculative{}
	}
	if strings.HasSuffix(c.Method, "_mtp") {
		c.Method = "mtp"
	}
	return estimate.Speculative{Method: c.Method, Tokens: c.Tokens}
}

// reportVersion is the release to estimate the row with, and a note when it
// is assumed. A vLLM row on the V0 engine gets the "-v0" suffix; without a
// release, the last one where V0 was vLLM's default (0.7.3: V1 became the
// default in v0.8.0).
func reportVersion(r Report) (version, note string) {
	v0 := r.Engine == "vllm" && strings.Contains(r.EngineVersion, "V0")
	switch {
	case r.Version == "" && v0:
		return "0.7.3", "version not stated: last V0-default release (0.7.3) assumed"
	case r.Version == "":
		return "", "version not stated: engine default"
	case v0:
		return r.Version + "-v0", ""
	}
	return r.Version, ""
}

// lookupReportGPU finds the row's GPU: model and size ("A100" + "80GB"),
// then the model alone, without parenthetical remarks.
func lookupReportGPU(model, memory string) (gpus.SKU, error) {
	model = stripParen(model)
	size := firstWord(memory)
	if sku, err := gpus.Lookup(model + " " + size); err == nil && size != "" {
		return sku, nil
	}
	return gpus.Lookup(model)
}

// PredictReport runs the estimate for one report with its settings, noting
// what was assumed and a start predicted to fail. It is the Predictor
// Accuracy takes for the estimator.
func PredictReport(ctx context.Context, client *hfmeta.Client, r Report) (Prediction, error) {
	in, err := ReportInputs(ctx, client, r)
	if err != nil {
		return Prediction{}, err
	}
	notes := in.Notes
	res, err := estimate.Run(in.Model, in.Hardware, in.Engine, in.Settings)
	if err != nil {
		return Prediction{}, err
	}
	if !res.Startup.Fits {
		notes = append(notes, "predicted not to start: "+res.Startup.Failure)
	}
	return Prediction{KVTokens: res.Startup.MaxBatchTotalTokens, KVCacheBytes: int64(res.PerGPU.KVCache), Note: strings.Join(notes, "; ")}, nil
}

func stripParen(s string) string {
	if i := strings.Index(s, "("); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}

func firstWord(s string) string {
	f := strings.Fields(s)
	if len(f) == 0 {
		return ""
	}
	return f[0]
}
