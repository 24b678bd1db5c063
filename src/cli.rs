//! The command line: one subcommand per file under `cli/`.
//!
//! Each subcommand owns a `clap::Args` struct and a `run` function that
//! writes its report to the given output and returns a [`CommandError`]
//! when the input is bad, so that `main` decides exit codes in one place.

use std::fmt;
use std::io::Write;

use clap::{Parser, Subcommand};

/// bedrock-tuner: per-intent inference parameters and A/B tests for
/// applications on AWS Bedrock, as a sidecar proxy.
#[derive(Debug, Parser)]
#[command(name = "bedrock-tuner", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the sidecar proxy and its admin listener.
    Serve(serve::ServeArgs),
    /// Validate a configuration file and print what would be in force.
    CheckConfig(check_config::CheckConfigArgs),
    /// The parameter profiles in force.
    Profiles(profiles::ProfilesArgs),
    /// Show how a request body would be rewritten, without sending it.
    Rewrite(rewrite::RewriteArgs),
    /// Analyse an experiment from a JSON file of sufficient statistics.
    Analyze(analyze::AnalyzeArgs),
    /// Sessions needed per variant before launch.
    SampleSize(sample_size::SampleSizeArgs),
    /// Create the store's tables (development and tests).
    Store(store::StoreArgs),
    /// Experiments in the store: create, start, pause, resume, complete, assign, analyze.
    Experiments(experiments::ExperimentsArgs),
}

/// A command that could not do what was asked, with a message for the
/// operator. `main` prints it to stderr and exits with status 2.
#[derive(Debug)]
pub struct CommandError(pub String);

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CommandError {}

impl CommandError {
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

/// Runs a parsed command line, writing reports to `out`.
pub fn run(cli: Cli, out: &mut dyn Write) -> Result<(), CommandError> {
    match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::CheckConfig(args) => check_config::run(args, out),
        Command::Profiles(args) => profiles::run(args, out),
        Command::Rewrite(args) => rewrite::run(args, out),
        Command::Analyze(args) => analyze::run(args, out),
        Command::SampleSize(args) => sample_size::run(args, out),
        Command::Store(args) => store::run(args, out),
        Command::Experiments(args) => experiments::run(args, out),
    }
    .and_then(|()| out.flush().map_err(|e| CommandError::new(e.to_string())))
}

pub mod analyze;
pub mod check_config;
pub mod experiments;
pub mod profiles;
pub mod rewrite;
pub mod sample_size;
pub mod serve;
pub mod store;
pub mod store_profiles;
