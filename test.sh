#!/usr/bin/env bash
# The test command (README.md): installs what the tests need if it is missing (promtool from
# Debian's `prometheus` package, Locust 2.47.0 in .venv/), then runs every check CI runs.
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v promtool >/dev/null 2>&1; then
  echo "== installing promtool (Debian package prometheus)"
  sudo_cmd=""; [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq prometheus >/dev/null
fi
if [ ! -x .venv/bin/locust ]; then
  echo "== installing Locust 2.47.0 into .venv"
  python3 -m venv .venv
  .venv/bin/pip install -q "locust==2.47.0"
fi
export REQUIRE_LOCUST=1 REQUIRE_PROMETHEUS=1

echo "== cargo fmt --check"; cargo fmt --all -- --check
echo "== cargo clippy"; cargo clippy --all-targets -- -D warnings
echo "== cargo doc"; RUSTDOCFLAGS="-D warnings" cargo doc --no-deps -q
echo "== cargo test"; cargo test --all-targets
echo "== python plugin tests"; .venv/bin/python -m unittest discover -s contrib -p 'test_*.py'
echo "== benches compile"; cargo bench --no-run -q
