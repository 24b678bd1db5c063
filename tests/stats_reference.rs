//! The statistics engine against reference values computed independently
//! with scipy, statsmodels and confseq by `scripts/stats_reference.py`
//! (committed as `tests/data/stats_reference.json`).
//!
//! Every figure must agree to 1e-9 relative. Interval endpoints are
//! compared relative to the interval's own magnitude, so an endpoint that
//! happens to sit near zero is not held to an impossible standard.

use bedrock_tuner::stats::dist;
use bedrock_tuner::stats::estimate::relative_lift;
use bedrock_tuner::stats::multiple::{benjamini_hochberg, holm};
use bedrock_tuner::stats::proportion::{arms_chi_squared, two_proportion_test, wilson_interval};
use bedrock_tuner::stats::ratio::{ratio_estimate, ratio_test};
use bedrock_tuner::stats::sample_size::{for_means, for_proportions};
use bedrock_tuner::stats::sequential::{
    log_mixture, mixture_boundary, mixture_variance, sequential_test,
};
use bedrock_tuner::stats::srm::{ArmCount, srm_check};
use bedrock_tuner::stats::summary::{BinaryCounts, Moments, SessionSums};
use bedrock_tuner::stats::welch::{mean_interval, welch_test};

mod stats_reference_cases;

use stats_reference_cases::{CountsIn, MomentsIn, REFERENCE, SumsIn};

const TOLERANCE: f64 = 1e-9;

/// Relative error of `actual` against `expected`.
fn relative(actual: f64, expected: f64) -> f64 {
    if actual == expected {
        0.0
    } else {
        (actual - expected).abs() / expected.abs().max(f64::MIN_POSITIVE)
    }
}

fn check(actual: f64, expected: f64, what: &str) {
    let error = relative(actual, expected);
    assert!(
        error <= TOLERANCE,
        "{what}: got {actual:e}, reference {expected:e}, relative error {error:e}"
    );
}

fn check_interval(actual: [f64; 2], expected: [f64; 2], what: &str) {
    let scale = expected[0].abs().max(expected[1].abs());
    for (a, e) in actual.iter().zip(expected) {
        let error = (a - e).abs() / scale;
        assert!(
            error <= TOLERANCE,
            "{what}: got {actual:?}, reference {expected:?}, relative error {error:e}"
        );
    }
}

fn moments(m: &MomentsIn) -> Moments {
    Moments {
        n: m.n,
        sum: m.sum,
        sum_sq: m.sum_sq,
    }
}

fn sums(s: &SumsIn) -> SessionSums {
    SessionSums {
        sessions: s.sessions,
        sum_y: s.sum_y,
        sum_y_sq: s.sum_y_sq,
        sum_m: s.sum_m,
        sum_m_sq: s.sum_m_sq,
        sum_ym: s.sum_ym,
    }
}

fn counts(c: &CountsIn) -> BinaryCounts {
    BinaryCounts {
        trials: c.n,
        successes: c.successes,
    }
}

#[test]
fn students_t_tail_and_quantile_from_df_2_to_1e9() {
    for case in &REFERENCE.distributions.t_sf {
        let what = format!("t sf(t = {}, df = {})", case.t, case.df);
        check(dist::students_t_sf(case.t, case.df), case.sf, &what);
    }
    for case in &REFERENCE.distributions.t_quantile {
        let what = format!("t quantile(p = {}, df = {})", case.p, case.df);
        check(
            dist::students_t_quantile(case.p, case.df),
            case.quantile,
            &what,
        );
    }
}

/// Where an analysis at a tiny alpha takes its critical value, and |t|
/// whose square overflows a double: statrs panicked, hung or returned a
/// zero tail here.
#[test]
fn students_t_far_tails_from_df_half_to_999() {
    let d = &REFERENCE.distributions;
    assert!(d.t_far_sf.len() >= 8 && d.t_far_quantile.len() >= 25);
    for case in &d.t_far_sf {
        let what = format!("far t sf(t = {:e}, df = {})", case.t, case.df);
        check(dist::students_t_sf(case.t, case.df), case.sf, &what);
    }
    for case in &d.t_far_quantile {
        let what = format!("far t quantile(p = {:e}, df = {})", case.p, case.df);
        check(
            dist::students_t_quantile(case.p, case.df),
            case.quantile,
            &what,
        );
    }
}

