//! Deciding which profile parameters reach the body, and writing them.
//!
//! The rewriter looks at the request before changing it: features such as
//! extended thinking pin parameters, the application's own values may win,
//! limits clamp values, and models that refuse temperature with top_p keep
//! only one of them. Every decision lands in the report.

use super::error::RewriteError;
use super::json::RawObject;
use super::json_text::json_string;
use super::limits::Rules;
use super::plan::InferenceParams;
use super::range::IntRange;
use super::report::{
    ClampReason, DropReason, Origin, Param, ParamClamp, ParamDrop, ParamSet, ParamValue,
    RewriteReport,
};
use super::slots::{Slot, SlotTable};

/// What the parameter step needs to know about the request's target.
pub(crate) struct ParamContext<'r, 'l> {
    pub rules: &'r Rules<'l>,
    pub slots: SlotTable,
    pub app_values_win: bool,
    /// Where model-native fields live: the body root for InvokeModel,
    /// `additionalModelRequestFields` for Converse.
    pub native_root: &'static [&'static str],
    pub schema: &'static str,
}

/// A parameter that survived the checks and will be written.
struct Candidate {
    param: Param,
    slot: Slot,
    value: ParamValue,
    json: String,
    /// The application's value at the slot, as JSON text.
    app: Option<String>,
}

/// Parameters fixed by request features, and the thinking budget if any.
#[derive(Default)]
struct Pins {
    pinned: Vec<(Param, String)>,
    budget: Option<u64>,
}

impl Pins {
    fn feature_pinning(&self, param: Param) -> Option<&str> {
        self.pinned
            .iter()
            .find(|(p, _)| *p == param)
            .map(|(_, name)| name.as_str())
    }
}

/// Applies the profile's parameters to `doc`, recording every decision.
pub(crate) fn apply(
    doc: &mut RawObject<'_>,
    ctx: &ParamContext<'_, '_>,
    params: &InferenceParams,
    report: &mut RewriteReport,
) -> Result<(), RewriteError> {
    let pins = read_pins(doc, ctx);
    let mut candidates: Vec<Candidate> = requested(params)
        .into_iter()
        .filter_map(|(param, value)| consider(doc, ctx, &pins, param, value, report))
        .collect();
    if let Some(slot) = resolve_conflict(doc, ctx, &mut candidates, report) {
        doc.remove_path(ctx.schema, slot.path)?;
    }
    for c in candidates {
        doc.set_path(ctx.schema, c.slot.path, c.json)?;
        report.set.push(ParamSet {
            param: c.param,
            value: c.value,
            location: c.slot.dotted,
            replaced: c.app,
        });
    }
    Ok(())
}

fn requested(p: &InferenceParams) -> Vec<(Param, ParamValue)> {
    [
        p.temperature
            .map(|v| (Param::Temperature, ParamValue::Float(v))),
        p.top_k.map(|v| (Param::TopK, ParamValue::Int(v))),
        p.top_p.map(|v| (Param::TopP, ParamValue::Float(v))),
        p.max_tokens.map(|v| (Param::MaxTokens, ParamValue::Int(v))),
        p.stop_sequences
            .clone()
            .map(|v| (Param::StopSequences, ParamValue::Strings(v))),
        p.frequency_penalty
            .map(|v| (Param::FrequencyPenalty, ParamValue::Float(v))),
    ]
    .into_iter()
    .flatten()
    .collect()
}

fn consider(
    doc: &RawObject<'_>,
    ctx: &ParamContext<'_, '_>,
    pins: &Pins,
    param: Param,
    value: ParamValue,
    report: &mut RewriteReport,
) -> Option<Candidate> {
    let (slot, app) = match admit(doc, ctx, pins, param, &value) {
        Ok(admitted) => admitted,
        Err((reason, detail)) => {
            drop_profile(report, param, reason, value, detail);
            return None;
        }
    };
    let value = clamp(param, value, ctx.rules, pins.budget, report);
    let Some(json) = to_json(&value) else {
        drop_profile(report, param, DropReason::InvalidValue, value, None);
        return None;
    };
    Some(Candidate {
        param,
        slot,
        value,
        json,
        app,
    })
}

