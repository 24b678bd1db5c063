//! JSON objects held as ordered raw slices of the original body.
//!
//! Only the top level (and the few small objects the rewriter owns, such as
//! `inferenceConfig`) is split into keys; every value stays the exact text
//! the application sent until the rewriter replaces it. Writing an object
//! back copies untouched values byte for byte, so messages, images, tools and
//! cache markers pass through unchanged and no large value is re-serialised.

use std::borrow::Cow;
use std::cell::OnceCell;

use serde::de;

use super::error::RewriteError;
use super::json_text::{Entries, leading_elements, push_json_string, splice_front};

/// One key and its value.
#[derive(Debug, Clone)]
struct Entry<'a> {
    key: Cow<'a, str>,
    value: Val<'a>,
}

/// A value's JSON text: as sent, replaced, or an array whose new elements
/// are written in front of the application's own at output time, so that a
/// large `messages` array is copied once, into the output, and not before.
#[derive(Debug, Clone)]
enum Val<'a> {
    Text(Cow<'a, str>),
    Spliced {
        /// `[`, the new elements, and a comma if elements follow.
        front: String,
        /// The rest of the application's array, closing bracket included.
        tail: &'a str,
        /// The joined text, made only if someone reads the value back.
        joined: OnceCell<String>,
    },
}

impl Val<'_> {
    fn text(&self) -> &str {
        match self {
            Val::Text(text) => text,
            Val::Spliced {
                front,
                tail,
                joined,
            } => joined.get_or_init(|| format!("{front}{tail}")),
        }
    }

    fn len(&self) -> usize {
        match self {
            Val::Text(text) => text.len(),
            Val::Spliced { front, tail, .. } => front.len() + tail.len(),
        }
    }

    fn write(&self, out: &mut String) {
        match self {
            Val::Text(text) => out.push_str(text),
            Val::Spliced { front, tail, .. } => {
                out.push_str(front);
                out.push_str(tail);
            }
        }
    }
}

/// A JSON object as an ordered list of keys and raw value texts.
#[derive(Debug, Clone, Default)]
pub(crate) struct RawObject<'a> {
    entries: Vec<Entry<'a>>,
    changed: bool,
}

impl<'a> RawObject<'a> {
    /// Splits a request body's top-level object. Duplicate keys are refused:
    /// which copy Bedrock would honour is not specified, so a rewrite of one
    /// copy could be silently overridden by the other.
    pub fn parse_body(body: &'a [u8], schema: &'static str) -> Result<Self, RewriteError> {
        if body.trim_ascii_start().first() != Some(&b'{') {
            return Err(match serde_json::from_slice::<de::IgnoredAny>(body) {
                Ok(_) => RewriteError::NotObject,
                Err(e) => RewriteError::NotJson(e),
            });
        }
        let object = Self::parse(body).map_err(RewriteError::NotJson)?;
        object.refuse_duplicates(schema, "")?;
        Ok(object)
    }

    /// Splits a nested object found under `key`; `key` names it in errors.
    pub fn parse_nested(
        text: &'a str,
        schema: &'static str,
        key: &str,
    ) -> Result<Self, RewriteError> {
        if !text.trim_start().starts_with('{') {
            return Err(RewriteError::shape(
                schema,
                format!("`{key}` is not an object"),
            ));
        }
        let object = Self::parse(text.as_bytes())
            .map_err(|e| RewriteError::shape(schema, format!("`{key}`: {e}")))?;
        object.refuse_duplicates(schema, key)?;
        Ok(object)
    }

    /// Splits an object; `serde_json` checks that the whole input is valid
    /// JSON (and UTF-8) while it skims over the values.
    fn parse(bytes: &'a [u8]) -> Result<Self, serde_json::Error> {
        let Entries(pairs) = serde_json::from_slice(bytes)?;
        let entries = pairs
            .into_iter()
            .map(|(key, raw)| Entry {
                key,
                value: Val::Text(Cow::Borrowed(raw.get())),
            })
            .collect();
        Ok(RawObject {
            entries,
            changed: false,
        })
    }

