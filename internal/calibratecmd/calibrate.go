package calibratecmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v3"

	"github.com/vramcalc/vramcalc/calibrate"
	"github.com/vramcalc/vramcalc/calibrate/fit"
	"github.com/vramcalc/vramcalc/estimate"
	"github.com/vramcalc/vramcalc/hfmeta"
	"github.com/vramcalc/vramcalc/internal/cmdutil"
	"github.com/vramcalc/vramcalc/probe/results"
)

// Command is `vramcalc calibrate`.
func Command(e cmdutil.Env) *cli.Command {
	return &cli.Command{
		Name:      "calibrate",
		Usage:     "fit the estimate's corrections to observed KV pools of TGI, vLLM and SGLang",
		ArgsUsage: "FILE…",
		Description: `Reads observed starts and fits, per engine, release, GPU and tensor-parallel degree, the
corrections vramcalc estimate --corrections (and plan, validate) applies, each engine's own:

  TGI     a factor on the warm-up prefill's activation peak, memory per GPU beyond the
          modelled overhead, and (TGI < 3.0 only, where it is distinguishable from the
          overhead) the wiggle room;
  vLLM    the non-torch memory beyond the modelled one, a factor on the profile run's peak
          (only when the starts' peaks differ by 1.5x or more: otherwise it moves every pool
          as the overhead does), and the CUDA-graph memory, measured from "Graph capturing
          finished … took X GiB" rather than fitted;
  SGLang  the memory in use before the weights (its pool has no activation term).

The fit minimises a Cauchy loss on the relative error of the reported KV pool (TGI's
"Setting max batch total tokens to N", vLLM's "GPU KV cache size", SGLang's
max_total_num_tokens) with Nelder-Mead, and leaves out, in a second pass, starts still off
by more than 20%.

FILE is a validate results file (*.jsonl: the reported pool of every launch that started)
or a startup-report CSV (*.csv: rows with kv_tokens; rows marked DOUBTFUL or APPROXIMATE and
rows whose settings are not shown are skipped). Validate files record the engine and, from
this release, each engine's memory fraction; the GPU and the release come from --gpu/--vram,
--gpus and --engine-version (the image tag when it is a version) unless the file has them.

How many corrections are fitted follows the data: one or two starts fit the overhead
only; TGI adds the activation factor from three starts and the wiggle from six of one 2.x
release. With --out the corrections are written (one group) or FILE-<engine>-<gpu>.json
per group (-tp<N> above one GPU).

  vramcalc calibrate results.jsonl --gpu L4 --out corrections.json
  vramcalc calibrate vllm.jsonl --gpu H100 --engine-version 0.21.0 --out vllm-h100.json
  vramcalc calibrate testdata/startup_reports_dev.csv --by engine`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "out", Usage: "write the corrections to `FILE` (JSON, version 1)"},
			&cli.StringFlag{Name: "by", Value: "gpu", Usage: "group starts by `KEY`: gpu (engine + GPU) or engine (all GPUs together)"},
			&cli.StringFlag{Name: "gpu", Usage: "GPU `NAME` of validate files that do not record it"},
			&cli.StringFlag{Name: "vram", Usage: "memory per GPU (`SIZE`) of validate files that do not record it"},
			&cli.IntFlag{Name: "gpus", Value: 1, Usage: "GPUs per start in validate files that do not record them"},
			&cli.StringFlag{Name: "engine-version", Usage: "engine release (`VERSION`) of validate files that do not record it"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "table", Usage: "`FORMAT`: table or json"},
		},
		Action: func(ctx context.Context, c *cli.Command) error { return runCalibrate(ctx, c, e) },
	}
}

