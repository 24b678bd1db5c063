//! The JSON file format of `bedrock-tuner analyze --summary FILE`.
//!
//! ```json
//! {"alpha": 0.05, "control": "A",
//!  "variants": {
//!    "A": {"weight": 0.5, "sessions": 5050,
//!          "metrics": {"quality": {"n": 8, "sum": 6.11, "sum_sq": 4.7125},
//!                      "thumbs_up": {"n": 500, "successes": 420}}},
//!    "B": {"weight": 0.5, "sessions": 4950,
//!          "metrics": {"quality": {"n": 10, "sum": 8.74, "sum_sq": 7.6622},
//!                      "thumbs_up": {"n": 520, "successes": 455}}}}}
//! ```
//!
//! A metric with `sum` and `sum_sq` is continuous, one with `successes` is
//! yes/no; either may carry `per_session` sums (`sessions`, `sum_y`,
//! `sum_y_sq`, `sum_m`, `sum_m_sq`, `sum_ym`), or consist of them alone.
//! Optional top-level fields: `primary_metric`, `higher_is_better`,
//! `min_sample`, `sequential_tuning_n`, `srm_threshold`,
//! `yates_correction`, and `srm_phases`, a list of
//! `{"name", "weights": {variant: share}, "sessions": {variant: count}}`.
//! Optional per variant: `requests`. `docs/statistics.md` describes each.
//! Unknown keys are refused with their full path.

mod fields;

use std::collections::BTreeMap;

use serde_json::Value;
use thiserror::Error;

use crate::stats::estimate::Shortfall;
use crate::stats::ratio::ratio_estimate;
use crate::stats::summary::{
    AnalysisOptions, BinaryCounts, ExperimentSummary, MetricSummary, Moments, RequestLevel,
    SessionSums, SrmPhase, VariantSummary,
};
use fields::{Fields, count, entries, error, join, number};

/// A summary file that cannot be analysed, with where and why.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum SummaryFileError {
    #[error("the summary is not valid JSON: {0}")]
    Syntax(String),
    #[error("`{path}`: {message}")]
    Field { path: String, message: String },
}

const TOP: &[&str] = &[
    "alpha",
    "control",
    "variants",
    "primary_metric",
    "higher_is_better",
    "min_sample",
    "sequential_tuning_n",
    "srm_threshold",
    "yates_correction",
    "srm_phases",
];
const VARIANT: &[&str] = &["weight", "sessions", "requests", "metrics"];
const METRIC: &[&str] = &["n", "sum", "sum_sq", "successes", "per_session"];
const PER_SESSION: &[&str] = &[
    "sessions", "sum_y", "sum_y_sq", "sum_m", "sum_m_sq", "sum_ym",
];
const PHASE: &[&str] = &["name", "weights", "sessions"];

/// Parses and checks a summary file.
pub fn parse_summary(text: &str) -> Result<(ExperimentSummary, AnalysisOptions), SummaryFileError> {
    let root: Value =
        serde_json::from_str(text).map_err(|e| SummaryFileError::Syntax(e.to_string()))?;
    let top = Fields::open(&root, "", TOP)?;
    let options = read_options(&top)?;
    let control = top.text("control")?;
    let mut variants = Vec::new();
    for (name, value) in entries(top.required("variants")?, "variants")? {
        variants.push(read_variant(name, value, &join("variants", name))?);
    }
    // The control first, then the treatments by name.
    variants.sort_by_key(|v| (v.name != control, v.name.clone()));
    let srm_phases = match top.optional("srm_phases") {
        Some(value) => read_phases(value, &variants)?,
        None => Vec::new(),
    };
    let summary = ExperimentSummary {
        control,
        variants,
        srm_phases,
    };
    check_summary(&summary, &options)?;
    Ok((summary, options))
}

