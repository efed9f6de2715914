package probe

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/vramcalc/vramcalc/estimate"
)

// Observation is one launch: what was tried, what the engine reported, what
// NVML saw and how it ended. validate appends one per launch to a JSONL file.
type Observation struct {
	Run           string    `json:"run"`
	Seq           int       `json:"seq"`
	Engine        string    `json:"engine"`
	Image         string    `json:"image"`
	EngineVersion string    `json:"engine_version,omitempty"`
	Model         string    `json:"model"`
	GPUs          []string  `json:"gpus,omitempty"`
	Point         Point     `json:"point"`
	Started       time.Time `json:"started"`
	// Outcome is "ok" or "failed".
	Outcome string `json:"outcome"`
	// Failure is one of the estimate.Failure* kinds when Outcome is "failed".
	Failure  string   `json:"failure,omitempty"`
	ExitCode int      `json:"exit_code,omitempty"`
	Reported Reported `json:"reported"`
	// PeakBytes is the highest used memory NVML saw per GPU index while the point ran.
	PeakBytes map[int]uint64 `json:"peak_bytes,omitempty"`
	// PeakError says why a watched GPU has no PeakBytes entry: which
	// reader (NVML, or the simulator's /sim/gpus at its URL), which GPUs,
	// and the last error ("" when every GPU was read).
	PeakError string `json:"peak_error,omitempty"`
	// LoadedBytes is the used memory per GPU when the warm-up began: CUDA
	// context and weights (and other processes).
	LoadedBytes map[int]uint64 `json:"loaded_bytes,omitempty"`
	// Phases are wall-clock durations: pull, load, warmup, requests.
	Phases map[string]time.Duration `json:"phases,omitempty"`
	// Requests counts the token-exact requests sent once the server was up.
	Requests RequestStats `json:"requests"`
	// Predicted is what the estimate said for this point.
	Predicted Prediction `json:"predicted"`
	// LogTail is the last lines of the engine's log, with the values of
	// Config.Secrets (the HF token) replaced by "[redacted]".
	LogTail []string `json:"log_tail,omitempty"`
}

// RequestStats summarizes the requests of one launch.
type RequestStats struct {
	Sent, OK, Failed int
	// Rejected counts 4xx answers (validation, 429 overloaded): refusals, not failures.
	Rejected int `json:"rejected"`
	// WrongLength counts responses whose generated_tokens or finish_reason
	// did not match the request beyond the tolerance.
	WrongLength int `json:"wrong_length"`
	// Concurrency is how many requests ran at once.
	Concurrency int `json:"concurrency"`
}

// Prediction is the estimate for one point.
type Prediction struct {
	Fits                bool   `json:"fits"`
	Failure             string `json:"failure,omitempty"`
	MaxBatchTotalTokens int    `json:"max_batch_total_tokens"`
	WarmupBytes         int64  `json:"warmup_bytes"`
}

// legacyFailures maps failure kinds that older results files hold to
// today's names (probe's own list before estimate's became the one list).
var legacyFailures = map[string]string{"bad_flag": estimate.FailureArgumentValidation}

// UnmarshalJSON decodes an observation and renames a legacy failure kind
// ("bad_flag" reads as "argument_validation"), so results files written by
// earlier releases compare with today's kinds.
func (o *Observation) UnmarshalJSON(b []byte) error {
	type plain Observation // no methods: no recursion
	if err := json.Unmarshal(b, (*plain)(o)); err != nil {
		return err
	}
	if k, ok := legacyFailures[o.Failure]; ok {
		o.Failure = k
	}
	return nil
}

// MaxPeak is the highest NVML peak over the launch's GPUs (0 if none).
func (o Observation) MaxPeak() uint64 {
	var m uint64
	for _, v := range o.PeakBytes {
		m = max(m, v)
	}
	return m
}

// OK reports a launch that started and served.
func (o Observation) OK() bool { return o.Outcome == "ok" }

// Budget is the KV budget the engine reported, log line first.
func (o Observation) Budget() int {
	if o.Reported.MaxBatchTotalTokensLog > 0 {
		return o.Reported.MaxBatchTotalTokensLog
	}
	return o.Reported.MaxBatchTotalTokensMetric
}

// Store appends observations to a JSONL file, one fsync'd line per launch,
// so a crash loses at most the launch in flight.
type Store struct {
	f *os.File
}

// OpenStore opens (creating if needed) a results file for appending and
// returns the observations already in it. A torn last line (a crash mid
// write) is dropped and the file truncated to the last whole line.
func OpenStore(path string) (*Store, []Observation, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, nil, fmt.Errorf("probe: open results %s: %w", path, err)
	}
	prev, good, err := readObservations(f)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("probe: read results %s: %w", path, err)
	}
	if err := f.Truncate(good); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("probe: repair results %s: %w", path, err)
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("probe: seek results %s: %w", path, err)
	}
	return &Store{f: f}, prev, nil
}

// readObservations decodes whole lines and returns the offset after the last one.
func readObservations(r io.Reader) ([]Observation, int64, error) {
	var out []Observation
	br := bufio.NewReader(r)
	var off int64
	for {
		line, err := br.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			// An unterminated line is a torn write: drop it.
			return out, off, nil
		}
		if err != nil {
			return nil, 0, err
		}
		var o Observation
		if jerr := json.Unmarshal(line, &o); jerr != nil {
			return nil, 0, fmt.Errorf("line %d: %w", len(out)+1, jerr)
		}
		out = append(out, o)
		off += int64(len(line))
	}
}

// Append writes one observation and syncs it to disk.
func (s *Store) Append(o Observation) error {
	b, err := json.Marshal(o)
	if err != nil {
		return fmt.Errorf("probe: encode observation %d: %w", o.Seq, err)
	}
	b = append(b, '\n')
	if _, err := s.f.Write(b); err != nil {
		return fmt.Errorf("probe: write observation %d: %w", o.Seq, err)
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("probe: sync observation %d: %w", o.Seq, err)
	}
	return nil
}

// Close closes the file.
func (s *Store) Close() error { return s.f.Close() }
