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
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
. "$here/benches/wide_endpoints.sh"
wide_events "$work/run.jsonl" "$endpoints"
want=$((endpoints * 40))

start_one() { # BIN: its pid and port left in $started_pid and $started_port
  remote_write_receiver "$sid"
  started_port=$(free_port)
  "$1" --web.listen-address "127.0.0.1:$started_port" --events "svc=$work/run.jsonl" \
    --max-endpoints $((endpoints + 10)) --remote-write.url "$rw_url" \
    --remote-write.interval 5s 2>/dev/null &
  started_pid=$!
  pids+=($started_pid)
}
start_one "$a"; pa=$started_pid; porta=$started_port
start_one "$b"; pb=$started_pid; portb=$started_port
for port in "$porta" "$portb"; do
  wait_served "$port" "$want"
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
