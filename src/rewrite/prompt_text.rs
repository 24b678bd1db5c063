//! System prompt and few-shot examples for families that take one prompt
//! string (Titan Text, Llama, Mistral text completion).
//!
//! The prompt's own format decides how the managed text is written:
//! - Llama 3 header tokens (`<|start_header_id|>`): a `system` header block
//!   (merged with the application's per the prompt mode) and example
//!   `user`/`assistant` header blocks after it.
//! - `[INST]` instructions (Mistral, Llama 2): the system text opens the
//!   first instruction and each example is an `[INST] .. [/INST] ..</s>`
//!   turn before the application's first instruction.
//! - Anything else: plain text, the system text then `User:`/`Bot:` (Titan)
//!   or `User:`/`Assistant:` lines, then the application's prompt.
//!
//! Only the Llama 3 format marks off a system section, so only there can
//! the application's system prompt be kept, replaced or appended to. In the
//! other formats the application has no system prompt the rewriter can see
//! and the managed one is inserted at the start whatever the mode. Llama 2
//! `<<SYS>>` sections are not recognised: managed text lands before them.

use super::plan::{FewShot, RewritePlan};
use super::report::{FewShotReport, FewShotSkip, SystemAction, SystemReport};
use super::system::{Merge, merge_text};

const BEGIN: &str = "<|begin_of_text|>";
const EOT: &str = "<|eot_id|>";
const HEADER_MARK: &str = "<|start_header_id|>";

/// The outcome of editing a prompt string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PromptEdit {
    /// The new prompt, when it differs from the old one.
    pub text: Option<String>,
    pub system: Option<SystemReport>,
    pub few_shots: Option<FewShotReport>,
}

/// How the plain-text format names the assistant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PlainLabels {
    /// Titan's documented `User:` / `Bot:` convention.
    UserBot,
    /// `User:` / `Assistant:` for the other families.
    UserAssistant,
}

/// Applies the plan's system prompt and examples to `prompt`, the value of
/// the body key `location`.
pub(crate) fn edit_prompt(
    prompt: &str,
    plan: &RewritePlan,
    labels: PlainLabels,
    location: &'static str,
) -> PromptEdit {
    if plan.system_prompt.is_none() && plan.few_shots.is_empty() {
        return PromptEdit {
            text: None,
            system: None,
            few_shots: None,
        };
    }
    if prompt.contains(HEADER_MARK) {
        llama3(prompt, plan, location)
    } else if prompt
        .strip_prefix("<s>")
        .unwrap_or(prompt)
        .trim_start()
        .starts_with("[INST]")
    {
        prefixed(
            prompt,
            &inst_prefix(plan),
            inst_rest(prompt),
            plan,
            location,
        )
    } else {
        prefixed(prompt, &plain_prefix(plan, labels), prompt, plan, location)
    }
}

fn header(role: &str) -> String {
    format!("{HEADER_MARK}{role}<|end_header_id|>\n\n")
}

fn llama3(prompt: &str, plan: &RewritePlan, location: &'static str) -> PromptEdit {
    let (begin, rest) = prompt
        .strip_prefix(BEGIN)
        .map_or(("", prompt), |r| (BEGIN, r));
    let system_head = header("system");
    let (app_system, after) = match rest
        .strip_prefix(&system_head)
        .and_then(|r| r.split_once(EOT))
    {
        Some((text, after)) => (Some(text), after),
        None => (None, rest),
    };
    let (system_text, system) = llama3_system(app_system, plan);
    let examples = llama3_examples(&plan.few_shots);
    let skipped = if after.starts_with(&examples) {
        Some(FewShotSkip::AlreadyPresent)
    } else if !after.trim_start().starts_with(&header("user")) {
        Some(FewShotSkip::FirstTurnNotUser)
    } else {
        None
    };
    let mut out = String::with_capacity(prompt.len() + examples.len() + 64);
    out.push_str(begin);
    if let Some(text) = &system_text {
        out.push_str(&system_head);
        out.push_str(text);
        out.push_str(EOT);
    }
    if skipped.is_none() {
        out.push_str(&examples);
    }
    out.push_str(after);
    let few_shots = shots_report(&plan.few_shots, skipped, location);
    finish(prompt, out, system, few_shots, location)
}

/// The text of the Llama 3 system block after the merge, and what happened.
fn llama3_system(
    app_system: Option<&str>,
    plan: &RewritePlan,
) -> (Option<String>, Option<SystemAction>) {
    let Some(managed) = &plan.system_prompt else {
        return (app_system.map(str::to_string), None);
    };
    match merge_text(app_system, managed, plan.prompt_mode) {
        Merge::Unchanged(action) => (app_system.map(str::to_string), Some(action)),
        Merge::Write(text, action) => (Some(text), Some(action)),
    }
}

fn llama3_examples(shots: &[FewShot]) -> String {
    let (user, assistant) = (header("user"), header("assistant"));
    shots
        .iter()
        .map(|s| format!("{user}{}{EOT}{assistant}{}{EOT}", s.user, s.assistant))
        .collect()
}

