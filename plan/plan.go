// Package plan answers "which GPUs, and how many, serve this model at a
// context length and a concurrency, and what does each cost": it runs the
// pure estimate for every GPU × tensor-parallel degree, keeps each
// set-up's KV budget, the requests that fit at once and why a set-up does
// not serve, and orders them by hourly cost. Its only I/O is ReadPrices,
// which opens a price file (vramcalc plan --prices, vramcalc load --prices).
package plan

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/vramcalc/vramcalc/estimate"
	"github.com/vramcalc/vramcalc/gpus"
	"github.com/vramcalc/vramcalc/launch"
)

// Request is one plan.
type Request struct {
	Model estimate.Model
	// ModelRef is the model as the launch lines name it; Local when a directory.
	ModelRef string
	Local    bool
	Engine   estimate.Engine
	// SKUs and TP are the GPUs and tensor-parallel degrees to try.
	SKUs []gpus.SKU
	TP   []int
	// Context is the tokens of one request (input plus output) and
	// Concurrency how many must fit at once.
	Context, Concurrency int
	// Base holds the settings besides the context: KV dtype, the engine's
	// memory fraction, corrections, … (limits are set per engine from Context).
	Base estimate.Settings
	// Prices are hourly prices per GPU (keys as gpus.SKU.Key); nil for none.
	Prices map[string]float64
	// HubCache is the launch lines' hub cache mount (launch.Spec.HubCache).
	HubCache string
}

// Row is one GPU set-up.
type Row struct {
	GPU         string   `json:"gpu"`
	GPUName     string   `json:"gpu_name"`
	Count       int      `json:"count"`
	KVBudget    int      `json:"max_batch_total_tokens"`
	Concurrency int      `json:"max_concurrent_requests"`
	Headroom    float64  `json:"headroom"`
	Starts      bool     `json:"starts"`
	Meets       bool     `json:"meets"`
	Why         string   `json:"why,omitempty"`
	HourlyCost  *float64 `json:"hourly_cost,omitempty"`
	Launch      string   `json:"launch_command,omitempty"`
	totalGiB    float64
}

// Result is a plan's set-ups, those that meet the request first.
type Result struct {
	Rows     []Row
	Warnings []string
}

// Settings are the limits a request of ctx tokens needs, in the engine's
// own terms, on top of base: TGI --max-total-tokens ctx with
// --max-input-tokens ctx − 1; vLLM --max-model-len and SGLang
// --context-length ctx.
func Settings(engine string, ctx int, base estimate.Settings) estimate.Settings {
	s := base
	switch engine {
	case "vllm", "sglang":
		s.MaxModelLen = ctx
	default:
		s.MaxInputTokens, s.MaxTotalTokens = ctx-1, ctx
	}
	return s
}

// Run estimates every set-up (no I/O) and orders them: those that meet the
// concurrency first, then by hourly cost when prices are known, else by GPU
// count and memory.
func Run(r Request) Result {
	var res Result
	if mp := r.Model.MaxPositions; mp > 0 && r.Context > mp {
		res.Warnings = append(res.Warnings, fmt.Sprintf("--context %d exceeds the model's max_position_embeddings %d: no engine accepts it without overriding the model's limit", r.Context, mp))
	}
	res.Rows = Sweep(r)
	sortRows(res.Rows, r.Prices != nil)
	return res
}

// Sweep runs the estimate for every SKU × TP degree, in catalog order.
func Sweep(r Request) []Row {
	s := Settings(r.Engine.Name, r.Context, r.Base)
	rows := make([]Row, 0, len(r.SKUs)*len(r.TP))
	for _, sku := range r.SKUs {
		for _, tp := range r.TP {
			rows = append(rows, r.row(sku, tp, s))
		}
	}
	return rows
}

