package calibrate

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"

	"github.com/vramcalc/vramcalc/estimate"
	"github.com/vramcalc/vramcalc/gpus"
	"github.com/vramcalc/vramcalc/hfmeta"
	"github.com/vramcalc/vramcalc/probe/results"
)

// Start is one observed start of TGI, vLLM or SGLang to calibrate on: the
// KV budget it reported (TGI's max batch total tokens, vLLM's GPU KV cache
// size, SGLang's max_total_num_tokens) and the estimate's inputs for it.
type Start struct {
	// ID names it: the file's name and the row id ("reports.csv:3") or the
	// 1-based line ("results.jsonl:7").
	ID       string
	Reported int
	// GraphBytes is the CUDA-graph memory vLLM logged ("Graph capturing
	// finished in N secs, took X GiB"); 0 when not reported.
	GraphBytes int64
	Inputs     Inputs
}

// Skip is an observation left out, with why.
type Skip struct{ ID, Reason string }

// Fallbacks stand in for what a validate results file does not record (the
// calibrate command's --gpu, --vram, --gpus and --engine-version).
type Fallbacks struct {
	// GPU is a name gpus.Lookup knows and VRAM a size gpus.ParseVRAM reads
	// (it replaces the GPU's total). Given, they win over the GPU a file
	// records; a file that records none needs one of them.
	GPU, VRAM string
	// GPUs is the GPU count of a start whose file does not record its
	// GPUs; 0 means 1.
	GPUs int
	// EngineVersion is the release of a start whose file and image tag
	// do not say it; "" means the engine's default.
	EngineVersion string
}

// ErrNoGPU is returned (wrapped, naming the file) for a validate results
// file that does not record its GPU when Fallbacks name none.
var ErrNoGPU = errors.New("the validate file does not record its GPU")

// ReadStarts reads the observed starts in r (TGI, vLLM and SGLang): a startup-report CSV when
// name ends in ".csv" (see ReadReports; errors wrap ErrBadReports), else
// validate's results JSONL. name is the file's base name and prefixes every
// ID. Models are resolved with client, once per model of a results file.
// What cannot be calibrated on is returned as Skips: rows of a CSV marked
// doubtful, without settings or kv_tokens or whose model or GPU is not
// found, launches that did not start or reported no pool.
func ReadStarts(ctx context.Context, client *hfmeta.Client, name string, r io.Reader, fb Fallbacks) ([]Start, []Skip, error) {
	if strings.EqualFold(path.Ext(name), ".csv") {
		reps, err := ReadReports(r)
		if err != nil {
			return nil, nil, fmt.Errorf("calibrate %s: %w", name, err)
		}
		starts, skips := reportStarts(ctx, client, name, reps)
		return starts, skips, nil
	}
	c, err := results.ReadAll(r)
	if err != nil {
		return nil, nil, fmt.Errorf("calibrate %s: %w", name, err)
	}
	return observationStarts(ctx, client, name, c, fb)
}

// reportStarts are the rows of a startup-report CSV with a credible
// kv_tokens.
func reportStarts(ctx context.Context, client *hfmeta.Client, name string, reps []Report) ([]Start, []Skip) {
	var starts []Start
	var skips []Skip
	for _, r := range reps {
		id := name + ":" + r.RowID
		switch {
		case r.Doubtful:
			skips = append(skips, Skip{id, "marked doubtful or approximate"})
			continue
		case r.SettingsUnknown:
			skips = append(skips, Skip{id, "settings not shown"})
			continue
		case r.KVTokens <= 0:
			skips = append(skips, Skip{id, "no kv_tokens"})
			continue
		}
		in, err := ReportInputs(ctx, client, r)
		if err != nil {
			skips = append(skips, Skip{id, err.Error()})
			continue
		}
		starts = append(starts, Start{ID: id, Reported: r.KVTokens, Inputs: in})
	}
	return starts, skips
}

// observationStarts are the launches of a results file that started and
// reported a KV budget, named by their line.
func observationStarts(ctx context.Context, client *hfmeta.Client, name string, c results.Contents, fb Fallbacks) ([]Start, []Skip, error) {
	var starts []Start
	var skips []Skip
	models := map[string]estimate.Model{}
	for i, o := range c.Observations {
		id := fmt.Sprintf("%s:%d", name, c.Lines[i])
		o, run := withHeader(o, c)
		if _, ok := engineNames[strings.ToLower(o.Engine)]; !ok && o.Engine != "" {
			skips = append(skips, Skip{id, "engine " + o.Engine + " is not one vramcalc estimates"})
			continue
		}
		if !o.OK() || o.Budget() <= 0 {
			skips = append(skips, Skip{id, "did not start, or no KV budget reported"})
			continue
		}
		m, ok := models[o.Model]
		if !ok {
			meta, err := client.Resolve(ctx, o.Model)
			if err != nil {
				return nil, nil, fmt.Errorf("calibrate %s: model %s: %w", name, o.Model, err)
			}
			m = meta.Model
			models[o.Model] = m
		}
		in, err := observationInputs(o, run, m, fb)
		if err != nil {
			return nil, nil, fmt.Errorf("calibrate %s: %w", name, err)
		}
		starts = append(starts, Start{ID: id, Reported: o.Budget(), GraphBytes: o.Reported.GraphBytes, Inputs: in})
	}
	return starts, skips, nil
}

