package calccmd

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/urfave/cli/v3"

	"github.com/vramcalc/vramcalc/estimate"
	"github.com/vramcalc/vramcalc/gpus"
	"github.com/vramcalc/vramcalc/internal/cmdutil"
	"github.com/vramcalc/vramcalc/plan"
)

const planDescription = `Which GPUs, and how many, serve MODEL at a context length and a concurrency: for every GPU
of the catalog (vramcalc gpus; or those named by --gpu) and tensor-parallel degree 1, 2, 4
and 8, the estimate with requests of --context tokens (TGI: --max-total-tokens = context,
--max-input-tokens = context − 1; vLLM: --max-model-len; SGLang: --context-length), the KV
budget, how many such requests fit at once, the headroom against --concurrency, and the
launch line. With --prices (SKU → hourly price, CSV "gpu,price" or JSON {"h100-sxm": 2.49}),
sorted by the cost of the set-up. --all also lists the set-ups that do not serve, and why.

  vramcalc plan meta-llama/Llama-3.1-8B-Instruct --context 32768 --concurrency 16
  vramcalc plan Qwen/Qwen3-32B --context 16384 --concurrency 32 --engine vllm --gpu H100,L40S --prices prices.csv
  vramcalc plan Qwen/Qwen3-32B --context 16384 --engine sglang --mem-fraction-static 0.85 --kv-cache-dtype fp8 --all`

// Plan is `vramcalc plan MODEL`: which GPU set-ups serve MODEL at a
// context and concurrency.
func Plan(e cmdutil.Env) *cli.Command {
	flags := []cli.Flag{
		&cli.IntFlag{Name: "context", Value: 8192, Usage: "tokens per request, input plus output"},
		&cli.IntFlag{Name: "concurrency", Value: 1, Usage: "requests of --context tokens that must fit at once"},
		&cli.StringSliceFlag{Name: "gpu", Usage: "GPU `NAME`s to consider, comma-separated or repeated (default: the whole catalog)"},
		&cli.StringFlag{Name: "tp", Value: "1,2,4,8", Usage: "tensor-parallel degrees to try"},
		&cli.StringFlag{Name: "prices", Usage: "`FILE` of hourly prices per GPU (CSV gpu,price or JSON)"},
		&cli.StringSliceFlag{Name: "price", Usage: "hourly price of one GPU as `GPU=USD` (h100-sxm=2.49), comma-separated or repeated; over --prices"},
		&cli.StringFlag{Name: "corrections", Usage: "apply fitted corrections from `FILE` (vramcalc calibrate --out; any engine, for the engine they were fitted on)"},
		&cli.BoolFlag{Name: "all", Usage: "also list set-ups that miss --concurrency or do not start, and why"},
		&cli.FloatFlag{Name: "cuda-memory-fraction", HideDefault: true, Usage: "TGI --cuda-memory-fraction", Category: "TGI"},
		&cli.FloatFlag{Name: "gpu-memory-utilization", HideDefault: true, Usage: "vLLM --gpu-memory-utilization", Category: "vLLM"},
		&cli.StringFlag{Name: "model-runner", Usage: "vLLM's model runner (VLLM_USE_V2_MODEL_RUNNER): v1, v2 or auto (the release's rule); the launch lines set it", Category: "vLLM"},
		&cli.StringFlag{Name: "sampler", Usage: "the top-k/top-p path of vLLM's profile run: flashinfer or pytorch (VLLM_USE_FLASHINFER_SAMPLER); default: the release's for its official image", Category: "vLLM"},
		&cli.FloatFlag{Name: "mem-fraction-static", HideDefault: true, Usage: "SGLang --mem-fraction-static", Category: "SGLang"},
		cmdutil.OutputFlag(),
		vllmSpecFlag(),
	}
	flags = append(flags, sglangSpecFlags()...)
	flags = append(flags, engineChoiceFlags()...)
	return &cli.Command{
		Name:        "plan",
		Usage:       "which GPU SKUs and counts serve MODEL at a context and concurrency, cheapest first",
		ArgsUsage:   "MODEL",
		Description: planDescription,
		Flags:       append(flags, cmdutil.ModelFlags()...),
		Action:      func(ctx context.Context, c *cli.Command) error { return runPlan(ctx, c, e) },
	}
}

