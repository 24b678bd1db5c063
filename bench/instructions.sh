#!/usr/bin/env bash
# Instructions per request: the user-space work of bedrock-tuner builds,
# counted by valgrind's callgrind, so that two builds can be compared
# without the timing noise of a shared VM (CPU time per request moves by
# 5-10% between runs minutes apart; these counts repeat to 0.01%).
#
#   bench/instructions.sh BINARY [BINARY...]     # first one is the baseline
#   BENCH_REQUESTS=5000 bench/instructions.sh ...
#   BENCH_WORK=tune bench/instructions.sh ...     # with the profile rewrite
#   BENCH_KEEP_WORK=1 bench/instructions.sh ...   # keep callgrind's files
#
# Each binary serves the `sign` work of bench/run.sh by default (the app's signed
# request.json, re-signed and recorded, body forwarded unchanged) against
# the same loopback nginx upstream. 1,000 requests warm it up, the counters
# are zeroed, then BENCH_REQUESTS are counted from oha with 32 connections.
#
# Kernel time is not counted, and under valgrind the CPU reports no SHA
# extensions, so sha2 runs its portable code instead of SHA-NI: the second
# column leaves that function out, which is closer to what the native
# build spends. Method and figures: docs/benchmark.md.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
requests=${BENCH_REQUESTS:-3000}
upstream_port=${BENCH_UPSTREAM_PORT:-18181}
tuner_port=${BENCH_TUNER_PORT:-18183}
admin_port=${BENCH_ADMIN_PORT:-18184}
# sign or tune: see bench/work-mode.sh.
work_mode=${BENCH_WORK:-sign}
source "$here/work-mode.sh"

say() { echo "[instructions] $*" >&2; }
die() { say "$*"; exit 1; }

PATH="$PATH:/usr/sbin:/sbin:$HOME/.cargo/bin"
for tool in valgrind callgrind_annotate callgrind_control oha nginx curl python3; do
    command -v "$tool" >/dev/null || die "missing $tool (valgrind: apt-get install -y valgrind; oha: cargo install oha --locked)"
done
(($# >= 1)) || die "usage: bench/instructions.sh BINARY [BINARY...]"

work=$(mktemp -d /tmp/bedrock-tuner-instructions.XXXXXX)
chmod 0755 "$work"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    sleep 1
    if [[ ${BENCH_KEEP_WORK:-0} == 1 ]]; then
        say "callgrind files kept in $work/run-*"
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT

body=$(python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1])), separators=(",", ":")))' "$here/response.json")
sed -e "s|@WORK@|$work|g" -e "s|@PORT@|$upstream_port|g" -e "s|@BODY@|$body|g" \
    "$here/nginx-upstream.conf.template" >"$work/upstream.conf"
nginx -p "$work/" -e "$work/upstream-error.log" -c "$work/upstream.conf" -g 'daemon off;' &
pids+=($!)
write_work_config "$work/tuner.toml"

load() {
    oha --no-tui --output-format json --worker-threads 1 -m POST -D "$here/request.json" \
        -T application/json \
        -H "Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261203/us-east-1/bedrock/aws4_request, SignedHeaders=host;x-amz-date, Signature=00" \
        -H 'x-amz-date: 20261203T120000Z' -H "x-intent: $intent" \
        -c 32 -n "$1" "http://127.0.0.1:$tuner_port/model/anthropic.claude-3-haiku-20240307-v1%3A0/invoke" \
        | python3 -c 'import json,sys; d=json.load(sys.stdin)["statusCodeDistribution"]; sys.exit(0 if list(d) == ["200"] else "non-200 answers: %s" % d)'
}

# Prints "total non_sha" instructions per request for one binary.
measure() {
    local bin=$1 dir="$work/run-$2"
    mkdir -p "$dir"
    (cd "$dir" && exec env -i PATH="$PATH" AWS_ACCESS_KEY_ID=AKIDBENCH \
        AWS_SECRET_ACCESS_KEY=benchsecret AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true \
        RUST_LOG=warn valgrind --tool=callgrind --callgrind-out-file="$dir/out" \
        "$bin" serve --config "$work/tuner.toml" --listen "127.0.0.1:$tuner_port" \
        --admin-listen "127.0.0.1:$admin_port" --upstream "http://127.0.0.1:$upstream_port" \
        --region us-east-1 >"$dir/log" 2>&1) &
    local pid=$!
    pids+=("$pid")
    for _ in $(seq 120); do
        curl -fs "http://127.0.0.1:$admin_port/readyz" >/dev/null 2>&1 && break
        sleep 0.5
    done
    load 1000
    callgrind_control -z "$pid" >/dev/null 2>&1
    load "$requests"
    callgrind_control -d "$pid" >/dev/null 2>&1
    kill -TERM "$pid"
    wait "$pid" 2>/dev/null || true
    # The dump made on request is the file with the part suffix.
    local dump
    dump=$(ls "$dir"/out.* | head -1)
    python3 - "$dump" "$requests" <<'EOF'
import re, subprocess, sys
dump, n = sys.argv[1], int(sys.argv[2])
out = subprocess.run(["callgrind_annotate", "--inclusive=no", "--threshold=100", dump],
                     capture_output=True, text=True, check=True).stdout
total = sha = 0
for line in out.splitlines():
    m = re.match(r"\s*([\d,]+) \(\s*[\d.]+%\)\s+(.*)", line)
    if not m:
        continue
    ir = int(m.group(1).replace(",", ""))
    if "PROGRAM TOTALS" in m.group(2):
        total = ir
    elif "sha2::sha256::soft" in m.group(2):
        sha += ir
print(total // n, (total - sha) // n)
EOF
}

printf '%-48s %12s %12s %8s %8s\n' binary "Ir/request" "non-SHA" ratio "non-SHA"
base_total='' base_rest=''
i=0
for bin in "$@"; do
    [[ -x $bin ]] || die "$bin is not an executable"
    # measure runs it from its own directory: a relative path would miss.
    bin=$(realpath "$bin")
    read -r total rest < <(measure "$bin" "$i")
    : "${base_total:=$total}" "${base_rest:=$rest}"
    python3 -c "import sys; t,r,bt,br=map(int,sys.argv[2:]); print('%-48s %12d %12d %8.3f %8.3f' % (sys.argv[1][-48:], t, r, t/bt, r/br))" \
        "$bin" "$total" "$rest" "$base_total" "$base_rest"
    i=$((i + 1))
done
