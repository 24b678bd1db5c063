#!/usr/bin/env python3
"""Reference values for the statistics engine (src/stats), from scipy,
statsmodels and confseq, written to tests/data/stats_reference.json.

tests/stats_reference.rs feeds each case's inputs to the Rust engine and
compares with the values here, so the engine is never its own reference.

Run from the repository root, with the packages of
scripts/stats/requirements.txt and scripts/stats/requirements-confseq.txt
(which says how to build confseq) in the venv:

    .venv/bin/python scripts/stats_reference.py

Every input is drawn from fixed seeds, so a rerun with the same library
versions rewrites the same file, but for last-digit differences (1e-13
relative, seen in the Welch and ratio sums) from one CPU to another.
Inputs are chosen where the libraries themselves are accurate to far better than the 1e-9 relative tolerance of
the Rust test (p-values well above 1e-300, no catastrophic cancellation in
the sums).
"""

import json
import math
import sys
from importlib import metadata
from fractions import Fraction
from pathlib import Path

import numpy as np
import scipy
import statsmodels
from scipy import stats
from statsmodels.regression.linear_model import OLS
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import NormalIndPower, normal_sample_size_one_tail
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_confint,
    proportions_ztest,
    samplesize_proportions_2indep_onetail,
)
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

try:
    from confseq.boundaries import normal_log_mixture, normal_mixture_bound
except ImportError:
    sys.exit("confseq is required: scripts/stats/requirements-confseq.txt says how to build it")

OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "stats_reference.json"
# Agreement demanded of the libraries among themselves before a case is kept.
SELF_CHECK = 1e-12


def close(a, b, tol=SELF_CHECK):
    return abs(a - b) <= tol * max(abs(a), abs(b), 1e-300)


def f(x):
    return float(x)


# --- distributions ---------------------------------------------------------


def distribution_cases():
    dfs = [2, 3, 4, 5, 7.5, 30, 120, 999.5, 1000, 2500, 1e4, 1e5, 1e6, 1e8, 1e9]
    ts = [0.3, 1.5, 2.2, 4.0, 8.0, -2.2]
    ps = [0.001, 0.1, 0.9, 0.95, 0.975, 0.995, 0.9995]
    t_sf = [{"df": df, "t": t, "sf": f(stats.t.sf(t, df))} for df in dfs for t in ts]
    t_q = [{"df": df, "p": p, "quantile": f(stats.t.ppf(p, df))} for df in dfs for p in ps]
    normal_q = [{"p": p, "quantile": f(stats.norm.ppf(p))} for p in ps + [1e-10, 0.5 + 1e-3]]
    normal_sf = [{"z": z, "sf": f(stats.norm.sf(z))} for z in [-3.0, -0.5, 0.1, 1.96, 4.5, 9.0]]
    chi2 = [
        {"x": x, "df": df, "sf": f(stats.chi2.sf(x, df))}
        for df in [1, 2, 3, 5, 12]
        for x in [0.05, 1.0, 3.84, 11.0, 30.0]
    ]
    return {"t_sf": t_sf, "t_quantile": t_q, "normal_quantile": normal_q,
            "normal_sf": normal_sf, "chi_squared_sf": chi2, **t_far_tail_cases()}


def t_tail_asymptote(t, df):
    """Leading term of P(T > t) for large t, Γ((ν+1)/2)·ν^(ν/2 − 1) /
    (√π·Γ(ν/2)) · t^(−ν), in logarithms so that no power overflows."""
    log_c = (math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(math.pi)
             + (df / 2 - 1) * math.log(df))
    return math.exp(log_c - df * math.log(t))


