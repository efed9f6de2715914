package calccmd

import (
	"context"
	"fmt"

	"github.com/urfave/cli/v3"

	"github.com/vramcalc/vramcalc/gpus"
	"github.com/vramcalc/vramcalc/hfmeta"
	"github.com/vramcalc/vramcalc/hfmeta/catalog"
	"github.com/vramcalc/vramcalc/internal/cmdutil"
)

// modelJSON is one line of `vramcalc models -o json`.
type modelJSON struct {
	ID           string `json:"id"`
	Type         string `json:"model_type"`
	Layers       int    `json:"num_hidden_layers"`
	Hidden       int    `json:"hidden_size"`
	Heads        int    `json:"num_attention_heads"`
	KVHeads      int    `json:"num_key_value_heads"`
	MaxPositions int    `json:"max_position_embeddings"`
	Params       int64  `json:"params,omitempty"`
}

// Models is `vramcalc models`: the built-in model catalog.
func Models(e cmdutil.Env) *cli.Command {
	return &cli.Command{
		Name:  "models",
		Usage: "list the built-in model catalog (works offline)",
		Description: `The catalog holds each model's config.json and a per-tensor dtype/shape summary (no
weights), with where every fact came from; vramcalc estimate uses it when the model is
neither a local directory nor in your Hugging Face cache and the Hub is out of reach.`,
		Flags: []cli.Flag{cmdutil.OutputFlag()},
		Action: func(_ context.Context, c *cli.Command) error {
			format, err := cmdutil.Format(c)
			if err != nil {
				return err
			}
			var list []modelJSON
			t := cmdutil.Rows{Header: []string{"model", "type", "layers", "hidden", "heads/kv", "context", "params"}}
			for _, en := range catalog.All() {
				m, _, err := hfmeta.ParseConfig(en.Config)
				if err != nil {
					return fmt.Errorf("catalog %s: %w", en.ID, err)
				}
				list = append(list, modelJSON{en.ID, m.Type, m.Layers, m.Hidden, m.Heads, m.KVHeadCount(), m.MaxPositions, en.Params})
				params := "?"
				if en.Params > 0 {
					params = fmt.Sprintf("%.2fB", float64(en.Params)/1e9)
				}
				t.Rows = append(t.Rows, []string{en.ID, m.Type, fmt.Sprint(m.Layers), fmt.Sprint(m.Hidden),
					fmt.Sprintf("%d/%d", m.Heads, m.KVHeadCount()), fmt.Sprint(m.MaxPositions), params})
			}
			if format == cmdutil.FormatJSON {
				return cmdutil.JSON(e.Stdout, list)
			}
			return t.Write(e.Stdout, format)
		},
	}
}

// gpuJSON is one line of `vramcalc gpus -o json`.
type gpuJSON struct {
	Key               string  `json:"gpu"`
	Name              string  `json:"name"`
	NominalGB         float64 `json:"sold_as_gb"`
	SMITotalMiB       int     `json:"nvidia_smi_total_mib"`
	TotalBytes        int64   `json:"total_bytes"`
	ComputeCapability int     `json:"compute_capability,omitempty"`
}

// GPUs is `vramcalc gpus`: the GPU catalog.
func GPUs(e cmdutil.Env) *cli.Command {
	return &cli.Command{
		Name:  "gpus",
		Usage: "list the GPU catalog: names for --gpu and the memory the CUDA runtime reports",
		Flags: []cli.Flag{cmdutil.OutputFlag()},
		Action: func(_ context.Context, c *cli.Command) error {
			format, err := cmdutil.Format(c)
			if err != nil {
				return err
			}
			var list []gpuJSON
			t := cmdutil.Rows{Header: []string{"--gpu", "name", "sold as GB", "nvidia-smi MiB", "CUDA total B", "GiB"}}
			for _, s := range gpus.All() {
				list = append(list, gpuJSON{s.Key, s.GPU.Name, s.NominalGB, s.GPU.SMITotalMiB, int64(s.GPU.TotalBytes), s.GPU.ComputeCapability})
				t.Rows = append(t.Rows, []string{s.Key, s.GPU.Name, fmt.Sprintf("%g", s.NominalGB),
					fmt.Sprint(s.GPU.SMITotalMiB), fmt.Sprint(int64(s.GPU.TotalBytes)), cmdutil.GiB(int64(s.GPU.TotalBytes))})
			}
			if format == cmdutil.FormatJSON {
				return cmdutil.JSON(e.Stdout, list)
			}
			return t.Write(e.Stdout, format)
		},
	}
}
