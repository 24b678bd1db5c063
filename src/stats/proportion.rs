//! Yes/no metrics: the pooled two-proportion z-test, the Wilson interval
//! of one proportion, and Pearson's chi-squared test over k arms.

use crate::stats::dist::{chi_squared_sf, normal_critical, normal_two_sided_p};
use crate::stats::estimate::{MeanEstimate, Shortfall};
use crate::stats::summary::BinaryCounts;

/// Pooled two-proportion z-test of treatment − control.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProportionTest {
    /// p_t − p_c.
    pub difference: f64,
    /// Unpooled standard error, used for the interval.
    pub std_error: f64,
    /// z from the pooled standard error, the one valid under H0: p_t = p_c.
    pub z: f64,
    pub p_value: f64,
    /// Wald interval of the difference at confidence 1 − alpha.
    pub ci: [f64; 2],
}

/// Pearson's chi-squared test of independence between arm and outcome.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChiSquaredTest {
    pub chi_squared: f64,
    pub df: f64,
    pub p_value: f64,
}

impl BinaryCounts {
    /// Proportion with its variance p(1 − p)/n.
    pub fn estimate(&self) -> Result<MeanEstimate, Shortfall> {
        if self.successes > self.trials {
            return Err(Shortfall::InvalidInput);
        }
        if self.trials == 0 {
            return Err(Shortfall::EmptyTreatment);
        }
        let n = self.trials as f64;
        let p = self.successes as f64 / n;
        Ok(MeanEstimate {
            n: self.trials,
            mean: p,
            variance_of_mean: p * (1.0 - p) / n,
        })
    }
}

/// Two-proportion z-test with the pooled variance under the null.
pub fn two_proportion_test(
    control: &BinaryCounts,
    treatment: &BinaryCounts,
    alpha: f64,
) -> Result<ProportionTest, Shortfall> {
    let c = control.estimate().map_err(Shortfall::for_control)?;
    let t = treatment.estimate()?;
    let (nc, nt) = (c.n as f64, t.n as f64);
    let pooled = (control.successes as f64 + treatment.successes as f64) / (nc + nt);
    let pooled_variance = pooled * (1.0 - pooled) * (1.0 / nc + 1.0 / nt);
    if pooled_variance <= 0.0 {
        return Err(Shortfall::ZeroVariance);
    }
    let difference = t.mean - c.mean;
    let z = difference / pooled_variance.sqrt();
    let std_error = (c.variance_of_mean + t.variance_of_mean).sqrt();
    let half = normal_critical(alpha) * std_error;
    Ok(ProportionTest {
        difference,
        std_error,
        z,
        p_value: normal_two_sided_p(z),
        ci: [difference - half, difference + half],
    })
}

/// Wilson score interval of one proportion at confidence 1 − alpha; it
/// stays inside [0, 1] and keeps its coverage near 0 and 1.
pub fn wilson_interval(counts: &BinaryCounts, alpha: f64) -> Option<[f64; 2]> {
    if counts.trials == 0 || counts.successes > counts.trials {
        return None;
    }
    let n = counts.trials as f64;
    let p = counts.successes as f64 / n;
    let z = normal_critical(alpha);
    let z2n = z * z / n;
    let centre = (p + z2n / 2.0) / (1.0 + z2n);
    let half = z / (1.0 + z2n) * (p * (1.0 - p) / n + z2n / (4.0 * n)).sqrt();
    Some([centre - half, centre + half])
}

/// Pearson's chi-squared over a 2 × k table (arms × success/failure).
/// `yates` applies the continuity correction, which only exists for 2 × 2
/// tables and is ignored otherwise; it never moves a cell past its
/// expected count.
pub fn arms_chi_squared(arms: &[BinaryCounts], yates: bool) -> Result<ChiSquaredTest, Shortfall> {
    if arms.len() < 2 {
        return Err(Shortfall::EmptyTreatment);
    }
    if arms.iter().any(|a| a.successes > a.trials) {
        return Err(Shortfall::InvalidInput);
    }
    if arms.iter().any(|a| a.trials == 0) {
        return Err(Shortfall::EmptyTreatment);
    }
    let total: f64 = arms.iter().map(|a| a.trials as f64).sum();
    let successes: f64 = arms.iter().map(|a| a.successes as f64).sum();
    let share = successes / total;
    if share == 0.0 || share == 1.0 {
        return Err(Shortfall::ZeroVariance);
    }
    let correct = yates && arms.len() == 2;
    let mut chi_squared = 0.0;
    for arm in arms {
        let n = arm.trials as f64;
        let observed = [arm.successes as f64, n - arm.successes as f64];
        let expected = [n * share, n * (1.0 - share)];
        for (o, e) in observed.iter().zip(expected) {
            let gap = (o - e).abs();
            let gap = if correct { (gap - 0.5).max(0.0) } else { gap };
            chi_squared += gap * gap / e;
        }
    }
    let df = (arms.len() - 1) as f64;
    Ok(ChiSquaredTest {
        chi_squared,
        df,
        p_value: chi_squared_sf(chi_squared, df),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(trials: u64, successes: u64) -> BinaryCounts {
        BinaryCounts { trials, successes }
    }

    #[test]
    fn two_arm_chi_squared_is_the_squared_pooled_z() {
        let (a, b) = (counts(500, 420), counts(520, 455));
        let z = two_proportion_test(&a, &b, 0.05).map(|t| t.z);
        let chi = arms_chi_squared(&[a, b], false).map(|t| t.chi_squared);
        match (z, chi) {
            (Ok(z), Ok(chi)) => assert!((z * z / chi - 1.0).abs() < 1e-12),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn yates_shrinks_the_statistic() {
        let arms = [counts(50, 20), counts(50, 30)];
        let plain = arms_chi_squared(&arms, false).map(|t| t.chi_squared);
        let yates = arms_chi_squared(&arms, true).map(|t| t.chi_squared);
        assert!(matches!((plain, yates), (Ok(p), Ok(y)) if y < p));
    }

    #[test]
    fn all_successes_is_zero_variance() {
        let r = two_proportion_test(&counts(10, 10), &counts(12, 12), 0.05);
        assert_eq!(r, Err(Shortfall::ZeroVariance));
    }

    #[test]
    fn empty_control_is_named() {
        let r = two_proportion_test(&counts(0, 0), &counts(12, 3), 0.05);
        assert_eq!(r, Err(Shortfall::EmptyControl));
    }

    #[test]
    fn wilson_stays_inside_the_unit_interval() {
        let ci = wilson_interval(&counts(20, 20), 0.05);
        assert!(ci.is_some_and(|[lo, hi]| lo > 0.8 && hi <= 1.0 + 1e-15));
    }
}
