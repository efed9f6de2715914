package calccmd

import (
	"github.com/vramcalc/vramcalc/estimate"
	"github.com/vramcalc/vramcalc/hfmeta"
	"github.com/vramcalc/vramcalc/internal/cmdutil"
	"github.com/vramcalc/vramcalc/launch"
)

// report is the estimate as vramcalc prints it; its JSON names are a
// contract scripts rely on (model, engine, gpus, per_gpu, kv_bytes_per_token,
// boundary, fits, warnings).
type report struct {
	Model           string       `json:"model"`
	ModelSource     string       `json:"model_source"`
	Engine          engineJSON   `json:"engine"`
	GPUs            gpusJSON     `json:"gpus"`
	NumShard        int          `json:"num_shard"`
	PerGPU          perGPUJSON   `json:"per_gpu"`
	KVBytesPerToken int64        `json:"kv_bytes_per_token"`
	BlockSize       int          `json:"block_size"`
	Attention       string       `json:"attention"`
	PrefixCaching   bool         `json:"prefix_caching"`
	Chunking        bool         `json:"prefill_chunking"`
	WeightsFrom     string       `json:"weights_from"`
	Startup         startupJSON  `json:"startup"`
	Boundary        boundaryJSON `json:"boundary"`
	Fits            bool         `json:"fits"`
	Confidence      string       `json:"confidence"`
	// LayerKinds counts the cache-holding modules per kind; StateBytes is
	// one running sequence's state per GPU and MaxSequences how many the
	// state pool lets run (both 0 without state layers).
	LayerKinds    map[string]int `json:"layer_kinds"`
	StateBytes    int64          `json:"state_bytes_per_sequence"`
	MaxSequences  int            `json:"max_concurrent_sequences"`
	LaunchCommand string         `json:"launch_command"`
	Assumptions   []string       `json:"assumptions"`
	Warnings      []string       `json:"warnings"`
	settings      estimate.Settings
	res           estimate.Result
}

type engineJSON struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

type gpusJSON struct {
	Count      int    `json:"count"`
	Name       string `json:"name"`
	TotalBytes int64  `json:"total_bytes"`
	Note       string `json:"note,omitempty"`
}

type perGPUJSON struct {
	WeightsBytes        int64 `json:"weights_bytes"`
	KVCacheBytes        int64 `json:"kv_cache_bytes"`
	ActivationPeakBytes int64 `json:"activation_peak_bytes"`
	OverheadBytes       int64 `json:"overhead_bytes"`
	CUDAContextBytes    int64 `json:"cuda_context_bytes"`
	NCCLBytes           int64 `json:"nccl_bytes"`
	OtherBytes          int64 `json:"other_bytes"`
	CUDAGraphsBytes     int64 `json:"cuda_graphs_bytes"`
	ReserveBytes        int64 `json:"reserve_bytes"`
	// InUseBytes is estimate.Breakdown.Total: what is allocated once the engine serves.
	InUseBytes int64 `json:"in_use_bytes"`
}

type startupJSON struct {
	MaxInputTokens        int      `json:"max_input_tokens"`
	MaxTotalTokens        int      `json:"max_total_tokens"`
	MaxBatchPrefillTokens int      `json:"max_batch_prefill_tokens"`
	MaxBatchTotalTokens   int      `json:"max_batch_total_tokens"`
	MaxConcurrentRequests int      `json:"max_concurrent_requests"`
	WarmupRequests        int      `json:"warmup_requests"`
	WarmupPeakBytes       int64    `json:"warmup_peak_bytes"`
	CapacityBytes         int64    `json:"capacity_bytes"`
	Fits                  bool     `json:"fits"`
	Failure               string   `json:"failure,omitempty"`
	Message               string   `json:"message,omitempty"`
	LogLines              []string `json:"log_lines"`
}

type boundaryJSON struct {
	MaxInputTokens        int    `json:"max_input_tokens"`
	MaxTotalTokens        int    `json:"max_total_tokens"`
	MaxBatchPrefillTokens int    `json:"max_batch_prefill_tokens"`
	MaxBatchTotalTokens   int    `json:"max_batch_total_tokens"`
	MaxConcurrentRequests int    `json:"max_concurrent_requests"`
	LimitedBy             string `json:"limited_by"`
	PrefillAtMaxTotal     int    `json:"max_batch_prefill_tokens_at_max_total"`
	MaxNumSeqs            int    `json:"max_num_seqs,omitempty"`
}

