package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/urfave/cli/v3"

	"github.com/vramcalc/vramcalc/calibrate"
	"github.com/vramcalc/vramcalc/calibrate/fit"
	"github.com/vramcalc/vramcalc/estimate"
	"github.com/vramcalc/vramcalc/hfmeta"
	"github.com/vramcalc/vramcalc/probe"
)

func calibrateCommand(e env) *cli.Command {
	return &cli.Command{
		Name:      "calibrate",
		Usage:     "fit the TGI estimate's corrections (activation factor, overhead, wiggle) to observed KV budgets",
		ArgsUsage: "FILE…",
		Description: `Reads observed TGI starts and fits, per engine and GPU, the corrections vramcalc
estimate --corrections applies: a factor on the warm-up prefill's activation peak, memory
per GPU beyond the modelled overhead, and (TGI < 3.0 only, where it is distinguishable
from the overhead) the wiggle room. The fit minimises a Cauchy loss on the relative error
of the KV budget ("Setting max batch total tokens to N") with Nelder-Mead, and leaves out,
in a second pass, starts still off by more than 20%.

FILE is a validate results file (*.jsonl: the reported budget of every launch that
started) or a startup-report CSV (*.csv: TGI rows with kv_tokens; rows marked DOUBTFUL or
APPROXIMATE and rows whose settings are not shown are skipped). Validate files do not
record the GPU or the release: they come from --gpu/--vram, --gpus and --engine-version
(the image tag when it is a version) unless the file has them.

How many corrections are fitted follows the data: one or two starts fit the overhead
only, three to five add the activation factor, six or more of one TGI 2.x release add the
wiggle. With --out the corrections are written (one group) or FILE-<engine>-<gpu>.json
per group.

  vramcalc calibrate results.jsonl --gpu L4 --out corrections.json
  vramcalc calibrate testdata/startup_reports_dev.csv --by engine`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "out", Usage: "write the corrections to `FILE` (JSON, version 1)"},
			&cli.StringFlag{Name: "by", Value: "gpu", Usage: "group starts by `KEY`: gpu (engine + GPU) or engine (all GPUs together)"},
			&cli.StringFlag{Name: "gpu", Usage: "GPU `NAME` of validate files that do not record it"},
			&cli.StringFlag{Name: "vram", Usage: "memory per GPU (`SIZE`) of validate files that do not record it"},
			&cli.IntFlag{Name: "gpus", Value: 1, Usage: "GPUs per start in validate files that do not record them"},
			&cli.StringFlag{Name: "engine-version", Usage: "TGI release (`VERSION`) of validate files that do not record it"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "table", Usage: "`FORMAT`: table or json"},
		},
		Action: func(ctx context.Context, c *cli.Command) error { return runCalibrate(ctx, c, e) },
	}
}

// calSample is one observed start with the estimate's inputs for it.
type calSample struct {
	id       string
	reported int
	in       runInputs
}

// calSkip is an observation left out, with why.
type calSkip struct{ id, reason string }

func runCalibrate(ctx context.Context, c *cli.Command, e env) error {
	if c.NArg() == 0 {
		return &usageError{msg: "calibrate takes one or more FILE arguments", hint: "vramcalc calibrate results.jsonl --gpu L4 --out corrections.json"}
	}
	by := strings.ToLower(c.String("by"))
	if by != "gpu" && by != "engine" {
		return &usageError{msg: fmt.Sprintf("--by %q", by), hint: "use --by gpu or --by engine"}
	}
	format := strings.ToLower(c.String("output"))
	if format != "table" && format != "json" {
		return &usageError{msg: fmt.Sprintf("unknown output format %q", format), hint: "use -o table or json"}
	}
	client := &hfmeta.Client{Offline: true, CacheDir: hfmeta.CacheDirFromEnv(e.getenv)}
	var samples []calSample
	var skipped []calSkip
	for _, path := range c.Args().Slice() {
		s, sk, err := readCalibrationFile(ctx, c, client, path)
		if err != nil {
			return err
		}
		samples, skipped = append(samples, s...), append(skipped, sk...)
	}
	if len(samples) == 0 {
		return withHint(errors.New("calibrate: no usable TGI starts in the files"), "validate files need launches that started; CSVs need TGI rows with kv_tokens")
	}
	groups := groupSamples(samples, by)
	var outs []calibrationOut
	for _, g := range groups {
		o, err := fitGroup(g)
		if err != nil {
			return err
		}
		outs = append(outs, o)
	}
	if out := c.String("out"); out != "" {
		for i := range outs {
			path := out
			if len(outs) > 1 {
				ext := filepath.Ext(out)
				path = strings.TrimSuffix(out, ext) + "-" + slug(outs[i].file.Engine+"-"+outs[i].file.GPU) + ext
			}
			if err := writeCorrections(path, outs[i].file); err != nil {
				return err
			}
			outs[i].path = path
		}
	}
	return renderCalibration(e, format, outs, skipped)
}

