//go:build !linux || !cgo

package driver

import (
	"errors"
	"runtime"

	"github.com/vramcalc/vramcalc/nvml"
)

// Open would initialise NVML, but this build cannot: the go-nvml adapter
// needs Linux and cgo. It always returns an error matching nvml.ErrUnavailable
// that says which of the two is missing, e.g.
// "nvml: open: unavailable: built without cgo (CGO_ENABLED=0)".
func Open() (nvml.Sampler, error) {
	if runtime.GOOS != "linux" {
		return nil, nvml.Unavailable(errors.New("not linux (GOOS="+runtime.GOOS+")"), "nvml: open")
	}
	return nil, nvml.Unavailable(errors.New("built without cgo (CGO_ENABLED=0)"), "nvml: open")
}
