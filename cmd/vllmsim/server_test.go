package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vramcalc/vramcalc/internal/simkit"
	"github.com/vramcalc/vramcalc/probe"
)

// testServer serves a plan with a small pool: blocks of 16 tokens,
// max_num_seqs 2, 64 batched tokens, max_model_len 256.
func testServer(t *testing.T, blocks int, leak int64, log io.Writer) (*server, *httptest.Server) {
	t.Helper()
	m := &simkit.Model{Layers: 2, Hidden: 64, Heads: 4, Intermediate: 128, Vocab: 1000, WeightsBytes: 1 << 20}
	env := simkit.NewEnv(0, 0, 1, time.Now)
	env.TokenDelay, env.LeakPerRequest, env.GPUTotal = time.Millisecond, leak, 10<<20
	p := &plan{TP: 1, NonTorch: []int64{0}, Weights: 1 << 20, Layers: 2, BlockSize: 16, PageBytes: 1024, NumBlocks: blocks, MaxModelLen: 256, MaxSeqs: 2, MaxBatched: 64}
	a := defaultArgs()
	a.Model, a.ServedName = "toy", "toy"
	gpus := simkit.NewGPUs("sim", env.GPUTotal, 1)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	l := &launch{app: &app{ctx: ctx, log: newLogger(log, time.Now), watchdog: time.Millisecond}, Start: simkit.Start{Ctx: ctx, Env: env, GPUs: gpus, Ranks: p.TP}, args: a, model: m, plan: p}
	l.SetRanks(p.Serving)
	s := newServer(l)
	go s.Sched.Run(ctx)
	hs := httptest.NewServer(s.routes())
	t.Cleanup(hs.Close)
	return s, hs
}

func post(t *testing.T, url, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestStreamAndLimits streams 5 tokens of a 3-word prompt (4 tokens with
// the BOS): five text events, the last with finish_reason "length", the
// usage event {4, 9, 5}, then [DONE]; a prompt of 255 words (256 tokens)
// with 16 default output tokens gets vLLM's 400.
func TestStreamAndLimits(t *testing.T) {
	_, hs := testServer(t, 64, 0, io.Discard)
	resp, err := http.Post(hs.URL+"/v1/completions", "application/json", strings.NewReader(`{"prompt":"a b c","max_tokens":5,"stream":true,"stream_options":{"include_usage":true}}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var events []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if line, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			events = append(events, line)
		}
	}
	if len(events) != 7 || events[6] != "[DONE]" {
		t.Fatalf("%d events %q", len(events), events)
	}
	if !strings.Contains(events[4], `"finish_reason":"length"`) || !strings.Contains(events[3], `"finish_reason":null`) {
		t.Errorf("finish reasons: %s / %s", events[3], events[4])
	}
	if !strings.Contains(events[5], `"usage":{"prompt_tokens":4,"total_tokens":9,"completion_tokens":5}`) {
		t.Errorf("usage event %s", events[5])
	}
	long := strings.Repeat("w ", 255)
	status, body := post(t, hs.URL+"/v1/completions", `{"prompt":"`+long+`"}`)
	if status != 400 || !strings.Contains(body, "This model's maximum context length is 256 tokens. However, you requested 16 output tokens and your prompt contains 256 input tokens, for a total of 272 tokens.") {
		t.Errorf("%d %s", status, body)
	}
	status, body = post(t, hs.URL+"/tokenize", `{"prompt":"a b c"}`)
	if status != 200 || !strings.Contains(body, `"count":4,"max_model_len":256`) {
		t.Errorf("tokenize %d %s", status, body)
	}
}

// TestPreemption runs four requests of 40 tokens each (prompt 4 + 40
// generated = 3 blocks at the end) on a pool of 4 blocks with at most 2
// running: two are admitted with one block each, grow, and one is
// preempted; every request still completes, and the metrics show the
// preemptions and an empty pool.
func TestPreemption(t *testing.T) {
	s, hs := testServer(t, 4, 0, io.Discard)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			status, body := post(t, hs.URL+"/v1/chat/completions", `{"messages":[{"role":"user","content":"hi"}],"max_tokens":40}`)
			if status != 200 || !strings.Contains(body, `"completion_tokens":40`) {
				t.Errorf("%d %s", status, body)
			}
		})
	}
	wg.Wait()
	st := s.Sched.Stats()
	if st.Preemptions < 1 || st.Finished != 4 || st.UsedBlocks != 0 {
		t.Errorf("stats %+v: want ≥ 1 preemption, 4 finished, no block held", st)
	}
	_, metrics := get(t, hs.URL+"/metrics")
	if got := (probe.VLLM{}).ParseMetrics(metrics); got != 4*16 {
		t.Errorf("cache_config_info gives %d tokens, want 64:\n%s", got, metrics)
	}
	if !strings.Contains(metrics, `vllm:num_preemptions_total{engine="0",model_name="toy"} `) {
		t.Errorf("no preemption counter:\n%s", metrics)
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestLeakEndsInOOM: serving takes 1 MiB + 64 blocks · 2 KiB = 1.125 MiB
// of a 10 MiB card and each request leaks 4 MiB, so the third finished
// request would pass the total (9.125 + 4 > 10 MiB): the engine logs
// torch's OOM (probe reads a 4.00 MiB request and 0.875 MiB = "896.00 KiB" free), /health
// answers 503, new requests fail and the watchdog stops the server.
func TestLeakEndsInOOM(t *testing.T) {
	var log syncBuffer
	s, hs := testServer(t, 64, 4<<20, &log)
	for i := range 3 {
		status, _ := post(t, hs.URL+"/v1/completions", `{"prompt":"x","max_tokens":2}`)
		if status != 200 {
			t.Fatalf("request %d: %d", i, status)
		}
	}
	select {
	case <-s.Die:
	case <-time.After(10 * time.Second):
		t.Fatal("the watchdog never stopped the server")
	}
	if status, _ := get(t, hs.URL+"/health"); status != 503 {
		t.Errorf("/health %d after the OOM", status)
	}
	if status, _ := post(t, hs.URL+"/v1/completions", `{"prompt":"x","max_tokens":2}`); status != 500 {
		t.Errorf("a request after the OOM: %d", status)
	}
	var r probe.Reported
	for _, line := range strings.Split(log.String(), "\n") {
		(probe.VLLM{}).ParseLog(line, &r)
	}
	if r.OOMRequestBytes != 4<<20 || r.OOMFreeBytes != 917504 {
		t.Errorf("probe read request %d, free %d from:\n%s", r.OOMRequestBytes, r.OOMFreeBytes, log.String())
	}
	if !strings.Contains(log.String(), "EngineCore encountered a fatal error.") || !strings.Contains(log.String(), "Engine failed, terminating server.") {
		t.Errorf("log:\n%s", log.String())
	}
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
