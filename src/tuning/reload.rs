//! Hot reload of the configuration file: an edit is picked up by the
//! running sidecar; an invalid edit is rejected with its reasons logged
//! and counted, and the last good state keeps serving.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::sources::TuningSources;
use crate::config::{Overrides, Settings};

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

/// The file to watch, and the flags that keep overriding it.
pub struct Watched {
    pub path: PathBuf,
    pub overrides: Overrides,
}

/// Watches the file until the process ends.
pub fn spawn(watched: Watched, sources: Arc<TuningSources>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut last = stamp(&watched.path);
        loop {
            tokio::time::sleep(POLL_INTERVAL).await;
            let now = stamp(&watched.path);
            if now != last {
                last = now;
                reload(&watched, &sources);
            }
        }
    })
}

/// Loads and checks the whole file, then hands its tuning layer over.
fn reload(watched: &Watched, sources: &TuningSources) {
    match Settings::load(Some(&watched.path), &watched.overrides) {
        Ok(settings) => {
            sources.set_file(settings.tuning);
        }
        Err(errors) => {
            let file = watched.path.display();
            tracing::warn!(%file, errors = %errors, "config_reload_rejected");
            sources.count_rejected();
        }
    }
}
