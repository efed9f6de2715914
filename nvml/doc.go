// Package nvml reads GPU memory: devices and used/free samples, through
// NVIDIA's NVML (package nvml/driver, the go-nvml adapter, built only with
// cgo on Linux), a simulator endpoint, or a playback Fake for tests. The
// probe records the peak per GPU while a point runs. This package is pure
// Go: importing it links no cgo (only vramcalc-validate links nvml/driver).
//
// Samplers, all behind the Sampler interface and all in vramcalc's own
// types (Device, MemSample):
//
//   - driver.Open: NVML through github.com/NVIDIA/go-nvml (imported as
//     gonvml), under //go:build linux && cgo. libnvidia-ml.so.1 is loaded
//     with dlopen at Open, so binaries build and start on machines without
//     a driver; there Open returns ErrUnavailable. Elsewhere
//     (CGO_ENABLED=0, not Linux) a stub Open always returns ErrUnavailable.
//   - SimSampler: the TGI simulator's GET /sim/gpus endpoint (the contract
//     is in SimSampler's documentation).
//   - AMDSampler: AMD GPUs through the amdgpu driver's sysfs files
//     (mem_info_vram_total / mem_info_vram_used); pure Go, no ROCm library.
//     validate does not offer it yet: it also needs ROCm containers
//     (/dev/kfd and /dev/dri instead of --gpus), issue 12 §6.
//   - Fake: plays back per-device samples, by call or by time; Null has no
//     devices. Neither needs cgo, so tests of packages that take a Sampler
//     build with CGO_ENABLED=0, which go-nvml's own mocks cannot.
//   - Unopened: stands for a sampler Open could not open; every read
//     returns Open's error, so a caller that records memory per launch
//     records why it has none.
//
// Watch polls a Sampler from one goroutine and Peak.Stop returns the
// highest Used per device.
//
// What the package deliberately does not do:
//
//   - It reads whole-device memory only. It does not attribute memory to
//     processes (GetComputeRunningProcesses), so another process on the
//     same GPU counts in Used; the probe must start from an idle GPU.
//   - It does not enumerate MIG instances; on a MIG-enabled GPU, NVML
//     reports the parent device (or refuses without privileges).
//   - It does not honour CUDA_VISIBLE_DEVICES: indices are NVML's (PCI bus
//     order, the numbering docker's --gpus uses), not CUDA's. UUIDs are the
//     stable way to name a GPU.
//   - It does not see allocations shorter than the polling interval: Peak
//     is the highest of the samples taken, a lower bound of the true peak.
//   - It does not fall back to nvidia-smi, retry, log or print; errors are
//     returned, wrapped with the device and the operation, and match
//     ErrUnavailable or ErrNoDevice where a caller may branch.
//   - It does not pick a sampler from flags or the environment; cmd does.
package nvml
