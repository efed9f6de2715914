package launch

import (
	"reflect"
	"testing"

	"github.com/vramcalc/vramcalc/estimate"
	"github.com/vramcalc/vramcalc/gpus"
	"github.com/vramcalc/vramcalc/hfmeta"
	"github.com/vramcalc/vramcalc/hfmeta/catalog"
)

func TestCommand(t *testing.T) {
	for _, c := range []struct {
		name string
		s    Spec
		want string
	}{
		{"tgi hub model, hub cache mounted where the image keeps it", Spec{Engine: "tgi", Version: "3.3.7", Model: "meta-llama/Llama-3.1-8B-Instruct", Shards: 2,
			Settings: estimate.Settings{MaxInputTokens: 8191, MaxTotalTokens: 8192, MaxBatchPrefillTokens: 8242, KVCacheDType: estimate.F8E4M3, CUDAMemoryFraction: 0.9}},
			`docker run --gpus all --shm-size 1g -p 8080:80 -v "${HF_HOME:-$HOME/.cache/huggingface}/hub":/data/hub -e HF_TOKEN ghcr.io/huggingface/text-generation-inference:3.3.7 --model-id meta-llama/Llama-3.1-8B-Instruct --num-shard 2 --kv-cache-dtype fp8_e4m3fn --cuda-memory-fraction 0.9 --max-input-tokens 8191 --max-total-tokens 8192 --max-batch-prefill-tokens 8242`},
		{"tgi local directory, no token", Spec{Engine: "", Version: "v3.3", Model: "/models/my model", Local: true, Settings: estimate.Settings{MaxTotalTokens: 4096, CUDAMemoryFraction: 1}},
			`docker run --gpus all --shm-size 1g -p 8080:80 -v '/models/my model':/data/model ghcr.io/huggingface/text-generation-inference:3.3 --model-id /data/model --max-total-tokens 4096`},
		{"tgi one shard", Spec{Version: "3.3.7", Model: "google/gemma-2-9b-it", Shards: 1, Settings: estimate.Settings{MaxInputTokens: 2303, MaxTotalTokens: 2304, MaxBatchPrefillTokens: 2304}},
			`docker run --gpus all --shm-size 1g -p 8080:80 -v "${HF_HOME:-$HOME/.cache/huggingface}/hub":/data/hub -e HF_TOKEN ghcr.io/huggingface/text-generation-inference:3.3.7 --model-id google/gemma-2-9b-it --num-shard 1 --max-input-tokens 2303 --max-total-tokens 2304 --max-batch-prefill-tokens 2304`},
		{"tgi own hub cache", Spec{Version: "3.3.7", Model: "Qwen/Qwen3-8B", HubCache: `"$HF_HUB_CACHE"`},
			`docker run --gpus all --shm-size 1g -p 8080:80 -v "$HF_HUB_CACHE":/data/hub -e HF_TOKEN ghcr.io/huggingface/text-generation-inference:3.3.7 --model-id Qwen/Qwen3-8B`},
		{"vllm", Spec{Engine: "vllm", Model: "Qwen/Qwen3-32B", Shards: 2, Settings: estimate.Settings{MaxModelLen: 32768, GPUMemoryUtilization: 0.95, Quantize: "fp8", KVCacheDType: estimate.F8E4M3, EnforceEager: true}},
			`vllm serve Qwen/Qwen3-32B --tensor-parallel-size 2 --gpu-memory-utilization 0.95 --max-model-len 32768 --quantization fp8 --kv-cache-dtype fp8_e4m3 --enforce-eager`},
		{"sglang, its own --max-total-tokens", Spec{Engine: "sglang", Model: "deepseek-ai/DeepSeek-V3", Shards: 8, Settings: estimate.Settings{MaxModelLen: 65536, MemFractionStatic: 0.85, SGLangMaxTotalTokens: 500000, MaxNumSeqs: 64}},
			`python -m sglang.launch_server --model-path deepseek-ai/DeepSeek-V3 --tp-size 8 --mem-fraction-static 0.85 --context-length 65536 --max-total-tokens 500000 --max-running-requests 64`},
		{"vllm eagle3 draft", Spec{Engine: "vllm", Model: "meta-llama/Llama-3.1-8B-Instruct", Settings: estimate.Settings{Spec: estimate.Speculative{Method: "eagle3", Tokens: 3, DraftPath: "yuhuili/EAGLE3-LLaMA3.1-Instruct-8B"}}},
			`vllm serve meta-llama/Llama-3.1-8B-Instruct --speculative-config '{"method":"eagle3","model":"yuhuili/EAGLE3-LLaMA3.1-Instruct-8B","num_speculative_tokens":3}'`},
		{"vllm hybrid on Model Runner V1 with the PyTorch sampler", Spec{Engine: "vllm", Model: "Qwen/Qwen3-Next-80B-A3B-Thinking", Shards: 4, Settings: estimate.Settings{ModelRunner: "v1", Sampler: "pytorch", MambaCacheMode: "align", MambaSSMDType: estimate.F32}},
			`VLLM_USE_V2_MODEL_RUNNER=0 VLLM_USE_FLASHINFER_SAMPLER=0 vllm serve Qwen/Qwen3-Next-80B-A3B-Thinking --tensor-parallel-size 4 --mamba-cache-mode align --mamba-ssm-cache-dtype float32`},
		{"vllm text only", Spec{Engine: "vllm", Model: "Qwen/Qwen2.5-VL-7B-Instruct", LimitMMPerPrompt: `{"image":0,"video":0}`},
			`vllm serve Qwen/Qwen2.5-VL-7B-Instruct --limit-mm-per-prompt '{"image":0,"video":0}'`},
		{"vllm V2 runner, FlashInfer sampler", Spec{Engine: "vllm", Model: "m", Settings: estimate.Settings{ModelRunner: "v2", Sampler: "flashinfer"}},
			`VLLM_USE_V2_MODEL_RUNNER=1 VLLM_USE_FLASHINFER_SAMPLER=1 vllm serve m`},
		{"sglang state in bfloat16", Spec{Engine: "sglang", Model: "m", Settings: estimate.Settings{MambaSSMDType: estimate.BF16}},
			`python -m sglang.launch_server --model-path m --mamba-ssm-dtype bfloat16`},
		{"sglang NEXTN with the target's own path", Spec{Engine: "sglang", Model: "Qwen/Qwen3-Next-80B-A3B-Instruct", Shards: 4, Settings: estimate.Settings{Spec: estimate.Speculative{Method: "mtp", Steps: 3, TopK: 1, Tokens: 4, DraftPath: "Qwen/Qwen3-Next-80B-A3B-Instruct"}}},
			`python -m sglang.launch_server --model-path Qwen/Qwen3-Next-80B-A3B-Instruct --tp-size 4 --speculative-algorithm NEXTN --speculative-draft-model-path Qwen/Qwen3-Next-80B-A3B-Instruct --speculative-num-steps 3 --speculative-eagle-topk 1 --speculative-num-draft-tokens 4`},
	} {
		if got := Command(c.s); got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, c.want)
		}
	}
}

