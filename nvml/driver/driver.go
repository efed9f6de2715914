//go:build linux && cgo

package driver

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	gonvml "github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/vramcalc/vramcalc/nvml"
)

// Open initialises NVML through go-nvml and returns a nvml.Sampler over every GPU
// NVML lists (in a container: the GPUs passed to it). The caller must Close
// it, which shuts NVML down.
//
// go-nvml loads libnvidia-ml.so.1 with dlopen inside Init, so a binary built
// here runs on machines without a driver. There, and on every other failure
// to initialise NVML, list the GPUs or read one of them, Open returns an
// error matching nvml.ErrUnavailable and the go-nvml Return, e.g.
// "nvml: init: unavailable: ERROR_LIBRARY_NOT_FOUND" (errors.Is(err,
// gonvml.ERROR_LIBRARY_NOT_FOUND) holds too). Open also returns
// nvml.ErrUnavailable when NVML lists no GPU.
//
// Samples use GetMemoryInfo_v2 where the driver has it (R510 and later):
// Used is the allocated memory, Reserved the driver/firmware reservation,
// and Used+Reserved+Free = Total. On older drivers, GetMemoryInfo gives
// Reserved 0 and a Used that includes the reservation (Used+Free = Total).
func Open() (nvml.Sampler, error) {
	s, err := open(gonvml.New())
	if err != nil {
		return nil, err
	}
	return s, nil
}

// memInfoV2Symbol is the NVML symbol behind GetMemoryInfo_v2. Drivers older
// than R510 lack it, and calling a missing symbol through cgo would abort the
// process, so Open looks it up first.
const memInfoV2Symbol = "nvmlDeviceGetMemoryInfo_v2"

// gpu is one device as Open found it.
type gpu struct {
	dev    nvml.Device
	handle gonvml.Device
	// v2 is true when GetMemoryInfo_v2 works on this device; otherwise
	// Sample uses GetMemoryInfo.
	v2 bool
}

// nvmlSampler is the nvml.Sampler over go-nvml. NVML calls are thread-safe; the
// lock only orders Sample and Devices against Close.
type nvmlSampler struct {
	lib gonvml.Interface
	now func() time.Time

	mu     sync.RWMutex
	closed bool
	gpus   []gpu
}

// open initialises lib and lists its devices; on failure it shuts lib down
// again. Tests pass a fake gonvml.Interface.
func open(lib gonvml.Interface) (*nvmlSampler, error) {
	if ret := lib.Init(); ret != gonvml.SUCCESS {
		if ret == gonvml.ERROR_LIBRARY_NOT_FOUND {
			return nil, nvml.Unavailable(ret, "nvml: init: load libnvidia-ml.so.1 (no NVIDIA driver?)")
		}
		return nil, nvml.Unavailable(ret, "nvml: init")
	}
	s := &nvmlSampler{lib: lib, now: time.Now}
	gpus, err := listGPUs(lib)
	if err != nil {
		_ = lib.Shutdown() // the listing error is the one worth reporting
		return nil, err
	}
	s.gpus = gpus
	return s, nil
}

// listGPUs reads index, UUID, name and total memory of every device, and
// decides per device between GetMemoryInfo_v2 and GetMemoryInfo.
func listGPUs(lib gonvml.Interface) ([]gpu, error) {
	n, ret := lib.DeviceGetCount()
	if ret != gonvml.SUCCESS {
		return nil, nvml.Unavailable(ret, "nvml: count devices")
	}
	if n == 0 {
		return nil, nvml.Unavailable(errors.New("no GPU visible"), "nvml: count devices")
	}
	haveV2 := lib.Extensions().LookupSymbol(memInfoV2Symbol) == nil
	gpus := make([]gpu, 0, n)
	for i := range n {
		h, ret := lib.DeviceGetHandleByIndex(i)
		if ret != gonvml.SUCCESS {
			return nil, nvml.Unavailable(ret, "nvml: device %d: get handle", i)
		}
		uuid, ret := h.GetUUID()
		if ret != gonvml.SUCCESS {
			return nil, nvml.Unavailable(ret, "nvml: device %d: get uuid", i)
		}
		name, ret := h.GetName()
		if ret != gonvml.SUCCESS {
			return nil, nvml.Unavailable(ret, "nvml: device %d: get name", i)
		}
		g := gpu{dev: nvml.Device{Index: i, UUID: uuid, Name: name}, handle: h}
		if haveV2 {
			m, ret := h.GetMemoryInfo_v2()
			switch {
			case ret == gonvml.SUCCESS:
				g.v2 = true
				g.dev.Total = m.Total
			case !v1Fallback(ret):
				return nil, nvml.Unavailable(ret, "nvml: device %d: memory info (v2)", i)
			}
		}
		if !g.v2 {
			m, ret := h.GetMemoryInfo()
			if ret != gonvml.SUCCESS {
				return nil, nvml.Unavailable(ret, "nvml: device %d: memory info", i)
			}
			g.dev.Total = m.Total
		}
		gpus = append(gpus, g)
	}
	return gpus, nil
}

// v1Fallback reports whether a GetMemoryInfo_v2 failure means "use v1".
func v1Fallback(ret gonvml.Return) bool {
	switch ret {
	case gonvml.ERROR_NOT_SUPPORTED, gonvml.ERROR_FUNCTION_NOT_FOUND, gonvml.ERROR_ARGUMENT_VERSION_MISMATCH:
		return true
	}
	return false
}

// Devices returns the GPUs found by Open, in index order.
func (s *nvmlSampler) Devices(ctx context.Context) ([]nvml.Device, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("nvml: devices: %w", err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, nvml.Unavailable(errors.New("sampler closed"), "nvml: devices")
	}
	out := make([]nvml.Device, len(s.gpus))
	for i, g := range s.gpus {
		out[i] = g.dev
	}
	return out, nil
}

// Sample reads one device's memory. With GetMemoryInfo_v2, Used is the
// allocated memory and Reserved the driver/firmware reservation, and
// Used+Reserved+Free = Total. With GetMemoryInfo (old drivers), Reserved is 0
// and Used includes the reservation, so Used+Free = Total.
func (s *nvmlSampler) Sample(ctx context.Context, index int) (nvml.MemSample, error) {
	if err := ctx.Err(); err != nil {
		return nvml.MemSample{}, fmt.Errorf("nvml: sample device %d: %w", index, err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nvml.MemSample{}, nvml.Unavailable(errors.New("sampler closed"), "nvml: sample device %d", index)
	}
	if index < 0 || index >= len(s.gpus) {
		return nvml.MemSample{}, nvml.NoDevice(index)
	}
	g := s.gpus[index]
	if g.v2 {
		m, ret := g.handle.GetMemoryInfo_v2()
		if ret != gonvml.SUCCESS {
			return nvml.MemSample{}, nvml.Unavailable(ret, "nvml: sample device %d", index)
		}
		return nvml.MemSample{At: s.now(), Index: index, Used: m.Used, Reserved: m.Reserved, Free: m.Free}, nil
	}
	m, ret := g.handle.GetMemoryInfo()
	if ret != gonvml.SUCCESS {
		return nvml.MemSample{}, nvml.Unavailable(ret, "nvml: sample device %d", index)
	}
	return nvml.MemSample{At: s.now(), Index: index, Used: m.Used, Free: m.Free}, nil
}

// Close shuts NVML down. Later calls do nothing; Sample and Devices then
// return nvml.ErrUnavailable.
func (s *nvmlSampler) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if ret := s.lib.Shutdown(); ret != gonvml.SUCCESS {
		return fmt.Errorf("nvml: shutdown: %w", ret)
	}
	return nil
}
