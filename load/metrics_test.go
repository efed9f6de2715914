package load

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"
)

// TestMetrics: vLLM with two data-parallel engines sums running (3 + 4 =
// 7) and waiting, keeps the higher usage (0.5); TGI's usage is the batch's
// max tokens over the budget, 600 / 2400 = 0.25, with no preemptions;
// SGLang without --enable-metrics gives nothing (all absent).
func TestMetrics(t *testing.T) {
	vllm := "# HELP vllm:num_requests_running x\n# TYPE vllm:num_requests_running gauge\n" +
		"vllm:num_requests_running{engine=\"0\",model_name=\"m\"} 3.0\nvllm:num_requests_running{engine=\"1\",model_name=\"m\"} 4.0\n" +
		"vllm:num_requests_waiting{engine=\"0\"} 2\nvllm:kv_cache_usage_perc{engine=\"0\"} 0.5\nvllm:kv_cache_usage_perc{engine=\"1\"} 0.25\n" +
		"vllm:num_preemptions_total{engine=\"0\"} 9\nvllm:num_preemptions_created{engine=\"0\"} 1.7e9\n" +
		"vllm:time_to_first_token_seconds_bucket{le=\"+Inf\",engine=\"0\"} 12\n"
	g := vllmMetrics.read(parseMetrics([]byte(vllm)))
	if *g.running != 7 || *g.waiting != 2 || *g.kv != 0.5 || *g.preempted != 9 {
		t.Errorf("vLLM: running %d waiting %d kv %v preempted %d", *g.running, *g.waiting, *g.kv, *g.preempted)
	}
	g = tgiMetrics.read(parseMetrics([]byte("tgi_batch_current_size 3\ntgi_queue_size 5\ntgi_batch_current_max_tokens 600\ntgi_batch_max_total_tokens 2400\n")))
	if *g.running != 3 || *g.waiting != 5 || *g.kv != 0.25 || g.preempted != nil {
		t.Errorf("TGI: %+v", g)
	}
	if g = sglangMetrics.read(parseMetrics([]byte("{\"detail\":\"Not Found\"}"))); g.kv != nil || g.running != nil || g.waiting != nil {
		t.Errorf("SGLang without metrics: %+v", g)
	}
}

// TestTimelineCSV: a .csv timeline reads back as written, an absent value
// as absent, and a last line cut short is skipped.
func TestTimelineCSV(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.csv")
	h := Header{Engine: EngineSGLang, URL: "http://x", GPUs: []GPU{{Index: 0, Total: 100}, {Index: 1, Total: 100}}, Levels: []int{1, 8}}
	w, err := createTimeline(path, h)
	if err != nil {
		t.Fatal(err)
	}
	kv, run := 0.25, 3
	for _, p := range []Point{{T: 0, Level: 1, UsedBytes: []uint64{10, 20}, KVUsage: &kv, Running: &run}, {T: 0.1, Level: 8}} {
		if err := w.write(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.close(); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	b = append(b, []byte("0.2,8,3")...) // cut short
	got, pts, err := ReadTimeline(bytes.NewReader(b))
	if err != nil || got.Engine != EngineSGLang || len(pts) != 2 {
		t.Fatalf("%+v %d points, %v", got, len(pts), err)
	}
	if pts[0].UsedBytes[1] != 20 || *pts[0].KVUsage != 0.25 || *pts[0].Running != 3 || pts[0].Waiting != nil || pts[1].UsedBytes != nil || pts[1].T != 0.1 {
		t.Errorf("points %+v %+v", pts[0], pts[1])
	}
	if _, _, err := ReadTimeline(bytes.NewReader([]byte("t_s,level\n"))); !errors.Is(err, ErrNotTimeline) {
		t.Errorf("not a timeline: %v", err)
	}
}

// TestPromptUnreachable: SGLang's fake counts w + ⌊w/2⌋ + 1 tokens for w
// words, which is never a multiple of 3: 300 tokens cannot be asked for,
// and Run says so before any load.
func TestPromptUnreachable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeEngine{engine: EngineSGLang, ttft: func(int) time.Duration { return 0 }, used: flat(1), total: 2}
		_, err := Run(context.Background(), Config{URL: "http://engine", Engine: EngineSGLang, HTTP: &http.Client{Transport: memTransport{f}},
			Concurrency: []int{1}, InputLen: 300, OutputLen: 8, Requests: 1})
		if !errors.Is(err, ErrPrompt) || f.arrivals != 0 {
			t.Errorf("err %v after %d requests", err, f.arrivals)
		}
	})
}
