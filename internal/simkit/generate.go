package simkit

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// generate admits a parsed request to the scheduler and answers it whole
// or as server-sent events.
func (a *API) generate(w http.ResponseWriter, r *http.Request, g gen) {
	if a.Alive != nil {
		if err := a.Alive(); err != nil {
			a.Error(w, http.StatusInternalServerError, err.Error())
			return
		}
	}
	n, status, msg := a.Limit(g.chat, g.prompt, g.maxTokens)
	if status != 0 {
		a.Error(w, status, msg)
		return
	}
	req := a.Sched.Submit(g.prompt, n)
	defer a.Sched.Abort(req)
	id := fmt.Sprintf("%s%d", map[bool]string{false: "cmpl-", true: "chatcmpl-"}[g.chat], a.ids.Add(1))
	c := chunker{id: id, model: a.ModelName, created: a.clock().Unix(), chat: g.chat}
	if g.stream {
		a.stream(w, r, req, c, g)
		return
	}
	var text strings.Builder
	got := 0
	for {
		k, ok := req.Next(r.Context())
		if !ok {
			break
		}
		text.WriteString(GeneratedText(k))
		got++
	}
	if err := a.Sched.Err(req); err != nil || got < n {
		a.Error(w, http.StatusInternalServerError, fmt.Sprintf("generation ended after %d of %d tokens: %v", got, n, err))
		return
	}
	u := Usage{PromptTokens: g.prompt, CompletionTokens: got, TotalTokens: g.prompt + got}
	WriteJSON(w, http.StatusOK, c.whole(text.String(), u))
}

// stream writes one SSE event per token, the finish reason on the last,
// the usage event when asked, then [DONE].
func (a *API) stream(w http.ResponseWriter, r *http.Request, req *Request, c chunker, g gen) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	fl, _ := w.(http.Flusher)
	send := func(v any) {
		b, _ := json.Marshal(v)
		fmt.Fprintf(w, "data: %s\n\n", b)
		if fl != nil {
			fl.Flush()
		}
	}
	if c.chat {
		send(c.chunk(map[string]any{"role": "assistant", "content": ""}, nil))
	}
	got := 0
	for {
		k, ok := req.Next(r.Context())
		if !ok {
			break
		}
		got++
		var finish *string
		if got == req.MaxTokens {
			s := "length"
			finish = &s
		}
		send(c.chunk(GeneratedText(k), finish))
	}
	if err := a.Sched.Err(req); err != nil || got < req.MaxTokens {
		send(map[string]any{"error": map[string]any{"message": fmt.Sprintf("generation ended after %d of %d tokens: %v", got, req.MaxTokens, err), "type": "InternalServerError", "code": 500}})
	} else if g.usage {
		u := Usage{PromptTokens: g.prompt, CompletionTokens: got, TotalTokens: g.prompt + got}
		send(c.usageChunk(u))
	}
	fmt.Fprint(w, "data: [DONE]\n\n")
	if fl != nil {
		fl.Flush()
	}
}

// chunker shapes responses and stream events of one request.
type chunker struct {
	id, model string
	created   int64
	chat      bool
}

func (c chunker) object(stream bool) string {
	switch {
	case c.chat && stream:
		return "chat.completion.chunk"
	case c.chat:
		return "chat.completion"
	}
	return "text_completion"
}

func (c chunker) head(stream bool, choices []map[string]any) map[string]any {
	return map[string]any{"id": c.id, "object": c.object(stream), "created": c.created, "model": c.model, "choices": choices}
}

// whole is a complete response.
func (c chunker) whole(text string, u Usage) map[string]any {
	choice := map[string]any{"index": 0, "logprobs": nil, "finish_reason": "length", "stop_reason": nil}
	if c.chat {
		choice["message"] = map[string]any{"role": "assistant", "content": text}
	} else {
		choice["text"] = text
	}
	out := c.head(false, []map[string]any{choice})
	out["usage"] = u
	return out
}

// chunk is one stream event: a text (completions) or a delta (chat).
func (c chunker) chunk(piece any, finish *string) map[string]any {
	choice := map[string]any{"index": 0, "logprobs": nil, "finish_reason": finish}
	if c.chat {
		if s, ok := piece.(string); ok {
			piece = map[string]any{"content": s}
		}
		choice["delta"] = piece
	} else {
		choice["text"] = piece
	}
	out := c.head(true, []map[string]any{choice})
	out["usage"] = nil
	return out
}

// usageChunk is stream_options.include_usage's last event: no choices.
func (c chunker) usageChunk(u Usage) map[string]any {
	out := c.head(true, []map[string]any{})
	out["usage"] = u
	return out
}
