//! Combining the managed system prompt with the application's.
//!
//! Two shapes occur: plain text (Claude's string `system`, Cohere's
//! `preamble`, a Jamba system message, a Llama 3 system header) and lists of
//! content blocks (Claude's block `system`, Converse and Nova `system`).
//! Both are handled so that applying the same plan twice changes nothing
//! the second time.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::json_text::json_string;
use super::plan::PromptMode;
use super::report::SystemAction;

/// Text between the managed prompt and the application's.
const JOIN: &str = "\n\n";

/// The outcome of combining system prompts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Merge {
    /// Leave the application's system prompt as it is.
    Unchanged(SystemAction),
    /// Write this new value (text or JSON, by context).
    Write(String, SystemAction),
}

/// Combines the application's system text (`None` or empty when it has
/// none) with the managed one.
pub(crate) fn merge_text(app: Option<&str>, managed: &str, mode: PromptMode) -> Merge {
    let Some(app) = app.filter(|a| !a.is_empty()) else {
        return Merge::Write(managed.to_string(), SystemAction::Inserted);
    };
    let already = match mode {
        PromptMode::Keep => return Merge::Unchanged(SystemAction::AppKept),
        PromptMode::Prepend => {
            app == managed
                || app
                    .strip_prefix(managed)
                    .is_some_and(|rest| rest.starts_with(JOIN))
        }
        PromptMode::Append => {
            app == managed
                || app
                    .strip_suffix(managed)
                    .is_some_and(|rest| rest.ends_with(JOIN))
        }
        PromptMode::Replace => app == managed,
    };
    if already {
        return Merge::Unchanged(SystemAction::AlreadyPresent);
    }
    let text = match mode {
        PromptMode::Prepend => format!("{managed}{JOIN}{app}"),
        PromptMode::Append => format!("{app}{JOIN}{managed}"),
        PromptMode::Replace | PromptMode::Keep => managed.to_string(),
    };
    Merge::Write(text, SystemAction::for_mode(mode, true))
}

/// How a family spells a text block in a system list.
#[derive(Debug, Clone, Copy)]
pub(crate) enum BlockStyle {
    /// Claude: `{"type":"text","text":..}`.
    Typed,
    /// Converse and Nova: `{"text":..}`.
    Bare,
}

impl BlockStyle {
    pub fn text_block(self, text: &str) -> String {
        match self {
            BlockStyle::Typed => format!("{{\"type\":\"text\",\"text\":{}}}", json_string(text)),
            BlockStyle::Bare => format!("{{\"text\":{}}}", json_string(text)),
        }
    }
}

/// Just enough of a block to tell a text block from the others
/// (`cachePoint`, `guardContent`, images).
#[derive(Deserialize)]
struct BlockProbe<'a> {
    #[serde(borrow, rename = "type")]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    text: Option<Cow<'a, str>>,
}

fn text_of(block: &RawValue) -> Option<String> {
    let probe: BlockProbe<'_> = serde_json::from_str(block.get()).ok()?;
    match probe.kind.as_deref() {
        None | Some("text") => probe.text.map(Cow::into_owned),
        Some(_) => None,
    }
}

/// Combines the managed prompt with a JSON list of system blocks. Blocks
/// the application sent are copied as they are, cache markers included;
/// `Replace` takes out the text blocks only, keeping guard and cache-point
/// blocks. Returns `None` when `list` is not a JSON array.
pub(crate) fn merge_blocks(
    list: &str,
    managed: &str,
    mode: PromptMode,
    style: BlockStyle,
) -> Option<Merge> {
    let raw: Vec<&RawValue> = serde_json::from_str(list).ok()?;
    let blocks: Vec<Block<'_>> = raw
        .iter()
        .map(|b| Block {
            json: b.get(),
            text: text_of(b),
        })
        .collect();
    let app_had_text = blocks.iter().any(|b| b.text.is_some());
    if let Some(action) = unchanged_blocks(&blocks, managed, mode) {
        return Some(Merge::Unchanged(action));
    }
    let managed_block = style.text_block(managed);
    let mut out: Vec<&str> = blocks.iter().map(|b| b.json).collect();
    match mode {
        PromptMode::Append => out.push(&managed_block),
        PromptMode::Replace => {
            // Blocks before the first text block are kept, so its index is
            // still where the managed block belongs once text blocks go.
            let at = blocks.iter().position(|b| b.text.is_some()).unwrap_or(0);
            out = blocks
                .iter()
                .filter(|b| b.text.is_none())
                .map(|b| b.json)
                .collect();
            out.insert(at.min(out.len()), &managed_block);
        }
        PromptMode::Prepend | PromptMode::Keep => out.insert(0, &managed_block),
    }
    let action = SystemAction::for_mode(mode, app_had_text);
    Some(Merge::Write(format!("[{}]", out.join(",")), action))
}

