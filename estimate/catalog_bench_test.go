package estimate_test

import (
	"errors"
	"testing"

	"github.com/vramcalc/vramcalc/estimate"
	"github.com/vramcalc/vramcalc/gpus"
	"github.com/vramcalc/vramcalc/hfmeta"
	"github.com/vramcalc/vramcalc/hfmeta/catalog"
)

// catalogSetup is the hardware a catalog model is benchmarked on: H200s,
// the fewest of 1, 2, 4 and 8 that every engine accepts and on which the
// weights take at most 60% of each card, as one would deploy it
// (DeepSeek-V3/R1 on 8).
func catalogSetup(tb testing.TB, m estimate.Model) estimate.Hardware {
	sku, err := gpus.Lookup("H200")
	if err != nil {
		tb.Fatal(err)
	}
	for _, n := range []int{1, 2, 4, 8} {
		hw := estimate.Hardware{GPU: sku.GPU, Count: n}
		ok := true
		for _, e := range estimate.Engines() {
			res, err := estimate.Run(m, hw, estimate.Engine{Name: e.Name}, estimate.Settings{})
			if err != nil || res.PerGPU.Weights > sku.GPU.TotalBytes*6/10 {
				ok = false
				break
			}
		}
		if ok {
			return hw
		}
	}
	return estimate.Hardware{GPU: sku.GPU, Count: 8}
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
		hw := catalogSetup(b, meta.Model)
		for _, e := range estimate.Engines() {
			eng := estimate.Engine{Name: e.Name}
			if _, err := estimate.Run(meta.Model, hw, eng, estimate.Settings{}); err != nil {
				if errors.Is(err, estimate.ErrInvalid) {
					continue // e.g. heads that do not split over hw.Count for this engine
				}
				b.Fatal(err)
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
