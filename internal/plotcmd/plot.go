package plotcmd

import (
	"context"
	"errors"
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v3"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/vramcalc/vramcalc/calibrate"
	"github.com/vramcalc/vramcalc/estimate"
	"github.com/vramcalc/vramcalc/hfmeta"
	"github.com/vramcalc/vramcalc/internal/cmdutil"
	"github.com/vramcalc/vramcalc/probe"
	"github.com/vramcalc/vramcalc/probe/results"
)

const plotDescription = `Draws a picture, offline, as PNG or SVG (chosen by the --out file's extension).

  vramcalc plot region meta-llama/Llama-3.1-8B-Instruct --gpu L4 --out region.png
  vramcalc plot region meta-llama/Llama-3.1-8B-Instruct --gpu L4 --observations results.jsonl --out region.svg
  vramcalc plot breakdown meta-llama/Llama-3.1-8B-Instruct --gpu L4,A10G,L40S --out breakdown.svg

region: which (--max-input-tokens, output tokens) pairs TGI starts with, over a grid,
with the predicted boundary (input + output = the largest --max-total-tokens that
starts), the model's max_position_embeddings, and observed launches from
vramcalc validate's results file (ok in green, failed as a red x).

breakdown: the per-GPU memory of the most loaded shard as a stacked bar in GiB
(weights, KV cache, CUDA context, NCCL, other, CUDA graphs, reserve), the warm-up
activation peak as a bar beside it, and the card's memory as a dashed line.

timeline: a vramcalc load --timeline file (JSONL or CSV): used memory per GPU over the run
with the predicted serving memory and the card's total, the KV usage in %, and running,
waiting and preempted requests, with the start of each level marked.

  vramcalc plot timeline load-timeline.jsonl --out timeline.png

load: from vramcalc load -o json > report.json, output tokens/s and TTFT p50/p99 against
the number of concurrent clients.

  vramcalc plot load report.json --out load.svg`

func plotFlags(extra ...cli.Flag) []cli.Flag {
	common := []cli.Flag{
		&cli.StringFlag{Name: "gpu", Usage: "GPU `NAME`, e.g. H100, L4 (vramcalc gpus lists them)"},
		&cli.IntFlag{Name: "gpus", Value: 1, Usage: "number of GPUs the engine shards over"},
		&cli.StringFlag{Name: "vram", Usage: "memory per GPU (`SIZE`), as for vramcalc estimate"},
		&cli.StringFlag{Name: "engine-version", Usage: "engine release (`VERSION`); default: the newest vramcalc models"},
		&cli.StringFlag{Name: "out", Usage: "output `FILE`: .png or .svg"},
		&cli.StringFlag{Name: "revision", Value: "main", Usage: "Hub revision (branch, tag or commit)"},
		&cli.BoolFlag{Name: "offline", Usage: "never use the network (same as HF_HUB_OFFLINE=1)"},
		cmdutil.TimeoutFlag(),
	}
	return append(common, extra...)
}

// Command is `vramcalc plot`.
func Command(e cmdutil.Env) *cli.Command {
	cmd := &cli.Command{
		Name:        "plot",
		Usage:       "draw the feasible input/output region, the memory breakdown, or a load run as PNG or SVG",
		Description: plotDescription,
		Commands: []*cli.Command{
			{
				Name:      "region",
				Usage:     "the (input, output) token limits TGI starts with, with the boundary and observed launches",
				ArgsUsage: "MODEL",
				Flags: plotFlags(
					&cli.StringFlag{Name: "observations", Usage: "vramcalc validate results `FILE` (JSONL) to mark"},
					&cli.IntFlag{Name: "grid", Value: 40, Usage: "grid points per axis"},
				),
				Action: func(ctx context.Context, c *cli.Command) error { return runPlotRegion(ctx, c, e) },
			},
			{
				Name:      "breakdown",
				Usage:     "stacked bar of the per-GPU memory, one bar per --gpu A,B,…",
				ArgsUsage: "MODEL",
				Flags: plotFlags(
					&cli.StringFlag{Name: "engine", Value: "tgi", Usage: "serving engine: tgi, vllm or sglang"},
				),
				Action: func(ctx context.Context, c *cli.Command) error { return runPlotBreakdown(ctx, c, e) },
			},
		},
	}
	cmd.Commands = append(cmd.Commands, loadCommands(e)...)
	for _, s := range cmd.Commands {
		s.OnUsageError = cmdutil.OnUsageError
	}
	return cmd
}

