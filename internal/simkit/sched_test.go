package simkit

import "testing"

// TestSchedulerPreempts steps a pool of 4 blocks of 4 tokens with at most
// 2 running and 8 tokens per step. Step 1 admits A and B (3-token prompts,
// 6 tokens, 2 blocks) and emits their first tokens; C waits for the cap.
// Each decode step adds a token to each: at 5 tokens (step 3) both need a
// second block (4 in use), at 9 tokens a third, so B, the latest
// admitted, is preempted and put back first in line. A finishes its 8
// tokens (10 in the pool, 3 blocks), then B is recomputed.
func TestSchedulerPreempts(t *testing.T) {
	s := NewScheduler(SchedConfig{NumBlocks: 4, BlockSize: 4, MaxRunning: 2, StepTokens: 8})
	a, b, c := s.Submit(3, 8), s.Submit(3, 8), s.Submit(3, 2)
	s.Step()
	if st := s.Stats(); st.Running != 2 || st.Waiting != 1 || st.UsedBlocks != 2 {
		t.Fatalf("after step 1: %+v", st)
	}
	steps := 1
	for s.Stats().Finished < 3 && steps < 100 {
		s.Step()
		steps++
	}
	st := s.Stats()
	if st.Finished != 3 || st.Preemptions < 1 || st.UsedBlocks != 0 || st.GenerationTokens != 18 || st.PromptTokens != 9 {
		t.Errorf("after %d steps: %+v (want 3 finished, ≥ 1 preemption, 18 tokens generated, 9 prompt tokens)", steps, st)
	}
	for _, r := range []*Request{a, b, c} {
		if s.Err(r) != nil || r.generated != r.MaxTokens {
			t.Errorf("request %+v: %v", r, s.Err(r))
		}
	}
}

// TestTokenize: a BOS and one token per word; ids stay in [2, vocab).
func TestTokenize(t *testing.T) {
	ids := Tokenize("  hello   world\tagain\n", 100)
	if len(ids) != 4 || ids[0] != BOS {
		t.Fatalf("%v", ids)
	}
	for _, id := range ids[1:] {
		if id < 2 || id >= 100 {
			t.Errorf("id %d out of range", id)
		}
	}
}

// TestLeak: 3 MiB used of 10 MiB, 4 MiB per request: the first finished
// request grows it to 7 MiB, the second would reach 11 MiB and fires the
// one OOM with 3 MiB free; the memory stays at 7 MiB.
func TestLeak(t *testing.T) {
	g := NewGPUs("x", 10<<20, 1)
	g.Set(0, 3<<20)
	var got []TorchOOM
	l := &Leak{GPUs: g, Ranks: 1, PerRequest: 4 << 20, OnOOM: func(o TorchOOM) { got = append(got, o) }}
	for range 4 {
		l.Finished()
	}
	if len(got) != 1 || got[0].Free != 3<<20 || got[0].Request != 4<<20 || g.Used(0) != 7<<20 {
		t.Errorf("OOMs %+v, used %d", got, g.Used(0))
	}
}

// TestEnv reads the new variables and names every rejected one.
func TestEnv(t *testing.T) {
	vars := map[string]string{"SIM_LEAK_BYTES_PER_REQUEST": "1MiB", "SIM_CUDA_GRAPH_EXTRA_BYTES": "2GiB", "SIM_NUM_GPUS": "2"}
	e, err := Env{}.Load(func(k string) string { return vars[k] })
	if err != nil || e.LeakPerRequest != 1<<20 || e.GraphExtra != 2<<30 || e.NumGPUs != 2 {
		t.Errorf("%+v %v", e, err)
	}
	vars["SIM_NUM_GPUS"], vars["SIM_TOKEN_DELAY"] = "0", "soon"
	if _, err := (Env{}).Load(func(k string) string { return vars[k] }); err == nil {
		t.Error("bad values accepted")
	}
}