func runCalibrate(ctx context.Context, c *cli.Command, e cmdutil.Env) error {
	if c.NArg() == 0 {
		return &cmdutil.UsageError{Msg: "calibrate takes one or more FILE arguments", Hint: "vramcalc calibrate results.jsonl --gpu L4 --out corrections.json"}
	}
	by := strings.ToLower(c.String("by"))
	if by != calibrate.ByGPU && by != calibrate.ByEngine {
		return &cmdutil.UsageError{Msg: fmt.Sprintf("--by %q", by), Hint: "use --by gpu or --by engine"}
	}
	format := strings.ToLower(c.String("output"))
	if format != "table" && format != "json" {
		return &cmdutil.UsageError{Msg: fmt.Sprintf("unknown output format %q", format), Hint: "use -o table or json"}
	}
	client := &hfmeta.Client{Offline: true, CacheDir: hfmeta.CacheDirFromEnv(e.Getenv)}
	fb := calibrate.Fallbacks{GPU: c.String("gpu"), VRAM: c.String("vram"), GPUs: int(c.Int("gpus")), EngineVersion: c.String("engine-version")}
	var starts []calibrate.Start
	var skipped []calibrate.Skip
	for _, path := range c.Args().Slice() {
		s, sk, err := readCalibrationFile(ctx, client, path, fb)
		if err != nil {
			return err
		}
		starts, skipped = append(starts, s...), append(skipped, sk...)
	}
	if len(starts) == 0 {
		return cmdutil.WithHint(errors.New("calibrate: no usable starts in the files"), "validate files need launches that started and reported their KV pool; CSVs need rows with kv_tokens")
	}
	var cals []calibrate.Calibration
	for _, g := range calibrate.GroupStarts(starts, by) {
		cal, err := fit.Group(g)
		if err != nil {
			return err
		}
		cals = append(cals, cal)
	}
	written, err := writeCalibrations(c.String("out"), cals)
	if err != nil {
		return err
	}
	return renderCalibration(e, format, cals, written, skipped)
}

// readCalibrationFile opens one validate JSONL or startup-report CSV and
// reads its starts, turning the library's errors into hinted ones.
func readCalibrationFile(ctx context.Context, client *hfmeta.Client, path string, fb calibrate.Fallbacks) ([]calibrate.Start, []calibrate.Skip, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, cmdutil.WithHint(fmt.Errorf("calibrate: %w", err), "give validate results (*.jsonl) or startup-report CSVs (*.csv)")
	}
	defer f.Close()
	starts, skipped, err := calibrate.ReadStarts(ctx, client, filepath.Base(path), f, fb)
	switch {
	case errors.Is(err, calibrate.ErrBadReports):
		return nil, nil, cmdutil.WithHint(err, "the CSV must follow the startup-report schema (docs/STARTUP-REPORTS.md in the vramcalc repository)")
	case errors.Is(err, results.ErrNotResults):
		return nil, nil, cmdutil.WithHint(err, "give validate results (*.jsonl) or startup-report CSVs (*.csv)")
	case errors.Is(err, results.ErrCorrupt):
		return nil, nil, cmdutil.WithHint(err, "fix or delete that line of the results file, or leave the file out")
	case errors.Is(err, calibrate.ErrNoGPU):
		return nil, nil, &cmdutil.UsageError{Msg: err.Error(), Hint: "pass the GPU it ran on: --gpu NAME (vramcalc gpus) or --vram SIZE"}
	}
	return starts, skipped, err
}

