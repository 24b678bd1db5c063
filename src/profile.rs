//! Parameter profiles: what each intent's calls are tuned with.
//!
//! A profile is resolved field by field from layers, lowest first: the
//! built-in defaults, `sidecar.toml`, then the store. Every resolved field
//! remembers its layer so `profiles show` can say where a value came from.
//! Values are validated once, with the key path in every error.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::config::ConfigError;
use crate::rewrite::{InferenceParams, PromptMode};

pub mod builtin;
pub mod raw;
mod validate;

pub use raw::RawProfile;

/// The layer a profile field came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProfileSource {
    Builtin,
    File,
    Store,
}

impl fmt::Display for ProfileSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProfileSource::Builtin => "built-in",
            ProfileSource::File => "file",
            ProfileSource::Store => "store",
        })
    }
}

/// One intent's resolved, validated profile.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub intent: String,
    pub params: InferenceParams,
    pub system_prompt_key: Option<String>,
    pub prompt_mode: PromptMode,
    pub few_shot_count: u32,
    pub few_shot_strategy: String,
    pub quality_score_target: Option<f64>,
    pub app_values_win: bool,
    pub version: String,
    pub updated_at: Option<String>,
    /// The layer of every field that was set, by field name.
    pub sources: BTreeMap<String, ProfileSource>,
}

/// The name a request's intent is labelled with when no profile matched.
pub const UNKNOWN_INTENT: &str = "unknown";

/// Every intent's profile, plus the conservative one for requests whose
/// intent is unknown.
#[derive(Debug, Clone)]
pub struct ProfileSet {
    by_intent: BTreeMap<String, Arc<Profile>>,
    conservative: Arc<Profile>,
}

/// Layers of raw profiles, by intent, lowest precedence first.
pub type Layers<'a> = [(ProfileSource, &'a BTreeMap<String, RawProfile>)];

impl ProfileSet {
    /// Resolves and validates every intent named in any layer.
    pub fn resolve(layers: &Layers<'_>) -> Result<Self, Vec<ConfigError>> {
        let mut intents: Vec<&String> = layers.iter().flat_map(|(_, l)| l.keys()).collect();
        intents.sort();
        intents.dedup();
        let mut by_intent = BTreeMap::new();
        let mut errors = Vec::new();
        for intent in intents {
            match resolve_one(intent, layers) {
                Ok(profile) => {
                    by_intent.insert(intent.clone(), Arc::new(profile));
                }
                Err(mut e) => errors.append(&mut e),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let conservative = Arc::new(conservative(&by_intent));
        Ok(Self {
            by_intent,
            conservative,
        })
    }

    /// The built-in profiles alone.
    pub fn builtin() -> Self {
        let layer: BTreeMap<String, RawProfile> = builtin::profiles().into_iter().collect();
        Self::resolve(&[(ProfileSource::Builtin, &layer)]).unwrap_or_else(|_| Self::empty())
    }

    fn empty() -> Self {
        Self {
            by_intent: BTreeMap::new(),
            conservative: Arc::new(conservative(&BTreeMap::new())),
        }
    }

    pub fn get(&self, intent: &str) -> Option<&Arc<Profile>> {
        self.by_intent.get(intent)
    }

    /// Sampling parameters for requests whose intent is unknown.
    pub fn conservative(&self) -> &Arc<Profile> {
        &self.conservative
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<Profile>> {
        self.by_intent.values()
    }

    pub fn intents(&self) -> impl Iterator<Item = &str> {
        self.by_intent.keys().map(String::as_str)
    }
}

/// Merges the layers' fields for one intent, then validates the result.
fn resolve_one(intent: &str, layers: &Layers<'_>) -> Result<Profile, Vec<ConfigError>> {
    let mut merged = Map::new();
    let mut sources = BTreeMap::new();
    for (source, layer) in layers {
        let Some(raw) = layer.get(intent) else {
            continue;
        };
        let Ok(Value::Object(fields)) = serde_json::to_value(raw) else {
            continue;
        };
        for (field, value) in fields {
            sources.insert(field.clone(), *source);
            merged.insert(field, value);
        }
    }
    let raw: RawProfile = serde_json::from_value(Value::Object(merged)).map_err(|e| {
        vec![ConfigError::new(
            format!("profiles.{intent}"),
            e.to_string(),
        )]
    })?;
    let mut profile = validate::profile(intent, &raw)?;
    profile.sources = sources;
    Ok(profile)
}

/// The order-status sampling parameters without any prompt or examples.
fn conservative(by_intent: &BTreeMap<String, Arc<Profile>>) -> Profile {
    let base = by_intent.get(builtin::CONSERVATIVE_INTENT);
    let base_raw: BTreeMap<String, RawProfile> = builtin::profiles().into_iter().collect();
    let fallback = base_raw
        .get(builtin::CONSERVATIVE_INTENT)
        .cloned()
        .unwrap_or_default();
    let params = InferenceParams {
        temperature: base.map_or(fallback.temperature, |p| p.params.temperature),
        top_k: base.map_or(fallback.top_k, |p| p.params.top_k),
        top_p: base.map_or(fallback.top_p, |p| p.params.top_p),
        ..InferenceParams::default()
    };
    let version = base.map_or(builtin::BUILTIN_VERSION.to_string(), |p| p.version.clone());
    Profile {
        intent: UNKNOWN_INTENT.into(),
        params,
        system_prompt_key: None,
        prompt_mode: PromptMode::Keep,
        few_shot_count: 0,
        few_shot_strategy: "aligned".into(),
        quality_score_target: None,
        app_values_win: false,
        version: format!("conservative:{version}"),
        updated_at: None,
        sources: BTreeMap::new(),
    }
}

impl Profile {
    /// The profile as one raw layer, so overrides can be merged onto it.
    pub fn to_raw(&self) -> RawProfile {
        let v = &self.params;
        RawProfile {
            temperature: v.temperature,
            top_k: v.top_k,
            top_p: v.top_p,
            max_tokens: v.max_tokens,
            stop_sequences: v.stop_sequences.clone(),
            frequency_penalty: v.frequency_penalty,
            system_prompt_key: self.system_prompt_key.clone(),
            prompt_mode: Some(self.prompt_mode.as_str().into()),
            few_shot_count: Some(self.few_shot_count),
            few_shot_strategy: Some(self.few_shot_strategy.clone()),
            quality_score_target: self.quality_score_target,
            app_values_win: Some(self.app_values_win),
            version: Some(self.version.clone()),
            updated_at: self.updated_at.clone(),
        }
    }
}

/// `base` with `overrides` laid over it field by field and validated;
/// errors name `key_prefix.<field>`.
pub fn merge_overrides(
    base: &Profile,
    overrides: &RawProfile,
    key_prefix: &str,
) -> Result<Profile, Vec<ConfigError>> {
    let base_layer = BTreeMap::from([(base.intent.clone(), base.to_raw())]);
    let over_layer = BTreeMap::from([(base.intent.clone(), overrides.clone())]);
    let layers = [
        (ProfileSource::Builtin, &base_layer),
        (ProfileSource::Store, &over_layer),
    ];
    let own_prefix = format!("profiles.{}", base.intent);
    resolve_one(&base.intent, &layers).map_err(|errors| {
        errors
            .into_iter()
            .map(|e| ConfigError::new(e.key.replacen(&own_prefix, key_prefix, 1), e.message))
            .collect()
    })
}
