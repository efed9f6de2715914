package plotcmd

import (
	"context"
	"encoding/json"
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/urfave/cli/v3"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/vramcalc/vramcalc/internal/cmdutil"
	"github.com/vramcalc/vramcalc/load"
)

// loadCommands are `plot timeline` and `plot load`, drawn from the files
// vramcalc load writes.
func loadCommands(e cmdutil.Env) []*cli.Command {
	out := &cli.StringFlag{Name: "out", Usage: "output `FILE`: .png or .svg"}
	return []*cli.Command{
		{
			Name:      "timeline",
			Usage:     "memory per GPU over a vramcalc load run, with the predicted serving memory and the card, KV usage and running/waiting requests",
			ArgsUsage: "TIMELINE",
			Flags:     []cli.Flag{out, &cli.StringFlag{Name: "report", Usage: "also mark the failures of this `REPORT.json` (vramcalc load -o json, or validate --load -o json) where they happened"}},
			Action:    func(_ context.Context, c *cli.Command) error { return runPlotTimeline(c, e) },
		},
		{
			Name:      "load",
			Usage:     "output tokens/s and TTFT p50/p99 against concurrency, from vramcalc load -o json",
			ArgsUsage: "REPORT.json",
			Flags:     []cli.Flag{out},
			Action:    func(_ context.Context, c *cli.Command) error { return runPlotLoad(c, e) },
		},
	}
}

// fileArgs checks the one FILE argument and --out of a plot drawn from a file.
func fileArgs(c *cli.Command, what string) (in, out string, err error) {
	if c.NArg() != 1 {
		return "", "", &cmdutil.UsageError{Msg: fmt.Sprintf("plot %s takes one %s argument, got %d", c.Name, what, c.NArg()),
			Hint: fmt.Sprintf("vramcalc plot %s FILE --out %s.png", c.Name, c.Name)}
	}
	out, err = outPath(c)
	return c.Args().First(), out, err
}

var (
	colPredicted = color.RGBA{R: 0x20, G: 0x40, B: 0xa0, A: 0xff}
	colKV        = color.RGBA{R: 0x70, G: 0xad, B: 0x47, A: 0xff}
	colRunning   = color.RGBA{R: 0x44, G: 0x72, B: 0xc4, A: 0xff}
	colWaiting   = color.RGBA{R: 0xed, G: 0x7d, B: 0x31, A: 0xff}
	colPreempted = color.RGBA{R: 0xd6, G: 0x1a, B: 0x1a, A: 0xff}
	colLevel     = color.RGBA{R: 0x90, G: 0x90, B: 0x90, A: 0xff}
	gpuColors    = []color.Color{color.RGBA{R: 0x1a, G: 0x8a, B: 0x1a, A: 0xff}, color.RGBA{R: 0x8e, G: 0x44, B: 0xad, A: 0xff},
		color.RGBA{R: 0xc0, G: 0x39, B: 0x2b, A: 0xff}, color.RGBA{R: 0x16, G: 0xa0, B: 0x85, A: 0xff}}
)

func runPlotTimeline(c *cli.Command, e cmdutil.Env) error {
	in, out, err := fileArgs(c, "TIMELINE")
	if err != nil {
		return err
	}
	f, err := os.Open(in)
	if err != nil {
		return cmdutil.WithHint(fmt.Errorf("plot timeline: %w", err), "pass the file vramcalc load --timeline wrote")
	}
	defer f.Close()
	h, pts, err := load.ReadTimeline(f)
	if err != nil {
		return cmdutil.WithHint(fmt.Errorf("plot timeline %s: %w", filepath.Base(in), err), "pass the file vramcalc load --timeline wrote (JSONL or CSV)")
	}
	if len(pts) == 0 {
		return cmdutil.WithHint(fmt.Errorf("plot timeline %s: no samples", filepath.Base(in)), "the run ended before its first sample")
	}
	plots, err := timelinePlots(h, pts)
	if err != nil {
		return err
	}
	fails, err := reportFailures(c.String("report"))
	if err != nil {
		return err
	}
	for _, p := range plots {
		if err := failureMarks(p, fails); err != nil {
			return err
		}
	}
	if err := saveStacked(plots, 9*vg.Inch, 9*vg.Inch, out); err != nil {
		return err
	}
	fmt.Fprintf(e.Stdout, "wrote %s: %d samples over %.1f s, %d GPU(s)\n", out, len(pts), pts[len(pts)-1].T, len(h.GPUs))
	return nil
}

