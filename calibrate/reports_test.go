package calibrate

import (
	"errors"
	"math"
	"os"
	"strings"
	"testing"
)

func readDev(t *testing.T) []Report {
	t.Helper()
	f, err := os.Open("../testdata/startup_reports_dev.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	reps, err := ReadReports(f)
	if err != nil {
		t.Fatal(err)
	}
	return reps
}

func TestReadReportsDevFile(t *testing.T) {
	reps := readDev(t)
	// 25 rows to issue 10, 56 from public logs of 2026 (rows 101–130,
	// 201–210, 301–307, 311–319).
	if len(reps) != 92 {
		t.Fatalf("%d rows, want 92", len(reps))
	}
	by := map[string]Report{}
	for _, r := range reps {
		by[r.RowID] = r
	}
	r3 := by["3"]
	if r3.Engine != "tgi" || r3.Version != "2.0.0" || r3.Model != "mistralai/Mistral-7B-v0.1" || r3.MaxModelLen != 8512 ||
		r3.MaxInputTokens != 8000 || r3.MaxBatchPrefillTokens != 32768 || r3.KVTokens != 425_472 || r3.NumGPUs != 1 {
		t.Errorf("row 3 = %+v", r3)
	}
	r20 := by["20"]
	// "80GB (79.18 GiB reported)" → 79.18 · 2^30 = 85,018,877,624 B.
	if r20.Engine != "vllm" || r20.Version != "0.11.0" || r20.MemoryFraction != 0.9 || r20.MaxModelLen != 16000 ||
		r20.KVCacheGiB != 51.38 || r20.BlockSize != 128 || r20.TotalBytes != 85_018_877_624 || r20.WeightsGiB != 14.99 {
		t.Errorf("row 20 = %+v", r20)
	}
	// "main @73c8d677 (~v0.4.1, Apr 2024, V0)" → 0.4.1; "max_model_len=default (8192)" → 8192.
	if r := by["36"]; r.Version != "0.4.1" || r.MaxModelLen != 8192 || r.KVTokens != 211_968 || r.GPUBlocks != 13_248 || r.BlockSize != 16 {
		t.Errorf("row 36 = %+v", r)
	}
	// "max_model_len=2048..32768 (identical pool)" → 32768; gmu 0.95.
	if r := by["25"]; r.MaxModelLen != 32768 || r.MemoryFraction != 0.95 || r.KVTokens != 476_016 {
		t.Errorf("row 25 = %+v", r)
	}
	if r := by["7"]; !r.Doubtful {
		t.Error("row 7 is marked DOUBTFUL")
	}
	if r := by["6"]; !r.SettingsUnknown {
		t.Error("row 6's settings are not shown")
	}
	// "16.46 GB (K 8.23 + V 8.23)" → 16.46; version "(Jul 2025)" → none.
	if r := by["60"]; r.Engine != "sglang" || r.KVCacheGiB != 16.46 || r.KVTokens != 367_404 || r.Version != "" || r.MemoryFraction != 0.93 || r.TP != 4 {
		t.Errorf("row 60 = %+v", r)
	}
}

func TestReadReportsErrors(t *testing.T) {
	_, err := ReadReports(strings.NewReader("row_id,engine\n1,tgi\n"))
	if !errors.Is(err, ErrBadReports) || !strings.Contains(err.Error(), "missing columns engine_version") {
		t.Errorf("err = %v", err)
	}
	_, err = ReadReports(strings.NewReader(""))
	if !errors.Is(err, ErrBadReports) {
		t.Errorf("empty: %v", err)
	}
}

func TestAccuracyScoresAndSkips(t *testing.T) {
	reps := readDev(t)
	// A predictor 10% high on tokens and exact on GiB.
	res := Accuracy(reps, func(r Report) (Prediction, error) {
		if r.RowID == "13" {
			return Prediction{}, errors.New("no such GPU")
		}
		return Prediction{KVTokens: int(math.Round(float64(r.KVTokens) * 1.1)), KVCacheBytes: int64(r.KVCacheGiB * (1 << 30))}, nil
	})
	status := map[string]RowResult{}
	for _, r := range res.Rows {
		status[r.RowID] = r
	}
	if r := status["3"]; r.Status != StatusScored || r.Metric != "kv_tokens" || math.Abs(r.ErrorPct-10) > 0.001 {
		t.Errorf("row 3: %+v", r)
	}
	if r := status["20"]; r.Status != StatusScored || r.Metric != "kv_cache_gib" || math.Abs(r.ErrorPct) > 0.001 {
		t.Errorf("row 20: %+v", r)
	}
	if status["7"].Status != StatusSkipped || status["6"].Status != StatusSkipped || status["13"].Status != StatusError {
		t.Errorf("rows 7/6/13: %+v %+v %+v", status["7"], status["6"], status["13"])
	}
	for _, e := range res.Engines {
		if e.Engine == "tgi" {
			// Rows 3 and 9 scored (+10% each); 6 and 7 skipped.
			if e.Scored != 2 || e.Skipped != 2 || math.Abs(e.MedianAbsPct-10) > 0.001 || e.MeetsMedian {
				t.Errorf("tgi summary %+v", e)
			}
		}
	}
}

// TestNotEvaluable: a row whose notes say "NOT EVALUABLE: why." is listed
// with that reason and never scored (row 101, an NVFP4 checkpoint of the
// reporter's own).
func TestNotEvaluable(t *testing.T) {
	var r101 Report
	for _, r := range readDev(t) {
		if r.RowID == "101" {
			r101 = r
		}
	}
	if !strings.HasPrefix(r101.Unevaluable, "the checkpoint is a local or community quantization") {
		t.Fatalf("row 101 unevaluable %q", r101.Unevaluable)
	}
	called := false
	res := Accuracy([]Report{r101}, func(Report) (Prediction, error) { called = true; return Prediction{}, nil })
	if called || res.Rows[0].Status != StatusSkipped || !strings.HasPrefix(res.Rows[0].Reason, "not evaluable: the checkpoint is") {
		t.Errorf("called %v, row %+v", called, res.Rows[0])
	}
}

// TestReadReportSpeculative: a row's llm_class and speculative_config
// reach the estimate's settings (rows 306 and 307).
func TestReadReportSpeculative(t *testing.T) {
	by := map[string]Report{}
	for _, r := range readDev(t) {
		by[r.RowID] = r
	}
	if r := by["307"]; !r.OfflineLLM || r.Speculative != `{"method":"mtp","num_speculative_tokens":1}` {
		t.Errorf("row 307: llm class %v, speculative %q", r.OfflineLLM, r.Speculative)
	}
	if s := reportSettings(by["307"]); s.Spec.Method != "mtp" || s.Spec.Tokens != 1 || !s.OfflineLLM {
		t.Errorf("row 307 settings: %+v", s.Spec)
	}
	if r := by["306"]; !r.OfflineLLM || r.Speculative != "" {
		t.Errorf("row 306: llm class %v, speculative %q", r.OfflineLLM, r.Speculative)
	}
}
