//! The report as text tables for a terminal, one table per metric and
//! level, with the level and the method in each table's title.

use std::fmt::Write as _;

use crate::stats::report::{
    AnalysisReport, ArmsOutcome, Comparison, ComparisonFigures, Level, LevelReport, Method,
    SrmStatus, VariantReport, format_p_value,
};

/// Renders the whole report.
pub fn render_text(report: &AnalysisReport) -> String {
    let mut out = String::new();
    let confidence = format_level(report.confidence);
    let _ = writeln!(
        out,
        "Experiment analysis: control {}, alpha {}, {confidence} intervals",
        report.control, report.alpha
    );
    let _ = writeln!(out, "Sample ratio: {}", srm_line(report));
    if let Some(primary) = &report.primary_metric {
        let direction = if report.higher_is_better {
            "higher"
        } else {
            "lower"
        };
        let _ = writeln!(out, "Primary metric: {primary} ({direction} is better)");
    }
    out.push('\n');
    out.push_str(&variants_table(&report.variants));
    for (metric, level) in metric_levels(report) {
        out.push('\n');
        out.push_str(&metric_table(report, &metric, level, &confidence));
    }
    out.push_str(&arms_lines(report));
    out.push('\n');
    let r = &report.recommendation;
    let _ = writeln!(out, "Recommendation: {} ({})", r.action, r.reason);
    for v in report.variants.iter().filter(|v| !v.control) {
        if let Some(r) = &v.recommendation {
            let _ = writeln!(out, "  {}: {} ({})", v.name, r.action, r.reason);
        }
    }
    out
}

fn srm_line(report: &AnalysisReport) -> String {
    match (&report.srm.status, &report.srm.check) {
        (SrmStatus::NotChecked, _) | (_, None) => "not checked (no sessions yet)".to_string(),
        (status, Some(c)) => format!(
            "{} (srm_p_value {}, chi-squared {} on {} df over {} phase(s))",
            if *status == SrmStatus::Mismatch {
                "MISMATCH"
            } else {
                "ok"
            },
            format_p_value(c.srm_p_value),
            format_number(c.chi_squared),
            c.df,
            c.phases.len()
        ),
    }
}

fn variants_table(variants: &[VariantReport]) -> String {
    let headers = ["variant", "role", "weight", "sessions", "requests"].map(String::from);
    let rows = variants
        .iter()
        .map(|v| {
            vec![
                v.name.clone(),
                if v.control { "control" } else { "treatment" }.to_string(),
                format_number(v.expected_share),
                v.sessions.to_string(),
                v.requests.map_or("-".to_string(), |r| r.to_string()),
            ]
        })
        .collect();
    table(&headers, rows)
}

/// (metric, level) pairs present in any variant, in name order.
fn metric_levels(report: &AnalysisReport) -> Vec<(String, Level)> {
    let mut pairs = Vec::new();
    for m in report.variants.iter().flat_map(|v| v.metrics.iter()) {
        for (level, present) in [
            (Level::Session, m.session_level.is_some()),
            (Level::Request, m.request_level.is_some()),
        ] {
            let pair = (m.metric.clone(), level);
            if present && !pairs.contains(&pair) {
                pairs.push(pair);
            }
        }
    }
    pairs.sort_by_key(|(name, level)| (name.clone(), *level == Level::Request));
    pairs
}

fn metric_table(report: &AnalysisReport, metric: &str, level: Level, confidence: &str) -> String {
    let primary = report.primary_metric.as_deref() == Some(metric);
    let mut title = format!("{metric} [{}]", level_title(report, metric, level));
    if primary {
        title.push_str(" (primary)");
    }
    let with_ci = |what: &str| format!("{what} ({confidence} CI)");
    // Only the decision level is adjusted: Holm for the primary metric,
    // Benjamini-Hochberg for the others.
    let correction = if primary { "Holm" } else { "BH" };
    let headers = [
        "variant".to_string(),
        "n".to_string(),
        with_ci("mean"),
        with_ci("difference"),
        with_ci("relative lift"),
        "statistic".to_string(),
        "p_value".to_string(),
        format!("p {correction}"),
        format!("sequential p_value [difference {confidence} CI]"),
        format!("seq. p {correction}"),
    ];
    let mut rows = Vec::new();
    let mut notes = String::new();
    for v in &report.variants {
        let Some(m) = v.metrics.iter().find(|m| m.metric == metric) else {
            continue;
        };
        let found = match level {
            Level::Session => m.session_level.as_ref(),
            Level::Request => m.request_level.as_ref(),
        };
        if let Some(l) = found {
            rows.push(level_row(&v.name, l));
            if let Some(Comparison::InsufficientData(d)) = &l.comparison {
                let _ = writeln!(notes, "  {}: {d}", v.name);
            }
        }
    }
    format!("{title}\n{}{notes}", table(&headers, rows))
}

