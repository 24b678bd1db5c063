//! Finding the user's latest words in any supported request body.

use serde_json::Value;

/// Most bytes of message text handed to a classifier. The start of a
/// message says what it is about; beyond that, text only costs time (and
/// model-classifier tokens).
pub const MAX_MESSAGE_BYTES: usize = 4096;

/// Llama 3 header opening a user turn.
const LLAMA3_USER: &str = "<|start_header_id|>user<|end_header_id|>";
/// Llama 3 end of turn.
const LLAMA3_EOT: &str = "<|eot_id|>";

/// The text of the last user turn, at most [`MAX_MESSAGE_BYTES`] (cut at a
/// character boundary), or `None` when the body has no user text.
///
/// Understands the body shapes of every supported family:
/// - `messages` (Claude Messages, Converse, Nova, Jamba, OpenAI-style): the
///   last `user` message with text, its `content` a string or a list of
///   blocks whose `text` is read (Claude's typed blocks only when
///   `type` is `text`). A user turn with no text, such as one carrying
///   only tool results or images, is skipped for the one before it: tool
///   output is not the user's words.
/// - `message` (Cohere Command R).
/// - `inputText` (Titan) and `prompt` (Llama, Mistral, DeepSeek, legacy
///   Claude): the text after the last user marker (a Llama 3 user header,
///   `[INST]`, or a `User:` / `Human:` line), else the whole prompt.
pub fn last_user_message(body: &Value) -> Option<String> {
    let text = if let Some(messages) = body.get("messages").and_then(Value::as_array) {
        messages
            .iter()
            .rev()
            .filter(|m| is_user(m))
            .find_map(message_text)?
    } else if let Some(message) = body.get("message").and_then(Value::as_str) {
        bounded(message)
    } else {
        let prompt = body
            .get("prompt")
            .or_else(|| body.get("inputText"))
            .and_then(Value::as_str)?;
        bounded(from_prompt(prompt))
    };
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

/// At most [`MAX_MESSAGE_BYTES`] of `text`, leading space skipped, copied
/// without first copying the whole (possibly huge) text.
fn bounded(text: &str) -> String {
    truncate(text.trim_start(), MAX_MESSAGE_BYTES).to_string()
}

fn is_user(message: &Value) -> bool {
    message.get("role").and_then(Value::as_str) == Some("user")
}

/// The text of one message, if it has any.
fn message_text(message: &Value) -> Option<String> {
    let text = match message.get("content")? {
        Value::String(s) => bounded(s),
        Value::Array(blocks) => {
            let mut text = String::new();
            for part in blocks.iter().filter_map(block_text) {
                if !text.is_empty() {
                    text.push('\n');
                }
                text.push_str(truncate(part, MAX_MESSAGE_BYTES - text.len()));
                if text.len() >= MAX_MESSAGE_BYTES - 1 {
                    break;
                }
            }
            text
        }
        _ => return None,
    };
    (!text.trim().is_empty()).then_some(text)
}

/// A text block's text: `{"type":"text","text":..}` (Claude) or
/// `{"text":..}` (Converse, Nova). Other typed blocks (`tool_result`,
/// `image`) are not the user's words.
fn block_text(block: &Value) -> Option<&str> {
    match block.get("type").and_then(Value::as_str) {
        Some("text") | None => block.get("text").and_then(Value::as_str),
        Some(_) => None,
    }
}

/// The user's part of a single-string prompt:
/// - Llama 3: after the last user header, up to the end of that turn;
/// - `[INST]` (Mistral, Llama 2): inside the last instruction, without a
///   `<<SYS>>` section;
/// - `User:` / `Human:` transcripts (Titan, legacy Claude): after the last
///   such line, up to the next `Bot:` / `Assistant:` line;
/// - anything else: the whole prompt.
fn from_prompt(prompt: &str) -> &str {
    if let Some(at) = prompt.rfind(LLAMA3_USER) {
        let turn = &prompt[at + LLAMA3_USER.len()..];
        return turn.split(LLAMA3_EOT).next().unwrap_or(turn);
    }
    if let Some(at) = prompt.rfind("[INST]") {
        let turn = &prompt[at + "[INST]".len()..];
        let turn = turn.split("[/INST]").next().unwrap_or(turn);
        return turn
            .rsplit_once("<</SYS>>")
            .map_or(turn, |(_, after)| after);
    }
    transcript_user(prompt).unwrap_or(prompt)
}

/// The last `User:` or `Human:` line's text in a transcript.
fn transcript_user(prompt: &str) -> Option<&str> {
    let start = ["User:", "Human:"]
        .iter()
        .filter_map(|label| line_start_rfind(prompt, label).map(|at| at + label.len()))
        .max()?;
    let turn = &prompt[start..];
    let end = ["\nBot:", "\nAssistant:"]
        .iter()
        .filter_map(|label| turn.find(label))
        .min()
        .unwrap_or(turn.len());
    Some(&turn[..end])
}

/// The position of the last `label` that starts a line.
fn line_start_rfind(text: &str, label: &str) -> Option<usize> {
    text.match_indices(label)
        .map(|(at, _)| at)
        .filter(|&at| at == 0 || text[..at].ends_with('\n'))
        .last()
}

/// `text` cut to at most `max` bytes at a character boundary.
fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}
