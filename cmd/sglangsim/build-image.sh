#!/bin/sh
# build-image.sh [TAG]: build the sglangsim image (default vramcalc/sglangsim:dev)
# from a static binary. It needs a Docker Engine but no registry: the image
# is FROM scratch.
set -eu

tag=${1:-vramcalc/sglangsim:dev}
here=$(cd "$(dirname "$0")" && pwd)
ctx=$(mktemp -d "${TMPDIR:-/tmp}/sglangsim-image.XXXXXX")
trap 'rm -rf "$ctx"' EXIT INT TERM

(cd "$here" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$ctx/python3" .)
cp "$here/Dockerfile" "$ctx/Dockerfile"
# The legacy builder needs no BuildKit/buildx plugin and never pulls for
# FROM scratch. No cache: two builds of the same binary would share cached
# layers, and removing one tag could delete a layer the other reuses.
if ! out=$(DOCKER_BUILDKIT=0 docker build --no-cache --quiet -t "$tag" "$ctx" 2>&1); then
	echo "$out" >&2
	exit 1
fi
echo "$tag"
