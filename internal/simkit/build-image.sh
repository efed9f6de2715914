#!/bin/sh
# build-image.sh DIR BINARY TAG: build a simulator's image from the Go
# command in DIR (cmd/tgisim, cmd/vllmsim, cmd/sglangsim), as a static
# binary named BINARY next to DIR's Dockerfile, tagged TAG; each
# cmd/*/build-image.sh calls it with its own. It needs a Docker Engine but
# no registry: the images are FROM scratch.
set -eu

[ $# -eq 3 ] || { echo "usage: $0 DIR BINARY TAG" >&2; exit 2; }
dir=$(cd "$1" && pwd)
bin=$2
tag=$3
ctx=$(mktemp -d "${TMPDIR:-/tmp}/$(basename "$dir")-image.XXXXXX")
trap 'rm -rf "$ctx"' EXIT INT TERM

(cd "$dir" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$ctx/$bin" .)
cp "$dir/Dockerfile" "$ctx/Dockerfile"
# The legacy builder needs no BuildKit/buildx plugin and never pulls for
# FROM scratch. No cache: two builds of the same binary would share cached
# layers, and removing one tag could then delete a layer the other build
# is reusing (test suites running side by side on one engine).
if ! out=$(DOCKER_BUILDKIT=0 docker build --no-cache --quiet -t "$tag" "$ctx" 2>&1); then
	echo "$out" >&2
	exit 1
fi
echo "$tag"