// plotArgs checks MODEL and --out for a plot subcommand.
func plotArgs(c *cli.Command) (model, out string, err error) {
	if c.NArg() != 1 {
		return "", "", &cmdutil.UsageError{Msg: fmt.Sprintf("plot %s takes one MODEL argument, got %d", c.Name, c.NArg()),
			Hint: fmt.Sprintf("vramcalc plot %s meta-llama/Llama-3.1-8B-Instruct --gpu L4 --out %s.png", c.Name, c.Name)}
	}
	out, err = outPath(c)
	return c.Args().First(), out, err
}

// outPath checks --out: required, .png or .svg.
func outPath(c *cli.Command) (string, error) {
	out := c.String("out")
	if out == "" {
		return "", &cmdutil.UsageError{Msg: "--out is required", Hint: "e.g. --out " + c.Name + ".png or --out " + c.Name + ".svg"}
	}
	switch strings.ToLower(filepath.Ext(out)) {
	case ".png", ".svg":
	default:
		return "", &cmdutil.UsageError{Msg: fmt.Sprintf("--out %s: unknown picture format %q", out, filepath.Ext(out)), Hint: "end the file name in .png or .svg"}
	}
	return out, nil
}

// regionGrid is the feasibility of (input, output) pairs for TGI.
type regionGrid struct {
	// Span is the largest input + output drawn; Step the grid spacing.
	Span, Step int
	// Points are the grid points with input + output ≤ Span.
	Points []regionPoint
	// TMax is the largest max total tokens that starts with max input =
	// total − 1 (0 if none): the table's boundary. MaxPositions is the
	// model's limit.
	TMax, MaxPositions int
	LimitedBy          string
	// Prefill is the --max-batch-prefill-tokens of every point: the one the
	// table's boundary was found with.
	Prefill int
	// Edge is, for each grid input, the largest output that starts with that
	// --max-input-tokens (estimate's boundary for a given input): the line
	// no starting point lies above. −1 where none starts.
	Edge []regionEdge
}

// regionEdge is the largest output that starts at one input.
type regionEdge struct{ Input, Output int }

// Count returns how many grid points start and how many do not.
func (g regionGrid) Count() (fit, nofit int) {
	for _, pt := range g.Points {
		if pt.Fits {
			fit++
		} else {
			nofit++
		}
	}
	return fit, nofit
}

// regionPoint is one launch setting: MaxInputTokens=Input, MaxTotalTokens=Input+Output.
type regionPoint struct {
	Input, Output int
	Fits          bool
}

// computeRegion runs the estimate over an n×n grid whose axes reach span
// tokens (0: a little past the boundary, capped by max_position_embeddings).
func computeRegion(m estimate.Model, hw estimate.Hardware, eng estimate.Engine, n, span int) (regionGrid, error) {
	base, err := estimate.Run(m, hw, eng, estimate.Settings{})
	if err != nil {
		return regionGrid{}, err
	}
	// Every point is tried at the prefill the table's boundary was found
	// with, so that the picture and the table answer the same question.
	g := regionGrid{TMax: base.Boundary.MaxTotalTokens, MaxPositions: m.MaxPositions, LimitedBy: base.Boundary.LimitedBy,
		Prefill: base.Boundary.PrefillAtMaxTotal}
	if g.Prefill == 0 {
		g.Prefill = base.Startup.MaxBatchPrefillTokens
	}
	if span <= 0 {
		span = g.TMax + g.TMax/4
		if m.MaxPositions > 0 && (span > m.MaxPositions || span == 0) {
			span = m.MaxPositions
		}
		if span < 64 {
			span = 4096
		}
	}
	g.Span, g.Step = span, max(1, span/n)
	for in := g.Step; in < span; in += g.Step {
		edge := -1
		if r, err := estimate.Run(m, hw, eng, estimate.Settings{MaxInputTokens: in, MaxBatchPrefillTokens: g.Prefill}); err == nil && r.Boundary.MaxTotalTokens > in {
			edge = r.Boundary.MaxTotalTokens - in
		}
		g.Edge = append(g.Edge, regionEdge{Input: in, Output: edge})
		for o := g.Step; in+o <= span; o += g.Step {
			r, err := estimate.Run(m, hw, eng, estimate.Settings{MaxInputTokens: in, MaxTotalTokens: in + o, MaxBatchPrefillTokens: g.Prefill})
			g.Points = append(g.Points, regionPoint{Input: in, Output: o, Fits: err == nil && r.Startup.Fits})
		}
	}
	return g, nil
}