fn level_title(report: &AnalysisReport, metric: &str, level: Level) -> String {
    let method = report
        .variants
        .iter()
        .flat_map(|v| v.metrics.iter())
        .find(|m| m.metric == metric)
        .and_then(|m| match level {
            Level::Session => m.session_level.as_ref(),
            Level::Request => m.request_level.as_ref(),
        })
        .map(|l| l.method);
    let method = match method {
        Some(Method::DeltaMethodRatioZ) => "delta-method ratio, z-test",
        Some(Method::WelchT) => "Welch t-test",
        Some(Method::TwoProportionZ) => "two-proportion z-test",
        None => "",
    };
    match level {
        Level::Session => format!("session level, {method}; decisions use this"),
        Level::Request => format!("request level, {method}"),
    }
}

fn level_row(name: &str, level: &LevelReport) -> Vec<String> {
    let mut row = vec![
        name.to_string(),
        level.n.to_string(),
        with_interval(level.mean.map(format_number), level.ci.map(format_interval)),
    ];
    match &level.comparison {
        Some(Comparison::Ok(f)) => row.extend(comparison_cells(f)),
        _ => row.extend(std::iter::repeat_n("-".to_string(), 7)),
    }
    row
}

fn comparison_cells(f: &ComparisonFigures) -> Vec<String> {
    let dash = || "-".to_string();
    let statistic = match (f.t, f.df, f.z) {
        (Some(t), Some(df), _) => format!("t {} (df {})", format_number(t), format_number(df)),
        (_, _, Some(z)) => format!("z {}", format_number(z)),
        _ => dash(),
    };
    let adjusted = f.adjusted.as_ref();
    let sequential = f.sequential.as_ref();
    let lift_ci = f
        .relative_lift_ci
        .map(|[lo, hi]| format!("[{}, {}]", format_percent(lo), format_percent(hi)));
    vec![
        with_interval(
            Some(format_number(f.difference)),
            Some(format_interval(f.ci)),
        ),
        with_interval(f.relative_lift.map(format_percent), lift_ci),
        statistic,
        format_p_value(f.p_value),
        adjusted.map_or_else(dash, |a| format_p_value(a.p_value)),
        with_interval(
            sequential.map(|s| format_p_value(s.p_value)),
            sequential.map(|s| format_interval(s.ci)),
        ),
        adjusted
            .and_then(|a| a.sequential_p_value)
            .map_or_else(dash, format_p_value),
    ]
}

/// "value [lo, hi]", or "-" when there is no value.
fn with_interval(value: Option<String>, interval: Option<String>) -> String {
    match (value, interval) {
        (Some(v), Some(i)) => format!("{v} {i}"),
        (Some(v), None) => v,
        (None, _) => "-".to_string(),
    }
}

fn arms_lines(report: &AnalysisReport) -> String {
    let mut out = String::new();
    for test in report.arms_tests.iter().filter(|t| t.arms > 2) {
        let figures = match &test.result {
            ArmsOutcome::Ok {
                chi_squared,
                df,
                p_value,
            } => format!(
                "chi-squared {} on {df} df, p_value {}",
                format_number(*chi_squared),
                format_p_value(*p_value)
            ),
            ArmsOutcome::InsufficientData { reason } => format!("insufficient data ({reason})"),
        };
        let _ = writeln!(
            out,
            "\n{} across all {} arms: {figures}",
            test.metric, test.arms
        );
    }
    out
}

/// Left-aligned columns separated by two spaces.
fn table(headers: &[String], rows: Vec<Vec<String>>) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&headers.to_vec()).chain(rows.iter()) {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        let _ = writeln!(out, "  {}", cells.join("  ").trim_end());
    }
    out
}

fn format_number(x: f64) -> String {
    let magnitude = x.abs();
    if x == 0.0 {
        "0".to_string()
    } else if !(1e-3..1e6).contains(&magnitude) {
        format!("{x:.3e}")
    } else {
        format!("{x:.4}")
    }
}

fn format_interval([lo, hi]: [f64; 2]) -> String {
    format!("[{}, {}]", format_number(lo), format_number(hi))
}

fn format_percent(x: f64) -> String {
    format!("{:.2}%", 100.0 * x)
}

/// A confidence level without needless decimals: 95%, 99.9%.
fn format_level(level: f64) -> String {
    let percent = 100.0 * level;
    if (percent - percent.round()).abs() < 1e-9 {
        format!("{percent:.0}%")
    } else {
        format!("{percent:.1}%")
    }
}
