//! `bedrock-tuner check-config FILE`: validate a configuration, report every
//! error with its key path, and print what would be in force.

use std::io::Write;
use std::path::PathBuf;

use super::CommandError;
use super::serve::ambient_region;
use crate::config::{Overrides, Settings};

#[derive(Debug, clap::Args)]
pub struct CheckConfigArgs {
    /// The configuration file to check.
    pub file: PathBuf,
}

pub fn run(args: CheckConfigArgs, out: &mut dyn Write) -> Result<(), CommandError> {
    let overrides = Overrides {
        ambient_region: ambient_region(),
        ..Overrides::default()
    };
    let settings = Settings::load(Some(&args.file), &overrides).map_err(|errors| {
        CommandError::new(format!(
            "{} is invalid ({} error{}):\n{errors}",
            args.file.display(),
            errors.0.len(),
            if errors.0.len() == 1 { "" } else { "s" }
        ))
    })?;
    let io = |e: std::io::Error| CommandError::new(e.to_string());
    writeln!(out, "{} is valid. In force:", args.file.display()).map_err(io)?;
    for (key, value, source) in settings.describe() {
        writeln!(out, "  {key:<28} {value:<48} ({source})").map_err(io)?;
    }
    Ok(())
}
