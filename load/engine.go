package load

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Engine names, as Config.Engine and `vramcalc load --engine` take them.
const (
	EngineVLLM   = "vllm"
	EngineSGLang = "sglang"
	EngineTGI    = "tgi"
)

// Engines are the engines Run drives.
var Engines = []string{EngineVLLM, EngineSGLang, EngineTGI}

// engineAPI is how one engine is asked for tokens, generations and its
// gauges over HTTP.
type engineAPI struct {
	// tokenizePath counts a prompt's tokens; tokenizeBody is its request
	// and tokenCount reads the count from the answer.
	tokenizePath string
	tokenizeBody func(prompt string) any
	tokenCount   func(body []byte) (int, error)
	// generatePath streams one generation (SSE); generateBody asks for
	// exactly out tokens where the engine allows it, and event reads one
	// SSE data payload.
	generatePath string
	generateBody func(model, prompt string, out int) any
	event        func(data []byte) (streamEvent, error)
	healthPath   string
	metrics      metricNames
}

// streamEvent is what one SSE data line of a generation says.
type streamEvent struct {
	// tokens is 1 when the event carries output (a text chunk or a token),
	// 0 for the usage-only chunk and [DONE].
	tokens int
	// usage is the completion tokens the server counted (exact), -1 when
	// the event does not say.
	usage int
	// err is the server's error message for an error event.
	err string
}

// apiFor returns the engine's HTTP surface.
func apiFor(engine string) (engineAPI, error) {
	switch engine {
	case EngineVLLM:
		// POST /tokenize {prompt} → {count, tokens, max_model_len}; the
		// completions request with stream, stream_options.include_usage,
		// min_tokens and ignore_eos (docs/ENGINE-SURFACE.md §A4).
		return engineAPI{tokenizePath: "/tokenize", tokenizeBody: promptBody, tokenCount: countField,
			generatePath: "/v1/completions", generateBody: openAIBody, event: openAIEvent, healthPath: "/health", metrics: vllmMetrics}, nil
	case EngineSGLang:
		// POST /v1/tokenize {prompt} → {tokens, count, max_model_len}; the
		// same completions fields (docs/ENGINE-SURFACE.md §B4).
		return engineAPI{tokenizePath: "/v1/tokenize", tokenizeBody: promptBody, tokenCount: countField,
			generatePath: "/v1/completions", generateBody: openAIBody, event: openAIEvent, healthPath: "/health", metrics: sglangMetrics}, nil
	case EngineTGI:
		// POST /tokenize {inputs} → a list of tokens
		// (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/router/src/lib.rs#L1488-L1489,
		// route at https://github.com/huggingface/text-generation-inference/blob/v3.3.7/router/src/server.rs#L2211);
		// POST /generate_stream, one SSE event per token, the last with
		// details.generated_tokens
		// (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/router/src/lib.rs#L1491-L1513,
		// https://github.com/huggingface/text-generation-inference/blob/v3.3.7/router/src/server.rs#L2206).
		return engineAPI{tokenizePath: "/tokenize", tokenizeBody: func(p string) any { return map[string]any{"inputs": p} }, tokenCount: countList,
			generatePath: "/generate_stream", generateBody: tgiBody, event: tgiEvent, healthPath: "/health", metrics: tgiMetrics}, nil
	}
	return engineAPI{}, fmt.Errorf("load: unknown engine %q (want vllm, sglang or tgi)", engine)
}

func promptBody(p string) any { return map[string]any{"prompt": p} }

// countField reads {"count": N} (vLLM's and SGLang's tokenizers).
func countField(body []byte) (int, error) {
	var r struct {
		Count *int `json:"count"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return 0, err
	}
	if r.Count == nil {
		return 0, fmt.Errorf("no count in %s", snippet(body))
	}
	return *r.Count, nil
}

// countList reads TGI's list of tokens.
func countList(body []byte) (int, error) {
	var toks []json.RawMessage
	if err := json.Unmarshal(body, &toks); err != nil {
		return 0, err
	}
	return len(toks), nil
}

// openAIBody asks vLLM or SGLang for exactly out tokens: min_tokens and
// ignore_eos keep the model from ending early, include_usage makes the
// last chunk carry the exact count.
func openAIBody(model, prompt string, out int) any {
	b := map[string]any{"prompt": prompt, "max_tokens": out, "min_tokens": out, "ignore_eos": true, "temperature": 0,
		"stream": true, "stream_options": map[string]any{"include_usage": true}}
	if model != "" {
		b["model"] = model
	}
	return b
}

// openAIEvent reads one completions chunk: choices carry text, the last
// chunk usage.completion_tokens.
func openAIEvent(data []byte) (streamEvent, error) {
	if bytes.Equal(bytes.TrimSpace(data), []byte("[DONE]")) {
		return streamEvent{usage: -1}, nil
	}
	var c struct {
		Choices []json.RawMessage `json:"choices"`
		Usage   *struct {
			CompletionTokens int `json:"completion_tokens"`
		} `json:"usage"`
		Error *json.RawMessage `json:"error"`
	}
	if err := json.Unmarshal(data, &c); err != nil {
		return streamEvent{}, err
	}
	ev := streamEvent{usage: -1}
	if c.Error != nil {
		ev.err = snippet(*c.Error)
	}
	if len(c.Choices) > 0 {
		ev.tokens = 1
	}
	if c.Usage != nil {
		ev.usage = c.Usage.CompletionTokens
	}
	return ev, nil
}

// tgiBody asks TGI for out new tokens with no stop sequences. TGI has no
// ignore_eos: a model may end early at EOS, which the exact count shows.
func tgiBody(_, prompt string, out int) any {
	return map[string]any{"inputs": prompt, "parameters": map[string]any{"max_new_tokens": out, "stop": []string{}, "details": true, "do_sample": false}}
}

// tgiEvent reads one /generate_stream event: a token, the last with
// details, or {"error": …}.
func tgiEvent(data []byte) (streamEvent, error) {
	var e struct {
		Token   *json.RawMessage `json:"token"`
		Details *struct {
			GeneratedTokens int `json:"generated_tokens"`
		} `json:"details"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal(data, &e); err != nil {
		return streamEvent{}, err
	}
	ev := streamEvent{usage: -1, err: e.Error}
	if e.Token != nil {
		ev.tokens = 1
	}
	if e.Details != nil {
		ev.usage = e.Details.GeneratedTokens
	}
	return ev, nil
}

// snippet is the start of a body, for a message.
func snippet(b []byte) string {
	const n = 200
	s := string(bytes.TrimSpace(b))
	if len(s) > n {
		s = s[:n] + "..."
	}
	return fmt.Sprintf("%q", s)
}
