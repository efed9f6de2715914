package results

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
)

// Store appends records to a results file it holds locked: one write of a
// whole line (O_APPEND) and one fsync per record, so a crash loses at most
// the launch in flight.
type Store struct {
	f    file
	path string
	// size is the length of the file's whole records: a record whose
	// write or fsync fails is cut off again.
	size int64
}

// file is what a Store writes to: an *os.File (tests give a disk that fills).
type file interface {
	io.WriteCloser
	Sync() error
	Truncate(size int64) error
}

// OpenStore opens (creating if needed) a results file for appending, takes
// its exclusive lock for as long as the Store is open, and returns what the
// file already holds. A file held by another Store (in any process) is an
// error wrapping ErrLocked that names the holder's run id (its last
// header's). A file that is not a results file (ErrNotResults) or has a bad
// line (ErrCorrupt) is refused and left as it is; only a torn last line
// is repaired, by truncating the file to its last whole record.
func OpenStore(path string) (*Store, Contents, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, Contents{}, fmt.Errorf("results: open %s: %w", path, err)
	}
	s, c, err := open(f, path)
	if err != nil {
		f.Close()
		return nil, Contents{}, err
	}
	return s, c, nil
}

// open locks, reads and repairs f.
func open(f *os.File, path string) (*Store, Contents, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, Contents{}, fmt.Errorf("results: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, Contents{}, fmt.Errorf("results: %s: %w: not a regular file", path, ErrNotResults)
	}
	if err := lock(f); errors.Is(err, errWouldBlock) {
		return nil, Contents{}, lockedError(f, path)
	} else if err != nil {
		return nil, Contents{}, fmt.Errorf("results: lock %s: %w", path, err)
	}
	d, err := decode(f)
	if err != nil {
		return nil, Contents{}, fmt.Errorf("results: %s: %w", path, err)
	}
	s := &Store{f: f, path: path, size: d.good}
	if d.torn {
		if err := f.Truncate(d.good); err != nil {
			return nil, Contents{}, fmt.Errorf("results: repair %s: %w", path, err)
		}
	}
	if d.unterminated {
		if err := s.write([]byte("\n"), "the newline of its last record"); err != nil {
			return nil, Contents{}, err
		}
	}
	return s, d.Contents, nil
}

// lockedError names the run that holds f: the run id of its last header.
func lockedError(f *os.File, path string) error {
	d, _ := decode(f)
	if n := len(d.Headers); n > 0 {
		return fmt.Errorf("results: %s is in use by run %s: %w", path, d.Headers[n-1].Run, ErrLocked)
	}
	return fmt.Errorf("results: %s is in use: %w", path, ErrLocked)
}

// WriteHeader writes a run header and syncs it to disk.
func (s *Store) WriteHeader(h Header) error {
	h.Kind = KindRun
	b, err := json.Marshal(h)
	if err != nil {
		return fmt.Errorf("results: encode the header of run %s: %w", h.Run, err)
	}
	return s.write(append(b, '\n'), "the header of run "+h.Run)
}

// Append writes one observation and syncs it to disk.
func (s *Store) Append(o Observation) error {
	b, err := json.Marshal(o)
	if err != nil {
		return fmt.Errorf("results: encode observation %d: %w", o.Seq, err)
	}
	return s.write(append(b, '\n'), "observation "+strconv.Itoa(o.Seq))
}

// write appends b, one whole line, and syncs it. When either fails (a full
// disk), what was written of b is cut off again, so that the file holds
// only records that are on disk whole.
func (s *Store) write(b []byte, what string) error {
	_, err := s.f.Write(b)
	op := "write"
	if err == nil {
		op, err = "sync", s.f.Sync()
	}
	if err != nil {
		if terr := s.f.Truncate(s.size); terr == nil {
			_ = s.f.Sync()
		}
		return fmt.Errorf("results: %s %s to %s: %w", op, what, s.path, err)
	}
	s.size += int64(len(b))
	return nil
}

// Close releases the lock and closes the file.
func (s *Store) Close() error { return s.f.Close() }
