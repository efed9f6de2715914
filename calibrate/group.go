package calibrate

import (
	"cmp"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/vramcalc/vramcalc/estimate"
)

// How GroupStarts groups.
const (
	// ByGPU fits each engine and GPU apart.
	ByGPU = "gpu"
	// ByEngine fits all GPUs of an engine together (GPU "all").
	ByEngine = "engine"
)

// Group is the starts one set of corrections is fitted to.
type Group struct {
	// Engine is "tgi", "vllm" or "sglang"; GPU the GPU's name ("22.00 GiB" when it has none,
	// "all" when grouped ByEngine).
	Engine, GPU string
	// TP is the starts' shard count: starts at different TP degrees are
	// never fitted together (NCCL's buffers and the sharded activations
	// differ, issue 12 §5).
	TP     int
	Starts []Start
}

// GroupStarts groups starts by engine, release line (ReleaseLine),
// tensor-parallel degree and GPU (by ByGPU) or by engine, line and degree
// alone (ByEngine), in the order the groups first appear.
func GroupStarts(starts []Start, by string) []Group {
	idx := map[string]int{}
	var groups []Group
	for _, s := range starts {
		gpu := s.Inputs.Hardware.GPU.Name
		if gpu == "" {
			gpu = fmt.Sprintf("%.2f GiB", s.Inputs.Hardware.GPU.TotalBytes.GiBs())
		}
		if by == ByEngine {
			gpu = "all"
		}
		tp, eng := startTP(s), cmp.Or(s.Inputs.Engine.Name, "tgi")
		key := fmt.Sprintf("%s\x00%s\x00%s\x00%d", eng, ReleaseLine(eng, s.Inputs.Engine.Version), gpu, tp)
		i, ok := idx[key]
		if !ok {
			i = len(groups)
			idx[key] = i
			groups = append(groups, Group{Engine: eng, GPU: gpu, TP: tp})
		}
		groups[i].Starts = append(groups[i].Starts, s)
	}
	return groups
}

// ReleaseLine is the sizing generation a start's release belongs to,
// which corrections are fitted apart by: TGI's and vLLM's major.minor
// (their patch releases fix bugs; TGI 2.0.0 and 2.0.3 size alike, 3.0
// changed the wiggle room; vLLM's V0 engine is a line of its own, "-v0"),
// SGLang's whole release (its 0.5.x releases are its feature releases:
// 0.5.5 changed the memory before the weights). A start without a
// release is the engine's default's.
func ReleaseLine(engine, version string) string {
	version = strings.TrimPrefix(cmp.Or(version, defaultVersions[engine]), "v")
	v0 := strings.HasSuffix(version, "-v0")
	parts := strings.Split(strings.TrimSuffix(version, "-v0"), ".")
	n := 2
	if engine == "sglang" {
		n = 3
	}
	line := strings.Join(parts[:min(n, len(parts))], ".")
	if v0 {
		line += "-v0"
	}
	return line
}

// startTP is a start's shard count: --num-shard when it was given, else
// every GPU it ran on (TGI's default).
func startTP(s Start) int {
	if n := s.Inputs.Settings.NumShard; n > 0 {
		return n
	}
	return max(s.Inputs.Hardware.Count, 1)
}

// defaultVersions are the release a start without one counts as.
var defaultVersions = map[string]string{"tgi": estimate.DefaultTGIVersion, "vllm": estimate.DefaultVLLMVersion, "sglang": estimate.DefaultSGLangVersion}

// Versions are the group's releases, sorted; a start without one counts
// as the engine's default (estimate.DefaultTGIVersion …).
func (g Group) Versions() []string {
	seen := map[string]bool{}
	var vs []string
	for _, s := range g.Starts {
		v := s.Inputs.Engine.Version
		if v == "" {
			v = defaultVersions[g.Engine]
		}
		if !seen[v] {
			seen[v] = true
			vs = append(vs, v)
		}
	}
	sort.Strings(vs)
	return vs
}

// FitOptions picks the corrections the group's starts can tell apart.
// TGI: one or two starts fit the overhead only, three to five add the
// activation factor, six or more of one release before 3.0 add the
// wiggle, starting from the release's default. vLLM: the non-torch
// overhead, and the profile peak's factor from three starts whose peaks
// differ enough to tell it from the overhead (minPeakSpread); the
// CUDA-graph term is not fitted but measured
// (GraphCorrection). SGLang: the memory before the weights (its pool has
// no activation term to fit).
func (g Group) FitOptions() FitOptions {
	n := len(g.Starts)
	opt := FitOptions{Params: ParamOverhead}
	switch g.Engine {
	case "sglang":
		return opt
	case "vllm":
		opt.Start.CUDAGraphBytes = g.GraphCorrection()
		if n >= 3 && g.peakSpread() >= minPeakSpread {
			opt.Params |= ParamActivation
		}
		return opt
	}
	if n >= 3 {
		opt.Params |= ParamActivation
	}
	if vs := g.Versions(); n >= 6 && len(vs) == 1 {
		// Before v3.0 the pool is W·free, so the wiggle scales what the
		// overhead shifts; from v3.0 (1 − W)·total is a constant per card,
		// the same as an overhead (estimate.TGIWiggle).
		if w, ofTotal, err := estimate.TGIWiggle(vs[0]); err == nil && !ofTotal {
			opt.Params |= ParamWiggle
			opt.Start.Wiggle = w
		}
	}
	return opt
}