fn read_options(top: &Fields<'_>) -> Result<AnalysisOptions, SummaryFileError> {
    let defaults = AnalysisOptions::default();
    let options = AnalysisOptions {
        alpha: top.optional_number("alpha")?.unwrap_or(defaults.alpha),
        primary_metric: top.optional_text("primary_metric")?,
        higher_is_better: top
            .optional_flag("higher_is_better")?
            .unwrap_or(defaults.higher_is_better),
        min_sample: top
            .optional_count("min_sample")?
            .unwrap_or(defaults.min_sample),
        sequential_tuning_n: top
            .optional_count("sequential_tuning_n")?
            .unwrap_or(defaults.sequential_tuning_n),
        srm_threshold: top
            .optional_number("srm_threshold")?
            .unwrap_or(defaults.srm_threshold),
        yates_correction: top
            .optional_flag("yates_correction")?
            .unwrap_or(defaults.yates_correction),
    };
    check_options(&options)?;
    Ok(options)
}

fn check_options(options: &AnalysisOptions) -> Result<(), SummaryFileError> {
    let unit = |x: f64| x > 0.0 && x < 1.0;
    if !unit(options.alpha) {
        return Err(error(
            "alpha",
            "must be strictly between 0 and 1".to_string(),
        ));
    }
    if !unit(options.srm_threshold) {
        return Err(error(
            "srm_threshold",
            "must be strictly between 0 and 1".to_string(),
        ));
    }
    if options.sequential_tuning_n == 0 {
        return Err(error(
            "sequential_tuning_n",
            "must be at least 1".to_string(),
        ));
    }
    Ok(())
}

fn read_variant(name: &str, value: &Value, path: &str) -> Result<VariantSummary, SummaryFileError> {
    let fields = Fields::open(value, path, VARIANT)?;
    let weight = fields.number("weight")?;
    if weight <= 0.0 {
        return Err(error(
            &fields.path_of("weight"),
            "must be greater than 0".to_string(),
        ));
    }
    let mut metrics = BTreeMap::new();
    let metrics_path = fields.path_of("metrics");
    for (metric, value) in entries(fields.required("metrics")?, &metrics_path)? {
        let metric_path = join(&metrics_path, metric);
        metrics.insert(metric.clone(), read_metric(value, &metric_path)?);
    }
    Ok(VariantSummary {
        name: name.to_string(),
        expected_share: weight,
        sessions: fields.count("sessions")?,
        requests: fields.optional_count("requests")?,
        metrics,
    })
}

fn read_metric(value: &Value, path: &str) -> Result<MetricSummary, SummaryFileError> {
    let fields = Fields::open(value, path, METRIC)?;
    let requests = if fields.has("successes") {
        if fields.has("sum") || fields.has("sum_sq") {
            let message = "a metric has either `successes` (yes/no) or `sum` and `sum_sq` \
                           (continuous), not both";
            return Err(error(path, message.to_string()));
        }
        Some(RequestLevel::Binary(read_binary(&fields)?))
    } else if fields.has("sum") || fields.has("sum_sq") || fields.has("n") {
        Some(RequestLevel::Continuous(read_moments(&fields)?))
    } else {
        None
    };
    let sessions = match fields.optional("per_session") {
        Some(v) => Some(read_session_sums(v, &fields.path_of("per_session"))?),
        None => None,
    };
    if requests.is_none() && sessions.is_none() {
        let message = "a metric needs `n` with `sum` and `sum_sq`, `n` with `successes`, \
                       or `per_session` sums";
        return Err(error(path, message.to_string()));
    }
    Ok(MetricSummary { requests, sessions })
}

fn read_binary(fields: &Fields<'_>) -> Result<BinaryCounts, SummaryFileError> {
    let counts = BinaryCounts {
        trials: fields.count("n")?,
        successes: fields.count("successes")?,
    };
    if counts.successes > counts.trials {
        let message = format!(
            "{} successes out of n = {}",
            counts.successes, counts.trials
        );
        return Err(error(&fields.path_of("successes"), message));
    }
    Ok(counts)
}

