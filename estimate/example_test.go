package estimate_test

import (
	"fmt"

	"github.com/vramcalc/vramcalc/estimate"
)

// llama31 is Llama-3.1-8B-Instruct's config.json in estimate's terms; with
// no tensor list the weights are derived from it.
var llama31 = estimate.Model{ID: "meta-llama/Llama-3.1-8B-Instruct", Type: "llama", Layers: 32, Hidden: 4096, Heads: 32, KVHeads: 8,
	HeadDim: 128, Intermediate: 14336, Vocab: 128256, MaxPositions: 131072, DType: estimate.BF16}

var l4 = estimate.GPU{Name: "NVIDIA L4", TotalBytes: 23_570_219_008, SMITotalMiB: 23034, ComputeCapability: 89}

// The limits TGI starts with on one L4, and what it would choose by itself.
func ExampleRun() {
	res, err := estimate.Run(llama31, estimate.Hardware{GPU: l4, Count: 1}, estimate.Engine{Name: "tgi", Version: "3.3.7"}, estimate.Settings{})
	if err != nil {
		panic(err)
	}
	st, b := res.Startup, res.Boundary
	fmt.Println("weights per GPU:", res.PerGPU.Weights, "from", res.WeightsFrom)
	fmt.Println("TGI's own choice starts:", st.Fits, "with max_batch_total_tokens", st.MaxBatchTotalTokens)
	fmt.Println("largest --max-total-tokens:", b.MaxTotalTokens, "limited by", b.LimitedBy)
	// Output:
	// weights per GPU: 14.96 GiB from config.json
	// TGI's own choice starts: true with max_batch_total_tokens 22317
	// largest --max-total-tokens: 21505 limited by kv_budget
}

// The same question asked of vLLM: its KV pool and the longest context.
func ExampleRun_vllm() {
	res, err := estimate.Run(llama31, estimate.Hardware{GPU: l4, Count: 1}, estimate.Engine{Name: "vllm"}, estimate.Settings{MaxModelLen: 16384})
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Engine.Version, res.Startup.Fits, res.Startup.MaxBatchTotalTokens, res.Boundary.MaxTotalTokens)
	for _, l := range res.Startup.LogLines {
		fmt.Println(l)
	}
	// Output:
	// 0.31.0 true 33808 33808
	// Model loading took 14.9888 GiB
	// Available KV cache memory: 4.13 GiB
	// GPU KV cache size: 33,808 tokens
	// Maximum concurrency for 16,384 tokens per request: 2.06x
}

// KV bytes per token: 2 (K and V) × 32 layers × 8 KV heads × 128 × 2 bytes.
func ExampleKVBytesPerToken() {
	b, err := estimate.KVBytesPerToken("vllm", llama31, 1, 2)
	if err != nil {
		panic(err)
	}
	fmt.Println(int64(b), "B per token")
	// Output: 131072 B per token
}

// The engines and releases modelled.
func ExampleEngines() {
	for _, e := range estimate.Engines() {
		fmt.Printf("%s: %s (default %s)\n", e.Title, e.Releases(), e.DefaultVersion)
	}
	// Output:
	// TGI: 1.0.0 – 3.3.x (default 3.3.7)
	// vLLM: 0.2.0 – 0.32.x (default 0.31.0)
	// SGLang: 0.1.0 – 0.5.x (default 0.5.18)
}
