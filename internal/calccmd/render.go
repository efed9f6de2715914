package calccmd

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/vramcalc/vramcalc/estimate"
	"github.com/vramcalc/vramcalc/internal/cmdutil"
)

// render prints the report in the chosen format.
func render(w io.Writer, format string, r report) error {
	switch format {
	case cmdutil.FormatJSON:
		return cmdutil.JSON(w, r)
	case cmdutil.FormatCSV:
		return renderCSV(w, r)
	}
	t := textReport{w: w, md: format == cmdutil.FormatMarkdown, r: r, lb: labelsFor(r.Engine.Name)}
	for _, section := range []func() error{t.header, t.memory, t.start, t.boundary, t.tail} {
		if err := section(); err != nil {
			return err
		}
	}
	return nil
}

// textReport writes the estimate as text or markdown, one section a method.
type textReport struct {
	w  io.Writer
	md bool
	r  report
	lb labels
}

func (t textReport) p(format string, a ...any) { fmt.Fprintf(t.w, format, a...) }

func (t textReport) head(s string) {
	if t.md {
		t.p("\n## %s\n\n", s)
	} else {
		t.p("\n%s\n", s)
	}
}

func (t textReport) line(k, v string) {
	if t.md {
		t.p("- **%s**: %s\n", k, v)
	} else {
		t.p("  %-14s %s\n", k, v)
	}
}

func (t textReport) table(header []string, rows [][]string) error {
	return cmdutil.Table(t.w, t.md, header, rows)
}

// header is the title and what the figures rest on.
func (t textReport) header() error {
	r := t.r
	title := fmt.Sprintf("%s on %d × %s, %s %s", r.Model, r.GPUs.Count, gpuName(r), t.lb.engine, r.Engine.Version)
	if t.md {
		t.p("# %s\n\n", title)
	} else {
		t.p("%s\n", title)
	}
	t.line("model from", r.ModelSource+"; weights from "+r.WeightsFrom)
	t.line("GPU memory", r.GPUs.Note)
	if r.Engine.Name == "tgi" {
		t.line("attention", fmt.Sprintf("%s (KV block size %d), prefix caching %s, prefill chunking %s, num_shard %d",
			r.Attention, r.BlockSize, onOff(r.PrefixCaching), onOff(r.Chunking), r.NumShard))
	} else {
		t.line("parallelism", fmt.Sprintf("tensor parallel %d, KV block size %d", r.NumShard, r.BlockSize))
	}
	t.line("KV per token", fmt.Sprintf("%s B per GPU (%s)", cmdutil.Num(int(r.KVBytesPerToken)), estimate.Bytes(r.KVBytesPerToken)))
	return nil
}

// memory is the per-GPU breakdown.
func (t textReport) memory() error {
	t.head("Per-GPU memory")
	pg, lb := t.r.PerGPU, t.lb
	return t.table([]string{"", "GiB", "note"}, [][]string{
		{"weights", cmdutil.GiB(pg.WeightsBytes), "parameters on this shard"},
		{"KV cache pool", cmdutil.GiB(pg.KVCacheBytes), fmt.Sprintf("%s %s", lb.budget, cmdutil.Num(t.r.Startup.MaxBatchTotalTokens))},
		{"CUDA context", cmdutil.GiB(pg.CUDAContextBytes), "context, cuBLAS, kernels"},
		{"NCCL", cmdutil.GiB(pg.NCCLBytes), "communicator buffers (sharded only)"},
		{"other buffers", cmdutil.GiB(pg.OtherBytes), "attention workspace"},
		{"CUDA graphs", cmdutil.GiB(pg.CUDAGraphsBytes), "captured decode graphs"},
		{"in use after start", cmdutil.GiB(pg.InUseBytes), ""},
		{"left unallocated", cmdutil.GiB(pg.ReserveBytes), lb.reserve},
		{lb.peak, cmdutil.GiB(pg.ActivationPeakBytes), "transient (not in the sum)"},
		{"card total", cmdutil.GiB(t.r.GPUs.TotalBytes), ""},
	})
}