// timelinePlots are three panels over the run's seconds: used GiB per GPU
// with the predicted serving memory and the card's total; KV usage in %;
// running, waiting and preempted requests. Dotted lines mark where each
// level began.
func timelinePlots(h load.Header, pts []load.Point) ([]*plot.Plot, error) {
	end := pts[len(pts)-1].T
	mem, err := memoryPanel(h, pts)
	if err != nil {
		return nil, err
	}
	kv, err := kvPanel(pts)
	if err != nil {
		return nil, err
	}
	reqs, err := requestsPanel(pts)
	if err != nil {
		return nil, err
	}
	plots := []*plot.Plot{mem, kv, reqs}
	for i, p := range plots {
		p.X.Min, p.X.Max = 0, max(end, 1)
		p.X.Tick.Marker = thousands{}
		p.Y.Tick.Marker = thousands{}
		legendInside(p)
		if err := levelMarks(p, pts, i == 0); err != nil {
			return nil, err
		}
	}
	reqs.X.Label.Text = "seconds since the load began"
	return plots, nil
}

// memoryPanel draws each GPU's used memory, the predicted serving memory
// and the card's total (the first GPU's; all are alike under tensor
// parallelism).
func memoryPanel(h load.Header, pts []load.Point) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("vramcalc load: %s at %s", h.Engine, h.URL)
	p.Y.Label.Text = "used GiB per GPU"
	top, low := 0.0, math.Inf(1)
	for i, g := range h.GPUs {
		var xys plotter.XYs
		for _, pt := range pts {
			if i < len(pt.UsedBytes) {
				y := gibs(pt.UsedBytes[i])
				xys = append(xys, plotter.XY{X: pt.T, Y: y})
				top = max(top, y)
				if y > 0 { // a dead server's freed memory is not the band to show
					low = min(low, y)
				}
			}
		}
		name := fmt.Sprintf("GPU %d used", g.Index)
		if err := addLine(p, xys, draw.LineStyle{Color: gpuColors[i%len(gpuColors)], Width: vg.Points(1.5)}, name); err != nil {
			return nil, err
		}
	}
	end := max(pts[len(pts)-1].T, 1)
	if h.Predicted != nil && h.Predicted.ServingBytes > 0 {
		y := gibs(h.Predicted.ServingBytes)
		top, low = max(top, y), min(low, y)
		style := draw.LineStyle{Color: colPredicted, Width: vg.Points(2), Dashes: []vg.Length{vg.Points(6), vg.Points(3)}}
		if err := addLine(p, plotter.XYs{{X: 0, Y: y}, {X: end, Y: y}}, style, fmt.Sprintf("predicted serving %.2f GiB", y)); err != nil {
			return nil, err
		}
	}
	if len(h.GPUs) > 0 && h.GPUs[0].Total > 0 {
		y := gibs(h.GPUs[0].Total)
		top = max(top, y)
		style := draw.LineStyle{Color: colCardTot, Width: vg.Points(2), Dashes: []vg.Length{vg.Points(2), vg.Points(2)}}
		if err := addLine(p, plotter.XYs{{X: 0, Y: y}, {X: end, Y: y}}, style, fmt.Sprintf("card %.2f GiB", y)); err != nil {
			return nil, err
		}
	}
	p.Y.Min, p.Y.Max = memoryRange(low, top)
	return p, nil
}

