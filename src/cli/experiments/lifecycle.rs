//! Creating experiments and moving them through their states, each change
//! a conditional write followed by a decision-log entry.

use std::io::Write;
use std::path::Path;

use serde_json::{Value, json};

use super::context::{StoreSession, io_error, now_rfc3339, parse_body, store_error, write_json};
use crate::cli::CommandError;
use crate::experiment::{ExperimentSet, RawExperiment};
use crate::store::{Document, Kind};

/// Who makes a change, why, and how to report it.
pub(super) struct Change {
    pub author: String,
    pub reason: Option<String>,
    pub json: bool,
}

/// A state change an operator may ask for.
pub(super) enum Transition {
    Start,
    Pause,
    Resume,
    Complete { winner: Option<String> },
}

impl Transition {
    fn name(&self) -> &'static str {
        match self {
            Transition::Start => "start",
            Transition::Pause => "pause",
            Transition::Resume => "resume",
            Transition::Complete { .. } => "complete",
        }
    }

    /// The states it may leave from, and the one it leads to.
    fn rule(&self) -> (&'static [&'static str], &'static str) {
        match self {
            Transition::Start => (&["draft"], "running"),
            Transition::Pause => (&["running"], "paused"),
            Transition::Resume => (&["paused"], "running"),
            Transition::Complete { .. } => (&["running", "paused"], "completed"),
        }
    }
}

/// `experiments create FILE`: validates the definition and stores it as a
/// draft (expected revision 0: the id must be new).
pub(super) fn create(
    session: &StoreSession,
    file: &Path,
    change: &Change,
    out: &mut dyn Write,
) -> Result<(), CommandError> {
    let raw = read_definition(file)?;
    if raw.status != "draft" || raw.winner.is_some() {
        return Err(CommandError::new(format!(
            "{}: a new experiment is a draft without a winner (status `{}`); \
             start it with `experiments start {}`",
            file.display(),
            raw.status,
            raw.id
        )));
    }
    check_alone(session, &raw, &file.display().to_string())?;
    check_in_force(session, &raw)?;
    let body = to_body(&raw)?;
    let put = session
        .store
        .put(Kind::Experiment, &raw.id, &body, 0, &change.author);
    let revision = session.block_on(put).map_err(|e| match e {
        crate::store::StoreError::Conflict { current } => CommandError::new(format!(
            "experiment `{}` already exists (revision {current}); choose another id",
            raw.id
        )),
        other => store_error(&other, &format!("cannot store experiment `{}`", raw.id)),
    })?;
    let entry = json!({"what": "create", "from": null, "to": "draft"});
    log_and_report(session, &raw.id, revision, entry, change, out)
}

/// `experiments start|pause|resume|complete ID`.
pub(super) fn transition(
    session: &StoreSession,
    id: &str,
    transition: Transition,
    change: &Change,
    out: &mut dyn Write,
) -> Result<(), CommandError> {
    let doc = latest(session, id)?;
    let mut raw: RawExperiment = parse_body(&doc)?;
    let (allowed, target) = transition.rule();
    let from = raw.status.clone();
    if !allowed.contains(&from.as_str()) {
        return Err(CommandError::new(format!(
            "cannot {} experiment `{id}`: it is {from}, and only a {} experiment can be {}",
            transition.name(),
            allowed.join(" or "),
            past_tense(&transition)
        )));
    }
    apply(&mut raw, &transition, target)?;
    check_in_force(session, &raw)?;
    let body = to_body(&raw)?;
    let put = session
        .store
        .put(Kind::Experiment, id, &body, doc.revision, &change.author);
    let doing = format!("cannot {} experiment `{id}`", transition.name());
    let revision = session.block_on(put).map_err(|e| store_error(&e, &doing))?;
    let entry = json!({
        "what": transition.name(),
        "from": from,
        "to": target,
        "winner": raw.winner,
    });
    log_and_report(session, id, revision, entry, change, out)
}

fn past_tense(transition: &Transition) -> &'static str {
    match transition {
        Transition::Start => "started",
        Transition::Pause => "paused",
        Transition::Resume => "resumed",
        Transition::Complete { .. } => "completed",
    }
}

/// The new state, with the start or end time when it begins or ends.
fn apply(
    raw: &mut RawExperiment,
    transition: &Transition,
    target: &str,
) -> Result<(), CommandError> {
    raw.status = target.to_string();
    match transition {
        Transition::Start => raw.start = raw.start.take().or_else(|| Some(now_rfc3339())),
        Transition::Complete { winner } => {
            if let Some(name) = winner
                && !raw.variants.iter().any(|v| &v.name == name)
            {
                let names: Vec<&str> = raw.variants.iter().map(|v| v.name.as_str()).collect();
                return Err(CommandError::new(format!(
                    "`{name}` is not a variant of experiment `{}` ({})",
                    raw.id,
                    names.join(", ")
                )));
            }
            raw.winner.clone_from(winner);
            raw.end = Some(now_rfc3339());
        }
        Transition::Pause | Transition::Resume => {}
    }
    Ok(())
}

