package calibrate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/vramcalc/vramcalc/estimate"
	"github.com/vramcalc/vramcalc/hfmeta"
	"github.com/vramcalc/vramcalc/probe/results"
)

const llama8B = "meta-llama/Llama-3.1-8B-Instruct"

// offline resolves models from the embedded catalog only.
func offline(t *testing.T) *hfmeta.Client {
	return &hfmeta.Client{Offline: true, CacheDir: t.TempDir()}
}

// resultsFile is a validate results file of the first n of five launches
// of Llama-3.1-8B-Instruct, and a torn last line:
//  1. TGI 3.3.7 (the image tag) on one L4, budget 27,000;
//  2. TensorRT-LLM: an engine vramcalc does not estimate;
//  3. TGI that failed to start;
//  4. TGI 2.4.1 (recorded) on two L4s, budget 50,000;
//  5. TGI without a GPU or a release (image "tgisim"), budget 30,000.
func resultsFile(t *testing.T, n int) []byte {
	t.Helper()
	const image = "ghcr.io/huggingface/text-generation-inference:3.3.7"
	pt := results.Point{MaxInputTokens: 4095, MaxTotalTokens: 4096, MaxBatchPrefillTokens: 4096}
	obs := []results.Observation{
		{Run: "r", Seq: 1, Engine: "tgi", Image: image, Model: llama8B, GPUs: []string{"NVIDIA L4"}, Point: pt, Outcome: "ok", Reported: results.Reported{MaxBatchTotalTokensLog: 27_000}},
		{Run: "r", Seq: 2, Engine: "trtllm", Image: "nvcr.io/nvidia/tritonserver:25.01-trtllm-python-py3", Model: llama8B, Outcome: "ok", Reported: results.Reported{MaxBatchTotalTokensLog: 1}},
		{Run: "r", Seq: 3, Engine: "tgi", Image: image, Model: llama8B, GPUs: []string{"NVIDIA L4"}, Point: pt, Outcome: "failed", Failure: estimate.FailureWarmupOOM},
		{Run: "r", Seq: 4, Engine: "tgi", Image: image, EngineVersion: "2.4.1", Model: llama8B, GPUs: []string{"NVIDIA L4", "NVIDIA L4"}, Point: pt, Outcome: "ok", Reported: results.Reported{MaxBatchTotalTokensMetric: 50_000}},
		{Run: "r", Seq: 5, Image: "tgisim", Model: llama8B, Point: pt, Outcome: "ok", Reported: results.Reported{MaxBatchTotalTokensLog: 30_000}},
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for _, o := range obs[:n] {
		if err := enc.Encode(o); err != nil {
			t.Fatal(err)
		}
	}
	buf.WriteString("\n" + `{"run":"r","seq":6,"engine":"tg`) // torn: a crash mid-write
	return buf.Bytes()
}

// TestReadStartsResults reads the results file with the --gpu/--vram
// fallbacks the command would pass, and checks each start's inputs.
func TestReadStartsResults(t *testing.T) {
	type want struct {
		id            string
		reported      int
		gpu           string
		total         estimate.Bytes
		count         int
		version       string
		notes         []string
		maxTotal, inp int
	}
	// The L4 reports 23,570,219,008 B; the A100 SXM4 80GB 85,100,068,864 B;
	// --vram 24GiB is 25,769,803,776 B, no catalog card's total, so that a
	// start on it is told from one on the L4 it records.
	l4, a100, vram24 := estimate.Bytes(23_570_219_008), estimate.Bytes(85_100_068_864), estimate.Bytes(25_769_803_776)
	tests := []struct {
		name  string
		fb    Fallbacks
		want  []want
		skips []Skip
	}{
		{"vram for the launch that records no GPU", Fallbacks{VRAM: "24GiB", GPUs: 2}, []want{
			// A fallback wins over the recorded GPU, with the recorded count.
			{"results.jsonl:1", 27_000, "", vram24, 1, "3.3.7", nil, 4096, 4095},
			{"results.jsonl:4", 50_000, "", vram24, 2, "2.4.1", nil, 4096, 4095},
			{"results.jsonl:5", 30_000, "", vram24, 2, "", []string{"version not recorded: engine default"}, 4096, 4095},
		}, nil},
		{"gpu and release fallbacks", Fallbacks{GPU: "A100-80GB", EngineVersion: "3.0.0"}, []want{
			{"results.jsonl:1", 27_000, "NVIDIA A100-SXM4-80GB", a100, 1, "3.3.7", nil, 4096, 4095},
			{"results.jsonl:4", 50_000, "NVIDIA A100-SXM4-80GB", a100, 2, "2.4.1", nil, 4096, 4095},
			// No GPU recorded and GPUs 0: one GPU.
			{"results.jsonl:5", 30_000, "NVIDIA A100-SXM4-80GB", a100, 1, "3.0.0", nil, 4096, 4095},
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			starts, skips, err := ReadStarts(context.Background(), offline(t), "results.jsonl", bytes.NewReader(resultsFile(t, 5)), tt.fb)
			if err != nil {
				t.Fatal(err)
			}
			wantSkips := []Skip{{"results.jsonl:2", "engine trtllm is not one vramcalc estimates"}, {"results.jsonl:3", "did not start, or no KV budget reported"}}
			if !reflect.DeepEqual(skips, wantSkips) {
				t.Errorf("skips %+v, want %+v", skips, wantSkips)
			}
			if len(starts) != len(tt.want) {
				t.Fatalf("%d starts, want %d", len(starts), len(tt.want))
			}
			for i, w := range tt.want {
				s, in := starts[i], starts[i].Inputs
				got := want{s.ID, s.Reported, in.Hardware.GPU.Name, in.Hardware.GPU.TotalBytes, in.Hardware.Count, in.Engine.Version, in.Notes,
					in.Settings.MaxTotalTokens, in.Settings.MaxInputTokens}
				if !reflect.DeepEqual(got, w) || in.Engine.Name != "tgi" || in.Model.ID != llama8B || in.Model.Layers != 32 {
					t.Errorf("start %d = %+v (engine %q, model %q, %d layers)\nwant %+v", i, got, in.Engine.Name, in.Model.ID, in.Model.Layers, w)
				}
			}
		})
	}

	// Without fallbacks, the launches that record their L4s read; the fifth
	// does not say its GPU.
	_, _, err := ReadStarts(context.Background(), offline(t), "results.jsonl", bytes.NewReader(resultsFile(t, 5)), Fallbacks{})
	if !errors.Is(err, ErrNoGPU) || err.Error() != "calibrate results.jsonl: the validate file does not record its GPU" {
		t.Errorf("no fallbacks: err = %v, want ErrNoGPU naming the file", err)
	}
	starts, _, err := ReadStarts(context.Background(), offline(t), "results.jsonl", bytes.NewReader(resultsFile(t, 4)), Fallbacks{})
	if err != nil || len(starts) != 2 || starts[0].Inputs.Hardware.GPU.Name != "NVIDIA L4" || starts[0].Inputs.Hardware.GPU.TotalBytes != l4 || starts[1].Inputs.Hardware.Count != 2 {
		t.Errorf("recorded L4s: %+v, %v; want 2 starts on 1 and 2 NVIDIA L4 (23,570,219,008 B)", starts, err)
	}
}

// TestReadStartsRunHeader: an observation that records neither its GPUs
// nor its release takes them from its run's header (2 × NVIDIA L4,
// 23,570,219,008 B each; TGI 3.3.7), and is named by its line (3: the
// header is line 1, a blank line 2); another run's header does not apply.
func TestReadStartsRunHeader(t *testing.T) {
	const file = `{"kind":"run","run":"r1","model":"` + llama8B + `","engine":"tgi","engine_version":"3.3.7","gpu":"NVIDIA L4","gpu_count":2,"settings":{}}` + "\n\n" +
		`{"run":"r1","seq":1,"engine":"tgi","model":"` + llama8B + `","point":{"max_input_tokens":4095,"max_total_tokens":4096},"outcome":"ok","reported":{"max_batch_total_tokens_log":27000}}` + "\n" +
		`{"run":"r2","seq":1,"engine":"tgi","model":"` + llama8B + `","point":{"max_input_tokens":4095,"max_total_tokens":4096},"outcome":"ok","reported":{"max_batch_total_tokens_log":27000}}` + "\n"
	starts, _, err := ReadStarts(context.Background(), offline(t), "r.jsonl", strings.NewReader(file), Fallbacks{VRAM: "24GiB"})
	if err != nil || len(starts) != 2 {
		t.Fatalf("%d starts, %v", len(starts), err)
	}
	if in := starts[0].Inputs; starts[0].ID != "r.jsonl:3" || in.Hardware.Count != 2 || in.Engine.Version != "3.3.7" {
		t.Errorf("start %s on %d GPUs, release %q", starts[0].ID, in.Hardware.Count, in.Engine.Version)
	}
	if in := starts[1].Inputs; starts[1].ID != "r.jsonl:4" || in.Hardware.Count != 1 || in.Engine.Version != "" {
		t.Errorf("start %s on %d GPUs, release %q", starts[1].ID, in.Hardware.Count, in.Engine.Version)
	}
	starts, _, err = ReadStarts(context.Background(), offline(t), "r.jsonl", strings.NewReader(file), Fallbacks{})
	if !errors.Is(err, ErrNoGPU) {
		t.Errorf("r2 records no GPU and has no header: %d starts, %v", len(starts), err)
	}
}

func TestReadStartsErrors(t *testing.T) {
	ctx := context.Background()
	if _, _, err := ReadStarts(ctx, offline(t), "r.jsonl", strings.NewReader(`{"run":"r","seq":1}`+"\nnot json\n"), Fallbacks{}); err == nil || !strings.HasPrefix(err.Error(), "calibrate r.jsonl: line 2: ") {
		t.Errorf("bad line: %v", err)
	}
	if _, _, err := ReadStarts(ctx, offline(t), "r.CSV", strings.NewReader("row_id,engine\n1,tgi\n"), Fallbacks{}); !errors.Is(err, ErrBadReports) || !strings.HasPrefix(err.Error(), "calibrate r.CSV: ") {
		t.Errorf("bad csv: %v", err)
	}
	unknown := `{"run":"r","seq":1,"engine":"tgi","model":"vramcalc-test/unknown-model","gpus":["NVIDIA L4"],"outcome":"ok","reported":{"max_batch_total_tokens_log":1}}` + "\n"
	if _, _, err := ReadStarts(ctx, offline(t), "r.jsonl", strings.NewReader(unknown), Fallbacks{}); !errors.Is(err, hfmeta.ErrNotFound) || !strings.HasPrefix(err.Error(), "calibrate r.jsonl: model vramcalc-test/unknown-model: ") {
		t.Errorf("unknown model: %v", err)
	}
	if _, _, err := ReadStarts(ctx, offline(t), "r.jsonl", bytes.NewReader(resultsFile(t, 5)), Fallbacks{GPU: "no-such-gpu"}); err == nil || !strings.Contains(err.Error(), `calibrate r.jsonl: gpu: gpus: unknown GPU "no-such-gpu"`) {
		t.Errorf("unknown fallback GPU: %v", err)
	}
}

// TestReadStartsDevCSV: the dev file's TGI rows with a credible kv_tokens
// are rows 3 and 9; row 6 does not show its settings and row 7 is marked
// DOUBTFUL. Its vLLM and SGLang rows are starts too: 28 and 5 whose model
// the embedded catalog holds; the 57 skipped rows say why (doubtful, no
// kv_tokens, a model or GPU not found offline).
func TestReadStartsDevCSV(t *testing.T) {
	f, err := os.Open("../testdata/startup_reports_dev.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	starts, skips, err := ReadStarts(context.Background(), offline(t), "startup_reports_dev.csv", f, Fallbacks{})
	if err != nil {
		t.Fatal(err)
	}
	wantSkips := []Skip{{"startup_reports_dev.csv:6", "settings not shown"}, {"startup_reports_dev.csv:7", "marked doubtful or approximate"}}
	if len(skips) != 57 || !reflect.DeepEqual(skips[:2], wantSkips) {
		t.Errorf("%d skips, first %+v; want 57, first %+v", len(skips), skips[:min(2, len(skips))], wantSkips)
	}
	byEngine := map[string][]Start{}
	for _, s := range starts {
		byEngine[s.Inputs.Engine.Name] = append(byEngine[s.Inputs.Engine.Name], s)
	}
	if n := [3]int{len(byEngine["tgi"]), len(byEngine["vllm"]), len(byEngine["sglang"])}; n != [3]int{2, 28, 5} {
		t.Errorf("starts by engine (tgi, vllm, sglang) %v, want [2 28 5]", n)
	}
	type got struct {
		id, model, gpu, version string
		reported                int
		total                   estimate.Bytes
		input, total2, prefill  int
		fraction                float64
	}
	want := []got{
		// "Mistral-7B (local dir …)" is Mistral-7B-v0.1; an A100 80GB; TGI 2.0.0.
		{"startup_reports_dev.csv:3", "mistralai/Mistral-7B-v0.1", "NVIDIA A100-SXM4-80GB", "2.0.0", 425_472, 85_100_068_864, 8000, 8512, 32768, 0},
		// An A10 (OCI VM): 23,595,909,120 B; cuda_memory_fraction=1.0.
		{"startup_reports_dev.csv:9", "tokyotech-llm/Swallow-7b-hf", "NVIDIA A10", "2.0.3", 15_232, 23_595_909_120, 4095, 4096, 4145, 1},
	}
	for i, s := range byEngine["tgi"] {
		in := s.Inputs
		g := got{s.ID, in.Model.ID, in.Hardware.GPU.Name, in.Engine.Version, s.Reported, in.Hardware.GPU.TotalBytes,
			in.Settings.MaxInputTokens, in.Settings.MaxTotalTokens, in.Settings.MaxBatchPrefillTokens, in.Settings.CUDAMemoryFraction}
		if i >= len(want) || g != want[i] || in.Hardware.Count != 1 {
			t.Errorf("TGI start %d = %+v (%d GPUs)", i, g, in.Hardware.Count)
		}
	}
	// Row 400: SGLang 0.5.13 serving Qwen3-32B with --mem-fraction-static 0.88, 187,069 tokens.
	for _, s := range byEngine["sglang"] {
		if s.ID == "startup_reports_dev.csv:400" && (s.Reported != 187_069 || s.Inputs.Model.ID != "Qwen/Qwen3-32B" || s.Inputs.Engine.Version != "0.5.13" || s.Inputs.Settings.MemFractionStatic != 0.88) {
			t.Errorf("row 400: %+v", s)
		}
	}
}

func TestImageVersion(t *testing.T) {
	for image, want := range map[string]string{
		"ghcr.io/huggingface/text-generation-inference:3.3.7":  "3.3.7",
		"ghcr.io/huggingface/text-generation-inference:v2.4":   "2.4",
		"ghcr.io/huggingface/text-generation-inference:latest": "",
		"localhost:5000/tgisim":                                "",
		"tgisim":                                               "",
	} {
		if got := imageVersion(image); got != want {
			t.Errorf("imageVersion(%q) = %q, want %q", image, got, want)
		}
	}
}
