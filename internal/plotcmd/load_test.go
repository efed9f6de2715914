package plotcmd

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vramcalc/vramcalc/internal/cmdtest"
	"github.com/vramcalc/vramcalc/load"
)

// writeTimeline writes a timeline as vramcalc load does: 2 GPUs of 24 GiB,
// levels 1, 8 and 32 for 10 s each, a sample every 0.1 s; GPU 0 from 20
// GiB growing 20 MiB a second, GPU 1 0.5 GiB below it; KV usage rising
// to 0.9 at level 32, running = min(level, 20), waiting the rest.
func writeTimeline(t *testing.T, path string) {
	t.Helper()
	h := map[string]any{"vramcalc_load_timeline": load.Header{Engine: "vllm", URL: "http://127.0.0.1:8000", Levels: []int{1, 8, 32},
		GPUs:      []load.GPU{{Index: 0, Name: "NVIDIA L4", Total: 24 << 30}, {Index: 1, Name: "NVIDIA L4", Total: 24 << 30}},
		Predicted: &load.Predicted{ServingBytes: 21 << 30, KVPoolTokens: 30000, MaxConcurrency: 20}}}
	var b strings.Builder
	line, _ := json.Marshal(h)
	b.Write(append(line, '\n'))
	for i := range 300 {
		level := []int{1, 8, 32}[i/100]
		used := uint64(20<<30) + uint64(i)*2<<20
		kv := float64(min(level, 20)) / 20 * 0.9
		run, wait := min(level, 20), max(level-20, 0)
		p := load.Point{T: float64(i) / 10, Level: level, UsedBytes: []uint64{used, used - 512<<20}, KVUsage: &kv, Running: &run, Waiting: &wait}
		line, _ := json.Marshal(p)
		b.Write(append(line, '\n'))
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestPlotTimeline: the PNG and the SVG are written and not trivially
// small; the panels span the run (0 … 29.9 s), the memory panel shows the
// band from the lowest sample (GPU 1's first, 20 GiB − 512 MiB = 19.5) to
// the card (24 GiB) in its middle: 19.5 − 4.5 = 15 to 24 + 0.9 · 4.5 =
// 28.05 GiB, room for the legend above; the GPU's last sample is 20
// GiB + 299 · 2 MiB, and the requests panel tops 20 running / 12 waiting
// at 20 · 1.4 = 28.
func TestPlotTimeline(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "tl.jsonl")
	writeTimeline(t, in)
	for _, out := range []string{"timeline.png", "timeline.svg"} {
		path := filepath.Join(dir, out)
		stdout, stderr, code := cmdtest.Run(t, Root, "timeline", in, "--out", path)
		if code != 0 || !strings.Contains(stdout, "300 samples over 29.9 s, 2 GPU(s)") {
			t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
		}
		if fi, err := os.Stat(path); err != nil || fi.Size() < 20_000 {
			t.Errorf("%s: %v, %d bytes", out, err, fi.Size())
		}
	}
	f, _ := os.Open(in)
	defer f.Close()
	h, pts, err := load.ReadTimeline(f)
	if err != nil {
		t.Fatal(err)
	}
	plots, err := timelinePlots(h, pts)
	if err != nil {
		t.Fatal(err)
	}
	mem, reqs := plots[0], plots[2]
	if mem.X.Min != 0 || mem.X.Max != 29.9 || math.Abs(mem.Y.Min-15) > 1e-9 || math.Abs(mem.Y.Max-28.05) > 1e-9 || reqs.Y.Max != 28 {
		t.Errorf("extents: memory x %v…%v y %v…%v, requests y …%v", mem.X.Min, mem.X.Max, mem.Y.Min, mem.Y.Max, reqs.Y.Max)
	}
	if last := pts[len(pts)-1].UsedBytes[0]; last != 20<<30+299*2<<20 {
		t.Errorf("last GPU 0 sample %d", last)
	}
}

// TestPlotLoad: three levels of a load report; tokens/s tops at 1,500
// (y to 1,800), TTFT p99 at 900 ms (y to 1,080), x from 1/1.4 to 32·1.4
// on a log scale.
func TestPlotLoad(t *testing.T) {
	dir := t.TempDir()
	rep := load.Report{Engine: "sglang", URL: "http://127.0.0.1:30000", InputTokens: 512, OutputTokens: 128}
	for i, c := range []int{1, 8, 32} {
		rep.Levels = append(rep.Levels, load.LevelReport{Level: load.Level{Concurrency: c, Requests: 100, OutputTokensPerS: []float64{60, 420, 1500}[i],
			TTFT: load.Percentiles{P50: []float64{30, 80, 400}[i], P90: 1, P99: []float64{45, 150, 900}[i]}}})
	}
	b, _ := json.Marshal(rep)
	in := filepath.Join(dir, "report.json")
	if err := os.WriteFile(in, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "load.png")
	stdout, stderr, code := cmdtest.Run(t, Root, "load", in, "--out", out)
	if code != 0 || !strings.Contains(stdout, "3 levels") {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	if fi, err := os.Stat(out); err != nil || fi.Size() < 20_000 {
		t.Errorf("%v, %d bytes", err, fi.Size())
	}
	plots, err := loadPlots(rep)
	if err != nil {
		t.Fatal(err)
	}
	if plots[0].Y.Max != 1800 || plots[1].Y.Max != 1080 || plots[0].X.Min != 1/1.4 || plots[1].X.Max != 32*1.4 {
		t.Errorf("extents %v %v %v %v", plots[0].Y.Max, plots[1].Y.Max, plots[0].X.Min, plots[1].X.Max)
	}
	if _, stderr, code := cmdtest.Run(t, Root, "load", filepath.Join(dir, "nothing.json"), "--out", out); code != 1 || !strings.Contains(stderr, "hint:") {
		t.Errorf("a missing report: exit %d\n%s", code, stderr)
	}
}

// TestPlotTimelineReport: --report marks the failures of a load report,
// read from load -o json's object or from validate --load -o json's
// "load"; a report that is not JSON is an error with a hint.
func TestPlotTimelineReport(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "tl.jsonl")
	writeTimeline(t, in)
	for name, body := range map[string]string{
		"load.json":     `{"levels":[],"failures":[{"kind":"memory_trend","at_s":18.1,"detail":"d"}]}`,
		"validate.json": `{"model":"m","load":{"failures":[{"kind":"memory_trend","at_s":18.1,"detail":"d"}]}}`,
	} {
		rep := filepath.Join(dir, name)
		if err := os.WriteFile(rep, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		fails, err := reportFailures(rep)
		if err != nil || len(fails) != 1 || fails[0].Kind != "memory_trend" || fails[0].AtS != 18.1 {
			t.Errorf("%s: %+v, %v", name, fails, err)
		}
		out := filepath.Join(dir, name+".png")
		if _, stderr, code := cmdtest.Run(t, Root, "timeline", in, "--report", rep, "--out", out); code != 0 {
			t.Errorf("%s: exit %d: %s", name, code, stderr)
		}
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte("not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := cmdtest.Run(t, Root, "timeline", in, "--report", bad, "--out", filepath.Join(dir, "x.png")); code == 0 || !strings.Contains(stderr, "hint:") {
		t.Errorf("a report that is not JSON: exit %d: %s", code, stderr)
	}
}
