//! `bedrock-tuner rewrite --dry-run FILE --model ID`: the body that would
//! be sent for a request, and why, without sending anything.

use std::io::Write;
use std::path::PathBuf;

use super::CommandError;
use super::profiles::load;
use crate::profile::UNKNOWN_INTENT;
use crate::proxy::intent::resolve_named;
use crate::proxy::tune::plan_for;
use crate::rewrite::Api;

#[derive(Debug, clap::Args)]
pub struct RewriteArgs {
    /// Only show the decision; nothing is sent (the only mode there is).
    #[arg(long, required = true)]
    pub dry_run: bool,
    /// The request body, as the app would send it (JSON).
    pub file: PathBuf,
    /// The model id as in the request path (percent-decoded).
    #[arg(long)]
    pub model: String,
    /// The intent header's value; without it, the request is unclassified.
    #[arg(long)]
    pub intent: Option<String>,
    /// The session header's value (picks few-shot examples and variants).
    #[arg(long)]
    pub session: Option<String>,
    /// The operation: invoke (default) or converse.
    #[arg(long, default_value = "invoke")]
    pub operation: String,
    /// Configuration file whose profiles layer over the built-in ones.
    #[arg(long, env = "BEDROCK_TUNER_CONFIG")]
    pub config: Option<PathBuf>,
}

pub fn run(args: RewriteArgs, out: &mut dyn Write) -> Result<(), CommandError> {
    let tuning = load(args.config.as_ref())?;
    let body = std::fs::read(&args.file)
        .map_err(|e| CommandError::new(format!("cannot read {}: {e}", args.file.display())))?;
    let api = match args.operation.as_str() {
        "invoke" | "invoke-with-response-stream" => Api::InvokeModel,
        "converse" | "converse-stream" => Api::Converse,
        other => return Err(CommandError::new(format!("unknown operation `{other}`"))),
    };
    let io = |e: std::io::Error| CommandError::new(e.to_string());
    let (source, profile) = resolve_named(args.intent.as_deref(), &tuning);
    let intent = profile.map_or(UNKNOWN_INTENT, |p| p.intent.as_str());
    writeln!(out, "intent   {intent} (from {})", source.label()).map_err(io)?;
    let Some(profile) = profile else {
        writeln!(
            out,
            "profile  none: the body passes through untouched (tuning.unknown_intent)"
        )
        .map_err(io)?;
        return Ok(());
    };
    writeln!(out, "profile  {}@{}", profile.intent, profile.version).map_err(io)?;
    let plan = plan_for(profile, &tuning, args.session.as_deref().unwrap_or(""));
    match crate::rewrite::rewrite(&args.model, api, &body, &plan, &tuning.limits) {
        Ok(rewritten) => {
            write!(out, "{}", rewritten.report).map_err(io)?;
            writeln!(out, "--- body that would be sent").map_err(io)?;
            out.write_all(&rewritten.body).map_err(io)?;
            writeln!(out).map_err(io)
        }
        Err(e) => writeln!(
            out,
            "rewrite  not possible ({}): {e}\n         tuning.on_unparseable decides: forward unchanged or reject",
            e.kind()
        )
        .map_err(io),
    }
}
