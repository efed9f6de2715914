package servecmd

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
)

// evalIn is expr's string value in tab (a promise is awaited).
func evalIn(t *testing.T, tab context.Context, expr string) string {
	t.Helper()
	v, err := chromedp.Run(tab, chromedp.Evaluate[string](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return v
}

// tradeoffPoints are the chart's points, [x, y] as the page drew them.
func tradeoffPoints(t *testing.T, tab context.Context) [][2]int {
	t.Helper()
	if err := chromedp.Do(tab, chromedp.WaitVisible(chromedp.CSS("#tradeoff circle.pt"))); err != nil {
		t.Fatal(err)
	}
	var pts [][2]int
	raw := evalIn(t, tab, `JSON.stringify([...document.querySelectorAll("#tradeoff circle.pt")].map(c => [+c.dataset.x, +c.dataset.y]))`)
	if err := json.Unmarshal([]byte(raw), &pts); err != nil || len(pts) < 4 {
		t.Fatalf("trade-off points %s: %v", raw, err)
	}
	return pts
}

// checkTradeoff: every point of the chart is the CLI's figure at its limit
// (TGI: the largest output that starts at that --max-input-tokens; vLLM
// and SGLang: the requests of that --max-model-len or --context-length
// that fit at once).
func checkTradeoff(t *testing.T, tab context.Context, vars map[string]string, engine string) [][2]int {
	t.Helper()
	pts := tradeoffPoints(t, tab)
	for _, p := range pts {
		args := []string{"estimate", "meta-llama/Llama-3.1-8B-Instruct", "--gpu", "l4", "--engine", engine, "-o", "json"}
		var r struct {
			Fits    bool
			Startup struct {
				MaxConcurrent int `json:"max_concurrent_requests"`
			}
			Boundary struct {
				Input int `json:"max_input_tokens"`
				Total int `json:"max_total_tokens"`
			}
		}
		want := 0
		if engine == "tgi" {
			_ = json.Unmarshal([]byte(cliOut(t, vars, append(args, "--max-input-tokens", fmt.Sprint(p[0]))...)), &r)
			want = r.Boundary.Total - r.Boundary.Input
		} else {
			flag := map[string]string{"vllm": "--max-model-len", "sglang": "--context-length"}[engine]
			_ = json.Unmarshal([]byte(cliOut(t, vars, append(args, flag, fmt.Sprint(p[0]))...)), &r)
			if r.Fits {
				want = r.Startup.MaxConcurrent
			}
		}
		if p[1] != want {
			t.Errorf("%s trade-off at %d: the page draws %d, the CLI says %d", engine, p[0], p[1], want)
		}
	}
	return pts
}

// checkCopy: the copy button puts the launch line on the clipboard.
func checkCopy(t *testing.T, tab context.Context, origin, want string) {
	t.Helper()
	for _, name := range []string{"clipboard-read", "clipboard-write"} {
		if _, err := chromedp.CallBrowser(tab, cdpbrowser.SetPermission, cdpbrowser.SetPermissionParams{
			Permission: &cdpbrowser.PermissionDescriptor{Name: name}, Setting: cdpbrowser.PermissionSettingGranted, Origin: origin}); err != nil {
			t.Fatal(err)
		}
	}
	if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS("#copy")), chromedp.WaitVisible(chromedp.Search(`//button[@id="copy" and .="copied"]`))); err != nil {
		t.Fatal(err)
	}
	if got := evalIn(t, tab, `navigator.clipboard.readText()`); got != want {
		t.Errorf("the copy button copied %q, want the launch line %q", got, want)
	}
}

// checkPlan opens the plan view with prices: its rows are the CLI's
// (cheapest first), a click on a column sorts by it both ways, and the
// sorted view's URL reproduces it in a fresh tab.
func checkPlan(t *testing.T, ctx context.Context, base string, vars map[string]string) {
	t.Helper()
	tab, cancel := chromedp.NewContext(ctx)
	defer cancel()
	// The plan tab keeps the model and the engine of the estimate view.
	if err := chromedp.Do(tab, chromedp.Navigate(base+"/?model=Qwen/Qwen3-8B&engine=sglang&gpu=l4&context-length=4096"), chromedp.WaitVisible(chromedp.CSS("#startup")),
		chromedp.Click(chromedp.CSS("#tab-plan")), chromedp.WaitVisible(chromedp.CSS("#plan"))); err != nil {
		t.Fatal(err)
	}
	if got := evalIn(t, tab, "location.search"); got != "?model=Qwen%2FQwen3-8B&engine=sglang&view=plan" {
		t.Errorf("the plan tab opened %s, want the model and engine kept", got)
	}
	if err := chromedp.Do(tab, chromedp.Navigate(base+"/"+planQuery), chromedp.WaitVisible(chromedp.CSS("#plan"))); err != nil {
		t.Fatal(err)
	}
	column := func(tab context.Context, key string) string { return planColumn(t, tab, key) }
	costs, budgets := planWant(t, vars)
	if got := column(tab, "cost"); got != strings.Join(costs, ",") || len(costs) < 4 {
		t.Errorf("plan $/hour column %s, the CLI's %v", got, costs)
	}
	if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS(`th[data-col="budget"]`))); err != nil {
		t.Fatal(err)
	}
	up := column(tab, "budget")
	if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS(`th[data-col="budget"]`))); err != nil {
		t.Fatal(err)
	}
	down, search := column(tab, "budget"), evalIn(t, tab, "location.search")
	sortedUp := sortedInts(budgets, 1)
	if up != sortedUp || down != sortedInts(budgets, -1) {
		t.Errorf("KV budget sorted up %s, down %s; want %s and its reverse", up, down, sortedUp)
	}
	if v, _ := url.ParseQuery(strings.TrimPrefix(search, "?")); v.Get("sort") != "-budget" || v.Get("price") != "l4=0.8,h100-sxm=2.49" {
		t.Errorf("the sorted plan's URL %s", search)
	}
	fresh, cancel2 := chromedp.NewContext(ctx)
	defer cancel2()
	if err := chromedp.Do(fresh, chromedp.Navigate(base+"/"+search), chromedp.WaitVisible(chromedp.CSS("#plan"))); err != nil {
		t.Fatal(err)
	}
	if got := column(fresh, "budget"); got != down {
		t.Errorf("the sorted plan's URL shows %s, the view %s", got, down)
	}
	t.Logf("plan: $/hour %s (cheapest first, as the CLI); KV budget sorted down %s", strings.Join(costs, ","), down)
	checkPlanEngineFlags(t, fresh, base, vars)
}

