package calibrate

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// Report is one row of the startup-report schema: a KV figure an engine
// printed at startup, with the settings it ran with. Blank cells are zero.
type Report struct {
	RowID string
	// Engine is "tgi", "vllm" or "sglang".
	Engine string
	// EngineVersion is the row's text; Version the release parsed from it
	// ("" when the row does not state one).
	EngineVersion, Version string
	// ModelID is the row's text; Model the Hub repo id it names.
	ModelID, Model                    string
	DType, Quantization, KVCacheDType string
	// GPUModel and GPUMemory are the row's text; TotalBytes is the device
	// total the engine printed, when the row quotes it (e.g. "79.18 GiB reported").
	GPUModel, GPUMemory string
	TotalBytes          int64
	NumGPUs, TP         int
	// Settings parsed from the free-text columns; zero means the engine's default.
	MemoryFraction        float64 // cuda_memory_fraction, gpu_memory_utilization or mem_fraction_static
	MaxModelLen           int     // max_model_len, or TGI's max_total_tokens
	MaxInputTokens        int     // TGI max_input_tokens / max_input_length
	MaxBatchPrefillTokens int     // TGI max_batch_prefill_tokens, vLLM max_num_batched_tokens
	BlockSize             int
	// SettingsUnknown is true when the row says its settings are not shown.
	SettingsUnknown bool
	// OfflineLLM is vLLM's offline LLM class (llm_class=true: `vllm bench`,
	// LLM(...)), whose batch defaults differ from `vllm serve`'s.
	OfflineLLM bool
	// Speculative is vLLM's --speculative-config as the row gives it
	// (speculative_config={...}), "" for none.
	Speculative string
	// Reported figures.
	KVTokens      int
	KVTokensBasis string
	GPUBlocks     int
	KVCacheGiB    float64
	WeightsGiB    float64
	Notes         string
	// Doubtful marks rows whose notes say DOUBTFUL or APPROXIMATE: report
	// them, never fit to them.
	Doubtful bool
	// Unevaluable is why a row cannot be predicted, from notes saying
	// "NOT EVALUABLE: why." (a checkpoint that is not public or whose
	// quantization is not modelled): such a row is listed, not scored.
	Unevaluable string
}

// ErrBadReports marks a CSV that does not follow the schema.
var ErrBadReports = errors.New("calibrate: bad startup-report csv")

// requiredColumns are the schema's columns this package reads.
var requiredColumns = []string{"row_id", "engine", "engine_version", "model_id", "gpu_model", "gpu_memory",
	"num_gpus", "tensor_parallel", "memory_fraction_setting", "max_model_len_or_max_total_tokens",
	"max_batch_prefill_or_num_batched_tokens", "kv_tokens", "kv_tokens_basis", "gpu_blocks", "block_size",
	"kv_cache_gib", "notes"}

// ReadReports parses the startup-report CSV schema (see
// docs/STARTUP-REPORTS.md); settings in free text are parsed where present.
func ReadReports(r io.Reader) ([]Report, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("%w: read header: %v", ErrBadReports, err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.TrimSpace(h)] = i
	}
	var missing []string
	for _, c := range requiredColumns {
		if _, ok := col[c]; !ok {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: missing columns %s", ErrBadReports, strings.Join(missing, ", "))
	}
	var out []Report
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: %v", ErrBadReports, line, err)
		}
		get := func(name string) string {
			if i, ok := col[name]; ok && i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		rep, err := parseRow(get)
		if err != nil {
			return nil, fmt.Errorf("%w: line %d (row %s): %v", ErrBadReports, line, get("row_id"), err)
		}
		out = append(out, rep)
	}
	return out, nil
}

func parseRow(get func(string) string) (Report, error) {
	r := Report{
		RowID: get("row_id"), Engine: strings.ToLower(get("engine")), EngineVersion: get("engine_version"),
		ModelID: get("model_id"), DType: get("dtype"), Quantization: get("quantization"), KVCacheDType: get("kv_cache_dtype"),
		GPUModel: get("gpu_model"), GPUMemory: get("gpu_memory"), KVTokensBasis: get("kv_tokens_basis"), Notes: get("notes"),
	}
	r.Version = ParseVersionText(r.EngineVersion)
	r.Model = ModelRepo(r.ModelID)
	r.TotalBytes = reportedTotal(r.GPUMemory)
	var err error
	ints := []struct {
		name string
		dst  *int
	}{{"num_gpus", &r.NumGPUs}, {"tensor_parallel", &r.TP}, {"kv_tokens", &r.KVTokens}, {"gpu_blocks", &r.GPUBlocks}, {"block_size", &r.BlockSize}}
	for _, f := range ints {
		if *f.dst, err = leadingInt(get(f.name)); err != nil {
			return r, fmt.Errorf("%s: %v", f.name, err)
		}
	}
	if r.KVCacheGiB, err = leadingFloat(get("kv_cache_gib")); err != nil {
		return r, fmt.Errorf("kv_cache_gib: %v", err)
	}
	if r.WeightsGiB, err = leadingFloat(get("weights_gib")); err != nil {
		return r, fmt.Errorf("weights_gib: %v", err)
	}
	settings := get("memory_fraction_setting") + "; " + get("max_model_len_or_max_total_tokens") + "; " + get("max_batch_prefill_or_num_batched_tokens")
	r.SettingsUnknown = strings.Contains(strings.ToLower(settings), "not shown")
	r.MemoryFraction = settingFloat(settings, "gpu_memory_utilization", "mem_fraction_static", "cuda_memory_fraction")
	r.MaxModelLen = settingInt(settings, "max_model_len", "max_total_tokens")
	r.MaxInputTokens = settingInt(settings, "max_input_tokens", "max_input_length")
	r.MaxBatchPrefillTokens = settingInt(settings, "max_batch_prefill_tokens", "max_num_batched_tokens")
	r.OfflineLLM = strings.Contains(settings, "llm_class=true")
	if _, spec, ok := strings.Cut(settings, "speculative_config="); ok {
		if end := strings.IndexByte(spec, '}'); strings.HasPrefix(spec, "{") && end > 0 {
			r.Speculative = spec[:end+1]
		}
	}
	upper := strings.ToUpper(r.Notes)
	r.Doubtful = strings.Contains(upper, "DOUBTFUL") || strings.Contains(upper, "APPROXIMATE")
	if i := strings.Index(r.Notes, "NOT EVALUABLE:"); i >= 0 {
		why, _, _ := strings.Cut(r.Notes[i+len("NOT EVALUABLE:"):], ".")
		r.Unevaluable = strings.TrimSpace(why)
	}
	return r, nil
}

