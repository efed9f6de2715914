package nvml

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Fake is a playback Sampler for tests; it needs no GPU and no cgo. Build it
// as a literal (&nvml.Fake{...}) and use it through a pointer.
//
// Each device plays back its own list of samples, in one of two modes:
//
//   - Sequence (Now is nil): each Sample call returns the next sample of the
//     device's list and then the last one forever. The returned At is the
//     sample's At, or time.Now() when that is zero.
//   - Timeline (Now is set): a sample applies from its At onward, until the
//     At of the next one; the list must be sorted by At. Sample returns the
//     one that applies at Now(), with At set to Now(). The first sample also
//     covers any time before its At. Inside a testing/synctest bubble,
//     Now: time.Now follows the bubble's fake clock.
//
// Sample sets Index to the requested index in both modes.
type Fake struct {
	// GPUs are the devices; Devices returns them in this order. An index
	// that is not listed here gives ErrNoDevice.
	GPUs []Device
	// Samples maps a device index to its playback list. A listed device
	// with an empty list fails every Sample.
	Samples map[int][]MemSample
	// Now selects timeline mode (see above); nil means sequence mode.
	Now func() time.Time
	// Fail, when set, is called before each read with the device index and
	// the number of earlier Sample calls for that device (0 for the first);
	// a non-nil result is returned, wrapped ("nvml: sample device 0: ..."),
	// as the Sample error. A failed read does not advance the sequence.
	Fail func(index, call int) error

	mu     sync.Mutex
	calls  map[int]int // Sample calls per device, failed ones included
	next   map[int]int // sequence position per device
	closed bool
}

// Devices returns a copy of GPUs, or ErrUnavailable after Close.
func (f *Fake) Devices(ctx context.Context) ([]Device, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("nvml: devices: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil, Unavailable(errors.New("sampler closed"), "nvml: devices")
	}
	return append([]Device(nil), f.GPUs...), nil
}

// Sample plays back the device's next (sequence) or current (timeline)
// sample. It returns ErrNoDevice for an index not in GPUs, ErrUnavailable
// after Close, the Fail error when Fail returns one, and the context error
// when ctx is done.
func (f *Fake) Sample(ctx context.Context, index int) (MemSample, error) {
	if err := ctx.Err(); err != nil {
		return MemSample{}, fmt.Errorf("nvml: sample device %d: %w", index, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return MemSample{}, Unavailable(errors.New("sampler closed"), "nvml: sample device %d", index)
	}
	if !f.hasDevice(index) {
		return MemSample{}, NoDevice(index)
	}
	if f.calls == nil {
		f.calls = make(map[int]int)
	}
	call := f.calls[index]
	f.calls[index]++
	if f.Fail != nil {
		if err := f.Fail(index, call); err != nil {
			return MemSample{}, fmt.Errorf("nvml: sample device %d: %w", index, err)
		}
	}
	list := f.Samples[index]
	if len(list) == 0 {
		return MemSample{}, fmt.Errorf("nvml: sample device %d: fake has no samples for it", index)
	}
	var s MemSample
	if f.Now != nil {
		now := f.Now()
		s = list[0]
		for _, c := range list[1:] {
			if c.At.After(now) {
				break
			}
			s = c
		}
		s.At = now
	} else {
		if f.next == nil {
			f.next = make(map[int]int)
		}
		i := min(f.next[index], len(list)-1)
		f.next[index] = i + 1
		s = list[i]
		if s.At.IsZero() {
			s.At = time.Now()
		}
	}
	s.Index = index
	return s, nil
}

func (f *Fake) hasDevice(index int) bool {
	for _, d := range f.GPUs {
		if d.Index == index {
			return true
		}
	}
	return false
}

// Close marks the fake closed; later Sample and Devices calls return
// ErrUnavailable. It never fails.
func (f *Fake) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	return nil
}

// Closed reports whether Close was called, for tests that check the code
// under test releases its sampler.
func (f *Fake) Closed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.closed
}

// Calls returns how many times Sample was called for the device, failed
// calls included (calls for unknown indices and after Close are not
// counted).
func (f *Fake) Calls(index int) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[index]
}

// Null is a Sampler with no devices, for runs that measure nothing (like
// k8s-device-plugin's null manager). Devices returns an empty list and
// Sample returns ErrNoDevice for every index.
type Null struct{}

// Devices returns no devices.
func (Null) Devices(ctx context.Context) ([]Device, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("nvml: devices: %w", err)
	}
	return nil, nil
}

// Sample returns ErrNoDevice.
func (Null) Sample(_ context.Context, index int) (MemSample, error) {
	return MemSample{}, NoDevice(index)
}

// Close does nothing.
func (Null) Close() error { return nil }

var (
	_ Sampler = (*Fake)(nil)
	_ Sampler = Null{}
)

// Unopened stands for a sampler that could not be opened (Open's error):
// every read returns Err. A caller that records memory per launch passes
// it instead of no sampler, so that each launch says why it has no
// readings rather than leaving them empty.
type Unopened struct {
	// Err is why; it should match ErrUnavailable.
	Err error
}

// Devices returns Err.
func (u Unopened) Devices(context.Context) ([]Device, error) { return nil, u.Err }

// Sample returns Err.
func (u Unopened) Sample(context.Context, int) (MemSample, error) { return MemSample{}, u.Err }

// Close does nothing.
func (Unopened) Close() error { return nil }

var _ Sampler = Unopened{}
