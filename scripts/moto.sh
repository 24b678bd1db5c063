#!/usr/bin/env bash
# Runs moto's server (a DynamoDB-compatible test server) on 127.0.0.1:PORT
# until this script's standard input closes, then stops it. A test harness
# keeps the other end of that pipe: when it exits, however it exits, the
# server goes with it.
#
# Usage: scripts/moto.sh PORT
# Installs tests/store_requirements.txt into .venv first when moto is
# missing (scripts/test.sh normally has).
set -euo pipefail
port=${1:?usage: moto.sh PORT}
repo="$(cd "$(dirname "$0")/.." && pwd)"
venv=${BEDROCK_TUNER_VENV:-"$repo/.venv"}
server="$venv/bin/moto_server"
if [ ! -x "$server" ]; then
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    -r "$repo/tests/store_requirements.txt" >&2
fi
"$server" -H 127.0.0.1 -p "$port" </dev/null >/dev/null 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true' EXIT
# Returns when the harness closes the pipe (or dies).
cat >/dev/null
