//! Automatic scores for model answers, so an A/B experiment can compare
//! its arms on quality without a human grading every observation.
//!
//! - [`score`] runs an intent's checks ([`IntentChecks`]) on one answer
//!   and returns a [`QualityReport`]: a score in [0, 1], the weighted
//!   share of applicable checks passed and capped by failed "hard" checks,
//!   plus every check's outcome, so a log line or a debug endpoint can say
//!   why an answer scored what it did.
//! - The checks are data: `data/quality_checks.toml`, compiled in, with
//!   the sidecar configuration's `[quality.<intent>.<check>]` tables
//!   layered over it ([`QualityChecks`]).
//! - [`relevance`] measures how much an answer is about its question and
//!   context.
//! - [`answer_text_from_json`], [`StreamText`] and
//!   [`request_text_from_json`] pull the texts to score out of Bedrock
//!   bodies and streams of every model family, within fixed bounds.
//!
//! Scoring is cheap and synchronous (well under a millisecond for a
//! typical answer), so the proxy can score every observation inline.
//! `docs/quality.md` describes the checks and formulas for operators.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

mod amounts;
mod check;
mod dates;
mod eval;
mod extract;
mod ground;
mod pattern;
mod prepared;
mod raw;
mod relevance;
mod stream;
mod text;
mod titles;

pub use check::{Check, CheckKind};
pub use extract::{
    MAX_ANSWER_BYTES, MAX_REQUEST_BYTES, answer_text_from_json, request_text_from_json,
};
pub use raw::{CheckError, RawCheck, RawQualityTable};
pub use relevance::relevance;
pub use stream::StreamText;

use prepared::Prepared;

/// The built-in checks.
const BUILTIN: &str = include_str!("../data/quality_checks.toml");

/// The intent whose checks apply to every intent, and alone to intents
/// that have none of their own.
pub const DEFAULT_INTENT: &str = "default";

/// What is scored: one answer and the request it answers.
#[derive(Debug, Clone, Copy)]
pub struct ScoreInput<'a> {
    /// The request's intent; reported back, not used to pick checks.
    pub intent: &'a str,
    /// Everything the application sent: system prompt, all user and
    /// assistant turns, retrieved context and tool results (see
    /// [`request_text_from_json`]). Grounding looks facts up here.
    pub request_text: &'a str,
    /// The model's answer.
    pub answer_text: &'a str,
    /// The answer's stop reason as the model family names it.
    pub stop_reason: Option<&'a str>,
}

/// One check's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckOutcome {
    /// The check's name.
    pub name: String,
    /// Its kind.
    pub kind: CheckKind,
    /// False when its conditions ruled it out; it then counts for nothing.
    pub applied: bool,
    /// Whether the answer passed (true when not applied).
    pub passed: bool,
    /// The weight it counted with (0 when not applied).
    pub weight: f64,
    /// What was found, for a human.
    pub detail: String,
}

/// The score of one answer and how it came about.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QualityReport {
    /// The request's intent.
    pub intent: String,
    /// In [0, 1]: the weighted share of applied checks passed, capped by
    /// the lowest cap of a failed check; 1 when no check applied.
    pub score: f64,
    /// The failed check whose cap lowered the score, if any.
    pub capped_by: Option<String>,
    /// Every check, in name order.
    pub checks: Vec<CheckOutcome>,
}

/// The compiled checks of one intent.
#[derive(Debug, Clone, Default)]
pub struct IntentChecks {
    checks: Vec<Check>,
}

impl IntentChecks {
    /// The checks, in name order.
    pub fn checks(&self) -> &[Check] {
        &self.checks
    }
}

/// Scores one answer with `checks`.
///
/// `score = Σ weight·passed / Σ weight` over the checks that apply (1 when
/// none applies or all weights are 0), then lowered to the smallest `cap`
/// among failed checks.
pub fn score(checks: &IntentChecks, input: &ScoreInput<'_>) -> QualityReport {
    let prepared = Prepared::new(input.answer_text, input.request_text, input.stop_reason);
    let outcomes: Vec<CheckOutcome> = checks
        .checks
        .iter()
        .map(|c| outcome(c, &prepared))
        .collect();
    let total: f64 = outcomes.iter().map(|o| o.weight).sum();
    let passed: f64 = outcomes.iter().filter(|o| o.passed).map(|o| o.weight).sum();
    let mut value = if total > 0.0 { passed / total } else { 1.0 };
    let mut capped_by = None;
    for (check, outcome) in checks.checks.iter().zip(&outcomes) {
        if let Some(cap) = check
            .cap
            .filter(|&cap| outcome.applied && !outcome.passed && cap < value)
        {
            value = cap;
            capped_by = Some(check.name.clone());
        }
    }
    QualityReport {
        intent: input.intent.to_string(),
        score: value.clamp(0.0, 1.0),
        capped_by,
        checks: outcomes,
    }
}

