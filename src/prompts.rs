//! The versioned library of managed system prompts.
//!
//! A prompt is addressed by a key such as `order_status_v3`: a name, `_v`,
//! and a version number. A changed wording gets a new key instead of
//! replacing the old text, so a profile or an A/B arm that names a key keeps
//! the exact text it was measured with, and two versions can run side by
//! side in an experiment.
//!
//! The built-in library (`data/prompts.toml`) is compiled into the binary.
//! The sidecar's configuration may add keys or replace built-in ones with a
//! `[prompts]` table of the same shape; the configuration wins.

use std::collections::BTreeMap;

use serde::Deserialize;

const BUILTIN: &str = include_str!("../data/prompts.toml");

/// The shape of `data/prompts.toml` (and of the configuration's section).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PromptFile {
    prompts: BTreeMap<String, String>,
}

/// System prompt texts by versioned key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PromptLibrary {
    prompts: BTreeMap<String, String>,
}

impl PromptLibrary {
    /// The library compiled into the binary.
    ///
    /// The embedded file is checked by the test suite; should it ever fail
    /// to load anyway, the error is logged and the library is empty, so
    /// requests go out without a managed prompt instead of the sidecar
    /// refusing to start.
    pub fn builtin() -> Self {
        match Self::parse(BUILTIN) {
            Ok(library) => library,
            Err(errors) => {
                tracing::error!(?errors, "built-in prompt library is invalid");
                Self::default()
            }
        }
    }

    /// The built-in library with `overrides` (the configuration's
    /// `[prompts]` table) merged over it: a new key is added, an existing
    /// one is replaced.
    ///
    /// Every invalid entry is reported, as `prompts.KEY: message`, so an
    /// operator can fix them in one pass.
    pub fn with_overrides(overrides: &BTreeMap<String, String>) -> Result<Self, Vec<String>> {
        let errors: Vec<String> = overrides
            .iter()
            .filter_map(|(key, text)| validate(key, text).err())
            .collect();
        if !errors.is_empty() {
            return Err(errors);
        }
        let mut library = Self::builtin();
        for (key, text) in overrides {
            library.prompts.insert(key.clone(), text.clone());
        }
        Ok(library)
    }

    /// Reads a library from TOML text with a `[prompts]` table.
    pub fn parse(text: &str) -> Result<Self, Vec<String>> {
        let file: PromptFile =
            toml::from_str(text).map_err(|e| vec![format!("prompts: {}", e.message().trim())])?;
        let errors: Vec<String> = file
            .prompts
            .iter()
            .filter_map(|(key, text)| validate(key, text).err())
            .collect();
        if errors.is_empty() {
            Ok(Self {
                prompts: file.prompts,
            })
        } else {
            Err(errors)
        }
    }

    /// The text stored under `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.prompts.get(key).map(String::as_str)
    }

    /// Every key, in sorted order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.prompts.keys().map(String::as_str)
    }

    /// The key of the highest version of prompt `name` (`order_status` →
    /// `order_status_v3`), comparing versions as numbers.
    pub fn latest(&self, name: &str) -> Option<&str> {
        self.keys()
            .filter_map(|key| {
                split_key(key)
                    .filter(|(n, _)| *n == name)
                    .map(|(_, v)| (v, key))
            })
            .max_by_key(|(version, _)| *version)
            .map(|(_, key)| key)
    }

    /// How many prompts the library holds.
    pub fn len(&self) -> usize {
        self.prompts.len()
    }

    /// True when the library holds no prompt.
    pub fn is_empty(&self) -> bool {
        self.prompts.is_empty()
    }
}

/// Splits a valid key into its name and version (`order_status_v3` →
/// `("order_status", 3)`); `None` when the key is not valid.
pub fn split_key(key: &str) -> Option<(&str, u64)> {
    // The version is what follows the last `_v`: anything before it,
    // another `_v` included, belongs to the name.
    let (name, version) = key.rsplit_once("_v")?;
    let name_ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    let version_ok = !version.is_empty() && version.bytes().all(|b| b.is_ascii_digit());
    if !(name_ok && version_ok) {
        return None;
    }
    // A version too long for u64 is still a well-formed key; it sorts last.
    Some((name, version.parse().unwrap_or(u64::MAX)))
}

/// Checks one entry, returning `prompts.KEY: message` when it is invalid.
fn validate(key: &str, text: &str) -> Result<(), String> {
    if split_key(key).is_none() {
        return Err(format!(
            "prompts.{key}: key must look like NAME_vN (lowercase letters, digits and \
             underscores, then _v and a version number), e.g. order_status_v3"
        ));
    }
    if text.trim().is_empty() {
        return Err(format!("prompts.{key}: text is empty"));
    }
    Ok(())
}
