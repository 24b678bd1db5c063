//! Checks experiment definitions once, every error with its key path.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::{Experiment, RawExperiment, Status, Variant};
use crate::config::ConfigError;
use crate::profile::{ProfileSet, merge_overrides};

/// Weights must sum to 1 within this.
const WEIGHT_TOLERANCE: f64 = 1e-6;

pub(super) fn all(
    raw: &[RawExperiment],
    profiles: &ProfileSet,
) -> Result<Vec<Experiment>, Vec<ConfigError>> {
    let mut errors = Vec::new();
    let mut seen = BTreeSet::new();
    let mut running = BTreeSet::new();
    let mut valid = Vec::new();
    for (index, r) in raw.iter().enumerate() {
        let key = format!("experiments[{index}]");
        if !seen.insert(r.id.clone()) {
            errors.push(ConfigError::new(
                format!("{key}.id"),
                format!("`{}` is used twice", r.id),
            ));
        }
        if r.status == "running" && !running.insert(r.intent.clone()) {
            errors.push(ConfigError::new(
                format!("{key}.status"),
                format!("a second running experiment on intent `{}`", r.intent),
            ));
        }
        match one(&key, r, profiles) {
            Ok(e) => valid.push(e),
            Err(mut e) => errors.append(&mut e),
        }
    }
    if errors.is_empty() {
        Ok(valid)
    } else {
        Err(errors)
    }
}

fn one(
    key: &str,
    r: &RawExperiment,
    profiles: &ProfileSet,
) -> Result<Experiment, Vec<ConfigError>> {
    let mut errors = Vec::new();
    let mut fail = |field: &str, message: String| {
        errors.push(ConfigError::new(format!("{key}.{field}"), message))
    };
    if r.id.is_empty()
        || !r
            .id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        fail(
            "id",
            format!("`{}` may use only letters, digits, `-` and `_`", r.id),
        );
    }
    let base = profiles.get(&r.intent);
    if base.is_none() {
        fail("intent", format!("no profile for intent `{}`", r.intent));
    }
    let status = Status::parse(&r.status);
    if status.is_none() {
        fail(
            "status",
            format!("`{}` is not draft, running, paused or completed", r.status),
        );
    }
    if !(0.0..=1.0).contains(&r.coverage) {
        fail("coverage", format!("{} is outside [0, 1]", r.coverage));
    }
    if !(r.confidence > 0.0 && r.confidence < 1.0) {
        fail("confidence", format!("{} is outside (0, 1)", r.confidence));
    }
    check_variants(r, &mut fail);
    let control = r.variants.iter().position(|v| v.name == r.control);
    if control.is_none() {
        fail(
            "control",
            format!("`{}` is not one of the variants", r.control),
        );
    }
    let winner = r
        .winner
        .as_ref()
        .map(|w| (w, r.variants.iter().position(|v| &v.name == w)));
    if let Some((name, None)) = &winner {
        fail("winner", format!("`{name}` is not one of the variants"));
    }
    let variants = match base {
        Some(base) => variants(key, r, base, &mut errors),
        None => Vec::new(),
    };
    let (Some(status), Some(control), true) = (status, control, errors.is_empty()) else {
        return Err(errors);
    };
    Ok(Experiment {
        id: r.id.clone(),
        intent: r.intent.clone(),
        description: r.description.clone(),
        status,
        control,
        variants,
        coverage: r.coverage,
        primary_metric: r.primary_metric.clone(),
        guardrails: r.guardrails.clone(),
        min_sample_per_variant: r.min_sample_per_variant,
        confidence: r.confidence,
        start: r.start.clone(),
        end: r.end.clone(),
        winner: winner.and_then(|(_, index)| index),
    })
}

fn check_variants(r: &RawExperiment, fail: &mut impl FnMut(&str, String)) {
    if r.variants.len() < 2 {
        fail(
            "variants",
            "an experiment needs a control and at least one variant".into(),
        );
    }
    let mut names = BTreeSet::new();
    for (i, v) in r.variants.iter().enumerate() {
        if v.name.is_empty() || !names.insert(v.name.as_str()) {
            fail(
                &format!("variants[{i}].name"),
                format!("`{}` is empty or used twice", v.name),
            );
        }
        if !(v.weight >= 0.0 && v.weight <= 1.0) {
            fail(
                &format!("variants[{i}].weight"),
                format!("{} is outside [0, 1]", v.weight),
            );
        }
        if v.model_id.as_deref().is_some_and(str::is_empty) {
            fail(&format!("variants[{i}].model_id"), "is empty".into());
        }
    }
    let total: f64 = r.variants.iter().map(|v| v.weight).sum();
    if (total - 1.0).abs() > WEIGHT_TOLERANCE {
        fail("variants", format!("weights sum to {}, not 1", total + 0.0));
    }
}

fn variants(
    key: &str,
    r: &RawExperiment,
    base: &crate::profile::Profile,
    errors: &mut Vec<ConfigError>,
) -> Vec<Variant> {
    let mut out = Vec::new();
    for (i, v) in r.variants.iter().enumerate() {
        let prefix = format!("{key}.variants[{i}].overrides");
        match merge_overrides(base, &v.overrides, &prefix) {
            Ok(profile) => out.push(Variant {
                name: v.name.clone(),
                weight: v.weight,
                profile: Arc::new(profile),
                model_id: v.model_id.clone(),
            }),
            Err(mut e) => errors.append(&mut e),
        }
    }
    out
}
