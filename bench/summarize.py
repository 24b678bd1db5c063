#!/usr/bin/env python3
"""Turns the raw files of bench/run.sh into bench/results/<stamp>.json and a
markdown table on stdout. Standard library only.

  summarize.py brief PREFIX                 one line about one phase
  summarize.py report RAW_DIR META OUT_JSON the whole run
  summarize.py perf PERF_REPORT             group a flat perf report

A phase leaves PREFIX.oha.json (oha's JSON), PREFIX.oha.json.time (oha's
CPU seconds), PREFIX.before / PREFIX.after (process and /proc/stat
snapshots) and, for bedrock-tuner, PREFIX.before.metrics / .after.metrics.
"""

import json
import os
import re
import statistics
import sys

TARGETS = ("direct", "nginx", "tuner")
NAMES = {"direct": "direct", "nginx": "nginx", "tuner": "bedrock-tuner"}
# Which snapshot role holds the proxy under test for each target.
PROXY_ROLE = {"direct": None, "nginx": "nginx", "tuner": "tuner"}
# Below this many cores of other work in a phase, the phase counts as quiet.
CLEAN_OTHER_CPU = 0.25


# ------------------------------------------------------------------ parsing

def read_snapshot(path):
    procs, cpus, load = {}, {}, None
    with open(path) as f:
        for line in f:
            parts = line.split()
            if not parts:
                continue
            if parts[0] == "proc":
                role, pid = parts[1], int(parts[2])
                utime, stime, rss, hwm = (int(x) for x in parts[3:7])
                procs.setdefault(role, {})[pid] = {
                    "ticks": utime + stime, "rss_kb": rss, "hwm_kb": hwm}
            elif parts[0].startswith("cpu"):
                values = [int(x) for x in parts[1:]]
                # user nice system idle iowait irq softirq steal
                busy = sum(values[:8]) - values[3] - values[4]
                cpus[parts[0]] = {"busy": busy, "total": sum(values[:8])}
            elif parts[0] == "loadavg":
                load = float(parts[1])
    return {"procs": procs, "cpus": cpus, "load1": load}


METRIC_LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)$')


def read_metrics(path):
    """Prometheus text as {(name, labels-text): value}."""
    out = {}
    if not os.path.exists(path):
        return out
    with open(path) as f:
        for line in f:
            m = METRIC_LINE.match(line.strip())
            if m:
                out[(m.group(1), m.group(2) or "")] = float(m.group(3))
    return out


def label(labels, key):
    m = re.search(key + r'="([^"]*)"', labels)
    return m.group(1) if m else None


def tuner_delta(before, after):
    """What bedrock-tuner's own metrics say about one phase."""
    d = {k: v - before.get(k, 0.0) for k, v in after.items()}
    outcomes = {}
    for (name, labels), v in d.items():
        if name == "bedrock_tuner_requests_total" and v:
            o = label(labels, "outcome")
            outcomes[o] = outcomes.get(o, 0) + int(v)
    buckets = sorted(
        (float(label(labels, "le")), v)
        for (name, labels), v in d.items()
        if name == "bedrock_tuner_overhead_seconds_bucket"
        and label(labels, "operation") == "invoke")
    count = sum(v for (n, l), v in d.items()
                if n == "bedrock_tuner_overhead_seconds_count" and label(l, "operation") == "invoke")
    total = sum(v for (n, l), v in d.items()
                if n == "bedrock_tuner_overhead_seconds_sum" and label(l, "operation") == "invoke")

    def bucket_quantile(q):
        # The upper bound of the bucket holding the q-th observation: the
        # histogram's buckets are coarse, so this is an "at most".
        if not count:
            return None
        for le, cumulative in buckets:
            if cumulative >= q * count:
                return le
        return None

    return {
        "outcomes": outcomes,
        "overhead_count": int(count),
        "overhead_mean_us": (total / count * 1e6) if count else None,
        "overhead_p50_at_most_us": none_or(bucket_quantile(0.5), 1e6),
        "overhead_p99_at_most_us": none_or(bucket_quantile(0.99), 1e6),
    }


