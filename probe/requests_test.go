package probe

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// openAIFake is an OpenAI-compatible server whose tokenizer counts one
// token per word plus a BOS, at the engine's tokenizer path, and whose
// completions generate min_tokens when ignore_eos is set (else 3 then EOS).
func openAIFake(t *testing.T, tokenizePath string) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+tokenizePath, func(w http.ResponseWriter, r *http.Request) {
		var req struct{ Model, Prompt string }
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Model != "org/m" {
			http.Error(w, "bad request", 400)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"count": len(strings.Fields(req.Prompt)) + 1, "max_model_len": 4096})
	})
	mux.HandleFunc("POST /v1/completions", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Model     string `json:"model"`
			MaxTokens int    `json:"max_tokens"`
			MinTokens int    `json:"min_tokens"`
			IgnoreEOS bool   `json:"ignore_eos"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Model != "org/m" {
			http.Error(w, "bad request", 400)
			return
		}
		n, reason := 3, "stop"
		if req.IgnoreEOS && req.MinTokens == req.MaxTokens {
			n, reason = req.MaxTokens, "length"
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"choices": []any{map[string]any{"text": "x", "finish_reason": reason}},
			"usage": map[string]any{"prompt_tokens": 1, "completion_tokens": n}})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// TestOpenAIRequests: vLLM (/tokenize) and SGLang (/v1/tokenize) get a
// prompt of exactly 512 tokens (511 words + BOS) through their own
// tokenizer, and a completion of exactly 64 tokens (min_tokens =
// max_tokens, ignore_eos) that stops for length.
func TestOpenAIRequests(t *testing.T) {
	for _, c := range []struct {
		eng  Engine
		path string
	}{{VLLM{}, "/tokenize"}, {SGLang{}, "/v1/tokenize"}} {
		srv := openAIFake(t, c.path)
		api := servingAPIFor(c.eng, "org/m", "")
		ctx := context.Background()
		prompt, err := exactPrompt(ctx, srv.Client(), srv.URL, api, 512)
		if err != nil {
			t.Fatalf("%s: %v", c.eng.Name(), err)
		}
		if n := len(strings.Fields(prompt)); n != 511 {
			t.Errorf("%s: prompt of %d words, want 511", c.eng.Name(), n)
		}
		got, reason, err := generate(ctx, srv.Client(), srv.URL, api, prompt, 64, false)
		if err != nil || got != 64 || reason != "length" {
			t.Errorf("%s: generated %d (%q, %v), want 64 for length", c.eng.Name(), got, reason, err)
		}
	}
}

// TestImageRequests: with an image, vLLM and SGLang get a chat message
// whose first part is the image_url and second the prompt; TGI gets the
// image as a markdown image before the prompt.
func TestImageRequests(t *testing.T) {
	const img = "data:image/png;base64,iVBORw0KGgo="
	path, body := servingAPIFor(VLLM{}, "org/m", img).generation("hello hello", 16, false)
	b, _ := json.Marshal(body)
	want := `{"ignore_eos":true,"max_tokens":16,"messages":[{"content":[{"image_url":{"url":"data:image/png;base64,iVBORw0KGgo="},"type":"image_url"},{"text":"hello hello","type":"text"}],"role":"user"}],"min_tokens":16,"model":"org/m","stream":false,"temperature":0}`
	if path != "/v1/chat/completions" || string(b) != want {
		t.Errorf("vLLM with an image: %s %s", path, b)
	}
	_, body = servingAPIFor(TGI{}, "", img).generation("hello", 8, false)
	if in := body.(map[string]any)["inputs"]; in != "![]("+img+")hello" {
		t.Errorf("TGI inputs %q", in)
	}
}