var (
	colFit     = color.RGBA{R: 0x9c, G: 0xd9, B: 0x9c, A: 0xff}
	colNoFit   = color.RGBA{R: 0xf2, G: 0xd0, B: 0xd0, A: 0xff}
	colOK      = color.RGBA{R: 0x1a, G: 0x8a, B: 0x1a, A: 0xff}
	colFailed  = color.RGBA{R: 0xd6, G: 0x1a, B: 0x1a, A: 0xff}
	colBound   = color.RGBA{R: 0x20, G: 0x40, B: 0xa0, A: 0xff}
	colMaxPos  = color.RGBA{R: 0x60, G: 0x60, B: 0x60, A: 0xff}
	colCardTot = color.RGBA{A: 0xff}
)

// readObservations reads the observations of the results file at path
// (none when path is ""), with a hint when it cannot.
func readObservations(path string) ([]probe.Observation, error) {
	if path == "" {
		return nil, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, cmdutil.WithHint(fmt.Errorf("--observations: %w", err), "pass the results file vramcalc validate --out wrote")
	}
	defer f.Close()
	obs, err := calibrate.ReadObservations(f)
	switch {
	case errors.Is(err, results.ErrCorrupt):
		return nil, cmdutil.WithHint(fmt.Errorf("--observations %s: %w", filepath.Base(path), err), "fix or delete that line of the results file")
	case err != nil:
		return nil, cmdutil.WithHint(fmt.Errorf("--observations %s: %w", filepath.Base(path), err), "it must be vramcalc validate's JSONL, one launch per line")
	}
	return obs, nil
}

func runPlotRegion(ctx context.Context, c *cli.Command, e cmdutil.Env) error {
	model, out, err := plotArgs(c)
	if err != nil {
		return err
	}
	h, err := cmdutil.HardwareFrom(c)
	if err != nil {
		return err
	}
	hw := h.Hardware
	n := int(c.Int("grid"))
	if n < 2 || n > 400 {
		return cmdutil.WithHint(fmt.Errorf("--grid must be between 2 and 400, got %d", n), "40 draws 1600 points")
	}
	obs, err := readObservations(c.String("observations"))
	if err != nil {
		return err
	}
	meta, err := cmdutil.ResolveModel(ctx, c, e, model)
	if err != nil {
		return err
	}
	eng := estimate.Engine{Name: "tgi", Version: c.String("engine-version")}
	span := 0
	for _, o := range obs {
		span = max(span, o.Point.MaxTotalTokens)
	}
	if span > 0 {
		base, err := estimate.Run(meta.Model, hw, eng, estimate.Settings{})
		if err != nil {
			return fmt.Errorf("plot %s: %w", model, err)
		}
		span = max(span+span/10, base.Boundary.MaxTotalTokens+base.Boundary.MaxTotalTokens/4)
	}
	g, err := computeRegion(meta.Model, hw, eng, n, span)
	if err != nil {
		return fmt.Errorf("plot %s: %w", model, err)
	}
	title := fmt.Sprintf("%s on %d× %s (TGI %s, --max-batch-prefill-tokens %s)", displayModel(meta, model), hw.Count, hw.GPU.Name,
		engineVersionLabel(eng.Version), cmdutil.Num(g.Prefill))
	p, err := regionPlot(g, obs, title)
	if err != nil {
		return err
	}
	if err := p.Save(7*vg.Inch, 5.5*vg.Inch, out); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	fit, nofit := g.Count()
	fmt.Fprintf(e.Stdout, "wrote %s: %d of %d grid points start; largest max-total-tokens %d (limited by %s)\n", out, fit, fit+nofit, g.TMax, g.LimitedBy)
	return nil
}

