//! The `[store]` section of `sidecar.toml`: raw serde types that reject
//! unknown keys, checked once into a [`StoreConfig`].

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// The `[store]` table as written. Every key is optional.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStoreConfig {
    /// `embedded` (default) or `dynamodb`.
    pub backend: Option<BackendKind>,
    /// Embedded only: the SQLite file.
    pub path: Option<String>,
    /// DynamoDB only: prefix of the three table names.
    pub table_prefix: Option<String>,
    /// DynamoDB only: endpoint override (a local DynamoDB-compatible server).
    pub endpoint_url: Option<String>,
    /// DynamoDB only: region; the AWS chain's region when unset.
    pub region: Option<String>,
    pub shards: Option<u32>,
    pub refresh_interval_secs: Option<u64>,
    pub flush_interval_secs: Option<u64>,
    pub buffer_max_entries: Option<u64>,
    pub session_ttl_secs: Option<u64>,
    pub timeout_ms: Option<u64>,
}

/// Which backend holds the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    Embedded,
    Dynamodb,
}

/// The validated store settings.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreConfig {
    pub backend: BackendConfig,
    /// Counter shards per result key (DynamoDB; one writer uses one).
    pub shards: u32,
    /// How often profiles and experiments are re-read.
    pub refresh_interval: Duration,
    /// How often buffered results are written.
    pub flush_interval: Duration,
    /// Most keys held in the result buffer before new ones are dropped.
    pub buffer_max_entries: usize,
    /// How long a session's running totals (and batch receipts) are kept
    /// after its last write; longer than the longest session.
    pub session_ttl: Duration,
    /// Deadline of one store call (connect, each attempt, SQLite busy wait).
    pub timeout: Duration,
}

/// The backend and its own settings.
#[derive(Debug, Clone, PartialEq)]
pub enum BackendConfig {
    Embedded { path: PathBuf },
    DynamoDb(DynamoConfig),
}

/// Where the DynamoDB tables are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DynamoConfig {
    pub table_prefix: String,
    pub endpoint_url: Option<String>,
    pub region: Option<String>,
}

/// One bad setting, by key path (`store.shards`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfigError {
    pub key: String,
    pub message: String,
}

const DEFAULT_PATH: &str = "bedrock-tuner.sqlite";
const DEFAULT_PREFIX: &str = "bedrock-tuner-";
const DEFAULT_SHARDS: u32 = 8;
const MAX_SHARDS: u32 = 256;
const DEFAULT_REFRESH_SECS: u64 = 30;
const DEFAULT_FLUSH_SECS: u64 = 10;
const DEFAULT_BUFFER: u64 = 100_000;
const DEFAULT_SESSION_TTL_SECS: u64 = 7 * 24 * 3600;
const DEFAULT_TIMEOUT_MS: u64 = 3_000;

impl Default for StoreConfig {
    fn default() -> Self {
        let mut errors = Vec::new();
        let config = RawStoreConfig::default().resolve(&mut errors);
        debug_assert!(errors.is_empty());
        config
    }
}

impl RawStoreConfig {
    /// The settings in force, or every error found.
    pub fn validate(&self) -> Result<StoreConfig, Vec<StoreConfigError>> {
        let mut errors = Vec::new();
        let config = self.resolve(&mut errors);
        match errors.is_empty() {
            true => Ok(config),
            false => Err(errors),
        }
    }

    fn resolve(&self, errors: &mut Vec<StoreConfigError>) -> StoreConfig {
        let backend = self.backend(errors);
        StoreConfig {
            backend,
            shards: ranged(errors, "shards", self.shards, DEFAULT_SHARDS, 1, MAX_SHARDS),
            refresh_interval: secs(
                errors,
                "refresh_interval_secs",
                self.refresh_interval_secs,
                DEFAULT_REFRESH_SECS,
            ),
            flush_interval: secs(
                errors,
                "flush_interval_secs",
                self.flush_interval_secs,
                DEFAULT_FLUSH_SECS,
            ),
            buffer_max_entries: ranged(
                errors,
                "buffer_max_entries",
                self.buffer_max_entries,
                DEFAULT_BUFFER,
                100,
                100_000_000,
            ) as usize,
            session_ttl: secs(
                errors,
                "session_ttl_secs",
                self.session_ttl_secs,
                DEFAULT_SESSION_TTL_SECS,
            ),
            timeout: Duration::from_millis(ranged(
                errors,
                "timeout_ms",
                self.timeout_ms,
                DEFAULT_TIMEOUT_MS,
                10,
                600_000,
            )),
        }
    }