def none_or(x, scale):
    return None if x is None or x == float("inf") else x * scale


def read_phase(prefix, clk_tck=100):
    with open(prefix + ".oha.json") as f:
        oha = json.load(f)
    target = os.path.basename(prefix).split("_")[1]
    before = read_snapshot(prefix + ".before")
    after = read_snapshot(prefix + ".after")
    statuses = {k: int(v) for k, v in oha.get("statusCodeDistribution", {}).items()}
    errors = {k: int(v) for k, v in oha.get("errorDistribution", {}).items()}
    requests = sum(statuses.values()) + sum(errors.values())
    pct = oha["latencyPercentiles"]

    def role_cpu_s(role):
        if role is None:
            return None
        b, a = before["procs"].get(role, {}), after["procs"].get(role, {})
        ticks = sum(a[p]["ticks"] - b[p]["ticks"] for p in a if p in b)
        return ticks / clk_tck

    def role_mem(role):
        if role is None:
            return None
        procs = after["procs"].get(role, {})
        return {"rss_kb": sum(p["rss_kb"] for p in procs.values()),
                "hwm_kb": sum(p["hwm_kb"] for p in procs.values()),
                "processes": len(procs)}

    oha_cpu = None
    try:
        with open(prefix + ".oha.json.time") as f:
            for line in f:
                if line.startswith("ohacpu"):
                    _, u, s = line.split()
                    oha_cpu = float(u) + float(s)
    except OSError:
        pass

    machine = {}
    for cpu, a in after["cpus"].items():
        b = before["cpus"].get(cpu)
        if b:
            machine[cpu] = (a["busy"] - b["busy"]) / clk_tck
    proxy_cpu = role_cpu_s(PROXY_ROLE[target])
    upstream_cpu = role_cpu_s("upstream")
    # Whatever the machine spent beyond oha, the upstream and the proxy:
    # other people's work, plus kernel time (loopback softirqs) that is not
    # charged to any of them. A large value means a polluted phase.
    attributed = (oha_cpu or 0) + (upstream_cpu or 0) + (proxy_cpu or 0)
    unattributed = machine.get("cpu", 0) - attributed
    duration = oha["summary"]["total"]

    phase = {
        "target": target,
        "requests": requests,
        "rps": oha["summary"]["requestsPerSec"],
        "success_rate": oha["summary"]["successRate"],
        "duration_s": duration,
        "p50_ms": pct["p50"] * 1e3,
        "p90_ms": pct["p90"] * 1e3,
        "p99_ms": pct["p99"] * 1e3,
        "p999_ms": pct["p99.9"] * 1e3,
        "mean_ms": oha["summary"]["average"] * 1e3,
        "max_ms": oha["summary"]["slowest"] * 1e3,
        "statuses": statuses,
        "errors": errors,
        "proxy_cpu_s": proxy_cpu,
        "proxy_cpu_us_per_request": (proxy_cpu / requests * 1e6) if proxy_cpu is not None and requests else None,
        "upstream_cpu_s": upstream_cpu,
        "oha_cpu_s": oha_cpu,
        "machine_busy_s": machine,
        "unattributed_cpu_share": unattributed / duration if duration else None,
        "proxy_memory_after": role_mem(PROXY_ROLE[target]),
        "load1_after": after["load1"],
    }
    if target == "tuner":
        phase["tuner_metrics"] = tuner_delta(read_metrics(prefix + ".before.metrics"),
                                             read_metrics(prefix + ".after.metrics"))
    return phase


def brief(prefix):
    p = read_phase(prefix)
    cpu = p["proxy_cpu_us_per_request"]
    bad = sum(v for k, v in p["statuses"].items() if k != "200") + sum(p["errors"].values())
    print(f"  {os.path.basename(prefix):24} {p['rps']:9.0f} req/s  p50 {p['p50_ms']:.3f} ms  "
          f"p99 {p['p99_ms']:.3f} ms  proxy cpu {'-' if cpu is None else f'{cpu:.1f} us/req'}  "
          f"non-200/errors {bad}  other cpu {p['unattributed_cpu_share']:.2f} cores")


