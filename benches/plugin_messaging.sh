#!/usr/bin/env bash
# What the plugin's messaging path (`--exporter` on a worker: batches sent to the master over
# Locust's own messaging) costs a saturated worker against the file path
# (`--exporter-events FILE`): distributed runs, a master and one worker (FastHttpUser, no
# wait, 2 users, against an exporter's /-/healthy), alternating between the two paths; per
# run, requests/s and the worker's CPU µs per request (user + system, /usr/bin/time).
#
#   benches/plugin_messaging.sh [ROUNDS] [SECONDS]      (defaults: 2 rounds of 30 s)
#
# Needs Locust in .venv (test.sh --install) and a build of the exporter (the master's child
# under --exporter: $LOCUST_EXPORTER_BIN, default target/debug/locust-exporter).
set -euo pipefail
rounds=${1:-2}
secs=${2:-30}
cd "$(dirname "$0")/.."
root=$(pwd)
python=$root/.venv/bin/python
export LOCUST_EXPORTER_BIN=${LOCUST_EXPORTER_BIN:-$root/target/debug/locust-exporter}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
free() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free)
"$LOCUST_EXPORTER_BIN" --events /dev/null --web.listen-address "127.0.0.1:$port" --log.level warn &
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/-/healthy" > /dev/null && break; sleep 0.05; done
cat > "$work/saturate.py" <<PY
import sys
sys.path.insert(0, "$root/contrib")
import locust_exporter_plugin  # noqa: F401
from locust import task
from locust.contrib.fasthttp import FastHttpUser


class Saturate(FastHttpUser):
    @task
    def healthy(self):
        self.client.get("/-/healthy")
PY
for r in $(seq 1 "$rounds"); do
  for path in messaging file; do
    mport=$(free)
    case $path in
      messaging) master_args=(--exporter --exporter-listen "127.0.0.1:$(free)"); worker_args=(--exporter) ;;
      file) master_args=(--exporter-events "$work/master.jsonl"); worker_args=(--exporter-events "$work/worker.jsonl") ;;
    esac
    /usr/bin/time -f "%U %S" -o "$work/worker.time" "$python" -m locust -f "$work/saturate.py" --worker \
      --master-host 127.0.0.1 --master-port "$mport" "${worker_args[@]}" > /dev/null 2>&1 &
    "$python" -m locust -f "$work/saturate.py" --master --expect-workers 1 --master-bind-host 127.0.0.1 \
      --master-bind-port "$mport" --headless -u 2 -r 2 -t "${secs}s" --host "http://127.0.0.1:$port" \
      --only-summary --json-file "$work/run" "${master_args[@]}" > /dev/null 2>&1 || true
    wait %2 2>/dev/null || sleep 2
    "$python" - "$work/run.json" "$work/worker.time" "$path" "$r" "$secs" <<'PY'
import json, sys
rows = json.load(open(sys.argv[1]))
n = sum(r["num_requests"] for r in rows)
user, system = map(float, open(sys.argv[2]).read().split()[-2:])
print("round %s %-9s %8.0f requests/s  worker %6.1f µs CPU a request" % (sys.argv[4], sys.argv[3], n / float(sys.argv[5]), (user + system) * 1e6 / n))
PY
    rm -f "$work"/*.jsonl "$work/run.json"
  done
done
