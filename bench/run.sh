#!/usr/bin/env bash
# Load benchmark: the fake Bedrock upstream hit directly, through nginx as a
# plain reverse proxy, and through bedrock-tuner doing its full work
# (SigV4 re-signing, metrics). Everything listens on 127.0.0.1 only.
#
#   bench/run.sh                      # build, measure, write results
#   BENCH_ROUNDS=5 bench/run.sh       # more rounds (medians get steadier)
#   BENCH_WORK=sign bench/run.sh      # bedrock-tuner signs and records but
#                                     # leaves the body as the app sent it
#
# Method and figures: docs/benchmark.md. Settings are the BENCH_* variables
# below; each has a default, so a bare run is the documented one.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)

rounds=${BENCH_ROUNDS:-3}
rate_secs=${BENCH_RATE_SECS:-20}     # each fixed-rate phase
max_secs=${BENCH_MAX_SECS:-10}       # each unthrottled phase
warmup_secs=${BENCH_WARMUP_SECS:-5}  # per target and round, not measured
rates=${BENCH_RATES:-"500 2000"}
concurrencies=${BENCH_CONCURRENCY:-"32 64"}
# Connections for the fixed-rate phases: enough that the rate, not the
# connection count, limits oha even when a response is slow.
rate_conns=${BENCH_RATE_CONNS:-32}
# 1: oha and the upstream on core 0, the proxy under test on core 1.
pin=${BENCH_PIN:-1}
# Wait (up to this many seconds) for other work on the machine to settle
# before measuring; the machine counts as quiet below quiet_max busy.
quiet_wait=${BENCH_QUIET_WAIT:-900}
quiet_max=${BENCH_QUIET_MAX:-0.15}
# tune or sign: see bench/work-mode.sh.
work_mode=${BENCH_WORK:-tune}
source "$here/work-mode.sh"
# 1: profile bedrock-tuner with perf during one extra unthrottled phase.
perf_profile=${BENCH_PERF:-0}
skip_build=${BENCH_SKIP_BUILD:-0}
nice_level=${BENCH_NICE:-0}
upstream_port=${BENCH_UPSTREAM_PORT:-18081}
nginx_port=${BENCH_NGINX_PORT:-18082}
tuner_port=${BENCH_TUNER_PORT:-18083}
admin_port=${BENCH_ADMIN_PORT:-18084}

model_path='/model/anthropic.claude-3-haiku-20240307-v1%3A0/invoke'
# The app's own signature: fake, since the sidecar strips it and signs again.
app_authorization='AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261203/us-east-1/bedrock/aws4_request, SignedHeaders=host;x-amz-date, Signature=00'

say() { printf '[bench] %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

# ---------------------------------------------------------------- checks
# Nothing is installed from here: a missing tool stops the run with the
# command that installs it.
missing=0
need() {
    local tool=$1 hint=$2
    if ! command -v "$tool" >/dev/null 2>&1; then
        say "missing: $tool; install it with: $hint"
        missing=1
    fi
}
# Debian puts nginx in /usr/sbin, which a non-root PATH may lack.
PATH="$PATH:/usr/sbin:/sbin:$HOME/.cargo/bin"
need oha "cargo install oha --locked"
need nginx "apt-get install -y nginx"
need python3 "apt-get install -y python3"
need curl "apt-get install -y curl"
need cargo "https://rustup.rs (the project's toolchain)"
if [[ $pin == 1 ]]; then need taskset "apt-get install -y util-linux"; fi
if [[ $perf_profile == 1 ]]; then need perf "apt-get install -y linux-perf"; fi
[[ $missing == 0 ]] || die "install the tools above, then run again"

if [[ $pin == 1 && $(nproc) -lt 2 ]]; then
    die "BENCH_PIN=1 needs two cores; run with BENCH_PIN=0"
fi

for port in "$upstream_port" "$nginx_port" "$tuner_port" "$admin_port"; do
    # A connect that succeeds means someone else already listens there.
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        die "port $port on 127.0.0.1 is in use; pick others with BENCH_*_PORT"
    fi
done

# The response body is pasted into nginx's `return '...'`: a quote, a
# backslash or a dollar sign there would break or change it.
response_body=$(python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1])), separators=(",", ":")))' "$here/response.json")
case $response_body in
    *"'"* | *'\'* | *'$'*) die "bench/response.json must not contain ' \\ or \$" ;;
