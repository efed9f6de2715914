package hfmeta_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/vramcalc/vramcalc/estimate"
	"github.com/vramcalc/vramcalc/gpus"
	"github.com/vramcalc/vramcalc/hfmeta"
)

// catalogModel reads a catalog entry offline.
func catalogModel(t *testing.T, id string) estimate.Model {
	t.Helper()
	meta, err := (&hfmeta.Client{Offline: true}).FromCatalog(id)
	if err != nil {
		t.Fatal(err)
	}
	return meta.Model
}

// TestKimiLinearFromCatalog reads Kimi-Linear-48B-A3B's config end to end:
// kda_layers is 1-indexed, so the MLA layers are 0-based 3, 7, …, 23 and
// 26 (20 KDA + 7 MLA); KDA geometry 32 heads × 128, kernel 4. On 2 H100s
// with vLLM 0.21.0 (FLASH_ATTN_MLA, alignment 16) the block is 16·⌈
// (3·3·4096/2·2 + 16·128·128·4) / (16·1152)⌉ = 16·⌈1,085,440 / 18,432⌉ =
// 944 and the KV 7·576·2 = 8,064 B per token; on SGLang 0.5.18 the state
// per request is 20·1,085,440 = 21,708,800 B. Both rate it high.
func TestKimiLinearFromCatalog(t *testing.T) {
	m := catalogModel(t, "moonshotai/Kimi-Linear-48B-A3B-Instruct")
	var mla []int
	for i, k := range m.Kinds {
		if k == estimate.KindMLA {
			mla = append(mla, i)
		}
	}
	st := m.State
	if len(m.Kinds) != 27 || len(m.Unmodelled) != 0 || !m.IsMLA() || !m.StateLayers ||
		st.Mixer != estimate.MixerKDA || st.ValueHeads != 32 || st.ValueHeadDim != 128 || st.ConvKernel != 4 {
		t.Fatalf("kinds %v, unmodelled %q, state %+v", m.Kinds, m.Unmodelled, st)
	}
	if got := fmt.Sprint(mla); got != "[3 7 11 15 19 23 26]" {
		t.Errorf("MLA layers %s, want [3 7 11 15 19 23 26]", got)
	}
	sku, err := gpus.Lookup("H100")
	if err != nil {
		t.Fatal(err)
	}
	hw := estimate.Hardware{GPU: sku.GPU, Count: 2}
	res, err := estimate.Run(m, hw, estimate.Engine{Name: "vllm", Version: "0.21.0"}, estimate.Settings{})
	if err != nil {
		t.Fatal(err)
	}
	if res.BlockSize != 944 || res.KVBytesPerToken != 8064 || res.Confidence != estimate.ConfidenceHigh {
		t.Errorf("vLLM: block %d, KV %d B/token, confidence %s (%q); want 944, 8064, high", res.BlockSize, res.KVBytesPerToken, res.Confidence, res.Warnings)
	}
	sg, err := estimate.Run(m, hw, estimate.Engine{Name: "sglang", Version: "0.5.18"}, estimate.Settings{})
	if err != nil {
		t.Fatal(err)
	}
	if sg.StateBytesPerSequence != 21_708_800 || sg.KVBytesPerToken != 8064 || sg.Confidence != estimate.ConfidenceHigh {
		t.Errorf("SGLang: state %d, KV %d, confidence %s (%q); want 21708800, 8064, high", sg.StateBytesPerSequence, sg.KVBytesPerToken, sg.Confidence, sg.Warnings)
	}
	if _, err := estimate.Run(m, hw, estimate.Engine{Name: "tgi"}, estimate.Settings{}); !errors.Is(err, estimate.ErrNotServed) {
		t.Errorf("TGI: %v, want ErrNotServed", err)
	}
}

