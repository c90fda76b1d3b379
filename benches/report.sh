#!/usr/bin/env bash
# A whole-process benchmark, not a test: the run report of a long run with many endpoints.
# One plugin stream of MINUTES minutes (a `requests` batch line per endpoint every 5 s, as a
# quiet fleet's plugin writes them; each batch's times spread over 12 schema-7 buckets that
# move with the run) is read with `--once`, with and without the report's history. Prints
# the history's bytes (locust_exporter_report_history_bytes), the process's peak RSS with
# and without it, how long the report took to write, the report's size (and gzipped), and
# how long a headless Chromium takes to load it and draw its charts (against an empty page,
# in the same run).
#
#   benches/report.sh [BINARY] [ENDPOINTS] [MINUTES]
#   (default: target/release/locust-exporter 100 60)
#
# Build first: cargo build --release.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$here/target/release/locust-exporter}
endpoints=${2:-100}
minutes=${3:-60}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 - "$work/run.jsonl" "$endpoints" "$minutes" <<'PY'
import sys
out, endpoints, minutes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
steps = minutes * 12
with open(out, "w") as f:
    f.write('{"event":"test_start","time":1795542100.0}\n')
    for s in range(steps):
        t = 1795542100.0 + 5 * (s + 1)
        users = min(100, s + 1)
        f.write('{"event":"users","user_count":%d}\n' % users)
        for e in range(endpoints):
            # 12 buckets from ~2^((base)/128) s: the run slows down over time, endpoints differ.
            base = -900 + (e % 50) * 4 + (s * 40) // steps
            buckets = [[base + 3 * k, 1 + (k * 7 + s + e) % 5] for k in range(12)]
            n = sum(c for _, c in buckets)
            lo = 2 ** ((base - 1) / 128) * 1000 * 1.0001
            hi = 2 ** ((base + 33) / 128) * 1000
            f.write(
                '{"event":"requests","time":%.3f,"start":%.3f,"request_type":"GET","name":"/api/e%d",'
                '"requests":%d,"errors":[["HTTPError(\'500\')",1]],"timed":%d,"response_time_sum":%r,'
                '"response_time_min":%r,"response_time_max":%r,"response_length_sum":%d,"schema":7,'
                '"zero_count":0,"buckets":%s}\n'
                % (t, t - 5, e, n, n, (lo + hi) / 2 * n, lo, hi, n * 100, str(buckets).replace(" ", ""))
            )
    f.write('{"event":"test_stop","time":%.3f}\n' % (1795542100.0 + 5 * steps + 1))
PY
lines=$(wc -l <"$work/run.jsonl")
echo "report bench: $endpoints endpoints x $minutes min, one batch per endpoint per 5 s ($lines lines, $(( $(stat -c %s "$work/run.jsonl") / 1048576 )) MiB)"

peak() { # args...: peak RSS (KiB) and wall seconds of one --once run
  /usr/bin/time -f "%M %e" "$bin" --once --events "svc=$work/run.jsonl" "$@" \
    >"$work/out.prom" 2>"$work/time.txt" || { cat "$work/time.txt"; exit 1; }
  tail -1 "$work/time.txt"
}
read -r rss_without secs_without < <(peak --report.interval 0)
read -r rss_with secs_with < <(peak --report.file "$work/report.html")
history=$(awk '/^locust_exporter_report_history_bytes/ {print $2}' "$work/out.prom")
merges=$(awk '/^locust_exporter_report_history_merges_total/ {print $2}' "$work/out.prom")
size=$(stat -c %s "$work/report.html")
gz=$(gzip -c "$work/report.html" | wc -c)
echo "history: $history bytes held ($((history / 1024)) KiB), $merges merges of the older half"
echo "peak RSS: $rss_with KiB with the history and report, $rss_without KiB without (--report.interval 0)"
echo "run with report: $secs_with s; without: $secs_without s"
echo "report: $size bytes ($((size / 1024)) KiB), gzipped $gz bytes ($((gz / 1024)) KiB)"

if command -v chromium >/dev/null 2>&1; then
  echo '<!DOCTYPE html><html><body><p>empty</p></body></html>' >"$work/empty.html"
  load() { # a page: wall seconds of a headless Chromium dumping its DOM after load
    local t0 t1
    t0=$(date +%s.%N)
    chromium --headless --no-sandbox --disable-gpu --no-first-run --user-data-dir="$work/profile" \
      --dump-dom "file://$1" >"$work/dom.html" 2>/dev/null
    t1=$(date +%s.%N)
    python3 -c "print(f'{$t1 - $t0:.2f}')"
  }
  # Interleaved, three each; the best of each.
  best_empty=99; best_report=99
  for _ in 1 2 3; do
    e=$(load "$work/empty.html"); r=$(load "$work/report.html")
    best_empty=$(python3 -c "print(min($best_empty, $e))")
    best_report=$(python3 -c "print(min($best_report, $r))")
  done
  grep -q '<canvas' "$work/dom.html" || { echo "the report's charts were not drawn"; exit 1; }
  echo "chromium load and draw: report $best_report s, empty page $best_empty s (best of 3, interleaved)"
else
  echo "!! no chromium: load time not measured"
fi