    fn backend(&self, errors: &mut Vec<StoreConfigError>) -> BackendConfig {
        let kind = self.backend.unwrap_or(BackendKind::Embedded);
        let foreign: &[(&str, bool)] = match kind {
            BackendKind::Embedded => &[
                ("table_prefix", self.table_prefix.is_some()),
                ("endpoint_url", self.endpoint_url.is_some()),
                ("region", self.region.is_some()),
            ],
            BackendKind::Dynamodb => &[("path", self.path.is_some())],
        };
        for (key, _) in foreign.iter().filter(|(_, set)| *set) {
            errors.push(error(key, "does not apply to this backend"));
        }
        match kind {
            BackendKind::Embedded => BackendConfig::Embedded {
                path: PathBuf::from(self.path.as_deref().unwrap_or(DEFAULT_PATH)),
            },
            BackendKind::Dynamodb => BackendConfig::DynamoDb(self.dynamo(errors)),
        }
    }

    fn dynamo(&self, errors: &mut Vec<StoreConfigError>) -> DynamoConfig {
        let prefix = self.table_prefix.as_deref().unwrap_or(DEFAULT_PREFIX);
        // Table names allow [a-zA-Z0-9_.-] and 3 to 255 characters; the
        // longest suffix is "documents".
        let valid = prefix.len() <= 240
            && prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
        if !valid {
            errors.push(error("table_prefix", "use up to 240 of a-z A-Z 0-9 _ . -"));
        }
        if let Some(url) = &self.endpoint_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            errors.push(error("endpoint_url", "must be an http:// or https:// URL"));
        }
        DynamoConfig {
            table_prefix: prefix.to_string(),
            endpoint_url: self.endpoint_url.clone(),
            region: self.region.clone(),
        }
    }
}

fn error(key: &str, message: &str) -> StoreConfigError {
    StoreConfigError {
        key: format!("store.{key}"),
        message: message.to_string(),
    }
}

fn ranged<T: Copy + PartialOrd + std::fmt::Display>(
    errors: &mut Vec<StoreConfigError>,
    key: &str,
    value: Option<T>,
    default: T,
    min: T,
    max: T,
) -> T {
    match value {
        Some(v) if v < min || v > max => {
            errors.push(error(key, &format!("must be between {min} and {max}")));
            default
        }
        Some(v) => v,
        None => default,
    }
}

fn secs(
    errors: &mut Vec<StoreConfigError>,
    key: &str,
    value: Option<u64>,
    default: u64,
) -> Duration {
    Duration::from_secs(ranged(errors, key, value, default, 1, 366 * 24 * 3600))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<StoreConfig, Vec<StoreConfigError>> {
        let raw: RawStoreConfig = toml::from_str(text).map_err(|e| {
            vec![StoreConfigError {
                key: String::new(),
                message: e.to_string(),
            }]
        })?;
        raw.validate()
    }

    #[test]
    fn defaults_to_an_embedded_file() {
        let config = parse("").unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            config.backend,
            BackendConfig::Embedded {
                path: PathBuf::from(DEFAULT_PATH)
            }
        );
        assert_eq!(config.refresh_interval, Duration::from_secs(30));
    }

    #[test]
    fn names_each_bad_key() {
        let errors =
            parse("backend = \"dynamodb\"\npath = \"x\"\nshards = 0\ntable_prefix = \"a b\"")
                .err()
                .unwrap_or_default();
        let keys: Vec<&str> = errors.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["store.path", "store.table_prefix", "store.shards"]);
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(parse("shard = 3").is_err());
        assert!(parse("backend = \"postgres\"").is_err());
    }
}