/// Why a parameter is not written, with a detail for people.
type Refusal = (DropReason, Option<String>);

/// The slot for a parameter and the application's value there, unless the
/// parameter must not be written at all.
fn admit(
    doc: &RawObject<'_>,
    ctx: &ParamContext<'_, '_>,
    pins: &Pins,
    param: Param,
    value: &ParamValue,
) -> Result<(Slot, Option<String>), Refusal> {
    if matches!(value, ParamValue::Float(v) if !v.is_finite()) {
        return Err((DropReason::InvalidValue, None));
    }
    let slot = ctx
        .slots
        .get(param)
        .ok_or((DropReason::FamilyLacks, None))?;
    if let Some(feature) = pins.feature_pinning(param) {
        return Err((
            DropReason::PinnedByRequest,
            Some(format!("request uses {feature}")),
        ));
    }
    let app = read_value(doc, slot.path);
    match (&app, ctx.app_values_win) {
        (Some(app), true) => Err((
            DropReason::AppValueKept,
            Some(format!("application sent {app}")),
        )),
        _ => Ok((slot, app)),
    }
}

fn drop_profile(
    report: &mut RewriteReport,
    param: Param,
    reason: DropReason,
    value: ParamValue,
    detail: Option<String>,
) {
    report.dropped.push(ParamDrop {
        param,
        reason,
        origin: Origin::Profile,
        value,
        detail,
    });
}

/// The application's value at `path`; JSON `null` counts as unset.
fn read_value(doc: &RawObject<'_>, path: &[&str]) -> Option<String> {
    doc.read_path(path).filter(|v| v.trim() != "null")
}

fn read_pins(doc: &RawObject<'_>, ctx: &ParamContext<'_, '_>) -> Pins {
    let mut pins = Pins::default();
    let under_root = |tail: &[String]| -> Vec<String> {
        ctx.native_root
            .iter()
            .map(|s| s.to_string())
            .chain(tail.iter().cloned())
            .collect()
    };
    for feature in &ctx.rules.features {
        let active = doc
            .read_path(&under_root(&feature.path))
            .and_then(|raw| serde_json::from_str::<String>(&raw).ok())
            .is_some_and(|v| feature.values.contains(&v));
        if !active {
            continue;
        }
        pins.pinned
            .extend(feature.pins.iter().map(|p| (*p, feature.name.clone())));
        let budget = feature
            .max_tokens_above
            .as_ref()
            .and_then(|p| doc.read_path(&under_root(p)))
            .and_then(|raw| raw.trim().parse::<u64>().ok());
        pins.budget = pins.budget.max(budget);
    }
    pins
}

/// Moves a value inside the documented limits, reporting each change.
fn clamp(
    param: Param,
    value: ParamValue,
    rules: &Rules<'_>,
    budget: Option<u64>,
    report: &mut RewriteReport,
) -> ParamValue {
    let (clamped, reason) = within_limits(param, &value, rules);
    if let Some(reason) = reason {
        report.clamped.push(ParamClamp {
            param,
            from: value,
            to: clamped.clone(),
            reason,
        });
    }
    match (param, &clamped, budget) {
        // Never lower max tokens to or below the thinking budget: Claude
        // rejects such a request outright.
        (Param::MaxTokens, ParamValue::Int(v), Some(b)) if u64::from(*v) <= b => {
            let raised = ParamValue::Int(u32::try_from(b.saturating_add(1)).unwrap_or(u32::MAX));
            let reason = ClampReason::ThinkingBudget;
            report.clamped.push(ParamClamp {
                param,
                from: clamped,
                to: raised.clone(),
                reason,
            });
            raised
        }
        _ => clamped,
    }
}