def t_far_tail_cases():
    """Tails far beyond a usual alpha: the critical value of an analysis run
    at a tiny alpha, and |t| whose square overflows a double. A case is kept
    only where scipy agrees with a second route: the closed forms for 1 and
    2 degrees of freedom, the tail's leading term where the next one is
    negligible, or else the round trip through scipy's cdf."""
    dfs = [0.5, 1, 1.5, 2, 3, 7.5, 30, 999.5]
    tails, quantiles = [], []
    for df in dfs:
        for t in [1e20, 1e100, 1e160, 1e250]:
            sf = f(stats.t.sf(t, df))
            if sf > 0 and close(sf, second_route_sf(t, df)):
                tails.append({"df": df, "t": t, "sf": sf})
        for p in [1e-12, 1e-50, 1e-120, 1e-225, 1e-300]:
            q = f(stats.t.ppf(p, df))
            second = second_route_quantile(p, df, q)
            if math.isfinite(q) and math.isfinite(second) and close(q, second):
                quantiles.append({"df": df, "p": p, "quantile": q})
    return {"t_far_sf": tails, "t_far_quantile": quantiles}


def second_route_sf(t, df):
    if df == 1:
        return math.atan(1 / t) / math.pi
    if df == 2:
        root = t * math.sqrt(1 + 2 / (t * t))
        return 1 / ((root + t) * root)
    return t_tail_asymptote(t, df)


def second_route_quantile(p, df, q):
    if df == 1:
        return -1 / math.tan(math.pi * p)
    if df == 2:
        return (2 * p - 1) / math.sqrt(2 * p * (1 - p))
    if df * df / (q * q) < 1e-14:
        # Invert the leading term: t = (c / p)^(1/ν).
        log_t = (math.log(t_tail_asymptote(1.0, df)) - math.log(p)) / df
        return -math.exp(log_t) if log_t < math.log(sys.float_info.max) else -math.inf
    # No closed form: demand that scipy's cdf gives p back at q.
    return q if close(f(stats.t.cdf(q, df)), p, 1e-10) else math.nan


# --- Welch -----------------------------------------------------------------


def sufficient(values, weights):
    """n, Σx, Σx² of weighted data, exactly, then rounded once to float."""
    n = sum(int(w) for w in weights)
    s = sum(Fraction(float(v)) * int(w) for v, w in zip(values, weights))
    ss = sum(Fraction(float(v)) ** 2 * int(w) for v, w in zip(values, weights))
    return {"n": n, "sum": float(s), "sum_sq": float(ss)}


def from_sufficient(m):
    """Mean and sample sd implied exactly by the (float) sufficient stats."""
    n, s, ss = m["n"], Fraction(m["sum"]), Fraction(m["sum_sq"])
    mean = s / n
    var = (ss - s * s / n) / (n - 1)
    return float(mean), math.sqrt(float(var))


def delta_lift(mc, vc, mt, vt, alpha):
    """Relative lift mt/mc − 1 with a delta-method interval, the gradient
    taken by complex-step differentiation rather than by formula."""
    h = 1e-30
    g = lambda c, t: t / c - 1.0
    d_c = (g(complex(mc, h), mt)).imag / h
    d_t = (g(mc, complex(mt, h))).imag / h
    se = math.sqrt(d_c * d_c * vc + d_t * d_t * vt)
    z = stats.norm.ppf(1 - alpha / 2)
    lift = g(mc, mt)
    return lift, [lift - z * se, lift + z * se]


def welch_case(name, control, treatment, alpha):
    """control/treatment: (values, weights)."""
    a, b = sufficient(*control), sufficient(*treatment)
    dc = DescrStatsW(np.asarray(control[0], float), weights=np.asarray(control[1], float))
    dt = DescrStatsW(np.asarray(treatment[0], float), weights=np.asarray(treatment[1], float))
    cm = CompareMeans(dt, dc)
    t, p, df = cm.ttest_ind(usevar="unequal")
    ci = cm.tconfint_diff(alpha=alpha, usevar="unequal")
    ma, sa = from_sufficient(a)
    mb, sb = from_sufficient(b)
    t2, p2 = stats.ttest_ind_from_stats(mb, sb, b["n"], ma, sa, a["n"], equal_var=False)
    assert close(t, t2, 1e-9) and close(p, p2, 1e-9), (name, t, t2, p, p2)
    lift, lift_ci = delta_lift(ma, sa**2 / a["n"], mb, sb**2 / b["n"], alpha)
    return {
        "name": name, "alpha": alpha, "control": a, "treatment": b,
        "t": f(t), "df": f(df), "p_value": f(p), "ci": [f(ci[0]), f(ci[1])],
        "relative_lift": lift, "relative_lift_ci": lift_ci,
        "control_mean_ci": [f(x) for x in dc.tconfint_mean(alpha=alpha)],
        "treatment_mean_ci": [f(x) for x in dt.tconfint_mean(alpha=alpha)],
    }