fn read_moments(fields: &Fields<'_>) -> Result<Moments, SummaryFileError> {
    let moments = Moments {
        n: fields.count("n")?,
        sum: fields.number("sum")?,
        sum_sq: fields.number("sum_sq")?,
    };
    // No data set has Σx² < (Σx)²/n; allow for rounding in the file.
    let floor = moments.sum * moments.sum / (moments.n.max(1) as f64);
    if moments.sum_sq < 0.0 || moments.sum_sq < floor * (1.0 - 1e-9) {
        let message = format!(
            "{} is below sum²/n = {floor}, which no data can give",
            moments.sum_sq
        );
        return Err(error(&fields.path_of("sum_sq"), message));
    }
    if moments.n == 0 && (moments.sum != 0.0 || moments.sum_sq != 0.0) {
        return Err(error(
            &fields.path_of("n"),
            "is 0 but the sums are not".to_string(),
        ));
    }
    Ok(moments)
}

fn read_session_sums(value: &Value, path: &str) -> Result<SessionSums, SummaryFileError> {
    let fields = Fields::open(value, path, PER_SESSION)?;
    let sums = SessionSums {
        sessions: fields.count("sessions")?,
        sum_y: fields.number("sum_y")?,
        sum_y_sq: fields.number("sum_y_sq")?,
        sum_m: fields.number("sum_m")?,
        sum_m_sq: fields.number("sum_m_sq")?,
        sum_ym: fields.number("sum_ym")?,
    };
    for (key, x) in [
        ("sum_y_sq", sums.sum_y_sq),
        ("sum_m", sums.sum_m),
        ("sum_m_sq", sums.sum_m_sq),
    ] {
        if x < 0.0 {
            return Err(error(&join(path, key), "must not be negative".to_string()));
        }
    }
    if ratio_estimate(&sums) == Err(Shortfall::InvalidInput) {
        let message = "no set of sessions has these sums: Σ(y − R·m)² would be negative";
        return Err(error(path, message.to_string()));
    }
    Ok(sums)
}

fn read_phases(
    value: &Value,
    variants: &[VariantSummary],
) -> Result<Vec<SrmPhase>, SummaryFileError> {
    let list = value
        .as_array()
        .ok_or_else(|| error("srm_phases", "expected a list of phases".to_string()))?;
    let known = |name: &str| variants.iter().any(|v| v.name == name);
    let mut phases = Vec::new();
    for (i, item) in list.iter().enumerate() {
        let path = format!("srm_phases[{i}]");
        let fields = Fields::open(item, &path, PHASE)?;
        let mut phase = SrmPhase {
            name: fields.text("name")?,
            expected_share: BTreeMap::new(),
            sessions: BTreeMap::new(),
        };
        for (variant, v) in entries(fields.required("weights")?, &fields.path_of("weights"))? {
            let p = join(&fields.path_of("weights"), variant);
            let share = number(v, &p)?;
            if !known(variant) || share < 0.0 {
                return Err(error(
                    &p,
                    "must be a known variant with a share of at least 0".to_string(),
                ));
            }
            phase.expected_share.insert(variant.clone(), share);
        }
        for (variant, v) in entries(fields.required("sessions")?, &fields.path_of("sessions"))? {
            let p = join(&fields.path_of("sessions"), variant);
            if !known(variant) {
                return Err(error(&p, "is not one of the variants".to_string()));
            }
            phase.sessions.insert(variant.clone(), count(v, &p)?);
        }
        phases.push(phase);
    }
    Ok(phases)
}

/// Checks that need the whole file: the control exists, there is
/// something to compare, and the primary metric is one of the metrics.
fn check_summary(
    summary: &ExperimentSummary,
    options: &AnalysisOptions,
) -> Result<(), SummaryFileError> {
    let Some(control) = summary.control_variant() else {
        let names: Vec<&str> = summary.variants.iter().map(|v| v.name.as_str()).collect();
        let message = format!(
            "`{}` is not one of the variants ({})",
            summary.control,
            names.join(", ")
        );
        return Err(error("control", message));
    };
    if summary.variants.len() < 2 {
        return Err(error(
            "variants",
            "need the control and at least one treatment".to_string(),
        ));
    }
    match &options.primary_metric {
        Some(primary) if !control.metrics.contains_key(primary) => {
            let message = format!(
                "`{primary}` is not a metric of the control `{}`",
                control.name
            );
            Err(error("primary_metric", message))
        }
        _ => Ok(()),
    }
}