/// The text the rewriter puts before the application's first instruction.
fn inst_prefix(plan: &RewritePlan) -> String {
    let mut prefix = String::from("<s>[INST] ");
    if let Some(system) = &plan.system_prompt {
        prefix.push_str(system);
        prefix.push_str("\n\n");
    }
    for s in &plan.few_shots {
        prefix.push_str(&format!("{} [/INST] {}</s>[INST] ", s.user, s.assistant));
    }
    prefix
}

/// The application's prompt from its first instruction's text onward.
fn inst_rest(prompt: &str) -> &str {
    let body = prompt.strip_prefix("<s>").unwrap_or(prompt).trim_start();
    body.strip_prefix("[INST]").unwrap_or(body).trim_start()
}

fn plain_prefix(plan: &RewritePlan, labels: PlainLabels) -> String {
    let bot = match labels {
        PlainLabels::UserBot => "Bot",
        PlainLabels::UserAssistant => "Assistant",
    };
    let mut prefix = plan
        .system_prompt
        .as_ref()
        .map(|s| format!("{s}\n\n"))
        .unwrap_or_default();
    for s in &plan.few_shots {
        prefix.push_str(&format!("User: {}\n{bot}: {}\n\n", s.user, s.assistant));
    }
    prefix
}

/// Formats without a system section: `prefix` then the application's
/// `rest`, unless the prompt already starts with `prefix`.
fn prefixed(
    prompt: &str,
    prefix: &str,
    rest: &str,
    plan: &RewritePlan,
    location: &'static str,
) -> PromptEdit {
    let present = prompt.starts_with(prefix);
    let system = plan.system_prompt.as_ref().map(|_| {
        if present {
            SystemAction::AlreadyPresent
        } else {
            SystemAction::Inserted
        }
    });
    let skipped = present.then_some(FewShotSkip::AlreadyPresent);
    let out = if present {
        prompt.to_string()
    } else {
        format!("{prefix}{rest}")
    };
    finish(
        prompt,
        out,
        system,
        shots_report(&plan.few_shots, skipped, location),
        location,
    )
}

fn shots_report(
    shots: &[FewShot],
    skipped: Option<FewShotSkip>,
    location: &'static str,
) -> Option<FewShotReport> {
    (!shots.is_empty()).then(|| FewShotReport {
        injected: if skipped.is_some() { 0 } else { shots.len() },
        location,
        skipped,
    })
}

fn finish(
    prompt: &str,
    out: String,
    system: Option<SystemAction>,
    few_shots: Option<FewShotReport>,
    location: &'static str,
) -> PromptEdit {
    PromptEdit {
        text: (out != prompt).then_some(out),
        system: system.map(|action| SystemReport { action, location }),
        few_shots,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rewrite::plan::PromptMode;

    fn plan(mode: PromptMode) -> RewritePlan {
        RewritePlan {
            system_prompt: Some("Answer in French.".into()),
            prompt_mode: mode,
            few_shots: vec![FewShot {
                user: "Hi".into(),
                assistant: "Salut".into(),
            }],
            ..RewritePlan::default()
        }
    }

    fn edited(prompt: &str, p: &RewritePlan, labels: PlainLabels) -> String {
        edit_prompt(prompt, p, labels, "prompt")
            .text
            .unwrap_or_else(|| prompt.to_string())
    }

    #[test]
    fn llama3_merges_system_headers_and_adds_example_turns() {
        let prompt = "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe kind.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nQ<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n";
        let p = plan(PromptMode::Prepend);
        let once = edited(prompt, &p, PlainLabels::UserAssistant);
        assert_eq!(
            once,
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nAnswer in French.\n\nBe kind.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nSalut<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nQ<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
        );
        assert_eq!(
            edit_prompt(&once, &p, PlainLabels::UserAssistant, "prompt").text,
            None
        );
        let kept = edit_prompt(
            prompt,
            &plan(PromptMode::Keep),
            PlainLabels::UserAssistant,
            "prompt",
        );
        assert_eq!(kept.system.map(|s| s.action), Some(SystemAction::AppKept));
    }

    #[test]
    fn inst_prompts_get_system_text_and_example_turns() {
        let p = plan(PromptMode::Replace);
        let once = edited(
            "<s>[INST] What is 2+2? [/INST]",
            &p,
            PlainLabels::UserAssistant,
        );
        assert_eq!(
            once,
            "<s>[INST] Answer in French.\n\nHi [/INST] Salut</s>[INST] What is 2+2? [/INST]"
        );
        assert_eq!(edited(&once, &p, PlainLabels::UserAssistant), once);
    }

    #[test]
    fn plain_prompts_use_the_family_labels() {
        let p = plan(PromptMode::Prepend);
        let once = edited("User: Q\nBot:", &p, PlainLabels::UserBot);
        assert_eq!(
            once,
            "Answer in French.\n\nUser: Hi\nBot: Salut\n\nUser: Q\nBot:"
        );
        assert_eq!(edited(&once, &p, PlainLabels::UserBot), once);
    }
}
