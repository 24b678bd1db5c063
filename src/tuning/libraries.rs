//! The prompt and few-shot libraries and the intent classifier, built from
//! the configuration over the built-in data and checked against the
//! profiles that refer to them.

use std::time::Duration;

use crate::classify::{Classifier, ModelCall, ModelClassifier, ModelSettings, RuleSet};
use crate::config::{ConfigError, TuningSettings};
use crate::fewshot::FewShotLibrary;
use crate::profile::ProfileSet;
use crate::prompts::PromptLibrary;

/// The libraries, with every profile's prompt key resolved.
pub(super) fn load(
    settings: &TuningSettings,
    profiles: &ProfileSet,
) -> Result<(PromptLibrary, FewShotLibrary), Vec<ConfigError>> {
    let as_errors = |key: &str, messages: Vec<String>| -> Vec<ConfigError> {
        messages
            .into_iter()
            .map(|m| ConfigError::new(key, m))
            .collect()
    };
    let prompts =
        PromptLibrary::with_overrides(&settings.prompts).map_err(|e| as_errors("prompts", e))?;
    let few_shots =
        FewShotLibrary::with_extra(&settings.few_shots).map_err(|e| as_errors("few_shots", e))?;
    let missing: Vec<ConfigError> = profiles
        .iter()
        .filter_map(|p| {
            let key = p.system_prompt_key.as_deref()?;
            prompts.get(key).is_none().then(|| {
                ConfigError::new(
                    format!("profiles.{}.system_prompt_key", p.intent),
                    format!("no prompt `{key}` in the prompt library"),
                )
            })
        })
        .collect();
    match missing.is_empty() {
        true => Ok((prompts, few_shots)),
        false => Err(missing),
    }
}

/// The classifier the configuration asks for, `None` when it is off.
pub(super) fn classifier(
    settings: &TuningSettings,
    model_call: Option<ModelCall>,
) -> Result<Option<Classifier>, Vec<ConfigError>> {
    let c = &settings.classifier;
    let rules = RuleSet::with_overrides(&settings.intent_rules, c.threshold).map_err(|e| {
        e.into_iter()
            .map(|m| ConfigError::new("intent_rules", m))
            .collect::<Vec<_>>()
    })?;
    match c.mode.as_deref().unwrap_or("rules") {
        "off" => Ok(None),
        "rules" => Ok(Some(Classifier::new(rules))),
        "model" => {
            if c.model_id.as_deref().is_none_or(str::is_empty) {
                return Err(vec![ConfigError::new(
                    "classifier.model_id",
                    "model mode needs a model id",
                )]);
            }
            // Without a way to call Bedrock (a configuration check), the
            // rules stand in; the sidecar always passes one.
            let Some(call) = model_call else {
                return Ok(Some(Classifier::new(rules)));
            };
            let defaults = ModelSettings::default();
            let model_settings = ModelSettings {
                timeout: c.timeout_ms.map_or(defaults.timeout, Duration::from_millis),
                cache_capacity: c.cache_capacity.unwrap_or(defaults.cache_capacity),
                cache_ttl: c
                    .cache_ttl_secs
                    .map_or(defaults.cache_ttl, Duration::from_secs),
                rules_confident_score: c.rules_confident_score,
            };
            let model = ModelClassifier::new(call, rules.intents().to_vec(), model_settings);
            Ok(Some(Classifier::new(rules).with_model(model)))
        }
        other => Err(vec![ConfigError::new(
            "classifier.mode",
            format!("`{other}` is not rules, model or off"),
        )]),
    }
}
