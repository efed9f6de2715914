package simkit

import (
	"fmt"
	"strconv"
	"strings"
)

// The engines are Python programs (TGI's shards, vLLM, SGLang): their log
// lines print values with Python's str and repr.

// PyBool is Python's str of a bool.
func PyBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

// PyFloat is Python's repr of a float as far as the simulators print one:
// a ".0" after a whole number, Go's %v otherwise.
func PyFloat(f float64) string {
	s := fmt.Sprintf("%v", f)
	if strings.ContainsAny(s, ".e") {
		return s
	}
	return s + ".0"
}

// PyInts is Python's str of a list of ints: "[1, 2, 4]".
func PyInts(xs []int) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = strconv.Itoa(x)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}
