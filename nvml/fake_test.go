package nvml_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vramcalc/vramcalc/nvml"
)

// Memory figures used across the tests, for an H100 80GB HBM3 (NVML total
// 85,017,755,648 B = 81,079 MiB).
const (
	gib     = uint64(1) << 30
	h100    = uint64(85017755648)
	h100Res = uint64(553648128) // 528 MiB reserved by driver/firmware (v2)
)

var h100Dev = nvml.Device{Index: 0, UUID: "GPU-0", Name: "NVIDIA H100 80GB HBM3", Total: h100}

func used(n ...uint64) []nvml.MemSample {
	out := make([]nvml.MemSample, len(n))
	for i, u := range n {
		out[i] = nvml.MemSample{Used: u, Reserved: h100Res, Free: h100 - h100Res - u}
	}
	return out
}

func TestFakeSequence(t *testing.T) {
	tests := []struct {
		name    string
		samples []nvml.MemSample
		fail    func(index, call int) error
		want    []uint64 // Used per call; 0 with wantErr[i]
		wantErr []bool
	}{
		{
			name:    "plays in order then repeats the last",
			samples: used(gib/2, 16*gib, 72*gib),
			want:    []uint64{gib / 2, 16 * gib, 72 * gib, 72 * gib, 72 * gib},
			wantErr: []bool{false, false, false, false, false},
		},
		{
			name:    "single sample repeats",
			samples: used(15 * gib),
			want:    []uint64{15 * gib, 15 * gib, 15 * gib},
			wantErr: []bool{false, false, false},
		},
		{
			name:    "a failed read does not advance",
			samples: used(gib/2, 16*gib, 72*gib),
			fail: func(_, call int) error {
				if call == 1 || call == 2 {
					return nvml.ErrUnavailable
				}
				return nil
			},
			want:    []uint64{gib / 2, 0, 0, 16 * gib, 72 * gib},
			wantErr: []bool{false, true, true, false, false},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &nvml.Fake{GPUs: []nvml.Device{h100Dev}, Samples: map[int][]nvml.MemSample{0: tt.samples}, Fail: tt.fail}
			for i, want := range tt.want {
				before := time.Now()
				got, err := f.Sample(t.Context(), 0)
				if (err != nil) != tt.wantErr[i] {
					t.Fatalf("call %d: err = %v, want error %v", i, err, tt.wantErr[i])
				}
				if err != nil {
					if !errors.Is(err, nvml.ErrUnavailable) || !strings.HasPrefix(err.Error(), "nvml: sample device 0: ") {
						t.Errorf("call %d: err = %q, want it wrapped with the device and matching ErrUnavailable", i, err)
					}
					continue
				}
				if got.Used != want || got.Index != 0 {
					t.Errorf("call %d: Used = %d Index = %d, want %d and 0", i, got.Used, got.Index, want)
				}
				if got.Used+got.Reserved+got.Free != h100 {
					t.Errorf("call %d: Used+Reserved+Free = %d, want %d", i, got.Used+got.Reserved+got.Free, h100)
				}
				if got.At.Before(before) {
					t.Errorf("call %d: At = %v, want the read time (zero At in the list)", i, got.At)
				}
			}
			if got := f.Calls(0); got != len(tt.want) {
				t.Errorf("Calls(0) = %d, want %d", got, len(tt.want))
			}
		})
	}
}

func TestFakeSequenceKeepsRecordedAt(t *testing.T) {
	at := time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC)
	f := &nvml.Fake{GPUs: []nvml.Device{h100Dev}, Samples: map[int][]nvml.MemSample{0: {{At: at, Used: 16 * gib}}}}
	got, err := f.Sample(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if !got.At.Equal(at) {
		t.Errorf("At = %v, want the recorded %v", got.At, at)
	}
}

func TestFakeTimeline(t *testing.T) {
	t0 := time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC)
	// A TGI start on one H100: CUDA context at t0, weights (Llama-3-8B,
	// ~15 GiB bf16) from t0+1s, warm-up peak at t0+3s, KV cache after t0+4s.
	timeline := []nvml.MemSample{
		{At: t0, Used: gib / 2},
		{At: t0.Add(1 * time.Second), Used: 15*gib + gib/2},
		{At: t0.Add(3 * time.Second), Used: 72 * gib},
		{At: t0.Add(4 * time.Second), Used: 70 * gib},
	}
	tests := []struct {
		at   time.Duration // after t0
		want uint64
	}{
		{-time.Second, gib / 2}, // before the first At: the first sample
		{0, gib / 2},
		{500 * time.Millisecond, gib / 2},
		{time.Second, 15*gib + gib/2}, // a sample applies from its At
		{3*time.Second - time.Nanosecond, 15*gib + gib/2},
		{3 * time.Second, 72 * gib},
		{4 * time.Second, 70 * gib},
		{time.Hour, 70 * gib}, // the last one holds
	}
	var now time.Time
	f := &nvml.Fake{
		GPUs:    []nvml.Device{h100Dev},
		Samples: map[int][]nvml.MemSample{0: timeline},
		Now:     func() time.Time { return now },
	}
	for _, tt := range tests {
		now = t0.Add(tt.at)
		got, err := f.Sample(t.Context(), 0)
		if err != nil {
			t.Fatalf("at %v: %v", tt.at, err)
		}
		if got.Used != tt.want || !got.At.Equal(now) {
			t.Errorf("at %v: Used = %d At = %v, want %d at %v", tt.at, got.Used, got.At, tt.want, now)
		}
	}
	// Timeline mode does not consume samples: the same instant reads the same.
	now = t0.Add(3 * time.Second)
	for range 3 {
		if got, _ := f.Sample(t.Context(), 0); got.Used != 72*gib {
			t.Fatalf("repeated read at t0+3s: Used = %d, want %d", got.Used, 72*gib)
		}
	}
}

