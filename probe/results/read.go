package results

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
)

// Errors for branch points; each is returned wrapped, naming the line (and,
// from OpenStore, the file).
var (
	// ErrNotResults: the file's first record is not a vramcalc record. It
	// is refused and left as it is.
	ErrNotResults = errors.New("not a vramcalc results file")
	// ErrCorrupt: a line after the first record is not a vramcalc record
	// (and is not a torn last line). The file is left as it is.
	ErrCorrupt = errors.New("corrupt results line")
	// ErrLocked: another validate run holds the file's lock.
	ErrLocked = errors.New("locked by another vramcalc validate")
)

// maxLine bounds a line: a record is a few KiB (40 log lines at most), so a
// longer line is not one, and reading stops there.
const maxLine = 16 << 20

// The prefixes every record line starts with: json.Marshal writes fields
// in their order and Observation.Run and Header.Kind come first.
var recordPrefixes = [][]byte{[]byte(`{"run":"`), []byte(`{"kind":"` + KindRun + `","run":"`)}

// Contents is what a results file holds, in file order.
type Contents struct {
	// Headers are the run headers (one per validate invocation).
	Headers []Header
	// Observations are the launches; Lines[i] is the 1-based line of
	// Observations[i].
	Observations []Observation
	Lines        []int
	// RunIDs are the run ids of the file's records, headers and
	// observations, each once, in order of first appearance; LastRun is
	// the run id of the last record ("" for an empty file).
	RunIDs  []string
	LastRun string
}

func (c *Contents) addRun(id string) {
	if !slices.Contains(c.RunIDs, id) {
		c.RunIDs = append(c.RunIDs, id)
	}
	c.LastRun = id
}

// Header returns the last header of run id, false when the file has none.
func (c Contents) Header(id string) (Header, bool) {
	for i := len(c.Headers) - 1; i >= 0; i-- {
		if c.Headers[i].Run == id {
			return c.Headers[i], true
		}
	}
	return Header{}, false
}

// Read returns the observations of a results file without changing it:
// what calibrate and plot use. See ReadAll.
func Read(r io.Reader) ([]Observation, error) {
	c, err := ReadAll(r)
	return c.Observations, err
}

// ReadAll reads a results file without changing it. Blank lines are
// skipped; a torn last line (no newline, not JSON, and a prefix of a record
// line: a crash mid-write) is dropped, as OpenStore does. A first record
// that is not a vramcalc record wraps ErrNotResults, a later bad line
// ErrCorrupt; both errors start "line N: " (1-based), for the caller to
// prefix with the file's name.
func ReadAll(r io.Reader) (Contents, error) {
	d, err := decode(r)
	return d.Contents, err
}

// decoded is a file's records and where its whole records end.
type decoded struct {
	Contents
	// good is the offset after the last whole record (and blank lines).
	good int64
	// torn: a torn last line follows good; unterminated: the last record
	// is whole but has no newline.
	torn, unterminated bool
}

// decode reads every line of r.
func decode(r io.Reader) (decoded, error) {
	var d decoded
	br := bufio.NewReader(r)
	for n := 1; ; n++ {
		line, eof, err := readLine(br)
		if errors.Is(err, errLong) {
			return decoded{}, d.bad(n, err)
		}
		if err != nil {
			return decoded{}, fmt.Errorf("line %d: %w", n, err)
		}
		if len(line) == 0 {
			return d, nil
		}
		if len(bytes.TrimSpace(line)) > 0 {
			if err := d.add(line, n); err != nil {
				if eof && torn(line) {
					d.torn = true
					return d, nil
				}
				return decoded{}, err
			}
			d.unterminated = eof
		}
		d.good += int64(len(line))
		if eof {
			return d, nil
		}
	}
}

// errLong: a line longer than maxLine.
var errLong = fmt.Errorf("longer than %d bytes", maxLine)

// readLine reads one line with its newline; eof is set when the line is
// the last and has none. A line longer than maxLine is an error.
func readLine(br *bufio.Reader) (line []byte, eof bool, err error) {
	for {
		part, err := br.ReadSlice('\n')
		line = append(line, part...)
		switch {
		case len(line) > maxLine:
			return nil, false, errLong
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			return line, true, nil
		}
		return line, false, err
	}
}

// torn reports a line cut short by a crash: not JSON, and a prefix of a
// record line or starting with one's prefix.
func torn(line []byte) bool {
	if json.Valid(line) {
		return false
	}
	for _, p := range recordPrefixes {
		if bytes.HasPrefix(line, p) || bytes.HasPrefix(p, line) {
			return true
		}
	}
	return false
}

// add decodes line n as a header or an observation. A line that is
// neither is ErrNotResults when no record came before it, else ErrCorrupt.
func (d *decoded) add(line []byte, n int) error {
	var head struct {
		Kind string  `json:"kind"`
		Run  *string `json:"run"`
		Seq  *int    `json:"seq"`
	}
	err := json.Unmarshal(line, &head)
	switch {
	case err != nil:
	case head.Kind == KindRun && head.Run != nil && *head.Run != "":
		var h Header
		if err = json.Unmarshal(line, &h); err == nil {
			d.Headers = append(d.Headers, h)
			d.addRun(h.Run)
			return nil
		}
	case head.Kind == "" && head.Run != nil && head.Seq != nil:
		var o Observation
		if err = json.Unmarshal(line, &o); err == nil {
			d.Observations, d.Lines = append(d.Observations, o), append(d.Lines, n)
			d.addRun(o.Run)
			return nil
		}
	case head.Kind != "":
		err = fmt.Errorf("unknown record kind %q", head.Kind)
	default:
		err = errors.New(`neither a run header nor an observation (no "run" and "seq")`)
	}
	return d.bad(n, err)
}

// bad is the error for line n, which is not a record: ErrNotResults when
// no record came before it, else ErrCorrupt.
func (d *decoded) bad(n int, cause error) error {
	if len(d.Headers)+len(d.Observations) == 0 {
		return fmt.Errorf("line %d: %w: %v", n, ErrNotResults, cause)
	}
	return fmt.Errorf("line %d: %w: %v", n, ErrCorrupt, cause)
}