def welch_cases(rng):
    ones = lambda k: [1] * k
    cases = []
    a = rng.normal(0.70, 0.10, 3)
    b = rng.normal(0.80, 0.25, 3)
    cases.append(welch_case("df about 2, n 3 vs 3", (a, ones(3)), (b, ones(3)), 0.05))
    a = rng.normal(0.60, 0.05, 4)
    b = rng.normal(0.75, 0.20, 5)
    cases.append(welch_case("small df, unequal variances", (a, ones(4)), (b, ones(5)), 0.05))
    a = rng.normal(10.0, 2.0, 6)
    b = rng.normal(12.0, 2.5, 6)
    cases.append(welch_case("df about 10, 90% level", (a, ones(6)), (b, ones(6)), 0.10))
    a = rng.gamma(2.0, 1.5, 40)
    b = rng.gamma(2.0, 1.8, 170)
    cases.append(welch_case("skewed, unequal sizes", (a, ones(40)), (b, ones(170)), 0.01))
    a = rng.normal(0.5, 1.0, 300_000)
    b = rng.normal(0.505, 1.3, 700_000)
    cases.append(welch_case("df about 1e6", (a, ones(len(a))), (b, ones(len(b))), 0.05))
    # Two- and three-point data with huge weights stand for ~1e9 observations.
    control = ([0.0, 1.0], [200_000_000, 300_000_000])
    treatment = ([0.0, 1.0, 2.0], [199_980_000, 299_990_000, 30_000])
    cases.append(welch_case("df about 1e9", control, treatment, 0.05))
    return cases


# --- session-level ratio ---------------------------------------------------


def simulate_sessions(rng, sessions, rate, size_mean):
    """Per-request data with a per-session effect, so requests correlate."""
    sizes = 1 + rng.poisson(size_mean, sessions)
    effect = rng.normal(0.0, 0.15, sessions)
    rows, groups = [], []
    for i, m in enumerate(sizes):
        p = min(max(rate + effect[i], 0.01), 0.99)
        rows.extend(rng.normal(p, 0.2, m))
        groups.extend([i] * m)
    return np.asarray(rows), np.asarray(groups), sizes


def session_sums(y, groups, sizes):
    totals = np.bincount(groups, weights=y)
    fs = math.fsum
    return {
        "sessions": int(len(sizes)),
        "sum_y": fs(totals), "sum_y_sq": fs(totals * totals),
        "sum_m": float(sizes.sum()), "sum_m_sq": float((sizes * sizes).sum()),
        "sum_ym": fs(totals * sizes),
    }


def cluster_ratio(y, groups):
    """Per-request mean and its session-clustered variance from statsmodels:
    OLS on a constant with cluster-robust errors (small-sample factor
    G/(G−1); the (N−1)/(N−K) factor is 1 with one regressor)."""
    fit = OLS(y, np.ones((len(y), 1))).fit(
        cov_type="cluster", cov_kwds={"groups": groups, "use_correction": True})
    return f(fit.params[0]), f(fit.bse[0]) ** 2


def ratio_cases(rng):
    cases = []
    for name, (ns, rates, sizes, alpha) in {
        "2 arms, 400 sessions each": ((400, 400), (0.70, 0.72), (2.0, 2.0), 0.05),
        "unequal sizes and session lengths": ((250, 900), (0.60, 0.66), (1.0, 4.0), 0.05),
        "large, 99% level": ((5000, 5200), (0.80, 0.80), (3.0, 3.0), 0.01),
    }.items():
        arms = []
        for n, rate, size in zip(ns, rates, sizes):
            y, g, m = simulate_sessions(rng, n, rate, size)
            ratio, var = cluster_ratio(y, g)
            arms.append((session_sums(y, g, m), ratio, var))
        (sc, rc, vc), (st, rt, vt) = arms
        diff, se = rt - rc, math.sqrt(vc + vt)
        z = diff / se
        q = stats.norm.ppf(1 - alpha / 2)
        cases.append({
            "name": name, "alpha": alpha, "control": sc, "treatment": st,
            "control_ratio": rc, "control_variance": vc,
            "treatment_ratio": rt, "treatment_variance": vt,
            "difference": diff, "z": z, "p_value": f(2 * stats.norm.sf(abs(z))),
            "ci": [diff - q * se, diff + q * se],
        })
    return cases


