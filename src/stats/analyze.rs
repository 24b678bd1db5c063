//! The analysis as one pure function of the summary and the options.

use crate::stats::compare::{Baseline, Settings, request_level, session_level};
use crate::stats::decision::{adjust_for_multiplicity, recommend};
use crate::stats::estimate::Shortfall;
use crate::stats::proportion::arms_chi_squared;
use crate::stats::report::{
    AnalysisReport, ArmsOutcome, ArmsTest, Level, MetricReport, SrmReport, SrmStatus, VariantReport,
};
use crate::stats::srm::{ArmCount, srm_check};
use crate::stats::summary::{
    AnalysisOptions, BinaryCounts, ExperimentSummary, MetricSummary, RequestLevel, SrmPhase,
    VariantSummary,
};

/// Analyses an experiment from its sufficient statistics. The cost depends
/// on the number of variants and metrics, never on the number of requests.
pub fn analyze(summary: &ExperimentSummary, options: &AnalysisOptions) -> AnalysisReport {
    let settings = Settings {
        alpha: options.alpha,
        min_sample: options.min_sample,
        tuning_n: options.sequential_tuning_n,
    };
    let primary = primary_metric(summary, options);
    let control = summary.control_variant();
    let mut variants: Vec<VariantReport> = summary
        .variants
        .iter()
        .map(|v| variant_report(v, control, primary.as_deref(), &settings))
        .collect();
    adjust_for_multiplicity(&mut variants);
    let srm = srm_report(summary, options.srm_threshold);
    let recommendation = recommend(&mut variants, &srm, primary.as_deref(), options);
    AnalysisReport {
        control: summary.control.clone(),
        alpha: options.alpha,
        confidence: 1.0 - options.alpha,
        primary_metric: primary,
        higher_is_better: options.higher_is_better,
        srm,
        variants,
        arms_tests: arms_tests(summary, options),
        recommendation,
    }
}

/// The configured primary metric, else the first metric by name.
fn primary_metric(summary: &ExperimentSummary, options: &AnalysisOptions) -> Option<String> {
    options
        .primary_metric
        .clone()
        .or_else(|| summary.metric_names().into_iter().next())
}

fn variant_report(
    variant: &VariantSummary,
    control: Option<&VariantSummary>,
    primary: Option<&str>,
    settings: &Settings,
) -> VariantReport {
    let is_control = control.is_some_and(|c| c.name == variant.name);
    let metrics = variant
        .metrics
        .iter()
        .map(|(name, metric)| {
            let baseline = if is_control {
                Baseline::IsControl
            } else {
                Baseline::Control(control.and_then(|c| c.metrics.get(name)))
            };
            let primary = primary == Some(name.as_str());
            metric_report(name, metric, baseline, primary, settings)
        })
        .collect();
    VariantReport {
        name: variant.name.clone(),
        control: is_control,
        expected_share: variant.expected_share,
        sessions: variant.sessions,
        requests: variant.requests_served(),
        metrics,
        recommendation: None,
    }
}

fn metric_report(
    name: &str,
    metric: &MetricSummary,
    baseline: Baseline<'_, MetricSummary>,
    primary: bool,
    settings: &Settings,
) -> MetricReport {
    let session = metric
        .sessions
        .as_ref()
        .map(|arm| session_level(arm, baseline.map(|m| m.sessions.as_ref()), settings));
    let request = metric
        .requests
        .as_ref()
        .map(|arm| request_level(arm, baseline.map(|m| m.requests.as_ref()), settings));
    MetricReport {
        metric: name.to_string(),
        primary,
        decision_level: if session.is_some() {
            Level::Session
        } else {
            Level::Request
        },
        session_level: session,
        request_level: request,
    }
}

/// Sample-ratio check over the rollout phases, or over the whole run when
/// no phases are given.
fn srm_report(summary: &ExperimentSummary, threshold: f64) -> SrmReport {
    let phases: Vec<(String, Vec<ArmCount>)> = if summary.srm_phases.is_empty() {
        let arms = summary
            .variants
            .iter()
            .map(|v| ArmCount {
                variant: v.name.clone(),
                expected_share: v.expected_share,
                sessions: v.sessions,
            })
            .collect();
        vec![("all".to_string(), arms)]
    } else {
        summary.srm_phases.iter().map(phase_arms).collect()
    };
    let check = srm_check(&phases, threshold);
    let status = match &check {
        None => SrmStatus::NotChecked,
        Some(c) if c.mismatch => SrmStatus::Mismatch,
        Some(_) => SrmStatus::Ok,
    };
    SrmReport { status, check }
}

/// Arms of one phase: every variant with a share or with sessions. A
/// variant with sessions but no share was meant to get none.
fn phase_arms(phase: &SrmPhase) -> (String, Vec<ArmCount>) {
    let mut names: Vec<&String> = phase
        .expected_share
        .keys()
        .chain(phase.sessions.keys())
        .collect();
    names.sort();
    names.dedup();
    let arms = names
        .into_iter()
        .map(|name| ArmCount {
            variant: name.clone(),
            expected_share: phase.expected_share.get(name).copied().unwrap_or(0.0),
            sessions: phase.sessions.get(name).copied().unwrap_or(0),
        })
        .collect();
    (phase.name.clone(), arms)
}

/// Pearson's chi-squared over every arm of each request-level yes/no
/// metric that at least two arms report.
fn arms_tests(summary: &ExperimentSummary, options: &AnalysisOptions) -> Vec<ArmsTest> {
    summary
        .metric_names()
        .into_iter()
        .filter_map(|name| {
            let arms: Vec<BinaryCounts> = summary
                .variants
                .iter()
                .filter_map(|v| match v.metrics.get(&name)?.requests? {
                    RequestLevel::Binary(b) => Some(b),
                    RequestLevel::Continuous(_) => None,
                })
                .collect();
            (arms.len() >= 2).then(|| arms_test(name, &arms, options))
        })
        .collect()
}

fn arms_test(metric: String, arms: &[BinaryCounts], options: &AnalysisOptions) -> ArmsTest {
    let smallest = arms.iter().map(|a| a.trials).min().unwrap_or(0);
    let result = if smallest < options.min_sample {
        ArmsOutcome::InsufficientData {
            reason: Shortfall::BelowMinimumSample,
        }
    } else {
        match arms_chi_squared(arms, options.yates_correction) {
            Ok(t) => ArmsOutcome::Ok {
                chi_squared: t.chi_squared,
                df: t.df,
                p_value: t.p_value,
            },
            Err(reason) => ArmsOutcome::InsufficientData { reason },
        }
    };
    ArmsTest {
        metric,
        arms: arms.len(),
        yates_correction: options.yates_correction && arms.len() == 2,
        result,
    }
}
