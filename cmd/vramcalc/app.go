package main

import (
	"context"
	"fmt"

	"github.com/urfave/cli/v3"

	"github.com/vramcalc/vramcalc/hfmeta/catalog"
	"github.com/vramcalc/vramcalc/internal/calccmd"
	"github.com/vramcalc/vramcalc/internal/cmdutil"
)

const rootDescription = `vramcalc answers, before you launch text-generation-inference (TGI), vLLM or SGLang:
with this model on these GPUs, which limits start and keep serving, how much KV cache and
concurrency you get, and which GPUs to rent. It reads a model's config.json and safetensors
headers (never the weights) and follows each engine's own startup sizing for the release
you run.

Models come from a local directory, your Hugging Face cache (HF_HOME, HF_HUB_CACHE), the
built-in catalog (vramcalc models) or the Hub (HF_ENDPOINT, HF_TOKEN; HF_HUB_OFFLINE=1
stays offline).

Exit codes: 0 done, 1 error, 2 bad usage, 3 estimate --check found limits that do not
start, 130 interrupted.`

func newApp(e cmdutil.Env) *cli.Command {
	root := &cli.Command{
		Name:                  "vramcalc",
		Usage:                 "GPU memory and launch limits for serving LLMs with TGI, vLLM and SGLang, before you launch",
		Description:           rootDescription,
		Version:               versionText(),
		EnableShellCompletion: false,
		Commands: []*cli.Command{
			cmdutil.Deferred("estimate", "per-GPU memory and the limits that start, for MODEL on your GPUs", func() *cli.Command { return calccmd.Estimate(e) }),
			cmdutil.Deferred("plan", "which GPU SKUs and counts serve MODEL at a context and concurrency, cheapest first", func() *cli.Command { return calccmd.Plan(e) }),
			cmdutil.Deferred("models", "list the built-in model catalog (works offline)", func() *cli.Command { return calccmd.Models(e) }),
			cmdutil.Deferred("gpus", "list the GPU catalog: names for --gpu and the memory the CUDA runtime reports", func() *cli.Command { return calccmd.GPUs(e) }),
			cmdutil.Deferred("accuracy", "score the estimate against engines' real startup figures (a startup-report CSV)", func() *cli.Command { return accuracyCommand(e) }),
			versionCommand(e),
			cmdutil.Companion("validate", "pin the real boundary with a few engine containers at the predicted edge (vramcalc-validate)", e),
			cmdutil.Companion("calibrate", "fit the estimate's corrections to observed KV budgets (vramcalc-calibrate)", e),
			cmdutil.Companion("load", "memory, latency and throughput of a running vLLM, SGLang or TGI server under load, against the estimate (vramcalc-load)", e),
			cmdutil.Companion("plot", "draw the feasible input/output region or the memory breakdown (vramcalc-plot)", e),
			cmdutil.Companion("serve", "serve the calculator as a page and a JSON API on this machine (vramcalc-serve)", e),
		},
	}
	return cmdutil.Prepare(root, e)
}

// versionText is the module version and the date of the embedded catalog.
func versionText() string {
	return fmt.Sprintf("%s (model catalog of %s)", cmdutil.Version(), catalog.Date)
}

func versionCommand(e cmdutil.Env) *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print vramcalc's version and the date of its model catalog",
		Action: func(context.Context, *cli.Command) error {
			_, err := fmt.Fprintf(e.Stdout, "vramcalc %s\n", versionText())
			return err
		},
	}
}
