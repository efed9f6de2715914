package estimate

import "strconv"

// Bytes is a byte count. Its String method uses binary units (GiB = 2^30 B),
// the unit torch and the engines print.
type Bytes int64

// Binary units.
const (
	KiB Bytes = 1 << 10
	MiB Bytes = 1 << 20
	GiB Bytes = 1 << 30
)

// String formats b with two decimals in the largest binary unit below it.
func (b Bytes) String() string {
	v := float64(b)
	sign := ""
	if v < 0 {
		sign, v = "-", -v
	}
	switch {
	case v >= float64(GiB):
		return sign + fixed2(v/float64(GiB)) + " GiB"
	case v >= float64(MiB):
		return sign + fixed2(v/float64(MiB)) + " MiB"
	case v >= float64(KiB):
		return sign + fixed2(v/float64(KiB)) + " KiB"
	}
	return sign + strconv.FormatInt(int64(v), 10) + " B"
}

// fixed2 is x as fmt's %.2f writes it (without fmt: the estimates format
// a few numbers per call and fmt is a fifth of a call's time).
func fixed2(x float64) string { return strconv.FormatFloat(x, 'f', 2, 64) }

// GiBs returns b in GiB as a float.
func (b Bytes) GiBs() float64 { return float64(b) / float64(GiB) }

// GPU describes one accelerator model.
type GPU struct {
	// Name is the name nvidia-smi (or rocm-smi) prints, e.g. "NVIDIA H100 80GB HBM3".
	Name string
	// TotalBytes is the device total the CUDA runtime reports
	// (cudaMemGetInfo total, torch.cuda.get_device_properties().total_memory).
	TotalBytes Bytes
	// SMITotalMiB is nvidia-smi's memory.total in MiB, which TGI's launcher
	// reads for its prefill heuristic; 0 means TotalBytes/MiB.
	SMITotalMiB int
	// ComputeCapability is major*10+minor (90 for sm_90); 0 means unknown.
	ComputeCapability int
	// ROCm is true for AMD GPUs.
	ROCm bool
}

// Hardware is the set of GPUs one engine instance runs on.
type Hardware struct {
	GPU GPU
	// Count is the number of GPUs (TGI shards over all of them by default).
	Count int
}
