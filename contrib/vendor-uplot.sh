#!/usr/bin/env bash
# Fetches uPlot (MIT, https://github.com/leeoniya/uPlot) from npm, checks the tarball
# against the pinned digest, and copies the files the run report inlines at build time
# into src/output/report/vendor/. Run it to move the pin; the build itself needs no network.
set -euo pipefail
VERSION=1.6.32
SHA256=4b8a8191e425658e3ea8c8c1314b0fc679c861ee3a1af2b20c7b16ba50b5133d
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
npm pack --silent "uplot@$VERSION" >/dev/null
echo "$SHA256  uplot-$VERSION.tgz" | sha256sum -c --quiet
tar xzf "uplot-$VERSION.tgz"
dest="$here/src/output/report/vendor"
mkdir -p "$dest"
cp package/dist/uPlot.iife.min.js package/dist/uPlot.min.css "$dest/"
cp package/LICENSE "$dest/LICENSE-uPlot"
echo "uPlot $VERSION vendored into $dest"
