package results

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

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
		return nil, nil, fmt.Errorf("results: open %s: %w", path, err)
	}
	prev, good, err := decode(f)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("results: read %s: %w", path, err)
	}
	if err := f.Truncate(good); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("results: repair %s: %w", path, err)
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("results: seek %s: %w", path, err)
	}
	return &Store{f: f}, prev, nil
}

// Append writes one observation and syncs it to disk.
func (s *Store) Append(o Observation) error {
	b, err := json.Marshal(o)
	if err != nil {
		return fmt.Errorf("results: encode observation %d: %w", o.Seq, err)
	}
	b = append(b, '\n')
	if _, err := s.f.Write(b); err != nil {
		return fmt.Errorf("results: write observation %d: %w", o.Seq, err)
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("results: sync observation %d: %w", o.Seq, err)
	}
	return nil
}

// Close closes the file.
func (s *Store) Close() error { return s.f.Close() }

// Read reads a results file without changing it: what calibrate and plot
// use. Blank lines are skipped and a torn last line (a crash mid-write, no
// newline) is dropped, as OpenStore does. A line that does not decode is an
// error that starts "line N: " (1-based), for the caller to prefix with the
// file's name.
func Read(r io.Reader) ([]Observation, error) {
	obs, _, err := decode(r)
	return obs, err
}

// decode reads the whole lines of r, skipping blank ones, and returns their
// observations and the offset after the last whole line.
func decode(r io.Reader) ([]Observation, int64, error) {
	var out []Observation
	br := bufio.NewReader(r)
	var off int64
	for n := 1; ; n++ {
		line, err := br.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			// An unterminated line is a torn write: drop it.
			return out, off, nil
		}
		if err != nil {
			return nil, 0, fmt.Errorf("line %d: %w", n, err)
		}
		off += int64(len(line))
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var o Observation
		if err := json.Unmarshal(line, &o); err != nil {
			return nil, 0, fmt.Errorf("line %d: %w", n, err)
		}
		out = append(out, o)
	}
}
