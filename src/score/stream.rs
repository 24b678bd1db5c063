//! An answer's text rebuilt from a stream, event by event, within a bound.

use serde_json::Value;

use super::extract::{Collector, MAX_ANSWER_BYTES};

/// Accumulates the answer text of a stream from its decoded events.
///
/// Feed it each event's JSON: for InvokeModelWithResponseStream the
/// model's own chunk (the base64 `bytes` already decoded), for
/// ConverseStream the event payload, bare (`{"delta":{"text":..}}`) or
/// wrapped in its event name (`{"contentBlockDelta":{..}}`). Text beyond
/// the limit ([`MAX_ANSWER_BYTES`] by default) is not kept, and
/// [`StreamText::truncated`] says so.
#[derive(Debug, Clone)]
pub struct StreamText {
    collected: Collector,
    events: u64,
}

impl Default for StreamText {
    fn default() -> Self {
        Self::new()
    }
}

impl StreamText {
    /// An empty accumulator bounded at [`MAX_ANSWER_BYTES`].
    pub fn new() -> Self {
        Self::with_limit(MAX_ANSWER_BYTES)
    }

    /// An empty accumulator keeping at most `limit` bytes.
    pub fn with_limit(limit: usize) -> Self {
        Self {
            collected: Collector::new(limit),
            events: 0,
        }
    }

    /// Reads one event. Text deltas of every family are kept: Claude
    /// `content_block_delta` (`text_delta` only), Converse and Nova
    /// `contentBlockDelta.delta.text`, Titan `outputText`, Llama
    /// `generation`, Mistral `outputs[].text`, Cohere `text` of
    /// `text-generation` events, chat-completion shapes (Jamba and others)
    /// `choices[].delta.content`. Tool input and reasoning deltas are not
    /// the answer and are skipped.
    pub fn push(&mut self, event: &Value) {
        self.events += 1;
        if self.collected.truncated() {
            return;
        }
        let event = event.get("contentBlockDelta").unwrap_or(event);
        event_text(event, &mut |text| self.collected.append(text));
    }

    /// The text so far.
    pub fn text(&self) -> &str {
        self.collected.text()
    }

    /// True once text had to be dropped at the limit.
    pub fn truncated(&self) -> bool {
        self.collected.truncated()
    }

    /// Events read, text or not.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// The collected text.
    pub fn into_text(self) -> String {
        self.collected.into_text()
    }
}

fn text_of<'v>(value: &'v Value, key: &str) -> Option<&'v str> {
    value.get(key).and_then(Value::as_str)
}

/// Calls `keep` with each piece of answer text in one event.
fn event_text(event: &Value, keep: &mut impl FnMut(&str)) {
    if let Some(delta) = event.get("delta").filter(|d| d.is_object()) {
        // Claude's typed deltas carry tool input and thinking too.
        let plain = delta
            .get("type")
            .and_then(Value::as_str)
            .is_none_or(|t| t == "text_delta");
        if let Some(text) = text_of(delta, "text").filter(|_| plain) {
            keep(text);
        }
    } else if let Some(block) = event.get("content_block") {
        if block.get("type").is_some_and(|t| t == "text")
            && let Some(text) = text_of(block, "text")
        {
            keep(text);
        }
    } else {
        other_family_text(event, keep);
    }
}

/// Text of the families whose events are not Claude's or Converse's.
fn other_family_text(event: &Value, keep: &mut impl FnMut(&str)) {
    let list = |key: &str| {
        event
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
    };
    for text in list("outputs").filter_map(|o| text_of(o, "text")) {
        keep(text);
    }
    for choice in list("choices") {
        let delta = choice
            .pointer("/delta/content")
            .or_else(|| choice.pointer("/message/content"));
        if let Some(text) = delta.or_else(|| choice.get("text")).and_then(Value::as_str) {
            keep(text);
        }
    }
    for text in ["outputText", "generation", "completion"]
        .iter()
        .filter_map(|k| text_of(event, k))
    {
        keep(text);
    }
    // Cohere repeats the whole answer in its `stream-end` event.
    let generation = event
        .get("event_type")
        .is_none_or(|t| t == "text-generation");
    if let Some(text) = text_of(event, "text").filter(|_| generation) {
        keep(text);
    }
}