# ------------------------------------------------------------------ report

def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def ratio(a, b):
    return None if a is None or b in (None, 0) else a / b


def fmt(x, digits=3, unit=""):
    return "n/a" if x is None else f"{x:.{digits}f}{unit}"


def report(raw, meta_path, out_path):
    meta = {}
    with open(meta_path) as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition("=")
            meta[k] = v
    clk = int(meta.get("clk_tck", 100))
    phases = {}
    for name in sorted(os.listdir(raw)):
        if name.endswith(".oha.json"):
            prefix = os.path.join(raw, name[: -len(".oha.json")])
            r, target, phase = os.path.basename(prefix).split("_")
            phases.setdefault(phase, {}).setdefault(target, []).append(
                dict(read_phase(prefix, clk), round=int(r[1:])))

    rates = [int(x) for x in meta["rates"].split()]
    concs = [int(x) for x in meta["concurrencies"].split()]

    def med(phase, target, key):
        return median(p[key] for p in phases.get(phase, {}).get(target, []))

    def paired_added(phase, target, key):
        """Per round: proxy minus direct in the same round; then the median."""
        direct = {p["round"]: p[key] for p in phases[phase]["direct"]}
        return median(p[key] - direct[p["round"]]
                      for p in phases[phase][target] if p["round"] in direct)

    latency = []
    for rate in rates:
        ph = f"rate{rate}"
        row = {"rate": rate}
        for t in TARGETS:
            row[t] = {k: med(ph, t, k) for k in ("p50_ms", "p99_ms", "p999_ms", "rps")}
        for t in ("nginx", "tuner"):
            row[t]["added_p50_ms"] = paired_added(ph, t, "p50_ms")
            row[t]["added_p99_ms"] = paired_added(ph, t, "p99_ms")
        row["tuner_over_nginx_added_p50"] = ratio(row["tuner"]["added_p50_ms"], row["nginx"]["added_p50_ms"])
        row["tuner_over_nginx_added_p99"] = ratio(row["tuner"]["added_p99_ms"], row["nginx"]["added_p99_ms"])
        latency.append(row)

    throughput = []
    for c in concs:
        ph = f"c{c}"
        row = {"concurrency": c}
        for t in TARGETS:
            row[t] = {k: med(ph, t, k) for k in ("rps", "p50_ms", "p99_ms")}
        row["tuner_over_nginx"] = ratio(row["tuner"]["rps"], row["nginx"]["rps"])
        row["tuner_over_direct"] = ratio(row["tuner"]["rps"], row["direct"]["rps"])
        row["nginx_over_direct"] = ratio(row["nginx"]["rps"], row["direct"]["rps"])
        throughput.append(row)

    phase_names = [f"rate{r}" for r in rates] + [f"c{c}" for c in concs]
    resources = []
    for ph in phase_names:
        row = {"phase": ph}
        for t in ("nginx", "tuner"):
            runs = phases.get(ph, {}).get(t, [])
            row[t] = {
                "cpu_us_per_request": median(p["proxy_cpu_us_per_request"] for p in runs),
                "rss_mib_after": median(p["proxy_memory_after"]["rss_kb"] / 1024 for p in runs),
                "hwm_mib_after": median(p["proxy_memory_after"]["hwm_kb"] / 1024 for p in runs),
            }
        row["tuner_over_nginx_cpu"] = ratio(row["tuner"]["cpu_us_per_request"], row["nginx"]["cpu_us_per_request"])
        row["unattributed_cpu_share"] = median(
            p["unattributed_cpu_share"] for t in TARGETS for p in phases.get(ph, {}).get(t, []))
        tm = [p["tuner_metrics"] for p in phases.get(ph, {}).get("tuner", [])]
        row["tuner_overhead_mean_us"] = median(m["overhead_mean_us"] for m in tm)
        row["tuner_overhead_p99_at_most_us"] = median(m["overhead_p99_at_most_us"] for m in tm)
        resources.append(row)

    # The same figures from quiet phases only: a phase counts as quiet when
    # the machine spent less than CLEAN_OTHER_CPU cores on anything but
    # oha, the upstream and the proxy. Unpaired (proxy and direct phases
    # may come from different rounds), so a cross-check, not the headline.
    clean = {}
    for ph in phase_names:
        for t in TARGETS:
            runs = [p for p in phases.get(ph, {}).get(t, [])
                    if p["unattributed_cpu_share"] is not None
                    and p["unattributed_cpu_share"] < CLEAN_OTHER_CPU]
            clean.setdefault(ph, {})[t] = {
                "n": len(runs),
                "rounds": [p["round"] for p in runs],
                "p50_ms": median(p["p50_ms"] for p in runs),
                "p99_ms": median(p["p99_ms"] for p in runs),
                "rps": median(p["rps"] for p in runs),
                "cpu_us_per_request": median(p["proxy_cpu_us_per_request"] for p in runs),
            }

    # Every non-200 answer and transport error, per target, over the run.
    anomalies = {}
    for ph, by_target in phases.items():
        for t, runs in by_target.items():
            for p in runs:
                for k, v in p["statuses"].items():
                    if k != "200":
                        anomalies.setdefault(t, {}).setdefault(f"HTTP {k}", 0)
                        anomalies[t][f"HTTP {k}"] += v
                for k, v in p["errors"].items():
                    anomalies.setdefault(t, {}).setdefault(k, 0)
                    anomalies[t][k] += v
                for k, v in p.get("tuner_metrics", {}).get("outcomes", {}).items():
                    if k != "ok":
                        anomalies.setdefault(t, {}).setdefault(f"outcome {k}", 0)
                        anomalies[t][f"outcome {k}"] += v

    top_rate = max(rates)
    at_top = next(r for r in latency if r["rate"] == top_rate)
    best_nginx = max((r["nginx"]["rps"] or 0) for r in throughput)
    best_tuner = max((r["tuner"]["rps"] or 0) for r in throughput)
    aims = {
        f"added_p99_at_{top_rate}_within_1.5x_nginx": {
            "ratio": at_top["tuner_over_nginx_added_p99"],
            "met": at_top["tuner_over_nginx_added_p99"] is not None
            and at_top["tuner_over_nginx_added_p99"] <= 1.5,
        },
        "max_throughput_at_least_0.7x_nginx": {
            "ratio": ratio(best_tuner, best_nginx),
            "met": best_nginx > 0 and best_tuner / best_nginx >= 0.7,
        },
    }

    # The quiet gate's readings: machine busy share just before the start
    # and before each target's block, and seconds since the script began.
    gate = []
    gate_path = os.path.join(raw, "gate.txt")
    if os.path.exists(gate_path):
        with open(gate_path) as f:
            for line in f:
                what, busy, at = line.split()
                gate.append({"before": what, "machine_busy": float(busy), "at_s": int(at)})

    load = {}
    for name in ("load-before.txt", "load-after.txt"):
        path = os.path.join(raw, name)
        if os.path.exists(path):
            with open(path) as f:
                load[name[:-4]] = f.read()

    result = {
        "meta": meta,
        "method": {
            "latency": "oha -q RATE --latency-correction -c RATE_CONNS -z RATE_SECS; "
                       "added = proxy minus direct in the same round, median over rounds",
            "throughput": "oha -c C -z MAX_SECS unthrottled; median requests/s over rounds",
            "cpu": "utime+stime of every process of the proxy (/proc/PID/stat) over the phase, "
                   "divided by the requests oha counted; median over rounds",
            "memory": "VmRSS and VmHWM summed over the proxy's processes after each phase; "
                      "median over rounds",
        },
        "latency": latency,
        "throughput": throughput,
        "resources": resources,
        "aims": aims,
        "anomalies": anomalies,
        "load": load,
        "quiet_gate": gate,
        "quiet_phases_only": {"threshold_other_cpu_cores": CLEAN_OTHER_CPU, "figures": clean},
        "phases": phases,
    }
    with open(out_path, "w") as f:
        json.dump(result, f, indent=1, sort_keys=True)
    print(markdown(result))


