//! Read-only views of stored experiments: the list, one experiment with
//! its decision log, where a session lands, and the analysis.

use std::io::Write;

use serde_json::{Value, json};

use super::context::{StoreSession, format_ms, io_error, parse_body, store_error, write_json};
use super::lifecycle::latest;
use crate::cli::CommandError;
use crate::experiment::{Experiment, ExperimentSet, RawExperiment, Reason, assign};
use crate::stats::render::render_text;
use crate::store::{Decision, Kind, PageRequest};

/// Decision-log entries read per page.
const LOG_PAGE: u32 = 100;

/// `experiments list`.
pub(super) fn list(
    session: &StoreSession,
    json: bool,
    out: &mut dyn Write,
) -> Result<(), CommandError> {
    let docs = session.list(Kind::Experiment)?;
    let rows: Vec<(RawExperiment, &crate::store::Document)> = docs
        .iter()
        .map(|d| Ok((parse_body(d)?, d)))
        .collect::<Result<_, CommandError>>()?;
    if json {
        let all: Vec<Value> = rows
            .iter()
            .map(|(raw, d)| json!({"revision": d.revision, "updated_by": d.updated_by, "experiment": raw}))
            .collect();
        return write_json(out, &json!(all));
    }
    let io = io_error;
    writeln!(
        out,
        "{:<24} {:<16} {:<10} {:<24} {:>8} {:<14} {:>4}  UPDATED BY",
        "ID", "INTENT", "STATUS", "VARIANTS", "COVERAGE", "PRIMARY", "REV"
    )
    .map_err(io)?;
    for (raw, d) in &rows {
        let variants: Vec<&str> = raw.variants.iter().map(|v| v.name.as_str()).collect();
        writeln!(
            out,
            "{:<24} {:<16} {:<10} {:<24} {:>8} {:<14} {:>4}  {}",
            raw.id,
            raw.intent,
            raw.status,
            variants.join(","),
            raw.coverage,
            raw.primary_metric,
            d.revision,
            d.updated_by
        )
        .map_err(io)?;
    }
    Ok(())
}

/// `experiments show ID`: the definition, its revision and its log.
pub(super) fn show(
    session: &StoreSession,
    id: &str,
    json: bool,
    out: &mut dyn Write,
) -> Result<(), CommandError> {
    let doc = latest(session, id)?;
    let raw: RawExperiment = parse_body(&doc)?;
    let log = decisions(session, id)?;
    if json {
        let entries: Vec<Value> = log
            .iter()
            .map(|d| json!({"sequence": d.sequence, "recorded_at": format_ms(d.recorded_at_ms), "entry": d.entry}))
            .collect();
        let report = json!({
            "revision": doc.revision,
            "updated_at": format_ms(doc.updated_at_ms),
            "updated_by": doc.updated_by,
            "experiment": raw,
            "decisions": entries,
        });
        return write_json(out, &report);
    }
    let io = io_error;
    writeln!(
        out,
        "experiment {} on intent {}: {} (revision {}, {} by {})",
        raw.id,
        raw.intent,
        raw.status,
        doc.revision,
        format_ms(doc.updated_at_ms),
        doc.updated_by
    )
    .map_err(io)?;
    if !raw.description.is_empty() {
        writeln!(out, "  {}", raw.description).map_err(io)?;
    }
    writeln!(
        out,
        "  control {}, coverage {}, primary metric {}, confidence {}, planned {} sessions per variant",
        raw.control, raw.coverage, raw.primary_metric, raw.confidence, raw.min_sample_per_variant
    )
    .map_err(io)?;
    for (key, value) in [
        ("start", &raw.start),
        ("end", &raw.end),
        ("winner", &raw.winner),
    ] {
        if let Some(value) = value {
            writeln!(out, "  {key} {value}").map_err(io)?;
        }
    }
    writeln!(
        out,
        "\n{:<16} {:>7}  {:<36} OVERRIDES",
        "VARIANT", "WEIGHT", "MODEL"
    )
    .map_err(io)?;
    for v in &raw.variants {
        let overrides = serde_json::to_string(&v.overrides).unwrap_or_default();
        let model = v.model_id.as_deref().unwrap_or("-");
        writeln!(
            out,
            "{:<16} {:>7} {:<36} {overrides}",
            v.name, v.weight, model
        )
        .map_err(io)?;
    }
    write_log(&log, out)
}

fn write_log(log: &[Decision], out: &mut dyn Write) -> Result<(), CommandError> {
    let io = io_error;
    writeln!(out, "\ndecision log:").map_err(io)?;
    if log.is_empty() {
        writeln!(out, "  (empty)").map_err(io)?;
    }
    for d in log {
        let field = |k: &str| {
            d.entry
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or("-")
                .to_string()
        };
        writeln!(
            out,
            "  #{:<3} {}  {:<9} {:>9} → {:<9} by {:<12} why: {}",
            d.sequence,
            format_ms(d.recorded_at_ms),
            field("what"),
            field("from"),
            field("to"),
            field("who"),
            field("why")
        )
        .map_err(io)?;
    }
    Ok(())
}

/// Every entry of an experiment's decision log, in order.
fn decisions(session: &StoreSession, id: &str) -> Result<Vec<Decision>, CommandError> {
    let mut all = Vec::new();
    let mut request = PageRequest::first(LOG_PAGE);
    loop {
        let page = session
            .block_on(session.store.decisions(id, &request))
            .map_err(|e| store_error(&e, &format!("cannot read the decision log of `{id}`")))?;
        all.extend(page.items);
        match page.next {
            Some(token) => request = PageRequest::after(token, LOG_PAGE),
            None => return Ok(all),
        }
    }
}

