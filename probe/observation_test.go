package probe

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vramcalc/vramcalc/estimate"
)

func TestStoreAppendResumeAndTornLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "results.jsonl")
	s, prev, err := OpenStore(path)
	if err != nil || len(prev) != 0 {
		t.Fatalf("open: %v, %d previous", err, len(prev))
	}
	for i, tt := range []int{20000, 22000} {
		o := Observation{Run: "r1", Seq: i + 1, Engine: "tgi", Point: Point{tt - 1, tt, 8049}, Outcome: "ok",
			Reported: Reported{MaxBatchTotalTokensLog: 22460}}
		if err := s.Append(o); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	// A crash mid-write leaves half a line.
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"run":"r1","seq":3,"point":{"max_input`)
	f.Close()

	s, prev, err = OpenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(prev) != 2 || prev[1].Point.MaxTotalTokens != 22000 || prev[0].Budget() != 22460 {
		t.Fatalf("resumed %d observations: %+v", len(prev), prev)
	}
	if err := s.Append(Observation{Run: "r1", Seq: 3, Point: Point{23999, 24000, 8049}, Outcome: "failed", Failure: estimate.FailureNotEnoughMemory}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	// The torn line is gone, nothing is duplicated: 3 whole lines.
	if len(lines) != 3 || !strings.Contains(lines[2], `"failure":"not_enough_memory"`) {
		t.Errorf("file has %d lines:\n%s", len(lines), b)
	}
}

func TestTGIEngine(t *testing.T) {
	var e TGI
	args := e.Args("meta-llama/Llama-3.1-8B-Instruct", Point{4095, 4096, 8192}, LaunchOptions{NumShard: 2, CUDAMemoryFraction: 0.9})
	want := "--model-id meta-llama/Llama-3.1-8B-Instruct --num-shard 2 --cuda-memory-fraction 0.9 --max-input-tokens 4095 --max-total-tokens 4096 --max-batch-prefill-tokens 8192"
	if got := strings.Join(args, " "); got != want {
		t.Errorf("args = %q", got)
	}
	var r Reported
	for _, l := range []string{
		"2025-01-01T00:00:00.000000Z  INFO text_generation_launcher: Default `max_batch_prefill_tokens` to 8049",
		"2025-01-01T00:00:05.000000Z  INFO text_generation_launcher: KV-cache blocks: 22460, size: 1",
		"2025-01-01T00:00:05.100000Z  INFO text_generation_router_v3: backends/v3/src/lib.rs:137: Setting max batch total tokens to 22460",
		"2025-01-01T00:00:05.200000Z  INFO text_generation_router_v3: backends/v3/src/main.rs:170: Maximum input tokens defaulted to 22459",
	} {
		e.ParseLog(l, &r)
	}
	if r != (Reported{MaxBatchTotalTokensLog: 22460, KVBlocks: 22460, BlockSize: 1, DefaultPrefill: 8049, MaxInputTokens: 22459}) {
		t.Errorf("reported = %+v", r)
	}
	if got := e.ParseMetrics("# TYPE tgi_batch_max_total_tokens gauge\ntgi_batch_max_total_tokens 22460\n"); got != 22460 {
		t.Errorf("gauge = %d", got)
	}
	cases := []struct {
		tail []string
		code int
		want string
	}{
		{[]string{"RuntimeError: Not enough memory to handle 8049 prefill tokens. You need to decrease `--max-batch-prefill-tokens`"}, 1, estimate.FailureWarmupOOM},
		{[]string{"UnboundLocalError: cannot access local variable 'num_tokens'"}, 1, estimate.FailureWarmupOOM},
		{[]string{"Error: Backend(NotEnoughMemory(24000))", "Not enough memory to handle `max_total_tokens=24000`"}, 1, estimate.FailureNotEnoughMemory},
		{[]string{"torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB"}, 1, estimate.FailureCUDAOOM},
		{[]string{"Error: ArgumentValidation(\"`max_input_tokens`(4096) must be < `max_total_tokens`(4096)\")"}, 1, estimate.FailureArgumentValidation},
		{[]string{"Error: DownloadError"}, 1, estimate.FailureDownload},
		{[]string{"Segmentation fault"}, 139, estimate.FailureCrash},
		{[]string{"Shutting down"}, 0, ""},
	}
	for _, c := range cases {
		if got := e.Classify(c.code, c.tail); got != c.want {
			t.Errorf("Classify(%d, %q) = %q, want %q", c.code, c.tail, got, c.want)
		}
	}
}

// TestLegacyFailureKind: results files written before the failure kinds
// became estimate's list said "bad_flag"; they read as
// "argument_validation", through OpenStore and through plain json.Unmarshal
// (what calibrate and plot use), and the rest of the line is intact.
func TestLegacyFailureKind(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.jsonl")
	old := `{"run":"1700000000","seq":4,"engine":"tgi","image":"ghcr.io/huggingface/text-generation-inference:3.3.6","model":"m",` +
		`"point":{"max_input_tokens":4096,"max_total_tokens":4096},"started":"2025-01-01T00:00:00Z","outcome":"failed",` +
		`"failure":"bad_flag","exit_code":1,"reported":{},"phases":{"load_and_warmup":2500000000},"requests":{"Sent":0,"OK":0,"Failed":0,"rejected":0,"wrong_length":0,"concurrency":0},"predicted":{"fits":true,"max_batch_total_tokens":22460,"warmup_bytes":0}}` + "\n"
	if err := os.WriteFile(path, []byte(old+strings.Replace(old, "bad_flag", "warmup_oom", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	s, prev, err := OpenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if len(prev) != 2 || prev[0].Failure != estimate.FailureArgumentValidation || prev[1].Failure != estimate.FailureWarmupOOM {
		t.Fatalf("read %d observations, failures %q", len(prev), []string{prev[0].Failure, prev[1].Failure})
	}
	o := prev[0]
	if o.Seq != 4 || o.ExitCode != 1 || o.Point.MaxTotalTokens != 4096 || o.Predicted.MaxBatchTotalTokens != 22460 || o.Phases["load_and_warmup"] != 2500*time.Millisecond {
		t.Errorf("the rest of the line changed: %+v", o)
	}
	var direct Observation
	if err := json.Unmarshal([]byte(old), &direct); err != nil || direct.Failure != "argument_validation" {
		t.Errorf("json.Unmarshal: failure %q, %v", direct.Failure, err)
	}
	if err := json.Unmarshal([]byte(`{"failure":3}`), &direct); err == nil {
		t.Error("a malformed line decoded")
	}
}
