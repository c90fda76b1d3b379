#!/usr/bin/env bash
# A whole-process benchmark, not a test: a fleet of WORKERS load generators' plugin streams
# (one file each in one directory, the plugin's `requests` batch lines: ENDPOINTS endpoints,
# one line per endpoint per second, PER_LINE requests a line, SECONDS seconds of run) read by
# one exporter following the directory, scraped in a loop (protobuf, gzip) and
# remote-writing every 5 s to a real Prometheus 3.5 meanwhile. Prints the aggregate
# requests/s (every request counted / the time from start to the last one served), the
# process's CPU (utime + stime), its peak RSS, the scrape latencies, and checks every count.
#
#   benches/fleet.sh [BINARY] [WORKERS] [ENDPOINTS] [SECONDS] [PER_LINE]
#   (default: target/release/locust-exporter 1000 10 30 1000)
#
# Build first: cargo build --release. The streams are written before the exporter starts
# (the writer is not measured), so the figure is what the exporter holds, not what a
# Python writer can produce.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$here/target/release/locust-exporter}
workers=${2:-1000}
endpoints=${3:-10}
secs=${4:-30}
per_line=${5:-1000}
sid=$("$here/contrib/ci/sid-servers.sh" 2>/dev/null)
work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

mkdir -p "$work/streams"
python3 - "$work/streams" "$workers" "$endpoints" "$secs" "$per_line" <<'PY'
import math, sys
out, workers, endpoints, secs, per_line = sys.argv[1], *map(int, sys.argv[2:])
# One endpoint's batch: PER_LINE requests, 1 % failed, times over 64 schema-7 buckets
# (30 ms … 42 ms), as the plugin writes them.
buckets = [[-830 + 2 * k, per_line // 64] for k in range(64)]
buckets[0][1] += per_line - sum(n for _, n in buckets)
lo = 2 ** ((-831) / 128) * 1000 * 1.0001
hi = 2 ** ((-830 + 2 * 63) / 128) * 1000
fails = per_line // 100
for w in range(workers):
    lines = []
    for s in range(secs):
        t = 1795542100.0 + s
        for e in range(endpoints):
            lines.append(
                '{"event":"requests","time":%.3f,"request_type":"GET","name":"/api/e%d","requests":%d,'
                '"errors":[["HTTPError(\'500 Server Error\')",%d]],"timed":%d,"response_time_sum":%r,'
                '"response_time_min":%r,"response_time_max":%r,"response_length_sum":%d,"schema":7,'
                '"zero_count":0,"buckets":%s}\n'
                % (t, e, per_line, fails, per_line, (lo + hi) / 2 * per_line, lo, hi, per_line * 100,
                   str(buckets).replace(" ", ""))
            )
    with open(f"{out}/worker-{w:04d}.jsonl", "w") as f:
        f.writelines(lines)
PY
total=$((workers * endpoints * secs * per_line))
bytes=$(du -sb "$work/streams" | cut -f1)
echo "fleet: $workers streams x $endpoints endpoints x $secs s x $per_line requests a line = $total requests ($((bytes / 1048576)) MiB of lines)"

prom_port=$(free_port)
printf 'global:\n  scrape_interval: 15s\n' > "$work/prometheus.yml"
"$sid/prometheus" --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
  --web.listen-address="127.0.0.1:$prom_port" --web.enable-remote-write-receiver \
  --enable-feature=native-histograms >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$prom_port/-/ready" >/dev/null && break; sleep 0.2; done

port=$(free_port)
start=$(date +%s.%N)
"$bin" --web.listen-address "127.0.0.1:$port" --events "fleet=$work/streams/" \
  --remote-write.url "http://127.0.0.1:$prom_port/api/v1/write" --remote-write.interval 5s \
  2>"$work/exporter.log" &
epid=$!
pids+=($epid)
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/-/healthy" >/dev/null && break; sleep 0.1; done

# Scrape in a loop (protobuf, gzip, as Prometheus asks) until every request is served.
served() {
  curl -s "http://127.0.0.1:$port/metrics?name[]=locust_requests_total" |
    awk '/^locust_requests_total\{service="fleet"/ {s += $2} END {printf "%d", s}'
}
lat=()
done_at=""
for _ in $(seq 1 3000); do
  t=$(curl -s -o /dev/null -w '%{time_total}' --compressed \
    -H 'Accept: application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited' \
    "http://127.0.0.1:$port/metrics")
  lat+=("$t")
  if [ "$(served)" = "$total" ]; then done_at=$(date +%s.%N); break; fi
  sleep 0.2
done
[ -n "$done_at" ] || { echo "FAIL: not every request served: $(served) of $total"; exit 1; }
read -r utime stime < <(awk '{print $14, $15}' "/proc/$epid/stat")
tck=$(getconf CLK_TCK)
peak=$(awk '/VmHWM/ {print $2}' "/proc/$epid/status")
rss=$(awk '/VmRSS/ {print $2}' "/proc/$epid/status")
python3 - "$start" "$done_at" "$total" "$utime" "$stime" "$tck" "$peak" "$rss" "${lat[@]}" <<'PY'
import sys
start, done, total, ut, st, tck, peak, rss = map(float, sys.argv[1:9])
lat = sorted(float(x) * 1000 for x in sys.argv[9:])
wall = done - start
cpu = (ut + st) / tck
p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
print(f"every request served: {int(total)} in {wall:.2f} s: {total / wall / 1e6:.2f} M requests/s aggregate; "
      f"CPU {cpu:.2f} s ({total / cpu / 1e6:.2f} M requests per CPU-second); peak RSS {peak / 1024:.0f} MiB, now {rss / 1024:.0f} MiB")
print(f"scrapes meanwhile (protobuf, gzip): {len(lat)}, median {p(0.5):.1f} ms, p99 {p(0.99):.1f} ms, max {lat[-1]:.1f} ms")
PY
# Every count exact: requests and failures against what was written.
sleep 6
fails=$(curl -s "http://127.0.0.1:$port/metrics?name[]=locust_request_failures_total" |
  awk '/^locust_request_failures_total\{service="fleet"/ {s += $2} END {printf "%d", s}')
want_fails=$((workers * endpoints * secs * (per_line / 100)))
[ "$fails" = "$want_fails" ] || { echo "FAIL: failures $fails, written $want_fails"; exit 1; }
written=$(curl -s "http://127.0.0.1:$port/metrics" | awk '/^locust_exporter_remote_write_samples_total/ {s += $2} END {printf "%d", s}')
echo "failures exact ($fails); remote write meanwhile: $written samples written"
