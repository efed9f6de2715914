#!/bin/sh
# build-image.sh [TAG]: build the vllmsim image (default vramcalc/vllmsim:dev) with
# internal/simkit/build-image.sh.
here=$(dirname "$0")
exec sh "$here/../../internal/simkit/build-image.sh" "$here" vllm "${1:-vramcalc/vllmsim:dev}"
