// Package driver is the go-nvml adapter of package nvml: Open reads the
// NVIDIA driver's NVML (built with cgo on Linux; elsewhere a stub that
// returns nvml.ErrUnavailable). It is a package of its own so that only the
// programs that sample real GPUs (vramcalc-validate) link cgo and go-nvml.
package driver
