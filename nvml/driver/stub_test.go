//go:build !linux || !cgo

package driver_test

import (
	"errors"
	"runtime"
	"testing"

	"github.com/vramcalc/vramcalc/nvml"
	"github.com/vramcalc/vramcalc/nvml/driver"
)

// TestOpenStub runs in builds without the go-nvml adapter
// (CGO_ENABLED=0 go test ./nvml).
func TestOpenStub(t *testing.T) {
	s, err := driver.Open()
	if s != nil || !errors.Is(err, nvml.ErrUnavailable) {
		t.Fatalf("Open = %v, %v; want nil, nvml.ErrUnavailable", s, err)
	}
	want := "nvml: open: unavailable: built without cgo (CGO_ENABLED=0)"
	if runtime.GOOS != "linux" {
		want = "nvml: open: unavailable: not linux (GOOS=" + runtime.GOOS + ")"
	}
	if err.Error() != want {
		t.Errorf("err = %q, want %q", err, want)
	}
}