// memoryRange is the memory panel's axis: the band from the lowest used
// or predicted memory to the card's total in its middle, so that a slow
// growth of a few hundred MiB on an 80 GiB card shows (from 0 it would be
// a flat line), the legend above it, never below 0.
func memoryRange(low, top float64) (float64, float64) {
	if math.IsInf(low, 1) {
		low = 0
	}
	span := math.Max(top-low, 1)
	return math.Max(0, low-span), top + span*0.9
}

// legendInside puts the legend in the top left corner, clear of the axis,
// in a smaller font than the axes'.
func legendInside(p *plot.Plot) {
	p.Legend.Top, p.Legend.Left = true, true
	p.Legend.XOffs, p.Legend.YOffs = vg.Points(8), -vg.Points(4)
	p.Legend.TextStyle.Font.Size = vg.Points(10)
}

func gibs(b uint64) float64 { return float64(b) / (1 << 30) }

// kvPanel draws the engine's KV usage in percent.
func kvPanel(pts []load.Point) (*plot.Plot, error) {
	p := plot.New()
	p.Y.Label.Text = "KV cache usage %"
	var xys plotter.XYs
	for _, pt := range pts {
		if pt.KVUsage != nil {
			xys = append(xys, plotter.XY{X: pt.T, Y: 100 * *pt.KVUsage})
		}
	}
	p.Y.Min, p.Y.Max = 0, 125
	if len(xys) == 0 {
		p.Title.Text = "(the engine's KV usage was not read)"
		return p, nil
	}
	return p, addLine(p, xys, draw.LineStyle{Color: colKV, Width: vg.Points(1.5)}, "KV usage")
}

// requestsPanel draws running, waiting and preempted requests.
func requestsPanel(pts []load.Point) (*plot.Plot, error) {
	p := plot.New()
	p.Y.Label.Text = "requests"
	top := 1.0
	for _, s := range []struct {
		name string
		col  color.Color
		get  func(load.Point) *int
	}{
		{"running", colRunning, func(pt load.Point) *int { return pt.Running }},
		{"waiting", colWaiting, func(pt load.Point) *int { return pt.Waiting }},
		{"preempted (total)", colPreempted, func(pt load.Point) *int { return pt.Preempted }},
	} {
		var xys plotter.XYs
		for _, pt := range pts {
			if v := s.get(pt); v != nil {
				xys = append(xys, plotter.XY{X: pt.T, Y: float64(*v)})
				top = max(top, float64(*v))
			}
		}
		if err := addLine(p, xys, draw.LineStyle{Color: s.col, Width: vg.Points(1.5)}, s.name); err != nil {
			return nil, err
		}
	}
	p.Y.Min, p.Y.Max = 0, top*1.4
	return p, nil
}

// levelMarks draws a dotted line where each level began, labelled with its
// concurrency at the foot of the first panel (the legend holds the top).
func levelMarks(p *plot.Plot, pts []load.Point, label bool) error {
	prev := -1
	for _, pt := range pts {
		if pt.Level == prev {
			continue
		}
		prev = pt.Level
		l, err := plotter.NewLine(plotter.XYs{{X: pt.T, Y: p.Y.Min}, {X: pt.T, Y: p.Y.Max}})
		if err != nil {
			return err
		}
		l.LineStyle = draw.LineStyle{Color: colLevel, Width: vg.Points(1), Dashes: []vg.Length{vg.Points(1), vg.Points(3)}}
		p.Add(l)
		if !label {
			continue
		}
		text := fmt.Sprintf(" %d clients", pt.Level)
		if pt.Level == 1 {
			text = " 1 client"
		}
		lab, err := plotter.NewLabels(plotter.XYLabels{XYs: []plotter.XY{{X: pt.T, Y: p.Y.Min}}, Labels: []string{text}})
		if err != nil {
			return err
		}
		lab.Offset = vg.Point{Y: vg.Points(4)}
		p.Add(lab)
	}
	return nil
}

