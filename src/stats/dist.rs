//! Tail probabilities and quantiles of the normal, Student's t and
//! chi-squared distributions, accurate over every degree of freedom the
//! engine can meet.
//!
//! statrs is used where it is accurate (see [`normal_sf`] for the one
//! place where a different statrs function is the accurate route). Below
//! [`LARGE_DF`] the t distribution is computed in [`exact_t`] from statrs'
//! incomplete beta function, whose log-gamma prefactor loses digits as the
//! degrees of freedom grow (relative error near 1e-10 at 1e6 df), while
//! statrs' own t quantile is off from a few thousand df (7% at 1e7) and
//! does not return at 1e8. From [`LARGE_DF`] on, the t tail therefore uses
//! Hill's normalising transformation (ACM Algorithm 395) and the t
//! quantile the Cornish–Fisher expansion in powers of 1/df; both are at
//! machine precision there and tend to the normal as df grows.

use statrs::distribution::{ChiSquared, ContinuousCDF, Normal};
use statrs::function::gamma;

mod exact_t;

/// Degrees of freedom from which the asymptotic t formulas replace statrs.
/// Both agree with exact values to about 1e-14 already at this point.
pub const LARGE_DF: f64 = 1000.0;

/// Upper tail P(Z > z) of the standard normal.
///
/// Computed as ½·Q(½, z²/2), the regularised upper incomplete gamma
/// function, which statrs evaluates to about 1e-15 relative, rather than
/// through its `erfc`, which is off by up to 1e-10 relative.
pub fn normal_sf(z: f64) -> f64 {
    if z.is_nan() {
        return f64::NAN;
    }
    if z.is_infinite() {
        return if z > 0.0 { 0.0 } else { 1.0 };
    }
    let half_square = z * z / 2.0;
    // statrs refuses x = 0 (and z² can underflow to it): the tail is ½ there.
    if half_square == 0.0 {
        return 0.5;
    }
    let tail = if z > 0.0 {
        gamma::checked_gamma_ur(0.5, half_square)
    } else {
        gamma::checked_gamma_lr(0.5, half_square).map(|lower| 1.0 + lower)
    };
    tail.map_or(f64::NAN, |t| 0.5 * t)
}

/// Two-sided p-value of a standard normal statistic.
pub fn normal_two_sided_p(z: f64) -> f64 {
    (2.0 * normal_sf(z.abs())).min(1.0)
}

/// Quantile of the standard normal; NaN outside (0, 1).
pub fn normal_quantile(p: f64) -> f64 {
    if p > 0.0 && p < 1.0 {
        Normal::standard().inverse_cdf(p)
    } else {
        f64::NAN
    }
}

/// Critical value of a two-sided normal test of level `alpha`, z(1 − α/2),
/// taken from the lower tail so that a tiny alpha keeps its digits.
pub fn normal_critical(alpha: f64) -> f64 {
    -normal_quantile(alpha / 2.0)
}

/// Upper tail P(T > t) of Student's t with `df` degrees of freedom.
/// NaN for df that is not positive.
pub fn students_t_sf(t: f64, df: f64) -> f64 {
    if df.is_nan() || df <= 0.0 || t.is_nan() {
        return f64::NAN;
    }
    if df < LARGE_DF {
        return exact_t::upper_tail(t, df);
    }
    let z = hill_normal_deviate(t.abs(), df);
    if t >= 0.0 {
        normal_sf(z)
    } else {
        normal_sf(-z)
    }
}

/// Two-sided p-value of a t statistic.
pub fn students_t_two_sided_p(t: f64, df: f64) -> f64 {
    (2.0 * students_t_sf(t.abs(), df)).min(1.0)
}

/// Quantile of Student's t with `df` degrees of freedom; NaN outside (0, 1)
/// or for df that is not positive.
pub fn students_t_quantile(p: f64, df: f64) -> f64 {
    if !(p > 0.0 && p < 1.0) || df.is_nan() || df <= 0.0 {
        return f64::NAN;
    }
    if df < LARGE_DF {
        return exact_t::quantile(p, df);
    }
    cornish_fisher_t_quantile(normal_quantile(p), df)
}

