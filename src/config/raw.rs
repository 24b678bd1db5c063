//! The configuration file as written: serde types that reject unknown keys.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::validate::{ConfigError, ConfigErrors};
use crate::classify::RuleEntry;
use crate::experiment::RawExperiment;
use crate::fewshot::FewShotEntry;
use crate::observe::prices::Price;
use crate::profile::RawProfile;
use crate::score::RawQualityTable;
use crate::store::RawStoreConfig;

/// `sidecar.toml`, section by section. Every field is optional: a missing
/// one takes its built-in default.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub proxy: RawProxy,
    #[serde(default)]
    pub admin: RawAdmin,
    #[serde(default)]
    pub log: RawLog,
    #[serde(default)]
    pub tuning: RawTuning,
    /// Profiles by intent, layered over the built-in ones field by field.
    #[serde(default)]
    pub profiles: BTreeMap<String, RawProfile>,
    /// Experiments declared for a single sidecar; the store wins where
    /// both name one.
    #[serde(default)]
    pub experiments: Vec<RawExperiment>,
    /// Managed system prompts by key, over the built-in library.
    #[serde(default)]
    pub prompts: BTreeMap<String, String>,
    /// Few-shot examples added to the built-in library.
    #[serde(default)]
    pub few_shots: Vec<FewShotEntry>,
    /// Intent rules over the built-in ones (same name replaces).
    #[serde(default)]
    pub intent_rules: Vec<RuleEntry>,
    #[serde(default)]
    pub classifier: RawClassifier,
    /// Where profiles, experiments and results are kept.
    #[serde(default)]
    pub store: RawStoreConfig,
    /// Quality checks per intent, over the built-in ones check by check.
    #[serde(default)]
    pub quality: RawQualityTable,
    /// USD per 1,000 tokens by model-id prefix, for the cost metric.
    #[serde(default)]
    pub prices: BTreeMap<String, Price>,
}

/// How a request without an intent header is classified.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawClassifier {
    /// `rules` (default), `model` (a small Bedrock model, rules as the
    /// fallback) or `off`.
    pub mode: Option<String>,
    /// Minimum rule score for an intent to be chosen.
    pub threshold: Option<f64>,
    /// The model asked in `model` mode.
    pub model_id: Option<String>,
    /// Latency budget of the model call, after which the rules decide.
    pub timeout_ms: Option<u64>,
    pub cache_capacity: Option<usize>,
    pub cache_ttl_secs: Option<u64>,
    /// Rule scores at or above this skip the model call.
    pub rules_confident_score: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTuning {
    /// `conservative` (default) or `pass_through`.
    pub unknown_intent: Option<String>,
    /// `forward` (default, fail open) or `reject` (fail closed with a 400).
    pub on_unparseable: Option<String>,
    /// A model-limits TOML file replacing the built-in one.
    pub model_limits_file: Option<String>,
    /// Derive a session key from the conversation when the session header
    /// is missing (default true).
    pub derive_session: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProxy {
    pub listen: Option<String>,
    pub upstream: Option<String>,
    pub region: Option<String>,
    pub ca_file: Option<String>,
    pub connect_timeout_ms: Option<u64>,
    pub max_body_bytes: Option<u64>,
    pub body_budget_bytes: Option<u64>,
    pub allowed_models: Option<Vec<String>>,
    pub intent_header: Option<String>,
    pub session_header: Option<String>,
    pub shutdown_grace_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAdmin {
    pub listen: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLog {
    pub format: Option<String>,
    pub level: Option<String>,
}

impl RawConfig {
    /// Reads and parses a file; a syntax error or unknown key is reported
    /// with its key path and line.
    pub fn read(path: &Path) -> Result<Self, ConfigErrors> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigErrors::one(ConfigError::new(
                "",
                format!("cannot read {}: {e}", path.display()),
            ))
        })?;
        Self::parse(&text)
    }

    pub fn parse(text: &str) -> Result<Self, ConfigErrors> {
        toml::from_str(text).map_err(|e| ConfigErrors::one(parse_error(text, &e)))
    }
}

fn parse_error(text: &str, err: &toml::de::Error) -> ConfigError {
    let before = err.span().map(|span| &text[..span.start.min(text.len())]);
    let line = before.map(|b| b.matches('\n').count() + 1);
    let message = err.message().trim().to_string();
    let at = line.map(|l| format!(" (line {l})")).unwrap_or_default();
    let key = key_path_of(&message, before.unwrap_or(""));
    ConfigError::new(key, format!("{message}{at}"))
}

/// toml names the offending key but not its table: the table is the last
/// `[header]` above the error.
fn key_path_of(message: &str, before: &str) -> String {
    let key = message
        .split('`')
        .nth(1)
        .filter(|_| message.starts_with("unknown field"))
        .unwrap_or("");
    let table = before
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('[') && l.ends_with(']'))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim());
    match (table, key) {
        (Some(t), k) if !k.is_empty() => format!("{t}.{k}"),
        (_, k) => k.to_string(),
    }
}