// readCalibrationFile reads one validate JSONL or startup-report CSV.
func readCalibrationFile(ctx context.Context, c *cli.Command, client *hfmeta.Client, path string) ([]calSample, []calSkip, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, withHint(fmt.Errorf("calibrate: %w", err), "give validate results (*.jsonl) or startup-report CSVs (*.csv)")
	}
	defer f.Close()
	base := filepath.Base(path)
	if strings.EqualFold(filepath.Ext(path), ".csv") {
		reps, err := calibrate.ReadReports(f)
		if err != nil {
			return nil, nil, withHint(fmt.Errorf("calibrate %s: %w", base, err), "the CSV must follow the startup-report schema (see shared/data/README.md)")
		}
		var out []calSample
		var skipped []calSkip
		for _, r := range reps {
			id := base + ":" + r.RowID
			switch {
			case r.Engine != "tgi":
				continue
			case r.Doubtful:
				skipped = append(skipped, calSkip{id, "marked doubtful or approximate"})
				continue
			case r.SettingsUnknown:
				skipped = append(skipped, calSkip{id, "settings not shown"})
				continue
			case r.KVTokens <= 0:
				skipped = append(skipped, calSkip{id, "no kv_tokens"})
				continue
			}
			in, err := reportInputs(ctx, client, r)
			if err != nil {
				skipped = append(skipped, calSkip{id, err.Error()})
				continue
			}
			out = append(out, calSample{id: id, reported: r.KVTokens, in: in})
		}
		return out, skipped, nil
	}
	obs, err := readObservationsFile(f)
	if err != nil {
		return nil, nil, fmt.Errorf("calibrate %s: %w", base, err)
	}
	var out []calSample
	var skipped []calSkip
	metas := map[string]estimate.Model{}
	for i, o := range obs {
		id := fmt.Sprintf("%s:%d", base, i+1)
		if o.Engine != "" && !strings.EqualFold(o.Engine, "tgi") {
			skipped = append(skipped, calSkip{id, "engine " + o.Engine + " (TGI only)"})
			continue
		}
		if !o.OK() || o.Budget() <= 0 {
			skipped = append(skipped, calSkip{id, "did not start, or no KV budget reported"})
			continue
		}
		m, ok := metas[o.Model]
		if !ok {
			meta, err := client.Resolve(ctx, o.Model)
			if err != nil {
				return nil, nil, fmt.Errorf("calibrate %s: model %s: %w", base, o.Model, err)
			}
			m = meta.Model
			metas[o.Model] = m
		}
		hw, err := observationHardware(c, o)
		if err != nil {
			return nil, nil, fmt.Errorf("calibrate %s: %w", base, err)
		}
		version := o.EngineVersion
		if version == "" {
			version = imageVersion(o.Image)
		}
		if version == "" {
			version = c.String("engine-version")
		}
		var notes []string
		if version == "" {
			notes = append(notes, "version not recorded: engine default")
		}
		s := estimate.Settings{MaxInputTokens: o.Point.MaxInputTokens, MaxTotalTokens: o.Point.MaxTotalTokens, MaxBatchPrefillTokens: o.Point.MaxBatchPrefillTokens}
		out = append(out, calSample{id: id, reported: o.Budget(), in: runInputs{model: m, hw: hw, engine: estimate.Engine{Name: "tgi", Version: version}, settings: s, notes: notes}})
	}
	return out, skipped, nil
}

