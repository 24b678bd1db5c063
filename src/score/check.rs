//! A merged raw check turned into a compiled, validated [`Check`].

use serde::Serialize;

use super::pattern::Pattern;
use super::raw::{CheckError, RawCheck, compile as patterns};

/// What a check looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckKind {
    /// The model stopped at its token limit.
    Truncation,
    /// Characters, words or sentences within bounds.
    Length,
    /// A numbered list with enough (and not too many) well-formed items.
    NumberedList,
    /// Date formats, or dates where none may be.
    Dates,
    /// A field the answer must contain (one of some patterns).
    Required,
    /// Text the answer must not contain.
    Forbidden,
    /// A refusal where the intent should answer.
    Refusal,
    /// Facts in the answer that the request does not contain.
    Grounding,
    /// Repeated sentences or phrases.
    Repetition,
}

const KINDS: [CheckKind; 9] = [
    CheckKind::Truncation,
    CheckKind::Length,
    CheckKind::NumberedList,
    CheckKind::Dates,
    CheckKind::Required,
    CheckKind::Forbidden,
    CheckKind::Refusal,
    CheckKind::Grounding,
    CheckKind::Repetition,
];

/// Fields every kind accepts.
const COMMON: &[&str] = &[
    "kind",
    "enabled",
    "weight",
    "cap",
    "when_request",
    "unless_request",
    "unless_answer",
];

impl CheckKind {
    /// The name used in the configuration and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckKind::Truncation => "truncation",
            CheckKind::Length => "length",
            CheckKind::NumberedList => "numbered_list",
            CheckKind::Dates => "dates",
            CheckKind::Required => "required",
            CheckKind::Forbidden => "forbidden",
            CheckKind::Refusal => "refusal",
            CheckKind::Grounding => "grounding",
            CheckKind::Repetition => "repetition",
        }
    }

    /// Fields of this kind beyond the common ones.
    fn fields(self) -> &'static [&'static str] {
        match self {
            CheckKind::Truncation => &["stop_reasons"],
            CheckKind::Length => &[
                "min_chars",
                "max_chars",
                "min_words",
                "max_words",
                "max_sentences",
            ],
            CheckKind::NumberedList => &[
                "min_items",
                "max_items",
                "item_patterns",
                "min_item_words",
                "accept_question",
            ],
            CheckKind::Dates => &["iso", "forbid", "forbid_near", "near_chars"],
            CheckKind::Required | CheckKind::Forbidden | CheckKind::Refusal => &["patterns"],
            CheckKind::Grounding => &["items", "patterns", "ignore_words", "max_ungrounded"],
            CheckKind::Repetition => &["min_sentence_words", "ngram", "max_ngram_share"],
        }
    }
}

/// Stop reasons that mean "cut at the token limit", compared ignoring
/// case: Claude, Converse and Nova say `max_tokens`, Llama and Mistral
/// `length`, Titan `LENGTH`, Cohere `MAX_TOKENS`.
const DEFAULT_STOP_REASONS: &[&str] = &["max_tokens", "length"];

/// Generic refusals in English and Japanese. Specific enough that an
/// answer declining one thing ("I can't predict a delivery date") is not
/// mistaken for refusing the whole request.
const DEFAULT_REFUSALS: &[&str] = &[
    "can't help with th",
    "cannot help with th",
    "can't assist with th",
    "cannot assist with th",
    "unable to help with th",
    "unable to assist with",
    "not able to help with th",
    "not able to assist with",
    "can't help you with",
    "cannot help you with",
    "won't be able to help",
    "as an ai language model",
    "i must decline",
    "お手伝いできません",
    "お答えできません",
    "回答できません",
    "対応できません",
];

/// One compiled check.
#[derive(Debug, Clone)]
pub struct Check {
    /// The check's name in its intent's table.
    pub name: String,
    /// What it looks at.
    pub kind: CheckKind,
    /// Its share of the score.
    pub weight: f64,
    /// The highest score an answer failing it can get.
    pub cap: Option<f64>,
    pub(crate) when_request: Vec<Pattern>,
    pub(crate) unless_request: Vec<Pattern>,
    pub(crate) unless_answer: Vec<Pattern>,
    pub(crate) rule: Rule,
}

/// The kind-specific part of a check.
#[derive(Debug, Clone)]
pub(crate) enum Rule {
    Truncation(Vec<String>),
    Length(Length),
    List(List),
    Dates(Dates),
    Required(Vec<Pattern>),
    Forbidden(Vec<Pattern>),
    Grounding(Grounding),
    Repetition(Repetition),
}

