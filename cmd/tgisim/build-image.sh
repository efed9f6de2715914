#!/bin/sh
# build-image.sh [TAG]: build the tgisim image (default vramcalc/tgisim:dev) with
# internal/simkit/build-image.sh.
here=$(dirname "$0")
exec sh "$here/../../internal/simkit/build-image.sh" "$here" text-generation-launcher "${1:-vramcalc/tgisim:dev}"
