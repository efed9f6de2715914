package results

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

const (
	hdr1 = `{"kind":"run","run":"r1","started":"2026-01-01T00:00:00Z","model":"m","engine":"tgi","image":"i","settings":{}}` + "\n"
	hdr2 = `{"kind":"run","run":"r2","started":"2026-01-01T01:00:00Z","model":"m","engine":"tgi","image":"i","settings":{}}` + "\n"
	obs1 = `{"run":"r1","seq":1,"point":{"max_input_tokens":4095,"max_total_tokens":4096},"outcome":"ok"}` + "\n"
	obs2 = `{"run":"r2","seq":1,"point":{"max_input_tokens":8191,"max_total_tokens":8192},"outcome":"failed"}` + "\n"
)

// TestFileRecords: what ReadAll and OpenStore make of each file. A whole
// file keeps every byte; a torn last line that is a prefix of a record (or
// starts with one's prefix) is cut by OpenStore; a whole last record without
// its newline gets one; anything else is refused (ErrNotResults when it is
// the first record, ErrCorrupt after one) and the file is left as it was.
func TestFileRecords(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		err        error
		errText    string
		// headers, observation lines, run ids, last run; after is the
		// file OpenStore leaves ("" when it is unchanged).
		headers int
		lines   []int
		runs    []string
		last    string
		after   string
	}{
		{name: "empty"},
		{name: "before headers", file: obs1 + strings.Replace(obs1, `"seq":1`, `"seq":2`, 1), lines: []int{1, 2}, runs: []string{"r1"}, last: "r1"},
		{name: "two runs", file: hdr1 + obs1 + "\n" + hdr2 + obs2, headers: 2, lines: []int{2, 5}, runs: []string{"r1", "r2"}, last: "r2"},
		{name: "killed in the first launch", file: hdr1, headers: 1, runs: []string{"r1"}, last: "r1"},
		{name: "torn observation", file: hdr1 + `{"run":"r1","seq":1,"poi`, headers: 1, runs: []string{"r1"}, last: "r1", after: hdr1},
		{name: "torn header", file: `{"kind":"ru`, after: "\x00"},
		{name: "one brace", file: obs1 + `{`, lines: []int{1}, runs: []string{"r1"}, last: "r1", after: obs1},
		{name: "no last newline", file: hdr1 + strings.TrimSuffix(obs1, "\n"), headers: 1, lines: []int{2}, runs: []string{"r1"}, last: "r1", after: hdr1 + obs1},
		{name: "text", file: "hello world\n", err: ErrNotResults, errText: "line 1: not a vramcalc results file: invalid character 'h' looking for beginning of value"},
		{name: "text without newline", file: "hello", err: ErrNotResults, errText: "line 1: not a vramcalc results file: invalid character 'h' looking for beginning of value"},
		{name: "csv", file: "model,gpu\nllama,L4\n", err: ErrNotResults},
		{name: "other json", file: "\n" + `{"name":"x"}` + "\n", err: ErrNotResults, errText: `line 2: not a vramcalc results file: neither a run header nor an observation (no "run" and "seq")`},
		{name: "json array", file: "[1,2]\n", err: ErrNotResults},
		{name: "corrupt middle line", file: obs1 + "garbage\n" + obs1, err: ErrCorrupt, errText: "line 2: corrupt results line: invalid character 'g' looking for beginning of value"},
		{name: "cut line with newline", file: hdr1 + `{"run":"r1","seq":1,` + "\n", err: ErrCorrupt, errText: "line 2: corrupt results line: unexpected end of JSON input"},
		{name: "unknown kind", file: hdr1 + `{"kind":"end","run":"r1"}` + "\n", err: ErrCorrupt, errText: `line 2: corrupt results line: unknown record kind "end"`},
		{name: "foreign last line", file: obs1 + "garb", err: ErrCorrupt},
		{name: "whole json last line", file: obs1 + `{"run":"x"}`, err: ErrCorrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ReadAll(strings.NewReader(tc.file))
			if !errors.Is(err, tc.err) || (tc.errText != "" && err.Error() != tc.errText) {
				t.Errorf("ReadAll: %v, want %v %q", err, tc.err, tc.errText)
			}
			path := filepath.Join(t.TempDir(), "r.jsonl")
			if err := os.WriteFile(path, []byte(tc.file), 0o644); err != nil {
				t.Fatal(err)
			}
			s, c2, err := OpenStore(path)
			if !errors.Is(err, tc.err) || (tc.errText != "" && err.Error() != "results: "+path+": "+tc.errText) {
				t.Errorf("OpenStore: %v, want %v", err, tc.err)
			}
			if err == nil {
				s.Close()
			}
			for _, got := range []Contents{c, c2} {
				if len(got.Headers) != tc.headers || !slices.Equal(got.Lines, tc.lines) || len(got.Observations) != len(tc.lines) ||
					!slices.Equal(got.RunIDs, tc.runs) || got.LastRun != tc.last {
					t.Errorf("%d headers, lines %v, runs %v, last %q", len(got.Headers), got.Lines, got.RunIDs, got.LastRun)
				}
			}
			want := tc.file
			switch tc.after {
			case "":
			case "\x00":
				want = ""
			default:
				want = tc.after
			}
			if b, _ := os.ReadFile(path); string(b) != want {
				t.Errorf("OpenStore left %q, want %q", b, want)
			}
		})
	}
}

