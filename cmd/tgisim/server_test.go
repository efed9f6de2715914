package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vramcalc/vramcalc/internal/simkit"
)

// newTestServer serves a started simulator with numBlocks KV blocks of one
// token (one kept for health checks), max input/total tokens, and a vocab
// of 1000, on two GPUs of 1000 bytes of which GPU 0 uses 600.
func newTestServer(t *testing.T, numBlocks int64, maxInput, maxTotal int, argv []string, tokenDelay time.Duration) (*server, *httptest.Server) {
	t.Helper()
	a, err := parseArgs(argv, envMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	m := &simkit.Model{Layers: 2, Hidden: 64, Heads: 2, Intermediate: 128, Vocab: 1000, WeightsBytes: 1}
	st := &startup{Plan: &launchPlan{BlockSize: 1}, NumBlocks: numBlocks, MaxBatchTotalTokens: numBlocks, MaxInputTokens: maxInput, MaxTotalTokens: maxTotal}
	gpus := simkit.NewGPUs("NVIDIA H100 80GB HBM3", 1000, 2)
	gpus.Set(0, 600)
	s := newServer(a, m, st, gpus, tokenDelay)
	ts := httptest.NewServer(s.routes())
	t.Cleanup(ts.Close)
	return s, ts
}

func post(t *testing.T, url, body string) (int, string, http.Header) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

// postStatus is a POST for goroutines other than the test's: 0 on a transport error.
func postStatus(url, body string) int {
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
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

func words(n int) string { return strings.TrimSpace(strings.Repeat("word ", n)) }

func TestGenerateValidation(t *testing.T) {
	_, ts := newTestServer(t, 101, 50, 100, nil, 0)
	tests := []struct {
		name   string
		body   string
		status int
		error  string
	}{
		{"input + new tokens above T", fmt.Sprintf(`{"inputs":%q,"parameters":{"max_new_tokens":61}}`, words(40)), 422,
			"Input validation error: `inputs` tokens + `max_new_tokens` must be <= 100. Given: 40 `inputs` tokens and 61 `max_new_tokens`"},
		{"input above I", fmt.Sprintf(`{"inputs":%q,"parameters":{"max_new_tokens":10}}`, words(60)), 422,
			"Input validation error: `inputs` must have less than 50 tokens. Given: 60"},
		{"input of exactly I is accepted", fmt.Sprintf(`{"inputs":%q,"parameters":{"max_new_tokens":10}}`, words(50)), 200, ""},
		// v3.1.1+: only min(max_new_tokens, 1024) is validated.
		{"max_new_tokens above 1024 validated as 1024", fmt.Sprintf(`{"inputs":%q,"parameters":{"max_new_tokens":5000}}`, words(5)), 422,
			"Input validation error: `inputs` tokens + `max_new_tokens` must be <= 100. Given: 5 `inputs` tokens and 1024 `max_new_tokens`"},
		{"zero new tokens", `{"inputs":"hi","parameters":{"max_new_tokens":0}}`, 422, "Input validation error: `max_new_tokens` must be strictly positive"},
		{"empty inputs", `{"inputs":"","parameters":{"max_new_tokens":1}}`, 422, "Input validation error: `inputs` cannot be empty"},
		{"five stop sequences", `{"inputs":"hi","parameters":{"max_new_tokens":1,"stop":["a","b","c","d","e"]}}`, 422,
			"Input validation error: `stop` supports up to 4 stop sequences. Given: 5"},
		{"truncate above I", `{"inputs":"hi","parameters":{"max_new_tokens":1,"truncate":51}}`, 422,
			"Input validation error: `truncate` must be strictly positive and less than 50. Given: 51"},
		{"truncate shortens the input", fmt.Sprintf(`{"inputs":%q,"parameters":{"max_new_tokens":10,"truncate":50}}`, words(70)), 200, ""},
		{"temperature", `{"inputs":"hi","parameters":{"max_new_tokens":1,"temperature":0}}`, 422, "Input validation error: `temperature` must be strictly positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body, _ := post(t, ts.URL+"/generate", tt.body)
			if status != tt.status {
				t.Fatalf("status %d (%s), want %d", status, body, tt.status)
			}
			if tt.error == "" {
				return
			}
			var e struct {
				Error     string `json:"error"`
				ErrorType string `json:"error_type"`
			}
			if err := json.Unmarshal([]byte(body), &e); err != nil {
				t.Fatal(err)
			}
			if e.Error != tt.error || e.ErrorType != "validation" {
				t.Errorf("error %q (%s)\nwant %q", e.Error, e.ErrorType, tt.error)
			}
		})
	}
	if status, body, _ := post(t, ts.URL+"/generate", `{"inputs":"hi","parameters":{"max_new_tokens":-1}}`); status != 422 || !strings.Contains(body, "Failed to deserialize the JSON body") {
		t.Errorf("negative max_new_tokens: %d %s", status, body)
	}
}

func TestGenerateDetails(t *testing.T) {
	_, ts := newTestServer(t, 101, 50, 100, nil, 0)
	status, body, hdr := post(t, ts.URL+"/generate", `{"inputs":"the quick brown fox","parameters":{"max_new_tokens":5,"details":true,"stop":[]}}`)
	if status != 200 {
		t.Fatalf("status %d: %s", status, body)
	}
	var r struct {
		GeneratedText string `json:"generated_text"`
		Details       struct {
			FinishReason    string            `json:"finish_reason"`
			GeneratedTokens int               `json:"generated_tokens"`
			Tokens          []json.RawMessage `json:"tokens"`
		} `json:"details"`
	}
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatal(err)
	}
	if r.GeneratedText != " the simulated model writes one" || r.Details.FinishReason != "length" || r.Details.GeneratedTokens != 5 || len(r.Details.Tokens) != 5 {
		t.Errorf("got %+v", r)
	}
	if hdr.Get("x-prompt-tokens") != "4" || hdr.Get("x-generated-tokens") != "5" {
		t.Errorf("headers %v", hdr)
	}
	// A stop sequence ends the generation with stop_sequence.
	_, body, _ = post(t, ts.URL+"/generate", `{"inputs":"hi","parameters":{"max_new_tokens":10,"details":true,"stop":["writes"]}}`)
	if !strings.Contains(body, `"finish_reason":"stop_sequence"`) || !strings.Contains(body, `"generated_tokens":4`) {
		t.Errorf("stop sequence: %s", body)
	}
}

