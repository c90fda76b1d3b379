#!/usr/bin/env bash
# Downloads Prometheus 3.x (with its promtool) and VictoriaMetrics from Debian's `sid` suite (the same mirror and
# keyring as the system's own sources) and extracts their binaries into a cache folder; nothing
# is installed system-wide. Prints the folder holding `prometheus`, `promtool` and
# `victoria-metrics`.
#
#   contrib/ci/sid-servers.sh [CACHE]      (default: .cache/sid beside this repository's target/)
#
# The tests read the folder from LOCUST_EXPORTER_SID_BIN (test.sh sets it from this script).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cache="${1:-$root/target/sid}"
bin="$cache/bin"
if [ -x "$bin/prometheus" ] && [ -x "$bin/promtool" ] && [ -x "$bin/victoria-metrics" ]; then
  echo "$bin"; exit 0
fi
mkdir -p "$cache/lists/partial" "$cache/archives/partial" "$cache/debs" "$cache/root" "$bin"
mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
mirror="${mirror:-http://deb.debian.org/debian}"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
echo "deb [signed-by=$keyring] $mirror sid main" > "$cache/sources.list"
apt_opts=(-o "Dir::Etc::SourceList=$cache/sources.list" -o Dir::Etc::SourceParts=/dev/null
  -o "Dir::State::Lists=$cache/lists" -o "Dir::Cache=$cache" -o "Dir::Cache::archives=$cache/archives"
  -o Debug::NoLocking=1)
apt-get "${apt_opts[@]}" update -qq >&2
(cd "$cache/debs" && apt-get "${apt_opts[@]}" download prometheus promtool victoria-metrics >&2)
for deb in "$cache"/debs/*.deb; do dpkg-deb -x "$deb" "$cache/root"; done
ln -sf "$cache/root/usr/bin/prometheus" "$bin/prometheus"
ln -sf "$cache/root/usr/bin/promtool" "$bin/promtool"
vm="$cache/root/usr/bin/victoria-metrics"
[ -x "$vm" ] || { echo "victoria-metrics binary not found in the package" >&2; exit 1; }
ln -sf "$vm" "$bin/victoria-metrics"
"$bin/prometheus" --version >&2
"$bin/victoria-metrics" -version >&2 || true   # Debian's build prints an empty version
echo "$bin"