# --- yes/no metrics ----------------------------------------------------------


def proportion_cases():
    cases = []
    for xc, nc, xt, nt, alpha in [(420, 500, 455, 520, 0.05), (3, 1000, 9, 1100, 0.05),
                                  (8_500_000, 10_000_000, 8_503_100, 10_000_000, 0.01),
                                  (45, 60, 30, 55, 0.10)]:
        z, p = proportions_ztest([xt, xc], [nt, nc])
        lo, hi = confint_proportions_2indep(xt, nt, xc, nc, method="wald",
                                            compare="diff", alpha=alpha)
        pc, pt = xc / nc, xt / nt
        lift, lift_ci = delta_lift(pc, pc * (1 - pc) / nc, pt, pt * (1 - pt) / nt, alpha)
        cases.append({
            "alpha": alpha, "control": {"n": nc, "successes": xc},
            "treatment": {"n": nt, "successes": xt},
            "z": f(z), "p_value": f(p), "ci": [f(lo), f(hi)],
            "relative_lift": lift, "relative_lift_ci": lift_ci,
            "control_wilson": [f(x) for x in proportion_confint(xc, nc, alpha, "wilson")],
            "treatment_wilson": [f(x) for x in proportion_confint(xt, nt, alpha, "wilson")],
        })
    return cases


def arms_chi_squared_cases():
    cases = []
    for arms, yates in [([(500, 420), (520, 455)], False), ([(50, 20), (50, 30)], True),
                        ([(1000, 120), (980, 131), (1020, 97), (1005, 140)], False),
                        ([(10_000, 8_500), (10_100, 8_700), (9_900, 8_350)], False)]:
        table = np.array([[s, n - s] for n, s in arms])
        chi2, p, dof, _ = stats.chi2_contingency(table, correction=yates)
        cases.append({"arms": [{"n": n, "successes": s} for n, s in arms], "yates": yates,
                      "chi_squared": f(chi2), "df": f(dof), "p_value": f(p)})
    return cases


# --- sample ratio mismatch -------------------------------------------------


def srm_cases():
    cases = []
    for name, phases in {
        "even split, small gap": [[("A", 0.5, 5050), ("B", 0.5, 4950)]],
        "three arms, uneven split": [[("A", 0.5, 10_210), ("B", 0.25, 4_940), ("C", 0.25, 5_003)]],
        "ramp 90/10 then 50/50": [[("A", 0.9, 9_120), ("B", 0.1, 1_007)],
                                  [("A", 0.5, 20_400), ("B", 0.5, 20_020)]],
        "broken: 52/48 on 20000": [[("A", 0.5, 10_400), ("B", 0.5, 9_600)]],
    }.items():
        fits, total, dof = [], 0.0, 0
        for arms in phases:
            obs = np.array([a[2] for a in arms], float)
            share = np.array([a[1] for a in arms], float)
            expected = obs.sum() * share / share.sum()
            chi2, p = stats.chisquare(obs, f_exp=expected)
            fits.append({"chi_squared": f(chi2), "df": len(arms) - 1, "p_value": f(p)})
            total += f(chi2)
            dof += len(arms) - 1
        p_all = f(stats.chi2.sf(total, dof))
        cases.append({
            "name": name,
            "phases": [[{"variant": v, "expected_share": w, "sessions": s} for v, w, s in arms]
                       for arms in phases],
            "phase_fits": fits, "chi_squared": total, "df": dof, "srm_p_value": p_all,
            "mismatch": p_all < 0.001,
        })
    return cases


# --- multiplicity ------------------------------------------------------------