#[test]
fn normal_and_chi_squared() {
    let d = &REFERENCE.distributions;
    for case in &d.normal_quantile {
        let what = format!("normal quantile({})", case.p);
        check(dist::normal_quantile(case.p), case.quantile, &what);
    }
    for case in &d.normal_sf {
        check(
            dist::normal_sf(case.z),
            case.sf,
            &format!("normal sf({})", case.z),
        );
    }
    for case in &d.chi_squared_sf {
        let what = format!("chi-squared sf({}, df = {})", case.x, case.df);
        check(dist::chi_squared_sf(case.x, case.df), case.sf, &what);
    }
}

#[test]
fn welch_matches_statsmodels_and_scipy() {
    for case in &REFERENCE.welch {
        let (c, t) = (moments(&case.control), moments(&case.treatment));
        let w = welch_test(&c, &t, case.alpha).expect(&case.name);
        check(w.t, case.t, &format!("{}: t", case.name));
        check(w.df, case.df, &format!("{}: df", case.name));
        check(w.p_value, case.p_value, &format!("{}: p", case.name));
        check_interval(w.ci, case.ci, &format!("{}: ci", case.name));
        let (ce, te) = (
            c.estimate().expect("control"),
            t.estimate().expect("treatment"),
        );
        let lift = relative_lift(&ce, &te, case.alpha).expect("lift");
        check(
            lift.estimate,
            case.relative_lift,
            &format!("{}: lift", case.name),
        );
        check_interval(
            lift.ci,
            case.relative_lift_ci,
            &format!("{}: lift ci", case.name),
        );
        let control_ci = mean_interval(&c, case.alpha).expect("control ci");
        check_interval(
            control_ci,
            case.control_mean_ci,
            &format!("{}: control ci", case.name),
        );
        let treatment_ci = mean_interval(&t, case.alpha).expect("treatment ci");
        let what = format!("{}: treatment ci", case.name);
        check_interval(treatment_ci, case.treatment_mean_ci, &what);
    }
}

#[test]
fn session_ratio_matches_cluster_robust_ols() {
    for case in &REFERENCE.ratio {
        let c = ratio_estimate(&sums(&case.control)).expect(&case.name);
        let t = ratio_estimate(&sums(&case.treatment)).expect(&case.name);
        check(
            c.mean,
            case.control_ratio,
            &format!("{}: control ratio", case.name),
        );
        check(
            t.mean,
            case.treatment_ratio,
            &format!("{}: treatment ratio", case.name),
        );
        let what = format!("{}: control variance", case.name);
        check(c.variance_of_mean, case.control_variance, &what);
        let what = format!("{}: treatment variance", case.name);
        check(t.variance_of_mean, case.treatment_variance, &what);
        let test = ratio_test(&c, &t, case.alpha).expect(&case.name);
        check(test.z, case.z, &format!("{}: z", case.name));
        check(test.p_value, case.p_value, &format!("{}: p", case.name));
        check_interval(test.ci, case.ci, &format!("{}: ci", case.name));
    }
}

#[test]
fn two_proportions_match_statsmodels() {
    for (i, case) in REFERENCE.proportions.iter().enumerate() {
        let (c, t) = (counts(&case.control), counts(&case.treatment));
        let test = two_proportion_test(&c, &t, case.alpha).expect("test");
        check(test.z, case.z, &format!("case {i}: z"));
        check(test.p_value, case.p_value, &format!("case {i}: p"));
        check_interval(test.ci, case.ci, &format!("case {i}: ci"));
        let (ce, te) = (
            c.estimate().expect("control"),
            t.estimate().expect("treatment"),
        );
        let lift = relative_lift(&ce, &te, case.alpha).expect("lift");
        check(
            lift.estimate,
            case.relative_lift,
            &format!("case {i}: lift"),
        );
        check_interval(
            lift.ci,
            case.relative_lift_ci,
            &format!("case {i}: lift ci"),
        );
        let wilson = wilson_interval(&c, case.alpha).expect("wilson");
        check_interval(
            wilson,
            case.control_wilson,
            &format!("case {i}: control wilson"),
        );
        let wilson = wilson_interval(&t, case.alpha).expect("wilson");
        check_interval(
            wilson,
            case.treatment_wilson,
            &format!("case {i}: treatment wilson"),
        );
    }
}