func TestFakeErrors(t *testing.T) {
	newFake := func() *nvml.Fake {
		return &nvml.Fake{
			GPUs: []nvml.Device{h100Dev, {Index: 1, UUID: "GPU-1", Name: "NVIDIA H100 80GB HBM3", Total: h100}},
			// Device 1 is listed but has no samples.
			Samples: map[int][]nvml.MemSample{0: used(gib)},
		}
	}
	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	tests := []struct {
		name   string
		ctx    context.Context
		index  int
		close  bool
		target error // errors.Is target; nil: any error
		msg    string
	}{
		{"unknown index", t.Context(), 8, false, nvml.ErrNoDevice, "nvml: sample device 8: no such device"},
		{"negative index", t.Context(), -1, false, nvml.ErrNoDevice, "nvml: sample device -1: no such device"},
		{"device without samples", t.Context(), 1, false, nil, "nvml: sample device 1: fake has no samples for it"},
		{"after close", t.Context(), 0, true, nvml.ErrUnavailable, "nvml: sample device 0: unavailable: sampler closed"},
		{"canceled context", canceled, 0, false, context.Canceled, "nvml: sample device 0: context canceled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake()
			if tt.close {
				if err := f.Close(); err != nil {
					t.Fatal(err)
				}
				if !f.Closed() {
					t.Error("Closed() = false after Close")
				}
			}
			_, err := f.Sample(tt.ctx, tt.index)
			if err == nil {
				t.Fatal("Sample succeeded, want an error")
			}
			if tt.target != nil && !errors.Is(err, tt.target) {
				t.Errorf("err = %v, want errors.Is %v", err, tt.target)
			}
			if err.Error() != tt.msg {
				t.Errorf("err = %q, want %q", err, tt.msg)
			}
		})
	}
}

func TestFakeDevices(t *testing.T) {
	f := &nvml.Fake{GPUs: []nvml.Device{h100Dev}}
	got, err := f.Devices(t.Context())
	if err != nil || len(got) != 1 || got[0] != h100Dev {
		t.Fatalf("Devices = %v, %v; want [%v]", got, err, h100Dev)
	}
	got[0].Name = "changed"
	if again, _ := f.Devices(t.Context()); again[0] != h100Dev {
		t.Error("Devices returned the Fake's own slice")
	}
	f.Close()
	if _, err := f.Devices(t.Context()); !errors.Is(err, nvml.ErrUnavailable) {
		t.Errorf("Devices after Close: err = %v, want ErrUnavailable", err)
	}
}

func TestNull(t *testing.T) {
	var s nvml.Sampler = nvml.Null{}
	devs, err := s.Devices(t.Context())
	if err != nil || len(devs) != 0 {
		t.Errorf("Devices = %v, %v; want none, nil", devs, err)
	}
	if _, err := s.Sample(t.Context(), 0); !errors.Is(err, nvml.ErrNoDevice) {
		t.Errorf("Sample(0): err = %v, want ErrNoDevice", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close = %v", err)
	}
}

// TestUnopened: a sampler that could not be opened fails every read with
// Open's error, and a watch over it reads no GPU and keeps that error.
func TestUnopened(t *testing.T) {
	openErr := nvml.Unavailable(errors.New("ERROR_LIBRARY_NOT_FOUND"), "nvml: init") // what driver.Open says without a driver
	var s nvml.Sampler = nvml.Unopened{Err: openErr}
	if devs, err := s.Devices(t.Context()); devs != nil || err != openErr {
		t.Errorf("Devices = %v, %v", devs, err)
	}
	if _, err := s.Sample(t.Context(), 0); !errors.Is(err, nvml.ErrUnavailable) || err.Error() != openErr.Error() {
		t.Errorf("Sample = %v, want %v", err, openErr)
	}
	p := nvml.Watch(t.Context(), s, []int{0, 1}, time.Millisecond)
	if peaks := p.Stop(); len(peaks) != 0 || p.Samples() != 0 || p.Errors() < 4 || p.Err() != openErr {
		t.Errorf("watch: peaks %v, %d samples, %d errors, last %v", peaks, p.Samples(), p.Errors(), p.Err())
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close = %v", err)
	}
}