def multiple_cases(rng):
    cases = []
    for k in [2, 4, 7, 20]:
        p = np.concatenate([rng.uniform(0, 0.02, k // 2), rng.uniform(0, 1, k - k // 2)])
        rng.shuffle(p)
        cases.append({
            "p_values": [f(x) for x in p],
            "holm": [f(x) for x in multipletests(p, method="holm")[1]],
            "benjamini_hochberg": [f(x) for x in multipletests(p, method="fdr_bh")[1]],
        })
    return cases


# --- sample size -------------------------------------------------------------


def sample_size_cases():
    props = []
    for baseline, mde, alpha, power in [(0.85, 0.03, 0.05, 0.8), (0.10, 0.01, 0.05, 0.9),
                                        (0.50, -0.05, 0.01, 0.8), (0.02, 0.005, 0.1, 0.95)]:
        n = samplesize_proportions_2indep_onetail(mde, baseline, power, ratio=1, alpha=alpha,
                                                  alternative="two-sided")
        props.append({"baseline": baseline, "mde": mde, "alpha": alpha, "power": power,
                      "exact": f(n), "per_variant": math.ceil(n)})
    means = []
    for sd, mde, alpha, power in [(1.0, 0.1, 0.05, 0.8), (0.25, 0.02, 0.01, 0.9),
                                  (40.0, 3.0, 0.05, 0.95)]:
        n = normal_sample_size_one_tail(mde, power, alpha / 2, std_null=math.sqrt(2) * sd)
        # NormalIndPower also counts the far tail; it must round to the same n.
        n_power = NormalIndPower().solve_power(effect_size=mde / sd, alpha=alpha, power=power)
        assert math.ceil(n) == math.ceil(n_power), (n, n_power)
        means.append({"sd": sd, "mde": mde, "alpha": alpha, "power": power,
                      "exact": f(n), "per_variant": math.ceil(n)})
    return {"proportions": props, "means": means}


# --- sequential --------------------------------------------------------------


def sequential_cases():
    """Boundary and log-mixture straight from confseq's two-sided normal
    mixture, and the engine's mapping of a difference of means onto it:
    S = n·Δ̂, V = n²·Var(Δ̂), V_opt = n*·n·Var(Δ̂)."""
    raw = []
    for v, v_opt, alpha, s in [(10.0, 100.0, 0.05, 3.0), (1e3, 1e3, 0.05, 80.0),
                               (5e5, 1e4, 0.01, 4e3), (2.0, 1e6, 0.10, 0.5)]:
        raw.append({"v": v, "v_opt": v_opt, "alpha": alpha, "s": s,
                    "bound": f(normal_mixture_bound(v, alpha, v_opt, alpha, False)),
                    "log_mixture": f(normal_log_mixture(s, v, v_opt, alpha, False))})
    tests = []
    for diff, var, n, tuning, alpha in [(0.02, 1e-4, 500.0, 10_000, 0.05),
                                        (-0.5, 0.04, 60.0, 100, 0.05),
                                        (0.002, 2e-7, 2e6, 50_000, 0.01),
                                        (0.3, 0.01, 1000.0, 1000, 0.05)]:
        s, v, v_opt = n * diff, n * n * var, tuning * n * var
        log_m = f(normal_log_mixture(s, v, v_opt, alpha, False))
        half = f(normal_mixture_bound(v, alpha, v_opt, alpha, False)) / n
        tests.append({"difference": diff, "variance": var, "n": n, "tuning_n": tuning,
                      "alpha": alpha, "p_value": min(1.0, math.exp(-log_m)),
                      "ci": [diff - half, diff + half]})
    return {"boundaries": raw, "tests": tests}


def main():
    rng = np.random.default_rng(20240611)
    reference = {
        "generated_by": "scripts/stats_reference.py",
        "versions": {"python": sys.version.split()[0], "numpy": np.__version__,
                     "scipy": scipy.__version__, "statsmodels": statsmodels.__version__,
                     "confseq": metadata.version("confseq")},
        "distributions": distribution_cases(),
        "welch": welch_cases(rng),
        "ratio": ratio_cases(rng),
        "proportions": proportion_cases(),
        "arms_chi_squared": arms_chi_squared_cases(),
        "srm": srm_cases(),
        "multiple": multiple_cases(rng),
        "sample_size": sample_size_cases(),
        "sequential": sequential_cases(),
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(reference, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
