package servecmd

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"
)

// Answer runs one GET of target ("/api/estimate?model=…") through h in
// memory and returns its status and body: the page's engine in the
// browser (cmd/vramcalc-wasm) answers with it what the server would.
func Answer(h http.Handler, target string) (int, []byte) {
	u, err := url.ParseRequestURI(target)
	if err != nil || u.Host != "" || !strings.HasPrefix(target, "/") || strings.HasPrefix(target, "//") {
		u = &url.URL{Path: "/bad-target"}
	}
	r := &http.Request{Method: http.MethodGet, URL: u, Header: http.Header{}, Host: "vramcalc.page", RequestURI: u.RequestURI()}
	w := &answerWriter{header: http.Header{}}
	h.ServeHTTP(w, r)
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.code, w.body.Bytes()
}

// answerWriter is an in-memory http.ResponseWriter.
type answerWriter struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (w *answerWriter) Header() http.Header { return w.header }

func (w *answerWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

func (w *answerWriter) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(b)
}
