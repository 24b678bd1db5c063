//! Small pieces of JSON text: string literals, the head of a JSON array
//! split off without parsing the rest, and an object's entries as raw
//! slices.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

/// The first `n` elements of the JSON array `array` (fewer if it is
/// shorter), and the text after them: from the next element to the closing
/// bracket, or just the closing bracket.
pub(crate) fn leading_elements(array: &str, n: usize) -> Result<(Vec<&str>, &str), String> {
    let mut rest = array
        .trim_start()
        .strip_prefix('[')
        .ok_or("not an array")?
        .trim_start();
    let mut items = Vec::with_capacity(n);
    while items.len() < n && !rest.starts_with(']') {
        let mut stream = serde_json::Deserializer::from_str(rest).into_iter::<&RawValue>();
        let item = stream
            .next()
            .ok_or("array ends early")?
            .map_err(|e| e.to_string())?;
        items.push(item.get());
        let after = rest
            .get(stream.byte_offset()..)
            .ok_or("array ends early")?
            .trim_start();
        rest = match after.strip_prefix(',') {
            Some(next) => next.trim_start(),
            None if after.starts_with(']') => after,
            None => return Err("array elements are not separated by commas".into()),
        };
    }
    Ok((items, rest))
}

/// The opening of a JSON array made of `front` (new JSON texts) followed
/// by `tail`, which is what [`leading_elements`] left of an existing array.
pub(crate) fn splice_front(front: &[String], tail: &str) -> String {
    let mut out = String::with_capacity(front.iter().map(|f| f.len() + 1).sum::<usize>() + 2);
    out.push('[');
    for (at, item) in front.iter().enumerate() {
        if at > 0 {
            out.push(',');
        }
        out.push_str(item);
    }
    if !front.is_empty() && !tail.starts_with(']') {
        out.push(',');
    }
    out
}

/// Appends `s` as a JSON string literal. Runs of characters that need no
/// escape are copied whole: managed prompts and examples are long and
/// almost entirely plain text, and this runs on every tuned request.
pub(crate) fn push_json_string(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('"');
    let bytes = s.as_bytes();
    let mut from = 0;
    loop {
        // Every byte that ends a run is ASCII, so the cut is a char boundary.
        let end = from + plain_run(&bytes[from..]);
        out.push_str(&s[from..end]);
        let Some(&byte) = bytes.get(end) else { break };
        match byte {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            _ => {
                out.push_str("\\u00");
                out.push(char::from(HEX[usize::from(byte >> 4)]));
                out.push(char::from(HEX[usize::from(byte & 0xf)]));
            }
        }
        from = end + 1;
    }
    out.push('"');
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Length of the leading part of `bytes` that a JSON string holds as is:
/// no quote, backslash or control character. Prompts and examples are
/// mostly such text, so it is scanned eight bytes at a time.
fn plain_run(bytes: &[u8]) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // Nonzero when some byte of `word` is below `n` (n <= 0x80); a byte's
    // high bit set in the input rules it out, so UTF-8 never matches.
    let any_below = |word: u64, n: u8| word.wrapping_sub(ONES * u64::from(n)) & !word & HIGHS;
    let any_equal = |word: u64, b: u8| any_below(word ^ (ONES * u64::from(b)), 1);
    let mut at = 0;
    while let Some(chunk) = bytes.get(at..at + 8) {
        let word = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        if any_below(word, 0x20) | any_equal(word, b'"') | any_equal(word, b'\\') != 0 {
            break;
        }
        at += 8;
    }
    let rest = &bytes[at..];
    at + rest
        .iter()
        .position(|&b| b < 0x20 || b == b'"' || b == b'\\')
        .unwrap_or(rest.len())
}

/// `s` as a JSON string literal.
pub(crate) fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    push_json_string(&mut out, s);
    out
}

/// Deserialises an object into its entries in document order, borrowing
/// keys where they have no escapes and values always.
pub(crate) struct Entries<'a>(pub Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de> Deserialize<'de> for Entries<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(EntriesVisitor)
    }
}

struct EntriesVisitor;

impl<'de> Visitor<'de> for EntriesVisitor {
    type Value = Entries<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut pairs = Vec::with_capacity(map.size_hint().unwrap_or(8));
        while let Some((Key(k), v)) = map.next_entry::<Key<'de>, &'de RawValue>()? {
            pairs.push((k, v));
        }
        Ok(Entries(pairs))
    }
}

struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Key<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Key(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Key(Cow::Owned(v.to_string())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leading_elements_split_arrays() {
        let (items, rest) = leading_elements(r#"[ {"a":1} , 2,3 ]"#, 2).expect("splits");
        assert_eq!(items, vec![r#"{"a":1}"#, "2"]);
        assert_eq!(rest, "3 ]");
        let (items, rest) = leading_elements("[]", 3).expect("splits");
        assert!(items.is_empty());
        assert_eq!(rest, "]");
        assert_eq!(splice_front(&["0".into()], rest), "[0");
        let (_, rest) = leading_elements("[1,2]", 0).expect("splits");
        assert_eq!(splice_front(&["0".into()], rest), "[0,");
        assert_eq!(splice_front(&[], rest), "[");
    }

    #[test]
    fn strings_escape_what_json_requires() {
        assert_eq!(json_string("a\"b\\c\nd\u{1}é"), r#""a\"b\\c\nd\u0001é""#);
    }

    #[test]
    fn every_control_character_and_multibyte_text_round_trips() {
        let all_controls: String = (0u8..0x20).map(char::from).collect();
        for text in [
            "",
            "plain",
            "\"",
            "末尾に\"引用\"と\\と改行\n",
            all_controls.as_str(),
            "\u{7f}\u{2028}😀",
        ] {
            let literal = json_string(text);
            let back: String = serde_json::from_str(&literal).expect("valid JSON string");
            assert_eq!(back, text, "{literal}");
        }
    }

    #[test]
    fn escapes_are_found_at_every_offset_of_a_word() {
        // The scan reads eight bytes at a time: put each escape at every
        // position around two words, among ASCII and multibyte text, and
        // compare with serde_json's own escaping.
        for special in ["\"", "\\", "\n", "\u{0}", "\u{1f}", "\u{7f}", "é", "😀"] {
            for at in 0..17 {
                for filler in ["a", "ü"] {
                    let text = format!("{}{special}{}", filler.repeat(at), filler.repeat(17 - at));
                    let ours: serde_json::Value =
                        serde_json::from_str(&json_string(&text)).expect("valid JSON string");
                    assert_eq!(ours, serde_json::Value::String(text.clone()), "{text:?}");
                    assert_eq!(
                        json_string(&text),
                        serde_json::to_string(&text).expect("serialises")
                    );
                }
            }
        }
    }
}
