#!/usr/bin/env bash
# Builds the static binary the image ships (musl: no C library at runtime, and host names
# resolve from /etc/hosts and /etc/resolv.conf with no NSS modules), stripped, then the image:
#
#   contrib/docker/build.sh [TAG]        (default tag: locust-exporter:latest)
#
# Needs the musl target (rustup target add x86_64-unknown-linux-musl), musl-gcc (Debian
# package musl-tools, for ring's C code) and a Docker engine. No base image is pulled: the
# image is FROM scratch.
set -euo pipefail
cd "$(dirname "$0")/../.."
tag=${1:-locust-exporter:latest}
target=x86_64-unknown-linux-musl
rustup target list --installed | grep -qx "$target" || rustup target add "$target"
cargo build --locked --profile dist --target "$target"
mkdir -p target/image
cp "target/$target/dist/locust-exporter" target/image/locust-exporter
docker build -q -t "$tag" -f Dockerfile target/image