// TestMiniMaxM1FromCatalog reads MiniMax-M1-80k's config: attn_type_list
// gives 70 lightning and 10 full layers. On 8 H200s with vLLM 0.21.0 the
// lightning state is (64/8)·128·128·2 = 262,144 B in the model dtype, one
// full layer's KV 2·(8/8)·128·2 = 512 B per token, so the block is
// 16·⌈262,144 / (16·512)⌉ = 512 with no padding and the KV 10·512 = 5,120
// B per token. SGLang refuses it, and vLLM from 0.24.
func TestMiniMaxM1FromCatalog(t *testing.T) {
	m := catalogModel(t, "MiniMaxAI/MiniMax-M1-80k")
	counts := m.KindCounts()
	if counts[estimate.KindLinear] != 70 || counts[estimate.KindFull] != 10 || len(m.Unmodelled) != 0 || m.State.Mixer != estimate.MixerLightning {
		t.Fatalf("kinds %v, unmodelled %q, state %+v", counts, m.Unmodelled, m.State)
	}
	sku, err := gpus.Lookup("H200")
	if err != nil {
		t.Fatal(err)
	}
	hw := estimate.Hardware{GPU: sku.GPU, Count: 8}
	res, err := estimate.Run(m, hw, estimate.Engine{Name: "vllm", Version: "0.21.0"}, estimate.Settings{})
	if err != nil {
		t.Fatal(err)
	}
	if res.BlockSize != 512 || res.KVBytesPerToken != 5120 || res.StateBytesPerSequence != 70*262_144 || res.Confidence != estimate.ConfidenceHigh {
		t.Errorf("block %d, KV %d, state %d, confidence %s (%q); want 512, 5120, 18350080, high",
			res.BlockSize, res.KVBytesPerToken, res.StateBytesPerSequence, res.Confidence, res.Warnings)
	}
	for _, e := range []estimate.Engine{{Name: "sglang", Version: "0.5.18"}, {Name: "vllm", Version: "0.24.0"}} {
		_, err := estimate.Run(m, hw, e, estimate.Settings{})
		var ns *estimate.NotServedError
		if !errors.As(err, &ns) || !strings.Contains(ns.Hint, "0.23") {
			t.Errorf("%s %s: %v, want a NotServedError pointing at vLLM 0.23", e.Name, e.Version, err)
		}
	}
	if _, err := estimate.Run(m, hw, estimate.Engine{Name: "vllm", Version: "0.23.0"}, estimate.Settings{}); err != nil {
		t.Errorf("vLLM 0.23.0: %v", err)
	}
}

// TestLightningAndKDAParse: MiniMax's layout falls back to HF layer_types
// ("linear_attention"/"full_attention") without attn_type_list, as vLLM
// does; a kda_layers list that is not integers leaves Kimi-Linear's
// layout unread, and the config says so (Model.Unmodelled) rather than
// sizing the KDA layers as MLA.
func TestLightningAndKDAParse(t *testing.T) {
	mm := `{"model_type": "minimax_text_01", "num_hidden_layers": 4, "hidden_size": 512, "num_attention_heads": 8,
		"num_key_value_heads": 8, "head_dim": 64, "vocab_size": 1000, "intermediate_size": 1024, "num_local_experts": 4,
		"layer_types": ["linear_attention", "linear_attention", "linear_attention", "full_attention"]}`
	m, _, err := hfmeta.ParseConfig([]byte(mm))
	if err != nil {
		t.Fatal(err)
	}
	want := []estimate.LayerKind{estimate.KindLinear, estimate.KindLinear, estimate.KindLinear, estimate.KindFull}
	if fmt.Sprint(m.Kinds) != fmt.Sprint(want) || len(m.Unmodelled) != 0 || m.State.ValueHeads != 8 || m.State.ValueHeadDim != 64 {
		t.Errorf("minimax layer_types: kinds %v, unmodelled %q, state %+v", m.Kinds, m.Unmodelled, m.State)
	}
	kl := `{"model_type": "kimi_linear", "num_hidden_layers": 2, "hidden_size": 512, "num_attention_heads": 8, "vocab_size": 1000,
		"kv_lora_rank": 64, "qk_rope_head_dim": 16, "linear_attn_config": {"kda_layers": ["1"], "num_heads": 8, "head_dim": 64,
		"short_conv_kernel_size": 4}}`
	k, _, err := hfmeta.ParseConfig([]byte(kl))
	if err != nil {
		t.Fatal(err)
	}
	if len(k.Kinds) != 0 || len(k.Unmodelled) == 0 || !strings.Contains(k.Unmodelled[0], "linear_attn_config") {
		t.Errorf("kimi_linear with string kda_layers: kinds %v, unmodelled %q", k.Kinds, k.Unmodelled)
	}
}