func engineVersionLabel(v string) string {
	if v == "" {
		return estimate.DefaultTGIVersion
	}
	return v
}

func displayModel(meta hfmeta.Meta, ref string) string {
	_ = meta
	return filepath.Base(strings.TrimRight(ref, "/"))
}

// regionPlot draws the grid, the boundary lines and the observations.
func regionPlot(g regionGrid, obs []probe.Observation, title string) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "max input tokens"
	p.Y.Label.Text = "output tokens (max total − max input)"
	p.X.Tick.Marker = thousands{}
	p.Y.Tick.Marker = thousands{}
	span := float64(g.Span)
	p.X.Min, p.Y.Min, p.X.Max, p.Y.Max = 0, 0, span*1.02, span*1.02
	p.Legend.Top = true
	p.Legend.Left = false
	for _, draw := range []func(*plot.Plot, regionGrid) error{drawGrid, drawBoundaries} {
		if err := draw(p, g); err != nil {
			return nil, err
		}
	}
	return p, drawObservations(p, obs)
}

// drawGrid draws the grid points, starting and not.
func drawGrid(p *plot.Plot, g regionGrid) error {
	var fit, nofit plotter.XYs
	for _, pt := range g.Points {
		xy := plotter.XY{X: float64(pt.Input), Y: float64(pt.Output)}
		if pt.Fits {
			fit = append(fit, xy)
		} else {
			nofit = append(nofit, xy)
		}
	}
	// about 40% of a cell's height in a 5.5-inch picture: squares with gaps
	cell := vg.Points(max(0.8, 120*float64(g.Step)/float64(g.Span)))
	if err := scatter(p, fit, draw.GlyphStyle{Color: colFit, Radius: cell, Shape: draw.BoxGlyph{}}, "predicted: starts"); err != nil {
		return err
	}
	return scatter(p, nofit, draw.GlyphStyle{Color: colNoFit, Radius: cell, Shape: draw.BoxGlyph{}}, "predicted: does not start")
}

// drawBoundaries draws the largest output that starts at each input (no
// starting point lies above it), the table's boundary (max input = total
// − 1, where the line meets the input axis) and the model's context.
func drawBoundaries(p *plot.Plot, g regionGrid) error {
	var edge plotter.XYs
	for _, e := range g.Edge {
		if e.Output >= 0 {
			edge = append(edge, plotter.XY{X: float64(e.Input), Y: float64(e.Output)})
		}
	}
	if len(edge) > 0 {
		l, err := plotter.NewLine(edge)
		if err != nil {
			return err
		}
		l.LineStyle.Color, l.LineStyle.Width = colBound, vg.Points(2)
		p.Add(l)
		p.Legend.Add("boundary: largest --max-total-tokens for each --max-input-tokens", l)
	}
	if g.TMax > 0 {
		label := fmt.Sprintf("table's boundary: --max-total-tokens %s with --max-input-tokens = total − 1", cmdutil.Num(g.TMax))
		if g.LimitedBy == "max_position_embeddings" {
			label += " (max_position_embeddings)"
		}
		pt := plotter.XYs{{X: float64(g.TMax - 1), Y: 1}}
		if err := scatter(p, pt, draw.GlyphStyle{Color: colBound, Radius: vg.Points(5), Shape: draw.PyramidGlyph{}}, label); err != nil {
			return err
		}
	}
	if t := float64(g.MaxPositions); g.MaxPositions > 0 && g.MaxPositions != g.TMax && t <= 2*float64(g.Span) {
		l, err := plotter.NewLine(plotter.XYs{{X: 0, Y: t}, {X: t, Y: 0}})
		if err != nil {
			return err
		}
		l.LineStyle = draw.LineStyle{Color: colMaxPos, Width: vg.Points(2), Dashes: []vg.Length{vg.Points(6), vg.Points(4)}}
		p.Add(l)
		p.Legend.Add(fmt.Sprintf("max_position_embeddings = %s", cmdutil.Num(g.MaxPositions)), l)
	}
	return nil
}

