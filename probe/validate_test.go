package probe

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vramcalc/vramcalc/estimate"
	"github.com/vramcalc/vramcalc/nvml"
)

// llama8BOnL4 is a validation of Llama-3.1-8B on one L4 against rt.
func llama8BOnL4(rt Runtime, results string) Validation {
	return Validation{
		Model: simModels()["llama3-8b"], Hardware: estimate.Hardware{GPU: simL4, Count: 1}, EngineVersion: estimate.DefaultTGIVersion,
		Settings: estimate.Settings{CUDAMemoryFraction: 1}, Tolerance: 0.01, MaxLaunches: 12, Results: results,
		Launch: Config{Runtime: rt, Engine: TGI{}, Image: "vramcalc/tgisim:dev", Model: "meta-llama/Llama-3.1-8B-Instruct",
			HealthTimeout: 5 * time.Second, Requests: RequestPlan{InputTokens: 100, OutputTokens: 50, Concurrency: 2}},
	}
}

// eventLog records a run's events as "kind launch point phase" lines.
type eventLog struct{ lines []string }

func (l *eventLog) add(ev Event) {
	l.lines = append(l.lines, fmt.Sprintf("%s %d %d %s%s%s", ev.Kind, ev.Launch, ev.Point.MaxTotalTokens, ev.Phase, ev.Image, ev.Container))
}

func (l *eventLog) count(prefix string) int {
	n := 0
	for _, s := range l.lines {
		if strings.HasPrefix(s, prefix) {
			n++
		}
	}
	return n
}

// TestValidatePinsEdgeAndRecords: on an engine whose edge is 20,000 tokens
// (the estimate says 21,505 for this L4), Validate pulls the missing image,
// plans from the estimate, pins the edge to ±1% in 4 launches (19,355 starts, 20,296 fails, 19,825
// starts, 20,060 fails) and has
// appended each of them to the results file, with the run's id, before
// returning; the progress callback hears the pull, each launch's phases (start, loading,
// warmup, requests for a start, stop) and one observed event per launch.
func TestValidatePinsEdgeAndRecords(t *testing.T) {
	rt := &fakeRuntime{edge: 20000, budget: 20461, missing: map[string]bool{"vramcalc/tgisim:dev": true}}
	path := filepath.Join(t.TempDir(), "results.jsonl")
	v := llama8BOnL4(rt, path)
	var log eventLog
	v.Launch.Progress = log.add
	res, err := Validate(context.Background(), v)
	if err != nil {
		t.Fatal(err)
	}
	if res.Plan.Predicted != 21505 || res.Plan.Cap != 131072 || res.Plan.Prefill != res.Estimate.Startup.MaxBatchPrefillTokens || res.Plan.Prefill == 0 {
		t.Errorf("plan %+v", res.Plan)
	}
	e := res.Edge
	// Launch 1 at the estimate's edge less 256 MiB starts and reports a
	// budget of 20,461 against 22,460 predicted: 1,999 × 131,072 B =
	// 262,012,928 B more in use (no warm-up peak: no sampler), so the
	// recommendation is the edge with that and the margin more, 17,409,
	// confirmed by launches 2–4.
	if e.Recommended.MaxTotalTokens != 17409 || !e.Confirmed || e.Tried != 3 || e.Started != 3 || e.Lo != 19457 || e.Hi != 0 || e.Launches != 4 || len(e.Observations) != 4 {
		t.Errorf("edge [%d, %d) recommended %d confirmed %v in %d launches", e.Lo, e.Hi, e.Recommended.MaxTotalTokens, e.Confirmed, e.Launches)
	}
	// The run id: the Unix time and 64 random bits in hex.
	if !regexp.MustCompile(`^\d{10}-[0-9a-f]{16}$`).MatchString(res.RunID) || res.Resumed != 0 {
		t.Errorf("run id %q, resumed %d", res.RunID, res.Resumed)
	}
	if len(rt.pulled) != 1 || log.lines[0] != "pull 0 0 vramcalc/tgisim:dev" {
		t.Errorf("pulled %v, first event %q", rt.pulled, log.lines[0])
	}
	if log.count("phase ") != 20 || log.count("observed ") != 4 || log.count("phase 3 ") != 5 {
		t.Errorf("events:\n%s", strings.Join(log.lines, "\n"))
	}
	s, file, err := OpenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	onDisk := file.Observations
	if len(onDisk) != 4 || !slices.Equal(file.Lines, []int{2, 3, 4, 5}) {
		t.Fatalf("%d observations on disk on lines %v, want 4 on lines 2–5", len(onDisk), file.Lines)
	}
	// The header, line 1: the run, what it launches and on what.
	if h := file.Headers; len(h) != 1 || h[0].Run != res.RunID || h[0].Model != "meta-llama/Llama-3.1-8B-Instruct" || h[0].Engine != "tgi" ||
		h[0].Image != "vramcalc/tgisim:dev" || h[0].GPU != simL4.Name || h[0].GPUCount != 1 || h[0].Settings.MaxBatchPrefillTokens != res.Plan.Prefill ||
		h[0].Settings.Tolerance != 0.01 || h[0].Settings.MaxLaunches != 12 || h[0].Settings.Resume || h[0].Started.IsZero() {
		t.Errorf("headers %+v", h)
	}
	for i, o := range onDisk {
		if o.Run != res.RunID || o.Seq != i+1 || o.Point != e.Observations[i].Point || o.Predicted.MaxBatchTotalTokens == 0 {
			t.Errorf("observation %d: run %s seq %d point %+v predicted %+v", i, o.Run, o.Seq, o.Point, o.Predicted)
		}
	}
	// Every container carried the run's label and name, and is gone.
	for i, spec := range rt.started {
		if spec.Labels[RunLabel] != res.RunID || spec.Name != fmt.Sprintf("vramcalc-%s-%d", res.RunID, i+1) || !strings.Contains(strings.Join(spec.Args, " "), "--num-shard 1") {
			t.Errorf("container %d: %+v", i, spec)
		}
	}
	if len(rt.live) != 0 || rt.removed != 4 {
		t.Errorf("%d containers live, %d removed", len(rt.live), rt.removed)
	}
}

