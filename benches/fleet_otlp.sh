#!/usr/bin/env bash
# A whole-process benchmark, not a test: one OTLP service whose export requests each carry
# WORKERS load generators' streams (a resource per worker, `service.name` fleet), each with
# `locust.client.duration` delta exponential points for ENDPOINTS endpoints (PER_POINT
# requests a point, 10 buckets), posted over OTLP/HTTP protobuf by `wrk` (CONNECTIONS
# connections, SECONDS seconds) to one exporter, scraped meanwhile. Prints the aggregate
# requests/s and data points/s, the exporter's CPU and peak RSS, and checks that every
# accepted point's requests are counted (the exporter's own accepted-points counter against
# `locust_requests_total`).
#
#   benches/fleet_otlp.sh [BINARY] [WORKERS] [ENDPOINTS] [SECONDS] [PER_POINT] [CONNECTIONS]
#   (default: target/release/locust-exporter 1000 10 20 100 4)
#
# Build first: cargo build --release. Needs wrk and the venv's opentelemetry-proto
# (test.sh --install makes it).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$here/target/release/locust-exporter}
workers=${2:-1000}
endpoints=${3:-10}
secs=${4:-20}
per_point=${5:-100}
conns=${6:-4}
work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

"$here/.venv/bin/python" - "$work/body.pb" "$workers" "$endpoints" "$per_point" <<'PY'
import sys
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1 import metrics_pb2 as m

out, workers, endpoints, per_point = sys.argv[1], *map(int, sys.argv[2:])
req = ExportMetricsServiceRequest()
counts = [per_point // 10] * 10
counts[0] += per_point - sum(counts)
for w in range(workers):
    rm = req.resource_metrics.add()
    rm.resource.attributes.extend([
        KeyValue(key="service.name", value=AnyValue(string_value="fleet")),
        KeyValue(key="service.instance.id", value=AnyValue(string_value=f"worker-{w}")),
    ])
    metric = rm.scope_metrics.add().metrics.add()
    metric.name, metric.unit = "locust.client.duration", "s"
    metric.exponential_histogram.aggregation_temporality = m.AGGREGATION_TEMPORALITY_DELTA
    for e in range(endpoints):
        p = metric.exponential_histogram.data_points.add()
        p.attributes.append(KeyValue(key="name", value=AnyValue(string_value=f"/api/e{e}")))
        p.start_time_unix_nano, p.time_unix_nano = 1_795_542_100_000_000_000, 1_795_542_101_000_000_000
        p.count, p.scale = per_point, 3
        p.positive.offset = -40  # (2^(-40/8), …]: 31 ms … 74 ms over 10 buckets
        p.positive.bucket_counts.extend(counts)
        p.sum = per_point * 0.05
        p.min, p.max = 0.031, 0.074
with open(out, "wb") as f:
    f.write(req.SerializeToString())
PY
cat > "$work/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-protobuf"
local f = io.open("$work/body.pb", "rb")
wrk.body = f:read("*all")
f:close()
LUA
body=$(stat -c %s "$work/body.pb")
per_body=$((workers * endpoints))
echo "fleet over OTLP: $workers workers x $endpoints endpoints = $per_body points of $per_point requests a body ($((body / 1024)) KiB)"

port=$(free_port)
otlp=$(free_port)
"$bin" --web.listen-address "127.0.0.1:$port" --otlp.listen-address "127.0.0.1:$otlp" \
  2>"$work/exporter.log" &
epid=$!
pids+=($epid)
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/-/healthy" >/dev/null && break; sleep 0.1; done
( for _ in $(seq 1 $((secs * 2))); do
    curl -s -o /dev/null --compressed "http://127.0.0.1:$port/metrics"; sleep 0.5
  done ) &
pids+=($!)
read -r u0 s0 < <(awk '{print $14, $15}' "/proc/$epid/stat")
wrk -t2 -c"$conns" -d"${secs}s" -s "$work/post.lua" "http://127.0.0.1:$otlp/v1/metrics" > "$work/wrk.txt"
read -r u1 s1 < <(awk '{print $14, $15}' "/proc/$epid/stat")
sleep 1
tck=$(getconf CLK_TCK)
peak=$(awk '/VmHWM/ {print $2}' "/proc/$epid/status")
metrics=$(curl -s "http://127.0.0.1:$port/metrics")
served=$(awk '/^locust_requests_total\{service="fleet"/ {s += $2} END {printf "%d", s}' <<<"$metrics")
accepted=$(awk '/^locust_exporter_otlp_items_total\{.*signal="metrics".*outcome="accepted"|^locust_exporter_otlp_items_total\{.*outcome="accepted".*signal="metrics"/ {s += $2} END {printf "%d", s}' <<<"$metrics")
grep -E "Requests/sec|requests in|Non-2xx" "$work/wrk.txt" || true
python3 - "$served" "$accepted" "$per_point" "$secs" "$u0" "$s0" "$u1" "$s1" "$tck" "$peak" <<'PY'
import sys
served, accepted, per_point, secs = map(int, sys.argv[1:5])
u0, s0, u1, s1, tck, peak = map(float, sys.argv[5:])
cpu = (u1 + s1 - u0 - s0) / tck
print(f"{accepted} points accepted, {served} requests counted ({served / secs / 1e6:.2f} M requests/s, "
      f"{accepted / secs / 1e3:.0f} k points/s aggregate); exporter CPU {cpu:.2f} s "
      f"({accepted / cpu / 1e3:.0f} k points per CPU-second), peak RSS {peak / 1024:.0f} MiB")
assert served == accepted * per_point, f"counted {served}, accepted points say {accepted * per_point}"
print("every accepted point's requests counted")
PY