// addLine adds a line with a legend entry (nothing for no points).
func addLine(p *plot.Plot, xys plotter.XYs, style draw.LineStyle, label string) error {
	if len(xys) == 0 {
		return nil
	}
	l, err := plotter.NewLine(xys)
	if err != nil {
		return err
	}
	l.LineStyle = style
	p.Add(l)
	p.Legend.Add(label, l)
	return nil
}

// saveStacked draws the plots one above the other, their axes aligned,
// as PNG or SVG by out's extension.
func saveStacked(plots []*plot.Plot, w, h vg.Length, out string) error {
	var c vg.CanvasWriterTo
	if strings.EqualFold(filepath.Ext(out), ".svg") {
		c = vgsvg.New(w, h)
	} else {
		c = vgimg.PngCanvas{Canvas: vgimg.New(w, h)}
	}
	rows := make([][]*plot.Plot, len(plots))
	for i, p := range plots {
		rows[i] = []*plot.Plot{p}
	}
	tiles := draw.Tiles{Rows: len(plots), Cols: 1, PadTop: vg.Points(6), PadBottom: vg.Points(6), PadLeft: vg.Points(6), PadRight: vg.Points(12), PadY: vg.Points(8)}
	canvases := plot.Align(rows, tiles, draw.New(c))
	for i, p := range plots {
		p.Draw(canvases[i][0])
	}
	f, err := os.Create(out)
	if err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	if _, err := c.WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", out, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	return nil
}

func runPlotLoad(c *cli.Command, e cmdutil.Env) error {
	in, out, err := fileArgs(c, "REPORT.json")
	if err != nil {
		return err
	}
	b, err := os.ReadFile(in)
	if err != nil {
		return cmdutil.WithHint(fmt.Errorf("plot load: %w", err), "pass the output of vramcalc load -o json")
	}
	// load -o json's report, or validate --load -o json's under "load".
	var doc struct {
		load.Report
		Load *load.Report `json:"load"`
	}
	err = json.Unmarshal(b, &doc)
	rep := doc.Report
	if doc.Load != nil {
		rep = *doc.Load
	}
	if err != nil || len(rep.Levels) == 0 {
		return cmdutil.WithHint(fmt.Errorf("plot load %s: not a load report with levels", filepath.Base(in)), "save the output of vramcalc load -o json (or validate --load -o json) > report.json and pass that file")
	}
	plots, err := loadPlots(rep)
	if err != nil {
		return err
	}
	if err := saveStacked(plots, 7*vg.Inch, 8*vg.Inch, out); err != nil {
		return err
	}
	fmt.Fprintf(e.Stdout, "wrote %s: %d levels\n", out, len(rep.Levels))
	return nil
}