func runPlan(ctx context.Context, c *cli.Command, e cmdutil.Env) error {
	req, format, err := planRequest(c)
	if err != nil {
		return err
	}
	sr, err := specFrom(setFlags(c), req.ModelRef)
	if err != nil {
		return err
	}
	meta, err := cmdutil.ResolveModel(ctx, c, e, req.ModelRef)
	if err != nil {
		return err
	}
	if req.Base.Spec, err = sr.resolve(ctx, c, e, req.ModelRef, meta.Model); err != nil {
		return err
	}
	req.Model = meta.Model
	if meta.Source == "local" {
		req.ModelRef, req.Local = meta.Location, true
	}
	req.HubCache = cmdutil.HubCacheWord(e.Getenv)
	if err := estimate.Served(req.Model, req.Engine); err != nil {
		return fmt.Errorf("plan %s: %w", req.ModelRef, err)
	}
	res := plan.Run(req)
	rows := res.Rows
	if !c.Bool("all") {
		rows = rows[:0:0]
		for _, r := range res.Rows {
			if r.Meets {
				rows = append(rows, r)
			}
		}
	}
	return renderPlan(e, format, req, rows, res.Warnings, c.Bool("all"))
}

// planRequest reads plan's flags.
func planRequest(c *cli.Command) (plan.Request, string, error) {
	var req plan.Request
	if c.NArg() != 1 {
		return req, "", cmdutil.Usage("vramcalc plan meta-llama/Llama-3.1-8B-Instruct --context 32768 --concurrency 16", "plan takes one MODEL argument, got %d", c.NArg())
	}
	req.ModelRef = c.Args().First()
	format, err := cmdutil.Format(c)
	if err != nil {
		return req, "", err
	}
	req.Context, req.Concurrency = int(c.Int("context")), int(c.Int("concurrency"))
	if req.Context < 2 || req.Concurrency < 1 {
		return req, "", cmdutil.WithHint(fmt.Errorf("--context must be at least 2 and --concurrency at least 1 (got %d and %d)", req.Context, req.Concurrency), "--context counts input plus output tokens of one request")
	}
	info, err := estimate.LookupEngine(c.String("engine"))
	if err != nil {
		return req, "", cmdutil.Usage("use --engine tgi, vllm or sglang", "unknown engine %q", c.String("engine"))
	}
	req.Engine = estimate.Engine{Name: info.Name, Version: c.String("engine-version")}
	set := setFlags(c)
	if err := checkEngineFlags(set, info); err != nil {
		return req, "", err
	}
	if err := checkExplicitZeros(set); err != nil {
		return req, "", err
	}
	if req.TP, err = parseTP(c.String("tp")); err != nil {
		return req, "", err
	}
	if req.SKUs, err = planGPUs(c.StringSlice("gpu")); err != nil {
		return req, "", err
	}
	if req.Base, err = planBase(c, req.Engine); err != nil {
		return req, "", err
	}
	if f := c.String("prices"); f != "" {
		if req.Prices, err = plan.ReadPrices(f); err != nil {
			return req, "", cmdutil.WithHint(err, `a CSV with lines "h100-sxm,2.49" or JSON {"h100-sxm": 2.49}; names as in vramcalc gpus`)
		}
	}
	if req.Prices, err = addPrices(req.Prices, c.StringSlice("price")); err != nil {
		return req, "", err
	}
	return req, format, nil
}

// addPrices adds --price GPU=USD items to prices (a GPU named twice takes
// the --price).
func addPrices(prices map[string]float64, items []string) (map[string]float64, error) {
	if len(items) == 0 {
		return prices, nil
	}
	raw := map[string]float64{}
	for _, it := range items {
		name, v, ok := strings.Cut(it, "=")
		p, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if !ok || err != nil || strings.TrimSpace(name) == "" {
			return nil, cmdutil.Usage("give --price GPU=USD per hour, e.g. --price h100-sxm=2.49,l4=0.80", "--price %q: want GPU=USD", it)
		}
		raw[strings.TrimSpace(name)] = p
	}
	byKey, err := plan.PricesByKey(raw)
	if err != nil {
		return nil, cmdutil.WithHint(fmt.Errorf("--price: %w", err), "GPU names as vramcalc gpus lists them; prices are hourly and not negative")
	}
	out := map[string]float64{}
	for k, p := range prices {
		out[k] = p
	}
	for k, p := range byKey {
		out[k] = p
	}
	return out, nil
}

