package calibrate

import (
	"math"
	"sort"
)

// Prediction is the estimator's figure for one report: the KV tokens the
// engine would print, and the KV pool per GPU in bytes.
type Prediction struct {
	KVTokens     int
	KVCacheBytes int64
	// Note says what the predictor assumed (e.g. a default version).
	Note string
}

// Predictor estimates one report with its settings.
type Predictor func(Report) (Prediction, error)

// Row outcomes.
const (
	StatusScored  = "scored"
	StatusSkipped = "skipped"
	StatusError   = "error"
)

// RowResult is one report scored (or skipped, with the reason).
type RowResult struct {
	RowID, Engine, Version, Model, GPU string
	// Metric is "kv_tokens" when the row reports tokens, else "kv_cache_gib".
	Metric              string
	Reported, Predicted float64
	// ErrorPct is (predicted − reported) / reported × 100.
	ErrorPct float64
	Status   string
	Reason   string
}

// EngineSummary aggregates the scored rows of one engine.
type EngineSummary struct {
	Engine                    string
	Scored, Skipped, Errors   int
	MedianAbsPct, WorstAbsPct float64
	MedianTarget, WorstTarget float64
	MeetsMedian, MeetsWorst   bool
}

// Targets are the accuracy the project publishes and defends (issue 4):
// median absolute error of the KV figure per engine, and vLLM's worst row.
var (
	MedianTargets = map[string]float64{"vllm": 2, "tgi": 5, "sglang": 3}
	WorstTargets  = map[string]float64{"vllm": 8}
)

// Result is the whole accuracy run.
type Result struct {
	Rows    []RowResult
	Engines []EngineSummary
}

// Accuracy predicts every report and scores it against the figure the
// engine printed: KV tokens when the row has them, else KV GiB per GPU.
// Rows marked not evaluable, doubtful or approximate rows, rows whose
// settings are not shown and rows without a KV figure are skipped and listed.
func Accuracy(reports []Report, predict Predictor) Result {
	var res Result
	for _, r := range reports {
		row := RowResult{RowID: r.RowID, Engine: r.Engine, Version: r.Version, Model: r.Model, GPU: r.GPUModel}
		switch {
		case r.KVTokens > 0:
			row.Metric, row.Reported = "kv_tokens", float64(r.KVTokens)
		case r.KVCacheGiB > 0:
			row.Metric, row.Reported = "kv_cache_gib", r.KVCacheGiB
		}
		switch {
		case r.Unevaluable != "":
			row.Status, row.Reason = StatusSkipped, "not evaluable: "+r.Unevaluable
		case r.Doubtful:
			row.Status, row.Reason = StatusSkipped, "marked doubtful or approximate"
		case r.SettingsUnknown:
			row.Status, row.Reason = StatusSkipped, "settings not shown"
		case row.Metric == "":
			row.Status, row.Reason = StatusSkipped, "no KV figure"
		}
		if row.Status == "" {
			p, err := predict(r)
			switch {
			case err != nil:
				row.Status, row.Reason = StatusError, err.Error()
			default:
				row.Status, row.Reason = StatusScored, p.Note
				if row.Metric == "kv_tokens" {
					row.Predicted = float64(p.KVTokens)
				} else {
					row.Predicted = float64(p.KVCacheBytes) / (1 << 30)
				}
				row.ErrorPct = (row.Predicted - row.Reported) / row.Reported * 100
			}
		}
		res.Rows = append(res.Rows, row)
	}
	res.Engines = summarize(res.Rows)
	return res
}

func summarize(rows []RowResult) []EngineSummary {
	by := map[string]*EngineSummary{}
	errs := map[string][]float64{}
	for _, r := range rows {
		s := by[r.Engine]
		if s == nil {
			s = &EngineSummary{Engine: r.Engine}
			by[r.Engine] = s
		}
		switch r.Status {
		case StatusScored:
			s.Scored++
			errs[r.Engine] = append(errs[r.Engine], math.Abs(r.ErrorPct))
		case StatusSkipped:
			s.Skipped++
		default:
			s.Errors++
		}
	}
	var out []EngineSummary
	for name, s := range by {
		e := errs[name]
		sort.Float64s(e)
		if n := len(e); n > 0 {
			if n%2 == 1 {
				s.MedianAbsPct = e[n/2]
			} else {
				s.MedianAbsPct = (e[n/2-1] + e[n/2]) / 2
			}
			s.WorstAbsPct = e[n-1]
		}
		s.MedianTarget, s.WorstTarget = MedianTargets[name], WorstTargets[name]
		// A row the estimator could not predict counts against the engine.
		s.MeetsMedian = s.MedianTarget == 0 || (s.Scored > 0 && s.Errors == 0 && s.MedianAbsPct <= s.MedianTarget)
		s.MeetsWorst = s.WorstTarget == 0 || (s.Scored > 0 && s.Errors == 0 && s.WorstAbsPct <= s.WorstTarget)
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Engine < out[j].Engine })
	return out
}
