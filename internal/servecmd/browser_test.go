package servecmd

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// browser starts headless Chromium from the distribution's package (CI's
// .ci/run installs it); without one the test skips, and fails under
// VRAMCALC_REQUIRE_BROWSER=1. Every request the page makes is recorded.
func browser(t *testing.T) (context.Context, *recorder) {
	t.Helper()
	var path string
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		if os.Getenv("VRAMCALC_REQUIRE_BROWSER") == "1" {
			t.Fatal("no chromium on PATH, and CI requires one (apt-get install chromium)")
		}
		t.Skip("no chromium on PATH: the browser test needs one (apt-get install chromium)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.WindowSize(1280, 1600),
		chromedp.UserDataDir(t.TempDir()))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	ctx, cancel3 := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(cancel3)
	rec := &recorder{}
	rec.watch(t, ctx)
	return ctx, rec
}

// recorder keeps the URL of every request of the tabs it watches.
type recorder struct {
	mu   sync.Mutex
	urls []string
}

// watch starts tab (when it is not yet) and records its requests.
func (r *recorder) watch(t *testing.T, tab context.Context) {
	t.Helper()
	if err := chromedp.Do(tab); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	err := chromedp.Listen(tab, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok {
			r.mu.Lock()
			r.urls = append(r.urls, e.Request.URL)
			r.mu.Unlock()
		}
	})
	if err != nil {
		t.Fatalf("watch the tab's requests: %v", err)
	}
}

// cell is the text of the row named key of the page's table id.
func cell(id, key string) string {
	return fmt.Sprintf(`document.querySelector('#%s tr[data-key="%s"] td:last-child').textContent`, id, key)
}

// TestPageInBrowser drives the page in headless Chromium: a model and a
// GPU from the URL, then engine and a limit changed in the form; the
// figures shown equal the CLI's -o json for the same inputs (the KV
// budget, the boundary, the launch line), the URL reproduces the view in a
// fresh tab, a bad memory size shows the CLI's error and hint, and the
// page requests nothing outside the server.
func TestPageInBrowser(t *testing.T) {
	ctx, requests := browser(t)
	vars := offlineVars(t)
	srv := start(t, Options{}, vars)
	str := func(expr string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		return v
	}
	step := func(steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatal(err)
		}
	}
	step(chromedp.Navigate(srv.URL+"/?model=meta-llama/Llama-3.1-8B-Instruct&gpu=L4"), chromedp.WaitVisible(chromedp.CSS("#startup")))
	tgiKV := str(cell("startup", "budget"))
	tgiRegion := checkTradeoff(t, ctx, vars, "tgi")
	// Change the engine and a limit as a user does: the page updates.
	step(chromedp.SetValue(chromedp.CSS(`select[name="engine"]`), "vllm"))
	str(`String(document.querySelector('select[name="engine"]').dispatchEvent(new Event("change", {bubbles: true})))`)
	step(chromedp.SetValue(chromedp.CSS(`input[name="max-model-len"]`), "16384"))
	str(`String(document.querySelector('input[name="max-model-len"]').dispatchEvent(new Event("input", {bubbles: true})))`)
	step(chromedp.WaitVisible(chromedp.Search(`//h2[contains(., "(vllm")]`)), chromedp.Sleep(500*time.Millisecond))
	vllmKV, boundary := str(cell("startup", "budget")), str(cell("boundary", "total"))
	launch, search := str(`document.querySelector("#launch").textContent`), str(`location.search`)
	// The rows are in the engine's own words, as the CLI prints them.
	if label := str(`document.querySelector('#boundary tr[data-key="total"] td').textContent`); label != "--max-model-len" {
		t.Errorf("vLLM's limit is labelled %q, want --max-model-len", label)
	}
	tgi := cliReport(t, vars, "estimate", "meta-llama/Llama-3.1-8B-Instruct", "--gpu", "l4", "-o", "json")
	vllm := cliReport(t, vars, "estimate", "meta-llama/Llama-3.1-8B-Instruct", "--gpu", "l4", "--engine", "vllm", "--max-model-len", "16384", "-o", "json")
	if tgiKV != fmt.Sprint(tgi.Startup.MaxBatchTotalTokens) || vllmKV != fmt.Sprint(vllm.Startup.MaxBatchTotalTokens) ||
		boundary != fmt.Sprint(vllm.Boundary.MaxTotalTokens) || launch != vllm.LaunchCommand {
		t.Errorf("page shows TGI KV %s, vLLM KV %s, boundary %s, launch %q; the CLI says %d, %d, %d, %q",
			tgiKV, vllmKV, boundary, launch, tgi.Startup.MaxBatchTotalTokens, vllm.Startup.MaxBatchTotalTokens, vllm.Boundary.MaxTotalTokens, vllm.LaunchCommand)
	}
	t.Logf("page: TGI KV budget %s; vLLM --max-model-len 16384: KV budget %s, boundary %s, launch %q, URL %s", tgiKV, vllmKV, boundary, launch, search)
	q, _ := url.ParseQuery(strings.TrimPrefix(search, "?"))
	if q.Get("engine") != "vllm" || q.Get("max-model-len") != "16384" || q.Get("model") != "meta-llama/Llama-3.1-8B-Instruct" {
		t.Errorf("the URL does not hold the view: %s", search)
	}
	vllmPoints := checkTradeoff(t, ctx, vars, "vllm")
	t.Logf("trade-off, the CLI's figure at each point: TGI (input, largest output) %v; vLLM (--max-model-len, requests at once) %v", tgiRegion, vllmPoints)
	checkCopy(t, ctx, srv.URL, launch)
	roundTrip(t, ctx, srv.URL+"/"+search, vllmKV)
	checkPlan(t, ctx, srv.URL, vars)
	badInput(t, ctx, srv.URL)
	requests.mu.Lock()
	defer requests.mu.Unlock()
	for _, r := range requests.urls {
		if !strings.HasPrefix(r, srv.URL) && !strings.HasPrefix(r, "data:") {
			t.Errorf("the page requested %s, outside the server", r)
		}
	}
	screenshot(t, ctx, srv.URL+"/?model=meta-llama/Llama-3.1-8B-Instruct&gpu=l4&engine=vllm&max-model-len=16384")
}

