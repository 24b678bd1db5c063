//! The texts to score, pulled out of Bedrock bodies of every model family.
//!
//! Both results are bounded: scoring must cost the proxy a fixed amount
//! whatever the application sends or the model writes.

use serde_json::Value;

/// Most bytes of answer text kept, from a whole body or a stream. Far
/// above what a chat answer needs; past it a model is usually looping.
pub const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Most bytes of request text kept. Retrieved context can be long and
/// grounding needs it; the oldest turns are dropped first.
pub const MAX_REQUEST_BYTES: usize = 256 * 1024;

/// Deepest JSON nesting read inside tool results and documents.
const MAX_DEPTH: usize = 16;

/// Text gathered up to a byte limit, parts joined by line breaks.
#[derive(Debug, Clone)]
pub(crate) struct Collector {
    text: String,
    limit: usize,
    truncated: bool,
}

impl Collector {
    pub fn new(limit: usize) -> Self {
        Self {
            text: String::new(),
            limit,
            truncated: false,
        }
    }

    /// Appends `part` as is (stream deltas continue each other).
    pub fn append(&mut self, part: &str) {
        let room = self.limit.saturating_sub(self.text.len());
        let kept = super::text::truncate(part, room);
        self.text.push_str(kept);
        self.truncated |= kept.len() < part.len();
    }

    /// Appends `part` on a new line.
    pub fn line(&mut self, part: &str) {
        if part.trim().is_empty() {
            return;
        }
        if !self.text.is_empty() {
            self.append("\n");
        }
        self.append(part);
    }

    pub fn is_full(&self) -> bool {
        self.truncated || self.text.len() >= self.limit
    }