fn within_limits(
    param: Param,
    value: &ParamValue,
    rules: &Rules<'_>,
) -> (ParamValue, Option<ClampReason>) {
    let max_tokens = IntRange {
        min: Some(1),
        max: rules.max_tokens,
    };
    match (param, value) {
        (Param::Temperature, ParamValue::Float(v)) => float(rules.temperature.clamp(*v)),
        (Param::TopP, ParamValue::Float(v)) => float(rules.top_p.clamp(*v)),
        (Param::FrequencyPenalty, ParamValue::Float(v)) => float(rules.frequency_penalty.clamp(*v)),
        (Param::TopK, ParamValue::Int(v)) => int(rules.top_k.clamp(*v)),
        (Param::MaxTokens, ParamValue::Int(v)) => int(max_tokens.clamp(*v)),
        _ => (value.clone(), None),
    }
}

fn float((v, reason): (f64, Option<ClampReason>)) -> (ParamValue, Option<ClampReason>) {
    (ParamValue::Float(v), reason)
}

fn int((v, reason): (u32, Option<ClampReason>)) -> (ParamValue, Option<ClampReason>) {
    (ParamValue::Int(v), reason)
}

/// The value as JSON text; `None` for a float JSON cannot carry (NaN, ±inf).
fn to_json(value: &ParamValue) -> Option<String> {
    match value {
        ParamValue::Float(v) => serde_json::Number::from_f64(*v).map(|n| n.to_string()),
        ParamValue::Int(v) => Some(v.to_string()),
        ParamValue::Strings(v) => Some(format!(
            "[{}]",
            v.iter()
                .map(|s| json_string(s))
                .collect::<Vec<_>>()
                .join(",")
        )),
        ParamValue::Json(v) => Some(v.clone()),
    }
}

/// For models that refuse temperature with top_p: never writes the losing
/// one, and when the profile writes the kept one while the application sent
/// the losing one, removes the application's (returned as the slot to
/// clear) unless application values win, in which case the profile's kept
/// value is dropped instead.
fn resolve_conflict(
    doc: &RawObject<'_>,
    ctx: &ParamContext<'_, '_>,
    candidates: &mut Vec<Candidate>,
    report: &mut RewriteReport,
) -> Option<Slot> {
    if !ctx.rules.refuses_temperature_with_top_p {
        return None;
    }
    let keep = ctx.rules.keep_on_conflict;
    let lose = if keep == Param::Temperature {
        Param::TopP
    } else {
        Param::Temperature
    };
    let app_of = |p: Param| {
        ctx.slots
            .get(p)
            .and_then(|s| read_value(doc, s.path).map(|v| (s, v)))
    };
    if position(candidates, keep).is_some() || app_of(keep).is_some() {
        let detail = format!("model refuses temperature with top_p; {keep} is kept");
        withdraw(candidates, lose, Some(detail), report);
    }
    let (Some(_), Some((slot, app_value))) = (position(candidates, keep), app_of(lose)) else {
        return None;
    };
    if ctx.app_values_win {
        withdraw(
            candidates,
            keep,
            Some(format!("application's {lose} stands")),
            report,
        );
        return None;
    }
    report_removal(report, lose, slot, app_value);
    Some(slot)
}

/// Records that the application's value of `param` was taken out.
fn report_removal(report: &mut RewriteReport, param: Param, slot: Slot, app_value: String) {
    let detail = Some(format!(
        "removed from {}; model refuses temperature with top_p",
        slot.dotted
    ));
    let value = ParamValue::Json(app_value);
    report.dropped.push(ParamDrop {
        param,
        reason: DropReason::RefusedCombination,
        origin: Origin::App,
        value,
        detail,
    });
}

/// Takes the profile's `param` out of the candidates, reported as refused.
fn withdraw(
    candidates: &mut Vec<Candidate>,
    param: Param,
    detail: Option<String>,
    report: &mut RewriteReport,
) {
    if let Some(i) = position(candidates, param) {
        let c = candidates.remove(i);
        drop_profile(
            report,
            c.param,
            DropReason::RefusedCombination,
            c.value,
            detail,
        );
    }
}

fn position(candidates: &[Candidate], param: Param) -> Option<usize> {
    candidates.iter().position(|c| c.param == param)
}