esac

# ---------------------------------------------------------------- build
if [[ $skip_build != 1 ]]; then
    say "building bedrock-tuner (release)"
    (cd "$repo" && cargo build --release --locked --bin bedrock-tuner)
fi
built_bin="$repo/target/release/bedrock-tuner"
[[ -x $built_bin ]] || die "$built_bin not found; build it or unset BENCH_SKIP_BUILD"

# ---------------------------------------------------------------- cleanup
work=$(mktemp -d /tmp/bedrock-tuner-bench.XXXXXX)
# nginx workers run as nobody and must reach their temp paths in here.
chmod 0755 "$work"
raw="$work/raw"
mkdir -p "$raw"
# Run a private copy: someone else's `cargo build --release` during the run
# would otherwise replace the file under the running process, and perf
# could no longer name its symbols. The hash says which build was measured.
tuner_bin="$work/bedrock-tuner"
cp "$built_bin" "$tuner_bin"
tuner_built=$(date -u -r "$built_bin" +%Y-%m-%dT%H:%M:%SZ)
tuner_sha=$(sha256sum "$tuner_bin" | cut -c1-16)
started_pids=()

cleanup() {
    local status=$?
    trap - EXIT INT TERM
    # Only the processes this script started, by pid; nginx masters take
    # their workers down with them on TERM.
    for pid in "${started_pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${started_pids[@]}"; do
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
    done
    if [[ ${BENCH_KEEP_WORK:-0} == 1 ]]; then
        say "work dir kept: $work"
    else
        rm -rf "$work"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Core placement: a command prefixed with "${core0[@]}" runs on core 0 when
# pinning. A prefix, not a shell function: a function started with & runs
# in a forked subshell, so $! would be that subshell and not the server
# (which then escapes both the kill at exit and the /proc accounting).
# taskset and env exec their command, so $! stays the server's own pid.
# BENCH_NICE (e.g. -10) raises every benchmark process above other work on
# a shared machine; the same for all three targets, so still a fair race.
core0=()
core1=()
if [[ $nice_level != 0 ]]; then
    core0=(nice -n "$nice_level")
    core1=(nice -n "$nice_level")
fi
if [[ $pin == 1 ]]; then
    core0+=(taskset -c 0)
    core1+=(taskset -c 1)
fi

# ---------------------------------------------------------------- quiet gate
# Fraction of the whole machine busy over a few seconds, from /proc/stat.
machine_busy() {
    local a b
    a=($(head -1 /proc/stat))
    sleep "${1:-5}"
    b=($(head -1 /proc/stat))
    local total=0 idle i
    for i in 1 2 3 4 5 6 7 8; do total=$((total + b[i] - a[i])); done
    idle=$((b[4] - a[4] + b[5] - a[5]))
    python3 -c "print(round(1 - $idle / max($total, 1), 3))"
}

record_load() {
    local file=$1
    {
        echo "## uptime"; uptime
        echo "## top"; top -bn1 | head -20
    } >"$file" 2>&1 || true
}

# Other people's builds come in bursts: the gate runs before the start and
# again before each target's block of phases, all within one deadline, so
# blocks start in the quiet gaps. Its readings go into the results.
quiet_deadline=$((SECONDS + quiet_wait))
wait_quiet() {
    local what=$1 busy
    busy=$(machine_busy 3)
    while python3 -c "import sys; sys.exit(0 if $busy > $quiet_max else 1)"; do
        if ((SECONDS >= quiet_deadline)); then
            say "machine ${busy} busy and the quiet deadline has passed; measuring $what anyway"
            break
        fi
        say "machine ${busy} busy (others compiling?); waiting before $what"
        ps -eo pcpu,comm --sort=-pcpu | sed -n 2,3p >&2
        sleep 7
        busy=$(machine_busy 3)
    done
    echo "$what $busy $SECONDS" >>"$work/gate.txt"
}

record_load "$work/load-before-gate.txt"
gate_start=$SECONDS
wait_quiet start
waited=$((SECONDS - gate_start))
tail -1 "$work/gate.txt" | cut -d' ' -f2 >"$work/busy-before.txt"
record_load "$work/load-before.txt"

# ---------------------------------------------------------------- servers
render() {
    local template=$1 out=$2
    sed -e "s|@WORK@|$work|g" \
        -e "s|@PORT@|$3|g" \
        -e "s|@UPSTREAM_PORT@|$upstream_port|g" \
        -e "s|@BODY@|$response_body|g" \
        "$template" >"$out"
}
render "$here/nginx-upstream.conf.template" "$work/upstream.conf" "$upstream_port"
render "$here/nginx-proxy.conf.template" "$work/proxy.conf" "$nginx_port"

for conf in upstream proxy; do
    nginx -p "$work/" -e "$work/nginx-startup.log" -c "$work/$conf.conf" -t -q \
        || die "nginx rejected $work/$conf.conf"
done

# Servers run in the foreground of their own pid (daemon off), with their
# output in the work dir: an inherited stdout would keep a caller's pipe
# open after this script ends.
say "starting the upstream (nginx return 200) on 127.0.0.1:$upstream_port"
"${core0[@]}" nginx -p "$work/" -e "$work/nginx-startup.log" -c "$work/upstream.conf" \
    -g 'daemon off;' >"$work/upstream.out" 2>&1 &
started_pids+=($!)
upstream_pid=$!

say "starting nginx (reverse proxy, 1 worker) on 127.0.0.1:$nginx_port"
"${core1[@]}" nginx -p "$work/" -e "$work/nginx-startup.log" -c "$work/proxy.conf" \
    -g 'daemon off;' >"$work/proxy.out" 2>&1 &
started_pids+=($!)
nginx_pid=$!

say "starting bedrock-tuner on 127.0.0.1:$tuner_port (admin $admin_port), work: $work_mode"
tuner_config=()
if [[ $work_mode == sign ]]; then
    write_work_config "$work/tuner.toml"
    tuner_config=(--config "$work/tuner.toml")
fi
# A clean environment: only the variables the benchmark defines, so no
# AWS_PROFILE or BEDROCK_TUNER_* of the caller changes what is measured.
"${core1[@]}" env -i PATH="$PATH" \
    AWS_ACCESS_KEY_ID=AKIDBENCH AWS_SECRET_ACCESS_KEY=benchsecret \
    AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true RUST_LOG=warn \
    "$tuner_bin" serve "${tuner_config[@]}" --listen "127.0.0.1:$tuner_port" \
    --admin-listen "127.0.0.1:$admin_port" \
    --upstream "http://127.0.0.1:$upstream_port" --region us-east-1 \
    >"$work/tuner.log" 2>&1 &
started_pids+=($!)
tuner_pid=$!

# Up to ten seconds for each server to accept connections; bedrock-tuner
# must also say it is ready (credentials loaded).
wait_listening() {
    local port=$1 what=$2
    for _ in $(seq 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    die "$what is not listening on 127.0.0.1:$port (see $work)"
}
wait_listening "$upstream_port" "the upstream"
wait_listening "$nginx_port" nginx
wait_listening "$tuner_port" bedrock-tuner
for _ in $(seq 100); do
    curl -fs -o /dev/null "http://127.0.0.1:$admin_port/readyz" && break
    sleep 0.1
done
curl -fs -o /dev/null "http://127.0.0.1:$admin_port/readyz" || die "bedrock-tuner never became ready"

url_of() {
    case $1 in
        direct) echo "http://127.0.0.1:$upstream_port$model_path" ;;
        nginx) echo "http://127.0.0.1:$nginx_port$model_path" ;;
        tuner) echo "http://127.0.0.1:$tuner_port$model_path" ;;
    esac
}