    pub fn truncated(&self) -> bool {
        self.truncated
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn into_text(self) -> String {
        self.text
    }
}

/// The answer's text from a whole (non-streaming) response body, at most
/// [`MAX_ANSWER_BYTES`]: Claude `content[].text` (text blocks only),
/// Converse and Nova `output.message.content[].text`, Titan
/// `results[].outputText`, Llama `generation`, Mistral `outputs[].text`,
/// Cohere `text` (and legacy `generations[].text`), Jamba and other
/// chat-completion shapes `choices[].message.content` (or
/// `choices[].text`), legacy Claude `completion`. Tool calls and reasoning
/// are not the answer and are skipped; an unknown shape gives "".
pub fn answer_text_from_json(body: &Value) -> String {
    let mut out = Collector::new(MAX_ANSWER_BYTES);
    for part in answer_parts(body) {
        out.line(part);
    }
    out.into_text()
}

/// Where each family keeps its answer: a list, and the text of an item.
const ANSWER_LISTS: [(&str, &str); 6] = [
    ("/output/message/content", "/text"),
    ("/results", "/outputText"),
    ("/outputs", "/text"),
    ("/generations", "/text"),
    ("/choices", "/message/content"),
    ("/choices", "/text"),
];

fn answer_parts(body: &Value) -> Vec<&str> {
    if let Some(blocks) = body.get("content").and_then(Value::as_array) {
        let text_blocks = blocks
            .iter()
            .filter(|b| b.get("type").is_none_or(|t| t == "text"));
        return text_blocks
            .filter_map(|b| b.get("text")?.as_str())
            .collect();
    }
    let texts = |list: &str, text: &str| -> Vec<&str> {
        let items = body
            .pointer(list)
            .and_then(Value::as_array)
            .into_iter()
            .flatten();
        items
            .filter_map(|item| item.pointer(text)?.as_str())
            .collect()
    };
    let listed = ANSWER_LISTS
        .iter()
        .map(|(list, text)| texts(list, text))
        .find(|parts| !parts.is_empty());
    listed.unwrap_or_else(|| {
        let single = ["generation", "text", "completion"]
            .iter()
            .find_map(|k| body.get(*k)?.as_str());
        single.into_iter().collect()
    })
}

/// Everything the application sent the model, as text, at most
/// [`MAX_REQUEST_BYTES`]: system prompt (`system` as a string or blocks,
/// Cohere `preamble`), retrieved documents and tool results (Claude
/// `tool_result`, `document` and `search_result` blocks, Converse
/// `toolResult` with text or JSON, Converse text documents, Cohere
/// `documents` and `tool_results`, top-level `documents`), single prompts
/// (`prompt`, `inputText`, Cohere `message`), then the turns of
/// `messages` (or Cohere `chat_history`) newest first, so that the oldest
/// are what the bound drops. JSON values read as `key: value` lines, so a
/// tool result's `"status": "processing"` reads `status: processing`.
pub fn request_text_from_json(body: &Value) -> String {
    let mut out = Collector::new(MAX_REQUEST_BYTES);
    match body.get("system") {
        Some(Value::String(system)) => out.line(system),
        Some(Value::Array(blocks)) => blocks.iter().for_each(|b| block_text(b, &mut out, 0)),
        _ => {}
    }
    for key in ["preamble", "prompt", "inputText", "message"] {
        if let Some(text) = body.get(key).and_then(Value::as_str) {
            out.line(text);
        }
    }
    for key in ["documents", "tool_results"] {
        if let Some(value) = body.get(key) {
            leaves(None, value, &mut out, 0);
        }
    }
    let turns = body
        .get("messages")
        .or_else(|| body.get("chat_history"))
        .and_then(Value::as_array);
    for turn in turns.into_iter().flatten().rev() {
        if out.is_full() {
            break;
        }
        match turn.get("content").or_else(|| turn.get("message")) {
            Some(Value::String(text)) => out.line(text),
            Some(Value::Array(blocks)) => blocks.iter().for_each(|b| block_text(b, &mut out, 0)),
            _ => {}
        }
    }
    out.into_text()
}

/// The text of one content block of any family; images, tool calls and
/// reasoning give nothing.
fn block_text(block: &Value, out: &mut Collector, depth: usize) {
    if depth > MAX_DEPTH || out.is_full() {
        return;
    }
    let typed = block.get("type").and_then(Value::as_str);
    match typed {
        Some("text") | None => {
            if let Some(text) = block.get("text").and_then(Value::as_str) {
                out.line(text);
            }
        }
        _ => {}
    }
    let nested = [
        block
            .get("content")
            .filter(|_| matches!(typed, Some("tool_result" | "search_result"))),
        block.get("toolResult").and_then(|r| r.get("content")),
        block.get("source").filter(|_| typed == Some("document")),
        block.pointer("/document/source"),
        block.pointer("/guardContent/text"),
    ];
    for value in nested.into_iter().flatten() {
        nested_text(value, out, depth + 1);
    }
    for key in ["title", "context"]
        .iter()
        .filter(|_| matches!(typed, Some("document" | "search_result")))
    {
        if let Some(text) = block.get(*key).and_then(Value::as_str) {
            out.line(text);
        }
    }
}

/// Text inside a tool result or document: a string, a list of blocks, a
/// Claude text source (`data`), a Converse `json` block or `text` source.
fn nested_text(value: &Value, out: &mut Collector, depth: usize) {
    match value {
        Value::String(text) => out.line(text),
        Value::Array(blocks) => blocks.iter().for_each(|b| nested_text(b, out, depth + 1)),
        Value::Object(map) => {
            // Binary sources (base64 PDFs, images, S3 or URL references)
            // carry no readable text.
            let kind = map.get("type").and_then(Value::as_str);
            if matches!(kind, Some("base64" | "url" | "file" | "image")) {
                return;
            }
            if let Some(json) = map.get("json") {
                leaves(None, json, out, depth + 1);
            } else if let Some(text) = map
                .get("data")
                .or_else(|| map.get("text"))
                .and_then(Value::as_str)
            {
                out.line(text);
            } else if let Some(content) = map.get("content") {
                nested_text(content, out, depth + 1);
            } else {
                block_text(value, out, depth + 1);
            }
        }
        _ => {}
    }
}

/// Every scalar in a JSON value, objects' as `key: value` lines.
fn leaves(key: Option<&str>, value: &Value, out: &mut Collector, depth: usize) {
    if depth > MAX_DEPTH || out.is_full() {
        return;
    }
    match value {
        Value::Array(items) => items.iter().for_each(|v| leaves(key, v, out, depth + 1)),
        Value::Object(map) => map
            .iter()
            .for_each(|(k, v)| leaves(Some(k), v, out, depth + 1)),
        Value::Null => {}
        scalar => {
            let text = match scalar {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            match key {
                Some(key) => out.line(&format!("{key}: {text}")),
                None => out.line(&text),
            }
        }
    }
}