/// Critical value of a two-sided t test of level `alpha`, t(1 − α/2, df),
/// from the lower tail as in [`normal_critical`].
pub fn students_t_critical(alpha: f64, df: f64) -> f64 {
    -students_t_quantile(alpha / 2.0, df)
}

/// Upper tail of the chi-squared distribution with `df` degrees of freedom.
pub fn chi_squared_sf(x: f64, df: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    if x == f64::INFINITY {
        return 0.0;
    }
    ChiSquared::new(df).map_or(f64::NAN, |d| d.sf(x))
}

/// Maps |t| with `df` degrees of freedom to the normal deviate with the same
/// upper tail (Hill 1970, Algorithm 395). Infinite df is the normal itself.
fn hill_normal_deviate(t: f64, df: f64) -> f64 {
    if df.is_infinite() {
        return t;
    }
    let a = df - 0.5;
    let b = 48.0 * a * a;
    // ln(1 + t²/df) via ln_1p: t²/df is tiny when df is huge.
    let z = (a * (t * t / df).ln_1p()).sqrt();
    let z2 = z * z;
    let z4 = z2 * z2;
    let first = z * (z2 + 3.0) / b;
    let second =
        z * (((4.0 * z2 + 33.0) * z2 + 240.0) * z2 + 855.0) / (10.0 * b * (b + 0.8 * z4 + 100.0));
    z + first - second
}

/// t quantile from the normal quantile `z` by the Cornish–Fisher expansion
/// to the fourth power of 1/df (Abramowitz and Stegun 26.7.5).
fn cornish_fisher_t_quantile(z: f64, df: f64) -> f64 {
    if df.is_infinite() {
        return z;
    }
    let z2 = z * z;
    let g1 = z * (z2 + 1.0) / 4.0;
    let g2 = z * ((5.0 * z2 + 16.0) * z2 + 3.0) / 96.0;
    let g3 = z * (((3.0 * z2 + 19.0) * z2 + 17.0) * z2 - 15.0) / 384.0;
    let g4 = z * ((((79.0 * z2 + 776.0) * z2 + 1482.0) * z2 - 1920.0) * z2 - 945.0) / 92160.0;
    z + (g1 + (g2 + (g3 + g4 / df) / df) / df) / df
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_sides_of_the_large_df_switch_agree() {
        // statrs just below the switch and the asymptotic formulas just
        // above it describe nearly the same distribution.
        let below = students_t_sf(2.5, LARGE_DF - 1e-9);
        let above = students_t_sf(2.5, LARGE_DF);
        assert!((below / above - 1.0).abs() < 1e-10, "{below} vs {above}");
        let qb = students_t_quantile(0.975, LARGE_DF - 1e-9);
        let qa = students_t_quantile(0.975, LARGE_DF);
        assert!((qb / qa - 1.0).abs() < 1e-10, "{qb} vs {qa}");
    }

    #[test]
    fn infinite_df_is_the_normal() {
        assert_eq!(students_t_sf(1.7, f64::INFINITY), normal_sf(1.7));
        assert_eq!(
            students_t_quantile(0.9, f64::INFINITY),
            normal_quantile(0.9)
        );
    }

    #[test]
    fn a_zero_statistic_is_the_median() {
        assert_eq!(normal_sf(0.0), 0.5);
        assert_eq!(normal_sf(-1e-200), 0.5);
        assert_eq!(normal_two_sided_p(0.0), 1.0);
        assert_eq!(students_t_two_sided_p(0.0, 5e3), 1.0);
    }

    #[test]
    fn bad_arguments_give_nan_not_panics() {
        assert!(students_t_sf(1.0, 0.0).is_nan());
        assert!(students_t_quantile(1.0, 5.0).is_nan());
        assert!(normal_quantile(-0.1).is_nan());
        assert!(chi_squared_sf(1.0, 0.0).is_nan());
        assert_eq!(chi_squared_sf(f64::INFINITY, 3.0), 0.0);
    }

    #[test]
    fn negative_t_is_the_complement() {
        for df in [3.0, 5e4] {
            let s = students_t_sf(-1.3, df) + students_t_sf(1.3, df);
            assert!((s - 1.0).abs() < 1e-14);
        }
    }
}
