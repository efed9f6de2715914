package calibrate

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/vramcalc/vramcalc/estimate"
	"github.com/vramcalc/vramcalc/gpus"
	"github.com/vramcalc/vramcalc/hfmeta"
)

// TestReportInputs maps report rows of each engine onto the estimate's
// inputs.
func TestReportInputs(t *testing.T) {
	type want struct {
		gpu      string
		total    estimate.Bytes
		count    int
		version  string
		settings estimate.Settings
		notes    []string
	}
	tests := []struct {
		name string
		r    Report
		want want
	}{
		{"tgi: limits, memory fraction, engine default release",
			Report{Engine: "tgi", Model: llama8B, GPUModel: "L4", GPUMemory: "24GB", NumGPUs: 2, MaxInputTokens: 4095, MaxModelLen: 4096, MaxBatchPrefillTokens: 4145, MemoryFraction: 0.9},
			want{"NVIDIA L4", 23_570_219_008, 2, "", estimate.Settings{MaxInputTokens: 4095, MaxTotalTokens: 4096, MaxBatchPrefillTokens: 4145, CUDAMemoryFraction: 0.9},
				[]string{"version not stated: engine default"}}},
		{"vllm V1: utilization, length, batched tokens, block size, fp8 KV cache; the printed total is within 0.005 GiB",
			// 85,017,755,648 B is 79.178 GiB; the row's "79.18 GiB reported" is 85,019,997,470 B, 0.002 GiB more: the catalog's stays.
			Report{Engine: "vllm", EngineVersion: "v0.11.0 (V1)", Version: "0.11.0", Model: llama8B, GPUModel: "H100", GPUMemory: "80GB (79.18 GiB reported)", TotalBytes: 85_019_997_470,
				NumGPUs: 1, TP: 1, KVCacheDType: "fp8 (e4m3)", MemoryFraction: 0.9, MaxModelLen: 16000, MaxBatchPrefillTokens: 8192, BlockSize: 16},
			want{"NVIDIA H100 80GB HBM3", 85_017_755_648, 1, "0.11.0", estimate.Settings{NumShard: 1, KVCacheDType: estimate.F8E4M3, GPUMemoryUtilization: 0.9, MaxModelLen: 16000, MaxNumBatchedTokens: 8192, BlockSize: 16}, nil}},
		{"vllm V0 with a release: the -v0 suffix; a printed total 0.01 GiB below the catalog's wins",
			// The RTX 3090 reports 25,327,697,920 B (23.59 GiB); the row's 23.58 GiB is 25,318,832,209 B.
			Report{Engine: "vllm", EngineVersion: "0.6.4 (Dec 2024, V0)", Version: "0.6.4", Model: llama8B, GPUModel: "RTX 3090", GPUMemory: "24GB (23.58 GiB total_gpu_memory)", TotalBytes: 25_318_832_209,
				MemoryFraction: 0.9, MaxModelLen: 20000},
			want{"NVIDIA GeForce RTX 3090", 25_318_832_209, 1, "0.6.4-v0", estimate.Settings{GPUMemoryUtilization: 0.9, MaxModelLen: 20000}, []string{"total from the row"}}},
		{"vllm V0 without a release: 0.7.3, the last V0-default release",
			Report{Engine: "vllm", EngineVersion: "main (V0)", Model: llama8B, GPUModel: "A100", GPUMemory: "40GB", MaxModelLen: 4096},
			want{"NVIDIA A100-SXM4-40GB", 42_505_273_344, 1, "0.7.3", estimate.Settings{MaxModelLen: 4096}, []string{"version not stated: last V0-default release (0.7.3) assumed"}}},
		{"sglang: static fraction and context; TP 4 on 4 GPUs",
			Report{Engine: "sglang", Version: "0.4.9", Model: llama8B, GPUModel: "H100", GPUMemory: "80GB", NumGPUs: 4, TP: 4, MemoryFraction: 0.93, MaxModelLen: 32768, KVCacheDType: "auto"},
			want{"NVIDIA H100 80GB HBM3", 85_017_755_648, 4, "0.4.9", estimate.Settings{NumShard: 4, MemFractionStatic: 0.93, MaxModelLen: 32768}, nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := ReportInputs(context.Background(), offline(t), tt.r)
			if err != nil {
				t.Fatal(err)
			}
			got := want{in.Hardware.GPU.Name, in.Hardware.GPU.TotalBytes, in.Hardware.Count, in.Engine.Version, in.Settings, in.Notes}
			if !reflect.DeepEqual(got, tt.want) || in.Engine.Name != tt.r.Engine || in.Model.ID != llama8B {
				t.Errorf("got  %+v (engine %q, model %q)\nwant %+v", got, in.Engine.Name, in.Model.ID, tt.want)
			}
		})
	}
}

