package simkit

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// API is the OpenAI-compatible layer both simulators serve:
// POST /v1/completions, POST /v1/chat/completions and GET /v1/models.
// What the engines differ in comes in as fields.
type API struct {
	Sched *Scheduler
	// ModelName is the served model name (the id of /v1/models).
	ModelName string
	// OwnedBy is the model card's owned_by ("vllm", "sglang").
	OwnedBy string
	// MaxModelLen is the context length the model card reports.
	MaxModelLen int
	Vocab       int
	// ImageTokens is what one image content part of a chat message counts.
	ImageTokens int
	// Limit checks a request's lengths and returns the tokens to generate
	// (maxTokens is nil when the request names none), or the engine's
	// error status and message.
	Limit func(chat bool, prompt int, maxTokens *int) (int, int, string)
	// Error writes the engine's error body.
	Error func(w http.ResponseWriter, status int, msg string)
	// Alive is nil while the engine serves, else why it does not.
	Alive func() error
	ids   atomic.Int64
	now   func() time.Time
}

// Register adds the routes to mux.
func (a *API) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/completions", a.completions)
	mux.HandleFunc("POST /v1/chat/completions", a.chat)
	mux.HandleFunc("GET /v1/models", a.models)
}

// ModelCard is one element of GET /v1/models.
type ModelCard struct {
	ID          string `json:"id"`
	Object      string `json:"object"`
	Created     int64  `json:"created"`
	OwnedBy     string `json:"owned_by"`
	Root        string `json:"root"`
	Parent      any    `json:"parent"`
	MaxModelLen int    `json:"max_model_len"`
}

func (a *API) models(w http.ResponseWriter, _ *http.Request) {
	card := ModelCard{ID: a.ModelName, Object: "model", Created: a.clock().Unix(), OwnedBy: a.OwnedBy, Root: a.ModelName, MaxModelLen: a.MaxModelLen}
	WriteJSON(w, http.StatusOK, map[string]any{"object": "list", "data": []ModelCard{card}})
}

func (a *API) clock() time.Time {
	if a.now != nil {
		return a.now()
	}
	return time.Now()
}

// streamOptions is OpenAI's stream_options.
type streamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

// completionRequest is the part of a completion request the simulators read.
type completionRequest struct {
	Prompt        json.RawMessage `json:"prompt"`
	MaxTokens     *int            `json:"max_tokens"`
	MinTokens     int             `json:"min_tokens"`
	IgnoreEOS     bool            `json:"ignore_eos"`
	Stream        bool            `json:"stream"`
	StreamOptions *streamOptions  `json:"stream_options"`
}

// chatRequest is the part of a chat request the simulators read.
type chatRequest struct {
	Messages            []ChatMessage  `json:"messages"`
	MaxTokens           *int           `json:"max_tokens"`
	MaxCompletionTokens *int           `json:"max_completion_tokens"`
	MinTokens           int            `json:"min_tokens"`
	IgnoreEOS           bool           `json:"ignore_eos"`
	Stream              bool           `json:"stream"`
	StreamOptions       *streamOptions `json:"stream_options"`
}

// ChatMessage is one message of a chat request: content is a string or
// a list of parts.
type ChatMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

// Usage is OpenAI's usage object.
type Usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	TotalTokens      int `json:"total_tokens"`
	CompletionTokens int `json:"completion_tokens"`
}

// PromptTokens counts a completion prompt: a string through the toy
// tokenizer, or a list of token ids as given.
func (a *API) PromptTokens(raw json.RawMessage) (int, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return len(Tokenize(s, a.Vocab)), nil
	}
	var ids []int
	if err := json.Unmarshal(raw, &ids); err == nil && len(ids) > 0 {
		return len(ids), nil
	}
	return 0, fmt.Errorf("simkit: prompt must be a string or a list of token ids")
}

// ChatPrompt is the text a chat is rendered to, "role: text" lines and
// "assistant:", and the number of image parts in it.
func ChatPrompt(msgs []ChatMessage) (string, int, error) {
	var text strings.Builder
	images := 0
	for _, m := range msgs {
		var s string
		if err := json.Unmarshal(m.Content, &s); err != nil {
			var parts []struct {
				Type string `json:"type"`
				Text string `json:"text"`
			}
			if err := json.Unmarshal(m.Content, &parts); err != nil {
				return "", 0, fmt.Errorf("simkit: message content must be a string or a list of parts")
			}
			for _, p := range parts {
				switch p.Type {
				case "text":
					s += " " + p.Text
				case "image_url", "image", "input_image":
					images++
				}
			}
		}
		fmt.Fprintf(&text, "%s: %s\n", m.Role, s)
	}
	text.WriteString("assistant:")
	return text.String(), images, nil
}

// ChatTokens counts a chat: its rendered text through the toy tokenizer
// plus ImageTokens per image part.
func (a *API) ChatTokens(msgs []ChatMessage) (int, error) {
	text, images, err := ChatPrompt(msgs)
	if err != nil {
		return 0, err
	}
	return len(Tokenize(text, a.Vocab)) + images*a.ImageTokens, nil
}

func (a *API) completions(w http.ResponseWriter, r *http.Request) {
	var req completionRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		a.Error(w, http.StatusBadRequest, "invalid JSON body: "+err.Error())
		return
	}
	prompt, err := a.PromptTokens(req.Prompt)
	if err != nil {
		a.Error(w, http.StatusBadRequest, err.Error())
		return
	}
	a.generate(w, r, gen{chat: false, prompt: prompt, maxTokens: req.MaxTokens, stream: req.Stream, usage: req.StreamOptions != nil && req.StreamOptions.IncludeUsage})
}

func (a *API) chat(w http.ResponseWriter, r *http.Request) {
	var req chatRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		a.Error(w, http.StatusBadRequest, "invalid JSON body: "+err.Error())
		return
	}
	prompt, err := a.ChatTokens(req.Messages)
	if err != nil {
		a.Error(w, http.StatusBadRequest, err.Error())
		return
	}
	mt := req.MaxCompletionTokens
	if mt == nil {
		mt = req.MaxTokens
	}
	a.generate(w, r, gen{chat: true, prompt: prompt, maxTokens: mt, stream: req.Stream, usage: req.StreamOptions != nil && req.StreamOptions.IncludeUsage})
}

// gen is one generation request after parsing.
type gen struct {
	chat, stream, usage bool
	prompt              int
	maxTokens           *int
}
