//! One arm of one metric at one level: its own estimate, and its
//! comparison with the control by the test that fits the data.

use crate::stats::estimate::{MeanEstimate, Shortfall, relative_lift};
use crate::stats::proportion::{two_proportion_test, wilson_interval};
use crate::stats::ratio::{ratio_estimate, ratio_interval, ratio_test};
use crate::stats::report::{
    Comparison, ComparisonFigures, InsufficientData, LevelReport, Method, SequentialFigures,
};
use crate::stats::sequential::sequential_test;
use crate::stats::summary::{RequestLevel, SessionSums};
use crate::stats::welch::{mean_interval, welch_test};

/// The per-comparison settings taken from the analysis options.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub alpha: f64,
    pub min_sample: u64,
    pub tuning_n: u64,
}

/// What an arm is compared with.
#[derive(Debug)]
pub enum Baseline<'a, T> {
    /// The arm is the control itself: it gets an estimate, no comparison.
    IsControl,
    /// The control's figures for the same metric and level, `None` when the
    /// control does not report them.
    Control(Option<&'a T>),
}

// Only references inside, so copyable whatever `T` is (a derive would
// demand `T: Copy`).
impl<T> Clone for Baseline<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Baseline<'_, T> {}

impl<'a, T> Baseline<'a, T> {
    /// The same baseline, one level down (metric to session or request).
    pub fn map<U>(self, part: impl FnOnce(&'a T) -> Option<&'a U>) -> Baseline<'a, U> {
        match self {
            Baseline::IsControl => Baseline::IsControl,
            Baseline::Control(control) => Baseline::Control(control.and_then(part)),
        }
    }

    fn control(self) -> Option<Option<&'a T>> {
        match self {
            Baseline::IsControl => None,
            Baseline::Control(control) => Some(control),
        }
    }
}

/// Test statistics that differ between methods.
struct Statistic {
    difference: f64,
    ci: [f64; 2],
    std_error: f64,
    t: Option<f64>,
    df: Option<f64>,
    z: Option<f64>,
    p_value: f64,
}

/// Session-level report of `arm`.
pub fn session_level(
    arm: &SessionSums,
    baseline: Baseline<'_, SessionSums>,
    settings: &Settings,
) -> LevelReport {
    let own = ratio_estimate(arm).ok();
    let comparison = baseline.control().map(|control| {
        let control_n = control.map_or(0, |c| c.sessions);
        outcome(control_n, arm.sessions, settings, || {
            let c = control.ok_or(Shortfall::EmptyControl)?;
            let c = ratio_estimate(c).map_err(Shortfall::for_control)?;
            let t = ratio_estimate(arm)?;
            let test = ratio_test(&c, &t, settings.alpha)?;
            let statistic = Statistic {
                difference: test.difference,
                ci: test.ci,
                std_error: test.std_error,
                t: None,
                df: None,
                z: Some(test.z),
                p_value: test.p_value,
            };
            Ok(figures(&c, &t, statistic, settings))
        })
    });
    LevelReport {
        method: Method::DeltaMethodRatioZ,
        n: arm.sessions,
        mean: own.map(|e| e.mean),
        ci: own.map(|e| ratio_interval(&e, settings.alpha)),
        comparison,
    }
}

/// Request-level report of `arm`.
pub fn request_level(
    arm: &RequestLevel,
    baseline: Baseline<'_, RequestLevel>,
    settings: &Settings,
) -> LevelReport {
    let comparison = baseline.control().map(|control| {
        let control_n = control.map_or(0, observations);
        outcome(control_n, observations(arm), settings, || {
            let c = control.ok_or(Shortfall::EmptyControl)?;
            compare_requests(c, arm, settings)
        })
    });
    let (method, mean, ci) = match arm {
        RequestLevel::Continuous(m) => (Method::WelchT, m.mean(), mean_interval(m, settings.alpha)),
        RequestLevel::Binary(b) => (
            Method::TwoProportionZ,
            b.estimate().ok().map(|e| e.mean),
            wilson_interval(b, settings.alpha),
        ),
    };
    LevelReport {
        method,
        n: observations(arm),
        mean,
        ci,
        comparison,
    }
}

