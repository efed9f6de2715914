package probe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// servingAPI is how one engine's HTTP API counts a prompt's tokens and
// generates exactly m new tokens.
type servingAPI interface {
	// tokenize is the path and body that count text's tokens; count reads the answer.
	tokenize(text string) (string, any)
	count(body []byte) (int, error)
	// generation is the path and body that ask for exactly m new tokens;
	// generated reads how many came and why generation stopped.
	generation(prompt string, m int, grammar bool) (string, any)
	generated(body []byte) (int, string, error)
}

// servingAPIFor is e's API; model is the name vLLM and SGLang serve it
// under (the --model / --model-path given), image a data: URL every
// request carries ("" for none).
func servingAPIFor(e Engine, model, image string) servingAPI {
	switch e.Name() {
	case "vllm":
		// POST /tokenize {prompt} → {count, …} (docs/ENGINE-SURFACE.md §A4).
		return openAIAPI{model: model, tokenizePath: "/tokenize", image: image}
	case "sglang":
		// POST /v1/tokenize {prompt} → {tokens, count, …} (§B4).
		return openAIAPI{model: model, tokenizePath: "/v1/tokenize", image: image}
	}
	return tgiAPI{image: image}
}

// tgiAPI is TGI's router: POST /tokenize {inputs} → [token…], POST
// /generate with details. A vision model's image goes in the inputs as a
// markdown image, ![](data:…), which TGI's router fetches and expands into
// the model's image tokens.
type tgiAPI struct{ image string }

func (tgiAPI) tokenize(text string) (string, any) {
	return "/tokenize", map[string]any{"inputs": text}
}

func (tgiAPI) count(body []byte) (int, error) {
	var toks []json.RawMessage
	err := json.Unmarshal(body, &toks)
	return len(toks), err
}

func (a tgiAPI) generation(prompt string, m int, grammar bool) (string, any) {
	if a.image != "" {
		prompt = "![](" + a.image + ")" + prompt
	}
	params := map[string]any{"max_new_tokens": m, "stop": []string{}, "details": true, "do_sample": false}
	if grammar {
		// No accepting state before 16·m characters: EOS is not allowed
		// until far past max_new_tokens (TGI's grammar parameter, v1.4+).
		params["grammar"] = map[string]any{"type": "regex", "value": fmt.Sprintf("[\\s\\S]{%d,}", 16*m)}
	}
	return "/generate", map[string]any{"inputs": prompt, "parameters": params}
}

func (tgiAPI) generated(body []byte) (int, string, error) {
	var out struct {
		Details struct {
			FinishReason    string `json:"finish_reason"`
			GeneratedTokens int    `json:"generated_tokens"`
		} `json:"details"`
	}
	err := json.Unmarshal(body, &out)
	return out.Details.GeneratedTokens, out.Details.FinishReason, err
}

// openAIAPI is vLLM's and SGLang's OpenAI-compatible server: the
// tokenizer endpoint, and POST /v1/completions with min_tokens = max_tokens
// and ignore_eos, so that every request generates exactly m tokens
// (both servers take the two as extra sampling parameters; the grammar
// flag is TGI's and not needed here).
type openAIAPI struct {
	model        string
	tokenizePath string
	// image, when set, sends the prompt as a chat message with this
	// image_url part first (/v1/chat/completions).
	image string
}

func (a openAIAPI) tokenize(text string) (string, any) {
	return a.tokenizePath, map[string]any{"model": a.model, "prompt": text}
}

func (openAIAPI) count(body []byte) (int, error) {
	var out struct {
		Count *int `json:"count"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return 0, err
	}
	if out.Count == nil {
		return 0, errors.New("no count in the answer")
	}
	return *out.Count, nil
}

func (a openAIAPI) generation(prompt string, m int, _ bool) (string, any) {
	if a.image != "" {
		content := []any{map[string]any{"type": "image_url", "image_url": map[string]any{"url": a.image}}, map[string]any{"type": "text", "text": prompt}}
		return "/v1/chat/completions", map[string]any{"model": a.model, "messages": []any{map[string]any{"role": "user", "content": content}},
			"max_tokens": m, "min_tokens": m, "ignore_eos": true, "temperature": 0, "stream": false}
	}
	return "/v1/completions", map[string]any{"model": a.model, "prompt": prompt, "max_tokens": m, "min_tokens": m,
		"ignore_eos": true, "temperature": 0, "stream": false}
}

func (openAIAPI) generated(body []byte) (int, string, error) {
	var out struct {
		Choices []struct {
			FinishReason string `json:"finish_reason"`
		} `json:"choices"`
		Usage struct {
			CompletionTokens int `json:"completion_tokens"`
		} `json:"usage"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return 0, "", err
	}
	if len(out.Choices) == 0 {
		return 0, "", errors.New("no choices in the answer")
	}
	return out.Usage.CompletionTokens, out.Choices[0].FinishReason, nil
}

// exactPrompt builds a prompt of exactly n tokens as the server's own
// tokenizer counts them: a repeated word, trimmed or grown until the count
// matches.
func exactPrompt(ctx context.Context, httpc *http.Client, base string, api servingAPI, n int) (string, error) {
	words := n
	for range 8 {
		text := strings.TrimSpace(strings.Repeat(" hello", words))
		got, err := countTokens(ctx, httpc, base, api, text)
		if err != nil {
			return "", err
		}
		if got == n {
			return text, nil
		}
		if got <= 0 {
			return "", errors.New("probe: the tokenizer counted no tokens")
		}
		words = max(words*n/got, 1)
		if got < n && words*n/got == words {
			words++
		}
	}
	return "", fmt.Errorf("probe: no prompt of exactly %d tokens", n)
}

func countTokens(ctx context.Context, httpc *http.Client, base string, api servingAPI, text string) (int, error) {
	path, req := api.tokenize(text)
	body, err := post(ctx, httpc, base+path, req)
	if err != nil {
		return 0, fmt.Errorf("probe: tokenize: %w", err)
	}
	n, err := api.count(body)
	if err != nil {
		return 0, fmt.Errorf("probe: tokenize: %w", err)
	}
	return n, nil
}

// generate asks for exactly m new tokens with no stop sequences and returns
// what the server says it generated.
func generate(ctx context.Context, httpc *http.Client, base string, api servingAPI, prompt string, m int, grammar bool) (int, string, error) {
	path, req := api.generation(prompt, m, grammar)
	body, err := post(ctx, httpc, base+path, req)
	if err != nil {
		return 0, "", fmt.Errorf("probe: generate: %w", err)
	}
	n, reason, err := api.generated(body)
	if err != nil {
		return 0, "", fmt.Errorf("probe: generate: %w", err)
	}
	return n, reason, nil
}

// maxAnswer bounds an answer's body (a generation of 1024 tokens with details).
const maxAnswer = 8 << 20

// post sends req as JSON and returns a 200 answer's body, or an
// *httpStatusError with the first 4 KiB of another.
func post(ctx context.Context, httpc *http.Client, url string, req any) ([]byte, error) {
	b, _ := json.Marshal(req)
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(string(b)))
	if err != nil {
		return nil, err
	}
	hr.Header.Set("Content-Type", "application/json")
	resp, err := httpc.Do(hr)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return nil, &httpStatusError{code: resp.StatusCode, body: string(b)}
	}
	return io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
}
