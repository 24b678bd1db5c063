//! `bedrock-tuner profiles list|show`: the profiles in force, with where
//! each value came from.

use std::io::Write;
use std::path::PathBuf;

use serde_json::json;

use super::CommandError;
use super::experiments::context::StoreSession;
use super::serve::ambient_region;
use crate::config::{Overrides, Settings};
use crate::profile::Profile;
use crate::store::BackendConfig;
use crate::tuning::Tuning;

#[derive(Debug, clap::Args)]
pub struct ProfilesArgs {
    #[command(subcommand)]
    pub action: ProfilesAction,
    /// Configuration file whose profiles layer over the built-in ones.
    #[arg(long, global = true, env = "BEDROCK_TUNER_CONFIG")]
    pub config: Option<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, clap::Subcommand)]
pub enum ProfilesAction {
    /// One line per intent.
    List,
    /// Every field of one intent's profile and its source.
    Show { intent: String },
    /// `set`, `history` and `rollback`, on the store.
    #[command(flatten)]
    Store(super::store_profiles::StoreProfilesAction),
}

pub fn run(args: ProfilesArgs, out: &mut dyn Write) -> Result<(), CommandError> {
    if let ProfilesAction::Store(action) = args.action {
        return super::store_profiles::run(action, args.config.as_ref(), args.json, out);
    }
    let tuning = load_with_store(args.config.as_ref())?;
    let io = |e: std::io::Error| CommandError::new(e.to_string());
    match &args.action {
        ProfilesAction::List if args.json => {
            let all: Vec<_> = tuning.profiles.iter().map(|p| to_json(p)).collect();
            writeln!(out, "{}", pretty(&json!(all))).map_err(io)
        }
        ProfilesAction::List => list(&tuning, out).map_err(io),
        // Handled above, before the file-only state is loaded.
        ProfilesAction::Store(_) => Ok(()),
        ProfilesAction::Show { intent } => {
            let profile = tuning.profiles.get(intent).ok_or_else(|| {
                let known: Vec<&str> = tuning.profiles.intents().collect();
                CommandError::new(format!(
                    "no profile for intent `{intent}`; known: {}",
                    known.join(", ")
                ))
            })?;
            match args.json {
                true => writeln!(out, "{}", pretty(&to_json(profile))).map_err(io),
                false => show(profile, out).map_err(io),
            }
        }
    }
}

/// The profiles with the store's layer over the file's, as a sidecar
/// would resolve them; without a store to read (no embedded file yet, or
/// one that cannot be reached) the built-in and file layers, with a note.
fn load_with_store(config: Option<&PathBuf>) -> Result<Tuning, CommandError> {
    let file_only = load(config)?;
    let overrides = Overrides {
        ambient_region: ambient_region(),
        ..Overrides::default()
    };
    let settings = Settings::load(config.map(PathBuf::as_path), &overrides)
        .map_err(|e| CommandError::new(format!("invalid configuration:\n{e}")))?;
    if let BackendConfig::Embedded { path } = &settings.store.backend
        && !path.exists()
    {
        return Ok(file_only);
    }
    let session = match StoreSession::open(config) {
        Ok(session) => session,
        Err(error) => {
            eprintln!("note: store not read, showing built-in and file layers only: {error}");
            return Ok(file_only);
        }
    };
    let profiles = session.store_profiles()?;
    session.tuning_with(profiles, Vec::new())
}

/// The tuning state a sidecar started with this configuration would use.
pub fn load(config: Option<&PathBuf>) -> Result<Tuning, CommandError> {
    let overrides = Overrides {
        ambient_region: ambient_region(),
        ..Overrides::default()
    };
    let settings = Settings::load(config.map(PathBuf::as_path), &overrides)
        .map_err(|e| CommandError::new(format!("invalid configuration:\n{e}")))?;
    Tuning::from_settings(&settings.tuning, None).map_err(|errors| {
        let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
        CommandError::new(format!("invalid profiles:\n{}", lines.join("\n")))
    })
}

fn list(tuning: &Tuning, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(
        out,
        "{:<16} {:>5} {:>5} {:>5} {:>6} {:>5}  {:<20} {:>4}  VERSION",
        "INTENT", "TEMP", "TOP_K", "TOP_P", "MAX", "FREQ", "PROMPT", "SHOT"
    )?;
    for p in tuning.profiles.iter() {
        let v = &p.params;
        writeln!(
            out,
            "{:<16} {:>5} {:>5} {:>5} {:>6} {:>5}  {:<20} {:>4}  {}",
            p.intent,
            opt(v.temperature),
            opt(v.top_k),
            opt(v.top_p),
            opt(v.max_tokens),
            opt(v.frequency_penalty),
            p.system_prompt_key.as_deref().unwrap_or("-"),
            p.few_shot_count,
            p.version
        )?;
    }
    let c = tuning.profiles.conservative();
    writeln!(
        out,
        "\nunknown intents get temperature {}, top_k {}, top_p {} ({})",
        opt(c.params.temperature),
        opt(c.params.top_k),
        opt(c.params.top_p),
        c.version
    )
}

fn show(p: &Profile, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(out, "profile {} (version {})", p.intent, p.version)?;
    let Some(fields) = to_json(p).as_object().cloned() else {
        return Ok(());
    };
    for (field, value) in fields {
        if matches!(field.as_str(), "intent" | "sources") {
            continue;
        }
        let source = p
            .sources
            .get(&field)
            .map_or("-".to_string(), ToString::to_string);
        writeln!(out, "  {field:<22} {:<40} {source}", value.to_string())?;
    }
    Ok(())
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or("-".into(), |v| v.to_string())
}

fn pretty(value: &serde_json::Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

/// The profile as JSON, with the source of every field.
pub fn to_json(p: &Profile) -> serde_json::Value {
    let v = &p.params;
    json!({
        "intent": p.intent,
        "temperature": v.temperature,
        "top_k": v.top_k,
        "top_p": v.top_p,
        "max_tokens": v.max_tokens,
        "stop_sequences": v.stop_sequences,
        "frequency_penalty": v.frequency_penalty,
        "system_prompt_key": p.system_prompt_key,
        "prompt_mode": p.prompt_mode.as_str(),
        "few_shot_count": p.few_shot_count,
        "few_shot_strategy": p.few_shot_strategy,
        "quality_score_target": p.quality_score_target,
        "app_values_win": p.app_values_win,
        "version": p.version,
        "updated_at": p.updated_at,
        "sources": p.sources,
    })
}