// row is one set-up's estimate.
func (r Request) row(sku gpus.SKU, tp int, s estimate.Settings) Row {
	row := Row{GPU: sku.Key, GPUName: sku.GPU.Name, Count: tp, totalGiB: sku.GPU.TotalBytes.GiBs() * float64(tp)}
	if p, ok := r.Prices[sku.Key]; ok {
		cost := p * float64(tp)
		row.HourlyCost = &cost
	}
	res, err := estimate.Run(r.Model, estimate.Hardware{GPU: sku.GPU, Count: tp}, r.Engine, s)
	if err != nil {
		row.Why = err.Error()
		return row
	}
	st := res.Startup
	row.Starts, row.KVBudget = st.Fits, st.MaxBatchTotalTokens
	if !st.Fits {
		row.Why = st.Failure
		if st.Message != "" {
			row.Why += ": " + st.Message
		}
		return row
	}
	row.Concurrency = st.MaxConcurrentRequests
	row.Headroom = float64(row.Concurrency) / float64(max(r.Concurrency, 1))
	row.Meets = row.Concurrency >= r.Concurrency
	if !row.Meets {
		row.Why = fmt.Sprintf("starts, but holds %d requests of %d tokens at once, not %d", row.Concurrency, r.Context, r.Concurrency)
	}
	spec := launch.Spec{Model: r.ModelRef, Local: r.Local, Settings: s, HubCache: r.HubCache}
	if spec, ok := launch.Starting(spec, r.Model, estimate.Hardware{GPU: sku.GPU, Count: tp}, res); ok {
		row.Launch = launch.Command(spec)
	}
	return row
}

// sortRows puts set-ups that meet the target first, then those that start,
// then by hourly cost (when prices are known; unpriced last), else by GPU
// count and total memory.
func sortRows(rows []Row, byCost bool) {
	sort.SliceStable(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if a.Meets != b.Meets {
			return a.Meets
		}
		if a.Starts != b.Starts {
			return a.Starts
		}
		if byCost {
			switch {
			case a.HourlyCost != nil && b.HourlyCost != nil && *a.HourlyCost != *b.HourlyCost:
				return *a.HourlyCost < *b.HourlyCost
			case (a.HourlyCost == nil) != (b.HourlyCost == nil):
				return a.HourlyCost != nil
			}
		}
		if a.Count != b.Count {
			return a.Count < b.Count
		}
		return a.totalGiB < b.totalGiB
	})
}

// ParsePrices reads hourly prices per GPU: a JSON object {"h100-sxm": 2.49}
// when isJSON, else CSV lines "gpu,price" (a header line is allowed). GPU
// names are any name gpus.Lookup knows; the keys returned are SKU keys.
func ParsePrices(r io.Reader, isJSON bool) (map[string]float64, error) {
	raw := map[string]float64{}
	if isJSON {
		if err := json.NewDecoder(r).Decode(&raw); err != nil {
			return nil, fmt.Errorf("prices: %w", err)
		}
	} else {
		recs, err := csv.NewReader(r).ReadAll()
		if err != nil {
			return nil, fmt.Errorf("prices: %w", err)
		}
		for i, rec := range recs {
			if len(rec) < 2 {
				return nil, fmt.Errorf("prices: line %d: want gpu,price", i+1)
			}
			p, err := strconv.ParseFloat(strings.TrimSpace(rec[1]), 64)
			if err != nil {
				if i == 0 {
					continue // header
				}
				return nil, fmt.Errorf("prices: line %d: %q is not a price", i+1, rec[1])
			}
			raw[strings.TrimSpace(rec[0])] = p
		}
	}
	if len(raw) == 0 {
		return nil, fmt.Errorf("prices: no gpu,price line")
	}
	return PricesByKey(raw)
}

// PricesByKey checks hourly prices given by any GPU name gpus.Lookup
// knows and returns them keyed by SKU key.
func PricesByKey(raw map[string]float64) (map[string]float64, error) {
	out := map[string]float64{}
	for name, p := range raw {
		sku, err := gpus.Lookup(name)
		if err != nil {
			return nil, fmt.Errorf("prices: %w", err)
		}
		if p < 0 {
			return nil, fmt.Errorf("prices: %s has a negative price", name)
		}
		out[sku.Key] = p
	}
	return out, nil
}

// ReadPrices reads the price file at path with ParsePrices: JSON when the
// name ends in .json, else CSV. vramcalc plan and vramcalc load read their
// --prices through it, so one file serves both.
func ReadPrices(path string) (map[string]float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("prices: %w", err)
	}
	defer f.Close()
	p, err := ParsePrices(f, strings.HasSuffix(strings.ToLower(path), ".json"))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}
