//! Sessions per variant needed before launch, for a two-sided test of
//! level alpha to reach the given power at the minimum detectable effect.

use serde::Serialize;
use thiserror::Error;

use crate::stats::dist::{normal_critical, normal_quantile};

/// Formula used for a difference of proportions.
pub const PROPORTION_FORMULA: &str = concat!(
    "two-proportion z-test, normal approximation with the pooled variance under H0 ",
    "(Fleiss, no continuity correction): ",
    "n = (z(1-alpha/2)*sqrt(2*pbar*(1-pbar)) + z(1-beta)*sqrt(p1*(1-p1) + p2*(1-p2)))^2",
    " / (p2-p1)^2, pbar = (p1+p2)/2"
);

/// Formula used for a difference of means.
pub const MEAN_FORMULA: &str = concat!(
    "two-sample z-test of means with a common standard deviation: ",
    "n = 2*(z(1-alpha/2) + z(1-beta))^2 * sd^2 / mde^2"
);

/// A required sample size and how it was obtained.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SampleSize {
    /// Observations per variant, rounded up.
    pub per_variant: u64,
    /// The formula's value before rounding.
    pub exact: f64,
    /// The formula, written out.
    pub formula: &'static str,
    pub alpha: f64,
    pub power: f64,
    /// Absolute minimum detectable effect.
    pub mde: f64,
}

/// Inputs the formulas cannot use.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum SampleSizeError {
    #[error("alpha must be strictly between 0 and 1, got {0}")]
    Alpha(f64),
    #[error("power must be strictly between 0 and 1, got {0}")]
    Power(f64),
    #[error("the minimum detectable effect must be a non-zero number, got {0}")]
    Effect(f64),
    #[error("the baseline rate must be strictly between 0 and 1, got {0}")]
    Baseline(f64),
    #[error("baseline + mde must stay strictly between 0 and 1, got {0}")]
    Target(f64),
    #[error("the standard deviation must be a positive number, got {0}")]
    StdDev(f64),
    #[error("the sample size does not fit in 64 bits")]
    TooLarge,
}

/// Per-variant sample size to detect a move of the rate from `baseline` to
/// `baseline + mde`.
pub fn for_proportions(
    baseline: f64,
    mde: f64,
    alpha: f64,
    power: f64,
) -> Result<SampleSize, SampleSizeError> {
    check_levels(alpha, power, mde)?;
    if !(baseline > 0.0 && baseline < 1.0) {
        return Err(SampleSizeError::Baseline(baseline));
    }
    let target = baseline + mde;
    if !(target > 0.0 && target < 1.0) {
        return Err(SampleSizeError::Target(target));
    }
    let mean = (baseline + target) / 2.0;
    let null_sd = (2.0 * mean * (1.0 - mean)).sqrt();
    let alt_sd = (baseline * (1.0 - baseline) + target * (1.0 - target)).sqrt();
    let (z_alpha, z_power) = quantiles(alpha, power);
    let exact = (z_alpha * null_sd + z_power * alt_sd).powi(2) / (mde * mde);
    finish(exact, PROPORTION_FORMULA, alpha, power, mde)
}

/// Per-variant sample size to detect a shift `mde` of a mean whose
/// standard deviation is `sd` in both arms.
pub fn for_means(sd: f64, mde: f64, alpha: f64, power: f64) -> Result<SampleSize, SampleSizeError> {
    check_levels(alpha, power, mde)?;
    if !(sd > 0.0 && sd.is_finite()) {
        return Err(SampleSizeError::StdDev(sd));
    }
    let (z_alpha, z_power) = quantiles(alpha, power);
    let exact = 2.0 * (z_alpha + z_power).powi(2) * sd * sd / (mde * mde);
    finish(exact, MEAN_FORMULA, alpha, power, mde)
}

fn check_levels(alpha: f64, power: f64, mde: f64) -> Result<(), SampleSizeError> {
    if !(alpha > 0.0 && alpha < 1.0) {
        return Err(SampleSizeError::Alpha(alpha));
    }
    if !(power > 0.0 && power < 1.0) {
        return Err(SampleSizeError::Power(power));
    }
    if mde == 0.0 || !mde.is_finite() {
        return Err(SampleSizeError::Effect(mde));
    }
    Ok(())
}

fn quantiles(alpha: f64, power: f64) -> (f64, f64) {
    (normal_critical(alpha), normal_quantile(power))
}

fn finish(
    exact: f64,
    formula: &'static str,
    alpha: f64,
    power: f64,
    mde: f64,
) -> Result<SampleSize, SampleSizeError> {
    let rounded = exact.ceil();
    if !rounded.is_finite() || rounded >= u64::MAX as f64 {
        return Err(SampleSizeError::TooLarge);
    }
    Ok(SampleSize {
        per_variant: rounded.max(1.0) as u64,
        exact,
        formula,
        alpha,
        power,
        mde: mde.abs(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_drop_needs_as_many_as_the_mirror_rise() {
        // Swapping p1 and p2 leaves every term of the formula unchanged.
        let up = for_proportions(0.85, 0.03, 0.05, 0.8).map(|s| s.exact);
        let down = for_proportions(0.88, -0.03, 0.05, 0.8).map(|s| s.exact);
        assert!(matches!((up, down), (Ok(u), Ok(d)) if (u - d).abs() < 1e-9));
    }

    #[test]
    fn bad_inputs_are_named() {
        assert_eq!(
            for_proportions(0.99, 0.02, 0.05, 0.8),
            Err(SampleSizeError::Target(0.99 + 0.02))
        );
        assert_eq!(
            for_means(1.0, 0.1, 0.05, 1.0),
            Err(SampleSizeError::Power(1.0))
        );
        assert_eq!(
            for_means(-1.0, 0.1, 0.05, 0.8),
            Err(SampleSizeError::StdDev(-1.0))
        );
    }
}
