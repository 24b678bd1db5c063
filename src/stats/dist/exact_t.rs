//! Student's t below [`super::LARGE_DF`] degrees of freedom, through the
//! regularised incomplete beta function, valid out to the far tails.
//!
//! statrs forms x = df/(df + t²), which overflows to a zero tail from
//! |t| ≈ 1e154, and its t quantile goes through an incomplete beta inverse
//! that panics or never returns for tail probabilities far below 1e-10.
//! Here the beta argument is kept in logarithms once it would underflow,
//! and the quantile is found by a bracketed Newton search on the tail,
//! which always ends.

use statrs::function::{beta, gamma};

/// Below this, x^a is the whole incomplete beta function to within the
/// precision of a double: the series' next term is x times smaller.
const TINY_BETA_ARGUMENT: f64 = 1e-300;

/// Upper tail P(T > t) for df in (0, LARGE_DF); NaN where statrs refuses.
pub fn upper_tail(t: f64, df: f64) -> f64 {
    if t < 0.0 {
        return 1.0 - upper_tail(-t, df);
    }
    let a = df / 2.0;
    let square = t * t;
    let x = df / (df + square);
    if square.is_finite() && x >= TINY_BETA_ARGUMENT {
        return beta::checked_beta_reg(a, 0.5, x).map_or(f64::NAN, |ib| 0.5 * ib);
    }
    let ln_x = -ln_1p_square_over_df(t, df);
    beta::checked_ln_beta(a, 0.5).map_or(f64::NAN, |ln_b| 0.5 * (a * ln_x - a.ln() - ln_b).exp())
}

/// Quantile for p in (0, 1) and df in (0, LARGE_DF). ±∞ when the answer is
/// beyond the largest double; NaN when the tail cannot be evaluated.
pub fn quantile(p: f64, df: f64) -> f64 {
    if p == 0.5 {
        return 0.0;
    }
    // Lower quantiles are solved from their own tail, which keeps every
    // digit of a tiny p; upper ones can only be as exact as 1 − p.
    let (tail, sign) = if p < 0.5 { (p, -1.0) } else { (1.0 - p, 1.0) };
    sign * solve_upper_tail(tail, df)
}

/// The t > 0 whose upper tail is `tail` (in (0, ½)).
fn solve_upper_tail(tail: f64, df: f64) -> f64 {
    let Some((lo, hi)) = bracket(tail, df) else {
        return f64::NAN;
    };
    if hi == f64::INFINITY {
        return f64::INFINITY;
    }
    refine(tail, df, lo, hi)
}

/// An interval [lo, hi] with upper_tail(lo) ≥ tail ≥ upper_tail(hi), hi
/// squared at each step so that even 1e300 is reached in a dozen steps.
fn bracket(tail: f64, df: f64) -> Option<(f64, f64)> {
    let (mut lo, mut hi) = (0.0, 2.0);
    loop {
        let s = upper_tail(hi, df);
        if s.is_nan() {
            return None;
        }
        if s <= tail {
            return Some((lo, hi));
        }
        if hi == f64::MAX {
            return Some((hi, f64::INFINITY));
        }
        lo = hi;
        hi = if hi * hi < f64::MAX {
            hi * hi
        } else {
            f64::MAX
        };
    }
}

/// Newton's method on ln P(T > t) as a function of ln t, which is close to
/// a straight line in the power-law tail, kept inside the bracket by
/// falling back to bisection whenever a step would leave it.
fn refine(tail: f64, df: f64, mut lo: f64, mut hi: f64) -> f64 {
    let ln_tail = tail.ln();
    let mut t = midpoint(lo, hi);
    // Convergence takes a handful of steps; the cap only guards the loop.
    for _ in 0..400 {
        let s = upper_tail(t, df);
        if s.is_nan() {
            return f64::NAN;
        }
        if s > tail {
            lo = t;
        } else {
            hi = t;
        }
        // d ln S / d ln t = −t·f(t)/S(t), in logarithms: f and S can both
        // be far below the smallest double while their ratio is not.
        let slope = -(t.ln() + ln_density(t, df) - s.ln()).exp();
        let newton = t * ((ln_tail - s.ln()) / slope).exp();
        let next = if newton > lo && newton < hi {
            newton
        } else {
            midpoint(lo, hi)
        };
        if (next - t).abs() <= 4.0 * f64::EPSILON * t || hi - lo <= f64::EPSILON * hi {
            return next;
        }
        t = next;
    }
    t
}

