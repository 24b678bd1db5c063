//! From figures to a recommendation.
//!
//! The report may be read at any time, so decisions rest on the
//! always-valid (sequential) p-value of the primary metric at its decision
//! level, Holm-adjusted across the treatment variants. Fixed-horizon
//! p-values are reported beside them, valid only at the planned size.

use crate::stats::multiple::{benjamini_hochberg, holm};
use crate::stats::report::format_p_value;
use crate::stats::report::{
    Action, Adjusted, AdjustmentMethod, Comparison, ComparisonFigures, Level, MetricReport,
    Recommendation, SrmReport, SrmStatus, VariantReport,
};
use crate::stats::summary::AnalysisOptions;

/// Fills `adjusted` on every decision-level comparison: Holm across
/// variants for the primary metric, Benjamini–Hochberg across all
/// (variant, metric) pairs for the exploratory metrics.
pub fn adjust_for_multiplicity(variants: &mut [VariantReport]) {
    adjust_group(variants, true, AdjustmentMethod::Holm);
    adjust_group(variants, false, AdjustmentMethod::BenjaminiHochberg);
}

/// A comparison that could not be run still counts as one of the family's
/// tests, with p = 1, so that a thin arm does not loosen the correction
/// for the others.
fn adjust_group(variants: &mut [VariantReport], primary: bool, method: AdjustmentMethod) {
    let mut group: Vec<Option<&mut ComparisonFigures>> = variants
        .iter_mut()
        .filter(|v| !v.control)
        .flat_map(|v| v.metrics.iter_mut())
        .filter(|m| m.primary == primary)
        .map(decision_figures_mut)
        .collect();
    let p_values = |pick: fn(&ComparisonFigures) -> Option<f64>| -> Vec<f64> {
        let p = group
            .iter()
            .map(|f| f.as_deref().and_then(pick).unwrap_or(1.0));
        let p: Vec<f64> = p.collect();
        match method {
            AdjustmentMethod::Holm => holm(&p),
            AdjustmentMethod::BenjaminiHochberg => benjamini_hochberg(&p),
        }
    };
    let fixed = p_values(|f| Some(f.p_value));
    let sequential = p_values(|f| f.sequential.as_ref().map(|s| s.p_value));
    for (i, figures) in group.iter_mut().enumerate() {
        if let Some(figures) = figures {
            figures.adjusted = Some(Adjusted {
                method,
                p_value: fixed[i],
                sequential_p_value: figures.sequential.as_ref().map(|_| sequential[i]),
            });
        }
    }
}

fn decision_figures_mut(metric: &mut MetricReport) -> Option<&mut ComparisonFigures> {
    let level = match metric.decision_level {
        Level::Session => metric.session_level.as_mut(),
        Level::Request => metric.request_level.as_mut(),
    };
    match level?.comparison.as_mut()? {
        Comparison::Ok(figures) => Some(figures),
        Comparison::InsufficientData(_) => None,
    }
}

/// Sets each treatment's recommendation and returns the experiment's.
pub fn recommend(
    variants: &mut [VariantReport],
    srm: &SrmReport,
    primary: Option<&str>,
    options: &AnalysisOptions,
) -> Recommendation {
    let control_n = primary.map_or(0, |metric| {
        variants
            .iter()
            .find(|v| v.control)
            .and_then(|v| v.metrics.iter().find(|m| m.metric == metric))
            .and_then(|m| m.decision().map(|l| l.n))
            .unwrap_or(0)
    });
    for variant in variants.iter_mut().filter(|v| !v.control) {
        let verdict = variant_verdict(variant, primary, control_n, options);
        variant.recommendation = Some(verdict);
    }
    overall(variants, srm)
}

fn variant_verdict(
    variant: &VariantReport,
    primary: Option<&str>,
    control_n: u64,
    options: &AnalysisOptions,
) -> Recommendation {
    let (action, reason) = match decision_figures(variant, primary) {
        Ok((metric, level_n, figures)) => judge(
            &variant.name,
            metric,
            figures,
            level_n.min(control_n),
            options,
        ),
        Err(reason) => (Action::Continue, reason),
    };
    Recommendation {
        action,
        variant: Some(variant.name.clone()),
        reason,
    }
}

/// The primary metric's name, sample size and comparison at its decision
/// level, or why there is nothing to judge yet.
fn decision_figures<'a>(
    variant: &'a VariantReport,
    primary: Option<&'a str>,
) -> Result<(&'a str, u64, &'a ComparisonFigures), String> {
    let primary = primary.ok_or_else(|| "there is no metric to decide on".to_string())?;
    let level = variant
        .metrics
        .iter()
        .find(|m| m.metric == primary)
        .and_then(MetricReport::decision)
        .ok_or_else(|| {
            format!(
                "{} has no data for the primary metric {primary}",
                variant.name
            )
        })?;
    match &level.comparison {
        Some(Comparison::Ok(figures)) => Ok((primary, level.n, figures)),
        Some(Comparison::InsufficientData(d)) => Err(format!("{primary}: {d}")),
        None => Err(format!("{} is the control", variant.name)),
    }
}

