package calibrate

import (
	"context"
	"reflect"
	"sort"
	"testing"

	"github.com/vramcalc/vramcalc/estimate"
	"github.com/vramcalc/vramcalc/gpus"
)

// start is a start of model m on one GPU of hw under TGI version with
// limits total−1 / total / total.
func start(t *testing.T, id string, m estimate.Model, gpu, version string, total int) Start {
	t.Helper()
	hw := estimate.Hardware{Count: 1}
	if gpu != "" {
		sku, err := gpus.Lookup(gpu)
		if err != nil {
			t.Fatal(err)
		}
		hw.GPU = sku.GPU
	} else {
		hw.GPU.TotalBytes = 22 * estimate.GiB
	}
	return Start{ID: id, Reported: 10_000, Inputs: Inputs{Model: m, Hardware: hw, Engine: estimate.Engine{Name: "tgi", Version: version},
		Settings: estimate.Settings{MaxInputTokens: total - 1, MaxTotalTokens: total, MaxBatchPrefillTokens: total}}}
}

func llama(t *testing.T) estimate.Model {
	t.Helper()
	meta, err := offline(t).Resolve(context.Background(), llama8B)
	if err != nil {
		t.Fatal(err)
	}
	return meta.Model
}

// TestGroupStarts: by GPU, an L4, an A100 and a card known by its size only
// (22 GiB) are three groups, in the order they first appear; by engine, one
// group "all".
func TestGroupStarts(t *testing.T) {
	m := llama(t)
	starts := []Start{start(t, "a", m, "L4", "3.3.7", 4096), start(t, "b", m, "A100-80GB", "3.3.7", 4096),
		start(t, "c", m, "L4", "2.4.1", 4096), start(t, "d", m, "", "", 4096)}
	type group struct {
		gpu string
		ids []string
	}
	summary := func(gs []Group) []group {
		var out []group
		for _, g := range gs {
			if g.Engine != "tgi" {
				t.Errorf("group engine %q", g.Engine)
			}
			var ids []string
			for _, s := range g.Starts {
				ids = append(ids, s.ID)
			}
			out = append(out, group{g.GPU, ids})
		}
		return out
	}
	// TGI 3.3.7 and 2.4.1 are two release lines (3.0 changed the wiggle
	// room): c is a group of its own; d, without a release, is 3.3.7's.
	byGPU := []group{{"NVIDIA L4", []string{"a"}}, {"NVIDIA A100-SXM4-80GB", []string{"b"}}, {"NVIDIA L4", []string{"c"}}, {"22.00 GiB", []string{"d"}}}
	if got := summary(GroupStarts(starts, ByGPU)); !reflect.DeepEqual(got, byGPU) {
		t.Errorf("by gpu: %+v, want %+v", got, byGPU)
	}
	byEngine := []group{{"all", []string{"a", "b", "d"}}, {"all", []string{"c"}}}
	if got := summary(GroupStarts(starts, ByEngine)); !reflect.DeepEqual(got, byEngine) {
		t.Errorf("by engine: %+v, want %+v", got, byEngine)
	}
	// Starts at another tensor-parallel degree are another group, by GPU
	// and by engine alike: TP 2 on two L4s (e), --num-shard 2 (f).
	e, f := start(t, "e", m, "L4", "3.3.7", 4096), start(t, "f", m, "L4", "3.3.7", 4096)
	e.Inputs.Hardware.Count = 2
	f.Inputs.Hardware.Count, f.Inputs.Settings.NumShard = 4, 2
	gs := GroupStarts(append(starts, e, f), ByEngine)
	if len(gs) != 3 || gs[0].TP != 1 || len(gs[0].Starts) != 3 || gs[2].TP != 2 || len(gs[2].Starts) != 2 {
		t.Errorf("by engine with TP 2 starts: %d groups %+v", len(gs), gs)
	}
	if cal := gs[2].Calibration(estimate.Corrections{}, FitReport{}); cal.File.TensorParallel != 2 {
		t.Errorf("the TP 2 group's file records TP %d", cal.File.TensorParallel)
	}
}

// TestGroupFitOptions: what a group's starts can tell apart.
func TestGroupFitOptions(t *testing.T) {
	m := llama(t)
	group := func(versions ...string) Group {
		g := Group{Engine: "tgi", GPU: "NVIDIA L4"}
		for i, v := range versions {
			g.Starts = append(g.Starts, start(t, string(rune('a'+i)), m, "L4", v, 4096))
		}
		return g
	}
	six := func(v string) []string { return []string{v, v, v, v, v, v} }
	tests := []struct {
		name     string
		g        Group
		params   Param
		wiggle   float64
		versions []string
	}{
		{"two starts: the overhead", group("3.3.7", "3.3.7"), ParamOverhead, 0, []string{"3.3.7"}},
		{"three: and the activation factor", group("3.3.7", "3.3.7", "3.3.7"), ParamOverhead | ParamActivation, 0, []string{"3.3.7"}},
		// TGI 2.4.1's pool is 0.90 of the free memory (v2.4.0:globals.py:26).
		{"six of 2.4.1: and the wiggle from 0.90", group(six("2.4.1")...), ParamsAll, 0.90, []string{"2.4.1"}},
		// From 3.0 the wiggle leaves (1 − W)·total: an overhead by another name.
		{"six of 3.3.7: no wiggle", group(six("3.3.7")...), ParamOverhead | ParamActivation, 0, []string{"3.3.7"}},
		{"six of two releases: no wiggle", group("2.4.1", "2.4.1", "2.4.1", "2.4.1", "2.4.1", "2.4.0"), ParamOverhead | ParamActivation, 0, []string{"2.4.0", "2.4.1"}},
		{"no release: the default", group("", "2.4.1"), ParamOverhead, 0, sorted("2.4.1", estimate.DefaultTGIVersion)},
	}
	for _, tt := range tests {
		opt := tt.g.FitOptions()
		if opt.Params != tt.params || opt.Start.Wiggle != tt.wiggle || !reflect.DeepEqual(tt.g.Versions(), tt.versions) {
			t.Errorf("%s: params %v, start wiggle %g, versions %q; want %v, %g, %q", tt.name, opt.Params.Names(), opt.Start.Wiggle, tt.g.Versions(),
				tt.params.Names(), tt.wiggle, tt.versions)
		}
	}
}

