//! `bedrock-tuner sample-size`: sessions per variant to plan before launch.

use std::io::Write;

use crate::cli::CommandError;
use crate::stats::sample_size::{SampleSize, for_means, for_proportions};

/// Sample size per variant for a two-sided test: of a rate with
/// `--baseline`, or of a mean with `--sd`.
#[derive(Debug, clap::Args)]
pub struct SampleSizeArgs {
    /// Current rate of a yes/no metric, e.g. 0.85.
    #[arg(long, required_unless_present = "sd", conflicts_with = "sd")]
    pub baseline: Option<f64>,
    /// Standard deviation of a continuous metric (per session or request).
    #[arg(long)]
    pub sd: Option<f64>,
    /// Smallest change worth detecting, in the metric's own units
    /// (absolute: 0.03 moves a rate from 0.85 to 0.88).
    #[arg(long, allow_negative_numbers = true)]
    pub mde: f64,
    /// Significance level of the two-sided test.
    #[arg(long, default_value_t = 0.05)]
    pub alpha: f64,
    /// Chance of detecting a true change of size `mde`.
    #[arg(long, default_value_t = 0.8)]
    pub power: f64,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Computes the sample size and writes it to `out`.
pub fn run(args: SampleSizeArgs, out: &mut dyn Write) -> Result<(), CommandError> {
    let result = match (args.baseline, args.sd) {
        (Some(baseline), None) => for_proportions(baseline, args.mde, args.alpha, args.power),
        (None, Some(sd)) => for_means(sd, args.mde, args.alpha, args.power),
        _ => return Err(CommandError::new("give exactly one of --baseline and --sd")),
    }
    .map_err(|e| CommandError::new(e.to_string()))?;
    let text = if args.json {
        serde_json::to_string_pretty(&result)
            .map_err(|e| CommandError::new(format!("cannot encode the result: {e}")))?
            + "\n"
    } else {
        describe(&result)
    };
    out.write_all(text.as_bytes())
        .map_err(|e| CommandError::new(format!("cannot write the result: {e}")))
}

fn describe(size: &SampleSize) -> String {
    format!(
        "{} per variant ({} for two variants) to detect a change of {} with power {} \
         at alpha {} (two-sided)\nformula: {}\n",
        size.per_variant,
        size.per_variant.saturating_mul(2),
        size.mde,
        size.power,
        size.alpha,
        size.formula
    )
}
