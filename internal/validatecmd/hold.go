package validatecmd

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/urfave/cli/v3"

	"github.com/vramcalc/vramcalc/estimate"
	"github.com/vramcalc/vramcalc/internal/cmdutil"
	"github.com/vramcalc/vramcalc/internal/loadcmd"
	"github.com/vramcalc/vramcalc/load"
	"github.com/vramcalc/vramcalc/probe"
)

// loadFlags are validate --load's: memory under load on one more launch at
// the confirmed recommendation.
func loadFlags() []cli.Flag {
	return []cli.Flag{
		&cli.DurationFlag{Name: "load", Usage: "after the recommendation is confirmed, launch it once more and run a load test on it, each concurrency level for this `DURATION` (e.g. 2m); 0: no load test"},
		&cli.StringFlag{Name: "load-concurrency", Value: "1,8,32", Usage: "with --load: the concurrent clients of each level, in order (`LIST`)"},
		&cli.StringFlag{Name: "load-timeline", Usage: "with --load: the timeline `FILE` (JSONL, or CSV for .csv); default: --out's name with -load-timeline.jsonl"},
		&cli.FloatFlag{Name: "price", HideDefault: true, Usage: "with --load: USD per hour of the whole set-up, for the cost per million output tokens"},
	}
}

// loadRun is validate --load's load test: its configuration, filled when
// the held launch serves, and its report.
type loadRun struct {
	cfg    load.Config
	report *load.Report
}

// newLoadRun reads the --load flags (nil when --load is 0).
func newLoadRun(c *cli.Command, engine string) (*loadRun, error) {
	if c.Duration("load") <= 0 {
		return nil, nil
	}
	var levels []int
	for _, f := range strings.Split(c.String("load-concurrency"), ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, cmdutil.WithHint(fmt.Errorf("--load-concurrency %q: %q is not a number of clients", c.String("load-concurrency"), f), "e.g. --load-concurrency 1,8,32")
		}
		levels = append(levels, n)
	}
	tl := c.String("load-timeline")
	if tl == "" {
		out := c.String("out")
		tl = strings.TrimSuffix(out, filepath.Ext(out)) + "-load-timeline.jsonl"
	}
	return &loadRun{cfg: load.Config{Engine: engine, Concurrency: levels, InputLen: int(c.Int("input-tokens")), OutputLen: int(c.Int("output-tokens")),
		Duration: c.Duration("load"), Timeline: tl, USDPerHour: c.Float("price")}}, nil
}

// hold is the Validation.Hold that runs the load test on the held server,
// compared with the estimate at the recommendation.
func (lr *loadRun) hold(v *probe.Validation) func(context.Context, probe.HeldServer) error {
	return func(ctx context.Context, hs probe.HeldServer) error {
		cfg := lr.cfg
		cfg.URL, cfg.Sampler, cfg.GPUs = hs.BaseURL, hs.Sampler, hs.GPUIndices
		if v.Launch.Engine.Name() != "tgi" {
			cfg.Model = v.Launch.Model
		}
		cfg.Predicted = predictedAt(v, hs.Point, cfg.InputLen, cfg.OutputLen)
		rep, err := load.Run(ctx, cfg)
		lr.report = &rep
		return err
	}
}

// predictedAt is the estimate at the point the server was started with,
// for requests of in + out tokens (nil when it cannot be made).
func predictedAt(v *probe.Validation, p probe.Point, in, out int) *load.Predicted {
	s := v.Settings
	s.MaxInputTokens, s.MaxTotalTokens, s.RequestInputTokens, s.RequestOutputTokens = p.MaxInputTokens, p.MaxTotalTokens, in, out
	if v.Launch.Engine.Name() != "tgi" {
		s.MaxInputTokens = 0
	}
	res, err := estimate.Run(v.Model, v.Hardware, estimate.Engine{Name: v.Launch.Engine.Name(), Version: v.EngineVersion}, s)
	if err != nil || !res.Startup.Fits {
		return nil
	}
	return &load.Predicted{ServingBytes: uint64(res.PerGPU.Total()), KVPoolTokens: res.Startup.MaxBatchTotalTokens, MaxConcurrency: res.Startup.MaxConcurrentRequests}
}

// heldError is the error of validate --load after the validation itself
// was shown: the held launch not serving, the load test's own error, or
// the failures it found (exit code loadcmd.ExitFailures).
func heldError(res probe.Result, lr *loadRun) error {
	switch {
	case res.Held == nil:
		return nil
	case res.HoldErr != nil:
		return cmdutil.WithHint(fmt.Errorf("validate --load: %w", res.HoldErr), "the validation above stands; the load test did not run to its end")
	case lr.report != nil:
		return loadcmd.FailuresError(lr.report.Failures)
	}
	return nil
}

// renderLoad shows the load test of validate --load after the validation.
func renderLoad(e cmdutil.Env, format string, res probe.Result, lr *loadRun) error {
	if lr == nil || lr.report == nil || res.Held == nil {
		return nil
	}
	fmt.Fprintf(e.Stdout, "\nload test at the recommendation (launch %d):\n", res.Held.Seq)
	return loadcmd.Render(e, format, *lr.report, nil)
}
