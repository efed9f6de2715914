package loadcmd

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/vramcalc/vramcalc/internal/cmdtest"
	"github.com/vramcalc/vramcalc/load"
)

// vllmServer is a loopback vLLM: one token a word plus BOS, the tokens
// asked for in one chunk each with usage last, 2 running requests, KV
// usage 0.125, 20 GiB used of the simulator's 22 GiB; after dieAfter
// generations (0: never) it closes its port and cuts the stream.
type vllmServer struct {
	srv      *httptest.Server
	dieAfter int
	mu       sync.Mutex
	n        int
}

func newVLLM(t *testing.T, dieAfter int) *vllmServer {
	v := &vllmServer{dieAfter: dieAfter}
	v.srv = httptest.NewServer(http.HandlerFunc(v.serve))
	t.Cleanup(v.srv.Close)
	return v
}

func (v *vllmServer) serve(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Prompt    string `json:"prompt"`
		MaxTokens int    `json:"max_tokens"`
	}
	_ = json.NewDecoder(r.Body).Decode(&body)
	switch r.URL.Path {
	case "/tokenize":
		fmt.Fprintf(w, `{"count":%d,"tokens":[]}`, len(strings.Fields(body.Prompt))+1)
	case "/metrics":
		fmt.Fprint(w, "vllm:num_requests_running{engine=\"0\"} 2\nvllm:num_requests_waiting{engine=\"0\"} 0\nvllm:kv_cache_usage_perc{engine=\"0\"} 0.125\n")
	case "/sim/gpus":
		fmt.Fprint(w, `[{"index":0,"uuid":"sim-0","name":"NVIDIA L4","total":23570219008,"used":21474836480,"free":2095382528}]`)
	case "/v1/completions":
		v.mu.Lock()
		v.n++
		dies := v.dieAfter > 0 && v.n > v.dieAfter
		v.mu.Unlock()
		for range body.MaxTokens {
			fmt.Fprint(w, "data: {\"choices\":[{\"index\":0,\"text\":\" hi\"}]}\n\n")
			w.(http.Flusher).Flush()
			if dies {
				v.srv.Listener.Close()
				panic(http.ErrAbortHandler)
			}
		}
		fmt.Fprintf(w, "data: {\"choices\":[],\"usage\":{\"completion_tokens\":%d}}\n\ndata: [DONE]\n\n", body.MaxTokens)
	case "/health":
	default:
		http.NotFound(w, r)
	}
}