// planBase is the settings every set-up shares: dtypes, the engine's
// memory fraction and corrections.
func planBase(c *cli.Command, eng estimate.Engine) (estimate.Settings, error) {
	s := estimate.Settings{
		CUDAMemoryFraction:   c.Float("cuda-memory-fraction"),
		GPUMemoryUtilization: c.Float("gpu-memory-utilization"),
		MemFractionStatic:    c.Float("mem-fraction-static"),
		Sampler:              c.String("sampler"),
	}
	var err error
	if s.ModelRunner, err = estimate.ParseModelRunner(c.String("model-runner")); err != nil {
		return s, cmdutil.WithHint(fmt.Errorf("--model-runner: %w", err), "v1 and v2 are VLLM_USE_V2_MODEL_RUNNER=0 and =1; auto lets the release choose")
	}
	if s.DType, err = estimate.ParseDType(c.String("dtype")); err != nil {
		return s, fmt.Errorf("--dtype: %w", err)
	}
	if s.KVCacheDType, err = estimate.ParseKVCacheDType(c.String("kv-cache-dtype")); err != nil {
		return s, fmt.Errorf("--kv-cache-dtype: %w", err)
	}
	if path := c.String("corrections"); path != "" {
		corr, _, err := cmdutil.LoadCorrections(path, eng, estimate.Hardware{})
		if err != nil {
			return s, err
		}
		s.Corrections = &corr
	}
	return s, nil
}

func parseTP(s string) ([]int, error) {
	var tps []int
	for _, p := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n < 1 {
			return nil, cmdutil.WithHint(fmt.Errorf("--tp: %q is not a positive number", p), "e.g. --tp 1,2,4,8")
		}
		tps = append(tps, n)
	}
	return tps, nil
}

// planGPUs is the catalog, or the cards --gpu names (comma-separated or repeated).
func planGPUs(names []string) ([]gpus.SKU, error) {
	if len(names) == 0 {
		return gpus.All(), nil
	}
	var skus []gpus.SKU
	for _, list := range names {
		for _, n := range strings.Split(list, ",") {
			sku, err := gpus.Lookup(strings.TrimSpace(n))
			if err != nil {
				return nil, fmt.Errorf("--gpu: %w", err)
			}
			skus = append(skus, sku)
		}
	}
	return skus, nil
}

// planJSON is plan's -o json.
type planJSON struct {
	Model       string     `json:"model"`
	Engine      string     `json:"engine"`
	Context     int        `json:"context"`
	Concurrency int        `json:"concurrency"`
	Setups      []plan.Row `json:"setups"`
	Warnings    []string   `json:"warnings"`
}

func renderPlan(e cmdutil.Env, format string, req plan.Request, rows []plan.Row, warnings []string, all bool) error {
	if format == cmdutil.FormatJSON {
		return cmdutil.JSON(e.Stdout, planJSON{Model: req.ModelRef, Engine: req.Engine.Name, Context: req.Context, Concurrency: req.Concurrency,
			Setups: cmdutil.NonNil(rows), Warnings: cmdutil.NonNil(warnings)})
	}
	table := planRows(rows, all, format == cmdutil.FormatCSV)
	if format == cmdutil.FormatCSV {
		return table.Write(e.Stdout, format)
	}
	fmt.Fprintf(e.Stdout, "%s: %s requests of %s tokens at once\n", req.ModelRef, cmdutil.Num(req.Concurrency), cmdutil.Num(req.Context))
	for _, w := range warnings {
		fmt.Fprintf(e.Stdout, "  warning: %s\n", w)
	}
	if len(rows) == 0 {
		fmt.Fprintln(e.Stdout, "  no GPU set-up of the catalog serves that (--all shows why each misses; try a shorter --context or --tp 8)")
		return nil
	}
	if err := table.Write(e.Stdout, format); err != nil {
		return err
	}
	if rows[0].Launch != "" {
		fmt.Fprintf(e.Stdout, "\nLaunch (first row; -o json has every row's):\n  %s\n", rows[0].Launch)
	}
	return nil
}

// planRows is the plan as rows; with --all a column says why a set-up
// misses; CSV carries each row's launch line.
func planRows(rows []plan.Row, all, launch bool) cmdutil.Rows {
	t := cmdutil.Rows{Header: []string{"GPUs", "name", "KV budget (tokens)", "requests at once", "headroom", "meets", "$/hour"}}
	if launch {
		t.Header = append(t.Header, "launch")
	}
	if all {
		t.Header = append(t.Header, "why not")
	}
	for _, r := range rows {
		cost := ""
		if r.HourlyCost != nil {
			cost = fmt.Sprintf("%.2f", *r.HourlyCost)
		}
		meets := map[bool]string{true: "yes", false: "no"}[r.Meets]
		row := []string{fmt.Sprintf("%d × %s", r.Count, r.GPU), r.GPUName, cmdutil.Num(r.KVBudget), cmdutil.Num(r.Concurrency),
			fmt.Sprintf("%.1f×", r.Headroom), meets, cost}
		if launch {
			row = append(row, r.Launch)
		}
		if all {
			row = append(row, r.Why)
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}
