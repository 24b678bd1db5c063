//! Session-level ratio metrics by the delta method.
//!
//! Sessions are what the router randomises, and the requests of one
//! session share a user, a task and a conversation, so they are not
//! independent draws. A per-request metric is therefore estimated as
//! R = Σy / Σm over sessions (y a session's metric total, m its request
//! count), and its variance comes from the session-level sums alone:
//!
//! Var(R̂) ≈ Σ(yᵢ − R·mᵢ)² / ((n − 1)·n·m̄²),
//! with Σ(yᵢ − R·mᵢ)² = Σy² − 2R·Σym + R²·Σm².
//!
//! This is the first-order Taylor expansion of ȳ/m̄, and it equals the
//! cluster-robust (by session) variance of a per-request regression on a
//! constant, with the usual n/(n − 1) small-sample factor.

use crate::stats::dist::{normal_critical, normal_two_sided_p};
use crate::stats::estimate::{MeanEstimate, Shortfall};
use crate::stats::summary::SessionSums;

/// z-test of two session-level ratios.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RatioTest {
    /// Difference of ratios, treatment − control.
    pub difference: f64,
    pub std_error: f64,
    pub z: f64,
    pub p_value: f64,
    /// Interval of the difference at confidence 1 − alpha.
    pub ci: [f64; 2],
}

/// The ratio Σy/Σm with its delta-method variance. Needs two sessions
/// and at least one request.
pub fn ratio_estimate(sums: &SessionSums) -> Result<MeanEstimate, Shortfall> {
    let all = [
        sums.sum_y,
        sums.sum_y_sq,
        sums.sum_m,
        sums.sum_m_sq,
        sums.sum_ym,
    ];
    if all.iter().any(|x| !x.is_finite()) || sums.sum_y_sq < 0.0 || sums.sum_m < 0.0 {
        return Err(Shortfall::InvalidInput);
    }
    if sums.sum_m == 0.0 {
        return Err(Shortfall::EmptyTreatment);
    }
    if sums.sessions < 2 {
        return Err(Shortfall::BelowMinimumSample);
    }
    let n = sums.sessions as f64;
    let ratio = sums.sum_y / sums.sum_m;
    let residual_sq = sums.sum_y_sq - 2.0 * ratio * sums.sum_ym + ratio * ratio * sums.sum_m_sq;
    // Cancellation can leave a tiny negative where the residuals are all zero.
    let scale = sums.sum_y_sq + ratio * ratio * sums.sum_m_sq;
    if residual_sq < -1e-9 * scale.max(f64::MIN_POSITIVE) {
        return Err(Shortfall::InvalidInput);
    }
    let variance_of_mean = n * residual_sq.max(0.0) / ((n - 1.0) * sums.sum_m * sums.sum_m);
    Ok(MeanEstimate {
        n: sums.sessions,
        mean: ratio,
        variance_of_mean,
    })
}

/// z-test and interval of treatment − control for two ratio estimates.
pub fn ratio_test(
    control: &MeanEstimate,
    treatment: &MeanEstimate,
    alpha: f64,
) -> Result<RatioTest, Shortfall> {
    let variance = control.variance_of_mean + treatment.variance_of_mean;
    if variance <= 0.0 || !variance.is_finite() {
        return Err(Shortfall::ZeroVariance);
    }
    let difference = treatment.mean - control.mean;
    let std_error = variance.sqrt();
    let z = difference / std_error;
    let half = normal_critical(alpha) * std_error;
    Ok(RatioTest {
        difference,
        std_error,
        z,
        p_value: normal_two_sided_p(z),
        ci: [difference - half, difference + half],
    })
}

/// Normal interval of one arm's ratio at confidence 1 − alpha.
pub fn ratio_interval(estimate: &MeanEstimate, alpha: f64) -> [f64; 2] {
    let half = normal_critical(alpha) * estimate.variance_of_mean.sqrt();
    [estimate.mean - half, estimate.mean + half]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sums_of(sessions: &[(f64, f64)]) -> SessionSums {
        let mut s = SessionSums {
            sessions: sessions.len() as u64,
            sum_y: 0.0,
            sum_y_sq: 0.0,
            sum_m: 0.0,
            sum_m_sq: 0.0,
            sum_ym: 0.0,
        };
        for &(y, m) in sessions {
            s.sum_y += y;
            s.sum_y_sq += y * y;
            s.sum_m += m;
            s.sum_m_sq += m * m;
            s.sum_ym += y * m;
        }
        s
    }

    #[test]
    fn one_request_per_session_is_the_plain_mean() {
        // With m = 1 everywhere the ratio is the mean of y and the variance
        // of the mean is s²/n.
        let e = ratio_estimate(&sums_of(&[(1.0, 1.0), (2.0, 1.0), (4.0, 1.0)]));
        let e = e.ok();
        assert!(e.is_some_and(|e| (e.mean - 7.0 / 3.0).abs() < 1e-12));
        assert!(e.is_some_and(|e| (e.variance_of_mean - 7.0 / 9.0).abs() < 1e-12));
    }

    #[test]
    fn proportional_sessions_have_no_variance() {
        // y = 0.5·m in every session: the ratio is known exactly.
        let e = ratio_estimate(&sums_of(&[(1.0, 2.0), (2.0, 4.0), (3.0, 6.0)]));
        assert!(e.is_ok_and(|e| e.variance_of_mean == 0.0 && e.mean == 0.5));
    }

    #[test]
    fn no_requests_is_an_empty_arm() {
        let e = ratio_estimate(&sums_of(&[(0.0, 0.0), (0.0, 0.0)]));
        assert_eq!(e, Err(Shortfall::EmptyTreatment));
    }
}
