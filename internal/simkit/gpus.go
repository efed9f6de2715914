package simkit

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
)

// GPUs is the simulated device memory, updated as a start goes through its
// phases and as the server runs, and served at GET /sim/gpus.
type GPUs struct {
	mu    sync.Mutex
	name  string
	total int64
	used  []int64
}

// NewGPUs is n devices of total bytes each, all free.
func NewGPUs(name string, total int64, n int) *GPUs {
	if name == "" || name == "none" {
		name = "Simulated GPU"
	}
	return &GPUs{name: name, total: total, used: make([]int64, n)}
}

// Total is one device's memory.
func (g *GPUs) Total() int64 { return g.total }

// Set sets device index's memory in use, clamped to [0, total].
func (g *GPUs) Set(index int, used int64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if index >= 0 && index < len(g.used) {
		g.used[index] = min(max(used, 0), g.total)
	}
}

// SetAll sets the first n devices to used(index).
func (g *GPUs) SetAll(n int, used func(index int) int64) {
	for i := range min(n, len(g.used)) {
		g.Set(i, used(i))
	}
}

// Used is device index's memory in use (0 for an unknown index).
func (g *GPUs) Used(index int) int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	if index < 0 || index >= len(g.used) {
		return 0
	}
	return g.used[index]
}

// SimGPU is one element of GET /sim/gpus; the keys are the contract with
// vramcalc's nvml.SimSampler (cmd/tgisim serves the same).
type SimGPU struct {
	Index int    `json:"index"`
	UUID  string `json:"uuid"`
	Name  string `json:"name"`
	Total int64  `json:"total"`
	Used  int64  `json:"used"`
	Free  int64  `json:"free"`
}

// Snapshot is every device now.
func (g *GPUs) Snapshot() []SimGPU {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]SimGPU, len(g.used))
	for i, u := range g.used {
		out[i] = SimGPU{Index: i, UUID: fmt.Sprintf("sim-%d", i), Name: g.name, Total: g.total, Used: u, Free: g.total - u}
	}
	return out
}

// ServeHTTP answers GET /sim/gpus.
func (g *GPUs) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	WriteJSON(w, http.StatusOK, g.Snapshot())
}

// WriteJSON writes v as the JSON body with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

// AllocRound is PyTorch's caching allocator's rounding: allocations above
// 1 MiB come from segments in multiples of 2 MiB, smaller ones in 512-byte
// units.
func AllocRound(n int64) int64 {
	if n <= 0 {
		return 0
	}
	if n > 1<<20 {
		return CeilDiv(n, 2<<20) * (2 << 20)
	}
	return CeilDiv(n, 512) * 512
}

// CeilDiv is ⌈a/b⌉ for positive b.
func CeilDiv(a, b int64) int64 { return (a + b - 1) / b }

// TorchOOM is torch's CUDA caching allocator's out-of-memory text (torch
// 2.x, c10/cuda/CUDACachingAllocator.cpp), which probe's torchOOM pattern
// reads: the request, the device's capacity and what is free.
type TorchOOM struct {
	Request, Total, Free, InUse, Allocated int64
	GPU                                    int
}

// Message is the text after "torch.OutOfMemoryError: ".
func (o TorchOOM) Message() string {
	return fmt.Sprintf("CUDA out of memory. Tried to allocate %s. GPU %d has a total capacity of %s of which %s is free. Including non-PyTorch memory, this process has %s memory in use. Of the allocated memory %s is allocated by PyTorch, and %s is reserved by PyTorch but unallocated. If reserved but unallocated memory is large try setting PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True to avoid fragmentation.  See documentation for Memory Management  (https://pytorch.org/docs/stable/notes/cuda.html#environment-variables)",
		TorchSize(o.Request), o.GPU, TorchSize(o.Total), TorchSize(o.Free), TorchSize(o.InUse), TorchSize(o.Allocated), TorchSize(0))
}

// TorchSize is torch's format_size.
func TorchSize(n int64) string {
	f := float64(n)
	switch {
	case f < 1024:
		return fmt.Sprintf("%d bytes", n)
	case f < 1<<20:
		return fmt.Sprintf("%.2f KiB", f/(1<<10))
	case f < 1<<30:
		return fmt.Sprintf("%.2f MiB", f/(1<<20))
	}
	return fmt.Sprintf("%.2f GiB", f/(1<<30))
}
