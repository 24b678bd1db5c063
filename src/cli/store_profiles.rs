//! `bedrock-tuner profiles set|history|rollback`: the store's profile
//! layer, which every sidecar of the fleet picks up at its next refresh.
//!
//! A change is merged over the intent's current stored layer, validated
//! with everything else in force (built-in and file profiles, every
//! experiment whose variants override the profile) and written on the
//! revision that was read, so a concurrent change is never overwritten.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;

use serde_json::{Map, Value, json};

use super::CommandError;
use super::experiments::context::{
    StoreSession, author, format_ms, io_error, parse_body, store_error, write_json,
};
use crate::experiment::RawExperiment;
use crate::profile::RawProfile;
use crate::store::{Document, Kind, PageRequest};

/// History entries read per page.
const HISTORY_PAGE: u32 = 100;

/// The store-backed `profiles` actions, flattened into `profiles …`.
#[derive(Debug, clap::Subcommand)]
pub enum StoreProfilesAction {
    /// Change an intent's profile in the store (merged over its stored fields).
    Set(SetArgs),
    /// Every stored revision of an intent's profile.
    History { intent: String },
    /// Make an earlier stored revision the latest again (as a new revision).
    Rollback {
        intent: String,
        revision: u64,
        /// Who the change is recorded as [default: $USER].
        #[arg(long)]
        author: Option<String>,
    },
}

/// What `profiles set` changes.
#[derive(Debug, clap::Args)]
pub struct SetArgs {
    pub intent: String,
    /// TOML or JSON file of profile fields.
    #[arg(required_unless_present_any = ["field", "unset"])]
    pub file: Option<PathBuf>,
    /// One field as KEY=VALUE, the value in TOML (0.3, 512, ["a"]); a bare
    /// word is a string. Applied after FILE; repeatable.
    #[arg(long = "field", value_name = "KEY=VALUE")]
    pub field: Vec<String>,
    /// Remove a field from the stored layer (the file or built-in value
    /// shows through again); repeatable.
    #[arg(long, value_name = "KEY")]
    pub unset: Vec<String>,
    /// Who the change is recorded as [default: $USER].
    #[arg(long)]
    pub author: Option<String>,
    /// Allow an intent no layer has a profile for yet (guards typos).
    #[arg(long)]
    pub new: bool,
}

/// Runs one store-backed `profiles` action.
pub fn run(
    action: StoreProfilesAction,
    config: Option<&PathBuf>,
    json: bool,
    out: &mut dyn Write,
) -> Result<(), CommandError> {
    let session = StoreSession::open(config)?;
    match action {
        StoreProfilesAction::Set(args) => set(&session, &args, json, out),
        StoreProfilesAction::History { intent } => history(&session, &intent, json, out),
        StoreProfilesAction::Rollback {
            intent,
            revision,
            author: who,
        } => rollback(
            &session,
            &intent,
            revision,
            &author(who.as_deref()),
            json,
            out,
        ),
    }
}

fn set(
    session: &StoreSession,
    args: &SetArgs,
    json: bool,
    out: &mut dyn Write,
) -> Result<(), CommandError> {
    let intent = &args.intent;
    let current = latest(session, intent)?;
    if current.is_none() && !args.new {
        check_known(session, intent)?;
    }
    let old = current.as_ref().map_or_else(Map::new, |d| object(&d.body));
    let mut fields = old.clone();
    if let Some(file) = &args.file {
        fields.extend(read_fields(file)?);
    }
    for pair in &args.field {
        let (key, value) = parse_field(pair)?;
        fields.insert(key, value);
    }
    for key in &args.unset {
        fields.remove(key);
    }
    let body = Value::Object(fields);
    check_layer(session, intent, &body)?;
    let expected = current.as_ref().map_or(0, |d| d.revision);
    let who = author(args.author.as_deref());
    let put = session
        .store
        .put(Kind::Profile, intent, &body, expected, &who);
    let revision = session
        .block_on(put)
        .map_err(|e| store_error(&e, &format!("cannot set profile `{intent}`")))?;
    let changed = changed_fields(&Value::Object(old), &body);
    report(out, json, intent, revision, &who, &changed, &body)
}

