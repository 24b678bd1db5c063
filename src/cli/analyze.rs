//! `bedrock-tuner analyze`: analyse an experiment from a JSON file of
//! per-variant sufficient statistics.

use std::io::Write;
use std::path::PathBuf;

use crate::cli::CommandError;
use crate::stats::render::render_text;
use crate::stats::summary_file::parse_summary;

/// Analyse an A/B experiment from per-variant sufficient statistics.
#[derive(Debug, clap::Args)]
pub struct AnalyzeArgs {
    /// JSON file of per-variant counts and sums (format in docs/statistics.md).
    #[arg(long, value_name = "FILE")]
    pub summary: PathBuf,
    /// Print the report as JSON instead of text tables.
    #[arg(long)]
    pub json: bool,
}

/// Reads the summary, analyses it and writes the report to `out`.
pub fn run(args: AnalyzeArgs, out: &mut dyn Write) -> Result<(), CommandError> {
    let path = args.summary.display();
    let text = std::fs::read_to_string(&args.summary)
        .map_err(|e| CommandError::new(format!("cannot read {path}: {e}")))?;
    let (summary, options) =
        parse_summary(&text).map_err(|e| CommandError::new(format!("{path}: {e}")))?;
    let report = crate::stats::analyze(&summary, &options);
    let rendered = if args.json {
        let json = serde_json::to_string_pretty(&report)
            .map_err(|e| CommandError::new(format!("cannot encode the report: {e}")))?;
        json + "\n"
    } else {
        render_text(&report)
    };
    out.write_all(rendered.as_bytes())
        .map_err(|e| CommandError::new(format!("cannot write the report: {e}")))
}
