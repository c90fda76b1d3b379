# Sourced by benches/memory.sh and benches/ab_serve.sh (not run on its own): the input both
# measure and the servers both start. Needs $work (a temporary directory) and the pids array.

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# wide_events FILE ENDPOINTS: ENDPOINTS endpoints, each with 40 requests whose times spread
# from 1 ms to 10 s (wide native histograms: the costly case).
wide_events() {
  python3 - "$1" "$2" <<'PY'
import sys
out, endpoints = sys.argv[1], int(sys.argv[2])
with open(out, "w") as f:
    for e in range(endpoints):
        for k in range(40):
            ms = 1.0 * (10000.0 ** (k / 39.0))  # 1 ms … 10 s
            f.write('{"event":"request","time":%.3f,"request_type":"GET","name":"/api/v1/items/%d",'
                    '"response_time":%r,"response_length":100,"exception":null}\n'
                    % (1795542100.0 + k * 0.01, e, ms))
PY
}

# remote_write_receiver SID_BIN: starts a Prometheus 3.5 receiving remote write on an
# ephemeral port and waits until it is ready; its write URL is left in $rw_url (not printed:
# called in a subshell, its pid would not reach the pids the exit trap kills).
remote_write_receiver() {
  local port dir
  port=$(free_port)
  dir="$work/prometheus-$port"
  mkdir -p "$dir"
  printf 'global:\n  scrape_interval: 15s\n' > "$dir/prometheus.yml"
  "$1/prometheus" --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/tsdb" \
    --web.listen-address="127.0.0.1:$port" --web.enable-remote-write-receiver \
    --enable-feature=native-histograms >/dev/null 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/-/ready" >/dev/null && break; sleep 0.2; done
  rw_url="http://127.0.0.1:$port/api/v1/write"
}

# wait_served PORT REQUESTS: waits (at most 5 min) until the exporter on PORT serves REQUESTS
# requests in its total; fails naming what it served.
wait_served() {
  local got=""
  for _ in $(seq 1 600); do
    got=$(curl -s "http://127.0.0.1:$1/metrics" | awk '/^locust_stats_num_requests\{.*Aggregated/ {v=$2} END {print v}' || true)
    [ "${got:-0}" = "$2" ] && return 0
    sleep 0.5
  done
  echo "only ${got:-0} of $2 requests served on $1"
  exit 1
}
