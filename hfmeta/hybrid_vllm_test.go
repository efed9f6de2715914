package hfmeta_test

import (
	"strings"
	"testing"

	"github.com/vramcalc/vramcalc/estimate"
	"github.com/vramcalc/vramcalc/gpus"
	"github.com/vramcalc/vramcalc/hfmeta"
)

// TestQwen36BlockFromCatalog reads Qwen3.6-35B-A3B's public config from the
// catalog end to end: its text_config.mamba_ssm_dtype float32 reaches vLLM's
// state page, so at TP 4 the block grows to 528 tokens with 0.76 % padding,
// as the reproduction of `vllm serve Qwen/Qwen3.6-35B-A3B
// --tensor-parallel-size 4` logged (docs/VLLM-HYBRID.md §2.4). Arithmetic:
// 10 full-attention layers of 2 KV heads → 1 per rank × 256 × 2 × 2 B = 1024 B
// per token and layer; one GDN state 3·(2·16·128 + 32·128)/4·2 +
// (32/4)·128·128·4 = 12,288 + 524,288 = 536,576 B; 16·⌈536,576 / 16,384⌉ =
// 528; 528·1024 = 540,672 B, padding 4096 / 536,576 = 0.76 %. With a
// bfloat16 state the block would be 16·⌈274,432 / 16,384⌉ = 272.
func TestQwen36BlockFromCatalog(t *testing.T) {
	meta, err := (&hfmeta.Client{Offline: true}).FromCatalog("Qwen/Qwen3.6-35B-A3B")
	if err != nil {
		t.Fatal(err)
	}
	if meta.Model.State.SSMDType != estimate.F32 {
		t.Fatalf("state dtype %q, want F32 from text_config.mamba_ssm_dtype", meta.Model.State.SSMDType)
	}
	sku, err := gpus.Lookup("H100")
	if err != nil {
		t.Fatal(err)
	}
	res, err := estimate.Run(meta.Model, estimate.Hardware{GPU: sku.GPU, Count: 4}, estimate.Engine{Name: "vllm", Version: "0.22.0"}, estimate.Settings{})
	if err != nil {
		t.Fatal(err)
	}
	logs := strings.Join(res.Startup.LogLines, "\n")
	if res.BlockSize != 528 || res.KVBytesPerToken != 10_240 || !strings.Contains(logs, "Padding mamba page size by 0.76%") {
		t.Errorf("block %d, KV %d B/token, log %q; want 528, 10240 and 0.76%% padding", res.BlockSize, res.KVBytesPerToken, logs)
	}
	// 30 GDN layers × 540,672 B (one padded page each, mode none).
	if res.StateBytesPerSequence != 30*540_672 {
		t.Errorf("state per sequence %d, want %d", res.StateBytesPerSequence, 30*540_672)
	}
}
