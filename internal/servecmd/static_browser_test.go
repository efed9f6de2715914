package servecmd

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// buildEngine builds the page's engine for the browser as go generate does
// (genwasm), into a temporary directory: the test never uses an embedded
// copy that may be older than the source.
func buildEngine(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("go", "run", "./genwasm", "-out", dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go run ./genwasm: %v\n%s", err, out)
	}
	return dir
}

// TestStaticPageInBrowser exports the page (vramcalc serve --export) and
// opens it from file:// in headless Chromium, with no server: the engine in
// WebAssembly answers from the embedded catalogs, the figures shown and
// the JSON it answers are the CLI's, a model outside the catalog says why,
// and the page requests nothing but its own files.
func TestStaticPageInBrowser(t *testing.T) {
	ctx, requests := browser(t)
	vars := offlineVars(t)
	dir := t.TempDir()
	n, err := Export(dir, os.DirFS(buildEngine(t)))
	if err != nil {
		t.Fatal(err)
	}
	gz, err := os.Stat(filepath.Join(dir, exportEngine))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("export: %d bytes in all, %s %d bytes", n, exportEngine, gz.Size())
	base := "file://" + filepath.ToSlash(dir) + "/" + exportPage
	const target = "/api/estimate?model=meta-llama/Llama-3.1-8B-Instruct&gpu=l4&engine=vllm&max-model-len=16384"
	t0 := time.Now()
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"?model=meta-llama/Llama-3.1-8B-Instruct&gpu=l4&engine=vllm&max-model-len=16384"),
		chromedp.WaitVisible(chromedp.CSS("#startup"))); err != nil {
		t.Fatal(err)
	}
	t.Logf("static page: first figures %v after the navigation (decode, compile and start the engine, then answer)", time.Since(t0).Round(time.Millisecond))
	str := func(expr string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		return v
	}
	want := cliOut(t, vars, "estimate", "meta-llama/Llama-3.1-8B-Instruct", "--gpu", "l4", "--engine", "vllm", "--max-model-len", "16384", "-o", "json")
	if got := str(`vramcalcAPI(` + jsString(target) + `).then(r => r.body)`); got != want {
		t.Errorf("the page's engine answers\n%s\nthe CLI prints\n%s", got, want)
	}
	cli := cliReport(t, vars, "estimate", "meta-llama/Llama-3.1-8B-Instruct", "--gpu", "l4", "--engine", "vllm", "--max-model-len", "16384", "-o", "json")
	kv, boundary, launch := str(cell("startup", "budget")), str(cell("boundary", "total")), str(`document.querySelector("#launch").textContent`)
	if kv != itoa(cli.Startup.MaxBatchTotalTokens) || boundary != itoa(cli.Boundary.MaxTotalTokens) || launch != cli.LaunchCommand {
		t.Errorf("static page shows KV %s, boundary %s, launch %q; the CLI says %d, %d, %q", kv, boundary, launch,
			cli.Startup.MaxBatchTotalTokens, cli.Boundary.MaxTotalTokens, cli.LaunchCommand)
	}
	t.Logf("static page: vLLM --max-model-len 16384 on an L4: KV budget %s, boundary %s", kv, boundary)
	if href := str(`document.querySelector("#download").href`); !strings.HasPrefix(href, "blob:") {
		t.Errorf("download JSON links %s, want a blob of the answer", href)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"?model=meta-llama/Llama-3.1-8B-Instruct&gpu=l4&engine=sglang&context-length=8192"),
		chromedp.WaitVisible(chromedp.Search(`//h2[contains(., "(sglang")]`))); err != nil {
		t.Fatal(err)
	}
	t.Logf("static page, SGLang (--context-length, requests at once): %v", checkTradeoff(t, ctx, vars, "sglang"))
	if err := chromedp.Do(ctx, chromedp.Navigate(base+planQuery), chromedp.WaitVisible(chromedp.CSS("#plan"))); err != nil {
		t.Fatal(err)
	}
	if costs, _ := planWant(t, vars); planColumn(t, ctx, "cost") != strings.Join(costs, ",") {
		t.Errorf("static plan $/hour %s, the CLI's %v", planColumn(t, ctx, "cost"), costs)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"?model=acme/not-in-catalog&gpu=l4"),
		chromedp.WaitVisible(chromedp.Search(`//div[@id="error" and contains(., "hint:")]`))); err != nil {
		t.Fatal(err)
	}
	if msg := str(`document.querySelector("#error").textContent`); !strings.Contains(msg, "embedded catalog only") {
		t.Errorf("a model outside the catalog: %q", msg)
	}
	time.Sleep(200 * time.Millisecond)
	requests.mu.Lock()
	urls := slices.Clone(requests.urls)
	requests.mu.Unlock()
	cspBlocks(t, ctx)
	for _, r := range urls {
		if !strings.HasPrefix(r, "file://"+filepath.ToSlash(dir)+"/") && !strings.HasPrefix(r, "blob:") && !strings.HasPrefix(r, "data:") {
			t.Errorf("the static page requested %s", r)
		}
	}
}

// jsString is s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func itoa(n int) string { return strconv.Itoa(n) }

// cspBlocks: the exported page's policy refuses a connection anywhere.
func cspBlocks(t *testing.T, ctx context.Context) {
	t.Helper()
	got, err := chromedp.Run(ctx, chromedp.Evaluate[string](`new Promise(done => {
		document.addEventListener("securitypolicyviolation", e => done(e.effectiveDirective));
		fetch("http://127.0.0.1:9/").catch(() => setTimeout(() => done("not refused by the policy"), 500));
	})`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if got != "connect-src" {
		t.Errorf("a fetch from the static page: %s, want refused by connect-src", got)
	}
}
