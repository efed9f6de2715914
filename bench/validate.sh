#!/usr/bin/env bash
# Launches to a confirmed recommendation, and whether it keeps starting, for
# vramcalc validate's search, a plain 1-D bisection and the profilers' 4×4
# grid, over 36 deployments whose truth only the TGI simulator knows
# (cmd/tgisim TestRecommendationOnHiddenTruths: 7 models, 5 GPUs, TP 1–4,
# hidden overhead 0–4 GiB, activation factor 0.5–2.5, wiggle 0.85–0.95,
# per-launch per-GPU jitter 0–200 MB; each recommendation is then launched
# 20 more times on fresh jitter). The launches run the simulated launcher in
# process, so the script takes seconds.
#
#   bench/validate.sh          # the summary lines
#   bench/validate.sh -v       # and one line per deployment
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(go test ./cmd/tgisim -run '^TestRecommendationOnHiddenTruths$' -count=1 -v)
if [ "${1:-}" = "-v" ]; then
	printf '%s\n' "$out" | grep ' safe '
fi
printf '%s\n' "$out" | grep -E 'deployments:|saw spread|launches median|launches, median|^(ok|FAIL|---)' | sed 's/^ *recommend_test.go:[0-9]*: //'

# vLLM: 30 deployments whose truth only the vLLM simulator knows (cmd/vllmsim
# TestRecommendationOnVLLMTruths: 5 models, 5 GPUs, TP 1–4, utilization
# 0.5–0.95, hidden non-torch memory 0–2 GiB, activation ×0.8–1.8, jitter
# 0–200 MB; each recommendation launched 20 more times), against plain
# bisection on --max-model-len and vLLM's own estimated maximum confirmed.
out=$(go test ./cmd/vllmsim -run '^TestRecommendationOnVLLMTruths$' -count=1 -v)
if [ "${1:-}" = "-v" ]; then
	printf '%s\n' "$out" | grep ' fresh; bisection '
fi
printf '%s\n' "$out" | grep -E 'deployments:|^(ok|FAIL|---)' | sed 's/^ *recommend_test.go:[0-9]*: //'