// TestGroupPredict: one more GiB of overhead per GPU takes 8,192 tokens off
// Llama-3.1-8B's budget on an L4 under TGI 3.3.7, whose pool is what is
// left: a token's KV cache is 2 (K and V) × 32 layers × 8 KV heads × 128 ×
// 2 B = 131,072 B, and 1 GiB / 131,072 B = 8,192. Under TGI 2.4.1 the pool
// is 0.90 of what is left, so 0.90 × 8,192 = 7,372.8 tokens.
func TestGroupPredict(t *testing.T) {
	m := llama(t)
	for _, tt := range []struct {
		version   string
		drop, tol float64
	}{{"3.3.7", 8192, 0}, {"2.4.1", 7372.8, 0.5}} {
		g := Group{Engine: "tgi", GPU: "NVIDIA L4", Starts: []Start{start(t, "a", m, "L4", tt.version, 4096)}}
		before, err := g.Predict(estimate.Corrections{})
		if err != nil {
			t.Fatal(err)
		}
		after, err := g.Predict(estimate.Corrections{OverheadBytes: estimate.GiB})
		if err != nil {
			t.Fatal(err)
		}
		if d := before[0] - after[0]; before[0] <= 0 || d < tt.drop-tt.tol || d > tt.drop+tt.tol {
			t.Errorf("TGI %s: %g → %g tokens with 1 GiB more overhead, a drop of %g; want %g", tt.version, before[0], after[0], d, tt.drop)
		}
	}
}

// TestGroupCalibration: the fitted corrections are stamped with the file
// version, the engine, the group's releases and its GPU; the samples are
// the starts' budgets.
func TestGroupCalibration(t *testing.T) {
	m := llama(t)
	a, b := start(t, "r.jsonl:1", m, "L4", "3.3.7", 4096), start(t, "r.jsonl:2", m, "L4", "2.4.1", 8192)
	b.Reported = 20_000
	g := Group{Engine: "tgi", GPU: "NVIDIA L4", Starts: []Start{a, b}}
	if got, want := g.Samples(), []Sample{{"r.jsonl:1", 10_000}, {"r.jsonl:2", 20_000}}; !reflect.DeepEqual(got, want) {
		t.Errorf("samples %+v, want %+v", got, want)
	}
	cal := g.Calibration(estimate.Corrections{ActivationFactor: 1.1, OverheadBytes: 256 * estimate.MiB, SafeSide: "below"}, FitReport{N: 2, Params: []string{"overhead_bytes"}})
	f := cal.File
	// 256 MiB = 268,435,456 B.
	if f.Version != 1 || f.Engine != "tgi" || f.EngineVersion != "2.4.1,3.3.7" || f.GPU != "NVIDIA L4" || f.ActivationFactor != 1.1 || f.OverheadBytes != 268_435_456 ||
		f.Fit.N != 2 || len(cal.Starts) != 2 || cal.Report.N != 2 {
		t.Errorf("calibration %+v", cal)
	}
}

func sorted(s ...string) []string {
	sort.Strings(s)
	return s
}

func TestGroupPath(t *testing.T) {
	for _, tt := range []struct{ out, engine, versions, gpu, want string }{
		{"corrections.json", "tgi", "2.0.0,2.0.3", "NVIDIA A100-SXM4-80GB", "corrections-tgi-2.0-nvidia-a100-sxm4-80gb.json"},
		{"out/fit", "tgi", "3.3.7", "all", "out/fit-tgi-3.3-all"},
		{"c.json", "tgi", "", "22.00 GiB", "c-tgi-" + ReleaseLine("tgi", "") + "-22.00-gib.json"},
		{"c.json", "vllm", "0.4.1-v0", "NVIDIA L4", "c-vllm-0.4-v0-nvidia-l4.json"},
		{"c.json", "vllm", "0.21.0", "NVIDIA H100 80GB HBM3", "c-vllm-0.21-nvidia-h100-80gb-hbm3.json"},
		{"c.json", "sglang", "v0.5.18", "NVIDIA H100 80GB HBM3", "c-sglang-0.5.18-nvidia-h100-80gb-hbm3.json"},
	} {
		if got := GroupPath(tt.out, File{Engine: tt.engine, EngineVersion: tt.versions, GPU: tt.gpu}); got != tt.want {
			t.Errorf("GroupPath(%q, %s %s on %q) = %q, want %q", tt.out, tt.engine, tt.versions, tt.gpu, got, tt.want)
		}
	}
	// Two groups of one GPU at TP 1 and 2 go to two files.
	if got := GroupPath("corrections.json", File{Engine: "tgi", EngineVersion: "3.3.7", GPU: "NVIDIA L4", TensorParallel: 2}); got != "corrections-tgi-3.3-nvidia-l4-tp2.json" {
		t.Errorf("TP 2: %q", got)
	}
}