def markdown(r):
    m = r["meta"]
    out = []
    out.append(f"Run {m['stamp']}: bedrock-tuner work '{m.get('work', 'tune')}'; {m['rounds']} rounds, medians; pinning {'on' if m['pin'] == '1' else 'off'}; "
               f"nice {m.get('nice', '0')}; machine busy before start {m.get('busy_before')}; {m.get('oha')}; {m.get('nginx')}.")
    out.append("")
    out.append("Added latency (proxy minus direct, ms; oha -q with latency correction)")
    out.append("")
    out.append("| rate | direct p50 | direct p99 | nginx +p50 | nginx +p99 | tuner +p50 | tuner +p99 | tuner/nginx +p50 | tuner/nginx +p99 |")
    out.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in r["latency"]:
        out.append(f"| {row['rate']}/s | {fmt(row['direct']['p50_ms'])} | {fmt(row['direct']['p99_ms'])} | "
                   f"{fmt(row['nginx']['added_p50_ms'])} | {fmt(row['nginx']['added_p99_ms'])} | "
                   f"{fmt(row['tuner']['added_p50_ms'])} | {fmt(row['tuner']['added_p99_ms'])} | "
                   f"{fmt(row['tuner_over_nginx_added_p50'], 2, 'x')} | {fmt(row['tuner_over_nginx_added_p99'], 2, 'x')} |")
    out.append("")
    out.append("Maximum throughput (requests/s, unthrottled)")
    out.append("")
    out.append("| connections | direct | nginx | bedrock-tuner | tuner/nginx | tuner/direct | nginx/direct |")
    out.append("|---:|---:|---:|---:|---:|---:|---:|")
    for row in r["throughput"]:
        out.append(f"| {row['concurrency']} | {fmt(row['direct']['rps'], 0)} | {fmt(row['nginx']['rps'], 0)} | "
                   f"{fmt(row['tuner']['rps'], 0)} | {fmt(row['tuner_over_nginx'], 2, 'x')} | "
                   f"{fmt(row['tuner_over_direct'], 2, 'x')} | {fmt(row['nginx_over_direct'], 2, 'x')} |")
    out.append("")
    out.append("Proxy CPU per request and memory after each phase")
    out.append("")
    out.append("| phase | nginx CPU us/req | tuner CPU us/req | tuner/nginx | nginx RSS / HWM MiB | tuner RSS / HWM MiB | tuner overhead mean us (own metric) | other CPU (cores) |")
    out.append("|---|---:|---:|---:|---:|---:|---:|---:|")
    for row in r["resources"]:
        n, t = row["nginx"], row["tuner"]
        out.append(f"| {row['phase']} | {fmt(n['cpu_us_per_request'], 1)} | {fmt(t['cpu_us_per_request'], 1)} | "
                   f"{fmt(row['tuner_over_nginx_cpu'], 2, 'x')} | {fmt(n['rss_mib_after'], 1)} / {fmt(n['hwm_mib_after'], 1)} | "
                   f"{fmt(t['rss_mib_after'], 1)} / {fmt(t['hwm_mib_after'], 1)} | "
                   f"{fmt(row['tuner_overhead_mean_us'], 1)} | {fmt(row['unattributed_cpu_share'], 2)} |")
    out.append("")
    q = r["quiet_phases_only"]
    out.append(f"Quiet phases only (other CPU < {q['threshold_other_cpu_cores']} cores; n = phases kept of "
               f"{m['rounds']}): p50 / p99 ms, requests/s, proxy CPU us/req")
    out.append("")
    out.append("| phase | direct | nginx | bedrock-tuner |")
    out.append("|---|---|---|---|")
    for ph, by_target in q["figures"].items():
        cells = []
        for t in TARGETS:
            c = by_target[t]
            if not c["n"]:
                cells.append("n=0")
                continue
            cpu = "" if c["cpu_us_per_request"] is None else f", {c['cpu_us_per_request']:.1f} us"
            cells.append(f"n={c['n']}: {fmt(c['p50_ms'])} / {fmt(c['p99_ms'])}, {fmt(c['rps'], 0)}/s{cpu}")
        out.append(f"| {ph} | " + " | ".join(cells) + " |")
    out.append("")
    gate = r.get("quiet_gate", [])
    if gate:
        busy = [g["machine_busy"] for g in gate]
        out.append(f"- machine busy before each block (quiet gate, share of 2 cores): "
                   f"median {statistics.median(busy):.2f}, max {max(busy):.2f}")
    for name, aim in r["aims"].items():
        out.append(f"- aim {name}: ratio {fmt(aim['ratio'], 2)}: {'met' if aim['met'] else 'MISSED'}")
    if r["anomalies"]:
        for t, kinds in r["anomalies"].items():
            out.append(f"- {NAMES.get(t, t)}: " + ", ".join(f"{k}: {v}" for k, v in sorted(kinds.items())))
    else:
        out.append("- no non-200 answer and no transport error in any phase")
    return "\n".join(out)