# ---------------------------------------------------------------- sanity
# One request per path before any load: all must answer 200 with the
# upstream's body, and the upstream must see bedrock-tuner's signature,
# not the app's.
sanity() {
    local target=$1 headers="$work/sanity-$1.headers" body="$work/sanity-$1.body" code
    for _ in $(seq 50); do
        code=$(curl -s -o "$body" -D "$headers" -w '%{http_code}' \
            -H "Authorization: $app_authorization" -H 'x-amz-date: 20261203T120000Z' \
            -H "x-intent: $intent" -H 'x-bench-echo: 1' \
            -H 'Content-Type: application/json' --data-binary "@$here/request.json" \
            "$(url_of "$target")") || code=000
        [[ $code == 000 ]] || break
        sleep 0.1
    done
    [[ $code == 200 ]] || die "$target answered $code: $(head -c 300 "$body")"
    [[ $(cat "$body") == "$response_body" ]] || die "$target changed the response body"
    local seen
    seen=$(grep -i '^x-bench-upstream-saw-authorization:' "$headers" | cut -d' ' -f2- | tr -d '\r')
    case $target in
        tuner)
            [[ $seen == *"Credential=AKIDBENCH/"*"/us-east-1/bedrock/aws4_request"* ]] \
                || die "upstream did not see bedrock-tuner's signature: $seen"
            grep -qi '^x-tuner-request-id:' "$headers" || die "no x-tuner-request-id from bedrock-tuner"
            # The work asked for is the work done: a profile applied, or none.
            local profile
            profile=$(grep -i '^x-tuner-profile:' "$headers" | cut -d' ' -f2- | tr -d '\r')
            case $work_mode:$profile in
                tune:order_status@* | sign:none) ;;
                *) die "bedrock-tuner applied profile '$profile' in work mode $work_mode" ;;
            esac
            ;;
        *)
            [[ $seen == "$app_authorization" ]] || die "$target altered Authorization: $seen"
            ;;
    esac
    say "sanity $target: 200, body intact, upstream saw ${seen%%,*}"
}
for target in direct nginx tuner; do sanity "$target"; done

