package loadcmd

import (
	"fmt"

	"github.com/urfave/cli/v3"

	"github.com/vramcalc/vramcalc/estimate"
	"github.com/vramcalc/vramcalc/gpus"
	"github.com/vramcalc/vramcalc/internal/cmdutil"
	"github.com/vramcalc/vramcalc/load"
	"github.com/vramcalc/vramcalc/plan"
)

// setPrice fills cfg's price and its source: --price, else the price
// --prices FILE (vramcalc plan's file, read by plan.ReadPrices) gives the
// GPU (hw: --gpu, else the sampler's device) times the GPU count, else
// none. vramcalc plan has no built-in prices, so there is no price
// without either flag. A file without the GPU is a warning and no cost
// figure; a file that cannot be read is an error.
func setPrice(c *cli.Command, cfg *load.Config, hw estimate.Hardware, hwErr error) ([]string, error) {
	path := c.String("prices")
	switch {
	case c.IsSet("price") && path != "":
		return nil, cmdutil.Usage("--price 2.40 for the whole set-up, or --prices prices.csv to look up the GPU", "--price and --prices both given: pick one")
	case c.Float("price") < 0:
		return nil, cmdutil.Usage("e.g. --price 2.40 (USD per hour of the whole set-up)", "--price %g is negative", c.Float("price"))
	case path == "":
		cfg.USDPerHour, cfg.PriceSource = c.Float("price"), load.PriceFlag
		return nil, nil
	}
	prices, err := plan.ReadPrices(path)
	if err != nil {
		return nil, cmdutil.WithHint(err, `--prices takes vramcalc plan's file: a CSV with lines "h100-sxm,2.49" or JSON {"h100-sxm": 2.49}; names as in vramcalc gpus`)
	}
	if hwErr != nil || hw.GPU.Name == "" {
		return []string{fmt.Sprintf("--prices %s: the GPU is not known (pass --gpu): no cost figures", path)}, nil
	}
	sku, err := gpus.Lookup(hw.GPU.Name)
	if err != nil {
		return []string{fmt.Sprintf("--prices %s: %s is not in the GPU catalog (%v): no cost figures", path, hw.GPU.Name, err)}, nil
	}
	p, ok := prices[sku.Key]
	if !ok {
		return []string{fmt.Sprintf("--prices %s has no price for %s: no cost figures", path, sku.Key)}, nil
	}
	n := max(1, hw.Count)
	cfg.USDPerHour, cfg.PriceSource = p*float64(n), load.PriceFile
	cfg.PriceDetail = fmt.Sprintf("%s: %s at %.4g USD/h × %d", path, sku.Key, p, n)
	return nil, nil
}