fn outcome(check: &Check, prepared: &Prepared<'_>) -> CheckOutcome {
    let (applied, passed, detail) = match eval::applies(check, prepared) {
        Err(reason) => (false, true, reason),
        Ok(()) => {
            let verdict = eval::evaluate(&check.rule, prepared);
            (true, verdict.passed, verdict.detail)
        }
    };
    CheckOutcome {
        name: check.name.clone(),
        kind: check.kind,
        applied,
        passed,
        weight: if applied { check.weight } else { 0.0 },
        detail,
    }
}

/// The shape of `data/quality_checks.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct QualityFile {
    quality: RawQualityTable,
}

/// Every intent's compiled checks.
#[derive(Debug, Clone, Default)]
pub struct QualityChecks {
    by_intent: BTreeMap<String, IntentChecks>,
    fallback: IntentChecks,
}

impl QualityChecks {
    /// The built-in checks. The embedded file is checked by the test
    /// suite; should it fail anyway, the error is logged and no check
    /// runs (every answer scores 1) rather than the sidecar not starting.
    pub fn builtin() -> Self {
        Self::with_overrides(&RawQualityTable::new()).unwrap_or_else(|errors| {
            tracing::error!(?errors, "built-in quality checks are invalid");
            Self::default()
        })
    }

    /// The built-in checks with the configuration's `[quality]` table
    /// layered over them. Every problem is reported with its key path.
    pub fn with_overrides(overrides: &RawQualityTable) -> Result<Self, Vec<CheckError>> {
        let file: QualityFile = toml::from_str(BUILTIN).map_err(|e| {
            vec![CheckError::new(
                "quality",
                format!("built-in checks: {}", e.message().trim()),
            )]
        })?;
        Self::resolve(&[&file.quality, overrides])
    }

    /// Reads a whole checks file (a `[quality]` table) on its own.
    pub fn parse(text: &str) -> Result<Self, Vec<CheckError>> {
        let file: QualityFile = toml::from_str(text)
            .map_err(|e| vec![CheckError::new("quality", e.message().trim().to_string())])?;
        Self::resolve(&[&file.quality])
    }

    /// Merges layers (lowest first) check by check and field by field:
    /// for intent X, each layer's `default` checks and then its X checks.
    pub fn resolve(layers: &[&RawQualityTable]) -> Result<Self, Vec<CheckError>> {
        let mut errors = Vec::new();
        for layer in layers {
            for (intent, checks) in layer.iter() {
                for (name, raw) in checks {
                    raw.validate_fields(&format!("quality.{intent}.{name}"), &mut errors);
                }
            }
        }
        let intents: BTreeSet<&String> = layers.iter().flat_map(|l| l.keys()).collect();
        let mut by_intent = BTreeMap::new();
        for intent in intents.into_iter().filter(|i| *i != DEFAULT_INTENT) {
            by_intent.insert(intent.clone(), intent_checks(intent, layers, &mut errors));
        }
        let fallback = intent_checks(DEFAULT_INTENT, layers, &mut errors);
        if errors.is_empty() {
            Ok(Self {
                by_intent,
                fallback,
            })
        } else {
            Err(errors)
        }
    }

    /// The checks for `intent`: its own merged over the default ones, or
    /// the default ones alone for an intent nothing names.
    pub fn for_intent(&self, intent: &str) -> &IntentChecks {
        self.by_intent.get(intent).unwrap_or(&self.fallback)
    }

    /// Scores one answer with the checks of its intent.
    pub fn score(&self, input: &ScoreInput<'_>) -> QualityReport {
        score(self.for_intent(input.intent), input)
    }

    /// Intents with checks of their own.
    pub fn intents(&self) -> impl Iterator<Item = &str> {
        self.by_intent.keys().map(String::as_str)
    }
}

/// Merges and compiles one intent's checks from every layer.
fn intent_checks(
    intent: &str,
    layers: &[&RawQualityTable],
    errors: &mut Vec<CheckError>,
) -> IntentChecks {
    let mut merged: BTreeMap<&String, RawCheck> = BTreeMap::new();
    // Checks only inherited from `default` are reported there, once.
    let own: BTreeSet<&String> = layers
        .iter()
        .filter_map(|layer| layer.get(intent))
        .flat_map(|table| table.keys())
        .collect();
    let tables = layers.iter().flat_map(|layer| {
        let default = layer.get(DEFAULT_INTENT);
        let own = layer.get(intent).filter(|_| intent != DEFAULT_INTENT);
        default.into_iter().chain(own)
    });
    for table in tables {
        for (name, raw) in table {
            let base = merged.remove(name).unwrap_or_default();
            match base.merged(raw) {
                Ok(check) => {
                    merged.insert(name, check);
                }
                Err(e) => errors.push(CheckError::new(format!("quality.{intent}.{name}"), e)),
            }
        }
    }
    let mut checks = Vec::new();
    for (name, raw) in merged {
        match check::compile(name, &raw, &format!("quality.{intent}.{name}")) {
            Ok(Some(check)) => checks.push(check),
            Ok(None) => {}
            Err(mut e) if own.contains(name) => errors.append(&mut e),
            Err(_) => {}
        }
    }
    IntentChecks { checks }
}
