// Package hubcmd is the program vramcalc-hub: it reads one model's
// config.json and safetensors headers from the Hugging Face Hub (package
// hfmeta/hub) and prints the hfmeta.Meta as JSON. vramcalc runs it as a
// child (cmdutil.HubCompanion) for a model that is in no local directory,
// cache or catalog, so that vramcalc itself links no net/http, crypto/tls
// or cgo. Programs that link net/http anyway read the Hub in-process with
// InProcess, and so do tests.
package hubcmd

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/urfave/cli/v3"

	"github.com/vramcalc/vramcalc/hfmeta"
	"github.com/vramcalc/vramcalc/hfmeta/hub"
	"github.com/vramcalc/vramcalc/internal/cmdutil"
)

const description = `Reads REPO's config.json and the headers of its safetensors files (never the weights)
from the Hugging Face Hub at HF_ENDPOINT (default https://huggingface.co), with HF_TOKEN or the
token file huggingface-cli login writes, and prints what vramcalc needs to know as JSON
(hfmeta.Meta). vramcalc runs it for a model that is in no local directory, Hugging Face
cache or the built-in catalog.

It gives up after --timeout (default 2m), every request and retry included; it retries
a request after 408, 429 and 5xx answers up to 5 times (a Retry-After of up to 30s is
honoured), reads the headers of at most 1024 shards, and sends the token to the endpoint's
origin only, never after a redirect to another scheme, host or port.

Exit codes: 0 done (the JSON is on stdout), 1 error, 2 bad usage, 4 not found on the Hub,
5 gated or private, 130 interrupted.`

// Root is the program vramcalc-hub.
func Root(e cmdutil.Env) *cli.Command {
	return cmdutil.Prepare(&cli.Command{
		Name:        cmdutil.HubProgram,
		Usage:       "read a model's config and safetensors headers from the Hugging Face Hub, as JSON",
		ArgsUsage:   "REPO",
		Description: description,
		Flags:       cmdutil.ModelFlags(),
		Action: func(ctx context.Context, c *cli.Command) error {
			if c.NArg() != 1 {
				return cmdutil.Usage("run `vramcalc-hub --help` for usage", "want one repo id (org/name), got %d arguments", c.NArg())
			}
			r := cmdutil.HubRequestFrom(c, e)
			r.Repo = c.Args().First()
			var m hfmeta.Meta
			var err error
			if c.Bool("offline") || hfmeta.OfflineFromEnv(e.Getenv) {
				_, err = (&hub.Client{Offline: true}).Fetch(ctx, r.Repo)
			} else {
				m, err = Fetch(ctx, r)
			}
			switch {
			case errors.Is(err, hfmeta.ErrGated):
				return cmdutil.WithExitCode(err, cmdutil.ExitGated)
			case errors.Is(err, hfmeta.ErrNotFound):
				return cmdutil.WithExitCode(err, cmdutil.ExitNotFound)
			case err != nil:
				return err
			}
			return json.NewEncoder(e.Stdout).Encode(m)
		},
	}, e)
}

// client is the Hub client for r. Its requests have no timeout of their
// own: Fetch's deadline bounds them all.
func client(r cmdutil.HubRequest) *hub.Client {
	return &hub.Client{
		Endpoint: r.Endpoint,
		Token:    r.Token,
		HTTP:     &http.Client{},
		Revision: r.Revision,
	}
}

// Fetch reads r.Repo from the Hub in this process, as vramcalc-hub does:
// cmdutil.Env's Hub for programs that link net/http anyway and for tests.
// r.Timeout (cmdutil.DefaultTimeout when 0) bounds the whole read; its
// errors carry the hint their cause calls for (withHint).
func Fetch(ctx context.Context, r cmdutil.HubRequest) (hfmeta.Meta, error) {
	return fetchWith(ctx, r, client(r))
}

// fetchWith is Fetch with the client given: tests pass one with a fake
// clock.
func fetchWith(ctx context.Context, r cmdutil.HubRequest, hc *hub.Client) (hfmeta.Meta, error) {
	d := r.Timeout
	if d <= 0 {
		d = cmdutil.DefaultTimeout
	}
	dctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	m, err := hc.Fetch(dctx, r.Repo)
	switch {
	case err == nil:
		return m, nil
	case ctx.Err() == nil && errors.Is(dctx.Err(), context.DeadlineExceeded):
		return m, cmdutil.MetadataTimeout(d, err)
	}
	return m, withHint(err, r)
}

// InProcess is a cmdutil.Main option: the program reads the Hub in-process
// (Fetch) instead of running vramcalc-hub.
func InProcess(e *cmdutil.Env) { e.Hub = Fetch }