// TestValidateResume: a results file holding the first two launches of
// the run above as run r7 (19,457 and 17,409 start) and a container r7
// left behind. With Resume, the leftover (and no other run's) is removed,
// the two launches are not made again, the run goes on as r7 with
// launches 3 and 4 (17,409 twice more), and the file ends with the same 4
// launches as the run above.
func TestValidateResume(t *testing.T) {
	path := filepath.Join(t.TempDir(), "results.jsonl")
	s, _, err := OpenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	prev := []Observation{
		{Run: "r7", Seq: 1, Engine: "tgi", Point: Point{MaxInputTokens: 19456, MaxTotalTokens: 19457}, Outcome: "ok", Reported: Reported{MaxBatchTotalTokensLog: 20461}},
		{Run: "r7", Seq: 2, Engine: "tgi", Point: Point{MaxInputTokens: 17408, MaxTotalTokens: 17409}, Outcome: "ok", Reported: Reported{MaxBatchTotalTokensLog: 20461}},
	}
	rt := &fakeRuntime{edge: 20000, budget: 20461, leftover: []Container{
		{ID: "left-r7", Labels: map[string]string{RunLabel: "r7"}}, {ID: "other-run", Labels: map[string]string{RunLabel: "r8"}}}}
	v := llama8BOnL4(rt, path)
	// The points of the file use the run's prefill.
	zero, err := estimate.Run(v.Model, v.Hardware, estimate.Engine{Name: "tgi", Version: v.EngineVersion}, v.Settings)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range prev {
		o.Point.MaxBatchPrefillTokens = zero.Startup.MaxBatchPrefillTokens
		if err := s.Append(o); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	v.Resume = true
	var log eventLog
	v.Launch.Progress = log.add
	res, err := Validate(context.Background(), v)
	if err != nil {
		t.Fatal(err)
	}
	if res.RunID != "r7" || res.Resumed != 2 || len(rt.removedIDs) == 0 || rt.removedIDs[0] != "left-r7" || len(rt.leftover) != 1 || log.lines[0] != "cleanup 0 0 left-r7" {
		t.Errorf("run %s, resumed %d, removed %v, left %v, events %q", res.RunID, res.Resumed, rt.removedIDs, rt.leftover, log.lines)
	}
	if res.Edge.Recommended.MaxTotalTokens != 17409 || !res.Edge.Confirmed || res.Edge.Started != 3 || res.Edge.Launches != 2 || len(res.Edge.Observations) != 4 || len(rt.started) != 2 {
		t.Errorf("edge [%d, %d) recommended %d confirmed %v in %d launches", res.Edge.Lo, res.Edge.Hi, res.Edge.Recommended.MaxTotalTokens, res.Edge.Confirmed, res.Edge.Launches)
	}
	s, file, err := OpenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	// The file had no header (written before headers existed); the resumed run's is line 3.
	if h := file.Headers; len(h) != 1 || h[0].Run != "r7" || !h[0].Settings.Resume || !slices.Equal(file.Lines, []int{1, 2, 4, 5}) {
		t.Errorf("headers %+v, observation lines %v", h, file.Lines)
	}
	all := file.Observations
	for i, o := range all {
		if o.Run != "r7" || o.Seq != i+1 {
			t.Errorf("line %d: run %s seq %d point %s", i+1, o.Run, o.Seq, o.Point.Key())
		}
	}
	if len(all) != 4 || all[2].Point.MaxTotalTokens != 17409 || all[3].Point.MaxTotalTokens != 17409 {
		t.Errorf("%d lines, want 4 ending with 17,409 twice", len(all))
	}
}

// TestValidateErrors: a model that does not start at all is ErrNoEdge,
// before any container or file; an image that cannot be pulled is the
// runtime's ErrImageNotFound, before any launch.
func TestValidateErrors(t *testing.T) {
	dir := t.TempDir()
	rt := &fakeRuntime{edge: 20000, budget: 20461}
	v := llama8BOnL4(rt, filepath.Join(dir, "a.jsonl"))
	v.Model = simModels()["llama3-70b"]
	_, err := Validate(context.Background(), v)
	if !errors.Is(err, ErrNoEdge) || err.Error() != "probe: no predicted edge: meta-llama/Llama-3.1-8B-Instruct does not start on 1 × 21.95 GiB at all" {
		t.Errorf("70B on one L4: %v", err)
	}
	if len(rt.started) != 0 || fileExists(filepath.Join(dir, "a.jsonl")) {
		t.Error("launched or wrote for a model that cannot start")
	}
	rt = &fakeRuntime{edge: 20000, budget: 20461, missing: map[string]bool{"vramcalc/tgisim:dev": true},
		pullErr: fmt.Errorf("docker: pull vramcalc/tgisim:dev: %w: manifest unknown", ErrImageNotFound)}
	_, err = Validate(context.Background(), llama8BOnL4(rt, filepath.Join(dir, "b.jsonl")))
	if !errors.Is(err, ErrImageNotFound) || len(rt.started) != 0 {
		t.Errorf("pull failure: %v, %d launches", err, len(rt.started))
	}
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// TestValidateWarnsOnceWhenMemoryUnread: NVML could not be opened, so no
// launch reads its GPU; each of the 4 observations says so in peak_error,
// and the run warns once, at the first launch.
func TestValidateWarnsOnceWhenMemoryUnread(t *testing.T) {
	rt := &fakeRuntime{edge: 20000, budget: 20461}
	path := filepath.Join(t.TempDir(), "results.jsonl")
	v := llama8BOnL4(rt, path)
	// What driver.Open says in a build without cgo.
	openErr := errors.New("nvml: open: unavailable: built without cgo (CGO_ENABLED=0)")
	v.Launch.Sampler, v.Launch.GPUIndices, v.Launch.SampleEvery = nvml.Unopened{Err: openErr}, []int{0}, 10*time.Millisecond
	var warnings []Event
	v.Launch.Progress = func(ev Event) {
		if ev.Kind == EventWarning {
			warnings = append(warnings, ev)
		}
	}
	res, err := Validate(context.Background(), v)
	if err != nil {
		t.Fatal(err)
	}
	const peakErr = "NVML: GPU 0: nvml: open: unavailable: built without cgo (CGO_ENABLED=0)"
	for _, o := range res.Edge.Observations {
		if o.PeakError != peakErr || len(o.PeakBytes) != 0 {
			t.Errorf("launch %d: peak %v, peak error %q", o.Seq, o.PeakBytes, o.PeakError)
		}
	}
	want := "launch 1: GPU memory not read from " + peakErr + "; no peak recorded (peak_error in the results; said once per run)"
	if len(res.Edge.Observations) != 4 || len(warnings) != 1 || warnings[0].Warning != want || warnings[0].Launch != 1 {
		t.Errorf("%d launches, warnings %+v", len(res.Edge.Observations), warnings)
	}
}

// TestHeaderNamesTheEngineFlags: a run's header says which of the
// engine's flags the observations' limit and prefill stand for.
func TestHeaderNamesTheEngineFlags(t *testing.T) {
	for eng, want := range map[Engine][2]string{TGI{}: {"--max-total-tokens", "--max-batch-prefill-tokens"},
		VLLM{}: {"--max-model-len", "--max-num-batched-tokens"}, SGLang{}: {"--context-length", "--chunked-prefill-size"}} {
		h := header(Validation{Launch: Config{Engine: eng}}, "r", 0)
		if h.Engine != eng.Name() || [2]string{h.LimitFlag, h.PrefillFlag} != want {
			t.Errorf("%s: %+v", eng.Name(), h)
		}
	}
}
