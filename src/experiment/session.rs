//! The session key of a request: the session header when the app sends
//! one, otherwise one derived from the conversation itself.
//!
//! An app that changes no code sends no session header. The system prompt
//! and the first user turn stay the same across a conversation's turns, so
//! their hash identifies the conversation well enough to keep its variant
//! sticky. Prompt-text families (Titan, Llama, Mistral) resend a growing
//! prompt string with no turn structure, so nothing stable is derived there.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

/// Where a session key came from, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionSource {
    Header,
    Derived,
    None,
}

impl SessionSource {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionSource::Header => "header",
            SessionSource::Derived => "derived",
            SessionSource::None => "none",
        }
    }
}

/// The two parts of a chat body the key is made of. Only these are
/// parsed: the rest of the conversation (often most of the body) is
/// skipped over as raw text, since this runs on every tuned request.
#[derive(Deserialize)]
struct Conversation<'a> {
    #[serde(borrow, default)]
    system: Option<&'a RawValue>,
    #[serde(borrow, default)]
    messages: Option<Vec<&'a RawValue>>,
}

#[derive(Deserialize)]
struct Turn<'a> {
    #[serde(borrow, default)]
    role: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    content: Option<&'a RawValue>,
}

/// A key derived from the system prompt and the first user turn of a
/// JSON request body, or `None` when the body has no turn structure.
///
/// Both parts are hashed in serde_json's compact form (object keys
/// sorted), so a client that reorders keys or whitespace between turns
/// keeps its key.
pub fn derive(body: &[u8]) -> Option<String> {
    let conversation: Conversation<'_> = serde_json::from_slice(body).ok()?;
    let first_user = conversation.messages?.into_iter().find_map(|message| {
        let turn: Turn<'_> = serde_json::from_str(message.get()).ok()?;
        (turn.role.as_deref() == Some("user")).then_some(turn)
    })?;
    let content = first_user.content?;
    let system = match conversation.system {
        Some(raw) => compact(raw)?,
        None => String::new(),
    };
    let digest = Sha256::new()
        .chain_update(system.as_bytes())
        .chain_update([0u8])
        .chain_update(compact(content)?.as_bytes())
        .finalize();
    Some(format!("derived-{}", hex::encode(&digest[..12])))
}

fn compact(raw: &RawValue) -> Option<String> {
    serde_json::from_str::<Value>(raw.get())
        .ok()
        .map(|v| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key(body: Value) -> Option<String> {
        derive(body.to_string().as_bytes())
    }

    /// The definition, written over a whole parsed body: the first
    /// message whose role is "user", hashed with the system prompt.
    fn by_definition(body: &Value) -> Option<String> {
        let first_user = body
            .get("messages")?
            .as_array()?
            .iter()
            .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))?;
        let content = first_user.get("content")?;
        let system = body.get("system").map(Value::to_string).unwrap_or_default();
        let digest = Sha256::new()
            .chain_update(system.as_bytes())
            .chain_update([0u8])
            .chain_update(content.to_string().as_bytes())
            .finalize();
        Some(format!("derived-{}", hex::encode(&digest[..12])))
    }

    #[test]
    fn later_turns_of_a_conversation_keep_the_key() {
        let turn1 = json!({"system": "s", "messages": [{"role": "user", "content": "hi"}]});
        let turn2 = json!({"system": "s", "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "hello"},
            {"role": "user", "content": "more"}]});
        assert_eq!(key(turn1.clone()), key(turn2));
        let other = json!({"system": "s", "messages": [{"role": "user", "content": "bye"}]});
        assert_ne!(key(turn1), key(other));
        assert_eq!(key(json!({"prompt": "[INST] hi [/INST]"})), None);
    }

    #[test]
    fn agrees_with_the_definition_on_every_body_shape() {
        let bodies = [
            json!({"system": "s", "messages": [{"role": "user", "content": "hi"}]}),
            json!({"messages": [{"role": "assistant", "content": "a"}, {"role": "user", "content": [{"text": "q", "b": 1, "a": 2}]}]}),
            json!({"system": [{"text": "x", "cachePoint": {"type": "default"}}], "messages": [{"content": "no role"}, {"role": "user", "content": {"z": 1, "a": [1, 2.5, null]}}]}),
            json!({"system": "s", "messages": [{"role": "user"}]}),
            json!({"messages": [{"role": "user"}, {"role": "user", "content": "second"}]}),
            json!({"system": "s", "messages": [{"role": "assistant", "content": "only"}]}),
            json!({"system": "s", "messages": {"role": "user", "content": "not a list"}}),
            json!({"messages": []}),
            json!({"messages": ["text", 3, {"role": 7, "content": "x"}, {"role": "user", "content": "é\n\"q\""}]}),
            json!({"inputText": "titan"}),
        ];
        for body in bodies {
            assert_eq!(key(body.clone()), by_definition(&body), "{body}");
        }
        // Whitespace and key order in the app's bytes change nothing.
        let spaced = br#"{ "messages" : [ { "content" : { "b" : 1 , "a" : 2 } , "role" : "user" } ] , "system" : "s" }"#;
        let body: Value = serde_json::from_slice(spaced).expect("valid");
        assert_eq!(derive(spaced), by_definition(&body));
        assert!(derive(spaced).is_some());
        assert_eq!(derive(b"not json"), None);
    }
}
