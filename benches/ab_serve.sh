#!/usr/bin/env bash
# A whole-process A/B benchmark, not a test: two builds side by side, at the same time, on
# the same input, so the machine's noise falls on both. Each follows one events file of
# ENDPOINTS endpoints (40 requests each over 1 ms … 10 s), remote-writes every 5 s to its own
# real Prometheus 3.5 (contrib/ci/sid-servers.sh), and is scraped once per new snapshot in
# FORMAT (A then B, ROUNDS rounds, one every 5.2 s: a render each). Prints each process's
# CPU seconds (utime + stime) over the rounds, their ratio, and the scrape times.
#
#   benches/ab_serve.sh BIN_A BIN_B [ENDPOINTS] [ROUNDS] [protobuf|text|openmetrics]
#   (default: 10000 12 protobuf)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
a=$1
b=$2
endpoints=${3:-10000}
rounds=${4:-12}
format=${5:-protobuf}
case $format in
  protobuf) accept='application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited' ;;
  openmetrics) accept='application/openmetrics-text;version=1.0.0' ;;
  *) accept='text/plain' ;;
esac
sid=$("$here/contrib/ci/sid-servers.sh" 2>/dev/null)
work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }

python3 - "$work/run.jsonl" "$endpoints" <<'PY'
import sys
out, endpoints = sys.argv[1], int(sys.argv[2])
with open(out, "w") as f:
    for e in range(endpoints):
        for k in range(40):
            ms = 1.0 * (10000.0 ** (k / 39.0))
            f.write('{"event":"request","time":%.3f,"request_type":"GET","name":"/api/v1/items/%d",'
                    '"response_time":%r,"response_length":100,"exception":null}\n'
                    % (1795542100.0 + k * 0.01, e, ms))
PY
want=$((endpoints * 40))

start_one() { # BIN -> "exporter_pid port"
  local prom_port port
  prom_port=$(free_port)
  mkdir -p "$work/$prom_port"
  printf 'global:\n  scrape_interval: 15s\n' > "$work/$prom_port/prometheus.yml"
  "$sid/prometheus" --config.file="$work/$prom_port/prometheus.yml" --storage.tsdb.path="$work/$prom_port/tsdb" \
    --web.listen-address="127.0.0.1:$prom_port" --web.enable-remote-write-receiver \
    --enable-feature=native-histograms >/dev/null 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$prom_port/-/ready" >/dev/null && break; sleep 0.2; done
  port=$(free_port)
  "$1" --web.listen-address "127.0.0.1:$port" --events "svc=$work/run.jsonl" \
    --max-endpoints $((endpoints + 10)) --remote-write.url "http://127.0.0.1:$prom_port/api/v1/write" \
    --remote-write.interval 5s 2>/dev/null &
  pids+=($!)
  echo "$! $port"
}
read -r pa porta < <(start_one "$a")
read -r pb portb < <(start_one "$b")
for port in "$porta" "$portb"; do
  for _ in $(seq 1 600); do
    got=$(curl -s "http://127.0.0.1:$port/metrics" | awk '/^locust_stats_num_requests\{.*Aggregated/ {v=$2} END {print v}' || true)
    [ "${got:-0}" = "$want" ] && break
    sleep 0.5
  done
  [ "${got:-0}" = "$want" ] || { echo "only ${got:-0} of $want requests served on $port"; exit 1; }
done
ca0=$(cpu "$pa"); cb0=$(cpu "$pb")
ta=(); tb=()
for _ in $(seq 1 "$rounds"); do
  sleep 5.2
  ta+=("$(curl -s -o /dev/null -w '%{time_total}' -H "Accept: $accept" "http://127.0.0.1:$porta/metrics")")
  tb+=("$(curl -s -o /dev/null -w '%{time_total}' -H "Accept: $accept" "http://127.0.0.1:$portb/metrics")")
done
ca=$(( $(cpu "$pa") - ca0 )); cb=$(( $(cpu "$pb") - cb0 ))
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
echo "A/B serve: $endpoints endpoints, remote write 1.0 every 5 s, a $format scrape every 5.2 s, $rounds rounds"
echo "A: CPU $(awk "BEGIN {print $ca / 100}") s, scrape median $(median "${ta[@]}") s ($a)"
echo "B: CPU $(awk "BEGIN {print $cb / 100}") s, scrape median $(median "${tb[@]}") s ($b)"
echo "A/B CPU: $(awk "BEGIN {printf \"%.3f\", $ca / $cb}")"
