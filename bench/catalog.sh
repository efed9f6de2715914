#!/usr/bin/env bash
# estimate.Run calls per second on one core for every catalog model and
# engine (BenchmarkRunCatalog: each model on the fewest H200s of 1, 2, 4, 8
# that the engine accepts with the weights at most 60% of a card, else the
# most it accepts; DeepSeek-V3/R1 on 8), as a markdown table for the README.
#
#   bench/catalog.sh [COUNT] [BENCHTIME]   # defaults 3 and 0.3s
#
# Each figure is the median of COUNT runs of `go test -bench -cpu 1`.
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-3}
benchtime=${2:-0.3s}
case $count in '' | *[!0-9]*) echo "usage: bench/catalog.sh [COUNT] [BENCHTIME]" >&2; exit 2 ;; esac

go test -run '^$' -bench '^BenchmarkRunCatalog$' -cpu 1 -count "$count" -benchtime "$benchtime" ./estimate |
	awk -v count="$count" '
	$1 ~ /^BenchmarkRunCatalog\// && $4 == "ns/op" {
		name = substr($1, length("BenchmarkRunCatalog/") + 1)
		engine = substr(name, 1, index(name, "/") - 1)
		model = substr(name, index(name, "/") + 1)
		key = engine SUBSEP model
		n[key]++
		ns[key, n[key]] = $3
		models[model] = 1
		engines[engine] = 1
	}
	function commas(x,    s) {
		s = sprintf("%d", x)
		while (s ~ /[0-9][0-9][0-9][0-9]/) sub(/[0-9][0-9][0-9]($|,)/, ",&", s)
		return s
	}
	function median(key,    i, j, t, a, k) {
		k = n[key]
		for (i = 1; i <= k; i++) a[i] = ns[key, i]
		for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
		return a[int((k + 1) / 2)]
	}
	END {
		split("tgi vllm sglang", order, " ")
		printf "| model | TGI calls/s | vLLM calls/s | SGLang calls/s |\n|---|---|---|---|\n"
		m = 0
		for (model in models) list[++m] = model
		for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (tolower(list[j]) < tolower(list[i])) { t = list[i]; list[i] = list[j]; list[j] = t }
		for (i = 1; i <= m; i++) {
			line = "| " list[i]
			for (e = 1; e <= 3; e++) {
				key = order[e] SUBSEP list[i]
				if (!(key in n)) { line = line " | –"; continue }
				rate = 1e9 / median(key)
				line = line " | " commas(rate)
				if (!(order[e] in worst) || rate < worst[order[e]]) { worst[order[e]] = rate; worstModel[order[e]] = list[i] }
			}
			print line " |"
		}
		printf "\nslowest:"
		for (e = 1; e <= 3; e++) printf " %s %s/s (%s);", order[e], commas(worst[order[e]]), worstModel[order[e]]
		printf " median of %d runs each\n", count
	}'
