//! The managed system prompt and few-shot examples, placed where each
//! family's schema keeps them.

use super::chat::{FirstTurn, Shots, TurnStyle, inject, role_of};
use super::error::RewriteError;
use super::family::Family;
use super::json::{RawObject, json_string, leading_elements};
use super::plan::{Api, RewritePlan};
use super::prompt_text::{PlainLabels, edit_prompt};
use super::report::{FewShotReport, RewriteReport, SystemAction, SystemReport};
use super::system::{BlockStyle, Merge, merge_blocks, merge_text};

/// What a family's `system` key may hold.
#[derive(Debug, Clone, Copy)]
enum SystemShape {
    /// Claude: a string or a list of text blocks.
    TextOrBlocks(BlockStyle),
    /// Converse and Nova: a list of blocks.
    Blocks(BlockStyle),
    /// Cohere `preamble`: a string.
    Text,
}

/// Refuses bodies of a schema the rewriter does not write for, before any
/// change is made.
pub(crate) fn check_shape(
    family: Option<Family>,
    api: Api,
    doc: &RawObject<'_>,
    schema: &'static str,
) -> Result<(), RewriteError> {
    match (api, family) {
        (Api::InvokeModel, Some(Family::Claude))
            if doc.contains("prompt") && !doc.contains("messages") =>
        {
            Err(RewriteError::shape(
                schema,
                "a Text Completions body (`prompt`); only the Messages API is rewritten",
            ))
        }
        (Api::InvokeModel, Some(Family::Mistral)) if doc.contains("messages") => {
            Err(RewriteError::shape(
                schema,
                "a chat-completion body (`messages`); only the text-completion schema is rewritten",
            ))
        }
        _ => Ok(()),
    }
}

/// Places the plan's system prompt and examples into `doc`.
pub(crate) fn apply(
    family: Option<Family>,
    api: Api,
    doc: &mut RawObject<'_>,
    plan: &RewritePlan,
    schema: &'static str,
    report: &mut RewriteReport,
) -> Result<(), RewriteError> {
    if plan.system_prompt.is_none() && plan.few_shots.is_empty() {
        return Ok(());
    }
    let chat = |doc: &mut RawObject<'_>, report: &mut RewriteReport, shape, turns| {
        system_field(doc, "system", shape, plan, schema, report)?;
        shots_field(
            doc,
            "messages",
            turns,
            FirstTurn::MustBeUser,
            0,
            plan,
            schema,
            report,
        )
    };
    match (api, family) {
        (Api::Converse, _) | (Api::InvokeModel, Some(Family::Nova)) => chat(
            doc,
            report,
            SystemShape::Blocks(BlockStyle::Bare),
            TurnStyle::TextBlocks,
        ),
        (Api::InvokeModel, Some(Family::Claude)) => chat(
            doc,
            report,
            SystemShape::TextOrBlocks(BlockStyle::Typed),
            TurnStyle::StringContent,
        ),
        (Api::InvokeModel, Some(Family::CohereCommandR)) => {
            system_field(doc, "preamble", SystemShape::Text, plan, schema, report)?;
            shots_field(
                doc,
                "chat_history",
                TurnStyle::CohereHistory,
                FirstTurn::Any,
                0,
                plan,
                schema,
                report,
            )
        }
        (Api::InvokeModel, Some(Family::Jamba)) => jamba(doc, plan, schema, report),
        (Api::InvokeModel, Some(Family::TitanText)) => {
            prompt_field(doc, "inputText", PlainLabels::UserBot, plan, schema, report)
        }
        (Api::InvokeModel, Some(Family::Llama | Family::Mistral)) => prompt_field(
            doc,
            "prompt",
            PlainLabels::UserAssistant,
            plan,
            schema,
            report,
        ),
        (Api::InvokeModel, None) => Ok(()),
    }
}

fn system_field(
    doc: &mut RawObject<'_>,
    key: &'static str,
    shape: SystemShape,
    plan: &RewritePlan,
    schema: &'static str,
    report: &mut RewriteReport,
) -> Result<(), RewriteError> {
    let Some(managed) = plan.system_prompt.as_deref() else {
        return Ok(());
    };
    let current = doc.get(key).filter(|v| v.trim() != "null");
    let merge = match (current, shape) {
        (None, SystemShape::Blocks(style)) => Merge::Write(
            format!("[{}]", style.text_block(managed)),
            SystemAction::Inserted,
        ),
        (None, _) => Merge::Write(json_string(managed), SystemAction::Inserted),
        (Some(raw), SystemShape::Text | SystemShape::TextOrBlocks(_)) if raw.starts_with('"') => {
            let app: String = serde_json::from_str(raw)
                .map_err(|e| RewriteError::shape(schema, format!("`{key}`: {e}")))?;
            match merge_text(Some(&app), managed, plan.prompt_mode) {
                Merge::Write(text, action) => Merge::Write(json_string(&text), action),
                unchanged => unchanged,
            }
        }
        (Some(raw), SystemShape::Blocks(style) | SystemShape::TextOrBlocks(style))
            if raw.starts_with('[') =>
        {
            merge_blocks(raw, managed, plan.prompt_mode, style).ok_or_else(|| {
                RewriteError::shape(schema, format!("`{key}` is not a list of blocks"))
            })?
        }
        (Some(_), _) => {
            return Err(RewriteError::shape(
                schema,
                format!("`{key}` has a type the schema does not allow"),
            ));
        }
    };
    let action = match merge {
        Merge::Unchanged(action) => action,
        Merge::Write(json, action) => {
            doc.set(key, json);
            action
        }
    };
    report.system_prompt = Some(SystemReport {
        action,
        location: key,
    });
    Ok(())
}

