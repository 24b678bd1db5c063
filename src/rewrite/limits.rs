//! Documented model limits, loaded from `data/model_limits.toml`.
//!
//! Limits change as AWS ships models, so they are data: the built-in copy is
//! embedded at compile time and an operator can load a newer file without a
//! release. Each entry must cite its source; loading refuses one that does not.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::error::LimitsError;
use super::family::Family;
use super::plan::Api;
use super::range::{IntRange, Range};
use super::report::Param;

const BUILTIN: &str = include_str!("../../data/model_limits.toml");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsFile {
    policy: PolicyEntry,
    converse: ConverseEntry,
    families: BTreeMap<String, FamilyEntry>,
    #[serde(default)]
    models: Vec<ModelEntry>,
    #[serde(default)]
    features: Vec<FeatureEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyEntry {
    keep_when_temperature_with_top_p: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConverseEntry {
    source: String,
    #[serde(default)]
    temperature: Range,
    #[serde(default)]
    top_p: Range,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FamilyEntry {
    source: String,
    #[serde(default)]
    temperature: Range,
    #[serde(default)]
    top_p: Range,
    #[serde(default)]
    top_k: IntRange,
    max_tokens: Option<u32>,
    #[serde(default)]
    frequency_penalty: Range,
    #[serde(default)]
    refuses_temperature_with_top_p: bool,
    refuses_source: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelEntry {
    prefix: String,
    source: String,
    max_tokens: Option<u32>,
    refuses_temperature_with_top_p: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FeatureEntry {
    name: String,
    family: String,
    path: Vec<String>,
    values: Vec<String>,
    pins: Vec<String>,
    max_tokens_above: Option<Vec<String>>,
    source: String,
}

/// A request feature that fixes some parameters, e.g. Claude's extended
/// thinking. Paths are read from the model-native root: the body for
/// InvokeModel, `additionalModelRequestFields` for Converse.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Feature {
    pub name: String,
    pub path: Vec<String>,
    pub values: Vec<String>,
    pub pins: Vec<Param>,
    pub max_tokens_above: Option<Vec<String>>,
}

/// Model limits: ranges, maximum output tokens, refused combinations and
/// parameter-pinning features, per family and model-id prefix.
#[derive(Debug, Clone)]
pub struct ModelLimits {
    keep_on_conflict: Param,
    converse: ConverseEntry,
    families: BTreeMap<Family, FamilyEntry>,
    /// Sorted by prefix length so that longer (more specific) prefixes win.
    models: Vec<ModelEntry>,
    features: Vec<(Family, Feature)>,
}

/// The limits that apply to one request, resolved from [`ModelLimits`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Rules<'l> {
    pub temperature: Range,
    pub top_p: Range,
    pub top_k: IntRange,
    pub max_tokens: Option<u32>,
    pub frequency_penalty: Range,
    pub refuses_temperature_with_top_p: bool,
    /// Temperature or TopP: the one kept when the model refuses both.
    pub keep_on_conflict: Param,
    pub features: Vec<&'l Feature>,
}

impl ModelLimits {
    /// The limits shipped in the binary (`data/model_limits.toml`).
    pub fn builtin() -> Result<ModelLimits, LimitsError> {
        ModelLimits::from_toml(BUILTIN)
    }

    /// Loads limits from a file in the layout of `data/model_limits.toml`.
    pub fn from_path(path: &Path) -> Result<ModelLimits, LimitsError> {
        let text = std::fs::read_to_string(path).map_err(|source| LimitsError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        ModelLimits::from_toml(&text)
    }

    /// Parses and checks limits given as TOML text.
    pub fn from_toml(text: &str) -> Result<ModelLimits, LimitsError> {
        let file: LimitsFile = toml::from_str(text)?;
        let keep_on_conflict = match file.policy.keep_when_temperature_with_top_p.as_str() {
            "temperature" => Param::Temperature,
            "top_p" => Param::TopP,
            other => {
                return Err(invalid(
                    "policy",
                    format!(
                        "keep_when_temperature_with_top_p is {other:?}, not \"temperature\" or \"top_p\""
                    ),
                ));
            }
        };
        check_source("converse", &file.converse.source)?;
        check_ranges(
            "converse",
            &[file.converse.temperature, file.converse.top_p],
        )?;
        let families = family_entries(file.families)?;
        let mut models = file.models;
        for m in &models {
            check_source(&m.prefix, &m.source)?;
        }
        models.sort_by_key(|m| m.prefix.len());
        let features = file
            .features
            .into_iter()
            .map(feature)
            .collect::<Result<_, _>>()?;
        Ok(ModelLimits {
            keep_on_conflict,
            converse: file.converse,
            families,
            models,
            features,
        })
    }

    /// The limits for a model, given its family and base model id (see
    /// [`super::base_model_id`]), as seen through `api`.
    pub(crate) fn rules(&self, family: Option<Family>, base_id: &str, api: Api) -> Rules<'_> {
        let none = FamilyEntry::default();
        let fam = family.and_then(|f| self.families.get(&f)).unwrap_or(&none);
        let mut rules = Rules {
            temperature: fam.temperature,
            top_p: fam.top_p,
            top_k: fam.top_k,
            max_tokens: fam.max_tokens,
            frequency_penalty: fam.frequency_penalty,
            refuses_temperature_with_top_p: fam.refuses_temperature_with_top_p,
            keep_on_conflict: self.keep_on_conflict,
            features: self
                .features
                .iter()
                .filter(|(f, _)| Some(*f) == family)
                .map(|(_, feat)| feat)
                .collect(),
        };
        if family.is_some() {
            // Ascending prefix length: a later, longer match overrides.
            for m in self
                .models
                .iter()
                .filter(|m| base_id.starts_with(&m.prefix))
            {
                rules.max_tokens = m.max_tokens.or(rules.max_tokens);
                rules.refuses_temperature_with_top_p = m
                    .refuses_temperature_with_top_p
                    .unwrap_or(rules.refuses_temperature_with_top_p);
            }
        }
        if api == Api::Converse {
            rules.temperature = rules.temperature.intersect(self.converse.temperature);
            rules.top_p = rules.top_p.intersect(self.converse.top_p);
        }
        rules
    }
}

fn invalid(entry: &str, problem: impl Into<String>) -> LimitsError {
    LimitsError::Invalid {
        entry: entry.to_string(),
        problem: problem.into(),
    }
}

fn check_source(entry: &str, source: &str) -> Result<(), LimitsError> {
    if source.trim().is_empty() {
        return Err(invalid(
            entry,
            "has no source; every limit must say where it comes from",
        ));
    }
    Ok(())
}

fn check_ranges(entry: &str, ranges: &[Range]) -> Result<(), LimitsError> {
    if ranges.iter().all(|r| r.is_ordered()) {
        Ok(())
    } else {
        Err(invalid(entry, "a range has min greater than max"))
    }
}

fn family_entries(
    raw: BTreeMap<String, FamilyEntry>,
) -> Result<BTreeMap<Family, FamilyEntry>, LimitsError> {
    let mut out = BTreeMap::new();
    for (name, entry) in raw {
        let family =
            Family::from_name(&name).ok_or_else(|| invalid(&name, "is not a known family name"))?;
        check_source(&name, &entry.source)?;
        check_ranges(
            &name,
            &[entry.temperature, entry.top_p, entry.frequency_penalty],
        )?;
        if entry.refuses_temperature_with_top_p {
            check_source(&name, entry.refuses_source.as_deref().unwrap_or(""))?;
        }
        out.insert(family, entry);
    }
    Ok(out)
}

fn feature(raw: FeatureEntry) -> Result<(Family, Feature), LimitsError> {
    check_source(&raw.name, &raw.source)?;
    let family = Family::from_name(&raw.family)
        .ok_or_else(|| invalid(&raw.name, format!("family {:?} is not known", raw.family)))?;
    if raw.path.is_empty() || raw.values.is_empty() {
        return Err(invalid(
            &raw.name,
            "needs a non-empty path and at least one value",
        ));
    }
    let pins = raw
        .pins
        .iter()
        .map(|p| {
            Param::from_name(p)
                .ok_or_else(|| invalid(&raw.name, format!("pins unknown parameter {p:?}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let feature = Feature {
        name: raw.name,
        path: raw.path,
        values: raw.values,
        pins,
        max_tokens_above: raw.max_tokens_above,
    };
    Ok((family, feature))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builtin() -> ModelLimits {
        ModelLimits::builtin().expect("built-in limits parse")
    }

    #[test]
    fn claude_generations_differ_on_temperature_with_top_p() {
        let l = builtin();
        let old = l.rules(
            Some(Family::Claude),
            "anthropic.claude-3-5-sonnet-20240620-v1:0",
            Api::InvokeModel,
        );
        let new = l.rules(
            Some(Family::Claude),
            "anthropic.claude-sonnet-4-5-20250929-v1:0",
            Api::InvokeModel,
        );
        let unknown_future = l.rules(
            Some(Family::Claude),
            "anthropic.claude-opus-9-v1:0",
            Api::InvokeModel,
        );
        assert!(!old.refuses_temperature_with_top_p);
        assert!(new.refuses_temperature_with_top_p);
        assert!(unknown_future.refuses_temperature_with_top_p);
        assert_eq!(old.max_tokens, Some(8192));
        assert_eq!(new.max_tokens, Some(64000));
    }

    #[test]
    fn converse_narrows_family_ranges() {
        let l = builtin();
        let invoke = l.rules(
            Some(Family::Jamba),
            "ai21.jamba-1-5-mini-v1:0",
            Api::InvokeModel,
        );
        let converse = l.rules(
            Some(Family::Jamba),
            "ai21.jamba-1-5-mini-v1:0",
            Api::Converse,
        );
        assert_eq!(invoke.temperature.max, Some(2.0));
        assert_eq!(converse.temperature.max, Some(1.0));
        assert_eq!(
            l.rules(None, "openai.gpt-oss-120b-1:0", Api::Converse)
                .temperature
                .max,
            Some(1.0)
        );
    }

    #[test]
    fn thinking_feature_is_claude_only() {
        let l = builtin();
        assert_eq!(
            l.rules(
                Some(Family::Claude),
                "anthropic.claude-3-7-sonnet",
                Api::InvokeModel
            )
            .features
            .len(),
            1
        );
        assert!(
            l.rules(Some(Family::Nova), "amazon.nova-pro-v1:0", Api::InvokeModel)
                .features
                .is_empty()
        );
    }

    #[test]
    fn limits_load_from_a_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("limits.toml");
        std::fs::write(
            &path,
            BUILTIN.replace("max_tokens = 2048", "max_tokens = 1000"),
        )
        .expect("written");
        let loaded = ModelLimits::from_path(&path).expect("loads");
        let llama = loaded.rules(
            Some(Family::Llama),
            "meta.llama3-8b-instruct-v1:0",
            Api::InvokeModel,
        );
        assert_eq!(llama.max_tokens, Some(1000));
        let missing = ModelLimits::from_path(&dir.path().join("absent.toml"));
        assert!(matches!(missing, Err(LimitsError::Read { .. })));
    }

    #[test]
    fn entries_without_source_are_refused() {
        let text = BUILTIN.replacen(
            "source = \"Amazon Bedrock User Guide, Amazon Titan Text",
            "source = \"\" #",
            1,
        );
        assert!(matches!(
            ModelLimits::from_toml(&text),
            Err(LimitsError::Invalid { .. })
        ));
    }

    #[test]
    fn unknown_keys_and_families_are_refused() {
        assert!(
            ModelLimits::from_toml(&format!("{BUILTIN}\n[families.gpt]\nsource = \"x\"\n"))
                .is_err()
        );
        let typo = BUILTIN.replacen("max_tokens = 2048", "max_token = 2048", 1);
        assert!(matches!(
            ModelLimits::from_toml(&typo),
            Err(LimitsError::Toml(_))
        ));
    }
}
