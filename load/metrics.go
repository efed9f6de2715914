package load

import (
	"bufio"
	"bytes"
	"strconv"
	"strings"
)

// metricNames are the Prometheus promSeries that give one engine's KV usage
// and request counts. Each list is tried in order and the first present
// is used; a value no promSeries gives stays absent.
type metricNames struct {
	// kv is a usage fraction 0..1 (the highest over label sets).
	kv []string
	// kvUsed / kvTotal make the fraction where the engine exports no ratio.
	kvUsed, kvTotal string
	// running, waiting and preempted are summed over label sets (data
	// parallel engines, TP ranks each report theirs).
	running, waiting, preempted []string
}

var (
	// vLLM (docs/ENGINE-SURFACE.md §A4): the counter is on the wire as
	// vllm:num_preemptions_total; releases before v0.10 name the usage
	// vllm:gpu_cache_usage_perc.
	vllmMetrics = metricNames{kv: []string{"vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"},
		running: []string{"vllm:num_requests_running"}, waiting: []string{"vllm:num_requests_waiting"},
		preempted: []string{"vllm:num_preemptions_total"}}
	// SGLang (docs/ENGINE-SURFACE.md §B4; only with --enable-metrics):
	// token_usage is the KV pool's usage, retracted requests its
	// preemptions.
	sglangMetrics = metricNames{kv: []string{"sglang:token_usage"},
		running: []string{"sglang:num_running_reqs"}, waiting: []string{"sglang:num_queue_reqs"},
		preempted: []string{"sglang:num_retracted_requests_total"}}
	// TGI v3 exports no usage ratio: the running batch's max tokens
	// (input + max_new_tokens of each request, what it reserves) over the
	// KV budget
	// (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/backends/v3/src/backend.rs#L170-L171,
	// https://github.com/huggingface/text-generation-inference/blob/v3.3.7/backends/v3/src/lib.rs#L138,
	// the queue https://github.com/huggingface/text-generation-inference/blob/v3.3.7/backends/v3/src/queue.rs#L158).
	// TGI does not preempt.
	tgiMetrics = metricNames{kvUsed: "tgi_batch_current_max_tokens", kvTotal: "tgi_batch_max_total_tokens",
		running: []string{"tgi_batch_current_size"}, waiting: []string{"tgi_queue_size"}}
)

// promSeries is one metric name's values over its label sets.
type promSeries struct{ sum, max float64 }

// parseMetrics reads the Prometheus text format: each sample's name and
// value, summed (and maxed) over label sets. Comments, histograms' and
// unparsable lines are skipped.
func parseMetrics(body []byte) map[string]promSeries {
	out := map[string]promSeries{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		name, rest := line, ""
		if i := strings.IndexAny(line, "{ "); i >= 0 {
			name, rest = line[:i], line[i:]
		}
		if strings.HasPrefix(rest, "{") {
			j := strings.LastIndexByte(rest, '}')
			if j < 0 {
				continue
			}
			rest = rest[j+1:]
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			continue
		}
		s, seen := out[name]
		if !seen || v > s.max {
			s.max = v
		}
		s.sum += v
		out[name] = s
	}
	return out
}

// gauges are the engine's values in one scrape; nil where absent.
type gauges struct {
	kv                          *float64
	running, waiting, preempted *int
}

func (n metricNames) read(m map[string]promSeries) gauges {
	var g gauges
	for _, name := range n.kv {
		if s, ok := m[name]; ok {
			v := s.max
			g.kv = &v
			break
		}
	}
	if used, ok := m[n.kvUsed]; ok && n.kvUsed != "" {
		if total, ok := m[n.kvTotal]; ok && total.max > 0 {
			v := used.sum / total.max
			g.kv = &v
		}
	}
	first := func(names []string) *int {
		for _, name := range names {
			if s, ok := m[name]; ok {
				v := int(s.sum + 0.5)
				return &v
			}
		}
		return nil
	}
	g.running, g.waiting, g.preempted = first(n.running), first(n.waiting), first(n.preempted)
	return g
}