// TestGenerateChunks: TGI ≥ 3.1.1 generates in rounds of 1024 tokens,
// re-validating with the grown input and the same max_new_tokens, until
// max_new_tokens is reached, so 1500 asks for two rounds of 1024.
func TestGenerateChunks(t *testing.T) {
	_, ts := newTestServer(t, 10001, 4999, 5000, nil, 0)
	_, body, _ := post(t, ts.URL+"/generate", `{"inputs":"hi","parameters":{"max_new_tokens":1500,"details":true}}`)
	if !strings.Contains(body, `"generated_tokens":2048`) {
		t.Errorf("want 2 rounds of 1024: %.200s", body)
	}
	// The second round stops when input + 1024 no longer fits T = 3000.
	_, ts = newTestServer(t, 10001, 2999, 3000, nil, 0)
	_, body, _ = post(t, ts.URL+"/generate", fmt.Sprintf(`{"inputs":%q,"parameters":{"max_new_tokens":3000,"details":true}}`, words(1000)))
	// Round 1: 1000 + 1024 ≤ 3000; round 2: 2024 + 1024 > 3000, stop.
	if !strings.Contains(body, `"generated_tokens":1024`) {
		t.Errorf("want one round: %.200s", body)
	}
}

func metricValue(t *testing.T, body, name string) int64 {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\d+)$`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("metric %s missing in\n%s", name, body)
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	return n
}

// TestConcurrencyGating: 101 blocks leave 100 to requests; each request of
// 10 input and 40 new tokens needs 10 + 40 − 1 = 49, so two run and the
// third waits until one finishes.
func TestConcurrencyGating(t *testing.T) {
	_, ts := newTestServer(t, 101, 50, 100, nil, 10*time.Millisecond)
	body := fmt.Sprintf(`{"inputs":%q,"parameters":{"max_new_tokens":40}}`, words(10))
	var wg sync.WaitGroup
	statuses := make([]int, 3)
	for i := range 3 {
		wg.Go(func() { statuses[i] = postStatus(ts.URL+"/generate", body) })
	}
	deadline := time.Now().Add(3 * time.Second)
	seen := false
	for time.Now().Before(deadline) {
		_, m := get(t, ts.URL+"/metrics")
		if metricValue(t, m, "tgi_queue_size") == 1 && metricValue(t, m, "tgi_batch_current_size") == 2 {
			if got := metricValue(t, m, "tgi_batch_current_max_tokens"); got != 100 {
				t.Errorf("batch max tokens %d, want 2·(10 + 40) = 100", got)
			}
			seen = true
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	wg.Wait()
	if !seen {
		t.Errorf("never saw 2 running and 1 queued")
	}
	for i, s := range statuses {
		if s != 200 {
			t.Errorf("request %d: status %d", i, s)
		}
	}
	_, m := get(t, ts.URL+"/metrics")
	for name, want := range map[string]int64{"tgi_batch_max_total_tokens": 101, "tgi_batch_current_max_tokens": 0, "tgi_batch_current_size": 0, "tgi_queue_size": 0, "tgi_request_count": 3, "tgi_request_success": 3} {
		if got := metricValue(t, m, name); got != want {
			t.Errorf("%s = %d, want %d", name, got, want)
		}
	}
}

func TestKVSchedulerFIFO(t *testing.T) {
	s := newKVScheduler(101, 1, 0) // 100 usable blocks
	ctx := context.Background()
	rel1, err := s.acquire(ctx, 20, 41, 0) // 60 blocks
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 2)
	var rels [2]func()
	var wg sync.WaitGroup
	wg.Go(func() {
		r, _ := s.acquire(ctx, 10, 41, 0) // 50 blocks
		rels[0] = r
		got <- "50"
	})
	waitQueued(t, s, 1)
	// 10 would fit in the 40 left, but the head of the queue blocks it.
	wg.Go(func() {
		r, _ := s.acquire(ctx, 5, 6, 0) // 10 blocks
		rels[1] = r
		got <- "10"
	})
	waitQueued(t, s, 2)
	if tokens, blocks, running, queued := s.stats(); tokens != 61 || blocks != 60 || running != 1 || queued != 2 {
		t.Errorf("stats %d %d %d %d, want 61 60 1 2", tokens, blocks, running, queued)
	}
	rel1()
	wg.Wait()
	if a, b := <-got, <-got; !(a == "50" && b == "10") && !(a == "10" && b == "50") {
		t.Errorf("grants %s %s", a, b)
	}
	if tokens, blocks, running, queued := s.stats(); tokens != 51+11 || blocks != 60 || running != 2 || queued != 0 {
		t.Errorf("stats %d %d %d %d, want 62 60 2 0", tokens, blocks, running, queued)
	}
	rels[0]()
	rels[1]()
	// A waiter whose client goes away leaves the queue.
	rel, _ := s.acquire(ctx, 50, 51, 0) // all 100 blocks
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error)
	go func() { _, err := s.acquire(cctx, 1, 1, 0); done <- err }()
	waitQueued(t, s, 1)
	cancel()
	if err := <-done; err == nil {
		t.Errorf("cancelled acquire returned no error")
	}
	if _, _, _, queued := s.stats(); queued != 0 {
		t.Errorf("cancelled waiter still queued")
	}
	rel()
	if tokens, blocks, running, _ := s.stats(); tokens != 0 || blocks != 0 || running != 0 {
		t.Errorf("after release: %d tokens, %d blocks, %d running", tokens, blocks, running)
	}
}

func waitQueued(t *testing.T, s *kvScheduler, n int) {
	t.Helper()
	for range 1000 {
		if _, _, _, q := s.stats(); q == n {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("queue never reached %d", n)
}

func TestInfoHealthGPUs(t *testing.T) {
	_, ts := newTestServer(t, 101, 50, 100, []string{"--model-id", "org/model"}, 0)
	if status, body := get(t, ts.URL+"/health"); status != 200 || body != "" {
		t.Errorf("health %d %q", status, body)
	}
	_, body := get(t, ts.URL+"/info")
	var info map[string]any
	json.Unmarshal([]byte(body), &info)
	want := map[string]any{"model_id": "org/model", "max_input_tokens": 50.0, "max_total_tokens": 100.0, "version": "3.3.7-sim", "router": "text-generation-router", "max_concurrent_requests": 128.0, "max_best_of": 2.0, "max_stop_sequences": 4.0, "validation_workers": 2.0, "max_client_batch_size": 4.0}
	for k, v := range want {
		if info[k] != v {
			t.Errorf("info %s = %v, want %v", k, info[k], v)
		}
	}
	for _, k := range []string{"model_sha", "model_pipeline_tag", "sha", "docker_label"} {
		if _, ok := info[k]; !ok {
			t.Errorf("info lacks %s", k)
		}
	}
	if _, ok := info["max_batch_total_tokens"]; ok {
		t.Errorf("v3 /info has no max_batch_total_tokens")
	}

	_, body = get(t, ts.URL+"/sim/gpus")
	var gpus []map[string]any
	if err := json.Unmarshal([]byte(body), &gpus); err != nil {
		t.Fatal(err)
	}
	if len(gpus) != 2 {
		t.Fatalf("%d GPUs, want 2", len(gpus))
	}
	keys := make([]string, 0)
	for k := range gpus[0] {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if strings.Join(keys, ",") != "free,index,name,total,used,uuid" {
		t.Errorf("keys %v: the contract is exactly index, uuid, name, total, used, free", keys)
	}
	if gpus[0]["uuid"] != "sim-0" || gpus[0]["used"] != 600.0 || gpus[0]["free"] != 400.0 || gpus[0]["total"] != 1000.0 || gpus[1]["used"] != 0.0 || gpus[1]["index"] != 1.0 || gpus[0]["name"] != "NVIDIA H100 80GB HBM3" {
		t.Errorf("gpus %v", gpus)
	}
	if status, _, _ := post(t, ts.URL+"/health", ""); status != http.StatusMethodNotAllowed {
		t.Errorf("POST /health: %d", status)
	}
}

func TestTokenize(t *testing.T) {
	_, ts := newTestServer(t, 101, 50, 100, nil, 0)
	_, body, _ := post(t, ts.URL+"/tokenize", `{"inputs":"hello  big\tworld"}`)
	var toks []token
	if err := json.Unmarshal([]byte(body), &toks); err != nil {
		t.Fatal(err)
	}
	want := []struct {
		text        string
		start, stop int
	}{{"hello", 0, 5}, {"big", 7, 10}, {"world", 11, 16}}
	if len(toks) != len(want) {
		t.Fatalf("tokens %+v", toks)
	}
	for i, w := range want {
		if toks[i].Text != w.text || toks[i].Start != w.start || toks[i].Stop != w.stop || toks[i].ID >= 1000 {
			t.Errorf("token %d = %+v, want %+v", i, toks[i], w)
		}
	}
	// Same word, same id.
	if again := tokenize("world", 1000); again[0].ID != toks[2].ID {
		t.Errorf("ids are not deterministic")
	}
}

func TestChatCompletions(t *testing.T) {
	_, ts := newTestServer(t, 101, 50, 100, []string{"--model-id", "org/model"}, 0)
	// Prompt "system: be brief\nuser: say hi\nassistant:" = 7 tokens.
	status, body, _ := post(t, ts.URL+"/v1/chat/completions", `{"model":"tgi","messages":[{"role":"system","content":"be brief"},{"role":"user","content":[{"type":"text","text":"say hi"}]}],"max_tokens":3}`)
	if status != 200 {
		t.Fatalf("%d %s", status, body)
	}
	var r struct {
		Object  string
		Choices []struct {
			Message      struct{ Role, Content string }
			FinishReason string `json:"finish_reason"`
		}
		Usage struct {
			Prompt     int `json:"prompt_tokens"`
			Completion int `json:"completion_tokens"`
			Total      int `json:"total_tokens"`
		}
	}
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatal(err)
	}
	if r.Object != "chat.completion" || len(r.Choices) != 1 || r.Choices[0].Message.Content != "the simulated model" || r.Choices[0].FinishReason != "length" || r.Usage.Prompt != 7 || r.Usage.Completion != 3 || r.Usage.Total != 10 {
		t.Errorf("got %+v", r)
	}
	status, body, _ = post(t, ts.URL+"/v1/chat/completions", `{"messages":[{"role":"user","content":"hi"}],"max_tokens":99}`)
	if status != 422 || !strings.Contains(body, "`inputs` tokens + `max_new_tokens` must be <= 100. Given: 3 `inputs` tokens and 99 `max_new_tokens`") {
		t.Errorf("chat validation: %d %s", status, body)
	}
}

func TestOverloaded(t *testing.T) {
	_, ts := newTestServer(t, 101, 50, 100, []string{"--max-concurrent-requests", "1"}, 20*time.Millisecond)
	done := make(chan int)
	go func() {
		done <- postStatus(ts.URL+"/generate", `{"inputs":"hi","parameters":{"max_new_tokens":20}}`)
	}()
	time.Sleep(100 * time.Millisecond)
	status, body, _ := post(t, ts.URL+"/generate", `{"inputs":"hi","parameters":{"max_new_tokens":1}}`)
	if status != 429 || !strings.Contains(body, `"error":"Model is overloaded","error_type":"overloaded"`) {
		t.Errorf("second request: %d %s", status, body)
	}
	if s := <-done; s != 200 {
		t.Errorf("first request: %d", s)
	}
}
