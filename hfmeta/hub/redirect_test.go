package hub

import (
	"net/http"
	"net/url"
	"testing"
)

// TestSameOrigin: scheme, host and port, with the default ports.
func TestSameOrigin(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want bool
	}{
		{"https://huggingface.co/x", "https://huggingface.co/y?z=1", true},
		{"https://huggingface.co/x", "https://HuggingFace.co:443/y", true},
		{"http://127.0.0.1/x", "http://127.0.0.1:80/x", true},
		{"https://huggingface.co/x", "http://huggingface.co/x", false},          // scheme
		{"http://huggingface.co/x", "https://huggingface.co/x", false},          // scheme, even an upgrade
		{"https://huggingface.co/x", "https://cdn-lfs.huggingface.co/x", false}, // subdomain
		{"http://127.0.0.1:8080/x", "http://127.0.0.1:8081/x", false},           // port
		{"https://huggingface.co/x", "https://huggingface.co:8443/x", false},
	} {
		a, _ := url.Parse(tt.a)
		b, _ := url.Parse(tt.b)
		if got := sameOrigin(a, b); got != tt.want {
			t.Errorf("sameOrigin(%s, %s) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

// TestStripAuthOnRedirectBound: net/http's 10-redirect bound is kept, and
// a CheckRedirect of the caller's still runs.
func TestStripAuthOnRedirectBound(t *testing.T) {
	req := func(u string) *http.Request {
		r, _ := http.NewRequest(http.MethodGet, u, nil)
		r.Header.Set("Authorization", "Bearer x")
		return r
	}
	via := make([]*http.Request, 10)
	for i := range via {
		via[i] = req("https://hub.example/a")
	}
	if err := stripAuthOnRedirect(nil)(req("https://hub.example/b"), via); err == nil {
		t.Error("an 11th redirect is followed")
	}
	called := 0
	next := func(*http.Request, []*http.Request) error { called++; return nil }
	r := req("https://hub.example:444/b")
	if err := stripAuthOnRedirect(next)(r, via[:1]); err != nil || called != 1 || r.Header.Get("Authorization") != "" {
		t.Errorf("err %v, next called %d times, Authorization %q", err, called, r.Header.Get("Authorization"))
	}
}