// TestLoadJSON: two levels of 3 requests each against the loopback vLLM,
// with the estimate of Llama-3.1-8B on an L4 at --max-model-len 8192 as
// the prediction; the JSON names the fields, and the timeline
// file holds the header and the samples.
func TestLoadJSON(t *testing.T) {
	v := newVLLM(t, 0)
	tl := filepath.Join(t.TempDir(), "tl.jsonl")
	out, errOut, code := cmdtest.Run(t, Root, "--url", v.srv.URL, "--engine", "vllm", "--model", "meta-llama/Llama-3.1-8B-Instruct", "--gpu", "L4",
		"--max-model-len", "8192", "--sim-gpus", v.srv.URL, "--concurrency", "1,2", "--requests", "3", "--input-len", "64", "--output-len", "4",
		"--price", "0.8", "--timeline", tl, "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	var rep struct {
		Levels []struct {
			Concurrency   int                `json:"concurrency"`
			Requests      int                `json:"requests"`
			TTFT          map[string]float64 `json:"ttft_ms"`
			PeakUsedBytes []uint64           `json:"peak_used_bytes"`
			PeakKVUsage   float64            `json:"peak_kv_usage"`
			USD           *float64           `json:"usd_per_million_output_tokens"`
			MeanInputLen  float64            `json:"mean_input_len"`
		} `json:"levels"`
		Predicted *load.Predicted `json:"predicted"`
		Failures  []load.Failure  `json:"failures"`
		Timeline  string          `json:"timeline"`
		Price     load.Price      `json:"price"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(rep.Levels) != 2 || rep.Levels[1].Concurrency != 2 || rep.Levels[1].Requests != 3 || rep.Levels[0].PeakUsedBytes[0] != 20<<30 ||
		rep.Levels[0].PeakKVUsage != 0.125 || rep.Levels[0].USD == nil || len(rep.Failures) != 0 || rep.Timeline != tl ||
		rep.Levels[0].MeanInputLen != 64 || rep.Price != (load.Price{USDPerHour: 0.8, Source: load.PriceFlag}) {
		t.Errorf("report %s", out)
	}
	for _, k := range []string{"p50", "p90", "p99"} {
		if _, ok := rep.Levels[0].TTFT[k]; !ok {
			t.Errorf("ttft_ms lacks %s", k)
		}
	}
	// The estimate's vLLM pool on one L4 at --max-model-len 8192 is 33,808
	// tokens; a 64 + 4 token request holds ⌈68/16⌉ = 5 blocks of 16, so
	// ⌊33,808 / 80⌋ = 422 run at once; serving memory is below the card.
	if p := rep.Predicted; p == nil || p.KVPoolTokens != 33808 || p.MaxConcurrency != 422 || p.ServingBytes < 16<<30 || p.ServingBytes > 23570219008 {
		t.Errorf("predicted %+v", rep.Predicted)
	}
	b, err := os.ReadFile(tl)
	if err != nil || !strings.HasPrefix(string(b), `{"vramcalc_load_timeline":{"engine":"vllm"`) {
		t.Errorf("timeline %q, %v", b, err)
	}
}

// TestLoadServerDies: the third generation cuts its stream and the port
// closes: a runtime_oom, exit code 4, the report still printed.
func TestLoadServerDies(t *testing.T) {
	v := newVLLM(t, 2)
	out, errOut, code := cmdtest.Run(t, Root, "--url", v.srv.URL, "--engine", "vllm", "--concurrency", "1,4", "--requests", "5",
		"--input-len", "8", "--output-len", "3", "--timeline", "", "--sim-gpus", v.srv.URL)
	if code != ExitFailures {
		t.Fatalf("exit %d, want %d\n%s\n%s", code, ExitFailures, out, errOut)
	}
	for _, want := range []string{"FAILURE runtime_oom at", "after serving 2 requests", "GPU 0 20.00 of 21.95 GiB"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errOut, "warning: no --model") || !strings.Contains(errOut, "load: 1 failure(s): runtime_oom") {
		t.Errorf("stderr:\n%s", errOut)
	}
}

// TestLoadUsage: bad flags are usage errors (exit 2) with a hint.
func TestLoadUsage(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--engine", "vllm"}, "--url is required"},
		{[]string{"--url", "http://x", "--engine", "trt"}, `--engine "trt"`},
		{[]string{"--url", "http://x", "--engine", "vllm", "--context-length", "4096"}, "--context-length is a SGLang flag; the server is --engine vllm"},
		{[]string{"--url", "http://x", "--engine", "tgi", "--concurrency", "1,0"}, `"0" is not a positive number`},
		{[]string{"--url", "http://x", "--engine", "vllm", "--sampler", "rocm"}, `--sampler "rocm" is not a memory source`},
		{[]string{"--url", "http://x", "--engine", "vllm", "--input-len", "0"}, `--input-len: load: lengths "0": want a number of tokens`},
		{[]string{"--url", "http://x", "--engine", "vllm", "--output-len", "64:8"}, `--output-len: load: lengths "64:8": want MIN:MAX with 1 ≤ MIN ≤ MAX`},
		{[]string{"--url", "http://x", "--engine", "vllm", "--input-len", "lognormal:512"}, "want N, MIN:MAX or lognormal:MEDIAN:SIGMA"},
		{[]string{"--url", "http://x", "--engine", "vllm", "--price", "1", "--prices", "p.csv", "--timeline", ""}, "--price and --prices both given"},
	} {
		_, errOut, code := cmdtest.Run(t, Root, tt.args...)
		if code != 2 || !strings.Contains(errOut, tt.want) || !strings.Contains(errOut, "hint:") {
			t.Errorf("%v: exit %d\n%s", tt.args, code, errOut)
		}
	}
}

// TestLoadUnresolvedModel: a model that is not found offline is a warning
// and "predicted": null, never a guess.
func TestLoadUnresolvedModel(t *testing.T) {
	v := newVLLM(t, 0)
	out, errOut, code := cmdtest.Run(t, Root, "--url", v.srv.URL, "--engine", "vllm", "--model", "nobody/no-such-model", "--gpu", "L4",
		"--concurrency", "1", "--requests", "1", "--input-len", "8", "--output-len", "2", "--timeline", "", "-o", "json")
	if code != 0 || !strings.Contains(out, `"predicted": null`) || !strings.Contains(errOut, "warning: the model nobody/no-such-model cannot be resolved") {
		t.Errorf("exit %d\n%s\n%s", code, out, errOut)
	}
}

// TestLoadDistributionsAndPrices: drawn lengths and a price from plan's
// prices file. Prompts uniform over 32…96 tokens (mean 64), outputs over
// 2…6 (mean 4): the prediction is for 64 + 4 token requests, as in
// TestLoadJSON (422 at once on one L4). The file prices an L4 at 0.80
// USD/h: × 1 GPU with --gpu L4, × 2 with --gpus 2 and the sampler's
// "NVIDIA L4"; a file without the card is a warning and no cost.
func TestLoadDistributionsAndPrices(t *testing.T) {
	v := newVLLM(t, 0)
	dir := t.TempDir()
	prices, other := filepath.Join(dir, "prices.csv"), filepath.Join(dir, "h100.json")
	if err := os.WriteFile(prices, []byte("gpu,price\nH100,2.49\nL4,0.80\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(other, []byte(`{"H100": 2.49}`), 0o644); err != nil {
		t.Fatal(err)
	}
	base := []string{"--url", v.srv.URL, "--engine", "vllm", "--sim-gpus", v.srv.URL, "--concurrency", "1", "--requests", "4",
		"--input-len", "32:96", "--output-len", "2:6", "--seed", "3", "--timeline", ""}
	out, errOut, code := cmdtest.Run(t, Root, append(base, "--model", "meta-llama/Llama-3.1-8B-Instruct", "--gpu", "L4", "--max-model-len", "8192", "--prices", prices)...)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	for _, want := range []string{"prompts of 32:96 tokens (mean 64), 2:6 output tokens (mean 4) per request, drawn with seed 3",
		"price: 0.8 USD/h from " + prices + ": l4 at 0.8 USD/h × 1", "predicted 422 requests of this shape at once"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errOut, "warning: the prediction is for requests of the lengths' means, 64 prompt and 4 output tokens (--input-len 32:96, --output-len 2:6)") {
		t.Errorf("stderr:\n%s", errOut)
	}
	var rep load.Report
	out, errOut, code = cmdtest.Run(t, Root, append(base, "--gpus", "2", "--prices", prices, "-o", "json")...)
	if err := json.Unmarshal([]byte(out), &rep); code != 0 || err != nil {
		t.Fatalf("exit %d, %v\n%s\n%s", code, err, out, errOut)
	}
	if rep.Price != (load.Price{USDPerHour: 1.6, Source: load.PriceFile, Detail: prices + ": l4 at 0.8 USD/h × 2"}) || rep.Levels[0].USDPerMillionOutputTokens == nil {
		t.Errorf("price %+v, cost %v", rep.Price, rep.Levels[0].USDPerMillionOutputTokens)
	}
	if l := rep.Levels[0]; l.Requests != 4 || l.MeanInputLen < 32 || l.MeanInputLen > 96 || l.MeanOutputLen < 2 || l.MeanOutputLen > 6 || rep.InputLen != "32:96" || rep.Seed != 3 {
		t.Errorf("level %+v, input %q, seed %d", l, rep.InputLen, rep.Seed)
	}
	out, errOut, code = cmdtest.Run(t, Root, append(base, "--prices", other, "-o", "json")...)
	if code != 0 || !strings.Contains(errOut, "warning: --prices "+other+" has no price for l4: no cost figures") || !strings.Contains(out, `"source": "none"`) {
		t.Errorf("exit %d\n%s\n%s", code, out, errOut)
	}
	_, errOut, code = cmdtest.Run(t, Root, append(base, "--prices", filepath.Join(dir, "none.csv"))...)
	if code != 1 || !strings.Contains(errOut, "no such file") || !strings.Contains(errOut, "hint: --prices takes vramcalc plan's file") {
		t.Errorf("missing file: exit %d\n%s", code, errOut)
	}
}
