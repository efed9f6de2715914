package cmdtest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// HubToken is the token FakeHub's gated repo grants access to.
const HubToken = "hf_vramcalcSecretTokenValue"

// FakeHub serves hfmeta's Hub fixtures (<org>/<repo>/resolve/main/<file>)
// on a loopback port of its own. vramcalc-test/gated-model answers 401
// without HubToken and 403 with another token, echoing the Authorization
// header it got (as would a server that leaks it), so that a client that
// printed response bodies would print the token; vramcalc-test/broken
// answers 500 the same way, after a redirect whose query carries the
// token. vramcalc-test/qwen-copy serves Qwen/Qwen3-0.6B, which the catalog
// would answer for; vramcalc-test/slow answers nothing for 5 s.
// vramcalc-test/rate-limited answers 429 with Retry-After: 0 (retried at
// once), vramcalc-test/rate-limited-long 429 with Retry-After: 3600 (not
// retried), vramcalc-test/hub-error 503 with Retry-After: 0;
// vramcalc-test/cut-short sends a config.json shorter than its
// Content-Length; vramcalc-test/many-shards has Qwen3-0.6B's config and an
// index naming 1025 shards.
func FakeHub(t testing.TB) *httptest.Server {
	t.Helper()
	files := http.FileServer(http.Dir(filepath.Join(ModuleRoot(t), "hfmeta", "testdata", "hub")))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failed(w, r) {
			return
		}
		switch {
		case strings.HasPrefix(r.URL.Path, "/vramcalc-test/slow/"):
			select {
			case <-time.After(5 * time.Second):
			case <-r.Context().Done():
			}
			return
		case strings.HasPrefix(r.URL.Path, "/vramcalc-test/gated-model/"):
			switch auth := r.Header.Get("Authorization"); auth {
			case "Bearer " + HubToken:
			case "":
				http.Error(w, "Access to model vramcalc-test/gated-model is restricted.", http.StatusUnauthorized)
				return
			default:
				w.Header().Set("X-Error-Message", "no access for "+auth)
				http.Error(w, "forbidden: "+auth, http.StatusForbidden)
				return
			}
		case strings.HasPrefix(r.URL.Path, "/vramcalc-test/broken/"):
			auth := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
			http.Redirect(w, r, "/cdn"+r.URL.Path+"?token="+auth, http.StatusFound)
			return
		case strings.HasPrefix(r.URL.Path, "/vramcalc-test/qwen-copy/"):
			r.URL.Path = "/Qwen/Qwen3-0.6B/" + strings.TrimPrefix(r.URL.Path, "/vramcalc-test/qwen-copy/")
		case strings.HasPrefix(r.URL.Path, "/cdn/"):
			auth := r.URL.Query().Get("token") + " " + r.Header.Get("Authorization")
			http.Error(w, "internal error for "+auth, http.StatusInternalServerError)
			return
		}
		files.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// failed answers FakeHub's failing repos (rate-limited, hub-error,
// cut-short, many-shards' index) and reports whether it did.
func failed(w http.ResponseWriter, r *http.Request) bool {
	repo, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/vramcalc-test/"), "/")
	switch {
	case !strings.HasPrefix(r.URL.Path, "/vramcalc-test/"):
		return false
	case repo == "rate-limited" || repo == "rate-limited-long" || repo == "hub-error":
		code, after := http.StatusTooManyRequests, "0"
		if repo == "rate-limited-long" {
			after = "3600"
		} else if repo == "hub-error" {
			code = http.StatusServiceUnavailable
		}
		w.Header().Set("Retry-After", after)
		http.Error(w, http.StatusText(code)+" for "+r.Header.Get("Authorization"), code)
		return true
	case repo == "cut-short":
		w.Header().Set("Content-Length", "1000")
		w.Write([]byte(`{"num_hidden_layers": 2`))
		return true
	case repo == "many-shards" && strings.HasSuffix(r.URL.Path, "/model.safetensors.index.json"):
		var b strings.Builder
		b.WriteString(`{"weight_map": {`)
		for i := range 1025 {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, `"w%[1]d": "model-%05[1]d-of-01025.safetensors"`, i+1)
		}
		b.WriteString("}}")
		w.Write([]byte(b.String()))
		return true
	case repo == "many-shards":
		r.URL.Path = "/Qwen/Qwen3-0.6B/" + strings.TrimPrefix(r.URL.Path, "/vramcalc-test/many-shards/")
	}
	return false
}