#[allow(clippy::too_many_arguments)] // each argument is one independent fact about the target key
fn shots_field(
    doc: &mut RawObject<'_>,
    key: &'static str,
    style: TurnStyle,
    first: FirstTurn,
    keep_first: usize,
    plan: &RewritePlan,
    schema: &'static str,
    report: &mut RewriteReport,
) -> Result<(), RewriteError> {
    if plan.few_shots.is_empty() {
        return Ok(());
    }
    let turns = style.render(&plan.few_shots);
    // A missing list is an empty one; only Cohere's history may start empty.
    let is_null = doc.get(key).is_some_and(|v| v.trim() == "null");
    let list = doc.get(key).filter(|_| !is_null).unwrap_or("[]");
    let shape_err = |e: String| RewriteError::shape(schema, format!("`{key}`: {e}"));
    let (injected, skipped) = match inject(list, &turns, keep_first, first).map_err(shape_err)? {
        Shots::Skipped(reason) => (0, Some(reason)),
        Shots::Front(front) => {
            if is_null {
                doc.remove(key);
            }
            doc.splice(key, keep_first, &front).map_err(shape_err)?;
            (plan.few_shots.len(), None)
        }
    };
    report.few_shots = Some(FewShotReport {
        injected,
        location: key,
        skipped,
    });
    Ok(())
}

/// Jamba keeps the system prompt as a `system` message at the head of
/// `messages`; examples go right after it.
fn jamba(
    doc: &mut RawObject<'_>,
    plan: &RewritePlan,
    schema: &'static str,
    report: &mut RewriteReport,
) -> Result<(), RewriteError> {
    let shape_err = |e: String| RewriteError::shape(schema, format!("`messages`: {e}"));
    if let Some(managed) = plan.system_prompt.as_deref() {
        let list = doc.get("messages").unwrap_or("[]");
        let (lead, _) = leading_elements(list, 1).map_err(shape_err)?;
        let app_system = lead
            .first()
            .copied()
            .filter(|m| role_of(m).as_deref() == Some("system"));
        let replaced = usize::from(app_system.is_some());
        let (replacement, action) = jamba_system(app_system, managed, plan, schema)?;
        if let Some(message) = replacement {
            doc.splice("messages", replaced, &[message])
                .map_err(shape_err)?;
        }
        report.system_prompt = Some(SystemReport {
            action,
            location: "messages",
        });
    }
    let list = doc.get("messages").unwrap_or("[]");
    let (lead, _) = leading_elements(list, 1).map_err(shape_err)?;
    let keep_first =
        usize::from(lead.first().and_then(|m| role_of(m)).as_deref() == Some("system"));
    shots_field(
        doc,
        "messages",
        TurnStyle::StringContent,
        FirstTurn::MustBeUser,
        keep_first,
        plan,
        schema,
        report,
    )
}

/// The new system message (if it changes) for Jamba.
fn jamba_system(
    app_message: Option<&str>,
    managed: &str,
    plan: &RewritePlan,
    schema: &'static str,
) -> Result<(Option<String>, SystemAction), RewriteError> {
    let Some(message) = app_message else {
        let json = format!(
            "{{\"role\":\"system\",\"content\":{}}}",
            json_string(managed)
        );
        return Ok((Some(json), SystemAction::Inserted));
    };
    let mut object = RawObject::parse_nested(message, schema, "messages[0]")?;
    let content: String = object
        .get("content")
        .and_then(|c| serde_json::from_str(c).ok())
        .ok_or_else(|| {
            RewriteError::shape(schema, "the system message's `content` is not a string")
        })?;
    match merge_text(Some(&content), managed, plan.prompt_mode) {
        Merge::Unchanged(action) => Ok((None, action)),
        Merge::Write(text, action) => {
            object.set("content", json_string(&text));
            let mut json = String::with_capacity(message.len() + managed.len());
            object.write(&mut json);
            Ok((Some(json), action))
        }
    }
}

fn prompt_field(
    doc: &mut RawObject<'_>,
    key: &'static str,
    labels: PlainLabels,
    plan: &RewritePlan,
    schema: &'static str,
    report: &mut RewriteReport,
) -> Result<(), RewriteError> {
    let prompt: String = doc
        .get(key)
        .and_then(|raw| serde_json::from_str(raw).ok())
        .ok_or_else(|| {
            RewriteError::shape(schema, format!("`{key}` is missing or not a string"))
        })?;
    let edit = edit_prompt(&prompt, plan, labels, key);
    if let Some(text) = edit.text {
        doc.set(key, json_string(&text));
    }
    report.system_prompt = edit.system;
    report.few_shots = edit.few_shots;
    Ok(())
}
