package cmdutil

import (
	"fmt"

	"github.com/urfave/cli/v3"

	"github.com/vramcalc/vramcalc/estimate"
	"github.com/vramcalc/vramcalc/gpus"
)

// Hardware is the GPUs a command sizes for, with what the flags left vramcalc
// to assume about them.
type Hardware struct {
	estimate.Hardware
	// Note says how the memory was read (the catalog's total, or --vram's reading).
	Note string
	// Assumptions are what vramcalc cannot know without --gpu.
	Assumptions []string
}

// GPUFrom resolves --gpu and --vram for n GPUs. --gpu names a catalog card;
// --vram alone gives only the memory, so the card-specific defaults of the
// engines are stated as assumptions; both together are a conflict.
func GPUFrom(name, vram string, n int) (Hardware, error) {
	hw := Hardware{Hardware: estimate.Hardware{Count: n}}
	switch {
	case name == "" && vram == "":
		return hw, Usage("e.g. --gpu H100, --gpu L4 --gpus 2, or --vram 24 (`vramcalc gpus` lists known GPUs)", "say which GPU: --gpu or --vram is required")
	case name != "" && vram != "":
		return hw, Usage("--gpu H100 sizes for that card (its memory, name and compute capability); --vram 80 for memory alone", "--gpu and --vram both given: pick one")
	case name != "":
		sku, err := gpus.Lookup(name)
		if err != nil {
			return hw, fmt.Errorf("--gpu: %w", err)
		}
		hw.GPU = sku.GPU
		hw.Note = fmt.Sprintf("%s: %s reported by the CUDA runtime", sku.GPU.Name, sku.GPU.TotalBytes)
		return hw, nil
	}
	b, note, err := gpus.ParseVRAM(vram)
	if err != nil {
		return hw, fmt.Errorf("--vram: %w", err)
	}
	hw.GPU.TotalBytes, hw.Note = b, note
	hw.Assumptions = append(hw.Assumptions,
		"--vram gives memory only: the card's name and compute capability are unknown, so TGI's prefill default comes from its VRAM rule alone "+
			"(no FLOPs entry), vLLM and SGLang pick their batch and memory-fraction defaults by memory, and the attention backend is each engine's "+
			"choice for a card it cannot identify; pass --gpu to size a named card")
	return hw, nil
}

// HardwareFlags are --gpu, --gpus and --vram.
func HardwareFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "gpu", Usage: "GPU `NAME`, e.g. H100, A100-80GB, L4, 4090 (vramcalc gpus lists them)", Category: "hardware"},
		&cli.IntFlag{Name: "gpus", Value: 1, Usage: "number of GPUs the engine shards over", Category: "hardware"},
		&cli.StringFlag{Name: "vram", Usage: "memory per GPU (`SIZE`) when no --gpu: 80 or 80GB (a card sold as 80 GB: the smallest total such cards report), or exact 79.19GiB, 81559MiB, 85017755648B", Category: "hardware"},
	}
}

// HardwareFrom reads --gpu, --gpus and --vram.
func HardwareFrom(c *cli.Command) (Hardware, error) {
	return GPUFrom(c.String("gpu"), c.String("vram"), int(c.Int("gpus")))
}