/// The latest stored revision of an experiment, or a clear "no such".
pub(super) fn latest(session: &StoreSession, id: &str) -> Result<Document, CommandError> {
    session
        .block_on(session.store.latest(Kind::Experiment, id))
        .map_err(|e| store_error(&e, &format!("cannot read experiment `{id}`")))?
        .ok_or_else(|| CommandError::new(format!("no experiment `{id}` in the store")))
}

/// A definition file: JSON when it says so (or looks like it), else TOML.
fn read_definition(file: &Path) -> Result<RawExperiment, CommandError> {
    let name = file.display();
    let text = std::fs::read_to_string(file)
        .map_err(|e| CommandError::new(format!("cannot read {name}: {e}")))?;
    let is_json =
        file.extension().is_some_and(|e| e == "json") || text.trim_start().starts_with('{');
    match is_json {
        true => serde_json::from_str(&text)
            .map_err(|e| CommandError::new(format!("{name} is not a valid experiment: {e}"))),
        false => toml::from_str(&text).map_err(|e| {
            CommandError::new(format!("{name} is not a valid experiment: {}", e.message()))
        }),
    }
}

/// The definition on its own against the profiles in force, so that its
/// errors name the file's own keys.
fn check_alone(
    session: &StoreSession,
    raw: &RawExperiment,
    label: &str,
) -> Result<(), CommandError> {
    let tuning = session.tuning_with(session.store_profiles()?, Vec::new())?;
    ExperimentSet::resolve(std::slice::from_ref(raw), &tuning.profiles)
        .map(|_| ())
        .map_err(|errors| {
            let lines: Vec<String> = errors
                .iter()
                .map(|e| {
                    format!(
                        "  {}: {}",
                        e.key.replacen("experiments[0]", label, 1),
                        e.message
                    )
                })
                .collect();
            CommandError::new(format!("invalid experiment:\n{}", lines.join("\n")))
        })
}

/// The store with `raw` written must still validate as a whole, with at
/// most one running experiment per intent (file experiments included).
fn check_in_force(session: &StoreSession, raw: &RawExperiment) -> Result<(), CommandError> {
    let mut stored: Vec<RawExperiment> = session
        .list(Kind::Experiment)?
        .iter()
        .filter(|d| d.id != raw.id)
        .map(parse_body)
        .collect::<Result<_, _>>()?;
    if raw.status == "running" {
        let file = session.settings.tuning.experiments.iter();
        let overridden = |id: &str| id == raw.id || stored.iter().any(|s| s.id == id);
        let others = stored.iter().chain(file.filter(|e| !overridden(&e.id)));
        if let Some(other) = others
            .filter(|e| e.id != raw.id)
            .find(|e| e.intent == raw.intent && e.status == "running")
        {
            return Err(CommandError::new(format!(
                "experiment `{}` already runs on intent `{}`; pause or complete it first",
                other.id, raw.intent
            )));
        }
    }
    stored.push(raw.clone());
    session
        .tuning_with(session.store_profiles()?, stored)
        .map(|_| ())
}

fn to_body(raw: &RawExperiment) -> Result<Value, CommandError> {
    serde_json::to_value(raw)
        .map_err(|e| CommandError::new(format!("cannot encode the experiment: {e}")))
}

/// Appends the decision-log entry (who, what, why, when) and says what
/// was done. The write already happened, so a failed append is reported
/// as such rather than as a failed change.
fn log_and_report(
    session: &StoreSession,
    id: &str,
    revision: u64,
    mut entry: Value,
    change: &Change,
    out: &mut dyn Write,
) -> Result<(), CommandError> {
    if let Some(fields) = entry.as_object_mut() {
        fields.insert("who".into(), json!(change.author));
        fields.insert("why".into(), json!(change.reason));
        fields.insert("when".into(), json!(now_rfc3339()));
        fields.insert("revision".into(), json!(revision));
    }
    let sequence = session
        .block_on(session.store.append_decision(id, &entry))
        .map_err(|e| {
            store_error(
                &e,
                &format!("experiment `{id}` is at revision {revision}, but its decision log"),
            )
        })?;
    if change.json {
        let report =
            json!({"experiment": id, "revision": revision, "decision": sequence, "entry": entry});
        return write_json(out, &report);
    }
    let what = entry
        .get("what")
        .and_then(Value::as_str)
        .unwrap_or("change");
    let to = entry.get("to").and_then(Value::as_str).unwrap_or("-");
    writeln!(
        out,
        "experiment {id}: {what} done, now {to} (revision {revision}, decision #{sequence} by {})",
        change.author
    )
    .map_err(io_error)
}
