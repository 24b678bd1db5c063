//! Welch's unequal-variance t-test on request-level means, and the
//! t interval of one mean.

use crate::stats::dist::{students_t_critical, students_t_two_sided_p};
use crate::stats::estimate::{MeanEstimate, Shortfall};
use crate::stats::summary::Moments;

/// Welch's t-test of treatment − control.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WelchTest {
    /// Difference of means, treatment − control.
    pub difference: f64,
    /// √(s_c²/n_c + s_t²/n_t).
    pub std_error: f64,
    pub t: f64,
    /// Welch–Satterthwaite degrees of freedom.
    pub df: f64,
    /// Two-sided p-value from the t distribution with `df`.
    pub p_value: f64,
    /// Interval of the difference at confidence 1 − alpha.
    pub ci: [f64; 2],
}

/// Welch's test from the two arms' sums. Needs two observations per arm
/// and some variation in at least one of them.
pub fn welch_test(
    control: &Moments,
    treatment: &Moments,
    alpha: f64,
) -> Result<WelchTest, Shortfall> {
    if control.n == 0 {
        return Err(Shortfall::EmptyControl);
    }
    if treatment.n == 0 {
        return Err(Shortfall::EmptyTreatment);
    }
    let c = control.estimate()?;
    let t = treatment.estimate()?;
    welch_from_estimates(&c, &t, alpha)
}

/// Welch's test from two means with their variances of the mean.
pub fn welch_from_estimates(
    control: &MeanEstimate,
    treatment: &MeanEstimate,
    alpha: f64,
) -> Result<WelchTest, Shortfall> {
    let vc = control.variance_of_mean;
    let vt = treatment.variance_of_mean;
    let variance = vc + vt;
    if variance <= 0.0 || !variance.is_finite() {
        return Err(Shortfall::ZeroVariance);
    }
    let df = satterthwaite_df(vc, control.n, vt, treatment.n);
    let difference = treatment.mean - control.mean;
    let std_error = variance.sqrt();
    let t = difference / std_error;
    let half = students_t_critical(alpha, df) * std_error;
    Ok(WelchTest {
        difference,
        std_error,
        t,
        df,
        p_value: students_t_two_sided_p(t, df),
        ci: [difference - half, difference + half],
    })
}

/// Welch–Satterthwaite: (v_c + v_t)² / (v_c²/(n_c−1) + v_t²/(n_t−1)),
/// with v the variance of each mean. An arm with no spread adds nothing to
/// the denominator, so the df falls back to the other arm's n − 1.
fn satterthwaite_df(vc: f64, nc: u64, vt: f64, nt: u64) -> f64 {
    let part = |v: f64, n: u64| {
        if v == 0.0 {
            0.0
        } else {
            v * v / (n as f64 - 1.0)
        }
    };
    let total = vc + vt;
    total * total / (part(vc, nc) + part(vt, nt))
}

/// t interval of one arm's mean at confidence 1 − alpha.
pub fn mean_interval(moments: &Moments, alpha: f64) -> Option<[f64; 2]> {
    let estimate = moments.estimate().ok()?;
    let df = moments.n as f64 - 1.0;
    let half = students_t_critical(alpha, df) * estimate.variance_of_mean.sqrt();
    Some([estimate.mean - half, estimate.mean + half])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_sizes_and_variances_give_the_pooled_df() {
        // With equal n and s², Welch's df is 2(n − 1).
        let a = Moments {
            n: 10,
            sum: 10.0,
            sum_sq: 19.0,
        };
        let b = Moments {
            n: 10,
            sum: 20.0,
            sum_sq: 49.0,
        };
        let w = welch_test(&a, &b, 0.05);
        assert!(w.is_ok_and(|w| (w.df - 18.0).abs() < 1e-9));
    }

    #[test]
    fn constant_arms_are_zero_variance_not_a_p_value() {
        let a = Moments {
            n: 10,
            sum: 10.0,
            sum_sq: 10.0,
        };
        let b = Moments {
            n: 10,
            sum: 20.0,
            sum_sq: 40.0,
        };
        assert_eq!(welch_test(&a, &b, 0.05), Err(Shortfall::ZeroVariance));
    }

    #[test]
    fn a_tiny_alpha_gives_the_cauchy_width_not_a_panic() {
        // Two observations, 1 df: the critical value is the Cauchy
        // quantile 1/tan(π·α/2). This alpha once made statrs panic.
        let alpha = 2.013905735604339e-225;
        let m = Moments {
            n: 2,
            sum: 3.0,
            sum_sq: 5.0,
        };
        let ci = mean_interval(&m, alpha).unwrap_or([f64::NAN; 2]);
        let se = (0.5f64 / 2.0).sqrt();
        let half = se / (std::f64::consts::PI * alpha / 2.0).tan();
        assert!(((ci[1] - 1.5) / half - 1.0).abs() < 1e-12, "{ci:?}");
        assert!(((1.5 - ci[0]) / half - 1.0).abs() < 1e-12, "{ci:?}");
    }

    #[test]
    fn empty_control_is_named() {
        let a = Moments {
            n: 0,
            sum: 0.0,
            sum_sq: 0.0,
        };
        let b = Moments {
            n: 10,
            sum: 20.0,
            sum_sq: 49.0,
        };
        assert_eq!(welch_test(&a, &b, 0.05), Err(Shortfall::EmptyControl));
    }
}
