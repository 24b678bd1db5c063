//! Sample ratio mismatch: are sessions split the way the router was told
//! to split them?
//!
//! A mismatch means assignment or logging is broken (a variant crashes
//! before it is counted, a bot hits one arm), and every other figure of
//! the experiment is then suspect. Each rollout phase has its own intended
//! split, so each gets its own chi-squared goodness-of-fit statistic; the
//! phases are disjoint sets of sessions, hence independent, and the
//! overall statistic is the sum of the phase statistics with the sum of
//! their degrees of freedom. A ramp from 10% to 50% is thus checked
//! against what each phase was meant to do, not against a blended split.

use serde::Serialize;

use crate::stats::dist::chi_squared_sf;

/// Observed and intended sessions of one variant within one phase.
#[derive(Debug, Clone, PartialEq)]
pub struct ArmCount {
    pub variant: String,
    pub expected_share: f64,
    pub sessions: u64,
}

/// Goodness of fit of one phase.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhaseFit {
    pub phase: String,
    pub chi_squared: f64,
    pub df: f64,
    pub p_value: f64,
}

/// The sample-ratio check over all phases.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SrmCheck {
    /// Sum of the phase statistics.
    pub chi_squared: f64,
    /// Sum of the phase degrees of freedom.
    pub df: f64,
    pub srm_p_value: f64,
    /// Threshold below which the split is declared broken.
    pub threshold: f64,
    /// `srm_p_value < threshold`.
    pub mismatch: bool,
    pub phases: Vec<PhaseFit>,
}

/// Chi-squared goodness of fit of one phase. Arms meant to get no traffic
/// add no degree of freedom; if one got sessions anyway the statistic is
/// infinite, because that cannot happen by chance. `None` when the phase
/// has no sessions or fewer than two arms with a share.
pub fn phase_fit(phase: &str, arms: &[ArmCount]) -> Option<PhaseFit> {
    let share_total: f64 = arms.iter().map(|a| a.expected_share.max(0.0)).sum();
    let sessions: f64 = arms.iter().map(|a| a.sessions as f64).sum();
    let live = arms.iter().filter(|a| a.expected_share > 0.0).count();
    if sessions == 0.0 || live < 2 || !share_total.is_finite() {
        return None;
    }
    let mut chi_squared = 0.0;
    for arm in arms {
        let observed = arm.sessions as f64;
        if arm.expected_share > 0.0 {
            let expected = sessions * arm.expected_share / share_total;
            chi_squared += (observed - expected).powi(2) / expected;
        } else if observed > 0.0 {
            chi_squared = f64::INFINITY;
        }
    }
    let df = (live - 1) as f64;
    Some(PhaseFit {
        phase: phase.to_string(),
        chi_squared,
        df,
        p_value: chi_squared_sf(chi_squared, df),
    })
}

/// Combines the phases: Σχ² against a chi-squared with Σdf. Phases that
/// cannot be fitted are skipped; `None` when none can.
pub fn srm_check(phases: &[(String, Vec<ArmCount>)], threshold: f64) -> Option<SrmCheck> {
    let fits: Vec<PhaseFit> = phases
        .iter()
        .filter_map(|(name, arms)| phase_fit(name, arms))
        .collect();
    if fits.is_empty() {
        return None;
    }
    let chi_squared: f64 = fits.iter().map(|f| f.chi_squared).sum();
    let df: f64 = fits.iter().map(|f| f.df).sum();
    let srm_p_value = chi_squared_sf(chi_squared, df);
    Some(SrmCheck {
        chi_squared,
        df,
        srm_p_value,
        threshold,
        mismatch: srm_p_value < threshold,
        phases: fits,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arm(variant: &str, expected_share: f64, sessions: u64) -> ArmCount {
        ArmCount {
            variant: variant.to_string(),
            expected_share,
            sessions,
        }
    }

    #[test]
    fn an_exact_split_fits_perfectly() {
        let fit = phase_fit("all", &[arm("A", 0.5, 500), arm("B", 0.5, 500)]);
        assert!(fit.is_some_and(|f| f.chi_squared == 0.0 && f.p_value == 1.0));
    }

    #[test]
    fn traffic_to_a_closed_arm_is_a_mismatch() {
        let phases = vec![(
            "ramp".to_string(),
            vec![arm("A", 1.0, 500), arm("B", 0.5, 500), arm("C", 0.0, 3)],
        )];
        let check = srm_check(&phases, 0.001);
        assert!(check.is_some_and(|c| c.mismatch && c.df == 1.0));
    }

    #[test]
    fn nothing_to_fit_is_none() {
        assert!(phase_fit("empty", &[arm("A", 0.5, 0), arm("B", 0.5, 0)]).is_none());
        assert!(phase_fit("solo", &[arm("A", 1.0, 10)]).is_none());
    }
}
