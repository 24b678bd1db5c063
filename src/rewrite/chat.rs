//! Few-shot examples as prior turns of a chat, spliced into the
//! application's message list without re-serialising its messages.

use std::borrow::Cow;

use serde::Deserialize;

use super::json_text::{leading_elements, push_json_string};
use super::plan::FewShot;
use super::report::FewShotSkip;

/// How a family writes one chat turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TurnStyle {
    /// Claude and Jamba: `{"role":"user","content":"text"}`.
    StringContent,
    /// Converse and Nova: `{"role":"user","content":[{"text":"text"}]}`.
    TextBlocks,
    /// Cohere `chat_history`: `{"role":"USER","message":"text"}`.
    CohereHistory,
}

impl TurnStyle {
    fn turn(self, user: bool, text: &str) -> String {
        let (head, tail) = match (self, user) {
            (TurnStyle::StringContent, true) => (r#"{"role":"user","content":"#, "}"),
            (TurnStyle::StringContent, false) => (r#"{"role":"assistant","content":"#, "}"),
            (TurnStyle::TextBlocks, true) => (r#"{"role":"user","content":[{"text":"#, "}]}"),
            (TurnStyle::TextBlocks, false) => (r#"{"role":"assistant","content":[{"text":"#, "}]}"),
            (TurnStyle::CohereHistory, true) => (r#"{"role":"USER","message":"#, "}"),
            (TurnStyle::CohereHistory, false) => (r#"{"role":"CHATBOT","message":"#, "}"),
        };
        // Built in place: this runs for every example of every tuned
        // request, and `format!` would copy the escaped text once more.
        let mut turn = String::with_capacity(head.len() + text.len() + tail.len() + 8);
        turn.push_str(head);
        push_json_string(&mut turn, text);
        turn.push_str(tail);
        turn
    }

    /// The turns for `shots`, user then assistant for each.
    pub fn render(self, shots: &[FewShot]) -> Vec<String> {
        shots
            .iter()
            .flat_map(|s| [self.turn(true, &s.user), self.turn(false, &s.assistant)])
            .collect()
    }
}

/// The result of placing few-shot turns into a message list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Shots {
    Skipped(FewShotSkip),
    /// The JSON texts to put in place of the first `keep_first` elements:
    /// those elements themselves, then the example turns.
    Front(Vec<String>),
}

/// What the first application turn must be for the examples to go first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FirstTurn {
    /// A turn whose `role` is `user` must follow: the examples end on an
    /// assistant turn and the family requires alternation.
    MustBeUser,
    /// Anything may follow (Cohere's `chat_history`).
    Any,
}

#[derive(Deserialize)]
struct RoleProbe<'a> {
    #[serde(borrow)]
    role: Option<Cow<'a, str>>,
}

/// The `role` of a message given as JSON text.
pub(crate) fn role_of(message: &str) -> Option<String> {
    serde_json::from_str::<RoleProbe<'_>>(message)
        .ok()?
        .role
        .map(Cow::into_owned)
}

fn same_json(a: &str, b: &str) -> bool {
    match (
        serde_json::from_str::<serde_json::Value>(a),
        serde_json::from_str::<serde_json::Value>(b),
    ) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// Decides where the rendered example turns go: after the first
/// `keep_first` elements of the JSON array `list` (a system message, for
/// Jamba). Errors describe a malformed list.
pub(crate) fn inject(
    list: &str,
    turns: Vec<String>,
    keep_first: usize,
    first: FirstTurn,
) -> Result<Shots, String> {
    let (lead, _) = leading_elements(list, keep_first + turns.len() + 1)?;
    let after_kept = lead.get(keep_first..).unwrap_or_default();
    let present = after_kept.len() >= turns.len()
        && after_kept.iter().zip(&turns).all(|(a, b)| same_json(a, b));
    if present {
        return Ok(Shots::Skipped(FewShotSkip::AlreadyPresent));
    }
    let opens_with_user = after_kept
        .first()
        .and_then(|m| role_of(m))
        .is_some_and(|r| r == "user");
    if first == FirstTurn::MustBeUser && !opens_with_user {
        return Ok(Shots::Skipped(FewShotSkip::FirstTurnNotUser));
    }
    let kept = lead.iter().take(keep_first).map(|s| s.to_string());
    Ok(Shots::Front(kept.chain(turns).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rewrite::json::RawObject;

    fn shots() -> Vec<FewShot> {
        vec![FewShot {
            user: "2+2?".into(),
            assistant: "4".into(),
        }]
    }

    /// The message list after applying `inject`'s decision to it.
    fn applied(
        list: &str,
        turns: &[String],
        keep_first: usize,
        first: FirstTurn,
    ) -> Option<String> {
        let body = format!("{{\"messages\":{list}}}");
        let mut doc = RawObject::parse_body(body.as_bytes(), "t").expect("parses");
        match inject(list, turns.to_vec(), keep_first, first).expect("well-formed list") {
            Shots::Skipped(_) => None,
            Shots::Front(front) => {
                doc.splice("messages", keep_first, &front).expect("splices");
                doc.get("messages").map(str::to_string)
            }
        }
    }

    #[test]
    fn examples_go_first_and_only_once() {
        let turns = TurnStyle::StringContent.render(&shots());
        let list = r#"[{"role":"user","content":[{"type":"text","text":"hi","cache_control":{"type":"ephemeral"}}]}]"#;
        let out = applied(list, &turns, 0, FirstTurn::MustBeUser).expect("injected");
        assert_eq!(
            out,
            r#"[{"role":"user","content":"2+2?"},{"role":"assistant","content":"4"},{"role":"user","content":[{"type":"text","text":"hi","cache_control":{"type":"ephemeral"}}]}]"#
        );
        assert_eq!(
            inject(&out, turns.clone(), 0, FirstTurn::MustBeUser),
            Ok(Shots::Skipped(FewShotSkip::AlreadyPresent))
        );
    }

    #[test]
    fn alternation_is_protected() {
        let turns = TurnStyle::TextBlocks.render(&shots());
        let list = r#"[{"role":"assistant","content":[{"text":"prefill"}]}]"#;
        assert_eq!(
            inject(list, turns.clone(), 0, FirstTurn::MustBeUser),
            Ok(Shots::Skipped(FewShotSkip::FirstTurnNotUser))
        );
        assert_eq!(
            inject("[]", turns.clone(), 0, FirstTurn::MustBeUser),
            Ok(Shots::Skipped(FewShotSkip::FirstTurnNotUser))
        );
        assert_eq!(
            applied("[]", &turns, 0, FirstTurn::Any).as_deref(),
            Some(
                r#"[{"role":"user","content":[{"text":"2+2?"}]},{"role":"assistant","content":[{"text":"4"}]}]"#
            )
        );
    }

    #[test]
    fn kept_leading_elements_stay_first() {
        let turns = TurnStyle::StringContent.render(&shots());
        let list = r#"[{"role":"system","content":"S"},{"role":"user","content":"q"}]"#;
        let out = applied(list, &turns, 1, FirstTurn::MustBeUser).expect("injected");
        assert_eq!(
            out,
            r#"[{"role":"system","content":"S"},{"role":"user","content":"2+2?"},{"role":"assistant","content":"4"},{"role":"user","content":"q"}]"#
        );
        assert_eq!(
            inject(&out, turns.clone(), 1, FirstTurn::MustBeUser),
            Ok(Shots::Skipped(FewShotSkip::AlreadyPresent))
        );
    }
}