fn compare_requests(
    control: &RequestLevel,
    arm: &RequestLevel,
    settings: &Settings,
) -> Result<ComparisonFigures, Shortfall> {
    let alpha = settings.alpha;
    match (control, arm) {
        (RequestLevel::Continuous(c), RequestLevel::Continuous(t)) => {
            let test = welch_test(c, t, alpha)?;
            let statistic = Statistic {
                difference: test.difference,
                ci: test.ci,
                std_error: test.std_error,
                t: Some(test.t),
                df: Some(test.df),
                z: None,
                p_value: test.p_value,
            };
            let c = c.estimate().map_err(Shortfall::for_control)?;
            Ok(figures(&c, &t.estimate()?, statistic, settings))
        }
        (RequestLevel::Binary(c), RequestLevel::Binary(t)) => {
            let test = two_proportion_test(c, t, alpha)?;
            let statistic = Statistic {
                difference: test.difference,
                ci: test.ci,
                std_error: test.std_error,
                t: None,
                df: None,
                z: Some(test.z),
                p_value: test.p_value,
            };
            let c = c.estimate().map_err(Shortfall::for_control)?;
            Ok(figures(&c, &t.estimate()?, statistic, settings))
        }
        // A metric that is yes/no in one arm and real-valued in the other.
        _ => Err(Shortfall::InvalidInput),
    }
}

/// Observations behind a request-level figure.
fn observations(level: &RequestLevel) -> u64 {
    match level {
        RequestLevel::Continuous(m) => m.n,
        RequestLevel::Binary(b) => b.trials,
    }
}

/// Runs `test` once both arms have data and the minimum sample; otherwise,
/// or when the test itself finds a shortfall, reports insufficient data.
fn outcome(
    control_n: u64,
    treatment_n: u64,
    settings: &Settings,
    test: impl FnOnce() -> Result<ComparisonFigures, Shortfall>,
) -> Comparison {
    let gate = if control_n == 0 {
        Err(Shortfall::EmptyControl)
    } else if treatment_n == 0 {
        Err(Shortfall::EmptyTreatment)
    } else if control_n.min(treatment_n) < settings.min_sample {
        Err(Shortfall::BelowMinimumSample)
    } else {
        Ok(())
    };
    match gate.and_then(|()| test()) {
        Ok(figures) => Comparison::Ok(Box::new(figures)),
        Err(reason) => Comparison::InsufficientData(InsufficientData {
            reason,
            control_n,
            treatment_n,
            min_sample: settings.min_sample,
        }),
    }
}

/// Adds the relative lift and the sequential figures, which every method
/// computes the same way from the two estimates.
fn figures(
    control: &MeanEstimate,
    treatment: &MeanEstimate,
    statistic: Statistic,
    settings: &Settings,
) -> ComparisonFigures {
    let lift = relative_lift(control, treatment, settings.alpha).ok();
    let per_arm = (control.n as f64 + treatment.n as f64) / 2.0;
    let variance = control.variance_of_mean + treatment.variance_of_mean;
    let sequential = sequential_test(
        statistic.difference,
        variance,
        per_arm,
        settings.tuning_n,
        settings.alpha,
    )
    .ok()
    .map(|s| SequentialFigures {
        p_value: s.p_value,
        ci: s.ci,
        tuning_n: s.tuning_n,
    });
    ComparisonFigures {
        difference: statistic.difference,
        ci: statistic.ci,
        std_error: statistic.std_error,
        t: statistic.t,
        df: statistic.df,
        z: statistic.z,
        p_value: statistic.p_value,
        relative_lift: lift.map(|l| l.estimate),
        relative_lift_ci: lift.map(|l| l.ci),
        sequential,
        adjusted: None,
    }
}