/// Middle of the bracket: geometric while it spans more than a factor of
/// two, so that a bracket of [2, 1e300] shrinks in a few dozen halvings.
fn midpoint(lo: f64, hi: f64) -> f64 {
    if lo > 0.0 && hi / lo > 2.0 {
        lo.sqrt() * hi.sqrt()
    } else {
        lo + (hi - lo) / 2.0
    }
}

/// ln f(t) for t ≥ 0.
fn ln_density(t: f64, df: f64) -> f64 {
    gamma::ln_gamma((df + 1.0) / 2.0)
        - gamma::ln_gamma(df / 2.0)
        - 0.5 * (df * std::f64::consts::PI).ln()
        - (df + 1.0) / 2.0 * ln_1p_square_over_df(t, df)
}

/// ln(1 + t²/df) for t ≥ 0, also where t²/df overflows a double (with
/// df < 1 that happens before t² does): then it is
/// 2 ln t − ln df + ln(1 + df/t²).
fn ln_1p_square_over_df(t: f64, df: f64) -> f64 {
    let ratio = t * t / df;
    if ratio.is_finite() {
        ratio.ln_1p()
    } else {
        2.0 * t.ln() - df.ln() + (df / t / t).ln_1p()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_degree_of_freedom_is_the_cauchy() {
        // P(T > t) = ½ − atan(t)/π = atan(1/t)/π for t > 0.
        for t in [0.5_f64, 3.0, 1e10, 1e160, 1e300] {
            let exact = (1.0 / t).atan() / std::f64::consts::PI;
            let got = upper_tail(t, 1.0);
            assert!(
                (got / exact - 1.0).abs() < 1e-12,
                "t = {t}: {got} vs {exact}"
            );
        }
    }

    #[test]
    fn two_degrees_of_freedom_have_a_closed_form_quantile() {
        // F⁻¹(p) = (2p − 1)/√(2p(1 − p)) for df = 2.
        for p in [0.3_f64, 0.01, 1e-20, 1e-200, 1e-300] {
            let exact = (2.0 * p - 1.0) / (2.0 * p * (1.0 - p)).sqrt();
            let got = quantile(p, 2.0);
            assert!(
                (got / exact - 1.0).abs() < 1e-12,
                "p = {p}: {got} vs {exact}"
            );
        }
    }

    #[test]
    fn the_tail_has_no_step_where_t_squared_over_df_overflows() {
        // Below one degree of freedom, t²/df passes the largest double
        // while t² is still finite; the tail must not drop to zero there.
        for df in [0.05, 0.5755625292540137, 0.99] {
            let edge = (df * f64::MAX).sqrt();
            let below = upper_tail(edge * (1.0 - 1e-9), df);
            let above = upper_tail(edge * (1.0 + 1e-9), df);
            assert!(
                above > 0.0 && (below / above - 1.0).abs() < 1e-6,
                "df = {df}: {below:e} below the edge, {above:e} above"
            );
        }
    }

    #[test]
    fn answers_beyond_the_doubles_are_infinite() {
        // The Cauchy quantile at the smallest double is about −6e322.
        assert_eq!(quantile(f64::from_bits(1), 1.0), f64::NEG_INFINITY);
        assert_eq!(quantile(1.0 - f64::EPSILON / 2.0, 0.01), f64::INFINITY);
    }
}
