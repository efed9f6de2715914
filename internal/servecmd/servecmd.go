// Package servecmd is `vramcalc serve` (the program vramcalc-serve): the
// calculator as one page and a JSON API over HTTP. Every API answer is
// what the CLI prints with -o json for the same inputs, because the
// handlers run the CLI's own commands (internal/calccmd) in-process with
// an argv built from the query string; the page only draws those answers.
package servecmd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/vramcalc/vramcalc/calibrate"
	"github.com/vramcalc/vramcalc/internal/cmdutil"
	"github.com/vramcalc/vramcalc/plan"
)

const description = `Serves the calculator as one page (GET /) and a JSON API whose answers are byte for byte
what the CLI prints with -o json for the same inputs:

  GET /api/estimate?model=meta-llama/Llama-3.1-8B-Instruct&gpu=L4&engine=vllm&max-model-len=8192
  GET /api/plan?model=Qwen/Qwen3-32B&context=16384&concurrency=8&gpu=H100,L40S
  GET /api/models?q=llama      GET /api/gpus

Query parameters are the CLI's flags without the dashes (repeat one, or give commas, where
the CLI takes several); model is the MODEL argument. Bad input is HTTP 400 with
{"error": ..., "hint": ...}. The page and its script are embedded: nothing is fetched from
anywhere but this server.

It listens on loopback only unless --allow-remote is given (then anyone who reaches the
port may run estimates; put it behind your own authentication). The Hugging Face token
(HF_TOKEN, the token file) is used by the server to read gated models and never sent to
the page. A local model directory is read only under --models-dir; --corrections and
--prices files are the server's, never a request's (a request prices GPUs with
price=h100-sxm=2.49,l4=0.80, as plan --price).

--export DIR writes the page to run with no server at all (open DIR/index.html, from disk
or any static host): the same API code built for WebAssembly answers in the browser from
the embedded model and GPU catalogs, offline. The program must have been built after
go generate ./internal/servecmd, which builds that engine:

  vramcalc serve --export site/`

// Options are vramcalc-serve's settings, from its flags.
type Options struct {
	Addr        string
	AllowRemote bool
	ModelsDir   string
	Offline     bool
	// Corrections is the calibrate file applied to estimates of its engine.
	Corrections string
	// Prices is the price file the plan view's requests use.
	Prices string
	// Static is the page's engine in the browser (cmd/vramcalc-wasm): no
	// server, no files, the embedded catalogs only.
	Static bool
	// correctionsEngine is the engine Corrections were fitted for.
	correctionsEngine string
}

// Root is the vramcalc-serve program.
func Root(e cmdutil.Env) *cli.Command {
	c := &cli.Command{
		Name:        "vramcalc serve",
		Usage:       "serve the calculator as a page and a JSON API (vramcalc-serve)",
		Description: description,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "addr", Value: "127.0.0.1:8080", Usage: "listen on `HOST:PORT`"},
			&cli.BoolFlag{Name: "allow-remote", Usage: "allow an --addr that is not loopback (the API has no authentication)"},
			&cli.StringFlag{Name: "models-dir", Usage: "serve local model directories under `DIR` (model=DIR/NAME or a path relative to it)"},
			&cli.BoolFlag{Name: "offline", Usage: "never use the network for models (same as HF_HUB_OFFLINE=1)"},
			&cli.StringFlag{Name: "corrections", Usage: "apply fitted corrections from `FILE` (vramcalc calibrate --out) to estimates for their engine"},
			&cli.StringFlag{Name: "prices", Usage: "`FILE` of hourly prices per GPU (CSV gpu,price or JSON) for the plan view, as vramcalc plan --prices"},
			&cli.StringFlag{Name: "export", Usage: "write the page into `DIR` to run with no server (its engine in WebAssembly, the embedded catalogs) and exit"},
		},
		Action: func(ctx context.Context, c *cli.Command) error {
			if c.NArg() != 0 {
				return cmdutil.Usage("vramcalc serve --addr 127.0.0.1:8080", "serve takes no arguments, got %d", c.NArg())
			}
			o := Options{Addr: c.String("addr"), AllowRemote: c.Bool("allow-remote"), ModelsDir: c.String("models-dir"),
				Offline: c.Bool("offline"), Corrections: c.String("corrections"), Prices: c.String("prices")}
			if dir := c.String("export"); dir != "" {
				return runExport(c, dir, e)
			}
			return Serve(ctx, o, e)
		},
	}
	return cmdutil.Prepare(c, e)
}

