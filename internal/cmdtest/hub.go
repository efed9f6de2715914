package cmdtest

import (
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
func FakeHub(t testing.TB) *httptest.Server {
	t.Helper()
	files := http.FileServer(http.Dir(filepath.Join(ModuleRoot(t), "hfmeta", "testdata", "hub")))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
