//! What every command on the store needs: the configuration, the opened
//! store, the store's layers of profiles and experiments, validation of a
//! candidate state against everything in force, and plain-text helpers.
//! Shared by `experiments …` and `profiles set|history|rollback`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use serde_json::Value;

use crate::calendar::civil_date;
use crate::cli::CommandError;
use crate::cli::serve::ambient_region;
use crate::config::{Overrides, Settings};
use crate::experiment::RawExperiment;
use crate::profile::RawProfile;
use crate::store::{Document, Kind, Store, StoreError};
use crate::tuning::Tuning;

/// The configuration and the store it names, with a runtime to call it.
pub(crate) struct StoreSession {
    runtime: tokio::runtime::Runtime,
    pub settings: Settings,
    pub store: Store,
}

impl StoreSession {
    /// Loads the configuration (`--config`) and opens its `[store]`.
    pub fn open(config: Option<&PathBuf>) -> Result<Self, CommandError> {
        let overrides = Overrides {
            ambient_region: ambient_region(),
            ..Overrides::default()
        };
        let settings = Settings::load(config.map(PathBuf::as_path), &overrides)
            .map_err(|e| CommandError::new(format!("invalid configuration:\n{e}")))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| CommandError::new(format!("cannot start a runtime: {e}")))?;
        let store = runtime
            .block_on(Store::open(&settings.store))
            .map_err(|e| CommandError::new(format!("cannot open the store: {e}")))?;
        Ok(Self {
            runtime,
            settings,
            store,
        })
    }

    /// Runs one store call (or a few) to completion.
    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// The latest revision of every document of a kind.
    pub fn list(&self, kind: Kind) -> Result<Vec<Document>, CommandError> {
        self.block_on(self.store.list_all_latest(kind))
            .map_err(|e| store_error(&e, &format!("cannot list {}s", kind.as_str())))
    }

    /// The store's profile layer, by intent.
    pub fn store_profiles(&self) -> Result<BTreeMap<String, RawProfile>, CommandError> {
        self.list(Kind::Profile)?
            .iter()
            .map(|d| Ok((d.id.clone(), parse_body(d)?)))
            .collect()
    }

    /// The tuning state a sidecar would build from the file and these
    /// store layers: every profile and experiment validated together.
    pub fn tuning_with(
        &self,
        profiles: BTreeMap<String, RawProfile>,
        experiments: Vec<RawExperiment>,
    ) -> Result<Tuning, CommandError> {
        let mut layers = self.settings.tuning.clone();
        layers.store_profiles = profiles;
        layers.store_experiments = experiments;
        Tuning::from_settings(&layers, None).map_err(|errors| {
            let lines: Vec<String> = errors.iter().map(|e| format!("  {e}")).collect();
            CommandError::new(format!(
                "refused, it would not validate:\n{}",
                lines.join("\n")
            ))
        })
    }
}

/// A stored body as its serde type; a body that does not parse is named.
pub(crate) fn parse_body<T: serde::de::DeserializeOwned>(
    doc: &Document,
) -> Result<T, CommandError> {
    serde_json::from_value(doc.body.clone()).map_err(|e| {
        CommandError::new(format!(
            "stored {} `{}` revision {} does not parse: {e}",
            doc.kind.as_str(),
            doc.id,
            doc.revision
        ))
    })
}

/// A store failure as an operator-facing message; a lost race says what
/// to do about it.
pub(crate) fn store_error(error: &StoreError, doing: &str) -> CommandError {
    match error {
        StoreError::Conflict { current } => CommandError::new(format!(
            "{doing}: someone else changed it first (it is now at revision {current}); \
             re-read it and try again"
        )),
        other => CommandError::new(format!("{doing}: {other}")),
    }
}

/// Who a change is recorded as: `--author`, else `$USER`, else `unknown`.
pub(crate) fn author(flag: Option<&str>) -> String {
    flag.map(str::to_string)
        .or_else(|| std::env::var("USER").ok())
        .filter(|a| !a.trim().is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// Writes pretty JSON and a newline.
pub(crate) fn write_json(out: &mut dyn Write, value: &Value) -> Result<(), CommandError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| CommandError::new(format!("cannot encode JSON: {e}")))?;
    writeln!(out, "{text}").map_err(io_error)
}

/// A failed write to the output.
pub(crate) fn io_error(error: std::io::Error) -> CommandError {
    CommandError::new(format!("cannot write the output: {error}"))
}

/// Now, as an RFC 3339 UTC time to the second.
pub(crate) fn now_rfc3339() -> String {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0);
    format_ms(ms)
}

/// Milliseconds since the epoch as an RFC 3339 UTC time to the second.
pub(crate) fn format_ms(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_date(days);
    let (h, m, s) = (rest / 3600, rest % 3600 / 60, rest % 60);
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_format_as_utc() {
        assert_eq!(format_ms(0), "1970-01-01T00:00:00Z");
        // date -u -d @951782400 → 2000-02-29 00:00:00 (a leap day).
        assert_eq!(format_ms(951_782_400_000), "2000-02-29T00:00:00Z");
        // date -u -d @1735689599 → 2024-12-31 23:59:59.
        assert_eq!(format_ms(1_735_689_599_000), "2024-12-31T23:59:59Z");
    }
}
