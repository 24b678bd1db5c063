//! Always-valid inference on a difference of means: the two-sided
//! normal-mixture confidence sequence (Robbins' mixture; Howard, Ramdas,
//! McAuliffe and Sekhon 2021), the boundary behind the mixture sequential
//! probability ratio test of Johari, Pekelis and Walsh.
//!
//! A fixed-horizon p-value is valid once, at the planned sample size;
//! checking a dashboard every day and stopping at the first p < 0.05
//! inflates false positives several times over. Here the evidence is the
//! mixture martingale
//!
//! M(S, V) = √(ρ / (V + ρ)) · exp(S² / (2(V + ρ))),
//!
//! where S is the summed deviation from the null and V its variance
//! ("intrinsic time"). Under the null M has expectation 1 at every sample
//! size, so by Ville's inequality P(M ever exceeds 1/α) ≤ α: the p-value
//! 1/M and the interval {Δ : |S(Δ)| < √((V + ρ)(ln(1 + V/ρ) + 2 ln(1/α)))}
//! may be looked at after every request. Taking the running minimum of the
//! p-value, or the running intersection of the intervals, across looks
//! keeps that guarantee; each look's own figures are what is reported.
//!
//! The mixture variance ρ sets where the boundary is tightest. It is fixed
//! in advance from a tuning sample size n* by the closed-form near-optimum
//! of Howard et al., ρ = V(n*) / (2 ln(1/α) + ln(1 + 2 ln(1/α))).
//!
//! With n observations per arm and an estimate Δ̂ of variance σ²_Δ, the
//! per-observation variance is σ̂² = n·σ²_Δ, so S = n·Δ̂, V = n·σ̂² and
//! V(n*) = n*·σ̂². The variance is estimated, so coverage is asymptotic,
//! as for every z-test here.

use crate::stats::estimate::Shortfall;

/// Always-valid p-value and interval at the current look.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SequentialTest {
    /// min(1, 1/M): below alpha at any look means the null is rejected with
    /// the false-positive rate held at alpha however often one looks.
    pub p_value: f64,
    /// Confidence-sequence interval of the difference at this look.
    pub ci: [f64; 2],
    /// Observations per arm at which the boundary is tightest.
    pub tuning_n: u64,
}

/// ρ from the intrinsic time `v_opt` at which the boundary should be
/// tightest, for level alpha.
pub fn mixture_variance(v_opt: f64, alpha: f64) -> f64 {
    let log_inv = (1.0 / alpha).ln();
    v_opt / (2.0 * log_inv + (2.0 * log_inv).ln_1p())
}

/// ln M(S, V) of the two-sided normal mixture with mixture variance ρ.
pub fn log_mixture(s: f64, v: f64, rho: f64) -> f64 {
    0.5 * (rho / (v + rho)).ln() + s * s / (2.0 * (v + rho))
}

/// Largest |S| at intrinsic time `v` that does not cross the level-alpha
/// boundary.
pub fn mixture_boundary(v: f64, rho: f64, alpha: f64) -> f64 {
    ((v + rho) * ((v / rho).ln_1p() + 2.0 * (1.0 / alpha).ln())).sqrt()
}

/// Sequential test of a difference `difference` whose estimate has
/// variance `variance_of_difference`, after `n` observations per arm (the
/// mean of the two arms' counts), tuned at `tuning_n` per arm.
pub fn sequential_test(
    difference: f64,
    variance_of_difference: f64,
    n: f64,
    tuning_n: u64,
    alpha: f64,
) -> Result<SequentialTest, Shortfall> {
    if !difference.is_finite() || !variance_of_difference.is_finite() || tuning_n == 0 {
        return Err(Shortfall::InvalidInput);
    }
    if n.is_nan() || n < 1.0 {
        return Err(Shortfall::BelowMinimumSample);
    }
    if variance_of_difference <= 0.0 {
        return Err(Shortfall::ZeroVariance);
    }
    let unit_variance = n * variance_of_difference;
    let v = n * unit_variance;
    let rho = mixture_variance(tuning_n as f64 * unit_variance, alpha);
    let s = n * difference;
    let p_value = (-log_mixture(s, v, rho)).exp().min(1.0);
    let half = mixture_boundary(v, rho, alpha) / n;
    Ok(SequentialTest {
        p_value,
        ci: [difference - half, difference + half],
        tuning_n,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interval_and_the_p_value_agree() {
        // 0 sits on the interval's edge exactly when p = alpha.
        let alpha = 0.05;
        let (variance, n, tuning) = (0.02_f64, 400.0, 1000);
        let t = sequential_test(1.0, variance, n, tuning, alpha);
        let half = t.map(|t| t.ci[1] - 1.0).unwrap_or(f64::NAN);
        let edge = sequential_test(half, variance, n, tuning, alpha);
        assert!(edge.is_ok_and(|e| (e.p_value - alpha).abs() < 1e-9));
    }

    #[test]
    fn the_boundary_is_wider_than_the_fixed_horizon_one() {
        // The price of peeking: at any n the interval is wider than ±1.96σ.
        let t = sequential_test(0.0, 1.0, 100.0, 100, 0.05);
        assert!(t.is_ok_and(|t| t.ci[1] > 1.96 && t.p_value == 1.0));
    }

    #[test]
    fn no_variance_is_a_shortfall() {
        let t = sequential_test(0.3, 0.0, 50.0, 100, 0.05);
        assert_eq!(t, Err(Shortfall::ZeroVariance));
    }
}