// TestStoreLock: while one Store holds a file, a second OpenStore (another
// open of the file, as another process makes) fails with ErrLocked naming
// the run of the file's last header, and changes nothing; once the first is
// closed the file opens again.
func TestStoreLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "results.jsonl")
	s, _, err := OpenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = OpenStore(path)
	if !errors.Is(err, ErrLocked) || err.Error() != "results: "+path+" is in use: locked by another vramcalc validate" {
		t.Errorf("locked, no header yet: %v", err)
	}
	const id = "1767225600-0123456789abcdef"
	if err := s.WriteHeader(Header{Run: id, Model: "m"}); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	_, _, err = OpenStore(path)
	if !errors.Is(err, ErrLocked) || err.Error() != "results: "+path+" is in use by run "+id+": locked by another vramcalc validate" {
		t.Errorf("locked: %v", err)
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) || !strings.HasPrefix(string(after), `{"kind":"run","run":"`+id+`",`) {
		t.Errorf("file %q, was %q", after, before)
	}
	s.Close()
	s, c, err := OpenStore(path)
	if err != nil || len(c.Headers) != 1 || c.Headers[0].Run != id || c.Headers[0].Kind != KindRun || c.LastRun != id {
		t.Fatalf("reopened: %+v, %v", c, err)
	}
	s.Close()
}

// fullDisk takes room bytes, then fails every write with ENOSPC after
// writing what fits, as a filling disk does.
type fullDisk struct {
	data []byte
	room int
	// peak is the most the file held.
	peak int
}

func (d *fullDisk) Write(b []byte) (int, error) {
	n := min(len(b), d.room-len(d.data))
	d.data = append(d.data, b[:n]...)
	d.peak = max(d.peak, len(d.data))
	if n < len(b) {
		return n, &os.PathError{Op: "write", Path: "r.jsonl", Err: syscall.ENOSPC}
	}
	return n, nil
}
func (d *fullDisk) Sync() error               { return nil }
func (d *fullDisk) Close() error              { return nil }
func (d *fullDisk) Truncate(size int64) error { d.data = d.data[:size]; return nil }

// TestStoreFullDisk: a record that does not fit is an error wrapping
// ENOSPC, and the part of it that was written is cut off again: the file
// ends with the last whole record. The header (107 bytes with its newline)
// and one observation (324) fit in 600 bytes; a second does not (431 + 324
// = 755), and 169 of its bytes are written before the disk is full.
func TestStoreFullDisk(t *testing.T) {
	d := &fullDisk{room: 600}
	s := &Store{f: d, path: "r.jsonl"}
	if err := s.WriteHeader(Header{Run: "r1"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Append(Observation{Run: "r1", Seq: 1}); err != nil {
		t.Fatal(err)
	}
	whole := string(d.data)
	if len(whole) != 431 {
		t.Fatalf("header and observation take %d bytes, want 107 + 324", len(whole))
	}
	err := s.Append(Observation{Run: "r1", Seq: 2})
	if !errors.Is(err, syscall.ENOSPC) || err.Error() != "results: write observation 2 to r.jsonl: write r.jsonl: no space left on device" {
		t.Errorf("full disk: %v", err)
	}
	c, rerr := ReadAll(strings.NewReader(string(d.data)))
	if d.peak != 600 || string(d.data) != whole || rerr != nil || len(c.Headers) != 1 || len(c.Observations) != 1 || strings.Count(whole, "\n") != 2 {
		t.Errorf("left %q (%d records, %v)", d.data, len(c.Headers)+len(c.Observations), rerr)
	}
}

// TestStoreDevFull: the real device that is always full (Linux's
// /dev/full) is refused before anything is read from it (it reads as
// endless zeros): it is not a regular file.
func TestStoreDevFull(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full on this system")
	}
	_, _, err := OpenStore("/dev/full")
	if !errors.Is(err, ErrNotResults) || err.Error() != "results: /dev/full: not a vramcalc results file: not a regular file" {
		t.Errorf("/dev/full: %v", err)
	}
}
