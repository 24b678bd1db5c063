//! Simulations with fixed seeds that check the engine's error rates, not
//! just its arithmetic: false positives under continuous monitoring,
//! power at the planned sample size, and the coverage of intervals.
//!
//! Pass bounds were fixed before the first run, from theory: a rate whose
//! true value is r, estimated from R runs, has standard deviation
//! √(r(1 − r)/R), and each bound sits at least 3.5 of those away from the
//! value theory predicts. Run with `--nocapture` to see the measured rates.
//!
//! Normal data are added a batch at a time from their sufficient
//! statistics, so each look costs the same whatever the batch size. The
//! generator is rand's SmallRng (xoshiro), fast enough in a debug build;
//! its stream is fixed for a given rand version, which Cargo.lock pins.

use std::collections::BTreeMap;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use bedrock_tuner::stats::analyze;
use bedrock_tuner::stats::report::{Action, Comparison, ComparisonFigures};
use bedrock_tuner::stats::sample_size::{for_means, for_proportions};
use bedrock_tuner::stats::summary::{
    AnalysisOptions, BinaryCounts, ExperimentSummary, MetricSummary, Moments, RequestLevel,
    SessionSums, VariantSummary,
};
use bedrock_tuner::stats::{proportion, ratio, welch};

const ALPHA: f64 = 0.05;