func newReport(o estimateOptions, meta hfmeta.Meta, res estimate.Result, hubCache string) report {
	b, st, pg := res.Boundary, res.Startup, res.PerGPU
	r := report{
		Model:           o.model,
		ModelSource:     meta.Source,
		Engine:          engineJSON{Name: res.Engine.Name, Version: res.Engine.Version},
		GPUs:            gpusJSON{Count: o.hw.Count, Name: o.hw.GPU.Name, TotalBytes: int64(o.hw.GPU.TotalBytes), Note: o.hw.Note},
		NumShard:        res.NumShard,
		KVBytesPerToken: int64(res.KVBytesPerToken),
		BlockSize:       res.BlockSize,
		Attention:       res.Attention,
		PrefixCaching:   res.PrefixCaching,
		Chunking:        res.Chunking,
		WeightsFrom:     res.WeightsFrom,
		PerGPU: perGPUJSON{
			WeightsBytes: int64(pg.Weights), KVCacheBytes: int64(pg.KVCache), ActivationPeakBytes: int64(pg.ActivationPeak),
			OverheadBytes: int64(pg.Overhead()), CUDAContextBytes: int64(pg.CUDAContext), NCCLBytes: int64(pg.NCCL),
			OtherBytes: int64(pg.Other), CUDAGraphsBytes: int64(pg.CUDAGraphs), ReserveBytes: int64(pg.Reserve), InUseBytes: int64(pg.Total()),
		},
		Startup: startupJSON{
			MaxInputTokens: st.MaxInputTokens, MaxTotalTokens: st.MaxTotalTokens, MaxBatchPrefillTokens: st.MaxBatchPrefillTokens,
			MaxBatchTotalTokens: st.MaxBatchTotalTokens, MaxConcurrentRequests: st.MaxConcurrentRequests, WarmupRequests: st.WarmupRequests, WarmupPeakBytes: int64(st.WarmupBytes),
			CapacityBytes: int64(st.CapacityBytes), Fits: st.Fits, Failure: st.Failure, Message: st.Message, LogLines: cmdutil.NonNil(st.LogLines),
		},
		Boundary: boundaryJSON{
			MaxInputTokens: b.MaxInputTokens, MaxTotalTokens: b.MaxTotalTokens, MaxBatchPrefillTokens: b.MaxBatchPrefillTokens,
			MaxBatchTotalTokens: b.MaxBatchTotalTokens, MaxConcurrentRequests: b.MaxConcurrentRequests, LimitedBy: b.LimitedBy,
			PrefillAtMaxTotal: b.PrefillAtMaxTotal, MaxNumSeqs: b.MaxNumSeqs,
		},
		LayerKinds:   kindsJSON(res.LayerKinds.Map()),
		StateBytes:   int64(res.StateBytesPerSequence),
		MaxSequences: res.MaxConcurrentSequences,
		Fits:         st.Fits,
		Confidence:   res.Confidence,
		Assumptions:  cmdutil.NonNil(res.Assumptions),
		Warnings:     cmdutil.NonNil(append(append([]string{}, meta.Warnings...), res.Warnings...)),
		settings:     o.settings,
		res:          res,
	}
	if r.ModelSource == "" {
		r.ModelSource = "unknown"
	}
	spec := launch.Spec{Model: o.model, Settings: o.settings, HubCache: hubCache, LimitMMPerPrompt: o.limitMM}
	if meta.Source == "local" {
		spec.Model, spec.Local = meta.Location, true
	}
	if spec, ok := launch.Starting(spec, meta.Model, o.hw.Hardware, res); ok {
		r.LaunchCommand = launch.Command(spec)
	}
	return r
}

// engineTitle is how the engine writes its name.
func (r report) engineTitle() string {
	info, err := estimate.LookupEngine(r.Engine.Name)
	if err != nil {
		return r.Engine.Name
	}
	return info.Title
}

// kindsJSON is the layer-kind counts keyed by name.
func kindsJSON(k map[estimate.LayerKind]int) map[string]int {
	out := make(map[string]int, len(k))
	for kind, n := range k {
		out[string(kind)] = n
	}
	return out
}

// Report is the document `vramcalc estimate -o json` prints, for the
// programs and tests that read it back.
type Report = report