/// One system block: its JSON as sent, and its text if it is a text block.
struct Block<'a> {
    json: &'a str,
    text: Option<String>,
}

/// Why the block list stays as it is, if it does.
fn unchanged_blocks(blocks: &[Block<'_>], managed: &str, mode: PromptMode) -> Option<SystemAction> {
    let mut texts = blocks.iter().filter_map(|b| b.text.as_deref());
    let is_managed = |t: Option<&str>| t == Some(managed);
    let already = match mode {
        PromptMode::Keep if blocks.iter().any(|b| b.text.is_some()) => {
            return Some(SystemAction::AppKept);
        }
        PromptMode::Keep => false,
        PromptMode::Prepend => is_managed(texts.next()),
        PromptMode::Append => is_managed(texts.next_back()),
        PromptMode::Replace => is_managed(texts.next()) && texts.next().is_none(),
    };
    already.then_some(SystemAction::AlreadyPresent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_merges_follow_the_mode_and_are_idempotent() {
        let m = "Be brief.";
        assert_eq!(
            merge_text(None, m, PromptMode::Keep),
            Merge::Write(m.into(), SystemAction::Inserted)
        );
        assert_eq!(
            merge_text(Some(""), m, PromptMode::Append),
            Merge::Write(m.into(), SystemAction::Inserted)
        );
        let pre = merge_text(Some("App."), m, PromptMode::Prepend);
        assert_eq!(
            pre,
            Merge::Write("Be brief.\n\nApp.".into(), SystemAction::Prepended)
        );
        assert_eq!(
            merge_text(Some("Be brief.\n\nApp."), m, PromptMode::Prepend),
            Merge::Unchanged(SystemAction::AlreadyPresent)
        );
        assert_eq!(
            merge_text(Some("App.\n\nBe brief."), m, PromptMode::Append),
            Merge::Unchanged(SystemAction::AlreadyPresent)
        );
        assert_eq!(
            merge_text(Some("App."), m, PromptMode::Replace),
            Merge::Write(m.into(), SystemAction::Replaced)
        );
        assert_eq!(
            merge_text(Some("App."), m, PromptMode::Keep),
            Merge::Unchanged(SystemAction::AppKept)
        );
        // A prompt that merely starts with the managed words is not it.
        assert!(matches!(
            merge_text(Some("Be brief.x"), m, PromptMode::Prepend),
            Merge::Write(..)
        ));
    }

    #[test]
    fn block_lists_keep_cache_and_guard_blocks() {
        let list = r#"[{"text":"App."},{"cachePoint":{"type":"default"}},{"guardContent":{"text":{"text":"g"}}}]"#;
        let Some(Merge::Write(json, action)) =
            merge_blocks(list, "M", PromptMode::Replace, BlockStyle::Bare)
        else {
            panic!("expected a write");
        };
        assert_eq!(action, SystemAction::Replaced);
        assert_eq!(
            json,
            r#"[{"text":"M"},{"cachePoint":{"type":"default"}},{"guardContent":{"text":{"text":"g"}}}]"#
        );
        assert_eq!(
            merge_blocks(&json, "M", PromptMode::Replace, BlockStyle::Bare),
            Some(Merge::Unchanged(SystemAction::AlreadyPresent))
        );
    }

    #[test]
    fn typed_blocks_prepend_before_cached_app_blocks() {
        let list = r#"[{"type":"text","text":"App.","cache_control":{"type":"ephemeral"}}]"#;
        let got = merge_blocks(list, "M", PromptMode::Prepend, BlockStyle::Typed);
        let want = r#"[{"type":"text","text":"M"},{"type":"text","text":"App.","cache_control":{"type":"ephemeral"}}]"#;
        assert_eq!(
            got,
            Some(Merge::Write(want.into(), SystemAction::Prepended))
        );
        assert_eq!(
            merge_blocks(want, "M", PromptMode::Prepend, BlockStyle::Typed),
            Some(Merge::Unchanged(SystemAction::AlreadyPresent))
        );
        assert_eq!(
            merge_blocks(list, "M", PromptMode::Keep, BlockStyle::Typed),
            Some(Merge::Unchanged(SystemAction::AppKept))
        );
        assert_eq!(
            merge_blocks("{}", "M", PromptMode::Keep, BlockStyle::Typed),
            None
        );
    }
}
