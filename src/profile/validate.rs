//! Range checks for a merged profile, with the key path in every error.

use std::collections::BTreeMap;

use super::{Profile, RawProfile};
use crate::config::ConfigError;
use crate::rewrite::{InferenceParams, PromptMode};

/// Few-shot strategies a profile may name.
pub const STRATEGIES: [&str; 4] = ["aligned", "edge_cases", "diverse", "with_negatives"];
const MAX_FEW_SHOTS: u32 = 10;
const MAX_STOP_SEQUENCES: usize = 8;

struct Check<'a> {
    intent: &'a str,
    errors: Vec<ConfigError>,
}

impl Check<'_> {
    fn range(&mut self, field: &str, value: Option<f64>, ok: impl Fn(f64) -> bool, rule: &str) {
        if let Some(v) = value
            && !(v.is_finite() && ok(v))
        {
            self.fail(field, format!("{v} is out of range: {rule}"));
        }
    }

    fn fail(&mut self, field: &str, message: String) {
        self.errors.push(ConfigError::new(
            format!("profiles.{}.{field}", self.intent),
            message,
        ));
    }
}

pub(super) fn profile(intent: &str, raw: &RawProfile) -> Result<Profile, Vec<ConfigError>> {
    let mut c = Check {
        intent,
        errors: Vec::new(),
    };
    if intent.is_empty()
        || !intent
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        c.fail(
            "",
            format!("intent name `{intent}` may use only letters, digits, `_` and `-`"),
        );
    }
    c.range(
        "temperature",
        raw.temperature,
        |v| (0.0..=1.0).contains(&v),
        "0 ≤ temperature ≤ 1",
    );
    c.range("top_p", raw.top_p, |v| v > 0.0 && v <= 1.0, "0 < top_p ≤ 1");
    c.range(
        "frequency_penalty",
        raw.frequency_penalty,
        |v| (0.0..=2.0).contains(&v),
        "0 ≤ frequency_penalty ≤ 2",
    );
    c.range(
        "quality_score_target",
        raw.quality_score_target,
        |v| (0.0..=1.0).contains(&v),
        "0 ≤ target ≤ 1",
    );
    c.range("top_k", raw.top_k.map(f64::from), |v| v >= 1.0, "top_k ≥ 1");
    c.range(
        "max_tokens",
        raw.max_tokens.map(f64::from),
        |v| v >= 1.0,
        "max_tokens ≥ 1",
    );
    c.range(
        "few_shot_count",
        raw.few_shot_count.map(f64::from),
        |v| v <= f64::from(MAX_FEW_SHOTS),
        "at most 10",
    );
    check_stops(&mut c, raw.stop_sequences.as_deref());
    let prompt_mode = prompt_mode(&mut c, raw.prompt_mode.as_deref());
    let strategy = raw
        .few_shot_strategy
        .clone()
        .unwrap_or_else(|| "aligned".into());
    if !STRATEGIES.contains(&strategy.as_str()) {
        c.fail(
            "few_shot_strategy",
            format!("`{strategy}` is not one of {}", STRATEGIES.join(", ")),
        );
    }
    if !c.errors.is_empty() {
        return Err(c.errors);
    }
    Ok(Profile {
        intent: intent.to_string(),
        params: InferenceParams {
            temperature: raw.temperature,
            top_k: raw.top_k,
            top_p: raw.top_p,
            max_tokens: raw.max_tokens,
            stop_sequences: raw.stop_sequences.clone(),
            frequency_penalty: raw.frequency_penalty,
        },
        system_prompt_key: raw.system_prompt_key.clone().filter(|k| !k.is_empty()),
        prompt_mode,
        few_shot_count: raw.few_shot_count.unwrap_or(0),
        few_shot_strategy: strategy,
        quality_score_target: raw.quality_score_target,
        app_values_win: raw.app_values_win.unwrap_or(false),
        version: raw.version.clone().unwrap_or_else(|| "unversioned".into()),
        updated_at: raw.updated_at.clone(),
        sources: BTreeMap::new(),
    })
}

fn check_stops(c: &mut Check<'_>, stops: Option<&[String]>) {
    let Some(stops) = stops else { return };
    if stops.len() > MAX_STOP_SEQUENCES {
        c.fail(
            "stop_sequences",
            format!("{} sequences; at most {MAX_STOP_SEQUENCES}", stops.len()),
        );
    }
    if stops.iter().any(String::is_empty) {
        c.fail(
            "stop_sequences",
            "an empty stop sequence would end every answer at once".into(),
        );
    }
}

fn prompt_mode(c: &mut Check<'_>, mode: Option<&str>) -> PromptMode {
    match mode.unwrap_or("prepend") {
        "prepend" => PromptMode::Prepend,
        "replace" => PromptMode::Replace,
        "append" => PromptMode::Append,
        "keep" => PromptMode::Keep,
        other => {
            c.fail(
                "prompt_mode",
                format!("`{other}` is not one of prepend, replace, append, keep"),
            );
            PromptMode::Prepend
        }
    }
}