// Serve checks o, listens on o.Addr and serves until ctx is done.
func Serve(ctx context.Context, o Options, e cmdutil.Env) error {
	h, err := NewHandler(o, e)
	if err != nil {
		return err
	}
	if err := checkAddr(o.Addr, o.AllowRemote); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return cmdutil.WithHint(fmt.Errorf("serve: listen on %s: %w", o.Addr, err), "pick another port with --addr 127.0.0.1:PORT")
	}
	srv := newServer(h)
	fmt.Fprintf(e.Stdout, "vramcalc serve: http://%s/\n", ln.Addr())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("serve: shut down: %w", err)
	}
	return context.Cause(ctx)
}

// Limits of one request and connection: a page's queries are a few hundred
// bytes; an estimate that reads a model from the Hub may take up to
// cmdutil.DefaultTimeout, so the write deadline leaves room for it.
const (
	maxHeaderBytes    = 16 << 10
	maxQueryBytes     = 4 << 10
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 10 * time.Second
	writeTimeout      = cmdutil.DefaultTimeout + 30*time.Second
	idleTimeout       = 60 * time.Second
)

func newServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
	}
}

// checkAddr refuses an address that is not loopback unless remote is
// allowed: the API has no authentication and runs on the server's token.
func checkAddr(addr string, remote bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return cmdutil.Usage("give --addr as HOST:PORT, e.g. 127.0.0.1:8080", "--addr %q: %v", addr, err)
	}
	if remote || host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return cmdutil.Usage("add --allow-remote to listen beyond this machine (the API has no authentication: put it behind your own), or use --addr 127.0.0.1:PORT",
		"--addr %s is not a loopback address", addr)
}

// loadOptions checks the files and directories o names, once at start.
func loadOptions(o *Options) error {
	var err error
	if o.ModelsDir != "" {
		dir, err := filepath.Abs(o.ModelsDir)
		if err == nil {
			dir, err = filepath.EvalSymlinks(dir)
		}
		if fi, serr := os.Stat(dir); err == nil && (serr != nil || !fi.IsDir()) {
			err = errors.New("not a directory")
		}
		if err != nil {
			return cmdutil.WithHint(fmt.Errorf("serve: --models-dir %s: %w", o.ModelsDir, err), "give a directory holding model directories (config.json and *.safetensors)")
		}
		o.ModelsDir = dir
	}
	if o.Prices != "" {
		if _, err := plan.ReadPrices(o.Prices); err != nil {
			return cmdutil.WithHint(fmt.Errorf("serve: --prices: %w", err), `a CSV with lines "h100-sxm,2.49" or JSON {"h100-sxm": 2.49}; names as in vramcalc gpus`)
		}
		if o.Prices, err = filepath.Abs(o.Prices); err != nil {
			return fmt.Errorf("serve: --prices: %w", err)
		}
	}
	if o.Corrections == "" {
		return nil
	}
	f, err := os.Open(o.Corrections)
	if err != nil {
		return cmdutil.WithHint(fmt.Errorf("serve: --corrections: %w", err), "write one with vramcalc calibrate FILE… --out corrections.json")
	}
	defer f.Close()
	file, err := calibrate.ReadFile(f)
	if err != nil {
		return cmdutil.WithHint(fmt.Errorf("serve: --corrections %s: %w", filepath.Base(o.Corrections), err), "write it again with vramcalc calibrate")
	}
	if o.Corrections, err = filepath.Abs(o.Corrections); err != nil {
		return fmt.Errorf("serve: --corrections: %w", err)
	}
	o.correctionsEngine = file.Engine
	return nil
}

// runExport is --export DIR. The page is always offline, so --offline is
// allowed; the server's files and address are refused.
func runExport(c *cli.Command, dir string, e cmdutil.Env) error {
	for _, f := range []string{"models-dir", "corrections", "prices", "allow-remote", "addr"} {
		if c.IsSet(f) {
			return cmdutil.Usage("the exported page reads no files and has no server: give --"+f+" to vramcalc serve, or export without it",
				"--export does not take --%s", f)
		}
	}
	n, err := Export(dir, Built())
	if err != nil {
		return err
	}
	fmt.Fprintf(e.Stdout, "wrote %s (%s MB): open %s in a browser; it needs no server and reaches nothing\n",
		dir, strconv.FormatFloat(float64(n)/1e6, 'f', 1, 64), filepath.Join(dir, exportPage))
	return nil
}