// drawObservations marks validate's launches: ok, or failed with the kinds.
func drawObservations(p *plot.Plot, obs []probe.Observation) error {
	var ok, failed plotter.XYs
	for _, o := range obs {
		pt := plotter.XY{X: float64(o.Point.MaxInputTokens), Y: float64(o.Point.MaxTotalTokens - o.Point.MaxInputTokens)}
		if o.OK() {
			ok = append(ok, pt)
		} else {
			failed = append(failed, pt)
		}
	}
	if err := scatter(p, ok, draw.GlyphStyle{Color: colOK, Radius: vg.Points(5), Shape: draw.CircleGlyph{}}, fmt.Sprintf("observed: ok (%d)", len(ok))); err != nil {
		return err
	}
	failLabel := fmt.Sprintf("observed: failed (%d)", len(failed))
	if k := failureKinds(obs); k != "" {
		failLabel = fmt.Sprintf("observed: %s (%d)", k, len(failed))
	}
	return scatter(p, failed, draw.GlyphStyle{Color: colFailed, Radius: vg.Points(5), Shape: crossGlyph{}}, failLabel)
}

// scatter adds points with a legend entry (nothing when there are none).
func scatter(p *plot.Plot, xys plotter.XYs, style draw.GlyphStyle, label string) error {
	if len(xys) == 0 {
		return nil
	}
	s, err := plotter.NewScatter(xys)
	if err != nil {
		return err
	}
	s.GlyphStyle = style
	p.Add(s)
	p.Legend.Add(label, s)
	return nil
}

// failureKinds names the failures of the failed observations, e.g. "OOM".
func failureKinds(obs []probe.Observation) string {
	seen := map[string]bool{}
	var kinds []string
	for _, o := range obs {
		if o.OK() {
			continue
		}
		k := o.Failure
		if k == "" {
			k = "failed"
		}
		if strings.Contains(strings.ToLower(k), "oom") {
			k = "OOM"
		}
		if !seen[k] {
			seen[k] = true
			kinds = append(kinds, k)
		}
	}
	return strings.Join(kinds, ", ")
}

// crossGlyph is a thick x.
type crossGlyph struct{}

func (crossGlyph) DrawGlyph(c *draw.Canvas, sty draw.GlyphStyle, pt vg.Point) {
	c.SetLineStyle(draw.LineStyle{Color: sty.Color, Width: vg.Points(2.5)})
	r := sty.Radius
	var a, b vg.Path
	a.Move(vg.Point{X: pt.X - r, Y: pt.Y - r})
	a.Line(vg.Point{X: pt.X + r, Y: pt.Y + r})
	b.Move(vg.Point{X: pt.X - r, Y: pt.Y + r})
	b.Line(vg.Point{X: pt.X + r, Y: pt.Y - r})
	c.Stroke(a)
	c.Stroke(b)
}

// thousands labels ticks as 8k, 16k… past 10,000.
type thousands struct{}

func (thousands) Ticks(lo, hi float64) []plot.Tick {
	step := 1.0
	for _, m := range []float64{1, 2, 2.5, 5} {
		for p := 1.0; p <= 1e9; p *= 10 {
			if c := m * p; (hi-lo)/c <= 8 && (step == 1 || c < step) {
				step = c
			}
		}
	}
	var ts []plot.Tick
	for v := math.Ceil(lo/step) * step; v <= hi; v += step {
		label := fmt.Sprintf("%.0f", v)
		if hi >= 10000 && v != 0 {
			label = strings.TrimSuffix(fmt.Sprintf("%.1f", v/1000), ".0") + "k"
		}
		ts = append(ts, plot.Tick{Value: v, Label: label})
		if mid := v + step/2; mid <= hi {
			ts = append(ts, plot.Tick{Value: mid})
		}
	}
	return ts
}

// breakdownPart is one stacked component.
type breakdownPart struct {
	name string
	col  color.Color
	get  func(estimate.Breakdown) estimate.Bytes
}