func TestArgs(t *testing.T) {
	got := Args(Spec{Engine: "tgi", Model: "/data/model", Shards: 4, Settings: estimate.Settings{MaxInputTokens: 22709, MaxTotalTokens: 22710, MaxBatchPrefillTokens: 8242, Quantize: "fp8"}})
	want := []string{"--model-id", "/data/model", "--num-shard", "4", "--quantize", "fp8", "--max-input-tokens", "22709", "--max-total-tokens", "22710", "--max-batch-prefill-tokens", "8242"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("tgi args %q, want %q", got, want)
	}
	got = Args(Spec{Engine: "vllm", Model: "my model", Settings: estimate.Settings{MaxModelLen: 8192}})
	if want := []string{"my model", "--max-model-len", "8192"}; !reflect.DeepEqual(got, want) {
		t.Errorf("vllm args %q, want %q (one word each, unquoted)", got, want)
	}
}

// TestStartingStarts: a launch line's limits, fed back to the estimate
// exactly as written, start, for every catalog model and engine on one L4,
// one H100 and eight H100s (a consistency check against estimate itself,
// not an accuracy claim). TGI's own choice of max_total_tokens is not
// written pinned: on one L4, Llama-3.1-8B starts with TGI's 22,317 tokens
// when TGI picks them, but a pinned 22,317 makes the warm-up reserve KV for
// full-length requests and fails, so the line carries the boundary's
// 21,504 / 21,505 at the release's prefill of 8,049.
func TestStartingStarts(t *testing.T) {
	client := &hfmeta.Client{Offline: true}
	var checked, written int
	for _, id := range catalog.IDs() {
		meta, err := client.FromCatalog(id)
		if err != nil {
			t.Fatal(err)
		}
		for _, gpu := range []string{"L4", "H100"} {
			sku, err := gpus.Lookup(gpu)
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range []int{1, 8} {
				hw := estimate.Hardware{GPU: sku.GPU, Count: n}
				for _, e := range estimate.Engines() {
					eng := estimate.Engine{Name: e.Name}
					res, err := estimate.Run(meta.Model, hw, eng, estimate.Settings{})
					if err != nil {
						continue // e.g. heads that do not split over n
					}
					checked++
					spec, ok := Starting(Spec{Model: id}, meta.Model, hw, res)
					if !ok {
						if res.Startup.Fits || res.Boundary.MaxTotalTokens > 0 {
							t.Errorf("%s %s %d×%s: no launch line, though it starts (%v) or has a boundary (%d)", id, e.Name, n, gpu, res.Startup.Fits, res.Boundary.MaxTotalTokens)
						}
						continue
					}
					written++
					again, err := estimate.Run(meta.Model, hw, estimate.Engine{Name: spec.Engine, Version: spec.Version}, spec.Settings)
					if err != nil || !again.Startup.Fits {
						t.Errorf("%s %s %d×%s: %s does not start: %v %s %s", id, e.Name, n, gpu, Command(spec), err, again.Startup.Failure, again.Startup.Message)
					}
				}
			}
		}
	}
	if checked < 300 || written < 200 {
		t.Errorf("checked %d set-ups, %d with a launch line; want the whole catalog", checked, written)
	}

	meta, err := client.FromCatalog("meta-llama/Llama-3.1-8B-Instruct")
	if err != nil {
		t.Fatal(err)
	}
	l4, _ := gpus.Lookup("L4")
	hw := estimate.Hardware{GPU: l4.GPU, Count: 1}
	res, err := estimate.Run(meta.Model, hw, estimate.Engine{}, estimate.Settings{})
	if err != nil || !res.Startup.Fits || res.Startup.MaxTotalTokens != 22317 {
		t.Fatalf("TGI's own start: %v, fits %v, T %d; want 22,317", err, res.Startup.Fits, res.Startup.MaxTotalTokens)
	}
	spec, ok := Starting(Spec{Model: meta.Model.ID}, meta.Model, hw, res)
	if s := spec.Settings; !ok || s.MaxInputTokens != 21504 || s.MaxTotalTokens != 21505 || s.MaxBatchPrefillTokens != 8049 {
		t.Errorf("Llama-3.1-8B on an L4: %v %d/%d/%d, want 21,504/21,505/8,049", ok, s.MaxInputTokens, s.MaxTotalTokens, s.MaxBatchPrefillTokens)
	}
}