// readObservationsFile reads validate's JSONL; a torn last line (a crash
// mid-write) is dropped as OpenStore does.
func readObservationsFile(r io.Reader) ([]probe.Observation, error) {
	br := bufio.NewReader(r)
	var out []probe.Observation
	for n := 1; ; n++ {
		line, err := br.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if strings.TrimSpace(string(line)) == "" {
			continue
		}
		var o probe.Observation
		if err := json.Unmarshal(line, &o); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		out = append(out, o)
	}
}

// observationHardware is the GPU of one launch: the file's, else the flags'.
func observationHardware(c *cli.Command, o probe.Observation) (estimate.Hardware, error) {
	n := int(c.Int("gpus"))
	if len(o.GPUs) > 0 {
		n = len(o.GPUs)
		if c.String("gpu") == "" && c.String("vram") == "" {
			hw, _, err := gpuFrom(o.GPUs[0], "", n)
			return hw, err
		}
	}
	if c.String("gpu") == "" && c.String("vram") == "" {
		return estimate.Hardware{}, &usageError{msg: "the validate file does not record its GPU", hint: "pass the GPU it ran on: --gpu NAME (vramcalc gpus) or --vram SIZE"}
	}
	hw, _, err := gpuFrom(c.String("gpu"), c.String("vram"), max(n, 1))
	return hw, err
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

type calGroup struct {
	engine, gpu string
	samples     []calSample
}

func groupSamples(samples []calSample, by string) []calGroup {
	idx := map[string]int{}
	var groups []calGroup
	for _, s := range samples {
		gpu := s.in.hw.GPU.Name
		if gpu == "" {
			gpu = fmt.Sprintf("%.2f GiB", s.in.hw.GPU.TotalBytes.GiBs())
		}
		if by == "engine" {
			gpu = "all"
		}
		key := "tgi\x00" + gpu
		i, ok := idx[key]
		if !ok {
			i = len(groups)
			idx[key] = i
			groups = append(groups, calGroup{engine: "tgi", gpu: gpu})
		}
		groups[i].samples = append(groups[i].samples, s)
	}
	return groups
}

// calibrationOut is one group's fit.
type calibrationOut struct {
	file    calibrate.File
	report  calibrate.FitReport
	samples []calSample
	path    string
}

// fitGroup picks the corrections the group's starts can tell apart and fits them.
func fitGroup(g calGroup) (calibrationOut, error) {
	versions := map[string]bool{}
	for _, s := range g.samples {
		v := s.in.engine.Version
		if v == "" {
			v = estimate.DefaultTGIVersion
		}
		versions[v] = true
	}
	var vs []string
	for v := range versions {
		vs = append(vs, v)
	}
	sort.Strings(vs)
	n := len(g.samples)
	opt := calibrate.FitOptions{Params: calibrate.ParamOverhead}
	if n >= 3 {
		opt.Params |= calibrate.ParamActivation
	}
	if n >= 6 && len(vs) == 1 {
		// Before v3.0 the pool is W·free, so the wiggle scales what the
		// overhead shifts; from v3.0 (1 − W)·total is a constant per card,
		// the same as an overhead (estimate.TGIWiggle).
		if w, ofTotal, err := estimate.TGIWiggle(vs[0]); err == nil && !ofTotal {
			opt.Params |= calibrate.ParamWiggle
			opt.Start.Wiggle = w
		}
	}
	obs := make([]calibrate.Sample, n)
	for i, s := range g.samples {
		obs[i] = calibrate.Sample{ID: s.id, Reported: float64(s.reported)}
	}
	predict := func(c estimate.Corrections) ([]float64, error) {
		out := make([]float64, n)
		for i, s := range g.samples {
			set := s.in.settings
			set.Corrections = &c
			res, err := estimate.Run(s.in.model, s.in.hw, s.in.engine, set)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", s.id, err)
			}
			out[i] = float64(res.Startup.MaxBatchTotalTokens)
		}
		return out, nil
	}
	c, rep, err := fit.Corrections(obs, predict, opt)
	if err != nil {
		return calibrationOut{}, fmt.Errorf("calibrate %s on %s: %w", g.engine, g.gpu, err)
	}
	c.Version, c.Engine, c.EngineVersion, c.GPU = calibrate.FileVersion, g.engine, strings.Join(vs, ","), g.gpu
	f := calibrate.NewFile(c, rep)
	return calibrationOut{file: f, report: rep, samples: g.samples}, nil
}