// checkPlanEngineFlags: the plan view takes the engine's memory fraction
// and the tensor-parallel degrees, shown in its form, and its KV budgets
// are the CLI's with the same flags.
func checkPlanEngineFlags(t *testing.T, tab context.Context, base string, vars map[string]string) {
	t.Helper()
	if err := chromedp.Do(tab, chromedp.Navigate(base+"/?view=plan&model=meta-llama/Llama-3.1-8B-Instruct&engine=vllm&gpu=l4&gpu-memory-utilization=0.8&tp=1,2"),
		chromedp.WaitVisible(chromedp.CSS("#plan"))); err != nil {
		t.Fatal(err)
	}
	shown := evalIn(t, tab, `document.querySelector('fieldset.view-plan[data-engine="vllm"] input[name="gpu-memory-utilization"]').value`)
	var cli struct {
		Setups []struct {
			Budget int `json:"max_batch_total_tokens"`
		}
	}
	_ = json.Unmarshal([]byte(cliOut(t, vars, "plan", "meta-llama/Llama-3.1-8B-Instruct", "--engine", "vllm", "--gpu", "l4", "--gpu-memory-utilization", "0.8", "--tp", "1,2", "-o", "json")), &cli)
	var want []string
	for _, s := range cli.Setups {
		want = append(want, fmt.Sprint(s.Budget))
	}
	if got := planColumn(t, tab, "budget"); shown != "0.8" || got != strings.Join(want, ",") || len(want) != 2 {
		t.Errorf("vLLM plan at --gpu-memory-utilization %s: KV budgets %s, the CLI's %v", shown, got, want)
	}
}

// sortedInts is the decimal numbers ns sorted (dir 1 up, -1 down), joined
// with commas.
func sortedInts(ns []string, dir int) string {
	s := slices.Clone(ns)
	slices.SortStableFunc(s, func(a, b string) int {
		x, _ := strconv.Atoi(a)
		y, _ := strconv.Atoi(b)
		return dir * cmp.Compare(x, y)
	})
	return strings.Join(s, ",")
}

// planQuery is the plan view checkPlan and the static test open; planWant
// is the CLI's $/hour and KV budget columns for it, in the CLI's order.
const planQuery = "?view=plan&model=meta-llama/Llama-3.1-8B-Instruct&gpu=l4,h100-sxm&concurrency=4&price=l4=0.8,h100-sxm=2.49"

func planWant(t *testing.T, vars map[string]string) (costs, budgets []string) {
	t.Helper()
	var cli struct {
		Setups []struct {
			Budget int     `json:"max_batch_total_tokens"`
			Cost   float64 `json:"hourly_cost"`
		}
	}
	_ = json.Unmarshal([]byte(cliOut(t, vars, "plan", "meta-llama/Llama-3.1-8B-Instruct", "--gpu", "l4,h100-sxm", "--concurrency", "4", "--price", "l4=0.8,h100-sxm=2.49", "-o", "json")), &cli)
	for _, s := range cli.Setups {
		costs, budgets = append(costs, fmt.Sprint(s.Cost)), append(budgets, fmt.Sprint(s.Budget))
	}
	return costs, budgets
}

// planColumn is the plan table's column key, its cells joined by commas.
func planColumn(t *testing.T, tab context.Context, key string) string {
	t.Helper()
	return evalIn(t, tab, `(() => { const i = [...document.querySelectorAll("#plan th")].findIndex(h => h.dataset.col === "`+key+`");
		return [...document.querySelectorAll("#plan tr")].slice(1).map(r => r.children[i].textContent).join(","); })()`)
}