/// Significant in the good direction: promote; in the bad one: roll back;
/// not significant at the planned size: stop; otherwise keep going.
fn judge(
    variant: &str,
    primary: &str,
    figures: &ComparisonFigures,
    n: u64,
    options: &AnalysisOptions,
) -> (Action, String) {
    let Some(p) = decision_p_value(figures) else {
        return (
            Action::Continue,
            format!("{primary}: no always-valid p-value yet"),
        );
    };
    let change = describe_change(figures, primary);
    let shown = format_p_value(p);
    let planned = options.sequential_tuning_n;
    if p < options.alpha {
        let better = (figures.difference > 0.0) == options.higher_is_better;
        let action = if better {
            Action::Promote
        } else {
            Action::RollBack
        };
        let reason = format!(
            "{variant} {change} with always-valid p = {shown} < {} (Holm-adjusted)",
            options.alpha
        );
        (action, reason)
    } else if n >= planned {
        let reason = format!(
            "no significant change in {primary} after the planned {planned} per arm \
             (always-valid p = {shown}; the variant {change})"
        );
        (Action::Stop, reason)
    } else {
        let reason = format!(
            "no significant change in {primary} yet (always-valid p = {shown}; \
             the variant {change}; {n} of the planned {planned} per arm)"
        );
        (Action::Continue, reason)
    }
}

/// The Holm-adjusted sequential p-value, or the raw one if not adjusted.
fn decision_p_value(figures: &ComparisonFigures) -> Option<f64> {
    let adjusted = figures.adjusted.as_ref().and_then(|a| a.sequential_p_value);
    adjusted.or(figures.sequential.as_ref().map(|s| s.p_value))
}

/// "raises quality by 2.10%", or by an absolute amount without a lift.
fn describe_change(figures: &ComparisonFigures, metric: &str) -> String {
    let verb = if figures.difference >= 0.0 {
        "raises"
    } else {
        "lowers"
    };
    match figures.relative_lift {
        Some(lift) => format!("{verb} {metric} by {:.2}%", 100.0 * lift.abs()),
        None => format!("{verb} {metric} by {:.4}", figures.difference.abs()),
    }
}

/// One action for the experiment: a broken split stops everything; harm
/// comes before gains; the best significant gain is the one to ship.
fn overall(variants: &[VariantReport], srm: &SrmReport) -> Recommendation {
    if let (SrmStatus::Mismatch, Some(check)) = (srm.status, &srm.check) {
        let reason = format!(
            "sample ratio mismatch (srm_p_value = {:.2e} < {}): assignment or logging is \
             broken, so no comparison can be trusted",
            check.srm_p_value, check.threshold
        );
        return Recommendation {
            action: Action::Stop,
            variant: None,
            reason,
        };
    }
    let verdicts: Vec<&Recommendation> = variants
        .iter()
        .filter_map(|v| v.recommendation.as_ref())
        .collect();
    let first = |action| {
        verdicts
            .iter()
            .find(|r| r.action == action)
            .map(|r| (*r).clone())
    };
    if let Some(harm) = first(Action::RollBack) {
        return harm;
    }
    if let Some(best) = best_promotion(variants) {
        return best;
    }
    if !verdicts.is_empty() && verdicts.iter().all(|r| r.action == Action::Stop) {
        return verdicts[0].clone();
    }
    first(Action::Continue).unwrap_or_else(|| Recommendation {
        action: Action::Continue,
        variant: None,
        reason: "there is no treatment variant to compare with the control".to_string(),
    })
}

/// Among promoted variants, the one with the largest primary lift.
fn best_promotion(variants: &[VariantReport]) -> Option<Recommendation> {
    let score = |v: &VariantReport| {
        v.metrics
            .iter()
            .find(|m| m.primary)
            .and_then(MetricReport::decision)
            .and_then(|l| match &l.comparison {
                Some(Comparison::Ok(f)) => Some(f.difference.abs()),
                _ => None,
            })
            .unwrap_or(0.0)
    };
    variants
        .iter()
        .filter(|v| {
            v.recommendation
                .as_ref()
                .is_some_and(|r| r.action == Action::Promote)
        })
        .max_by(|a, b| score(a).total_cmp(&score(b)))
        .and_then(|v| v.recommendation.clone())
}
