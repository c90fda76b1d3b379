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
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

python3 - "$work/run.jsonl" "$endpoints" <<'PY'
import sys
out, endpoints = sys.argv[1], int(sys.argv[2])
with open(out, "w") as f:
    for e in range(endpoints):
        for k in range(40):
            ms = 1.0 * (10000.0 ** (k / 39.0))  # 1 ms … 10 s
            f.write('{"event":"request","time":%.3f,"request_type":"GET","name":"/api/v1/items/%d",'
                    '"response_time":%r,"response_length":100,"exception":null}\n'
                    % (1795542100.0 + k * 0.01, e, ms))
PY
want=$((endpoints * 40))

rw=()
if [ "$mode" = rw ]; then
  sid=$("$here/contrib/ci/sid-servers.sh" 2>/dev/null)
  prom_port=$(free_port)
  printf 'global:\n  scrape_interval: 15s\n' > "$work/prometheus.yml"
  "$sid/prometheus" --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
    --web.listen-address="127.0.0.1:$prom_port" --web.enable-remote-write-receiver \
    --enable-feature=native-histograms >/dev/null 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$prom_port/-/ready" >/dev/null && break; sleep 0.2; done
  rw=(--remote-write.url "http://127.0.0.1:$prom_port/api/v1/write" --remote-write.interval 5s)
fi

port=$(free_port)
"$bin" --web.listen-address "127.0.0.1:$port" --events "svc=$work/run.jsonl" \
  --max-endpoints $((endpoints + 10)) "${rw[@]}" 2>"$work/exporter.log" &
epid=$!
pids+=($epid)
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/-/healthy" >/dev/null && break; sleep 0.1; done
for _ in $(seq 1 600); do
  got=$(curl -s "http://127.0.0.1:$port/metrics" | awk '/^locust_stats_num_requests\{.*Aggregated/ {v=$2} END {print v}' || true)
  [ "${got:-0}" = "$want" ] && break
  sleep 0.5
done
[ "${got:-0}" = "$want" ] || { echo "only ${got:-0} of $want requests served"; exit 1; }
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
