package results

import (
	"time"

	"github.com/vramcalc/vramcalc/estimate"
)

// KindRun is the "kind" of a run header. Observations carry no kind (files
// written before headers existed hold observations only).
const KindRun = "run"

// Header is the first record a validate run writes, fsync'd before its
// first launch: what --resume needs to find the run's containers (the run
// id, their label) even when the process is killed in that launch, and
// what the run was asked to do. A resumed run writes its header again,
// under the same run id, with its own start time and settings.
type Header struct {
	// Kind is KindRun; it is the first field, so that every header line
	// starts with {"kind":"run","run":" (see the torn-line rule in Read).
	Kind string `json:"kind"`
	// Run is the run id: the label vramcalc.run of its containers and the
	// run of its observations.
	Run     string    `json:"run"`
	Started time.Time `json:"started"`
	// Model is the engine's --model-id.
	Model         string `json:"model"`
	Engine        string `json:"engine"`
	EngineVersion string `json:"engine_version,omitempty"`
	// LimitFlag is the engine's flag that the observations' max_total_tokens
	// stands for (TGI --max-total-tokens, vLLM --max-model-len, SGLang
	// --context-length), and PrefillFlag their max_batch_prefill_tokens'
	// (--max-batch-prefill-tokens, --max-num-batched-tokens,
	// --chunked-prefill-size); empty in files written before it was
	// recorded, which are TGI's.
	LimitFlag   string `json:"limit_flag,omitempty"`
	PrefillFlag string `json:"prefill_flag,omitempty"`
	Image       string `json:"image"`
	// GPU is the GPU the estimate sized for: its name and memory, and how
	// many the engine shards over.
	GPU      string `json:"gpu,omitempty"`
	GPUBytes int64  `json:"gpu_bytes,omitempty"`
	GPUCount int    `json:"gpu_count,omitempty"`
	// GPUIDs are the devices requested for the containers ("all", indices
	// or UUIDs; none for the simulator).
	GPUIDs   []string    `json:"gpu_ids,omitempty"`
	Settings RunSettings `json:"settings"`
}

// RunSettings are the settings of a run that apply to every launch.
type RunSettings struct {
	// CUDAMemoryFraction is TGI's --cuda-memory-fraction,
	// GPUMemoryUtilization vLLM's --gpu-memory-utilization,
	// MemFractionStatic SGLang's --mem-fraction-static (0: the engine's default).
	CUDAMemoryFraction   float64 `json:"cuda_memory_fraction,omitempty"`
	GPUMemoryUtilization float64 `json:"gpu_memory_utilization,omitempty"`
	MemFractionStatic    float64 `json:"mem_fraction_static,omitempty"`
	// MaxBatchPrefillTokens is the prefill of every point (the engine's
	// default for the GPU unless one was given): TGI's
	// --max-batch-prefill-tokens, vLLM's --max-num-batched-tokens, SGLang's
	// --chunked-prefill-size.
	MaxBatchPrefillTokens int     `json:"max_batch_prefill_tokens,omitempty"`
	Tolerance             float64 `json:"tolerance,omitempty"`
	// Confirm is how many fresh launches in a row the recommendation
	// must start on; MarginBytes the spread assumed before any is seen.
	Confirm     int   `json:"confirm,omitempty"`
	MarginBytes int64 `json:"margin_bytes,omitempty"`
	MaxLaunches int   `json:"max_launches,omitempty"`
	// Corrections are the fitted corrections the estimate started from.
	Corrections *estimate.Corrections `json:"corrections,omitempty"`
	// Resume says the run went on from the observations in the file.
	Resume bool `json:"resume,omitempty"`
}