# ---------------------------------------------------------------- snapshots
# One line per process: role pid utime stime (clock ticks) VmRSS VmHWM (kB),
# then the machine's per-core /proc/stat lines. Processes of a role: the
# nginx master and its workers, or bedrock-tuner's single process.
pids_of() {
    case $1 in
        upstream) echo "$upstream_pid" $(pgrep -P "$upstream_pid" || true) ;;
        nginx) echo "$nginx_pid" $(pgrep -P "$nginx_pid" || true) ;;
        tuner) echo "$tuner_pid" ;;
    esac
}

snapshot() {
    local out=$1 role pid stat fields rss hwm
    {
        for role in upstream nginx tuner; do
            for pid in $(pids_of "$role"); do
                stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
                # Fields after the ")" that ends the command name; utime and
                # stime are the 12th and 13th of those.
                rest=${stat##*) }
                read -ra fields <<<"$rest"
                rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")
                hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status")
                echo "proc $role $pid ${fields[11]} ${fields[12]} $rss $hwm"
            done
        done
        grep '^cpu' /proc/stat
        echo "loadavg $(cat /proc/loadavg)"
    } >"$out"
    curl -fs "http://127.0.0.1:$admin_port/metrics" >"$out.metrics" || true
}

# oha's own CPU time comes from bash's `time`, in seconds.
TIMEFORMAT='ohacpu %3U %3S'

run_oha() {
    local out=$1 target=$2
    shift 2
    local threads=()
    # oha sizes its runtime by physical cores, not by its CPU mask: one
    # thread when it has one core.
    [[ $pin == 1 ]] && threads=(--worker-threads 1)
    { time "${core0[@]}" oha --no-tui --output-format json -o "$out" "${threads[@]}" \
        -m POST -D "$here/request.json" -T application/json \
        -H "Authorization: $app_authorization" -H 'x-amz-date: 20261203T120000Z' \
        -H "x-intent: $intent" \
        -w "$@" "$(url_of "$target")" >/dev/null 2>"$out.stderr"; } 2>"$out.time"
}

phase() {
    local round=$1 target=$2 name=$3
    shift 3
    local prefix="$raw/r${round}_${target}_${name}"
    snapshot "$prefix.before"
    run_oha "$prefix.oha.json" "$target" "$@"
    snapshot "$prefix.after"
    python3 "$here/summarize.py" brief "$prefix" >&2
}

# ---------------------------------------------------------------- rounds
snapshot "$raw/start"
targets=(direct nginx tuner)
for ((round = 1; round <= rounds; round++)); do
    # Rotate the order so no target always runs first (cold caches) or
    # last (after the others heated the machine).
    order=("${targets[@]:round%3}" "${targets[@]:0:round%3}")
    for target in "${order[@]}"; do
        wait_quiet "r${round}_$target"
        say "round $round/$rounds: $target: warm-up ${warmup_secs}s"
        run_oha "$work/warmup.json" "$target" -c 64 -z "${warmup_secs}s"
        for rate in $rates; do
            phase "$round" "$target" "rate$rate" -c "$rate_conns" -q "$rate" \
                --latency-correction -z "${rate_secs}s"
        done
        for conc in $concurrencies; do
            phase "$round" "$target" "c$conc" -c "$conc" -z "${max_secs}s"
        done
    done
done
snapshot "$raw/end"
record_load "$work/load-after.txt"

# ---------------------------------------------------------------- profile
stamp=$(date -u +%Y-%m-%dT%H%M%SZ)
results="$here/results"
mkdir -p "$results"
if [[ $perf_profile == 1 ]]; then
    say "profiling bedrock-tuner under unthrottled load (not part of the figures)"
    "${core0[@]}" perf record -q -F 2000 -g -p "$tuner_pid" -o "$work/perf.data" \
        -- sleep "$max_secs" 2>"$work/perf.log" &
    perf_pid=$!
    started_pids+=($perf_pid)
    run_oha "$work/perf-oha.json" tuner -c 64 -z "${max_secs}s"
    wait "$perf_pid" || true
    # The profile grouped by the parts of the request path (from every
    # symbol above 0.05%), then the 60 hottest symbols; padding and perf's
    # empty IPC columns stripped.
    perf report -i "$work/perf.data" --stdio --no-children --percent-limit 0.05 \
        --sort dso,symbol -g none 2>/dev/null \
        | sed -e 's/ *- *- *$//' -e 's/ *$//' >"$work/perf-flat.txt" || true
    {
        python3 "$here/summarize.py" perf "$work/perf-flat.txt"
        echo
        grep -m 3 '^# \(Samples\|Event count\)' "$work/perf-flat.txt" || true
        grep '%' "$work/perf-flat.txt" | grep -v '^#' | head -60
    } >"$results/$stamp-perf-tuner.txt"
    say "perf profile: bench/results/$stamp-perf-tuner.txt"
fi

# ---------------------------------------------------------------- results
{
    echo "stamp=$stamp"
    echo "rounds=$rounds"
    echo "rate_secs=$rate_secs"
    echo "max_secs=$max_secs"
    echo "warmup_secs=$warmup_secs"
    echo "rates=$rates"
    echo "concurrencies=$concurrencies"
    echo "rate_conns=$rate_conns"
    echo "pin=$pin"
    echo "work=$work_mode"
    echo "nice=$nice_level"
    echo "clk_tck=$(getconf CLK_TCK)"
    echo "nproc=$(nproc)"
    echo "cpu_model=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
    echo "kernel=$(uname -r)"
    echo "oha=$(oha --version 2>/dev/null | head -1)"
    echo "nginx=$(nginx -v 2>&1 | head -1)"
    echo "rustc=$(rustc --version 2>/dev/null || true)"
    echo "tuner_binary_built=$tuner_built"
    echo "tuner_binary_sha256_16=$tuner_sha"
    echo "git_commit=$(git -C "$repo" rev-parse HEAD 2>/dev/null || echo unknown)"
    echo "git_dirty=$(git -C "$repo" status --porcelain -- src Cargo.toml Cargo.lock 2>/dev/null | wc -l)"
    echo "busy_before=$(cat "$work/busy-before.txt")"
    echo "waited_for_quiet_secs=$waited"
    echo "tuner_log_lines=$(wc -l <"$work/tuner.log")"
} >"$work/meta.txt"
cp "$work/gate.txt" "$raw/gate.txt"
cp "$work/load-before.txt" "$raw/load-before.txt"
cp "$work/load-after.txt" "$raw/load-after.txt"
cp "$work/tuner.log" "$raw/tuner.log"

python3 "$here/summarize.py" report "$raw" "$work/meta.txt" "$results/$stamp.json"
say "results: bench/results/$stamp.json"