// loadPlots are two panels against concurrency (log scale, a tick at each
// level): output tokens/s, and TTFT p50 and p99 in ms.
func loadPlots(rep load.Report) ([]*plot.Plot, error) {
	levels := slices.Clone(rep.Levels)
	slices.SortStableFunc(levels, func(a, b load.LevelReport) int { return a.Concurrency - b.Concurrency })
	var tput, p50, p99 plotter.XYs
	var ticks []plot.Tick
	for _, l := range levels {
		x := float64(l.Concurrency)
		tput = append(tput, plotter.XY{X: x, Y: l.OutputTokensPerS})
		p50 = append(p50, plotter.XY{X: x, Y: l.TTFT.P50})
		p99 = append(p99, plotter.XY{X: x, Y: l.TTFT.P99})
		ticks = append(ticks, plot.Tick{Value: x, Label: fmt.Sprint(l.Concurrency)})
	}
	top, bottom := plot.New(), plot.New()
	top.Title.Text = fmt.Sprintf("vramcalc load: %s at %s, %d → %d tokens per request", rep.Engine, rep.URL, rep.InputTokens, rep.OutputTokens)
	top.Y.Label.Text = "output tokens/s"
	bottom.Y.Label.Text = "TTFT ms"
	bottom.X.Label.Text = "concurrent clients"
	lo, hi := float64(levels[0].Concurrency), float64(levels[len(levels)-1].Concurrency)
	for _, s := range []struct {
		p     *plot.Plot
		xys   plotter.XYs
		col   color.Color
		label string
	}{{top, tput, colRunning, "output tokens/s"}, {bottom, p50, colKV, "TTFT p50"}, {bottom, p99, colPreempted, "TTFT p99"}} {
		if err := linePoints(s.p, s.xys, s.col, s.label); err != nil {
			return nil, err
		}
	}
	for _, p := range []*plot.Plot{top, bottom} {
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = plot.ConstantTicks(ticks)
		p.X.Min, p.X.Max = lo/1.4, hi*1.4
		p.Y.Min = 0
		p.Y.Tick.Marker = thousands{}
		legendInside(p)
	}
	top.Y.Max = maxY(tput) * 1.2
	bottom.Y.Max = maxY(p99) * 1.2
	return []*plot.Plot{top, bottom}, nil
}

// linePoints adds a line through the points with a marker at each.
func linePoints(p *plot.Plot, xys plotter.XYs, col color.Color, label string) error {
	l, s, err := plotter.NewLinePoints(xys)
	if err != nil {
		return err
	}
	l.LineStyle = draw.LineStyle{Color: col, Width: vg.Points(2)}
	s.GlyphStyle = draw.GlyphStyle{Color: col, Radius: vg.Points(3.5), Shape: draw.CircleGlyph{}}
	p.Add(l, s)
	p.Legend.Add(label, l, s)
	return nil
}

func maxY(xys plotter.XYs) float64 {
	m := 1.0
	for _, v := range xys {
		m = max(m, v.Y)
	}
	return m
}

// colFailure marks a failure on the timeline.
var colFailure = color.RGBA{R: 0xd6, G: 0x1a, B: 0x1a, A: 0xff}

// reportFailures reads the failures of a load report: `load -o json`'s
// object, or `validate --load -o json`'s with the report under "load"
// (none without a path).
func reportFailures(path string) ([]load.Failure, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, cmdutil.WithHint(fmt.Errorf("plot timeline --report: %w", err), "pass the JSON vramcalc load -o json printed")
	}
	var doc struct {
		Failures []load.Failure `json:"failures"`
		Load     *struct {
			Failures []load.Failure `json:"failures"`
		} `json:"load"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, cmdutil.WithHint(fmt.Errorf("plot timeline --report %s: %w", filepath.Base(path), err), "pass the JSON vramcalc load -o json printed")
	}
	if doc.Load != nil {
		return doc.Load.Failures, nil
	}
	return doc.Failures, nil
}

// failureMarks draws a solid red line at each failure's time, labelled
// with its kind at the top of the panel.
func failureMarks(p *plot.Plot, fails []load.Failure) error {
	for _, f := range fails {
		l, err := plotter.NewLine(plotter.XYs{{X: f.AtS, Y: p.Y.Min}, {X: f.AtS, Y: p.Y.Max}})
		if err != nil {
			return err
		}
		l.LineStyle = draw.LineStyle{Color: colFailure, Width: vg.Points(1.5)}
		p.Add(l)
		lab, err := plotter.NewLabels(plotter.XYLabels{XYs: []plotter.XY{{X: f.AtS, Y: p.Y.Max}}, Labels: []string{fmt.Sprintf(" %s %.1f s", f.Kind, f.AtS)}})
		if err != nil {
			return err
		}
		lab.Offset = vg.Point{Y: -vg.Points(12)}
		for i := range lab.TextStyle {
			lab.TextStyle[i].Color = colFailure
		}
		p.Add(lab)
	}
	return nil
}