/// The stored experiment, validated against the profiles in force.
fn resolved(session: &StoreSession, id: &str) -> Result<Experiment, CommandError> {
    let raw: RawExperiment = parse_body(&latest(session, id)?)?;
    let tuning = session.tuning_with(session.store_profiles()?, Vec::new())?;
    let set =
        ExperimentSet::resolve(std::slice::from_ref(&raw), &tuning.profiles).map_err(|errors| {
            let lines: Vec<String> = errors.iter().map(|e| format!("  {e}")).collect();
            CommandError::new(format!(
                "stored experiment `{id}` does not validate:\n{}",
                lines.join("\n")
            ))
        })?;
    set.get(id)
        .map(|e| e.as_ref().clone())
        .ok_or_else(|| CommandError::new(format!("no experiment `{id}` in the store")))
}

/// `experiments assign ID SESSION`.
pub(super) fn assign(
    session: &StoreSession,
    id: &str,
    key: &str,
    json: bool,
    out: &mut dyn Write,
) -> Result<(), CommandError> {
    let experiment = resolved(session, id)?;
    let assignment = experiment.assign(Some(key));
    // The position is shown even when the state overrides it: it is where
    // the session lands once the experiment runs.
    let position = assign::position(&experiment.id, key);
    let weights: Vec<f64> = experiment.variants.iter().map(|v| v.weight).collect();
    let placed = assign::place(position, &weights, experiment.coverage);
    let mut start = 0.0;
    let slices: Vec<Value> = experiment
        .variants
        .iter()
        .map(|v| {
            let slice = json!({"variant": v.name, "from": start, "to": start + v.weight});
            start += v.weight;
            slice
        })
        .collect();
    let report = json!({
        "experiment": experiment.id,
        "intent": experiment.intent,
        "status": experiment.status.as_str(),
        "session": key,
        "position": position,
        "slices": slices,
        "slice": experiment.variants[placed.variant].name,
        "entry_coverage": placed.entry_coverage,
        "coverage": experiment.coverage,
        "variant": assignment.variant.name,
        "reason": assignment.reason.as_str(),
        "observed": assignment.observed(),
        "why": why(&experiment, assignment.reason, &assignment.variant.name),
    });
    if json {
        return write_json(out, &report);
    }
    write_assignment(&report, out)
}

fn write_assignment(report: &Value, out: &mut dyn Write) -> Result<(), CommandError> {
    let text = |k: &str| match report.get(k) {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => "-".into(),
    };
    let slices: Vec<String> = report["slices"]
        .as_array()
        .map(|all| {
            all.iter()
                .map(|s| {
                    format!(
                        "{} [{}, {})",
                        text_of(&s["variant"]),
                        round(&s["from"]),
                        round(&s["to"])
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let lines = [
        (
            "experiment",
            format!(
                "{} (intent {}, {})",
                text("experiment"),
                text("intent"),
                text("status")
            ),
        ),
        ("session", text("session")),
        (
            "position",
            format!(
                "{:.6} in [0, 1), in the slice of {}",
                report["position"].as_f64().unwrap_or(0.0),
                text("slice")
            ),
        ),
        ("slices", slices.join("  ")),
        (
            "coverage",
            format!(
                "{} (this session takes part from coverage {:.6})",
                text("coverage"),
                report["entry_coverage"].as_f64().unwrap_or(1.0)
            ),
        ),
        ("variant", text("variant")),
        ("reason", format!("{}: {}", text("reason"), text("why"))),
    ];
    for (label, value) in lines {
        writeln!(out, "{label:<11} {value}").map_err(io_error)?;
    }
    Ok(())
}

fn text_of(value: &Value) -> String {
    value
        .as_str()
        .map_or_else(|| value.to_string(), str::to_string)
}

/// A slice bound for reading: weights are short decimals, sums of them
/// carry binary noise.
fn round(value: &Value) -> String {
    let x = value.as_f64().unwrap_or(0.0);
    format!("{}", (x * 1e9).round() / 1e9)
}

fn why(experiment: &Experiment, reason: Reason, variant: &str) -> String {
    match reason {
        Reason::Assigned => format!("inside the coverage: served {variant} and observed"),
        Reason::NotCovered => {
            "outside the current coverage: served the control, not observed".into()
        }
        Reason::NoSession => "no session key: served the control, not observed".into(),
        Reason::Paused => format!(
            "the experiment is {}: everyone gets the control, nobody is observed",
            experiment.status.as_str()
        ),
        Reason::Completed => format!("the experiment completed: everyone gets {variant}"),
    }
}

/// `experiments analyze ID`: the same report as `analyze --summary` on
/// the stored figures.
pub(super) fn analyze(
    session: &StoreSession,
    id: &str,
    json: bool,
    out: &mut dyn Write,
) -> Result<(), CommandError> {
    let experiment = resolved(session, id)?;
    let report = session
        .block_on(crate::analysis::analyze_experiment(
            &session.store,
            &experiment,
        ))
        .map_err(|e| store_error(&e, &format!("cannot read the results of `{id}`")))?;
    if json {
        // Exactly what `analyze --summary --json` prints for a report.
        let text = serde_json::to_string_pretty(&report)
            .map_err(|e| CommandError::new(format!("cannot encode the report: {e}")))?;
        return writeln!(out, "{text}").map_err(io_error);
    }
    writeln!(
        out,
        "experiment {} on intent {} ({})\n",
        experiment.id,
        experiment.intent,
        experiment.status.as_str()
    )
    .map_err(io_error)?;
    out.write_all(render_text(&report).as_bytes())
        .map_err(io_error)
}