    fn refuse_duplicates(&self, schema: &'static str, within: &str) -> Result<(), RewriteError> {
        for (i, e) in self.entries.iter().enumerate() {
            if self.entries[..i].iter().any(|earlier| earlier.key == e.key) {
                let place = if within.is_empty() {
                    "top-level".to_string()
                } else {
                    format!("`{within}`")
                };
                return Err(RewriteError::shape(
                    schema,
                    format!("duplicate {place} key {:?}", e.key),
                ));
            }
        }
        Ok(())
    }

    /// The raw JSON text of `key`'s value.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|e| e.key == key)
            .map(|e| e.value.text())
    }

    /// The value of `key` exactly as the application sent it, borrowed from
    /// the body; `None` if absent or already replaced.
    fn original(&self, key: &str) -> Option<&'a str> {
        match self.entries.iter().find(|e| e.key == key)?.value {
            Val::Text(Cow::Borrowed(text)) => Some(text),
            _ => None,
        }
    }

    /// Whether the object has `key`.
    pub fn contains(&self, key: &str) -> bool {
        self.entries.iter().any(|e| e.key == key)
    }

    /// Sets `key` to the JSON text `json`, in place if present, else last.
    /// Writing the text already there is not a change, which keeps a second
    /// rewrite with the same plan from touching the body.
    pub fn set(&mut self, key: &str, json: String) {
        if self.get(key) != Some(json.as_str()) {
            self.put(key, Val::Text(Cow::Owned(json)));
        }
    }

    fn put(&mut self, key: &str, value: Val<'a>) {
        self.changed = true;
        match self.entries.iter_mut().find(|e| e.key == key) {
            Some(e) => e.value = value,
            None => self.entries.push(Entry {
                key: Cow::Owned(key.to_string()),
                value,
            }),
        }
    }

    /// Replaces the first `drop` elements of the array under `key` (an
    /// empty array if absent) with the JSON texts `front`. The elements
    /// kept are written as the application sent them.
    pub fn splice(&mut self, key: &str, drop: usize, front: &[String]) -> Result<(), String> {
        if let Some(list) = self.original(key) {
            let (_, tail) = leading_elements(list, drop)?;
            let front = splice_front(front, tail);
            let joined = OnceCell::new();
            self.put(
                key,
                Val::Spliced {
                    front,
                    tail,
                    joined,
                },
            );
        } else {
            let list = self.get(key).unwrap_or("[]").to_string();
            let (_, tail) = leading_elements(&list, drop)?;
            let json = format!("{}{tail}", splice_front(front, tail));
            self.set(key, json);
        }
        Ok(())
    }

    /// Removes `key`, if present.
    pub fn remove(&mut self, key: &str) {
        if let Some(at) = self.entries.iter().position(|e| e.key == key) {
            self.changed = true;
            self.entries.remove(at);
        }
    }

    /// Whether any key was set or removed since parsing.
    pub fn changed(&self) -> bool {
        self.changed
    }

    /// Edits the object under `key` (an empty one if absent) with `edit`,
    /// storing it back only if `edit` changed it.
    pub fn edit_object<R>(
        &mut self,
        key: &str,
        schema: &'static str,
        edit: impl FnOnce(&mut RawObject<'_>) -> Result<R, RewriteError>,
    ) -> Result<R, RewriteError> {
        let current = self.get(key).map(str::to_owned);
        let mut nested = match &current {
            Some(text) => RawObject::parse_nested(text, schema, key)?,
            None => RawObject::default(),
        };
        let result = edit(&mut nested)?;
        if nested.changed() {
            let mut text = String::new();
            nested.write(&mut text);
            self.set(key, text);
        }
        Ok(result)
    }

    /// Sets the value at a key path, creating objects along the way.
    pub fn set_path(
        &mut self,
        schema: &'static str,
        path: &[&str],
        json: String,
    ) -> Result<(), RewriteError> {
        match path {
            [] => Ok(()),
            [key] => {
                self.set(key, json);
                Ok(())
            }
            [key, rest @ ..] => {
                self.edit_object(key, schema, |inner| inner.set_path(schema, rest, json))
            }
        }
    }

    /// Removes the value at a key path, if there is one.
    pub fn remove_path(&mut self, schema: &'static str, path: &[&str]) -> Result<(), RewriteError> {
        match path {
            [] => Ok(()),
            [key] => {
                self.remove(key);
                Ok(())
            }
            [key, _, ..] if !self.contains(key) => Ok(()),
            [key, rest @ ..] => {
                self.edit_object(key, schema, |inner| inner.remove_path(schema, rest))
            }
        }
    }

    /// The raw JSON text at a key path; `None` if any step is missing or
    /// not an object.
    pub fn read_path<S: AsRef<str>>(&self, path: &[S]) -> Option<String> {
        let (first, rest) = path.split_first()?;
        let text = self.get(first.as_ref())?;
        if rest.is_empty() {
            Some(text.to_string())
        } else {
            get_path(text, rest)
        }
    }

    /// Appends the object's JSON text to `out`.
    pub fn write(&self, out: &mut String) {
        out.push('{');
        for (i, e) in self.entries.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            push_json_string(out, &e.key);
            out.push(':');
            e.value.write(out);
        }
        out.push('}');
    }

    /// The length `write` will produce, give or take key escapes.
    pub fn approx_len(&self) -> usize {
        self.entries
            .iter()
            .map(|e| e.key.len() + e.value.len() + 4)
            .sum::<usize>()
            + 2
    }
}