/// Standard normal by Box–Muller.
fn normal(rng: &mut SmallRng) -> f64 {
    let u1 = 1.0 - rng.random::<f64>();
    let u2 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Gamma(shape, 1) for shape ≥ 1 by Marsaglia and Tsang's squeeze method.
fn gamma(rng: &mut SmallRng, shape: f64) -> f64 {
    let d = shape - 1.0 / 3.0;
    let c = 1.0 / (9.0 * d).sqrt();
    loop {
        let x = normal(rng);
        let v = (1.0 + c * x).powi(3);
        if v <= 0.0 {
            continue;
        }
        let u = 1.0 - rng.random::<f64>();
        if u.ln() < 0.5 * x * x + d - d * v + d * v.ln() {
            return d * v;
        }
    }
}

/// Poisson by multiplying uniforms (fine for small means).
fn poisson(rng: &mut SmallRng, mean: f64) -> u64 {
    let limit = (-mean).exp();
    let (mut k, mut product) = (0, rng.random::<f64>());
    while product > limit {
        k += 1;
        product *= rng.random::<f64>();
    }
    k
}

/// Adds `batch` draws of N(mean, sd²) to `m` without drawing them one by
/// one: the batch sum is normal, and the centred sum of squares is an
/// independent sd²·χ²(batch − 1).
fn add_normal_batch(rng: &mut SmallRng, m: &mut Moments, batch: u64, mean: f64, sd: f64) {
    let b = batch as f64;
    let sum = b * mean + sd * b.sqrt() * normal(rng);
    let centred = sd * sd * 2.0 * gamma(rng, (b - 1.0) / 2.0);
    m.n += batch;
    m.sum += sum;
    m.sum_sq += centred + sum * sum / b;
}

fn empty_moments() -> Moments {
    Moments {
        n: 0,
        sum: 0.0,
        sum_sq: 0.0,
    }
}

/// A two-arm experiment on one continuous request-level metric, one
/// request per session.
fn summary_of(control: Moments, treatment: Moments) -> ExperimentSummary {
    let variant = |name: &str, m: Moments| VariantSummary {
        name: name.to_string(),
        expected_share: 0.5,
        sessions: m.n,
        requests: Some(m.n),
        metrics: BTreeMap::from([(
            "score".to_string(),
            MetricSummary {
                requests: Some(RequestLevel::Continuous(m)),
                sessions: None,
            },
        )]),
    };
    ExperimentSummary {
        control: "A".to_string(),
        variants: vec![variant("A", control), variant("B", treatment)],
        srm_phases: Vec::new(),
    }
}

/// What one look at the report says about B.
struct Look {
    fixed_rejects: bool,
    sequential_rejects: bool,
}

fn look(summary: &ExperimentSummary, options: &AnalysisOptions) -> Look {
    let report = analyze(summary, options);
    let b = &report.variants[1];
    let figures: Option<&ComparisonFigures> =
        b.metrics[0]
            .request_level
            .as_ref()
            .and_then(|l| match &l.comparison {
                Some(Comparison::Ok(f)) => Some(f.as_ref()),
                _ => None,
            });
    let action = b.recommendation.as_ref().map(|r| r.action);
    Look {
        fixed_rejects: figures.is_some_and(|f| f.p_value < options.alpha),
        sequential_rejects: matches!(action, Some(Action::Promote | Action::RollBack)),
    }
}

/// Fraction of `runs` where `hit` holds.
fn rate(hits: usize, runs: usize) -> f64 {
    hits as f64 / runs as f64
}

#[test]
fn peeking_inflates_fixed_horizon_false_positives_but_not_sequential_ones() {
    const RUNS: usize = 5000;
    const LOOKS: u64 = 20;
    const BATCH: u64 = 100;
    let options = AnalysisOptions {
        sequential_tuning_n: LOOKS * BATCH,
        ..AnalysisOptions::default()
    };
    let mut rng = SmallRng::seed_from_u64(0x5eed_0001);
    let (mut fixed_any, mut sequential_any, mut fixed_last) = (0, 0, 0);
    for _ in 0..RUNS {
        let (mut a, mut b) = (empty_moments(), empty_moments());
        let (mut fixed, mut sequential) = (false, false);
        for k in 1..=LOOKS {
            add_normal_batch(&mut rng, &mut a, BATCH, 0.7, 0.2);
            add_normal_batch(&mut rng, &mut b, BATCH, 0.7, 0.2);
            let seen = look(&summary_of(a, b), &options);
            fixed |= seen.fixed_rejects;
            sequential |= seen.sequential_rejects;
            if k == LOOKS && seen.fixed_rejects {
                fixed_last += 1;
            }
        }
        fixed_any += usize::from(fixed);
        sequential_any += usize::from(sequential);
    }
    let (fixed_any, sequential_any) = (rate(fixed_any, RUNS), rate(sequential_any, RUNS));
    let fixed_last = rate(fixed_last, RUNS);
    println!(
        "A/A, {RUNS} runs, {LOOKS} looks of {BATCH} per arm: false positives: \
         sequential {sequential_any:.4}, fixed-horizon peeked {fixed_any:.4}, \
         fixed-horizon at the last look only {fixed_last:.4}"
    );
    assert!(sequential_any <= ALPHA, "sequential FPR {sequential_any}");
    assert!(fixed_any >= 0.10, "peeked fixed-horizon FPR {fixed_any}");
    assert!(
        (0.034..=0.066).contains(&fixed_last),
        "single-look FPR {fixed_last}"
    );
}

#[test]
fn power_at_the_planned_sample_size_is_the_designed_power() {
    const RUNS: usize = 4000;
    const LOOKS: u64 = 20;
    let (sd, mde) = (1.0, 0.1);
    let planned = for_means(sd, mde, ALPHA, 0.8).expect("plan").per_variant;
    // Looks every tenth of the plan, out to twice the plan.
    let batch = planned.div_ceil(10);
    let options = AnalysisOptions {
        sequential_tuning_n: planned,
        ..AnalysisOptions::default()
    };
    let mut rng = SmallRng::seed_from_u64(0x5eed_0002);
    let (mut fixed_at_plan, mut sequential_by_plan, mut sequential_by_double) = (0, 0, 0);
    for _ in 0..RUNS {
        let (mut a, mut b) = (empty_moments(), empty_moments());
        let mut rejected_at = None;
        for k in 1..=LOOKS {
            add_normal_batch(&mut rng, &mut a, batch, 0.0, sd);
            add_normal_batch(&mut rng, &mut b, batch, mde, sd);
            let seen = look(&summary_of(a, b), &options);
            if seen.sequential_rejects && rejected_at.is_none() {
                rejected_at = Some(k);
            }
            if k == 10 && seen.fixed_rejects {
                fixed_at_plan += 1;
            }
        }
        sequential_by_plan += usize::from(rejected_at.is_some_and(|k| k <= 10));
        sequential_by_double += usize::from(rejected_at.is_some());
    }
    let fixed = rate(fixed_at_plan, RUNS);
    let by_plan = rate(sequential_by_plan, RUNS);
    let by_double = rate(sequential_by_double, RUNS);
    println!(
        "effect = mde, plan {planned} per arm ({RUNS} runs): power fixed-horizon at the plan \
         {fixed:.4}; sequential (looks every {batch}) by the plan {by_plan:.4}, \
         by twice the plan {by_double:.4}"
    );
    // The plan rounds 10 looks of `batch` up from `planned`, a hair of extra power.
    assert!(
        (0.77..=0.835).contains(&fixed),
        "fixed-horizon power {fixed}"
    );
    // Theory: the boundary at the plan is about ±3.03 standard errors
    // instead of ±1.96, so about 0.42 of the runs cross by then, and about
    // 0.83 by twice the plan.
    assert!(
        (0.33..=0.55).contains(&by_plan),
        "sequential power by the plan {by_plan}"
    );
    assert!(
        (0.75..=0.92).contains(&by_double),
        "sequential power by 2x {by_double}"
    );
}

#[test]
fn two_proportion_power_at_the_planned_size() {
    const RUNS: usize = 4000;
    let planned = for_proportions(0.85, 0.03, ALPHA, 0.8)
        .expect("plan")
        .per_variant;
    let mut rng = SmallRng::seed_from_u64(0x5eed_0003);
    let mut draw = |p: f64| {
        let successes = (0..planned).filter(|_| rng.random::<f64>() < p).count() as u64;
        BinaryCounts {
            trials: planned,
            successes,
        }
    };
    let mut rejections = 0;
    for _ in 0..RUNS {
        let (a, b) = (draw(0.85), draw(0.88));
        let test = proportion::two_proportion_test(&a, &b, ALPHA).expect("test");
        rejections += usize::from(test.p_value < ALPHA);
    }
    let power = rate(rejections, RUNS);
    println!("0.85 -> 0.88 with {planned} per arm ({RUNS} runs): power {power:.4}");
    assert!((0.77..=0.83).contains(&power), "power {power}");
}

#[test]
fn welch_interval_covers_with_few_unequal_observations() {
    const RUNS: usize = 4000;
    let mut rng = SmallRng::seed_from_u64(0x5eed_0004);
    let mut covered = 0;
    for _ in 0..RUNS {
        let (mut a, mut b) = (empty_moments(), empty_moments());
        add_normal_batch(&mut rng, &mut a, 8, 1.0, 1.0);
        add_normal_batch(&mut rng, &mut b, 20, 1.5, 3.0);
        let test = welch::welch_test(&a, &b, ALPHA).expect("test");
        covered += usize::from(test.ci[0] <= 0.5 && 0.5 <= test.ci[1]);
    }
    let coverage = rate(covered, RUNS);
    println!("Welch 95% interval, n 8 (sd 1) vs 20 (sd 3), {RUNS} runs: coverage {coverage:.4}");
    assert!((0.935..=0.965).contains(&coverage), "coverage {coverage}");
}

/// Sessions of 1 + Poisson(2) requests sharing a session effect, returning
/// the session sums and the naive request-level moments of the same data.
fn simulate_arm(rng: &mut SmallRng, sessions: u64, mean: f64) -> (SessionSums, Moments) {
    let mut sums = SessionSums {
        sessions,
        sum_y: 0.0,
        sum_y_sq: 0.0,
        sum_m: 0.0,
        sum_m_sq: 0.0,
        sum_ym: 0.0,
    };
    let mut requests = empty_moments();
    for _ in 0..sessions {
        let m = 1 + poisson(rng, 2.0);
        let session_mean = mean + 0.15 * normal(rng);
        let mut y = 0.0;
        for _ in 0..m {
            let x = session_mean + 0.2 * normal(rng);
            y += x;
            requests.sum_sq += x * x;
        }
        let m = m as f64;
        requests.n += m as u64;
        requests.sum += y;
        sums.sum_y += y;
        sums.sum_y_sq += y * y;
        sums.sum_m += m;
        sums.sum_m_sq += m * m;
        sums.sum_ym += y * m;
    }
    (sums, requests)
}

#[test]
fn session_ratio_interval_covers_where_the_request_level_one_does_not() {
    const RUNS: usize = 4000;
    const SESSIONS: u64 = 400;
    let (mean_a, mean_b) = (0.70, 0.73);
    let truth = mean_b - mean_a;
    let mut rng = SmallRng::seed_from_u64(0x5eed_0005);
    let (mut session_covered, mut request_covered) = (0, 0);
    for _ in 0..RUNS {
        let (sa, ra) = simulate_arm(&mut rng, SESSIONS, mean_a);
        let (sb, rb) = simulate_arm(&mut rng, SESSIONS, mean_b);
        let ea = ratio::ratio_estimate(&sa).expect("control");
        let eb = ratio::ratio_estimate(&sb).expect("treatment");
        let ci = ratio::ratio_test(&ea, &eb, ALPHA).expect("test").ci;
        session_covered += usize::from(ci[0] <= truth && truth <= ci[1]);
        let ci = welch::welch_test(&ra, &rb, ALPHA).expect("test").ci;
        request_covered += usize::from(ci[0] <= truth && truth <= ci[1]);
    }
    let session = rate(session_covered, RUNS);
    let request = rate(request_covered, RUNS);
    println!(
        "clustered sessions ({SESSIONS} per arm, {RUNS} runs): 95% coverage \
         session-level delta method {session:.4}, request-level Welch {request:.4}"
    );
    assert!(
        (0.935..=0.965).contains(&session),
        "session-level coverage {session}"
    );
    // Intra-session correlation about 0.36 with ~3.7 requests per session
    // roughly doubles the variance, so the naive interval covers about 84%.
    assert!(request <= 0.90, "request-level coverage {request}");
}
