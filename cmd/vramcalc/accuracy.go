package main

import (
	"context"
	"fmt"
	"math"
	"os"

	"github.com/urfave/cli/v3"

	"github.com/vramcalc/vramcalc/calibrate"
	"github.com/vramcalc/vramcalc/hfmeta"
	"github.com/vramcalc/vramcalc/internal/cmdutil"
)

func accuracyCommand(e cmdutil.Env) *cli.Command {
	return &cli.Command{
		Name:      "accuracy",
		Usage:     "score the estimate against engines' real startup figures (a startup-report CSV)",
		ArgsUsage: "FILE.csv",
		Description: `Reads rows in the startup-report schema (testdata/startup_reports_dev.csv; columns in
docs/STARTUP-REPORTS.md), runs the estimate for each with the row's engine, version, model,
GPUs and settings (the engine's defaults for what the row does not state), and prints per
row the reported and predicted KV figure (tokens, or GiB per GPU where the row has no
tokens) and the error, then the median and worst absolute error per engine against the
targets. Rows marked DOUBTFUL or APPROXIMATE, rows whose settings are not shown and rows
without a KV figure are listed as skipped, never scored. Models come from the local
cache and the built-in catalog only (no network).

  vramcalc accuracy testdata/startup_reports_dev.csv
  vramcalc accuracy testdata/startup_reports_dev.csv -o json --strict`,
		Flags: []cli.Flag{
			cmdutil.OutputFlag(),
			&cli.BoolFlag{Name: "strict", Usage: "exit with an error when an engine misses its target"},
		},
		Action: func(ctx context.Context, c *cli.Command) error {
			format, err := cmdutil.Format(c)
			if err != nil {
				return err
			}
			if c.NArg() != 1 {
				return &cmdutil.UsageError{Msg: fmt.Sprintf("accuracy takes one FILE.csv argument, got %d", c.NArg()), Hint: "vramcalc accuracy testdata/startup_reports_dev.csv"}
			}
			f, err := os.Open(c.Args().First())
			if err != nil {
				return cmdutil.WithHint(fmt.Errorf("accuracy: %w", err), "give the path of a startup-report CSV, e.g. testdata/startup_reports_dev.csv")
			}
			defer f.Close()
			reps, err := calibrate.ReadReports(f)
			if err != nil {
				return cmdutil.WithHint(err, "the CSV must follow the startup-report schema (see docs/STARTUP-REPORTS.md)")
			}
			client := &hfmeta.Client{Offline: true, CacheDir: hfmeta.CacheDirFromEnv(e.Getenv)}
			res := calibrate.Accuracy(reps, func(r calibrate.Report) (calibrate.Prediction, error) {
				return calibrate.PredictReport(ctx, client, r)
			})
			if err := renderAccuracy(e, format, res); err != nil {
				return err
			}
			if c.Bool("strict") {
				for _, s := range res.Engines {
					if !s.MeetsMedian || !s.MeetsWorst {
						return fmt.Errorf("accuracy: %s misses its target (median %.2f%%, worst %.2f%%)", s.Engine, s.MedianAbsPct, s.WorstAbsPct)
					}
				}
			}
			return nil
		},
	}
}

func renderAccuracy(e cmdutil.Env, format string, res calibrate.Result) error {
	if format == cmdutil.FormatJSON {
		return cmdutil.JSON(e.Stdout, accuracyJSON(res))
	}
	rows := cmdutil.Rows{Header: []string{"row", "engine", "version", "model", "gpu", "figure", "reported", "predicted", "error", "status"}}
	for _, r := range res.Rows {
		rep, pred, errPct := fmtFigure(r.Metric, r.Reported), "", ""
		if r.Status == calibrate.StatusScored {
			pred, errPct = fmtFigure(r.Metric, r.Predicted), fmt.Sprintf("%+.2f%%", r.ErrorPct)
		}
		status := r.Status
		if r.Reason != "" {
			status += ": " + r.Reason
		}
		rows.Rows = append(rows.Rows, []string{r.RowID, r.Engine, r.Version, r.Model, r.GPU, r.Metric, rep, pred, errPct, status})
	}
	if format == cmdutil.FormatCSV {
		return rows.Write(e.Stdout, format) // the per-engine summary is in -o json
	}
	if err := rows.Write(e.Stdout, format); err != nil {
		return err
	}
	fmt.Fprintln(e.Stdout)
	sum := cmdutil.Rows{Header: []string{"engine", "scored", "skipped", "errors", "median |error|", "worst |error|", "target", "meets"}}
	for _, s := range res.Engines {
		target := fmt.Sprintf("median ≤ %g%%", s.MedianTarget)
		if s.WorstTarget > 0 {
			target += fmt.Sprintf(", worst ≤ %g%%", s.WorstTarget)
		}
		ok := "yes"
		if !s.MeetsMedian || !s.MeetsWorst {
			ok = "NO"
		}
		sum.Rows = append(sum.Rows, []string{s.Engine, fmt.Sprint(s.Scored), fmt.Sprint(s.Skipped), fmt.Sprint(s.Errors),
			fmt.Sprintf("%.2f%%", s.MedianAbsPct), fmt.Sprintf("%.2f%%", s.WorstAbsPct), target, ok})
	}
	return sum.Write(e.Stdout, format)
}

func fmtFigure(metric string, v float64) string {
	if metric == "kv_cache_gib" {
		return fmt.Sprintf("%.2f GiB", v)
	}
	return cmdutil.Num(int(math.Round(v)))
}

type accuracyRowJSON struct {
	RowID     string  `json:"row_id"`
	Engine    string  `json:"engine"`
	Version   string  `json:"engine_version"`
	Model     string  `json:"model"`
	GPU       string  `json:"gpu"`
	Metric    string  `json:"metric"`
	Reported  float64 `json:"reported"`
	Predicted float64 `json:"predicted"`
	ErrorPct  float64 `json:"error_pct"`
	Status    string  `json:"status"`
	Reason    string  `json:"reason,omitempty"`
}

type accuracyEngineJSON struct {
	Engine       string  `json:"engine"`
	Scored       int     `json:"scored"`
	Skipped      int     `json:"skipped"`
	Errors       int     `json:"errors"`
	MedianAbsPct float64 `json:"median_abs_error_pct"`
	WorstAbsPct  float64 `json:"worst_abs_error_pct"`
	MedianTarget float64 `json:"median_target_pct"`
	WorstTarget  float64 `json:"worst_target_pct,omitempty"`
	Meets        bool    `json:"meets_target"`
}

func accuracyJSON(res calibrate.Result) map[string]any {
	rows := []accuracyRowJSON{}
	for _, r := range res.Rows {
		rows = append(rows, accuracyRowJSON{r.RowID, r.Engine, r.Version, r.Model, r.GPU, r.Metric, r.Reported, r.Predicted, r.ErrorPct, r.Status, r.Reason})
	}
	engines := []accuracyEngineJSON{}
	for _, s := range res.Engines {
		engines = append(engines, accuracyEngineJSON{s.Engine, s.Scored, s.Skipped, s.Errors, s.MedianAbsPct, s.WorstAbsPct, s.MedianTarget, s.WorstTarget, s.MeetsMedian && s.MeetsWorst})
	}
	return map[string]any{"rows": rows, "engines": engines}
}
