#!/usr/bin/env bash
# What the plugin costs a saturated Locust worker (a measurement, not a test: figures go in
# notes, machines are noisy). FastHttpUser with no wait, 2 users, SECONDS per run, against a
# fast local target (the exporter's own /-/healthy, in Rust), runs interleaved:
#
#   none    Locust alone
#   file    with contrib/locust_exporter_plugin.py writing to a file
#   piped   with the plugin on stdout, piped into `locust-exporter --events -`
#   old     (only if OLD_PLUGIN=path is set) another plugin file, e.g. an earlier version
#
# Each round runs every variant once, in an order rotated from round to round.
#
#   benches/plugin_overhead.sh [RUNS] [SECONDS]        (defaults: 3 runs of 30 s each)
#
# Needs Locust in .venv (test.sh --install makes it), /usr/bin/time and a release build
# (cargo build --release). Prints each run's requests/s (Locust's own Aggregated
# "Requests/s" in _stats.csv) and the Locust process's CPU time per request (user + system
# from /usr/bin/time: times requests/s it should be ~1e6, i.e. Locust was saturated), then
# per variant the median, the mean, the cost against `none` and the paired cost (the median
# over rounds of each round's own ratio, which cancels slow drifts of the machine). A
# negative cost is noise: separate runs differ by several per cent even with nothing
# changed. benches/plugin_ab.sh measures inside one run (the listener switched on and off
# every second), and benches/plugin_listener.py times the listener alone, with far less noise.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
secs=${2:-30}
locust=${LOCUST:-.venv/bin/locust}
exporter=target/release/locust-exporter
[ -x "$locust" ] || { echo "no $locust: run ./test.sh --install" >&2; exit 1; }
[ -x "$exporter" ] || { echo "no $exporter: run cargo build --release" >&2; exit 1; }
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$exporter" --events /dev/null --web.listen-address "127.0.0.1:$port" --log.level warn &
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/-/healthy" > /dev/null && break; sleep 0.05; done

cat > "$work/load.py" <<'PY'
from locust import FastHttpUser, constant, task


class Saturate(FastHttpUser):
    wait_time = constant(0)

    @task
    def healthy(self):
        self.client.get("/-/healthy")
PY
plugin=$(pwd)/contrib/locust_exporter_plugin.py
variants=(none file piped)
[ -n "${OLD_PLUGIN:-}" ] && variants+=(old)

one() { # variant run -> "requests/s CPU-µs-per-request"
  local v=$1 r=$2 out=$work/$1-$2
  local args=(--headless -u 2 -r 2 -t "${secs}s" --only-summary --host "http://127.0.0.1:$port" --csv "$out" --loglevel WARNING)
  local timed=(/usr/bin/time -f '%U %S' -o "$out.cpu" "$locust")
  case $v in
    none) "${timed[@]}" -f "$work/load.py" "${args[@]}" > /dev/null 2>&1 ;;
    file) "${timed[@]}" -f "$plugin,$work/load.py" "${args[@]}" --exporter-events "$out.jsonl" > /dev/null 2>&1 ;;
    piped) "${timed[@]}" -f "$plugin,$work/load.py" "${args[@]}" 2> /dev/null \
             | "$exporter" --events - --once --log.level warn > /dev/null ;;
    old) "${timed[@]}" -f "$OLD_PLUGIN,$work/load.py" "${args[@]}" --exporter-events "$out.jsonl" > /dev/null 2>&1 ;;
  esac
  python3 -c '
import csv, sys
row = list(csv.DictReader(open(sys.argv[1])))[-1]
user, system = map(float, open(sys.argv[2]).read().split()[-2:])
print(row["Requests/s"], 1e6 * (user + system) / int(row["Request Count"]))
' "${out}_stats.csv" "$out.cpu" 2>/dev/null || echo "0 0"
}

declare -A results cpu
printf '%-6s %-4s %12s %15s\n' variant run 'requests/s' 'CPU µs/request'
n=${#variants[@]}
for r in $(seq 1 "$runs"); do
  # Each round starts one variant later, so no variant always runs first or last in a round.
  for k in $(seq 0 $((n - 1))); do
    v=${variants[$(((r - 1 + k) % n))]}
    read -r rps us < <(one "$v" "$r")
    results[$v]="${results[$v]:-} $rps"
    cpu[$v]="${cpu[$v]:-} $us"
    printf '%-6s %-4s %12.1f %15.1f\n' "$v" "$r" "$rps" "$us"
  done
done

python3 - "${variants[@]}" <<PY
import statistics, sys
results = {$(for v in "${variants[@]}"; do printf '"%s": [%s], ' "$v" "$(echo ${results[$v]} | tr ' ' ',')"; done)}
cpu = {$(for v in "${variants[@]}"; do printf '"%s": [%s], ' "$v" "$(echo ${cpu[$v]} | tr ' ' ',')"; done)}
def table(title, data, cost):
    base_med, base_mean = statistics.median(data["none"]), statistics.mean(data["none"])
    print()
    print(f"{title:<15} {'median':>9} {'mean':>9} {'cost (median)':>14} {'cost (mean)':>12} {'paired':>8}   runs")
    for v in sys.argv[1:]:
        r = data[v]
        med, mean = statistics.median(r), statistics.mean(r)
        paired = statistics.median(cost(x, base) for x, base in zip(r, data["none"]))
        print(f"{v:<15} {med:>9.1f} {mean:>9.1f} {cost(med, base_med):>13.2f}% {cost(mean, base_mean):>11.2f}% {paired:>7.2f}%   {', '.join(f'{x:.0f}' for x in r)}")
table("requests/s", results, lambda x, base: 100 * (1 - x / base))
table("CPU µs/request", cpu, lambda x, base: 100 * (x / base - 1))
PY
