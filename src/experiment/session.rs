//! The session key of a request: the session header when the app sends
//! one, otherwise one derived from the conversation itself.
//!
//! An app that changes no code sends no session header. The system prompt
//! and the first user turn stay the same across a conversation's turns, so
//! their hash identifies the conversation well enough to keep its variant
//! sticky. Prompt-text families (Titan, Llama, Mistral) resend a growing
//! prompt string with no turn structure, so nothing stable is derived there.

use serde_json::Value;
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

/// A key derived from the system prompt and the first user turn, or
/// `None` when the body has no turn structure.
pub fn derive(body: &Value) -> Option<String> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn later_turns_of_a_conversation_keep_the_key() {
        let turn1 = json!({"system": "s", "messages": [{"role": "user", "content": "hi"}]});
        let turn2 = json!({"system": "s", "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "hello"},
            {"role": "user", "content": "more"}]});
        assert_eq!(derive(&turn1), derive(&turn2));
        let other = json!({"system": "s", "messages": [{"role": "user", "content": "bye"}]});
        assert_ne!(derive(&turn1), derive(&other));
        assert_eq!(derive(&json!({"prompt": "[INST] hi [/INST]"})), None);
    }
}