// start is what the engine does with the given limits (or its defaults).
func (t textReport) start() error {
	r, lb, st := t.r, t.lb, t.r.Startup
	t.head(lb.engine + " start with " + givenOrDefault(r.settings))
	outcome := "starts"
	if !st.Fits {
		outcome = "FAILS: " + st.Failure
	}
	var rows [][]string
	if lb.input != "" {
		rows = append(rows, []string{lb.input, numOrAuto(st.MaxInputTokens)})
	}
	rows = append(rows, []string{lb.total, numOrAuto(st.MaxTotalTokens)}, []string{lb.prefill, cmdutil.Num(st.MaxBatchPrefillTokens)})
	if r.Engine.Name == "tgi" {
		rows = append(rows, []string{"warm-up requests", cmdutil.Num(st.WarmupRequests)},
			[]string{"warm-up peak / capacity", fmt.Sprintf("%s / %s GiB", cmdutil.GiB(st.WarmupPeakBytes), cmdutil.GiB(st.CapacityBytes))})
	}
	rows = append(rows, []string{lb.budget, cmdutil.Num(st.MaxBatchTotalTokens)},
		[]string{"max concurrent requests", concurrencyOf(r, st.MaxConcurrentRequests)})
	if r.StateBytes > 0 {
		rows = append(rows, []string{"state per sequence", estimate.Bytes(r.StateBytes).String()},
			[]string{"max concurrent sequences (state)", cmdutil.Num(r.MaxSequences)})
	}
	rows = append(rows, []string{"outcome", outcome})
	if err := t.table([]string{"setting", "value"}, rows); err != nil {
		return err
	}
	if st.Message != "" {
		t.p("  %s would say: %s\n", lb.engine, st.Message)
	}
	for _, l := range st.LogLines {
		t.p("  log: %s\n", l)
	}
	return nil
}

// boundary is the largest limits that start, with what they assume.
func (t textReport) boundary() error {
	b, lb := t.r.Boundary, t.lb
	if b.MaxTotalTokens == 0 {
		// A table of zeros would read as limits; say that none start.
		t.head("Boundary: no limits start")
		t.p("  limited by %s\n", limitedBy(b.LimitedBy))
		return nil
	}
	t.head("Boundary: the largest limits that start")
	var rows [][]string
	if lb.input != "" {
		rows = append(rows, []string{lb.input, cmdutil.Num(b.MaxInputTokens)})
	}
	rows = append(rows,
		[]string{lb.total, cmdutil.Num(b.MaxTotalTokens)},
		[]string{lb.prefill, cmdutil.Num(b.MaxBatchPrefillTokens)},
		[]string{lb.budget, fmt.Sprintf("%s (at %s %s, %s %s)", cmdutil.Num(b.MaxBatchTotalTokens), lb.total, cmdutil.Num(b.MaxTotalTokens), lb.prefill, cmdutil.Num(b.PrefillAtMaxTotal))},
		[]string{"max concurrent requests", concurrencyLabel(t.r)})
	if b.MaxNumSeqs > 0 {
		rows = append(rows, []string{"--max-num-seqs", cmdutil.Num(b.MaxNumSeqs) + " (more fails the state check)"})
	}
	rows = append(rows, []string{"limited by", limitedBy(b.LimitedBy)})
	if err := t.table([]string{"limit", "value"}, rows); err != nil {
		return err
	}
	for _, a := range t.r.Assumptions {
		t.p("  assumption: %s\n", a)
	}
	if t.r.Confidence == estimate.ConfidenceLow {
		t.p("  confidence: LOW: vramcalc does not model part of this model, so these figures are a guess (see the warnings)\n")
	}
	return nil
}

// tail is the launch line and the warnings.
func (t textReport) tail() error {
	if c := t.r.LaunchCommand; c != "" {
		t.head("Launch")
		if t.md {
			t.p("```sh\n%s\n```\n", c)
		} else {
			t.p("  %s\n", c)
		}
	}
	if len(t.r.Warnings) > 0 {
		t.head("Warnings")
		for _, wn := range t.r.Warnings {
			t.p("  - %s\n", wn)
		}
	}
	return nil
}

// numOrAuto shows 0 (not given, not reached) as TGI's "decided at warm-up".
func numOrAuto(n int) string {
	if n == 0 {
		return "set by TGI at warm-up"
	}
	return cmdutil.Num(n)
}