var (
	numberPrefix = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^\s*([0-9][0-9,]*(?:\.[0-9]+)?)`) })
	versionRe    = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`v?([0-9]+\.[0-9]+(?:\.[0-9]+)*)`) })
	tildeVersion = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`~v?([0-9]+\.[0-9]+(?:\.[0-9]+)*)`) })
	totalRe      = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`([0-9]+(?:\.[0-9]+)?) GiB (?:reported|physical|total_gpu_memory)`)
	})
)

// ParseVersionText finds the release in a free-text version cell:
// "2.0.0 (sha-6c4496a)" → "2.0.0", "v0.11.0 (V1; …)" → "0.11.0",
// "main @73c8d677 (~v0.4.1, Apr 2024, V0)" → "0.4.1" (an approximate "~"
// version wins over other numbers), "2.0.x (…)" → "2.0"; "" when none.
func ParseVersionText(s string) string {
	if m := tildeVersion().FindStringSubmatch(s); m != nil {
		return m[1]
	}
	if m := versionRe().FindStringSubmatch(s); m != nil {
		return m[1]
	}
	return ""
}

// modelAliases maps model_id cells that name a local or vendor copy to the
// repo they are (the notes of those rows say so).
var modelAliases = map[string]string{
	"Mistral-7B":               "mistralai/Mistral-7B-v0.1",
	"Mistral-7B-Instruct-v0.3": "mistralai/Mistral-7B-Instruct-v0.3",
}

// ModelRepo strips a parenthetical from a model_id cell and maps the known
// aliases: "Mistral-7B (local dir 'mistral7b-free')" → mistralai/Mistral-7B-v0.1.
func ModelRepo(s string) string {
	if i := strings.Index(s, " ("); i >= 0 {
		s = s[:i]
	}
	s = strings.TrimSpace(s)
	if a, ok := modelAliases[s]; ok {
		return a
	}
	return s
}

// reportedTotal reads a device total the engine printed, quoted in the
// gpu_memory cell ("80GB (79.18 GiB reported)").
func reportedTotal(s string) int64 {
	m := totalRe().FindStringSubmatch(s)
	if m == nil {
		return 0
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0
	}
	return int64(v * (1 << 30))
}

func leadingInt(s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	m := numberPrefix().FindStringSubmatch(s)
	if m == nil {
		return 0, nil
	}
	f, err := strconv.ParseFloat(strings.ReplaceAll(m[1], ",", ""), 64)
	if err != nil {
		return 0, err
	}
	return int(f), nil
}

func leadingFloat(s string) (float64, error) {
	m := numberPrefix().FindStringSubmatch(s)
	if m == nil {
		return 0, nil
	}
	return strconv.ParseFloat(strings.ReplaceAll(m[1], ",", ""), 64)
}

// settingValue finds "key=value" in free text; a range "2048..32768" gives
// its last value, "default (8192)" gives 8192.
func settingValue(text string, keys ...string) string {
	for _, k := range keys {
		i := strings.Index(text, k+"=")
		if i < 0 {
			continue
		}
		v := text[i+len(k)+1:]
		if j := strings.IndexAny(v, ";"); j >= 0 {
			v = v[:j]
		}
		v = strings.TrimSpace(v)
		if strings.HasPrefix(v, "default (") {
			v = strings.TrimPrefix(v, "default (")
		}
		if j := strings.Index(v, ".."); j >= 0 {
			v = v[j+2:]
		}
		return v
	}
	return ""
}

func settingInt(text string, keys ...string) int {
	n, _ := leadingInt(settingValue(text, keys...))
	return n
}

func settingFloat(text string, keys ...string) float64 {
	f, _ := leadingFloat(settingValue(text, keys...))
	return f
}