# Where bedrock-tuner's CPU goes, from `perf report --sort dso,symbol`:
# each symbol goes to the first group whose pattern matches it.
PERF_GROUPS = [
    ("kernel: syscalls, loopback TCP, scheduler", r"^\[kernel", None),
    ("allocator and memcpy (glibc)", r"libc", r"malloc|free|memmove|memcpy|memset|memcmp|unlink_chunk|realloc|consolidate|calloc|tcache"),
    # The binary's own allocator, linked in statically.
    ("allocator (mimalloc)", None, r"^_?mi_|mimalloc"),
    ("other glibc", r"libc", None),
    ("request-body rewrite (rewrite::, serde_json)", None, r"rewrite::|serde_json"),
    ("SigV4 signing (aws_sigv4, sha2, hmac, hex)", None, r"aws_sigv4|sha2::|hmac::|hex::|percent_encoding|aws_smithy|aws_credential"),
    ("metrics (prometheus, record::)", None, r"prometheus|record::|LabelCap"),
    ("hyper and hyper-util (HTTP/1 server and client)", None, r"hyper|httparse|want::"),
    ("http crate (header maps, URIs)", None, r"\bhttp::"),
    ("tokio runtime", None, r"tokio::|mio::"),
    ("bytes", None, r"\bbytes::"),
    ("other bedrock_tuner code", None, r"bedrock_tuner::"),
]


def perf_groups(report_path):
    """Groups a flat perf report by the parts of the request path."""
    totals = {}
    line_re = re.compile(r"^\s*([\d.]+)%\s+(\S+)\s+\[[.k]\]\s+(.*)$")
    with open(report_path) as f:
        for line in f:
            m = line_re.match(line)
            if not m:
                continue
            share, dso, symbol = float(m.group(1)), m.group(2), m.group(3)
            for name, dso_re, sym_re in PERF_GROUPS:
                if (dso_re is None or re.search(dso_re, dso)) and (sym_re is None or re.search(sym_re, symbol)):
                    break
            else:
                name = "other (Rust std, alloc, core, closures)"
            totals[name] = totals.get(name, 0.0) + share
    print("| share of bedrock-tuner's CPU | part |")
    print("|---:|---|")
    for name, share in sorted(totals.items(), key=lambda kv: -kv[1]):
        print(f"| {share:.1f}% | {name} |")


def main(argv):
    if len(argv) == 3 and argv[1] == "brief":
        brief(argv[2])
    elif len(argv) == 3 and argv[1] == "perf":
        perf_groups(argv[2])
    elif len(argv) == 5 and argv[1] == "report":
        report(argv[2], argv[3], argv[4])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