func TestReportInputsErrors(t *testing.T) {
	_, err := ReportInputs(context.Background(), offline(t), Report{Engine: "tgi", Model: "vramcalc-test/unknown-model", GPUModel: "L4"})
	if !errors.Is(err, hfmeta.ErrNotFound) {
		t.Errorf("unknown model: %v", err)
	}
	_, err = ReportInputs(context.Background(), offline(t), Report{Engine: "tgi", Model: llama8B, GPUModel: "Voodoo 5"})
	if !errors.Is(err, gpus.ErrUnknownGPU) {
		t.Errorf("unknown GPU: %v", err)
	}
}

// TestLookupReportGPU: the model with the size first, then the model
// alone; parenthetical remarks go.
func TestLookupReportGPU(t *testing.T) {
	for _, tt := range []struct{ model, memory, want string }{
		{"A100", "80GB", "NVIDIA A100-SXM4-80GB"},
		{"A100", "40GB", "NVIDIA A100-SXM4-40GB"},
		{"A10 (OCI VM)", "24GB", "NVIDIA A10"},
		{"A10G (ml.g5.8xlarge)", "24GB", "NVIDIA A10G"},
		{"RTX A6000", "48GB", "NVIDIA RTX A6000"},
		{"H100", "80GB (79.19 GiB physical)", "NVIDIA H100 80GB HBM3"},
		{"L4", "", "NVIDIA L4"},
	} {
		sku, err := lookupReportGPU(tt.model, tt.memory)
		if err != nil || sku.GPU.Name != tt.want {
			t.Errorf("lookupReportGPU(%q, %q) = %q, %v; want %q", tt.model, tt.memory, sku.GPU.Name, err, tt.want)
		}
	}
}

// TestPredictReport: the prediction is the estimate's for the row's inputs,
// and a row predicted not to start says so after the assumed release.
func TestPredictReport(t *testing.T) {
	ctx := context.Background()
	r := Report{Engine: "tgi", Version: "3.3.7", Model: llama8B, GPUModel: "L4", MaxInputTokens: 4095, MaxModelLen: 4096, MaxBatchPrefillTokens: 4096}
	p, err := PredictReport(ctx, offline(t), r)
	if err != nil {
		t.Fatal(err)
	}
	in, err := ReportInputs(ctx, offline(t), r)
	if err != nil {
		t.Fatal(err)
	}
	res, err := estimate.Run(in.Model, in.Hardware, in.Engine, in.Settings)
	if err != nil {
		t.Fatal(err)
	}
	if p.KVTokens != res.Startup.MaxBatchTotalTokens || p.KVTokens <= 0 || p.KVCacheBytes != int64(res.PerGPU.KVCache) || p.Note != "" {
		t.Errorf("prediction %+v; the estimate gives %d tokens, %d B", p, res.Startup.MaxBatchTotalTokens, int64(res.PerGPU.KVCache))
	}

	// Llama-3.3-70B's 141 GB of BF16 weights on one 24 GB L4.
	big := Report{Engine: "tgi", Model: "meta-llama/Llama-3.3-70B-Instruct", GPUModel: "L4"}
	p, err = PredictReport(ctx, offline(t), big)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(p.Note, "version not stated: engine default; predicted not to start: ") {
		t.Errorf("70B on one L4: note %q", p.Note)
	}
}
