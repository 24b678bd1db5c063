//! `bedrock-tuner serve`: run the sidecar.

use std::net::SocketAddr;
use std::path::PathBuf;

use super::CommandError;
use crate::config::{Overrides, Settings};
use crate::sidecar::Reload;

/// Flags override the configuration file for the settings they name.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Configuration file (see sidecar.toml); built-in defaults without it.
    #[arg(long, env = "BEDROCK_TUNER_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address of the proxy listener [default: 127.0.0.1:8080].
    #[arg(long, env = "BEDROCK_TUNER_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Address of the admin listener (/metrics, /healthz, /readyz)
    /// [default: 127.0.0.1:9464].
    #[arg(long, env = "BEDROCK_TUNER_ADMIN_LISTEN")]
    pub admin_listen: Option<SocketAddr>,
    /// Upstream base URL, e.g. https://bedrock-runtime.us-east-1.amazonaws.com
    /// [default: the endpoint of each request's signed region].
    #[arg(long, env = "BEDROCK_TUNER_UPSTREAM")]
    pub upstream: Option<String>,
    /// Pin the sidecar to one region: requests signed for another are refused.
    #[arg(long, env = "BEDROCK_TUNER_REGION")]
    pub region: Option<String>,
}

impl ServeArgs {
    /// The settings this invocation runs with.
    pub fn settings(&self) -> Result<Settings, CommandError> {
        Settings::load(self.config.as_deref(), &self.overrides())
            .map_err(|e| CommandError::new(format!("invalid configuration:\n{e}")))
    }

    fn overrides(&self) -> Overrides {
        Overrides {
            listen: self.listen,
            admin_listen: self.admin_listen,
            upstream: self.upstream.clone(),
            region: self.region.clone(),
            ambient_region: ambient_region(),
        }
    }
}

/// The AWS environment's region, read without any network call.
pub fn ambient_region() -> Option<String> {
    ["AWS_REGION", "AWS_DEFAULT_REGION"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.trim().is_empty()))
}

/// The runtime for `cpus` usable CPUs (the affinity mask and the cgroup
/// quota both count). With one, the single-threaded scheduler: the
/// multi-threaded one would add its cross-thread wake-ups to every request
/// for no parallelism: pinned to one core, the single-threaded one used
/// 0.84x the CPU per request (docs/benchmark.md).
fn runtime_for(cpus: usize) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = match cpus {
        0 | 1 => tokio::runtime::Builder::new_current_thread(),
        _ => tokio::runtime::Builder::new_multi_thread(),
    };
    builder.enable_all().build()
}

fn usable_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

pub fn run(args: ServeArgs) -> Result<(), CommandError> {
    let settings = args.settings()?;
    crate::logging::init(&settings.log);
    for (key, value, source) in settings.describe() {
        tracing::info!(key, value, %source, "setting");
    }
    let cpus = usable_cpus();
    let runtime = runtime_for(cpus)
        .map_err(|e| CommandError::new(format!("cannot start the runtime: {e}")))?;
    tracing::info!(cpus, flavor = ?runtime.handle().runtime_flavor(), "runtime");
    let reload = args.config.clone().map(|path| Reload {
        path,
        overrides: args.overrides(),
    });
    runtime
        .block_on(crate::sidecar::run(settings, reload))
        .map_err(CommandError::new)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::runtime::RuntimeFlavor;

    #[test]
    fn one_cpu_gets_the_single_threaded_scheduler() {
        let flavor = |cpus| runtime_for(cpus).map(|r| r.handle().runtime_flavor());
        assert_eq!(flavor(1).ok(), Some(RuntimeFlavor::CurrentThread));
        assert_eq!(flavor(2).ok(), Some(RuntimeFlavor::MultiThread));
    }
}
