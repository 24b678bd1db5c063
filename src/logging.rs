//! Structured logs through tracing, as text or JSON. Log lines carry
//! request ids, operations and labels: never bodies, prompts or
//! credentials.

use tracing_subscriber::EnvFilter;

use crate::config::LogSettings;

/// Installs the global subscriber once; `RUST_LOG` wins over the
/// configured level.
pub fn init(settings: &LogSettings) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&settings.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match settings.json {
        true => builder.json().flatten_event(true).try_init(),
        false => builder.try_init(),
    };
}