#[test]
fn chi_squared_over_arms_matches_scipy() {
    for (i, case) in REFERENCE.arms_chi_squared.iter().enumerate() {
        let arms: Vec<BinaryCounts> = case.arms.iter().map(counts).collect();
        let test = arms_chi_squared(&arms, case.yates).expect("test");
        check(
            test.chi_squared,
            case.chi_squared,
            &format!("case {i}: chi-squared"),
        );
        check(test.df, case.df, &format!("case {i}: df"));
        check(test.p_value, case.p_value, &format!("case {i}: p"));
    }
}

#[test]
fn sample_ratio_mismatch_matches_scipy() {
    for case in &REFERENCE.srm {
        let phases: Vec<(String, Vec<ArmCount>)> = case
            .phases
            .iter()
            .enumerate()
            .map(|(i, arms)| {
                let arms = arms
                    .iter()
                    .map(|a| ArmCount {
                        variant: a.variant.clone(),
                        expected_share: a.expected_share,
                        sessions: a.sessions,
                    })
                    .collect();
                (format!("phase {i}"), arms)
            })
            .collect();
        let srm = srm_check(&phases, 0.001).expect(&case.name);
        for (fit, expected) in srm.phases.iter().zip(&case.phase_fits) {
            check(fit.chi_squared, expected.chi_squared, &case.name);
            check(fit.df, expected.df, &case.name);
            check(fit.p_value, expected.p_value, &case.name);
        }
        check(
            srm.chi_squared,
            case.chi_squared,
            &format!("{}: total", case.name),
        );
        check(srm.df, case.df, &format!("{}: df", case.name));
        check(
            srm.srm_p_value,
            case.srm_p_value,
            &format!("{}: p", case.name),
        );
        assert_eq!(srm.mismatch, case.mismatch, "{}", case.name);
    }
}

#[test]
fn holm_and_benjamini_hochberg_match_statsmodels() {
    for case in &REFERENCE.multiple {
        let k = case.p_values.len();
        for (a, e) in holm(&case.p_values).iter().zip(&case.holm) {
            check(*a, *e, &format!("holm, {k} tests"));
        }
        let bh = benjamini_hochberg(&case.p_values);
        for (a, e) in bh.iter().zip(&case.benjamini_hochberg) {
            check(*a, *e, &format!("BH, {k} tests"));
        }
    }
}

#[test]
fn sample_sizes_match_statsmodels() {
    for case in &REFERENCE.sample_size.proportions {
        let size = for_proportions(case.baseline, case.mde, case.alpha, case.power).expect("size");
        check(
            size.exact,
            case.exact,
            &format!("proportions {}", case.baseline),
        );
        assert_eq!(size.per_variant, case.per_variant);
    }
    for case in &REFERENCE.sample_size.means {
        let size = for_means(case.sd, case.mde, case.alpha, case.power).expect("size");
        check(size.exact, case.exact, &format!("means sd {}", case.sd));
        assert_eq!(size.per_variant, case.per_variant);
    }
}

#[test]
fn the_required_planning_example_gives_2036() {
    let size = for_proportions(0.85, 0.03, 0.05, 0.8).expect("size");
    assert_eq!(size.per_variant, 2036);
}

#[test]
fn normal_mixture_matches_confseq() {
    for case in &REFERENCE.sequential.boundaries {
        let rho = mixture_variance(case.v_opt, case.alpha);
        let what = format!("boundary at v = {}", case.v);
        check(mixture_boundary(case.v, rho, case.alpha), case.bound, &what);
        let what = format!("log mixture at v = {}", case.v);
        check(log_mixture(case.s, case.v, rho), case.log_mixture, &what);
    }
    for case in &REFERENCE.sequential.tests {
        let test = sequential_test(
            case.difference,
            case.variance,
            case.n,
            case.tuning_n,
            case.alpha,
        )
        .expect("sequential");
        let what = format!("sequential at n = {}", case.n);
        check(test.p_value, case.p_value, &what);
        check_interval(test.ci, case.ci, &what);
    }
}