// writeCalibrations writes each group's corrections when --out is given:
// to out for one group, else to calibrate.GroupPath of each. It returns
// the paths written, by group.
func writeCalibrations(out string, cals []calibrate.Calibration) ([]string, error) {
	written := make([]string, len(cals))
	if out == "" {
		return written, nil
	}
	for i, cal := range cals {
		path := out
		if len(cals) > 1 {
			path = calibrate.GroupPath(out, cal.File)
		}
		if err := writeCorrections(path, cal.File); err != nil {
			return nil, err
		}
		written[i] = path
	}
	return written, nil
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

// renderCalibration prints every group's fit and the skipped observations,
// as JSON or as text with a table per group.
func renderCalibration(e cmdutil.Env, format string, cals []calibrate.Calibration, written []string, skipped []calibrate.Skip) error {
	if format == "json" {
		enc := json.NewEncoder(e.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(calibrationJSON(cals, written, skipped))
	}
	for i, cal := range cals {
		if err := renderGroupFit(e.Stdout, cal, written[i]); err != nil {
			return err
		}
	}
	if len(skipped) > 0 {
		var rows [][]string
		for _, s := range skipped {
			rows = append(rows, []string{s.ID, s.Reason})
		}
		fmt.Fprintln(e.Stdout, "skipped:")
		return cmdutil.Table(e.Stdout, false, []string{"start", "reason"}, rows)
	}
	return nil
}

// calibrationJSON is the -o json document: the groups' files with the
// starts and residuals, and the skipped observations with why.
func calibrationJSON(cals []calibrate.Calibration, written []string, skipped []calibrate.Skip) map[string]any {
	type groupJSON struct {
		calibrate.File
		Written         string    `json:"written,omitempty"`
		Samples         []string  `json:"samples"`
		ResidualsBefore []float64 `json:"residuals_pct_before"`
		ResidualsAfter  []float64 `json:"residuals_pct_after"`
	}
	var gs []groupJSON
	for i, cal := range cals {
		g := groupJSON{File: cal.File, Written: written[i], ResidualsBefore: cal.Report.ResidualsBefore, ResidualsAfter: cal.Report.ResidualsAfter}
		for _, s := range cal.Starts {
			g.Samples = append(g.Samples, s.ID)
		}
		gs = append(gs, g)
	}
	sk := map[string]string{}
	for _, s := range skipped {
		sk[s.ID] = s.Reason
	}
	return map[string]any{"groups": gs, "skipped": sk}
}

// renderGroupFit prints one group's corrections, how much they helped, and
// a table of its starts.
func renderGroupFit(w io.Writer, cal calibrate.Calibration, written string) error {
	f := cal.File
	on := f.GPU
	if f.TensorParallel > 1 {
		on += fmt.Sprintf(" at tensor-parallel %d", f.TensorParallel)
	}
	fmt.Fprintf(w, "%s %s on %s: %d starts, fitted %s\n", f.Engine, f.EngineVersion, on, f.Fit.N, strings.Join(f.Fit.Params, ", "))
	wig := "release default"
	if f.Wiggle > 0 {
		wig = fmt.Sprintf("%.4f", f.Wiggle)
	}
	graphs := ""
	if f.CUDAGraphBytes != 0 {
		graphs = fmt.Sprintf(", CUDA graphs %+.1f MiB (measured)", float64(f.CUDAGraphBytes)/float64(estimate.MiB))
	}
	fmt.Fprintf(w, "  activation ×%.4f, overhead %+.1f MiB per GPU%s, wiggle %s\n", f.ActivationFactor, float64(f.OverheadBytes)/float64(estimate.MiB), graphs, wig)
	fmt.Fprintf(w, "  |error| median %.2f%% → %.2f%%, 95th percentile %.2f%% → %.2f%%; margin ±%.2f%%, safe side %s\n",
		f.Fit.MedianAbsPctBefore, f.Fit.MedianAbsPctAfter, f.Fit.P95AbsPctBefore, f.Fit.P95AbsPctAfter, f.MarginPct, f.SafeSide)
	if len(f.Fit.Outliers) > 0 {
		fmt.Fprintf(w, "  left out of the fit (off by > %d%%): %s\n", calibrate.OutlierScales*int(calibrate.DefaultLossScale*100), strings.Join(f.Fit.Outliers, ", "))
	}
	if f.Fit.N < 3 {
		fmt.Fprintf(w, "  only %d start(s): the margin is not a margin yet; add validate results\n", f.Fit.N)
	}
	if written != "" {
		fmt.Fprintf(w, "  written to %s\n", written)
	}
	var rows [][]string
	for i, s := range cal.Starts {
		rows = append(rows, []string{s.ID, s.Inputs.Model.ID, cmdutil.Num(s.Reported), fmt.Sprintf("%+.2f%%", cal.Report.ResidualsBefore[i]), fmt.Sprintf("%+.2f%%", cal.Report.ResidualsAfter[i]), strings.Join(s.Inputs.Notes, "; ")})
	}
	if err := cmdutil.Table(w, false, []string{"start", "model", "reported KV budget", "error before", "error after", "notes"}, rows); err != nil {
		return err
	}
	fmt.Fprintln(w)
	return nil
}

// Root is the vramcalc-calibrate program, which `vramcalc calibrate` runs.
func Root(e cmdutil.Env) *cli.Command {
	c := Command(e)
	c.Name = "vramcalc calibrate"
	return cmdutil.Prepare(c, e)
}
