package repocheck

import (
	"regexp"
	"strings"
)

// MachinePath is one absolute path of a machine found in a text.
type MachinePath struct {
	// Line is the 1-based line number.
	Line int
	// Path is the path as written, up to the first space, quote, closing
	// bracket or separator (",", ":", ";", "|").
	Path string
}

// machinePath matches the prefixes after a boundary (the start of a line,
// a space, a quote, a bracket, "=", ",", ":", ";", ">" or "|"), so that a
// relative path ("x/tmp/y"), a URL path ("https://host/work/x") or a home
// shorthand ("~/work/x") is not one. Container paths the product uses
// (/data, /dev/shm, /proc, HTTP paths such as /sim/gpus) have other
// prefixes and are not matched. The prefixes are spelled without their
// slashes here so that this file does not match itself.
var machinePath = regexp.MustCompile(`(?:^|[\s"'` + "`" + `(\[{<=,:;>|])(` +
	`/(?:work|root|tmp)/` +
	`|/(?:home|Users)/[A-Za-z0-9._-]+/` +
	`|[A-Za-z]:(?:\\\\|\\|/)Users(?:\\\\|\\|/)` +
	`)[^\s"'` + "`" + `)\]}>,:;|]*`)

// MachinePaths returns every absolute path of a machine in text, in order.
func MachinePaths(text string) []MachinePath {
	var out []MachinePath
	for i, line := range strings.Split(text, "\n") {
		for _, m := range machinePath.FindAllStringSubmatchIndex(line, -1) {
			// m[2] is where the path starts, after the boundary; m[1] its end.
			out = append(out, MachinePath{Line: i + 1, Path: line[m[2]:m[1]]})
		}
	}
	return out
}
