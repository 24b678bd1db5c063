//! Configuration: built-in defaults, then `sidecar.toml`, then flags and
//! `BEDROCK_TUNER_*` environment variables for the settings they name.
//!
//! The file is read into raw serde types that reject unknown keys
//! ([`raw`]), then checked once into the runtime [`Settings`] that the rest
//! of the sidecar uses ([`validate`]). Every error names its key path, and
//! every value in force remembers where it came from ([`Source`]).

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub mod raw;
mod validate;

pub use validate::{ConfigError, ConfigErrors};

/// Where a setting in force came from, lowest precedence first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Default,
    File,
    Flag,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Source::Default => "default",
            Source::File => "file",
            Source::Flag => "flag/env",
        })
    }
}

/// A setting's value together with the layer it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sourced<T> {
    pub value: T,
    pub source: Source,
}

impl<T> Sourced<T> {
    pub fn new(value: T, source: Source) -> Self {
        Self { value, source }
    }
}

/// Where forwarded calls go and which region they are signed for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpstreamTarget {
    /// Follow the region each app request was signed for, to
    /// `https://bedrock-runtime.<region>.amazonaws.com`.
    FollowRequest { fallback_region: Option<String> },
    /// One region, pinned: requests signed for another are refused.
    Pinned { base: http::Uri, region: String },
}

/// The validated settings the sidecar runs with.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: Sourced<SocketAddr>,
    pub admin_listen: Sourced<SocketAddr>,
    pub upstream: Sourced<UpstreamTarget>,
    /// Extra PEM root certificates trusted for the upstream.
    pub ca_file: Option<PathBuf>,
    pub connect_timeout: Duration,
    /// Largest request body accepted (Bedrock's own limit by default).
    pub max_body_bytes: usize,
    /// Bytes of request bodies held in memory at once, over all requests.
    pub body_budget_bytes: usize,
    /// Model ids allowed through; empty means all.
    pub allowed_models: Vec<String>,
    pub intent_header: http::HeaderName,
    pub session_header: http::HeaderName,
    pub shutdown_grace: Duration,
    pub log: LogSettings,
    pub tuning: TuningSettings,
    pub store: crate::store::StoreConfig,
    pub prices: crate::observe::PriceTable,
    /// Where each plain setting came from, by key path.
    pub sources: std::collections::BTreeMap<&'static str, Source>,
}

/// How requests are tuned: policies and the file's profile layer.
#[derive(Debug, Clone, Default)]
pub struct TuningSettings {
    pub policy: crate::tuning::TuningPolicy,
    pub model_limits_file: Option<PathBuf>,
    pub profiles: std::collections::BTreeMap<String, crate::profile::RawProfile>,
    pub experiments: Vec<crate::experiment::RawExperiment>,
    pub prompts: std::collections::BTreeMap<String, String>,
    pub few_shots: Vec<crate::fewshot::FewShotEntry>,
    pub intent_rules: Vec<crate::classify::RuleEntry>,
    pub classifier: raw::RawClassifier,
    pub quality: crate::score::RawQualityTable,
    /// The store's layer, filled in by the store refresh (never by the
    /// file): it wins over the file where both name a profile or an
    /// experiment.
    pub store_profiles: std::collections::BTreeMap<String, crate::profile::RawProfile>,
    pub store_experiments: Vec<crate::experiment::RawExperiment>,
}

/// How the sidecar logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    pub json: bool,
    /// A tracing filter such as `info` or `bedrock_tuner=debug`;
    /// `RUST_LOG` wins when set.
    pub level: String,
}

/// Settings named on the command line or in the environment; each one
/// overrides the file.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub listen: Option<SocketAddr>,
    pub admin_listen: Option<SocketAddr>,
    pub upstream: Option<String>,
    pub region: Option<String>,
    /// The region of the AWS environment (`AWS_REGION`,
    /// `AWS_DEFAULT_REGION`): a fallback, not a pin.
    pub ambient_region: Option<String>,
}

impl Settings {
    /// Loads the file (if any), applies overrides, validates everything and
    /// reports every problem at once.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Self, ConfigErrors> {
        let raw = match file {
            Some(path) => raw::RawConfig::read(path)?,
            None => raw::RawConfig::default(),
        };
        validate::settings(&raw, overrides)
    }

    /// The settings in force with their sources, one `key = value (source)`
    /// line each, for operators.
    pub fn describe(&self) -> Vec<(String, String, Source)> {
        let upstream = match &self.upstream.value {
            UpstreamTarget::FollowRequest { fallback_region } => format!(
                "per request region (fallback {})",
                fallback_region.as_deref().unwrap_or("none")
            ),
            UpstreamTarget::Pinned { base, region } => format!("{base} (region {region})"),
        };
        vec![
            row("proxy.listen", self.listen.value, self.listen.source),
            row(
                "admin.listen",
                self.admin_listen.value,
                self.admin_listen.source,
            ),
            ("proxy.upstream".into(), upstream, self.upstream.source),
        ]
    }
}

fn row(key: &str, value: impl fmt::Display, source: Source) -> (String, String, Source) {
    (key.to_string(), value.to_string(), source)
}