// minPeakSpread is how much larger the largest profile peak of a group's
// starts must be than its smallest for the peak's factor to be told from
// the overhead: below it the factor moves every pool alike, as the overhead
// does (vLLM 0.21's peak on an H100 is 1.82–1.93 GiB from 2,048 to 16,384
// batched tokens, its sampler's; from 32,768 the forward's dominates).
const minPeakSpread = 1.5

// peakSpread is the largest over the smallest estimated profile peak of
// the starts (0 when one cannot be estimated).
func (g Group) peakSpread() float64 {
	lo, hi := estimate.Bytes(0), estimate.Bytes(0)
	for _, s := range g.Starts {
		res, err := estimate.Run(s.Inputs.Model, s.Inputs.Hardware, s.Inputs.Engine, s.Inputs.Settings)
		p := res.PerGPU.ActivationPeak
		if err != nil || p <= 0 {
			return 0
		}
		if lo == 0 || p < lo {
			lo = p
		}
		hi = max(hi, p)
	}
	if lo == 0 {
		return 0
	}
	return float64(hi) / float64(lo)
}

// GraphCorrection is the median, over the starts whose vLLM logged its
// captured CUDA graphs, of that memory less the estimate's (0 when none
// did): a measurement, not a fit, so that the graphs, which v0.20+
// budgets before the pool exactly as the overhead, are not confused with
// it.
func (g Group) GraphCorrection() estimate.Bytes {
	var d []int64
	for _, s := range g.Starts {
		if s.GraphBytes <= 0 {
			continue
		}
		res, err := estimate.Run(s.Inputs.Model, s.Inputs.Hardware, s.Inputs.Engine, s.Inputs.Settings)
		if err != nil || res.PerGPU.CUDAGraphs == 0 {
			continue
		}
		d = append(d, s.GraphBytes-int64(res.PerGPU.CUDAGraphs))
	}
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return estimate.Bytes(d[len(d)/2])
}

// Samples are the group's reported budgets, in Starts order.
func (g Group) Samples() []Sample {
	obs := make([]Sample, len(g.Starts))
	for i, s := range g.Starts {
		obs[i] = Sample{ID: s.ID, Reported: float64(s.Reported)}
	}
	return obs
}

// Predict runs the estimate for every start with corrections c and returns
// the predicted budgets (max batch total tokens; 0 for a start predicted to
// fail), in Starts order.
func (g Group) Predict(c estimate.Corrections) ([]float64, error) {
	out := make([]float64, len(g.Starts))
	for i, s := range g.Starts {
		set := s.Inputs.Settings
		set.Corrections = &c
		res, err := estimate.Run(s.Inputs.Model, s.Inputs.Hardware, s.Inputs.Engine, set)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.ID, err)
		}
		out[i] = float64(res.Startup.MaxBatchTotalTokens)
	}
	return out, nil
}

// Calibration is one group's fit: its corrections file, the fit's report
// and the starts, in the report's order.
type Calibration struct {
	File   File
	Report FitReport
	Starts []Start
}

// Calibration puts the corrections c fitted to the group, with the fit's
// report, in the file format, naming the engine, its releases (comma
// separated) and the GPU.
func (g Group) Calibration(c estimate.Corrections, rep FitReport) Calibration {
	c.Version, c.Engine, c.EngineVersion, c.GPU, c.TensorParallel = FileVersion, g.Engine, strings.Join(g.Versions(), ","), g.GPU, g.TP
	return Calibration{File: NewFile(c, rep), Report: rep, Starts: g.Starts}
}

// GroupPath is where one of several groups' corrections goes when out was
// asked for: out with "-<engine>-<line>-<gpu>" (and "-tp<N>" above one
// shard) before its extension, lower-case, other characters than letters,
// digits and dots as "-" ("corrections.json" →
// "corrections-tgi-3.3-nvidia-l4.json", "corrections-tgi-3.3-nvidia-l4-tp2.json").
func GroupPath(out string, f File) string {
	ext := filepath.Ext(out)
	first, _, _ := strings.Cut(f.EngineVersion, ",")
	name := f.Engine + "-" + ReleaseLine(f.Engine, first) + "-" + f.GPU
	if f.TensorParallel > 1 {
		name += fmt.Sprintf("-tp%d", f.TensorParallel)
	}
	return strings.TrimSuffix(out, ext) + "-" + slug(name) + ext
}

func slug(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	return strings.Trim(b.String(), "-")
}
