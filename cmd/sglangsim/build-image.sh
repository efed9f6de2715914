#!/bin/sh
# build-image.sh [TAG]: build the sglangsim image (default vramcalc/sglangsim:dev) with
# internal/simkit/build-image.sh.
here=$(dirname "$0")
exec sh "$here/../../internal/simkit/build-image.sh" "$here" python3 "${1:-vramcalc/sglangsim:dev}"