// engineNames are the engines a results file's launches may be of.
var engineNames = map[string]bool{"tgi": true, "vllm": true, "sglang": true}

// observationInputs are the estimate's inputs for one launch of model m:
// its engine (TGI when the file does not say), its GPU
// (observationHardware), its release (the file's, the image tag's, else the
// fallback's, else the engine default, noted), its point in the engine's
// own flags and the run's memory fraction.
func observationInputs(o results.Observation, run results.RunSettings, m estimate.Model, fb Fallbacks) (Inputs, error) {
	hw, err := observationHardware(o, fb)
	if err != nil {
		return Inputs{}, err
	}
	version := o.EngineVersion
	if version == "" {
		version = imageVersion(o.Image)
	}
	if version == "" {
		version = fb.EngineVersion
	}
	var notes []string
	if version == "" {
		notes = append(notes, "version not recorded: engine default")
	}
	eng := cmp.Or(strings.ToLower(o.Engine), "tgi")
	return Inputs{Model: m, Hardware: hw, Engine: estimate.Engine{Name: eng, Version: version}, Settings: pointSettings(eng, o.Point, run), Notes: notes}, nil
}

// pointSettings are a launch's settings in its engine's flags: the point
// searched (TGI's max input/total tokens, vLLM's --max-model-len, SGLang's
// --context-length), its prefill, and the run's memory fraction.
func pointSettings(eng string, p results.Point, run results.RunSettings) estimate.Settings {
	switch eng {
	case "vllm":
		return estimate.Settings{MaxModelLen: p.MaxTotalTokens, MaxNumBatchedTokens: p.MaxBatchPrefillTokens, GPUMemoryUtilization: run.GPUMemoryUtilization}
	case "sglang":
		return estimate.Settings{MaxModelLen: p.MaxTotalTokens, ChunkedPrefillSize: p.MaxBatchPrefillTokens, MemFractionStatic: run.MemFractionStatic}
	}
	return estimate.Settings{MaxInputTokens: p.MaxInputTokens, MaxTotalTokens: p.MaxTotalTokens, MaxBatchPrefillTokens: p.MaxBatchPrefillTokens,
		CUDAMemoryFraction: run.CUDAMemoryFraction}
}

// ReadObservations reads the observations of validate's results JSONL with
// [results.Read]: run headers and blank lines are skipped, a torn last line
// (a crash mid-write) is dropped as [results.OpenStore] does, and a bad line
// is an error naming it ("line N: ").
func ReadObservations(r io.Reader) ([]results.Observation, error) { return results.Read(r) }

// withHeader fills in what an observation does not record from its run's
// header: the GPUs (when the header names a GPU gpus.Lookup knows), the
// engine and its release; and returns the run's settings.
func withHeader(o results.Observation, c results.Contents) (results.Observation, results.RunSettings) {
	h, ok := c.Header(o.Run)
	if !ok {
		return o, results.RunSettings{}
	}
	if o.Engine == "" {
		o.Engine = h.Engine
	}
	if _, err := gpus.Lookup(h.GPU); err == nil && len(o.GPUs) == 0 && h.GPUCount > 0 {
		o.GPUs = slices.Repeat([]string{h.GPU}, h.GPUCount)
	}
	if o.EngineVersion == "" {
		o.EngineVersion = h.EngineVersion
	}
	return o, h.Settings
}

// observationHardware is the GPU of one launch: the fallbacks' when they
// name one (as many as the launch records, else fb.GPUs), else the one the
// launch records; ErrNoGPU when neither does.
func observationHardware(o results.Observation, fb Fallbacks) (estimate.Hardware, error) {
	n := fb.GPUs
	if len(o.GPUs) > 0 {
		n = len(o.GPUs)
		if fb.GPU == "" && fb.VRAM == "" {
			return gpuHardware(o.GPUs[0], "", n)
		}
	}
	return gpuHardware(fb.GPU, fb.VRAM, max(n, 1))
}

// gpuHardware is n GPUs named name (gpus.Lookup), with vram (gpus.ParseVRAM)
// as the total when given; ErrNoGPU when both are empty.
func gpuHardware(name, vram string, n int) (estimate.Hardware, error) {
	hw := estimate.Hardware{Count: n}
	if name == "" && vram == "" {
		return hw, ErrNoGPU
	}
	if name != "" {
		sku, err := gpus.Lookup(name)
		if err != nil {
			return hw, fmt.Errorf("gpu: %w", err)
		}
		hw.GPU = sku.GPU
	}
	if vram != "" {
		b, _, err := gpus.ParseVRAM(vram)
		if err != nil {
			return hw, fmt.Errorf("vram: %w", err)
		}
		hw.GPU.TotalBytes, hw.GPU.SMITotalMiB = b, 0
	}
	return hw, nil
}

// imageVersion is the tag of an image when it is a release ("…:3.3.7").
func imageVersion(image string) string {
	i := strings.LastIndex(image, ":")
	if i < 0 || strings.Contains(image[i:], "/") {
		return ""
	}
	tag := image[i+1:]
	if _, err := estimate.ParseVersion(tag); err != nil {
		return ""
	}
	return strings.TrimPrefix(tag, "v")
}
