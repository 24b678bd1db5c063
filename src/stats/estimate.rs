//! Point estimates with their sampling variance, the reasons a test cannot
//! be run, and the relative lift between two estimates.

use std::fmt;

use serde::Serialize;

use crate::stats::dist::normal_critical;
use crate::stats::summary::Moments;

/// Why a comparison has no p-value. Reported as an explicit state with the
/// counts behind it, so a thin experiment never shows a misleading number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Shortfall {
    /// The control has no observations for this metric.
    EmptyControl,
    /// The treatment has no observations for this metric.
    EmptyTreatment,
    /// An arm has fewer observations than the configured minimum.
    BelowMinimumSample,
    /// Every observation in both arms is the same, so there is no spread
    /// to test against.
    ZeroVariance,
    /// The control's mean is zero, so a relative lift is undefined.
    ZeroControlMean,
    /// The sums cannot come from real data (negative squares, successes
    /// above trials, non-finite values).
    InvalidInput,
}

impl fmt::Display for Shortfall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Shortfall::EmptyControl => "the control has no observations",
            Shortfall::EmptyTreatment => "the treatment has no observations",
            Shortfall::BelowMinimumSample => "below the minimum sample",
            Shortfall::ZeroVariance => "no variation in either arm",
            Shortfall::ZeroControlMean => "the control mean is zero",
            Shortfall::InvalidInput => "the sums are inconsistent",
        })
    }
}

impl Shortfall {
    /// Single-arm estimators report an arm without data as
    /// `EmptyTreatment`; when that arm is the control, this renames it.
    pub fn for_control(self) -> Shortfall {
        match self {
            Shortfall::EmptyTreatment => Shortfall::EmptyControl,
            other => other,
        }
    }
}

/// An estimated mean (or proportion, or ratio) and the variance of that
/// estimate, i.e. the squared standard error.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeanEstimate {
    pub n: u64,
    pub mean: f64,
    pub variance_of_mean: f64,
}

// The estimators of `Moments` live here, beside the estimate type they
// produce; `summary` keeps only the input shape.
impl Moments {
    /// Mean of the observations, `None` when there are none.
    pub fn mean(&self) -> Option<f64> {
        (self.n > 0).then(|| self.sum / self.n as f64)
    }

    /// Unbiased sample variance from the sums. Rounding can push a zero
    /// variance slightly negative; that is clamped, while a clearly
    /// negative one means the sums are not from one data set.
    pub fn sample_variance(&self) -> Result<f64, Shortfall> {
        if !self.sum.is_finite() || !self.sum_sq.is_finite() || self.sum_sq < 0.0 {
            return Err(Shortfall::InvalidInput);
        }
        if self.n < 2 {
            return Err(Shortfall::BelowMinimumSample);
        }
        let n = self.n as f64;
        let centred = self.sum_sq - self.sum * self.sum / n;
        if centred < -1e-9 * self.sum_sq.max(f64::MIN_POSITIVE) {
            return Err(Shortfall::InvalidInput);
        }
        Ok(centred.max(0.0) / (n - 1.0))
    }

    /// The mean with the variance of the mean, s²/n.
    pub fn estimate(&self) -> Result<MeanEstimate, Shortfall> {
        let variance = self.sample_variance()?;
        let n = self.n as f64;
        Ok(MeanEstimate {
            n: self.n,
            mean: self.sum / n,
            variance_of_mean: variance / n,
        })
    }
}

/// Relative lift of treatment over control, μ_t/μ_c − 1, with a
/// delta-method interval at confidence 1 − alpha.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RelativeLift {
    pub estimate: f64,
    pub std_error: f64,
    pub ci: [f64; 2],
}

/// The arms are independent, so the delta method gives
/// Var(μ̂_t/μ̂_c) ≈ Var(μ̂_t)/μ_c² + μ_t²·Var(μ̂_c)/μ_c⁴.
pub fn relative_lift(
    control: &MeanEstimate,
    treatment: &MeanEstimate,
    alpha: f64,
) -> Result<RelativeLift, Shortfall> {
    let c = control.mean;
    if c == 0.0 || !c.is_finite() {
        return Err(Shortfall::ZeroControlMean);
    }
    let t = treatment.mean;
    let c2 = c * c;
    let variance = treatment.variance_of_mean / c2 + t * t * control.variance_of_mean / (c2 * c2);
    let std_error = variance.sqrt();
    let estimate = t / c - 1.0;
    let half = normal_critical(alpha) * std_error;
    Ok(RelativeLift {
        estimate,
        std_error,
        ci: [estimate - half, estimate + half],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variance_from_sums_matches_the_definition() {
        // 1, 2, 4: mean 7/3, variance ((4/3)² + (1/3)² + (5/3)²)/2 = 7/3
        let m = Moments {
            n: 3,
            sum: 7.0,
            sum_sq: 21.0,
        };
        let v = m.sample_variance().ok();
        assert!(v.is_some_and(|v| (v - 7.0 / 3.0).abs() < 1e-12));
    }

    #[test]
    fn impossible_sums_are_rejected() {
        // Σx² < (Σx)²/n contradicts Cauchy–Schwarz.
        let m = Moments {
            n: 4,
            sum: 4.0,
            sum_sq: 1.0,
        };
        assert_eq!(m.sample_variance(), Err(Shortfall::InvalidInput));
        let nan = Moments {
            n: 4,
            sum: f64::NAN,
            sum_sq: 1.0,
        };
        assert_eq!(nan.sample_variance(), Err(Shortfall::InvalidInput));
    }

    #[test]
    fn lift_needs_a_nonzero_control() {
        let zero = MeanEstimate {
            n: 5,
            mean: 0.0,
            variance_of_mean: 1.0,
        };
        let some = MeanEstimate {
            n: 5,
            mean: 1.0,
            variance_of_mean: 1.0,
        };
        assert_eq!(
            relative_lift(&zero, &some, 0.05),
            Err(Shortfall::ZeroControlMean)
        );
    }
}