var breakdownParts = []breakdownPart{
	{"weights", color.RGBA{R: 0x44, G: 0x72, B: 0xc4, A: 0xff}, func(b estimate.Breakdown) estimate.Bytes { return b.Weights }},
	{"KV cache", color.RGBA{R: 0x70, G: 0xad, B: 0x47, A: 0xff}, func(b estimate.Breakdown) estimate.Bytes { return b.KVCache }},
	{"CUDA context", color.RGBA{R: 0xff, G: 0xc0, B: 0x00, A: 0xff}, func(b estimate.Breakdown) estimate.Bytes { return b.CUDAContext }},
	{"NCCL", color.RGBA{R: 0xa5, G: 0x5e, B: 0xa5, A: 0xff}, func(b estimate.Breakdown) estimate.Bytes { return b.NCCL }},
	{"other", color.RGBA{R: 0x9e, G: 0x48, B: 0x0e, A: 0xff}, func(b estimate.Breakdown) estimate.Bytes { return b.Other }},
	{"CUDA graphs", color.RGBA{R: 0x26, G: 0xa6, B: 0xb5, A: 0xff}, func(b estimate.Breakdown) estimate.Bytes { return b.CUDAGraphs }},
	{"reserve", color.RGBA{R: 0xbf, G: 0xbf, B: 0xbf, A: 0xff}, func(b estimate.Breakdown) estimate.Bytes { return b.Reserve }},
}

var colActivation = color.RGBA{R: 0xe0, G: 0x50, B: 0x50, A: 0xff}

// breakdownBar is one GPU's estimate.
type breakdownBar struct {
	label string
	total estimate.Bytes
	res   estimate.Result
}

func runPlotBreakdown(ctx context.Context, c *cli.Command, e cmdutil.Env) error {
	model, out, err := plotArgs(c)
	if err != nil {
		return err
	}
	info, err := estimate.LookupEngine(c.String("engine"))
	if err != nil {
		return cmdutil.Usage("use --engine tgi, vllm or sglang", "unknown engine %q", c.String("engine"))
	}
	hws, err := breakdownHardware(c)
	if err != nil {
		return err
	}
	meta, err := cmdutil.ResolveModel(ctx, c, e, model)
	if err != nil {
		return err
	}
	bars, err := breakdownBars(meta.Model, hws, estimate.Engine{Name: info.Name, Version: c.String("engine-version")})
	if err != nil {
		return fmt.Errorf("plot %s: %w", model, err)
	}
	p, err := breakdownPlot(bars, fmt.Sprintf("%s, per-GPU memory (%s)", displayModel(meta, model), info.Title))
	if err != nil {
		return err
	}
	w := vg.Length(4+1.6*float64(len(bars))) * vg.Inch
	if err := p.Save(w, 5.5*vg.Inch, out); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	fmt.Fprintf(e.Stdout, "wrote %s: %d bar(s)\n", out, len(bars))
	return nil
}

// namedHardware is one bar's GPUs and the --gpu name that gave them.
type namedHardware struct {
	hw   estimate.Hardware
	name string
}

// breakdownHardware reads --gpu A,B,… (or --vram), --gpus: one set-up a bar.
func breakdownHardware(c *cli.Command) ([]namedHardware, error) {
	n := int(c.Int("gpus"))
	if n <= 0 {
		return nil, cmdutil.WithHint(fmt.Errorf("--gpus must be at least 1, got %d", n), "--gpus is the number of GPUs the engine shards over")
	}
	names := []string{""}
	if s := c.String("gpu"); s != "" {
		names = nil
		for _, name := range strings.Split(s, ",") {
			if name = strings.TrimSpace(name); name != "" {
				names = append(names, name)
			}
		}
	}
	var hws []namedHardware
	for _, name := range names {
		h, err := cmdutil.GPUFrom(name, c.String("vram"), n)
		if err != nil {
			return nil, err
		}
		hws = append(hws, namedHardware{h.Hardware, name})
	}
	return hws, nil
}

// breakdownBars runs the estimate for each set-up with the engine's defaults.
func breakdownBars(m estimate.Model, hws []namedHardware, eng estimate.Engine) ([]breakdownBar, error) {
	var bars []breakdownBar
	for _, h := range hws {
		res, err := estimate.Run(m, h.hw, eng, estimate.Settings{})
		if err != nil {
			return nil, fmt.Errorf("on %s: %w", h.hw.GPU.Name, err)
		}
		label := h.name
		if label == "" {
			label = h.hw.GPU.TotalBytes.String()
		}
		if h.hw.Count > 1 {
			label = fmt.Sprintf("%d× %s", h.hw.Count, label)
		}
		bars = append(bars, breakdownBar{label: label, total: h.hw.GPU.TotalBytes, res: res})
	}
	return bars, nil
}