/// Reads a JSON value at a path of object keys inside `text` (an object).
/// Returns `None` when a key is missing or an intermediate value is not an
/// object; the value is returned as its raw JSON text.
pub(crate) fn get_path<S: AsRef<str>>(text: &str, path: &[S]) -> Option<String> {
    let (first, rest) = path.split_first()?;
    let object = RawObject::parse(text.as_bytes()).ok()?;
    let value = object.get(first.as_ref())?;
    if rest.is_empty() {
        Some(value.to_string())
    } else {
        get_path(value, rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untouched_values_keep_their_bytes() {
        let body = r#"{"a": [1,  2], "b\n": {"x" : 1.50}, "c": "\u00e9"}"#;
        let mut o = RawObject::parse_body(body.as_bytes(), "t").expect("parses");
        assert_eq!(o.get("a"), Some("[1,  2]"));
        assert_eq!(o.get("b\n"), Some(r#"{"x" : 1.50}"#));
        o.set("d", "true".into());
        let mut out = String::new();
        o.write(&mut out);
        assert_eq!(
            out,
            r#"{"a":[1,  2],"b\n":{"x" : 1.50},"c":"\u00e9","d":true}"#
        );
    }

    #[test]
    fn spliced_arrays_write_and_read_back_whole() {
        let body = br#"{"m": [ {"a":1}, 2 ]}"#;
        let mut o = RawObject::parse_body(body, "t").expect("parses");
        o.splice("m", 1, &["0".into()]).expect("splices");
        o.splice("n", 0, &["1".into()]).expect("splices");
        let mut out = String::new();
        o.write(&mut out);
        assert_eq!(out, r#"{"m":[0,2 ],"n":[1]}"#);
        assert_eq!(o.get("m"), Some("[0,2 ]"));
        o.splice("m", 0, &["9".into()])
            .expect("splices a replaced value");
        assert_eq!(o.get("m"), Some("[9,0,2 ]"));
    }

    #[test]
    fn bodies_that_are_not_objects_are_told_apart() {
        let parse = |b: &'static [u8]| RawObject::parse_body(b, "t");
        assert!(matches!(parse(b"[1]"), Err(RewriteError::NotObject)));
        assert!(matches!(parse(b""), Err(RewriteError::NotJson(_))));
        assert!(matches!(parse(b"{\"a\":"), Err(RewriteError::NotJson(_))));
        assert!(matches!(parse(b"{} x"), Err(RewriteError::NotJson(_))));
        assert!(matches!(
            parse(b"{\"a\":\"\xff\"}"),
            Err(RewriteError::NotJson(_))
        ));
        assert!(matches!(
            parse(br#"{"a":1,"a":2}"#),
            Err(RewriteError::Shape { .. })
        ));
    }

    #[test]
    fn paths_reach_into_nested_objects() {
        let text = r#"{"thinking":{"type":"enabled","budget_tokens":2048}}"#;
        let path = |p: &[&str]| p.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            get_path(text, &path(&["thinking", "type"])).as_deref(),
            Some("\"enabled\"")
        );
        assert_eq!(
            get_path(text, &path(&["thinking", "budget_tokens"])).as_deref(),
            Some("2048")
        );
        assert_eq!(get_path(text, &path(&["thinking", "nope"])), None);
        assert_eq!(get_path(text, &path(&["thinking", "type", "deeper"])), None);
    }
}
