//! Quality checks as written in `data/quality_checks.toml` and in the
//! sidecar configuration's `[quality.<intent>.<check>]` tables: serde types
//! that refuse unknown keys, merged field by field across layers.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::pattern::Pattern;

/// Checks by intent, then by check name: the `[quality]` table.
pub type RawQualityTable = BTreeMap<String, BTreeMap<String, RawCheck>>;

/// One problem in a quality table, with its dotted key path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {message}")]
pub struct CheckError {
    /// Such as `quality.order_status.order_id.patterns[1]`.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

impl CheckError {
    pub(crate) fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            message: message.into(),
        }
    }
}

/// One check as written. Every field is optional so that a layer can
/// change a single field of a check defined below it; the merged check
/// must name a `kind` and set only the fields that kind uses.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCheck {
    /// `truncation`, `length`, `numbered_list`, `dates`, `required`,
    /// `forbidden`, `refusal`, `grounding` or `repetition`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// `false` removes a check defined in a lower layer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Share of the score (default 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<f64>,
    /// Highest score an answer failing this check can get.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cap: Option<f64>,
    /// The check applies only when the request matches one of these.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub when_request: Option<Vec<String>>,
    /// The check does not apply when the request matches one of these.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unless_request: Option<Vec<String>>,
    /// The check does not apply when the answer matches one of these.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unless_answer: Option<Vec<String>>,
    /// truncation: stop reasons that mean the answer was cut.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_reasons: Option<Vec<String>>,
    /// length: fewest characters (of the trimmed answer).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_chars: Option<u64>,
    /// length: most characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_chars: Option<u64>,
    /// length: fewest words (a CJK run counts one per two characters).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_words: Option<u64>,
    /// length: most words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_words: Option<u64>,
    /// length: most sentences.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_sentences: Option<u64>,
    /// numbered_list: fewest items (default 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_items: Option<u64>,
    /// numbered_list: most items.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_items: Option<u64>,
    /// numbered_list: groups of patterns; every item must match one
    /// pattern of each group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item_patterns: Option<Vec<Vec<String>>>,
    /// numbered_list: fewest words in each item (default 0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_item_words: Option<u64>,
    /// numbered_list: an answer with no list that asks a question passes
    /// (a clarifying question instead of a list).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accept_question: Option<bool>,
    /// dates: every date must be `YYYY-MM-DD`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iso: Option<bool>,
    /// dates: any date fails.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forbid: Option<bool>,
    /// dates: a date near one of these patterns, in the same clause, fails.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forbid_near: Option<Vec<String>>,
    /// dates: how near, in characters (default 40).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub near_chars: Option<u64>,
    /// required, forbidden, refusal, grounding: patterns.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patterns: Option<Vec<String>>,
    /// grounding: `dates`, `prices`, `percents`, `titles`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub items: Option<Vec<String>>,
    /// grounding: more words that never make a phrase a title.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ignore_words: Option<Vec<String>>,
    /// grounding: ungrounded items tolerated (default 0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_ungrounded: Option<u64>,
    /// repetition: shortest sentence compared (words, default 4).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_sentence_words: Option<u64>,
    /// repetition: n-gram length (default 4).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ngram: Option<u64>,
    /// repetition: largest share of repeated n-grams (default 0.3).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_ngram_share: Option<f64>,
}

impl RawCheck {
    /// The names of the fields this layer sets.
    pub(crate) fn fields(&self) -> Vec<String> {
        match serde_json::to_value(self) {
            Ok(Value::Object(fields)) => fields.keys().cloned().collect(),
            _ => Vec::new(),
        }
    }

    /// `self` with every field `over` sets replaced by `over`'s value.
    pub(crate) fn merged(&self, over: &RawCheck) -> Result<RawCheck, String> {
        let mut fields = match serde_json::to_value(self) {
            Ok(Value::Object(fields)) => fields,
            _ => Map::new(),
        };
        if let Ok(Value::Object(top)) = serde_json::to_value(over) {
            fields.extend(top);
        }
        serde_json::from_value(Value::Object(fields)).map_err(|e| e.to_string())
    }

    /// Checks the fields this layer sets, each on its own: numbers in
    /// range, patterns that compile. Whether the fields suit the kind is
    /// checked once the layers are merged.
    pub(crate) fn validate_fields(&self, key: &str, errors: &mut Vec<CheckError>) {
        let mut fail = |field: String, message: String| {
            errors.push(CheckError::new(format!("{key}.{field}"), message))
        };
        if let Some(w) = self.weight.filter(|w| !(w.is_finite() && *w >= 0.0)) {
            fail("weight".into(), format!("{w} is not a number >= 0"));
        }
        for (field, value) in [("cap", self.cap), ("max_ngram_share", self.max_ngram_share)] {
            if let Some(v) = value.filter(|v| !(0.0..=1.0).contains(v)) {
                fail(field.into(), format!("{v} is not between 0 and 1"));
            }
        }
        if self.ngram.is_some_and(|n| !(2..=8).contains(&n)) {
            fail("ngram".into(), "must be between 2 and 8".into());
        }
        let lists = [
            ("when_request", &self.when_request),
            ("unless_request", &self.unless_request),
            ("unless_answer", &self.unless_answer),
            ("forbid_near", &self.forbid_near),
            ("patterns", &self.patterns),
        ];
        for (field, list) in lists {
            for (i, source) in list.iter().flatten().enumerate() {
                check_pattern(source, format!("{field}[{i}]"), &mut fail);
            }
        }
        for (i, group) in self.item_patterns.iter().flatten().enumerate() {
            if group.is_empty() {
                fail(format!("item_patterns[{i}]"), "is an empty group".into());
            }
            for (j, source) in group.iter().enumerate() {
                check_pattern(source, format!("item_patterns[{i}][{j}]"), &mut fail);
            }
        }
    }
}

/// Reports `source` at `field` when it does not compile.
fn check_pattern(source: &str, field: String, fail: &mut impl FnMut(String, String)) {
    if let Err(message) = Pattern::new(source) {
        fail(field, format!("pattern {source:?} {message}"));
    }
}

/// Compiles a list of patterns already checked by `validate_fields`.
pub(crate) fn compile(sources: Option<&Vec<String>>) -> Vec<Pattern> {
    sources
        .into_iter()
        .flatten()
        .filter_map(|s| Pattern::new(s).ok())
        .collect()
}
