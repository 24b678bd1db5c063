//! The usage-bearing fields of one answer, read straight from the JSON
//! without building a tree: every other field (the answer's text above all)
//! is skipped, and nothing is allocated for the objects that are read.
//!
//! Reading is lenient in the way `serde_json::Value` lookups are: a field of
//! an unexpected type counts as absent instead of failing the whole answer.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::{DELTA, INPUT_KEYS, MESSAGE, METRICS, OUTPUT_KEYS, STOP_KEYS, USAGE};

/// Counts and stop reason found in one object, one slot per field name in
/// the order the name lists give precedence to.
#[derive(Debug, Default)]
pub(super) struct Counts {
    pub input: [Option<u64>; INPUT_KEYS.len()],
    pub output: [Option<u64>; OUTPUT_KEYS.len()],
    /// `Some(None)`: the field is there but is not a string.
    pub stop: [Option<Option<String>>; STOP_KEYS.len()],
}

impl Counts {
    /// Takes the value of `key` if it is one of the names read here.
    fn read<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
        if let Some(i) = INPUT_KEYS.iter().position(|k| *k == key) {
            self.input[i] = map.next_value::<Loose<u64>>()?.0;
        } else if let Some(i) = OUTPUT_KEYS.iter().position(|k| *k == key) {
            self.output[i] = map.next_value::<Loose<u64>>()?.0;
        } else if let Some(i) = STOP_KEYS.iter().position(|k| *k == key) {
            self.stop[i] = Some(map.next_value::<Loose<String>>()?.0);
        } else {
            return Ok(false);
        }
        Ok(true)
    }

    /// The first named input count that is an unsigned integer.
    pub fn input(&self) -> Option<u64> {
        self.input.iter().find_map(|v| *v)
    }

    pub fn output(&self) -> Option<u64> {
        self.output.iter().find_map(|v| *v)
    }

    /// The first stop field present, if it is a string.
    pub fn stop(&self) -> Option<&str> {
        self.stop.iter().find_map(Option::as_ref)?.as_deref()
    }
}

/// The places of an answer where the model families put usage.
#[derive(Debug, Default)]
pub(super) struct AnswerFields {
    pub top: Counts,
    pub metrics: Option<Counts>,
    pub usage: Option<Counts>,
    pub message_usage: Option<Counts>,
    pub delta: Option<Counts>,
}

impl<'de> Deserialize<'de> for AnswerFields {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(AnswerVisitor)
    }
}

impl<'de> Deserialize<'de> for Counts {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(CountsVisitor)
    }
}

struct AnswerVisitor;

impl<'de> Visitor<'de> for AnswerVisitor {
    type Value = AnswerFields;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut answer = AnswerFields::default();
        while let Some(key) = map.next_key::<KeyText<'de>>()? {
            let key = key.as_str();
            if key == METRICS {
                answer.metrics = map.next_value::<Loose<Counts>>()?.0;
            } else if key == USAGE {
                answer.usage = map.next_value::<Loose<Counts>>()?.0;
            } else if key == DELTA {
                answer.delta = map.next_value::<Loose<Counts>>()?.0;
            } else if key == MESSAGE {
                answer.message_usage = map.next_value::<Loose<MessageUsage>>()?.0.and_then(|m| m.0);
            } else if !answer.top.read(key, &mut map)? {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(answer)
    }
}

struct CountsVisitor;

impl<'de> Visitor<'de> for CountsVisitor {
    type Value = Counts;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut counts = Counts::default();
        while let Some(key) = map.next_key::<KeyText<'de>>()? {
            if !counts.read(key.as_str(), &mut map)? {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(counts)
    }
}

/// Claude's stream events nest the counts under `message.usage`.
struct MessageUsage(Option<Counts>);

impl<'de> Deserialize<'de> for MessageUsage {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(MessageVisitor)
    }
}

struct MessageVisitor;

impl<'de> Visitor<'de> for MessageVisitor {
    type Value = MessageUsage;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut usage = None;
        while let Some(key) = map.next_key::<KeyText<'de>>()? {
            match key.as_str() == USAGE {
                true => usage = map.next_value::<Loose<Counts>>()?.0,
                false => map.next_value::<IgnoredAny>().map(drop)?,
            }
        }
        Ok(MessageUsage(usage))
    }
}

/// An object key, borrowed from the input unless it had to be unescaped.
enum KeyText<'a> {
    Borrowed(&'a str),
    Owned(String),
}

impl KeyText<'_> {
    fn as_str(&self) -> &str {
        match self {
            KeyText::Borrowed(s) => s,
            KeyText::Owned(s) => s,
        }
    }
}

impl<'de> Deserialize<'de> for KeyText<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(KeyTextVisitor)
    }
}

struct KeyTextVisitor;

impl<'de> Visitor<'de> for KeyTextVisitor {
    type Value = KeyText<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(KeyText::Borrowed(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(KeyText::Owned(v.to_string()))
    }
}

/// A value of the wanted kind, or `None` for any other JSON value (which is
/// consumed whole).
struct Loose<T>(Option<T>);

/// What [`Loose`] accepts: the one visitor method that yields a value.
trait LooseKind: Sized {
    fn describe(f: &mut fmt::Formatter<'_>) -> fmt::Result;

    fn from_u64(_: u64) -> Option<Self> {
        None
    }

    fn from_str(_: &str) -> Option<Self> {
        None
    }

    fn from_map<'de, A: MapAccess<'de>>(map: A) -> Result<Option<Self>, A::Error> {
        drain_map(map).map(|()| None)
    }
}

impl LooseKind for u64 {
    fn describe(f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an unsigned integer")
    }

    fn from_u64(v: u64) -> Option<Self> {
        Some(v)
    }
}

impl LooseKind for String {
    fn describe(f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn from_str(v: &str) -> Option<Self> {
        Some(v.to_string())
    }
}

impl LooseKind for Counts {
    fn describe(f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of counts")
    }

    fn from_map<'de, A: MapAccess<'de>>(map: A) -> Result<Option<Self>, A::Error> {
        CountsVisitor.visit_map(map).map(Some)
    }
}

impl LooseKind for MessageUsage {
    fn describe(f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a message object")
    }

    fn from_map<'de, A: MapAccess<'de>>(map: A) -> Result<Option<Self>, A::Error> {
        MessageVisitor.visit_map(map).map(Some)
    }
}

fn drain_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
    Ok(())
}

impl<'de, T: LooseKind> Deserialize<'de> for Loose<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(LooseVisitor(std::marker::PhantomData))
    }
}

struct LooseVisitor<T>(std::marker::PhantomData<T>);

impl<'de, T: LooseKind> Visitor<'de> for LooseVisitor<T> {
    type Value = Loose<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        T::describe(f)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Loose(T::from_u64(v)))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Loose(None))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Loose(None))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Loose(None))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Loose(None))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Loose(T::from_str(v)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Loose(None))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        T::from_map(map).map(Loose)
    }
}
