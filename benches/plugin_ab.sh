#!/usr/bin/env bash
# What the plugin costs a saturated Locust worker, measured inside one run (a measurement,
# not a test: figures go in notes). benches/plugin_ab.py switches the plugin's listener on
# and off every second of one saturated Locust run (FastHttpUser, no wait, 2 users, against
# the exporter's own /-/healthy, in Rust) and compares each on second with the off seconds
# either side: the machine's drifts, which make separate runs differ by several per cent
# (benches/plugin_overhead.sh), cancel. Runs alternate between this plugin and, if given,
# others (e.g. an earlier version from git):
#
#   benches/plugin_ab.sh [RUNS] [SECONDS] [OTHER_PLUGIN.py ...]   (defaults: 4 runs of 90 s)
#
# Prints each run's two `AB` lines (requests/s and CPU µs/request: mean cost ± s.e. over
# that run's on seconds). Needs Locust in .venv (test.sh --install) and a release build.
set -euo pipefail
runs=${1:-4}
secs=${2:-90}
shift $(($# < 2 ? $# : 2))
others=()
for p in "$@"; do others+=("$(realpath "$p")"); done
cd "$(dirname "$0")/.."
locust=${LOCUST:-.venv/bin/locust}
exporter=target/release/locust-exporter
[ -x "$locust" ] || { echo "no $locust: run ./test.sh --install" >&2; exit 1; }
[ -x "$exporter" ] || { echo "no $exporter: run cargo build --release" >&2; exit 1; }
locust=$(realpath "$locust")
root=$(pwd)
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$exporter" --events /dev/null --web.listen-address "127.0.0.1:$port" --log.level warn &
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/-/healthy" > /dev/null && break; sleep 0.05; done

plugins=("$root/contrib/locust_exporter_plugin.py" "${others[@]}")
for r in $(seq 1 "$runs"); do
  for p in "${plugins[@]}"; do
    # The locustfile finds the plugin by its module name.
    mkdir -p "$work/run"
    cp "$p" "$work/run/locust_exporter_plugin.py"
    echo "== run $r: $p"
    (cd "$work/run" && "$locust" -f "locust_exporter_plugin.py,$root/benches/plugin_ab.py" \
      --headless -u 2 -r 2 -t "${secs}s" --only-summary --host "http://127.0.0.1:$port" \
      --loglevel WARNING --exporter-events "$work/events.jsonl" 2>&1 > /dev/null | grep '^AB') || echo "AB: no figures (see Locust's output)"
    rm -rf "$work/run"
  done
done