func writeCorrections(path string, f calibrate.File) error {
	w, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("calibrate: %w", err)
	}
	if err := calibrate.WriteFile(w, f); err != nil {
		w.Close()
		return err
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("calibrate: %w", err)
	}
	return nil
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

func renderCalibration(e env, format string, outs []calibrationOut, skipped []calSkip) error {
	if format == "json" {
		type groupJSON struct {
			calibrate.File
			Written         string    `json:"written,omitempty"`
			Samples         []string  `json:"samples"`
			ResidualsBefore []float64 `json:"residuals_pct_before"`
			ResidualsAfter  []float64 `json:"residuals_pct_after"`
		}
		var gs []groupJSON
		for _, o := range outs {
			g := groupJSON{File: o.file, Written: o.path, ResidualsBefore: o.report.ResidualsBefore, ResidualsAfter: o.report.ResidualsAfter}
			for _, s := range o.samples {
				g.Samples = append(g.Samples, s.id)
			}
			gs = append(gs, g)
		}
		sk := map[string]string{}
		for _, s := range skipped {
			sk[s.id] = s.reason
		}
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"groups": gs, "skipped": sk})
	}
	for _, o := range outs {
		f := o.file
		fmt.Fprintf(e.stdout, "%s %s on %s: %d starts, fitted %s\n", f.Engine, f.EngineVersion, f.GPU, f.Fit.N, strings.Join(f.Fit.Params, ", "))
		wig := "release default"
		if f.Wiggle > 0 {
			wig = fmt.Sprintf("%.4f", f.Wiggle)
		}
		fmt.Fprintf(e.stdout, "  activation ×%.4f, overhead %+.1f MiB per GPU, wiggle %s\n", f.ActivationFactor, float64(f.OverheadBytes)/float64(estimate.MiB), wig)
		fmt.Fprintf(e.stdout, "  |error| median %.2f%% → %.2f%%, 95th percentile %.2f%% → %.2f%%; margin ±%.2f%%, safe side %s\n",
			f.Fit.MedianAbsPctBefore, f.Fit.MedianAbsPctAfter, f.Fit.P95AbsPctBefore, f.Fit.P95AbsPctAfter, f.MarginPct, f.SafeSide)
		if len(f.Fit.Outliers) > 0 {
			fmt.Fprintf(e.stdout, "  left out of the fit (off by > %d%%): %s\n", calibrate.OutlierScales*int(calibrate.DefaultLossScale*100), strings.Join(f.Fit.Outliers, ", "))
		}
		if f.Fit.N < 3 {
			fmt.Fprintf(e.stdout, "  only %d start(s): the margin is not a margin yet; add validate results\n", f.Fit.N)
		}
		if o.path != "" {
			fmt.Fprintf(e.stdout, "  written to %s\n", o.path)
		}
		var rows [][]string
		for i, s := range o.samples {
			rows = append(rows, []string{s.id, s.in.model.ID, num(s.reported), fmt.Sprintf("%+.2f%%", o.report.ResidualsBefore[i]), fmt.Sprintf("%+.2f%%", o.report.ResidualsAfter[i]), strings.Join(s.in.notes, "; ")})
		}
		if err := table(e.stdout, false, []string{"start", "model", "reported KV budget", "error before", "error after", "notes"}, rows); err != nil {
			return err
		}
		fmt.Fprintln(e.stdout)
	}
	if len(skipped) > 0 {
		var rows [][]string
		for _, s := range skipped {
			rows = append(rows, []string{s.id, s.reason})
		}
		fmt.Fprintln(e.stdout, "skipped:")
		return table(e.stdout, false, []string{"start", "reason"}, rows)
	}
	return nil
}
