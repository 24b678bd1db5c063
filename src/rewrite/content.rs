//! The managed system prompt and few-shot examples, placed where each
//! family's schema keeps them.

use super::chat::{FirstTurn, Shots, TurnStyle, inject, role_of};
use super::error::RewriteError;
use super::family::Family;
use super::json::RawObject;
use super::json_text::{json_string, leading_elements};
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

/// What every placement step needs besides the body.
struct Ctx<'p> {
    plan: &'p RewritePlan,
    schema: &'static str,
}

impl Ctx<'_> {
    fn shape(&self, key: &str, problem: impl std::fmt::Display) -> RewriteError {
        RewriteError::shape(self.schema, format!("`{key}`: {problem}"))
    }
}

/// Where and how a family keeps example turns.
#[derive(Debug, Clone, Copy)]
struct ShotsAt {
    key: &'static str,
    style: TurnStyle,
    first: FirstTurn,
    /// Leading elements that stay first (Jamba's system message).
    keep_first: usize,
}

impl ShotsAt {
    /// A `messages` list that must alternate from a user turn.
    fn messages(style: TurnStyle) -> Self {
        ShotsAt {
            key: "messages",
            style,
            first: FirstTurn::MustBeUser,
            keep_first: 0,
        }
    }
}

/// Where a family keeps the system prompt and the examples.
enum Placement {
    /// A chat body: a system field (if the target takes one) and a list of
    /// turns.
    Chat {
        system: Option<(&'static str, SystemShape)>,
        shots: ShotsAt,
    },
    /// Jamba: both go into `messages`.
    Jamba,
    /// One prompt string holds both.
    Prompt {
        key: &'static str,
        labels: PlainLabels,
    },
    Nowhere,
}

fn placement(api: Api, family: Option<Family>) -> Placement {
    let chat = |system, style| Placement::Chat {
        system,
        shots: ShotsAt::messages(style),
    };
    match (api, family) {
        // Converse answers 400 to a `system` field for models without
        // system-prompt support; by AWS's Converse feature table these
        // include Titan Text and Mistral's 7B and 8x7B instruct models, and
        // the id prefix does not separate those from Mistral Large.
        (Api::Converse, Some(Family::TitanText | Family::Mistral)) => {
            chat(None, TurnStyle::TextBlocks)
        }
        (Api::Converse, _) | (Api::InvokeModel, Some(Family::Nova)) => chat(
            Some(("system", SystemShape::Blocks(BlockStyle::Bare))),
            TurnStyle::TextBlocks,
        ),
        (Api::InvokeModel, Some(Family::Claude)) => chat(
            Some(("system", SystemShape::TextOrBlocks(BlockStyle::Typed))),
            TurnStyle::StringContent,
        ),
        (Api::InvokeModel, Some(Family::CohereCommandR)) => Placement::Chat {
            system: Some(("preamble", SystemShape::Text)),
            shots: ShotsAt {
                key: "chat_history",
                style: TurnStyle::CohereHistory,
                first: FirstTurn::Any,
                keep_first: 0,
            },
        },
        (Api::InvokeModel, Some(Family::Jamba)) => Placement::Jamba,
        (Api::InvokeModel, Some(Family::TitanText)) => Placement::Prompt {
            key: "inputText",
            labels: PlainLabels::UserBot,
        },
        (Api::InvokeModel, Some(Family::Llama | Family::Mistral)) => Placement::Prompt {
            key: "prompt",
            labels: PlainLabels::UserAssistant,
        },
        (Api::InvokeModel, None) => Placement::Nowhere,
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
    let ctx = Ctx { plan, schema };
    match placement(api, family) {
        Placement::Chat {
            system: Some((key, shape)),
            shots,
        } => {
            system_field(doc, key, shape, &ctx, report)?;
            shots_field(doc, shots, &ctx, report)
        }
        Placement::Chat {
            system: None,
            shots,
        } => {
            if plan.system_prompt.is_some() {
                report.system_prompt = Some(SystemReport {
                    action: SystemAction::NotSupported,
                    location: "system",
                });
            }
            shots_field(doc, shots, &ctx, report)
        }
        Placement::Jamba => jamba(doc, &ctx, report),
        Placement::Prompt { key, labels } => prompt_field(doc, key, labels, &ctx, report),
        Placement::Nowhere => Ok(()),
    }
}

fn system_field(
    doc: &mut RawObject<'_>,
    key: &'static str,
    shape: SystemShape,
    ctx: &Ctx<'_>,
    report: &mut RewriteReport,
) -> Result<(), RewriteError> {
    let Some(managed) = ctx.plan.system_prompt.as_deref() else {
        return Ok(());
    };
    let current = doc.get(key).filter(|v| v.trim() != "null");
    let action = match merge_system(current, shape, managed, key, ctx)? {
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

/// The new JSON value of a system field holding `current` (raw JSON).
fn merge_system(
    current: Option<&str>,
    shape: SystemShape,
    managed: &str,
    key: &str,
    ctx: &Ctx<'_>,
) -> Result<Merge, RewriteError> {
    let mode = ctx.plan.prompt_mode;
    Ok(match (current, shape) {
        (None, SystemShape::Blocks(style)) => Merge::Write(
            format!("[{}]", style.text_block(managed)),
            SystemAction::Inserted,
        ),
        (None, _) => Merge::Write(json_string(managed), SystemAction::Inserted),
        (Some(raw), SystemShape::Text | SystemShape::TextOrBlocks(_)) if raw.starts_with('"') => {
            let app: String = serde_json::from_str(raw).map_err(|e| ctx.shape(key, e))?;
            match merge_text(Some(&app), managed, mode) {
                Merge::Write(text, action) => Merge::Write(json_string(&text), action),
                unchanged => unchanged,
            }
        }
        (Some(raw), SystemShape::Blocks(style) | SystemShape::TextOrBlocks(style))
            if raw.starts_with('[') =>
        {
            merge_blocks(raw, managed, mode, style)
                .ok_or_else(|| ctx.shape(key, "not a list of blocks"))?
        }
        (Some(_), _) => return Err(ctx.shape(key, "a type the schema does not allow")),
    })
}

fn shots_field(
    doc: &mut RawObject<'_>,
    at: ShotsAt,
    ctx: &Ctx<'_>,
    report: &mut RewriteReport,
) -> Result<(), RewriteError> {
    let shots = &ctx.plan.few_shots;
    if shots.is_empty() {
        return Ok(());
    }
    let turns = at.style.render(shots);
    // A missing or null list is an empty one.
    let is_null = doc.get(at.key).is_some_and(|v| v.trim() == "null");
    let list = doc.get(at.key).filter(|_| !is_null).unwrap_or("[]");
    let decision =
        inject(list, turns, at.keep_first, at.first).map_err(|e| ctx.shape(at.key, e))?;
    let (injected, skipped) = match decision {
        Shots::Skipped(reason) => (0, Some(reason)),
        Shots::Front(front) => {
            if is_null {
                doc.remove(at.key);
            }
            doc.splice(at.key, at.keep_first, &front)
                .map_err(|e| ctx.shape(at.key, e))?;
            (shots.len(), None)
        }
    };
    report.few_shots = Some(FewShotReport {
        injected,
        location: at.key,
        skipped,
    });
    Ok(())
}

/// Jamba keeps the system prompt as a `system` message at the head of
/// `messages`; examples go right after it.
fn jamba(
    doc: &mut RawObject<'_>,
    ctx: &Ctx<'_>,
    report: &mut RewriteReport,
) -> Result<(), RewriteError> {
    if let Some(managed) = ctx.plan.system_prompt.as_deref() {
        let list = doc.get("messages").unwrap_or("[]");
        let app_system = first_system_message(list, ctx)?;
        let replaced = usize::from(app_system.is_some());
        let (replacement, action) = jamba_system(app_system, managed, ctx.plan, ctx.schema)?;
        if let Some(message) = replacement {
            doc.splice("messages", replaced, &[message])
                .map_err(|e| ctx.shape("messages", e))?;
        }
        report.system_prompt = Some(SystemReport {
            action,
            location: "messages",
        });
    }
    let list = doc.get("messages").unwrap_or("[]");
    let keep_first = usize::from(first_system_message(list, ctx)?.is_some());
    let at = ShotsAt {
        keep_first,
        ..ShotsAt::messages(TurnStyle::StringContent)
    };
    shots_field(doc, at, ctx, report)
}

/// The first element of `list` if it is a `system` message.
fn first_system_message<'l>(list: &'l str, ctx: &Ctx<'_>) -> Result<Option<&'l str>, RewriteError> {
    let (lead, _) = leading_elements(list, 1).map_err(|e| ctx.shape("messages", e))?;
    Ok(lead
        .first()
        .copied()
        .filter(|m| role_of(m).as_deref() == Some("system")))
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
    ctx: &Ctx<'_>,
    report: &mut RewriteReport,
) -> Result<(), RewriteError> {
    let prompt: String = doc
        .get(key)
        .and_then(|raw| serde_json::from_str(raw).ok())
        .ok_or_else(|| ctx.shape(key, "missing or not a string"))?;
    let edit = edit_prompt(&prompt, ctx.plan, labels, key);
    if let Some(text) = edit.text {
        doc.set(key, json_string(&text));
    }
    report.system_prompt = edit.system;
    report.few_shots = edit.few_shots;
    Ok(())
}
