//! `bedrock-tuner store init`: create what the configured store needs
//! (the SQLite file and schema, or the DynamoDB tables with on-demand
//! billing, TTL and point-in-time recovery) and record its schema version.
//! Running it again changes nothing.

use std::io::Write;
use std::path::PathBuf;

use super::CommandError;
use crate::store::{BackendKind, RawStoreConfig, Store, StoreConfig};

/// The `store` command group.
#[derive(Debug, clap::Args)]
pub struct StoreArgs {
    #[command(subcommand)]
    pub command: StoreCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum StoreCommand {
    /// Create the store's tables (or SQLite schema); safe to run again.
    Init(InitArgs),
}

/// Flags override the `[store]` section of the configuration file.
#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// Configuration file whose `[store]` section to use.
    #[arg(long, env = "BEDROCK_TUNER_CONFIG")]
    pub config: Option<PathBuf>,
    /// `embedded` or `dynamodb` [default: embedded].
    #[arg(long, value_parser = parse_backend)]
    pub backend: Option<BackendKind>,
    /// SQLite file (embedded) [default: bedrock-tuner.sqlite].
    #[arg(long)]
    pub path: Option<String>,
    /// Prefix of the DynamoDB table names [default: bedrock-tuner-].
    #[arg(long)]
    pub table_prefix: Option<String>,
    /// DynamoDB endpoint, for a local DynamoDB-compatible server.
    #[arg(long)]
    pub endpoint_url: Option<String>,
    /// DynamoDB region [default: the AWS chain's].
    #[arg(long)]
    pub region: Option<String>,
    /// Counter shards to record in the store [default: 8].
    #[arg(long)]
    pub shards: Option<u32>,
}

/// Runs `store …`, writing what was done to `out`.
pub fn run(args: StoreArgs, out: &mut dyn Write) -> Result<(), CommandError> {
    match args.command {
        StoreCommand::Init(init) => run_init(init, out),
    }
}

fn run_init(args: InitArgs, out: &mut dyn Write) -> Result<(), CommandError> {
    let config = settings(&args)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CommandError::new(format!("cannot start a runtime: {e}")))?;
    let report = runtime
        .block_on(async {
            let store = Store::open(&config).await?;
            store.init().await
        })
        .map_err(|e| CommandError::new(format!("store init failed: {e}")))?;
    let io = |e: std::io::Error| CommandError::new(e.to_string());
    for line in &report.lines {
        writeln!(out, "{line}").map_err(io)?;
    }
    writeln!(
        out,
        "store ready (schema version {})",
        report.schema_version
    )
    .map_err(io)?;
    Ok(())
}

/// The file's `[store]` section (if any), then the flags.
fn settings(args: &InitArgs) -> Result<StoreConfig, CommandError> {
    let mut raw = match &args.config {
        Some(path) => read_section(path)?,
        None => RawStoreConfig::default(),
    };
    let flags = [
        (&mut raw.path, &args.path),
        (&mut raw.table_prefix, &args.table_prefix),
        (&mut raw.endpoint_url, &args.endpoint_url),
        (&mut raw.region, &args.region),
    ];
    for (slot, flag) in flags {
        if flag.is_some() {
            slot.clone_from(flag);
        }
    }
    raw.backend = args.backend.or(raw.backend);
    raw.shards = args.shards.or(raw.shards);
    raw.validate().map_err(|errors| {
        let lines: Vec<String> = errors
            .iter()
            .map(|e| format!("  {}: {}", e.key, e.message))
            .collect();
        CommandError::new(format!("invalid store settings:\n{}", lines.join("\n")))
    })
}

/// Only the `[store]` table is read here: the rest of the file is the
/// sidecar's, checked by `check-config`.
fn read_section(path: &std::path::Path) -> Result<RawStoreConfig, CommandError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CommandError::new(format!("cannot read {}: {e}", path.display())))?;
    let mut table: toml::Table = toml::from_str(&text)
        .map_err(|e| CommandError::new(format!("{}: {}", path.display(), e.message())))?;
    match table.remove("store") {
        None => Ok(RawStoreConfig::default()),
        Some(section) => section
            .try_into()
            .map_err(|e: toml::de::Error| CommandError::new(format!("store: {}", e.message()))),
    }
}

fn parse_backend(text: &str) -> Result<BackendKind, String> {
    match text {
        "embedded" => Ok(BackendKind::Embedded),
        "dynamodb" => Ok(BackendKind::Dynamodb),
        _ => Err("expected embedded or dynamodb".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_creates_an_embedded_store_twice_without_harm() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("s.sqlite").display().to_string();
        for _ in 0..2 {
            let args = InitArgs {
                config: None,
                backend: None,
                path: Some(path.clone()),
                table_prefix: None,
                endpoint_url: None,
                region: None,
                shards: None,
            };
            let mut out = Vec::new();
            let command = StoreArgs {
                command: StoreCommand::Init(args),
            };
            run(command, &mut out).unwrap_or_else(|e| panic!("{e}"));
            let text = String::from_utf8_lossy(&out);
            assert!(text.contains("schema version 1"), "{text}");
        }
    }
}