// breakdownPlot stacks each bar's components, with the activation peak
// beside it and the card's total as a dashed line.
func breakdownPlot(bars []breakdownBar, title string) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.Y.Label.Text = "GiB per GPU"
	p.Y.Tick.Marker = thousands{}
	p.Y.Min = 0
	p.Legend.Top = true
	p.Legend.Left = false
	p.Legend.XOffs = vg.Points(-4)
	width := vg.Points(60)
	for _, add := range []func(*plot.Plot, []breakdownBar, vg.Length) error{stackParts, activationBars, cardLines} {
		if err := add(p, bars, width); err != nil {
			return nil, err
		}
	}
	names := make([]string, len(bars))
	top := 0.0
	for i, b := range bars {
		names[i] = b.label
		sum := 0.0
		for _, part := range breakdownParts {
			sum += part.get(b.res.PerGPU).GiBs()
		}
		top = max(top, sum, b.total.GiBs())
	}
	p.NominalX(names...)
	p.X.Min, p.X.Max = -0.6, float64(len(bars))-0.4
	// room above the card line for the legend
	p.Y.Max = top * (1.15 + 0.05*float64(len(breakdownParts)))
	grid := plotter.NewGrid()
	grid.Vertical.Color = nil
	p.Add(grid)
	return p, nil
}

// stackParts stacks the memory components of every bar.
func stackParts(p *plot.Plot, bars []breakdownBar, width vg.Length) error {
	var prev *plotter.BarChart
	for _, part := range breakdownParts {
		vals := make(plotter.Values, len(bars))
		any := false
		for i, b := range bars {
			vals[i] = part.get(b.res.PerGPU).GiBs()
			any = any || vals[i] > 0
		}
		if !any {
			continue
		}
		bc, err := plotter.NewBarChart(vals, width)
		if err != nil {
			return err
		}
		bc.Color = part.col
		bc.LineStyle.Width = vg.Points(0.5)
		bc.Offset = -width / 2
		if prev != nil {
			bc.StackOn(prev)
		}
		p.Add(bc)
		p.Legend.Add(part.name, bc)
		prev = bc
	}
	return nil
}

// activationBars puts each bar's transient activation peak beside it.
func activationBars(p *plot.Plot, bars []breakdownBar, width vg.Length) error {
	act := make(plotter.Values, len(bars))
	for i, b := range bars {
		act[i] = b.res.PerGPU.ActivationPeak.GiBs()
	}
	ab, err := plotter.NewBarChart(act, width/2)
	if err != nil {
		return err
	}
	ab.Color = colActivation
	ab.LineStyle.Width = vg.Points(0.5)
	ab.Offset = width / 4
	p.Add(ab)
	p.Legend.Add("activation peak (warm-up)", ab)
	return nil
}

// cardLines draws each card's memory as a dashed line with its value.
func cardLines(p *plot.Plot, bars []breakdownBar, _ vg.Length) error {
	for i, b := range bars {
		y := b.total.GiBs()
		l, err := plotter.NewLine(plotter.XYs{{X: float64(i) - 0.45, Y: y}, {X: float64(i) + 0.45, Y: y}})
		if err != nil {
			return err
		}
		l.LineStyle = draw.LineStyle{Color: colCardTot, Width: vg.Points(2), Dashes: []vg.Length{vg.Points(6), vg.Points(3)}}
		p.Add(l)
		if i == 0 {
			p.Legend.Add("card memory", l)
		}
		lab, err := plotter.NewLabels(plotter.XYLabels{XYs: []plotter.XY{{X: float64(i) - 0.45, Y: y}}, Labels: []string{fmt.Sprintf("%.1f GiB", y)}})
		if err != nil {
			return err
		}
		lab.Offset = vg.Point{Y: vg.Points(3)}
		p.Add(lab)
	}
	return nil
}

// Root is the vramcalc-plot program, which `vramcalc plot` runs.
func Root(e cmdutil.Env) *cli.Command {
	c := Command(e)
	c.Name = "vramcalc plot"
	return cmdutil.Prepare(c, e)
}
