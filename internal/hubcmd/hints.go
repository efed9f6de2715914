package hubcmd

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"

	"github.com/vramcalc/vramcalc/hfmeta/hub"
	"github.com/vramcalc/vramcalc/internal/cmdutil"
)

// withHint gives an error of hub.Client.Fetch for r the hint its cause
// calls for; cmdutil.Hint has those of the other sentinels (gated, the
// safetensors header ones, oversize files).
func withHint(err error, r cmdutil.HubRequest) error {
	var he *hub.HTTPError
	if !errors.As(err, &he) {
		he = &hub.HTTPError{}
	}
	var oe *net.OpError
	var de *net.DNSError
	switch {
	case he.Status == http.StatusTooManyRequests:
		h := "the Hub is limiting this machine's requests: wait a few minutes and try again"
		if r.Token == "" {
			h += "; requests with a token (HF_TOKEN) are allowed more"
		}
		return cmdutil.WithHint(err, h)
	case he.Status == http.StatusRequestTimeout || he.Status >= 500:
		return cmdutil.WithHint(err, "the Hub ("+r.Endpoint+") failed to answer: try again later; --offline reads a local directory, the HF cache or the built-in catalog")
	case he.Status == http.StatusNotFound:
		h := fmt.Sprintf("the Hub has no repo %s with that file at revision %q: check the id and --revision", r.Repo, r.Revision)
		if r.Token == "" {
			h += "; a private repo needs HF_TOKEN set to a token with read access"
		} else {
			h += "; if the repo is private, the token given may have no access to it"
		}
		return cmdutil.WithHint(err, h)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return cmdutil.WithHint(err, "the connection closed before the Hub's answer was complete: try again; if it keeps happening, check the network or proxy (HTTPS_PROXY)")
	case errors.As(err, &oe), errors.As(err, &de):
		return cmdutil.WithHint(err, "the Hub at "+r.Endpoint+" cannot be reached: check the network, HF_ENDPOINT and any proxy (HTTPS_PROXY), or pass --offline to use the HF cache and the built-in catalog")
	case errors.Is(err, hub.ErrTooManyShards):
		return cmdutil.WithHint(err, "no real checkpoint has that many shards (DeepSeek-V3 has 163): check the repo; a local directory holding its config.json alone gives an estimate from the architecture")
	}
	return err
}