#[derive(Debug, Clone)]
pub(crate) struct Length {
    pub min_chars: Option<usize>,
    pub max_chars: Option<usize>,
    pub min_words: Option<usize>,
    pub max_words: Option<usize>,
    pub max_sentences: Option<usize>,
}

#[derive(Debug, Clone)]
pub(crate) struct List {
    pub min_items: usize,
    pub max_items: Option<usize>,
    /// Every item must match a pattern of each group.
    pub item_patterns: Vec<Vec<Pattern>>,
    pub min_item_words: usize,
    pub accept_question: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Dates {
    pub iso: bool,
    pub forbid: bool,
    pub forbid_near: Vec<Pattern>,
    pub near_chars: usize,
}

#[derive(Debug, Clone)]
pub(crate) struct Grounding {
    pub dates: bool,
    pub prices: bool,
    pub percents: bool,
    pub titles: bool,
    pub patterns: Vec<Pattern>,
    pub ignore_words: Vec<String>,
    pub max_ungrounded: usize,
}

#[derive(Debug, Clone)]
pub(crate) struct Repetition {
    pub min_sentence_words: usize,
    pub ngram: usize,
    pub max_ngram_share: f64,
}

const GROUNDING_ITEMS: [&str; 4] = ["dates", "prices", "percents", "titles"];

fn size(value: Option<u64>) -> Option<usize> {
    value.map(|v| usize::try_from(v).unwrap_or(usize::MAX))
}

/// Compiles a merged check whose fields passed `validate_fields`; `None`
/// when it is disabled. Errors carry `key` (`quality.<intent>.<check>`).
pub(crate) fn compile(
    name: &str,
    raw: &RawCheck,
    key: &str,
) -> Result<Option<Check>, Vec<CheckError>> {
    let kind = kind_of(raw, key)?;
    let mut errors = unused_fields(kind, raw, key);
    let rule = rule(kind, raw, key, &mut errors);
    if !errors.is_empty() {
        return Err(errors);
    }
    if raw.enabled == Some(false) {
        return Ok(None);
    }
    Ok(Some(Check {
        name: name.to_string(),
        kind,
        weight: raw.weight.unwrap_or(1.0),
        cap: raw.cap,
        when_request: patterns(raw.when_request.as_ref()),
        unless_request: patterns(raw.unless_request.as_ref()),
        unless_answer: patterns(raw.unless_answer.as_ref()),
        rule,
    }))
}

fn kind_of(raw: &RawCheck, key: &str) -> Result<CheckKind, Vec<CheckError>> {
    let error = |message: String| vec![CheckError::new(format!("{key}.kind"), message)];
    let Some(name) = raw.kind.as_deref() else {
        // `enabled = false` alone names a check that no layer defines.
        return Err(error(match raw.enabled {
            Some(false) => "missing: there is no check of this name to switch off".into(),
            _ => "missing; every check needs a kind".into(),
        }));
    };
    KINDS
        .into_iter()
        .find(|k| k.as_str() == name)
        .ok_or_else(|| {
            let known: Vec<&str> = KINDS.iter().map(|k| k.as_str()).collect();
            error(format!(
                "unknown kind {name:?}; expected one of: {}",
                known.join(", ")
            ))
        })
}

/// An error for every field set that `kind` does not use.
fn unused_fields(kind: CheckKind, raw: &RawCheck, key: &str) -> Vec<CheckError> {
    let uses = kind.fields().join(", ");
    raw.fields()
        .into_iter()
        .filter(|f| !COMMON.contains(&f.as_str()) && !kind.fields().contains(&f.as_str()))
        .map(|f| {
            let message = format!("not used by kind {:?} (it uses: {uses})", kind.as_str());
            CheckError::new(format!("{key}.{f}"), message)
        })
        .collect()
}

fn rule(kind: CheckKind, raw: &RawCheck, key: &str, errors: &mut Vec<CheckError>) -> Rule {
    let mut fail = |field: &str, message: &str| {
        errors.push(CheckError::new(format!("{key}.{field}"), message))
    };
    let listed = raw.patterns.as_ref().is_some_and(|p| !p.is_empty());
    match kind {
        CheckKind::Truncation => Rule::Truncation(match &raw.stop_reasons {
            Some(reasons) => reasons.iter().map(|r| r.to_lowercase()).collect(),
            None => DEFAULT_STOP_REASONS.iter().map(|r| r.to_string()).collect(),
        }),
        CheckKind::Length => length(raw, &mut fail),
        CheckKind::NumberedList => list(raw, &mut fail),
        CheckKind::Dates => dates(raw, &mut fail),
        CheckKind::Required | CheckKind::Forbidden if !listed => {
            fail("patterns", "needs at least one pattern");
            Rule::Required(Vec::new())
        }
        CheckKind::Required => Rule::Required(patterns(raw.patterns.as_ref())),
        CheckKind::Forbidden => Rule::Forbidden(patterns(raw.patterns.as_ref())),
        CheckKind::Refusal if raw.patterns.is_some() => {
            Rule::Forbidden(patterns(raw.patterns.as_ref()))
        }
        CheckKind::Refusal => Rule::Forbidden(
            DEFAULT_REFUSALS
                .iter()
                .filter_map(|p| Pattern::new(p).ok())
                .collect(),
        ),
        CheckKind::Grounding => grounding(raw, &mut fail),
        CheckKind::Repetition => Rule::Repetition(Repetition {
            min_sentence_words: size(raw.min_sentence_words).unwrap_or(4),
            ngram: size(raw.ngram).unwrap_or(4),
            max_ngram_share: raw.max_ngram_share.unwrap_or(0.3),
        }),
    }
}

/// True unless both bounds are set and the lower is above the upper.
fn ordered(min: Option<u64>, max: Option<u64>) -> bool {
    min.zip(max).is_none_or(|(low, high)| low <= high)
}

fn length(raw: &RawCheck, fail: &mut impl FnMut(&str, &str)) -> Rule {
    let set = [
        raw.min_chars,
        raw.max_chars,
        raw.min_words,
        raw.max_words,
        raw.max_sentences,
    ];
    if set.iter().all(Option::is_none) {
        fail("kind", "a length check needs at least one bound");
    }
    if !ordered(raw.min_chars, raw.max_chars) {
        fail("min_chars", "is above max_chars");
    }
    if !ordered(raw.min_words, raw.max_words) {
        fail("min_words", "is above max_words");
    }
    Rule::Length(Length {
        min_chars: size(raw.min_chars),
        max_chars: size(raw.max_chars),
        min_words: size(raw.min_words),
        max_words: size(raw.max_words),
        max_sentences: size(raw.max_sentences),
    })
}

fn list(raw: &RawCheck, fail: &mut impl FnMut(&str, &str)) -> Rule {
    if !ordered(raw.min_items, raw.max_items) {
        fail("min_items", "is above max_items");
    }
    Rule::List(List {
        min_items: size(raw.min_items).unwrap_or(1),
        max_items: size(raw.max_items),
        item_patterns: raw
            .item_patterns
            .iter()
            .flatten()
            .map(|g| patterns(Some(g)))
            .collect(),
        min_item_words: size(raw.min_item_words).unwrap_or(0),
        accept_question: raw.accept_question == Some(true),
    })
}

fn dates(raw: &RawCheck, fail: &mut impl FnMut(&str, &str)) -> Rule {
    let near = patterns(raw.forbid_near.as_ref());
    if raw.iso != Some(true) && raw.forbid != Some(true) && near.is_empty() {
        fail(
            "kind",
            "a dates check needs iso = true, forbid = true or forbid_near",
        );
    }
    Rule::Dates(Dates {
        iso: raw.iso == Some(true),
        forbid: raw.forbid == Some(true),
        forbid_near: near,
        near_chars: size(raw.near_chars).unwrap_or(40),
    })
}

fn grounding(raw: &RawCheck, fail: &mut impl FnMut(&str, &str)) -> Rule {
    let items = raw.items.clone().unwrap_or_default();
    for (i, item) in items.iter().enumerate() {
        if !GROUNDING_ITEMS.contains(&item.as_str()) {
            fail(
                &format!("items[{i}]"),
                "must be one of: dates, prices, percents, titles",
            );
        }
    }
    let patterns = patterns(raw.patterns.as_ref());
    if items.is_empty() && patterns.is_empty() {
        fail("kind", "a grounding check needs items or patterns");
    }
    let has = |name: &str| items.iter().any(|i| i == name);
    Rule::Grounding(Grounding {
        dates: has("dates"),
        prices: has("prices"),
        percents: has("percents"),
        titles: has("titles"),
        patterns,
        ignore_words: raw
            .ignore_words
            .iter()
            .flatten()
            .map(|w| w.to_lowercase())
            .collect(),
        max_ungrounded: size(raw.max_ungrounded).unwrap_or(0),
    })
}
