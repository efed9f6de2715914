package cmdutil

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v3"

	"github.com/vramcalc/vramcalc/estimate"
)

// Output formats of the commands that print rows.
const (
	FormatTable    = "table"
	FormatJSON     = "json"
	FormatCSV      = "csv"
	FormatMarkdown = "markdown"
)

// OutputFlag is -o/--output, table by default.
func OutputFlag() cli.Flag {
	return &cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: FormatTable, Usage: "`FORMAT`: table, json, csv or markdown"}
}

// Format reads -o: table, json, csv, markdown (md).
func Format(c *cli.Command) (string, error) {
	switch f := strings.ToLower(c.String("output")); f {
	case FormatTable, FormatJSON, FormatCSV, FormatMarkdown:
		return f, nil
	case "md":
		return FormatMarkdown, nil
	default:
		return "", Usage("use -o table, json, csv or markdown", "unknown output format %q", f)
	}
}

// JSON writes v indented, as every command's -o json does.
func JSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// Rows are a table's header and rows.
type Rows struct {
	Header []string
	Rows   [][]string
}

// Write prints r as a box table, a markdown table (with | escaped) or CSV.
func (r Rows) Write(w io.Writer, format string) error {
	switch format {
	case FormatCSV:
		cw := csv.NewWriter(w)
		if err := cw.Write(r.Header); err != nil {
			return err
		}
		if err := cw.WriteAll(r.Rows); err != nil {
			return err
		}
		return cw.Error()
	case FormatMarkdown:
		return Table(w, true, r.Header, r.Rows)
	}
	return Table(w, false, r.Header, r.Rows)
}

// Table renders rows under a header: aligned columns as docker and kubectl
// print them (text/tabwriter), or a GitHub markdown table with | escaped in
// cells so that a value cannot break it.
func Table(w io.Writer, markdown bool, header []string, rows [][]string) error {
	if markdown {
		return markdownTable(w, header, rows)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, r := range append([][]string{header}, rows...) {
		if _, err := fmt.Fprintln(tw, strings.Join(cellsOf(r, strings.NewReplacer("\t", " ", "\n", " ").Replace), "\t")); err != nil {
			return err
		}
	}
	return tw.Flush()
}

func markdownTable(w io.Writer, header []string, rows [][]string) error {
	esc := strings.NewReplacer("|", `\|`, "\n", " ").Replace
	line := func(cells []string) string { return "| " + strings.Join(cellsOf(cells, esc), " | ") + " |" }
	sep := make([]string, len(header))
	for i := range sep {
		sep[i] = "---"
	}
	var b strings.Builder
	b.WriteString(line(header) + "\n" + "|" + strings.Join(sep, "|") + "|\n")
	for _, r := range rows {
		b.WriteString(line(r) + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func cellsOf(s []string, f func(string) string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = f(v)
	}
	return out
}

// GiB prints bytes in GiB with two decimals.
func GiB(b int64) string { return fmt.Sprintf("%.2f", float64(b)/float64(estimate.GiB)) }

// Num prints n with thousands separators (22,710).
func Num(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}

// NonNil is s, or an empty slice so that JSON prints [] rather than null.
func NonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
