#!/usr/bin/env bash
# The one command that installs what the tests need, starts what they need
# and runs every test: formatting, lints, Rust tests, the Python end-to-end
# suite against the real binary, and promtool over the metrics.
#
# Usage: scripts/test.sh            (from the repository root)
# Needs: a Rust toolchain, Python 3, network access to PyPI and Debian.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TERM_COLOR=never
# The tests never talk to AWS: keep the SDKs off the instance metadata
# service and out of any real configuration.
export AWS_EC2_METADATA_DISABLED=true
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null

step() { printf '\n== %s\n' "$*"; }

step "python test environment (.venv)"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check \
  -r tests/e2e/requirements.txt -r tests/store_requirements.txt

step "javascript SDK (tests/js)"
(cd tests/js && npm ci --no-audit --no-fund --loglevel=error)

step "promtool"
if ! command -v promtool >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  else
    echo "promtool is missing: install Debian's prometheus package" >&2
    exit 1
  fi
fi
promtool --version | head -1

step "format"
cargo fmt --all -- --check

step "clippy"
cargo clippy --all-targets --locked -- -D warnings

step "build"
cargo build --locked --bin bedrock-tuner

step "rust tests"
cargo test --locked

step "end-to-end tests (pytest, real SDKs against the binary)"
BEDROCK_TUNER_BIN="$PWD/target/debug/bedrock-tuner" .venv/bin/python -m pytest -q tests/e2e
