//! Hot reload of the configuration file: an edit is picked up by the
//! running sidecar; an invalid edit is rejected with its reasons logged
//! and counted, and the last good state keeps serving.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::{SharedTuning, Tuning};
use crate::classify::ModelCall;
use crate::config::{Overrides, Settings};
use crate::record::Metrics;

/// How often the file's modification time and size are looked at.
pub const POLL_INTERVAL: Duration = Duration::from_secs(2);

/// What identifies a version of the file without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
}

fn stamp(path: &Path) -> Option<Stamp> {
    let meta = std::fs::metadata(path).ok()?;
    Some(Stamp {
        modified: meta.modified().ok(),
        len: meta.len(),
    })
}

/// The file to watch and what a reload needs besides it.
pub struct Watched {
    pub path: PathBuf,
    /// The flags that keep overriding the file.
    pub overrides: Overrides,
    /// The classifier's model call, kept across reloads.
    pub model_call: Option<ModelCall>,
}

/// Watches the file until the process ends.
pub fn spawn(
    watched: Watched,
    shared: SharedTuning,
    metrics: Arc<Metrics>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let path = watched.path.clone();
        let mut last = stamp(&path);
        loop {
            tokio::time::sleep(POLL_INTERVAL).await;
            let now = stamp(&path);
            if now == last {
                continue;
            }
            last = now;
            let outcome = reload(&watched, &shared);
            metrics.config_reloads.with_label_values(&[outcome]).inc();
        }
    })
}

/// Loads and checks the whole file, then swaps the tuning state in one go.
fn reload(watched: &Watched, shared: &SharedTuning) -> &'static str {
    let path = &watched.path;
    let settings = match Settings::load(Some(path), &watched.overrides) {
        Ok(settings) => settings,
        Err(errors) => {
            tracing::warn!(file = %path.display(), errors = %errors, "config_reload_rejected");
            return "rejected";
        }
    };
    match Tuning::from_settings(&settings.tuning, watched.model_call.clone()) {
        Ok(tuning) => {
            shared.store(Arc::new(tuning));
            tracing::info!(file = %path.display(), "config_reloaded");
            "applied"
        }
        Err(errors) => {
            let errors: Vec<String> = errors.iter().map(ToString::to_string).collect();
            tracing::warn!(file = %path.display(), errors = %errors.join("; "), "config_reload_rejected");
            "rejected"
        }
    }
}
