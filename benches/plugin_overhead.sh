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
#   benches/plugin_overhead.sh [RUNS] [SECONDS]        (defaults: 3 runs of 30 s each)
#
# Needs Locust in .venv (test.sh --install makes it) and a release build
# (cargo build --release). Prints each run's requests/s (Locust's own Aggregated
# "Requests/s" in _stats.csv), then per variant the median and mean, and the cost against
# `none` (a negative cost is noise).
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

one() { # variant run -> requests/s
  local v=$1 r=$2 out=$work/$1-$2
  local args=(--headless -u 2 -r 2 -t "${secs}s" --only-summary --host "http://127.0.0.1:$port" --csv "$out" --loglevel WARNING)
  case $v in
    none) "$locust" -f "$work/load.py" "${args[@]}" > /dev/null 2>&1 ;;
    file) "$locust" -f "$plugin,$work/load.py" "${args[@]}" --exporter-events "$out.jsonl" > /dev/null 2>&1 ;;
    piped) "$locust" -f "$plugin,$work/load.py" "${args[@]}" 2> /dev/null \
             | "$exporter" --events - --once --log.level warn > /dev/null ;;
    old) "$locust" -f "$OLD_PLUGIN,$work/load.py" "${args[@]}" --exporter-events "$out.jsonl" > /dev/null 2>&1 ;;
  esac
  python3 -c 'import csv, sys; print(list(csv.DictReader(open(sys.argv[1])))[-1]["Requests/s"])' \
    "${out}_stats.csv" 2>/dev/null || echo 0
}

declare -A results
printf '%-6s %-4s %12s\n' variant run 'requests/s'
for r in $(seq 1 "$runs"); do
  for v in "${variants[@]}"; do
    rps=$(one "$v" "$r")
    results[$v]="${results[$v]:-} $rps"
    printf '%-6s %-4s %12.1f\n' "$v" "$r" "$rps"
  done
done

python3 - "${variants[@]}" <<PY
import statistics, sys
results = {$(for v in "${variants[@]}"; do printf '"%s": [%s], ' "$v" "$(echo ${results[$v]} | tr ' ' ',')"; done)}
base_med = statistics.median(results["none"])
base_mean = statistics.mean(results["none"])
print()
print(f"{'variant':<7} {'median':>9} {'mean':>9} {'cost (median)':>14} {'cost (mean)':>12}   runs")
for v in sys.argv[1:]:
    r = results[v]
    med, mean = statistics.median(r), statistics.mean(r)
    print(f"{v:<7} {med:>9.1f} {mean:>9.1f} {100 * (1 - med / base_med):>13.2f}% {100 * (1 - mean / base_mean):>11.2f}%   {', '.join(f'{x:.0f}' for x in r)}")
PY
