#!/usr/bin/env bash
# A load benchmark, not a test: 200 concurrent scrapers (wrk) of an event-fed exposition
# with 2,000 and 10,000 endpoints, without and with gzip. Prints wrk's req/s and latency
# percentiles and the exporter's peak RSS (VmHWM) for each.
#
#   benches/scrape_load.sh [BINARY] [SECONDS]     (default: target/release/locust-exporter, 15)
#
# Needs wrk (Debian package wrk). Build first: cargo build --release.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$here/target/release/locust-exporter}
secs=${2:-15}
work=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT

events() { # n file
  python3 - "$1" "$2" <<'PY'
import sys
n, path = int(sys.argv[1]), sys.argv[2]
with open(path, "w") as f:
    for i in range(n):
        exc = '"HTTPError(\'500\')"' if i % 10 == 0 else "null"
        f.write('{"event":"request","time":1.5,"request_type":"GET","name":"/api/v1/items/%d","response_time":12.5,"response_length":100,"exception":%s}\n' % (i, exc))
PY
}

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
for n in 2000 10000; do
  events "$n" "$work/events-$n.jsonl"
  "$bin" --events "$work/events-$n.jsonl" --max-endpoints 20000 --web.listen-address "127.0.0.1:$port" 2>/dev/null &
  pid=$!
  for _ in $(seq 1 200); do
    curl -sf "http://127.0.0.1:$port/metrics" | grep -q "locust_stats_num_requests{service=\"locust\",path=\"Aggregated\",method=\"Aggregated\"} $n" && break
    sleep 0.1
  done
  size=$(curl -s "http://127.0.0.1:$port/metrics" | wc -c)
  gz=$(curl -s -H 'Accept-Encoding: gzip' "http://127.0.0.1:$port/metrics" | wc -c)
  echo "== $n endpoints: exposition $size bytes ($gz gzipped)"
  for enc in identity gzip; do
    hdr=()
    [ "$enc" = gzip ] && hdr=(-H "Accept-Encoding: gzip")
    out=$(wrk -t2 -c200 -d"${secs}s" --timeout 30s --latency "${hdr[@]}" "http://127.0.0.1:$port/metrics")
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    p50=$(awk '$1=="50%" {print $2}' <<<"$out")
    p99=$(awk '$1=="99%" {print $2}' <<<"$out")
    errs=$(grep -E "Socket errors|Non-2xx" <<<"$out" | tr '\n' ' ' || true)
    echo "   $enc: $rps req/s, p50 $p50, p99 $p99 $errs"
  done
  echo "   peak RSS: $(awk '/VmHWM/ {print $2, $3}' /proc/$pid/status)"
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
done