func gpuName(r report) string {
	if r.GPUs.Name != "" {
		return r.GPUs.Name
	}
	return fmt.Sprintf("GPU of %s", estimate.Bytes(r.GPUs.TotalBytes))
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func givenOrDefault(s estimate.Settings) string {
	if s.MaxInputTokens == 0 && s.MaxTotalTokens == 0 && s.MaxBatchPrefillTokens == 0 {
		return "its own defaults"
	}
	return "the given limits (defaults for the rest)"
}

func concurrencyLabel(r report) string { return concurrencyOf(r, r.Boundary.MaxConcurrentRequests) }

func concurrencyOf(r report, n int) string {
	in, out := r.settings.RequestInputTokens, r.settings.RequestOutputTokens
	if in == 0 && out == 0 {
		return fmt.Sprintf("%s at full length", cmdutil.Num(n))
	}
	return fmt.Sprintf("%s of %s in + %s out", cmdutil.Num(n), cmdutil.Num(in), cmdutil.Num(out))
}

func limitedBy(s string) string {
	switch s {
	case "warmup":
		return "warmup: weights + warm-up KV + prefill peak reach the card"
	case "kv_budget":
		return "kv_budget: after warm-up, too little is left for one full-length request"
	case "max_position_embeddings":
		return "max_position_embeddings: the model's context, not memory"
	case "weights":
		return "weights: the model does not fit on these GPUs"
	case "prefill":
		return "prefill: TGI's max_batch_prefill_tokens rules"
	case "state_blocks":
		return "state_blocks: --max-num-seqs exceeds the state pool's blocks at every length; lower --max-num-seqs"
	}
	return s
}

// renderCSV writes one header row and one value row with flat column names.
func renderCSV(w io.Writer, r report) error {
	cw := csv.NewWriter(w)
	cols := []struct {
		k string
		v string
	}{
		{"model", r.Model}, {"model_source", r.ModelSource}, {"engine", r.Engine.Name}, {"engine_version", r.Engine.Version},
		{"gpu_count", strconv.Itoa(r.GPUs.Count)}, {"gpu_name", r.GPUs.Name}, {"gpu_total_bytes", strconv.FormatInt(r.GPUs.TotalBytes, 10)},
		{"num_shard", strconv.Itoa(r.NumShard)},
		{"weights_bytes", strconv.FormatInt(r.PerGPU.WeightsBytes, 10)}, {"kv_cache_bytes", strconv.FormatInt(r.PerGPU.KVCacheBytes, 10)},
		{"activation_peak_bytes", strconv.FormatInt(r.PerGPU.ActivationPeakBytes, 10)}, {"overhead_bytes", strconv.FormatInt(r.PerGPU.OverheadBytes, 10)},
		{"kv_bytes_per_token", strconv.FormatInt(r.KVBytesPerToken, 10)}, {"block_size", strconv.Itoa(r.BlockSize)}, {"attention", r.Attention},
		{"startup_max_input_tokens", strconv.Itoa(r.Startup.MaxInputTokens)}, {"startup_max_total_tokens", strconv.Itoa(r.Startup.MaxTotalTokens)},
		{"startup_max_batch_prefill_tokens", strconv.Itoa(r.Startup.MaxBatchPrefillTokens)}, {"startup_max_batch_total_tokens", strconv.Itoa(r.Startup.MaxBatchTotalTokens)},
		{"fits", strconv.FormatBool(r.Fits)}, {"failure", r.Startup.Failure},
		{"max_input_tokens", strconv.Itoa(r.Boundary.MaxInputTokens)}, {"max_total_tokens", strconv.Itoa(r.Boundary.MaxTotalTokens)},
		{"max_batch_prefill_tokens", strconv.Itoa(r.Boundary.MaxBatchPrefillTokens)}, {"max_batch_total_tokens", strconv.Itoa(r.Boundary.MaxBatchTotalTokens)},
		{"max_concurrent_requests", strconv.Itoa(r.Boundary.MaxConcurrentRequests)}, {"limited_by", r.Boundary.LimitedBy},
		{"warnings", strings.Join(r.Warnings, " | ")},
	}
	hdr, val := make([]string, len(cols)), make([]string, len(cols))
	for i, c := range cols {
		hdr[i], val[i] = c.k, c.v
	}
	if err := cw.Write(hdr); err != nil {
		return err
	}
	if err := cw.Write(val); err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}

// labels name the limits as each engine's own CLI and logs do.
type labels struct {
	engine, input, total, prefill, budget, reserve, peak string
}

// LimitLabels are the words the CLI names engine's limits with: the
// input limit ("" when the engine has none of its own), the total, the
// prefill and the KV budget (the page uses the same).
func LimitLabels(engine string) (input, total, prefill, budget string) {
	l := labelsFor(engine)
	return l.input, l.total, l.prefill, l.budget
}

func labelsFor(engine string) labels {
	switch engine {
	case "vllm":
		return labels{engine: "vLLM", total: "--max-model-len", prefill: "--max-num-batched-tokens",
			budget: "GPU KV cache size (tokens)", reserve: "1 − gpu_memory_utilization", peak: "profiled activation peak"}
	case "sglang":
		return labels{engine: "SGLang", total: "--context-length", prefill: "--chunked-prefill-size",
			budget: "max_total_num_tokens", reserve: "1 − mem_fraction_static", peak: "activation headroom"}
	}
	return labels{engine: "TGI", input: "--max-input-tokens", total: "--max-total-tokens", prefill: "--max-batch-prefill-tokens",
		budget: "max_batch_total_tokens", reserve: "cuda_memory_fraction and wiggle room", peak: "warm-up prefill peak"}
}
