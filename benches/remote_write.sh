#!/usr/bin/env bash
# A whole-process benchmark, not a test: an exporter fed 10,000 event endpoints on stdin at
# RATE requests/s and at ten times it, remote-writing every 5 s to a real Prometheus 3.5
# (contrib/ci/sid-servers.sh), with 1.0, with 2.0, and without remote write. For each run it
# prints the process's CPU share of one core (utime+stime from /proc over the run), its peak
# RSS, and the requests and compressed bytes per interval written; the remote-write cost is
# the difference to the run without it.
#
#   benches/remote_write.sh [BINARY] [SECONDS] [RATE]  (default: target/release/locust-exporter, 40, 2000)
#
# Build first: cargo build --release.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$here/target/release/locust-exporter}
secs=${2:-40}
rate=${3:-2000}
sid=$("$here/contrib/ci/sid-servers.sh" 2>/dev/null)
work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

prom_port=$(free_port)
printf 'global:\n  scrape_interval: 15s\n' > "$work/prometheus.yml"
"$sid/prometheus" --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
  --web.listen-address="127.0.0.1:$prom_port" --web.enable-remote-write-receiver \
  --web.remote-write-receiver.accepted-protobuf-messages=prometheus.WriteRequest \
  --web.remote-write-receiver.accepted-protobuf-messages=io.prometheus.write.v2.Request \
  --enable-feature=native-histograms >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$prom_port/-/ready" >/dev/null && break; sleep 0.2; done

# RATE request events a second over 10,000 endpoints, for SECONDS + 5 s.
generate() { # rate seconds
  python3 - "$1" "$2" <<'PY'
import sys, time
rate, secs = int(sys.argv[1]), int(sys.argv[2])
lines = ['{"event":"request","request_type":"GET","name":"/api/v1/items/%d","response_time":%.1f,"response_length":100,"exception":null}\n' % (i, 5 + (i * 37) % 400) for i in range(10000)]
out = sys.stdout
start = time.time()
k = 0
for tick in range(secs * 10):
    batch = rate // 10
    out.write("".join(lines[(k + j) % 10000] for j in range(batch)))
    k += batch
    out.flush()
    delay = start + (tick + 1) / 10 - time.time()
    if delay > 0:
        time.sleep(delay)
PY
}

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
run() { # label rate extra-args...
  local label=$1 r=$2; shift 2
  local port; port=$(free_port)
  generate "$r" $((secs + 5)) | "$bin" --events - --max-endpoints 20000 \
    --web.listen-address "127.0.0.1:$port" "$@" 2>/dev/null &
  local pipe=$!
  sleep 1
  local pid; pid=$(pgrep -n -f "web.listen-address 127.0.0.1:$port")
  sleep 4   # every endpoint seen
  local t0; t0=$(ticks "$pid")
  sleep "$secs"
  local t1; t1=$(ticks "$pid")
  local m; m=$(curl -s "http://127.0.0.1:$port/metrics")
  local hwm; hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
  local cpu; cpu=$(awk -v a="$t0" -v b="$t1" -v hz="$hz" -v s="$secs" 'BEGIN {printf "%.1f", 100 * (b - a) / hz / s}')
  local reqs bytes intervals
  reqs=$(echo "$m" | awk '/^locust_exporter_remote_write_requests_total\{.*success/ {print $2}')
  bytes=$(echo "$m" | awk '/^locust_exporter_remote_write_bytes_total\{/ {print $2}')
  intervals=$(echo "$m" | awk '/^locust_exporter_remote_write_intervals_total\{/ {print $2}')
  series=$(echo "$m" | grep -c '^locust_' || true)
  if [ -n "$intervals" ] && [ "${intervals%.*}" -gt 0 ]; then
    printf '%-22s rate %6d/s  CPU %5s %% of a core  peak RSS %6d KiB  %s series served  %s intervals, %s requests, %s bytes/interval\n' \
      "$label" "$r" "$cpu" "$hwm" "$series" "$intervals" "$reqs" "$(awk -v b="$bytes" -v i="$intervals" 'BEGIN {printf "%d", b / i}')"
  else
    printf '%-22s rate %6d/s  CPU %5s %% of a core  peak RSS %6d KiB  %s series served\n' "$label" "$r" "$cpu" "$hwm" "$series"
  fi
  kill "$pid" 2>/dev/null || true
  wait "$pipe" 2>/dev/null || true
}

url="http://127.0.0.1:$prom_port/api/v1/write"
for r in "$rate" $((rate * 10)); do
  run "no remote write" "$r"
  run "remote write 1.0" "$r" --remote-write.url "$url" --remote-write.protocol 1.0 --remote-write.label run=v1-$r
  run "remote write 2.0" "$r" --remote-write.url "$url" --remote-write.protocol 2.0 --remote-write.label run=v2-$r
done
