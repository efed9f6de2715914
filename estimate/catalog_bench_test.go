package estimate_test

import (
	"errors"
	"testing"

	"github.com/vramcalc/vramcalc/estimate"
	"github.com/vramcalc/vramcalc/gpus"
	"github.com/vramcalc/vramcalc/hfmeta"
	"github.com/vramcalc/vramcalc/hfmeta/catalog"
)

// catalogSetup is the hardware a catalog model is benchmarked on with an
// engine: H200s, the fewest of 1, 2, 4 and 8 that the engine accepts and on
// which the weights take at most 60% of each card, as one would deploy it
// (DeepSeek-V3/R1 on 8), else the most it accepts (Qwen3-235B-A22B on 4
// for TGI, whose 4 KV heads do not split over 8); ok is false when the
// engine accepts none.
func catalogSetup(tb testing.TB, m estimate.Model, eng estimate.Engine) (hw estimate.Hardware, ok bool) {
	sku, err := gpus.Lookup("H200")
	if err != nil {
		tb.Fatal(err)
	}
	for _, n := range []int{1, 2, 4, 8} {
		try := estimate.Hardware{GPU: sku.GPU, Count: n}
		res, err := estimate.Run(m, try, eng, estimate.Settings{})
		if errors.Is(err, estimate.ErrInvalid) {
			continue // e.g. heads that do not split over n for this engine
		}
		if errors.Is(err, estimate.ErrNotServed) {
			return hw, false // TGI refuses models with state layers it does not implement
		}
		if err != nil {
			tb.Fatal(err)
		}
		hw, ok = try, true
		if res.PerGPU.Weights <= sku.GPU.TotalBytes*6/10 {
			break
		}
	}
	return hw, ok
}

// BenchmarkRunCatalog is one estimate.Run (startup, boundary searches,
// breakdown) for every catalog model and engine with the engine's defaults
// (target: ≥ 200,000 calls/s on one core, i.e. ≤ 5 µs/op; run with -cpu 1).
func BenchmarkRunCatalog(b *testing.B) {
	client := &hfmeta.Client{Offline: true}
	for _, en := range catalog.All() {
		meta, err := client.FromCatalog(en.ID)
		if err != nil {
			b.Fatal(err)
		}
		for _, e := range estimate.Engines() {
			eng := estimate.Engine{Name: e.Name}
			hw, ok := catalogSetup(b, meta.Model, eng)
			if !ok {
				continue // not served by this engine (the table says so)
			}
			b.Run(e.Name+"/"+en.ID, func(b *testing.B) {
				for b.Loop() {
					if _, err := estimate.Run(meta.Model, hw, eng, estimate.Settings{}); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
