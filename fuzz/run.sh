#!/usr/bin/env bash
# Runs every fuzz target (or the ones named) for SECONDS each, seeded from fixtures/.
#
#   fuzz/run.sh [SECONDS] [TARGET ...]        (default: 300 s each, every target)
#
# Needs a nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`). Prints each
# target's executions; a crash stops the script, its input is in fuzz/artifacts/TARGET/
# (reproduce with `cargo +nightly fuzz run TARGET fuzz/artifacts/TARGET/crash-…`), and it
# becomes a regression test before it is fixed.
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-300}
[ $# -gt 0 ] && shift
targets=("$@")
# Every target there is, when none is named: one file each in fuzz_targets/.
if [ ${#targets[@]} -eq 0 ]; then
  for f in fuzz_targets/*.rs; do targets+=("$(basename "$f" .rs)"); done
fi
fx=../fixtures

seed() { # target file...
  local t=$1; shift
  mkdir -p "corpus/$t"
  for f in "$@"; do
    [ -f "$f" ] || continue
    # libFuzzer works best on small inputs: keep the first 2 KiB of each seed.
    head -c 2048 "$f" > "corpus/$t/seed-$(echo "$f" | tr '/' '_')"
  done
}
seed stats $fx/locust-*/*/run_stats.csv $fx/locust-*/*/first_run_stats.csv $fx/torn/*.stats.* $fx/events/*_stats.csv $(ls $fx/locust-2.47.0/standalone-full-history/rewrites/*.csv | head -5)
seed failures $fx/locust-*/*/run_failures.csv $fx/torn/*.failures.*
seed exceptions $fx/locust-*/*/run_exceptions.csv $fx/torn/*.exceptions.*
seed history $fx/locust-*/*/run_stats_history.csv $fx/torn/*.stats_history.*
seed events $fx/events/*.jsonl $fx/locust-2.47.0/standalone-full-history/run_stats_history.csv $fx/locust-2.47.0/standalone-full-history/run_stats.csv
seed webui $fx/webui/*/*/requests.json
mkdir -p corpus/batches && printf '\x02\x80\xff\xff\xff\xff\x00\x00\x00\x00' > corpus/batches/seed-edges
seed framer $fx/events/*.jsonl $fx/locust-2.47.0/standalone-full-history/run_exceptions.csv
mkdir -p corpus/otlp
printf '\x80{"resourceMetrics":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"s"}}]},"scopeMetrics":[{"metrics":[{"name":"locust.client.duration","unit":"s","exponentialHistogram":{"aggregationTemporality":2,"dataPoints":[{"attributes":[{"key":"name","value":{"stringValue":"/a"}}],"startTimeUnixNano":"1","timeUnixNano":"2","count":"3","sum":0.3,"scale":3,"positive":{"offset":-30,"bucketCounts":["1","0","2"]}}]}},{"name":"locust.client.duration","histogram":{"aggregationTemporality":1,"dataPoints":[{"count":"2","sum":0.1,"bucketCounts":["1","1"],"explicitBounds":[0.05]}]}},{"name":"locust.users.count","gauge":{"dataPoints":[{"asInt":"4"}]}}]}]}]}' > corpus/otlp/seed-json
# The smallest body of each signal a real `locust --otel` run sent (fixtures/otlp), behind
# its pick byte: metrics (0), traces with requests from spans (0x40: 64 % 3 = 1), logs (2).
for sp in metrics:00 traces:40 logs:02; do
  f=$(ls -S $fx/otlp/locust-2.47.0-exponential/*."${sp%%:*}".pb | tail -n1)
  { printf "\\x${sp#*:}"; head -c 2047 "$f"; } > "corpus/otlp/seed-recorded-${sp%%:*}"
done
mkdir -p corpus/web_config
printf 'tls_server_config:\n  cert_file: c.pem\n  key_file: k.pem\n' > corpus/web_config/seed-tls
printf 'basic_auth_users:\n  alice: $2b$04$K3jgqzDuoRcWwsfhQTDS9eWSQQYTl9IqX.bZrRhKGdJ81BxF6tFQ2\n' > corpus/web_config/seed-users
printf 'http_server_config:\n  http2: false\n  headers:\n    X-Frame-Options: deny\n' > corpus/web_config/seed-http

cargo +nightly fuzz build -O >/dev/null 2>&1 || cargo +nightly fuzz build -O
for t in "${targets[@]}"; do
  out=$(cargo +nightly fuzz run -O "$t" -- -max_total_time="$secs" -max_len=2048 -print_final_stats=1 -rss_limit_mb=4096 2>&1) || {
    echo "$out" | tail -40
    echo "!! fuzz target $t failed; see fuzz/artifacts/$t/"
    exit 1
  }
  execs=$(echo "$out" | awk '/stat::number_of_executed_units/ {print $2}')
  echo "fuzz $t: $execs executions in ${secs} s, no crash"
done
