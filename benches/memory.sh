#!/usr/bin/env bash
# A whole-process benchmark, not a test: memory by the endpoint. One events file of
# ENDPOINTS endpoints, each with 40 requests whose times spread from 1 ms to 10 s (wide native
# histograms: the costly case), followed by one exporter (`--max-endpoints` raised to fit),
# optionally remote-writing every 5 s to a real Prometheus 3.5 (contrib/ci/sid-servers.sh).
# Once every request is served it scrapes every format (text, OpenMetrics, protobuf; gzip
# and identity) twice, waits 20 s (unasked bodies are dropped after 10 s; four remote-write intervals), and prints the
# whole process's RSS (steady) and peak RSS, per endpoint and per series written.
#
#   benches/memory.sh [BINARY] [ENDPOINTS] [rw|none]
#   (default: target/release/locust-exporter 10000 none)
#
# Build first: cargo build --release.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$here/target/release/locust-exporter}
endpoints=${2:-10000}
mode=${3:-none}
work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT
. "$here/benches/wide_endpoints.sh"
wide_events "$work/run.jsonl" "$endpoints"
want=$((endpoints * 40))

rw=()
if [ "$mode" = rw ]; then
  remote_write_receiver "$("$here/contrib/ci/sid-servers.sh" 2>/dev/null)"
  rw=(--remote-write.url "$rw_url" --remote-write.interval 5s)
fi

port=$(free_port)
"$bin" --web.listen-address "127.0.0.1:$port" --events "svc=$work/run.jsonl" \
  --max-endpoints $((endpoints + 10)) "${rw[@]}" 2>"$work/exporter.log" &
epid=$!
pids+=($epid)
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/-/healthy" >/dev/null && break; sleep 0.1; done
wait_served "$port" "$want"
for _ in 1 2; do
  for accept in 'text/plain' 'application/openmetrics-text;version=1.0.0' \
    'application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited'; do
    curl -s -H "Accept: $accept" "http://127.0.0.1:$port/metrics" -o /dev/null
    curl -s --compressed -H "Accept: $accept" "http://127.0.0.1:$port/metrics" -o /dev/null
  done
done
sleep 20
rss=$(awk '/^VmRSS/ {print $2}' "/proc/$epid/status")
hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$epid/status")
bodies=$(curl -s "http://127.0.0.1:$port/metrics" | awk '/^locust_exporter_http_response_bytes/ {v=$2} END {print v}' || true)
series=$(curl -s "http://127.0.0.1:$port/metrics" | awk '/^locust_exporter_remote_write_samples_total/ {v=$2} END {print v}' || true)
written=""
if [ "$mode" = rw ]; then
  intervals=$(curl -s "http://127.0.0.1:$port/metrics" | awk '/^locust_exporter_remote_write_intervals_total/ {v=$2} END {print v}' || true)
  written=" ($series samples in ${intervals:-?} intervals)"
fi
echo "memory: $endpoints endpoints x 40 requests (1 ms … 10 s), remote write: $mode$written"
echo "rendered bodies held (locust_exporter_http_response_bytes, after this scrape): $bodies"
echo "steady RSS $rss KiB ($((rss * 1024 / endpoints)) B per endpoint); peak $hwm KiB ($((hwm * 1024 / endpoints)) B per endpoint)"
