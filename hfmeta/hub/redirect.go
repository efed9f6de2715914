package hub

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
)

// maxRedirects is net/http's own default bound, kept when CheckRedirect
// is replaced.
const maxRedirects = 10

// stripAuthOnRedirect wraps next (nil: net/http's default of at most 10
// redirects) so that once a redirect chain has left the first request's
// origin (scheme, host and port), no further request of it carries the
// Authorization header.
//
// huggingface_hub follows redirects with httpx
// (https://github.com/huggingface/huggingface_hub/blob/v1.28.0/src/huggingface_hub/utils/_http.py#L303-L311),
// which drops Authorization on a redirect to another origin
// (https://github.com/encode/httpx/blob/0.28.1/httpx/_client.py#L546-L556,
// origin as https://github.com/encode/httpx/blob/0.28.1/httpx/_client.py#L77-L91).
// net/http alone keeps it on a change of port or scheme and on a redirect
// to a subdomain (huggingface.co to cdn-lfs.huggingface.co). This is
// stricter than httpx in one case: httpx keeps the token on a plain
// http://host to https://host upgrade, this drops it, as for any change of
// scheme. Go copies the first request's headers to every hop, so each hop
// is compared with the first and with every hop between.
func stripAuthOnRedirect(next func(*http.Request, []*http.Request) error) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		first := via[0].URL
		for _, r := range append(via[1:len(via):len(via)], req) {
			if !sameOrigin(first, r.URL) {
				req.Header.Del("Authorization")
				break
			}
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= maxRedirects {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
}

// sameOrigin reports whether a and b have the same scheme, host and port
// (80 and 443 when the URL gives none).
func sameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Hostname(), b.Hostname()) && port(a) == port(b)
}

func port(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	switch strings.ToLower(u.Scheme) {
	case "http":
		return "80"
	case "https":
		return "443"
	}
	return ""
}