fn rollback(
    session: &StoreSession,
    intent: &str,
    to: u64,
    who: &str,
    json: bool,
    out: &mut dyn Write,
) -> Result<(), CommandError> {
    let Some(current) = latest(session, intent)? else {
        return Err(CommandError::new(format!(
            "no stored profile for intent `{intent}`"
        )));
    };
    let target = session
        .block_on(session.store.revision(Kind::Profile, intent, to))
        .map_err(|e| store_error(&e, &format!("cannot read profile `{intent}`")))?
        .ok_or_else(|| {
            CommandError::new(format!(
                "profile `{intent}` has no revision {to} (latest is {})",
                current.revision
            ))
        })?;
    // The old layer must still fit today's file and experiments.
    check_layer(session, intent, &target.body)?;
    let call = session
        .store
        .rollback(Kind::Profile, intent, to, current.revision, who);
    let revision = session
        .block_on(call)
        .map_err(|e| store_error(&e, &format!("cannot roll back profile `{intent}`")))?;
    let changed = changed_fields(&current.body, &target.body);
    report(out, json, intent, revision, who, &changed, &target.body)
}

fn history(
    session: &StoreSession,
    intent: &str,
    json: bool,
    out: &mut dyn Write,
) -> Result<(), CommandError> {
    let revisions = all_revisions(session, intent)?;
    if revisions.is_empty() {
        return Err(CommandError::new(format!(
            "no stored profile for intent `{intent}`"
        )));
    }
    let empty = Value::Object(Map::new());
    let rows: Vec<Value> = revisions
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let before = i.checked_sub(1).map_or(&empty, |p| &revisions[p].body);
            json!({
                "revision": d.revision,
                "updated_at": format_ms(d.updated_at_ms),
                "updated_by": d.updated_by,
                "changed": changed_fields(before, &d.body),
                "body": d.body,
            })
        })
        .collect();
    if json {
        return write_json(out, &json!(rows));
    }
    writeln!(
        out,
        "{:>4}  {:<20}  {:<16}  CHANGED",
        "REV", "UPDATED AT", "AUTHOR"
    )
    .map_err(io_error)?;
    for row in &rows {
        let changed: Vec<&str> = row["changed"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        writeln!(
            out,
            "{:>4}  {:<20}  {:<16}  {}",
            row["revision"].as_u64().unwrap_or(0),
            row["updated_at"].as_str().unwrap_or("-"),
            row["updated_by"].as_str().unwrap_or("-"),
            if changed.is_empty() {
                "-".to_string()
            } else {
                changed.join(", ")
            }
        )
        .map_err(io_error)?;
    }
    Ok(())
}

/// Refuses an intent that no layer knows, naming those that exist.
fn check_known(session: &StoreSession, intent: &str) -> Result<(), CommandError> {
    let tuning = session.tuning_with(session.store_profiles()?, Vec::new())?;
    if tuning.profiles.get(intent).is_some() {
        return Ok(());
    }
    let known: Vec<&str> = tuning.profiles.intents().collect();
    Err(CommandError::new(format!(
        "no profile for intent `{intent}` (known: {}); pass --new to create one",
        known.join(", ")
    )))
}

fn latest(session: &StoreSession, intent: &str) -> Result<Option<Document>, CommandError> {
    session
        .block_on(session.store.latest(Kind::Profile, intent))
        .map_err(|e| store_error(&e, &format!("cannot read profile `{intent}`")))
}

fn all_revisions(session: &StoreSession, intent: &str) -> Result<Vec<Document>, CommandError> {
    let mut all = Vec::new();
    let mut request = PageRequest::first(HISTORY_PAGE);
    loop {
        let page = session
            .block_on(session.store.history(Kind::Profile, intent, &request))
            .map_err(|e| store_error(&e, &format!("cannot read the history of `{intent}`")))?;
        all.extend(page.items);
        match page.next {
            Some(token) => request = PageRequest::after(token, HISTORY_PAGE),
            None => return Ok(all),
        }
    }
}

