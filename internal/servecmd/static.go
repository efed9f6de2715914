package servecmd

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
)

// Answer runs one GET of target ("/api/estimate?model=…") through h in
// memory and returns its status and body: the page's engine in the
// browser (cmd/vramcalc-wasm) answers with it what the server would. A
// target that is not a path of this server ("http://…", "//host/…") is a
// 404.
func Answer(h http.Handler, target string) (int, []byte) {
	u, err := url.ParseRequestURI(target)
	if err != nil || u.Host != "" || !strings.HasPrefix(target, "/") || strings.HasPrefix(target, "//") {
		u = &url.URL{Path: "/bad-target"}
	}
	r := &http.Request{Method: http.MethodGet, URL: u, Header: http.Header{}, Host: "vramcalc.page", RequestURI: u.RequestURI()}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Code, w.Body.Bytes()
}
