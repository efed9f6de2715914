package estimate

import (
	"fmt"
	"strconv"
)

// KVBytesPerToken is the KV cache of one token on one shard as the named
// engine stores it (all layers; vllm.go and sglang.go size their pools with
// it). elt is the KV element size in bytes.
//
//   - tgi: 2 × layers × kv_heads/ws × head_size × elt, with MQA replicated
//     and DeepSeek MLA stored as full per-head K/V of width 192
//     (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/server/text_generation_server/models/__init__.py#L696-L700).
//   - vllm: 2 × layers × max(1, kv_heads/tp) × head_size × elt (KV heads
//     replicated when tp > kv_heads); MLA keeps the latent, (kv_lora_rank +
//     qk_rope_head_dim) × elt per layer, with no ×2 and no TP split
//     (page sizes: https://github.com/vllm-project/vllm/blob/v0.19.0/vllm/v1/kv_cache_interface.py#L79-L87,
//     MLA https://github.com/vllm-project/vllm/blob/v0.19.0/vllm/v1/kv_cache_interface.py#L191-L206; MLA head size
//     and one KV head: https://github.com/vllm-project/vllm/blob/v0.19.0/vllm/model_executor/layers/attention/mla_attention.py#L316,
//     https://github.com/vllm-project/vllm/blob/v0.19.0/vllm/model_executor/layers/attention/mla_attention.py#L835-L845;
//     KV heads per rank: https://github.com/vllm-project/vllm/blob/v0.19.0/vllm/config/model.py#L1217-L1228).
//     Not modelled: --kv-cache-dtype fp8_ds_mla (sparse MLA), 656 B per
//     token (https://github.com/vllm-project/vllm/blob/v0.19.0/vllm/v1/kv_cache_interface.py#L197-L200).
//   - sglang: as vLLM; MLA cell = (kv_lora_rank + qk_rope_head_dim) × layers × elt
//     (https://github.com/sgl-project/sglang/blob/v0.5.5/python/sglang/srt/model_executor/model_runner.py#L1277-L1316).
//
// vLLM and SGLang count the layers that own KV (Model.CacheKinds: not the
// state layers, not KV-shared ones); TGI every layer. Every layer is
// counted at full length; sliding-window savings are the engines'
// allocators' business.
func KVBytesPerToken(engine string, m Model, ws, elt int) (Bytes, error) {
	if ws <= 0 || elt <= 0 || m.Layers <= 0 {
		return 0, fmt.Errorf("%w: kv bytes need layers, shards and element size > 0", ErrInvalid)
	}
	if ws > MaxGPUs || elt > 8 {
		return 0, implausible([]string{"kv bytes need at most " + strconv.Itoa(MaxGPUs) + " shards and 8-byte elements"})
	}
	if err := checkModel(&m); err != nil {
		return 0, err
	}
	z, err := sizerFor(engine)
	if err != nil {
		return 0, err
	}
	return z.kvBytesPerToken(m, ws, elt)
}

// servingKVBytesPerToken is vLLM's and SGLang's KV per token (see
// KVBytesPerToken).
func servingKVBytesPerToken(m Model, ws, elt int) Bytes {
	layers := m.kvLayers()
	if m.IsMLA() {
		return Bytes(layers * (m.KVLoraRank + m.QKRopeHeadDim) * elt)
	}
	heads := max(1, m.KVHeadCount()/ws)
	return Bytes(2 * layers * heads * m.HeadSize() * elt)
}