/// The layer must be a profile, and the whole state with it in the store
/// must validate: errors carry the key path (`profiles.<intent>.<field>`).
fn check_layer(session: &StoreSession, intent: &str, body: &Value) -> Result<(), CommandError> {
    let layer: RawProfile = serde_json::from_value(body.clone())
        .map_err(|e| CommandError::new(format!("profiles.{intent}: {e}")))?;
    let mut profiles = session.store_profiles()?;
    profiles.insert(intent.to_string(), layer);
    let experiments: Vec<RawExperiment> = session
        .list(Kind::Experiment)?
        .iter()
        .map(parse_body)
        .collect::<Result<_, _>>()?;
    session.tuning_with(profiles, experiments).map(|_| ())
}

/// Profile fields from a TOML or JSON file.
fn read_fields(file: &PathBuf) -> Result<Map<String, Value>, CommandError> {
    let name = file.display();
    let text = std::fs::read_to_string(file)
        .map_err(|e| CommandError::new(format!("cannot read {name}: {e}")))?;
    let value: Value = match file.extension().is_some_and(|e| e == "json") {
        true => serde_json::from_str(&text)
            .map_err(|e| CommandError::new(format!("{name} does not parse: {e}")))?,
        false => toml::from_str(&text)
            .map_err(|e| CommandError::new(format!("{name} does not parse: {}", e.message())))?,
    };
    match value {
        Value::Object(fields) => Ok(fields),
        _ => Err(CommandError::new(format!(
            "{name}: expected a table of profile fields"
        ))),
    }
}

/// `KEY=VALUE`, the value read as TOML, or as a string when it is not.
fn parse_field(pair: &str) -> Result<(String, Value), CommandError> {
    let Some((key, text)) = pair.split_once('=') else {
        return Err(CommandError::new(format!(
            "--field {pair}: expected KEY=VALUE"
        )));
    };
    let key = key.trim().to_string();
    let text = text.trim();
    let parsed: Option<Value> = toml::from_str::<toml::Table>(&format!("v = {text}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .and_then(|v| serde_json::to_value(v).ok());
    Ok((
        key,
        parsed.unwrap_or_else(|| Value::String(text.to_string())),
    ))
}

fn object(body: &Value) -> Map<String, Value> {
    body.as_object().cloned().unwrap_or_default()
}

/// Field names whose value differs between two layers (added, changed or
/// removed), sorted.
fn changed_fields(before: &Value, after: &Value) -> Vec<String> {
    let (before, after) = (object(before), object(after));
    let keys: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    keys.into_iter()
        .filter(|k| before.get(*k) != after.get(*k))
        .cloned()
        .collect()
}

fn report(
    out: &mut dyn Write,
    json: bool,
    intent: &str,
    revision: u64,
    who: &str,
    changed: &[String],
    body: &Value,
) -> Result<(), CommandError> {
    if json {
        let report = json!({"intent": intent, "revision": revision, "updated_by": who, "changed": changed, "layer": body});
        return write_json(out, &report);
    }
    let changed = if changed.is_empty() {
        "nothing".to_string()
    } else {
        changed.join(", ")
    };
    writeln!(
        out,
        "profile {intent}: revision {revision} by {who} (changed: {changed})"
    )
    .map_err(io_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_values_read_as_toml_or_as_words() {
        let parse = |s: &str| parse_field(s).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(parse("temperature=0.3"), ("temperature".into(), json!(0.3)));
        assert_eq!(parse("top_k = 40"), ("top_k".into(), json!(40)));
        assert_eq!(
            parse("stop_sequences=[\"a\"]"),
            ("stop_sequences".into(), json!(["a"]))
        );
        assert_eq!(
            parse("system_prompt_key=qa_v4"),
            ("system_prompt_key".into(), json!("qa_v4"))
        );
        assert!(parse_field("temperature").is_err());
    }

    #[test]
    fn changes_name_added_changed_and_removed_fields() {
        let before = json!({"temperature": 0.2, "top_k": 40, "version": "a"});
        let after = json!({"temperature": 0.3, "top_k": 40, "top_p": 0.9});
        assert_eq!(
            changed_fields(&before, &after),
            ["temperature", "top_p", "version"]
        );
    }
}
