package probe

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/vramcalc/vramcalc/probe/results"
)

// TestValidateResumeAfterKillInFirstLaunch: kill -9 in a run's very first
// launch leaves its header (fsync'd before the launch) and its container,
// and no observation. With Resume, the containers of the runs the file
// names (r5, an earlier run killed the same way, and r9) are removed and
// no other run's (r8, another file's run on the same engine); the run goes
// on as r9 and confirms what a fresh run does (17,409 in 4 launches),
// numbering its launches from 2: launch 1 is the killed one, whose
// container name the engine may still hold.
func TestValidateResumeAfterKillInFirstLaunch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "results.jsonl")
	s, _, err := OpenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"r5", "r9"} {
		if err := s.WriteHeader(results.Header{Run: id, Model: "meta-llama/Llama-3.1-8B-Instruct"}); err != nil {
			t.Fatal(err)
		}
	}
	s.Close() // the kernel releases the lock of a killed process the same way
	rt := &fakeRuntime{edge: 20000, budget: 20461, leftover: []Container{
		{ID: "vramcalc-r5-1", Labels: map[string]string{RunLabel: "r5"}},
		{ID: "vramcalc-r8-1", Labels: map[string]string{RunLabel: "r8"}},
		{ID: "vramcalc-r9-1", Name: "vramcalc-r9-1", Labels: map[string]string{RunLabel: "r9"}}}}
	v := llama8BOnL4(rt, path)
	v.Resume = true
	res, err := Validate(context.Background(), v)
	if err != nil {
		t.Fatal(err)
	}
	if res.RunID != "r9" || res.Resumed != 0 || len(rt.leftover) != 1 || rt.leftover[0].ID != "vramcalc-r8-1" ||
		!slices.Equal(rt.removedIDs[:2], []string{"vramcalc-r5-1", "vramcalc-r9-1"}) {
		t.Errorf("run %s, resumed %d, removed %v, left %v", res.RunID, res.Resumed, rt.removedIDs, rt.leftover)
	}
	if e := res.Edge; !e.Confirmed || e.Recommended.MaxTotalTokens != 17409 || e.Launches != 4 || rt.started[0].Name != "vramcalc-r9-2" {
		t.Errorf("edge [%d, %d) recommended %d confirmed %v in %d launches, first container %q", e.Lo, e.Hi, e.Recommended.MaxTotalTokens, e.Confirmed, e.Launches, rt.started[0].Name)
	}
}

// noEngine is a runtime whose engine does not answer.
type noEngine struct{ *fakeRuntime }

func (noEngine) ImageExists(context.Context, string) (bool, error) {
	return false, fmt.Errorf("docker: %w: cannot connect to the Docker daemon", ErrNoEngine)
}

// TestValidateRefusals: no engine creates no results file; a file held by
// another run is ErrLocked naming that run; a file that is not a results
// file is ErrNotResults and left as it was. None launches anything.
func TestValidateRefusals(t *testing.T) {
	dir := t.TempDir()
	rt := &fakeRuntime{edge: 20000, budget: 20461}
	absent := filepath.Join(dir, "absent.jsonl")
	if _, err := Validate(context.Background(), llama8BOnL4(noEngine{rt}, absent)); !errors.Is(err, ErrNoEngine) || fileExists(absent) {
		t.Errorf("no engine: %v, file created: %v", err, fileExists(absent))
	}

	held := filepath.Join(dir, "held.jsonl")
	s, _, err := OpenStore(held)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.WriteHeader(results.Header{Run: "1767225600-0123456789abcdef"}); err != nil {
		t.Fatal(err)
	}
	_, err = Validate(context.Background(), llama8BOnL4(rt, held))
	if !errors.Is(err, results.ErrLocked) || err.Error() != "results: "+held+" is in use by run 1767225600-0123456789abcdef: locked by another vramcalc validate" {
		t.Errorf("held: %v", err)
	}

	notes := filepath.Join(dir, "notes.txt")
	const text = "my notes\n"
	if err := os.WriteFile(notes, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Validate(context.Background(), llama8BOnL4(rt, notes))
	if b, _ := os.ReadFile(notes); !errors.Is(err, results.ErrNotResults) || string(b) != text {
		t.Errorf("not a results file: %v, left %q", err, b)
	}
	if len(rt.started) != 0 {
		t.Errorf("%d launches", len(rt.started))
	}
}