// cliReport is the CLI's -o json for args, decoded.
func cliReport(t *testing.T, vars map[string]string, args ...string) struct {
	Startup struct {
		MaxBatchTotalTokens int `json:"max_batch_total_tokens"`
	} `json:"startup"`
	Boundary struct {
		MaxTotalTokens int `json:"max_total_tokens"`
	} `json:"boundary"`
	LaunchCommand string `json:"launch_command"`
} {
	t.Helper()
	var r struct {
		Startup struct {
			MaxBatchTotalTokens int `json:"max_batch_total_tokens"`
		} `json:"startup"`
		Boundary struct {
			MaxTotalTokens int `json:"max_total_tokens"`
		} `json:"boundary"`
		LaunchCommand string `json:"launch_command"`
	}
	if err := json.Unmarshal([]byte(cliOut(t, vars, args...)), &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// roundTrip opens the view's URL in a fresh tab: the same figure shows.
func roundTrip(t *testing.T, ctx context.Context, u, want string) {
	t.Helper()
	tab, cancel := chromedp.NewContext(ctx)
	defer cancel()
	if err := chromedp.Do(tab, chromedp.Navigate(u), chromedp.WaitVisible(chromedp.Search(`//h2[contains(., "(vllm")]`))); err != nil {
		t.Fatal(err)
	}
	kv, err := chromedp.Run(tab, chromedp.Evaluate[string](cell("startup", "budget")))
	if err != nil {
		t.Fatal(err)
	}
	if kv != want {
		t.Errorf("the URL %s shows a KV budget of %s, the view %s", u, kv, want)
	}
}

// badInput: a memory size the CLI cannot read shows its error and hint.
func badInput(t *testing.T, ctx context.Context, base string) {
	t.Helper()
	tab, cancel := chromedp.NewContext(ctx)
	defer cancel()
	if err := chromedp.Do(tab, chromedp.Navigate(base+"/?model=meta-llama/Llama-3.1-8B-Instruct&vram=lots"),
		chromedp.WaitVisible(chromedp.Search(`//div[@id="error" and contains(., "hint:")]`))); err != nil {
		t.Fatal(err)
	}
	msg, err := chromedp.Run(tab, chromedp.Evaluate[string](`document.querySelector("#error").textContent`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(msg, "lots") || !strings.Contains(msg, "hint:") {
		t.Errorf("bad memory size: %q", msg)
	}
}

// screenshot saves the page as the README shows it when
// VRAMCALC_SCREENSHOT names a file (docs/serve.png is made so).
func screenshot(t *testing.T, ctx context.Context, u string) {
	out := os.Getenv("VRAMCALC_SCREENSHOT")
	if out == "" {
		return
	}
	tab, cancel := chromedp.NewContext(ctx)
	defer cancel()
	if err := chromedp.Do(tab, chromedp.Navigate(u), chromedp.WaitVisible(chromedp.CSS("#tradeoff circle.pt")), chromedp.Sleep(300*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	png, err := chromedp.Run(tab, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Clean(out), png, 0o644); err != nil {
		t.Fatal(err)
	}
}
