package results

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vramcalc/vramcalc/estimate"
)

func TestStoreAppendResumeAndTornLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "results.jsonl")
	s, prev, err := OpenStore(path)
	if err != nil || len(prev.Observations) != 0 {
		t.Fatalf("open: %v, %d previous", err, len(prev.Observations))
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
	if obs := prev.Observations; len(obs) != 2 || obs[1].Point.MaxTotalTokens != 22000 || obs[0].Budget() != 22460 {
		t.Fatalf("resumed %d observations: %+v", len(obs), obs)
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

// TestLegacyFailureKind: results files written before the failure kinds
// became estimate's list said "bad_flag"; they read as
// "argument_validation", through OpenStore, Read (what calibrate and plot
// use) and plain json.Unmarshal, and the rest of the line is intact.
func TestLegacyFailureKind(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.jsonl")
	old := `{"run":"1700000000","seq":4,"engine":"tgi","image":"ghcr.io/huggingface/text-generation-inference:3.3.6","model":"m",` +
		`"point":{"max_input_tokens":4096,"max_total_tokens":4096},"started":"2025-01-01T00:00:00Z","outcome":"failed",` +
		`"failure":"bad_flag","exit_code":1,"reported":{},"phases":{"load_and_warmup":2500000000},"requests":{"Sent":0,"OK":0,"Failed":0,"rejected":0,"wrong_length":0,"concurrency":0},"predicted":{"fits":true,"max_batch_total_tokens":22460,"warmup_bytes":0}}` + "\n"
	if err := os.WriteFile(path, []byte(old+strings.Replace(old, "bad_flag", "warmup_oom", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	s, c, err := OpenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	prev := c.Observations
	if len(prev) != 2 || prev[0].Failure != estimate.FailureArgumentValidation || prev[1].Failure != estimate.FailureWarmupOOM {
		t.Fatalf("read %d observations, failures %q", len(prev), []string{prev[0].Failure, prev[1].Failure})
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	read, err := Read(bytes.NewReader(b))
	if err != nil || len(read) != 2 || read[0].Failure != estimate.FailureArgumentValidation {
		t.Fatalf("Read: %d observations, %v", len(read), err)
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

// TestRead: blank lines are skipped and a torn last line (no newline) is
// dropped, by Read and by OpenStore (which cuts the file after the last
// whole line); a bad line is named by its line number.
func TestRead(t *testing.T) {
	const whole, torn = `{"run":"r","seq":1}` + "\n\n" + `{"run":"r","seq":2}` + "\n", `{"run":"r","seq":3`
	obs, err := Read(strings.NewReader(whole + torn))
	if err != nil || len(obs) != 2 || obs[0].Seq != 1 || obs[1].Seq != 2 {
		t.Errorf("got %+v, %v; want seqs 1 and 2", obs, err)
	}
	path := filepath.Join(t.TempDir(), "results.jsonl")
	if err := os.WriteFile(path, []byte(whole+torn), 0o644); err != nil {
		t.Fatal(err)
	}
	s, prev, err := OpenStore(path)
	if err != nil || len(prev.Observations) != 2 || prev.Observations[1].Seq != 2 || !slices.Equal(prev.Lines, []int{1, 3}) {
		t.Fatalf("OpenStore: %+v, %v; want seqs 1 and 2 on lines 1 and 3", prev, err)
	}
	s.Close()
	if b, _ := os.ReadFile(path); string(b) != whole {
		t.Errorf("OpenStore left %q, want %q", b, whole)
	}
	if _, err := Read(strings.NewReader(`{"run":"r","seq":1}` + "\n" + `{"seq":` + "\n")); !errors.Is(err, ErrCorrupt) || !strings.HasPrefix(err.Error(), "line 2: ") {
		t.Errorf("bad line: %v", err)
	}
}
