package loadcmd

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/vramcalc/vramcalc/internal/cmdutil"
	"github.com/vramcalc/vramcalc/load"
)

// reportJSON is `load -o json`: the report, then the warnings.
type reportJSON struct {
	load.Report
	Warnings []string `json:"warnings"`
}

// Render shows a load report in format: one JSON object, the levels as
// CSV, or the levels' table, the comparison with the prediction, the
// failures and the timeline written.
func Render(e cmdutil.Env, format string, rep load.Report, warnings []string) error {
	switch format {
	case cmdutil.FormatJSON:
		return cmdutil.JSON(e.Stdout, reportJSON{Report: rep, Warnings: cmdutil.NonNil(warnings)})
	case cmdutil.FormatCSV:
		return levelRows(rep).Write(e.Stdout, format)
	}
	fmt.Fprintf(e.Stdout, "%s at %s: %s\n", rep.Engine, rep.URL, shape(rep))
	fmt.Fprintln(e.Stdout, priceLine(rep.Price))
	if err := levelRows(rep).Write(e.Stdout, format); err != nil {
		return err
	}
	fmt.Fprintln(e.Stdout)
	for _, line := range comparedLines(rep) {
		fmt.Fprintln(e.Stdout, line)
	}
	for _, f := range rep.Failures {
		fmt.Fprintf(e.Stdout, "FAILURE %s at %.1f s: %s\n", f.Kind, f.AtS, f.Detail)
	}
	tl := "no timeline written"
	if rep.Timeline != "" {
		tl = fmt.Sprintf("timeline: %s (%d samples; vramcalc plot timeline %s --out timeline.png)", rep.Timeline, rep.Samples, rep.Timeline)
	}
	if rep.Interrupted {
		tl = "interrupted: the levels above are what was measured; " + tl
	}
	_, err := fmt.Fprintln(e.Stdout, tl)
	return err
}

// shape is the requests' lengths: fixed, or the distributions with
// their means, the rounding of prompt lengths and the seed.
func shape(rep load.Report) string {
	in, out := rep.InputLen, rep.OutputLen
	if in == "" || in == strconv.Itoa(rep.InputTokens) && out == strconv.Itoa(rep.OutputTokens) {
		return fmt.Sprintf("%s-token prompts, %s output tokens per request", cmdutil.Num(rep.InputTokens), cmdutil.Num(rep.OutputTokens))
	}
	step := ""
	if rep.InputStep > 1 {
		step = fmt.Sprintf(", rounded to steps of %d", rep.InputStep)
	}
	return fmt.Sprintf("prompts of %s tokens (mean %s%s), %s output tokens (mean %s) per request, drawn with seed %d",
		in, cmdutil.Num(rep.InputTokens), step, out, cmdutil.Num(rep.OutputTokens), rep.Seed)
}

// priceLine says what the cost figures are priced at, and from where.
func priceLine(p load.Price) string {
	switch p.Source {
	case load.PriceNone, "":
		return "price: none (--price USD_PER_HOUR or --prices FILE give dollars per million output tokens)"
	case load.PriceFile:
		return fmt.Sprintf("price: %.4g USD/h from %s", p.USDPerHour, p.Detail)
	case load.PriceFlag:
		return fmt.Sprintf("price: %.4g USD/h (--price)", p.USDPerHour)
	}
	return fmt.Sprintf("price: %.4g USD/h (%s)", p.USDPerHour, p.Source)
}

// levelRows is one row per level.
func levelRows(rep load.Report) cmdutil.Rows {
	t := cmdutil.Rows{Header: []string{"concurrency", "requests", "errors", "mean tokens in/out", "TTFT ms p50/p90/p99", "ITL ms p50/p90", "output tok/s", "req/s",
		"peak GiB per GPU", "peak KV %", "max running", "$/M output tok"}}
	for _, l := range rep.Levels {
		var peaks []string
		for _, b := range l.PeakUsedBytes {
			peaks = append(peaks, cmdutil.GiB(int64(b)))
		}
		kv, run, cost := "", "", ""
		if l.PeakKVUsage != nil {
			kv = fmt.Sprintf("%.1f", 100**l.PeakKVUsage)
		}
		if l.MaxRunning != nil {
			run = cmdutil.Num(*l.MaxRunning)
		}
		if l.USDPerMillionOutputTokens != nil {
			cost = fmt.Sprintf("%.3f", *l.USDPerMillionOutputTokens)
		}
		t.Rows = append(t.Rows, []string{cmdutil.Num(l.Concurrency), cmdutil.Num(l.Requests), cmdutil.Num(l.Errors), fmt.Sprintf("%.0f/%.0f", l.MeanInputLen, l.MeanOutputLen),
			fmt.Sprintf("%.0f/%.0f/%.0f", l.TTFT.P50, l.TTFT.P90, l.TTFT.P99), fmt.Sprintf("%.1f/%.1f", l.ITL.P50, l.ITL.P90),
			fmt.Sprintf("%.1f", l.OutputTokensPerS), fmt.Sprintf("%.2f", l.RequestsPerS), strings.Join(peaks, " "), kv, run, cost})
	}
	return t
}

// comparedLines set the run against the prediction, one line per figure.
func comparedLines(rep load.Report) []string {
	p, c := rep.Predicted, rep.Compared
	if p == nil {
		return []string{"no prediction to compare with (see the warning above)"}
	}
	mem := fmt.Sprintf("serving memory per GPU: predicted %s GiB", cmdutil.GiB(int64(p.ServingBytes)))
	if c.PeakUsedBytes != nil {
		mem += fmt.Sprintf(", peak used %s GiB", cmdutil.GiB(int64(*c.PeakUsedBytes)))
		if c.UsedOverPredicted != nil {
			mem += fmt.Sprintf(" (%.1f%% of the prediction)", 100**c.UsedOverPredicted)
		}
	} else {
		mem += ", no memory sampled"
	}
	kv := fmt.Sprintf("KV pool: predicted %s tokens", cmdutil.Num(p.KVPoolTokens))
	if c.PeakKVUsage != nil {
		kv += fmt.Sprintf(", peak usage %.1f%%", 100**c.PeakKVUsage)
		if c.PeakKVTokens != nil {
			kv += fmt.Sprintf(" (%s tokens of the predicted pool)", cmdutil.Num(*c.PeakKVTokens))
		}
	} else {
		kv += ", the engine's KV usage was not read"
	}
	conc := fmt.Sprintf("concurrency: predicted %s requests of this shape at once", cmdutil.Num(p.MaxConcurrency))
	if c.MaxRunning != nil {
		conc += fmt.Sprintf(", the engine ran at most %s", cmdutil.Num(*c.MaxRunning))
	}
	return []string{mem, kv, conc}
}
