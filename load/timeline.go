package load

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Point is one sample of the timeline: every Config.Interval, the used
// memory of each GPU and the engine's gauges. A value that could not be
// read is absent (nil), never zero.
type Point struct {
	// T is seconds since the first level began.
	T float64 `json:"t"`
	// Level is the concurrency of the level running.
	Level int `json:"level"`
	// UsedBytes is per GPU, in the order of Header.GPUs; absent when a GPU
	// could not be read.
	UsedBytes []uint64 `json:"used_bytes,omitempty"`
	// KVUsage is the engine's KV pool usage, 0..1.
	KVUsage   *float64 `json:"kv_usage,omitempty"`
	Running   *int     `json:"running,omitempty"`
	Waiting   *int     `json:"waiting,omitempty"`
	Preempted *int     `json:"preempted,omitempty"`

	// level is the index of the level in Config.Concurrency.
	level int
}

// GPU is one device of the timeline.
type GPU struct {
	Index int    `json:"index"`
	Name  string `json:"name,omitempty"`
	Total uint64 `json:"total_bytes"`
}

// Header is the first record of a timeline file: what the plot needs
// beside the samples.
type Header struct {
	Engine string `json:"engine"`
	URL    string `json:"url"`
	GPUs   []GPU  `json:"gpus"`
	// Levels are the concurrency values, in the order run.
	Levels    []int      `json:"levels"`
	Predicted *Predicted `json:"predicted,omitempty"`
}

// headerLine wraps the header so that a reader tells it from a Point.
type headerLine struct {
	Header Header `json:"vramcalc_load_timeline"`
}

// timelineWriter appends points to a file as they come, one unbuffered
// write per line, so that an interrupt loses nothing already sampled.
type timelineWriter struct {
	f    *os.File
	csv  bool
	gpus int
}

// createTimeline writes the header to path: JSONL, or CSV when path ends
// in .csv (the header then is a # comment line of JSON, and the columns
// t_s, level, used_bytes_gpuN…, kv_usage, running, waiting, preempted).
func createTimeline(path string, h Header) (*timelineWriter, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("load: timeline: %w", err)
	}
	w := &timelineWriter{f: f, csv: strings.EqualFold(filepath.Ext(path), ".csv"), gpus: len(h.GPUs)}
	b, _ := json.Marshal(headerLine{h})
	line := string(b) + "\n"
	if w.csv {
		cols := []string{"t_s", "level"}
		for _, g := range h.GPUs {
			cols = append(cols, fmt.Sprintf("used_bytes_gpu%d", g.Index))
		}
		line = "# " + line + strings.Join(append(cols, "kv_usage", "running", "waiting", "preempted"), ",") + "\n"
	}
	if _, err := f.WriteString(line); err != nil {
		f.Close()
		return nil, fmt.Errorf("load: timeline: %w", err)
	}
	return w, nil
}

func (w *timelineWriter) write(p Point) error {
	var line string
	if w.csv {
		cells := []string{strconv.FormatFloat(p.T, 'f', 3, 64), strconv.Itoa(p.Level)}
		for i := range w.gpus {
			c := ""
			if i < len(p.UsedBytes) {
				c = strconv.FormatUint(p.UsedBytes[i], 10)
			}
			cells = append(cells, c)
		}
		kv := ""
		if p.KVUsage != nil {
			kv = strconv.FormatFloat(*p.KVUsage, 'f', -1, 64)
		}
		line = strings.Join(append(cells, kv, optInt(p.Running), optInt(p.Waiting), optInt(p.Preempted)), ",") + "\n"
	} else {
		b, _ := json.Marshal(p)
		line = string(b) + "\n"
	}
	if _, err := w.f.WriteString(line); err != nil {
		return fmt.Errorf("load: timeline: %w", err)
	}
	return nil
}

func (w *timelineWriter) close() error {
	if err := w.f.Close(); err != nil {
		return fmt.Errorf("load: timeline: %w", err)
	}
	return nil
}

func optInt(v *int) string {
	if v == nil {
		return ""
	}
	return strconv.Itoa(*v)
}

// ErrNotTimeline is a file whose first record is not a timeline header.
var ErrNotTimeline = errors.New("load: not a vramcalc load timeline")

// ReadTimeline reads a timeline file as Run writes it, JSONL or CSV (by
// its first byte: CSV starts with its # header line). A last line cut
// short by an interrupt is skipped.
func ReadTimeline(r io.Reader) (Header, []Point, error) {
	br := bufio.NewReader(r)
	first, err := br.ReadString('\n')
	if err != nil && first == "" {
		return Header{}, nil, fmt.Errorf("%w: empty", ErrNotTimeline)
	}
	isCSV := strings.HasPrefix(first, "# ")
	var h headerLine
	if err := json.Unmarshal([]byte(strings.TrimPrefix(first, "# ")), &h); err != nil || h.Header.Engine == "" {
		return Header{}, nil, fmt.Errorf("%w: the first line is no header", ErrNotTimeline)
	}
	if isCSV {
		pts, err := readCSVPoints(br, len(h.Header.GPUs))
		return h.Header, pts, err
	}
	var pts []Point
	sc := bufio.NewScanner(br)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var p Point
		if json.Unmarshal(sc.Bytes(), &p) == nil {
			pts = append(pts, p)
		}
	}
	if err := sc.Err(); err != nil {
		return h.Header, pts, fmt.Errorf("load: read timeline: %w", err)
	}
	return h.Header, pts, nil
}

func readCSVPoints(r io.Reader, gpus int) ([]Point, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	if _, err := cr.Read(); err != nil { // the column names
		return nil, fmt.Errorf("%w: no column names", ErrNotTimeline)
	}
	var pts []Point
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return pts, nil
		}
		if err != nil || len(rec) != 2+gpus+4 {
			continue
		}
		var p Point
		p.T, _ = strconv.ParseFloat(rec[0], 64)
		p.Level, _ = strconv.Atoi(rec[1])
		for _, c := range rec[2 : 2+gpus] {
			if v, err := strconv.ParseUint(c, 10, 64); err == nil {
				p.UsedBytes = append(p.UsedBytes, v)
			}
		}
		if len(p.UsedBytes) != gpus {
			p.UsedBytes = nil
		}
		rest := rec[2+gpus:]
		if v, err := strconv.ParseFloat(rest[0], 64); err == nil {
			p.KVUsage = &v
		}
		p.Running, p.Waiting, p.Preempted = parseOpt(rest[1]), parseOpt(rest[2]), parseOpt(rest[3])
		pts = append(pts, p)
	}
}

func parseOpt(s string) *int {
	v, err := strconv.Atoi(s)
	if err != nil {
		return nil
	}
	return &v
}
