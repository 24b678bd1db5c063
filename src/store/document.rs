//! Versioned documents, the decision log's entries, pagination, and the
//! checks every backend applies to names and bodies alike.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::StoreError;

/// Page size [`super::Store::list_all_latest`] asks for.
pub(super) const LIST_PAGE: u32 = 100;
/// Largest page a caller may ask for.
pub(super) const MAX_PAGE: u32 = 1000;
/// Largest stored JSON body. DynamoDB refuses items over 400 KB; the
/// margin leaves room for the other attributes, and both backends apply
/// the same limit so that a document valid in one is valid in the other.
pub(super) const MAX_BODY_BYTES: usize = 350_000;
/// Longest id, variant, metric, phase, session or author name.
pub(super) const MAX_NAME_BYTES: usize = 256;

/// What a versioned document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Profile,
    Experiment,
}

impl Kind {
    /// Both kinds, in listing order.
    pub const ALL: [Kind; 2] = [Kind::Profile, Kind::Experiment];

    /// The name stored in keys and rows.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Profile => "profile",
            Kind::Experiment => "experiment",
        }
    }

    /// The kind a stored name stands for.
    pub fn parse(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

/// One revision of a profile (id: an intent) or an experiment (id: the
/// experiment's id). The body is the caller's JSON, kept as written.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub kind: Kind,
    pub id: String,
    /// 1 for the first put of an id, then 2, 3, …
    pub revision: u64,
    pub body: Value,
    /// When the revision was written, in milliseconds since the Unix epoch.
    pub updated_at_ms: u64,
    /// Who wrote it, as the caller named them.
    pub updated_by: String,
}

/// One entry of an experiment's decision log.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub experiment: String,
    /// Position in the log: 1, 2, 3 … in append order.
    pub sequence: u64,
    /// The caller's entry (who, what, why, when), kept as written.
    pub entry: Value,
    /// When the store recorded it, in milliseconds since the Unix epoch.
    pub recorded_at_ms: u64,
}

/// Where a page starts: opaque to callers, handed back from [`Page::next`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageToken(pub(super) String);

impl PageToken {
    /// The token as text, to hand to a client (an admin API cursor).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A token a client handed back.
    pub fn from_text(text: impl Into<String>) -> Self {
        Self(text.into())
    }
}

/// Which page to read and how many items at most.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub after: Option<PageToken>,
    pub limit: u32,
}

impl PageRequest {
    pub fn first(limit: u32) -> Self {
        Self { after: None, limit }
    }

    pub fn after(token: PageToken, limit: u32) -> Self {
        Self {
            after: Some(token),
            limit,
        }
    }

    /// The limit, kept between 1 and [`MAX_PAGE`].
    pub(super) fn clamped_limit(&self) -> u32 {
        self.limit.clamp(1, MAX_PAGE)
    }
}

/// One page of a listing. `next` is `None` on the last page; a page may
/// hold fewer items than asked for and still have a next one.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<PageToken>,
}

/// Milliseconds since the Unix epoch, now.
pub(super) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Ids name keys in both backends: non-empty, bounded, printable.
pub(super) fn check_id(id: &str) -> Result<(), StoreError> {
    check_name("id", id)
}

/// A name that becomes part of a key or an attribute name.
pub(super) fn check_name(what: &str, name: &str) -> Result<(), StoreError> {
    if name.is_empty() || name.len() > MAX_NAME_BYTES {
        return Err(StoreError::Invalid(format!(
            "{what} must have 1 to {MAX_NAME_BYTES} bytes"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(StoreError::Invalid(format!(
            "{what} must not contain control characters"
        )));
    }
    Ok(())
}

/// A body as stored: compact JSON text within [`MAX_BODY_BYTES`].
pub(super) fn encode_body(body: &Value) -> Result<String, StoreError> {
    let text = serde_json::to_string(body)
        .map_err(|e| StoreError::Invalid(format!("body is not serialisable: {e}")))?;
    if text.len() > MAX_BODY_BYTES {
        return Err(StoreError::Invalid(format!(
            "body has {} bytes, more than {MAX_BODY_BYTES}",
            text.len()
        )));
    }
    Ok(text)
}

/// A stored body back into JSON.
pub(super) fn decode_body(text: &str) -> Result<Value, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("stored body: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_bounded_and_printable() {
        assert!(check_id("order_status").is_ok());
        assert!(check_id("").is_err());
        assert!(check_id(&"x".repeat(MAX_NAME_BYTES + 1)).is_err());
        assert!(check_id("a\nb").is_err());
    }

    #[test]
    fn bodies_over_the_limit_are_refused() {
        let big = Value::String("x".repeat(MAX_BODY_BYTES));
        assert!(matches!(encode_body(&big), Err(StoreError::Invalid(_))));
        assert_eq!(
            encode_body(&serde_json::json!({"a": 1})).ok().as_deref(),
            Some(r#"{"a":1}"#)
        );
    }
}
