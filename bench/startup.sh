#!/usr/bin/env bash
# Whole-process start-up of vramcalc against a Go hello world, as the
# issue measures it: `vramcalc estimate <catalog model> --gpu L4 -o json`
# must take at most 2.5× a hello-world process.
#
#   bench/startup.sh [N]      # N runs of each, alternately (default 200)
#
# Builds both with the default `go build` (CGO_ENABLED unset), runs them
# alternately from a small Go timer (fork, exec and wait, timed with the
# monotonic clock; both outputs go to /dev/null), with HF_HUB_OFFLINE=1 and
# an empty HF_HOME, and prints the medians and their ratio. Then one run of
# each with GODEBUG=inittrace=1: how many package inits ran and their
# total clock time, bytes and allocations.
set -euo pipefail
cd "$(dirname "$0")/.."

n=${1:-200}
case $n in '' | *[!0-9]*) echo "usage: bench/startup.sh [N]" >&2; exit 2 ;; esac
unset CGO_ENABLED
model=meta-llama/Llama-3.1-8B-Instruct

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

mkdir -p "$tmp/hello" "$tmp/timer" "$tmp/hf"
cat >"$tmp/hello/main.go" <<'EOF'
package main

import "fmt"

func main() { fmt.Println("hello, world") }
EOF
cat >"$tmp/timer/main.go" <<'EOF'
// timer N A B [args of B...]: runs A and B alternately N times each and
// prints the median, the fastest and the 90th percentile of each, in ms,
// and the ratio of the medians.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"time"
)

func main() {
	n, err := strconv.Atoi(os.Args[1])
	if err != nil || n < 1 {
		fmt.Fprintln(os.Stderr, "timer: bad N")
		os.Exit(2)
	}
	a, b := os.Args[2:3], os.Args[3:]
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		panic(err)
	}
	run := func(argv []string) time.Duration {
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Stdout, cmd.Stderr = null, null
		start := time.Now()
		err := cmd.Run()
		d := time.Since(start)
		if err != nil {
			fmt.Fprintf(os.Stderr, "timer: %s: %v\n", argv[0], err)
			os.Exit(1)
		}
		return d
	}
	run(a) // warm the page cache
	run(b)
	ta, tb := make([]time.Duration, n), make([]time.Duration, n)
	for i := range n {
		ta[i], tb[i] = run(a), run(b)
	}
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	show := func(name string, ts []time.Duration) time.Duration {
		slices.Sort(ts)
		med := ts[len(ts)/2]
		fmt.Printf("%-10s median %6.3f ms  fastest %6.3f ms  p90 %6.3f ms  (%d runs)\n",
			name, ms(med), ms(ts[0]), ms(ts[len(ts)*9/10]), len(ts))
		return med
	}
	ma, mb := show("hello", ta), show("vramcalc", tb)
	fmt.Printf("ratio      %.2f× hello world (the issue's bound: 2.5×)\n", float64(mb)/float64(ma))
}
EOF

echo "go build (default settings): hello world, vramcalc, timer"
(cd "$tmp/hello" && go mod init hello >/dev/null 2>&1 && go build -o "$tmp/hello-bin" .)
(cd "$tmp/timer" && go mod init timer >/dev/null 2>&1 && go build -o "$tmp/timer-bin" .)
go build -o "$tmp/vramcalc" ./cmd/vramcalc

export HF_HUB_OFFLINE=1 HF_HOME="$tmp/hf"
args=(estimate "$model" --gpu L4 -o json)
"$tmp/vramcalc" "${args[@]}" >"$tmp/out.json"
grep -q '"fits"' "$tmp/out.json" || { echo "vramcalc ${args[*]} printed no report" >&2; exit 1; }

for b in hello-bin vramcalc; do
	link=static
	if ldd "$tmp/$b" >/dev/null 2>&1; then link=dynamic; fi
	printf '%-10s %8d bytes, %s executable\n' "${b%-bin}" "$(wc -c <"$tmp/$b")" "$link"
done
echo "vramcalc ${args[*]} (HF_HUB_OFFLINE=1), $n runs each, alternately:"
"$tmp/timer-bin" "$n" "$tmp/hello-bin" "$tmp/vramcalc" "${args[@]}"

# inittrace lines: "init PKG @T ms, C ms clock, B bytes, A allocs".
inits() {
	GODEBUG=inittrace=1 "$@" 2>&1 >/dev/null | awk '
		$1 == "init" { n++; ms += $5; bytes += $8; allocs += $10 }
		END { printf "%3d inits, %.3f ms clock, %d bytes, %d allocs\n", n, ms, bytes, allocs }'
}
echo "GODEBUG=inittrace=1, one run each:"
printf '%-10s %s\n' hello "$(inits "$tmp/hello-bin")"
printf '%-10s %s\n' vramcalc "$(inits "$tmp/vramcalc" "${args[@]}")"
