//! Attribute values, expression placeholders and key parts.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::store::StoreError;

/// One DynamoDB item.
pub(super) type Item = HashMap<String, AttributeValue>;

pub(super) fn s(text: impl Into<String>) -> AttributeValue {
    AttributeValue::S(text.into())
}

pub(super) fn n(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub(super) fn f(value: f64) -> AttributeValue {
    AttributeValue::N(number(value))
}

/// A float as a DynamoDB number: the shortest text that reads back to the
/// same float, in exponent form when the plain one would exceed the 38
/// digits DynamoDB keeps. Magnitudes below 1e-100 (DynamoDB stops at
/// 1e-130) are written as 0: no metric sum is that fine.
pub(super) fn number(value: f64) -> String {
    if value.abs() < 1e-100 {
        return "0".into();
    }
    let plain = format!("{value}");
    match plain.len() <= 38 {
        true => plain,
        false => format!("{value:e}"),
    }
}

/// A key made of `pk` (and `sk`).
pub(super) fn key(pk: String, sk: Option<String>) -> Item {
    let mut item = Item::new();
    item.insert("pk".into(), s(pk));
    if let Some(sk) = sk {
        item.insert("sk".into(), s(sk));
    }
    item
}

/// A required string attribute.
pub(super) fn text<'a>(item: &'a Item, name: &str) -> Result<&'a str, StoreError> {
    match item.get(name) {
        Some(AttributeValue::S(t)) => Ok(t),
        _ => Err(StoreError::Corrupt(format!(
            "attribute {name} is not a string"
        ))),
    }
}

/// A count; a missing attribute reads as 0 (items only grow attributes).
pub(super) fn count(item: &Item, name: &str) -> Result<u64, StoreError> {
    match item.get(name) {
        None => Ok(0),
        Some(AttributeValue::N(t)) => parse_count(t)
            .ok_or_else(|| StoreError::Corrupt(format!("attribute {name} is not a count: {t}"))),
        Some(_) => Err(StoreError::Corrupt(format!(
            "attribute {name} is not a number"
        ))),
    }
}

/// A real number; a missing attribute reads as 0.
pub(super) fn real(item: &Item, name: &str) -> Result<f64, StoreError> {
    match item.get(name) {
        None => Ok(0.0),
        Some(AttributeValue::N(t)) => t
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("attribute {name} is not a number: {t}"))),
        Some(_) => Err(StoreError::Corrupt(format!(
            "attribute {name} is not a number"
        ))),
    }
}

/// DynamoDB may answer a whole number in exponent form.
fn parse_count(text: &str) -> Option<u64> {
    text.parse::<u64>().ok().or_else(|| {
        let x: f64 = text.parse().ok()?;
        (x >= 0.0 && x.fract() == 0.0 && x < u64::MAX as f64).then_some(x as u64)
    })
}

/// A name or value inside a composite key: `#` separates parts, so it and
/// the escape character are percent-encoded.
pub(super) fn escape(part: &str) -> String {
    part.replace('%', "%25").replace('#', "%23")
}

/// Placeholders of one expression. DynamoDB refuses unused placeholders,
/// so each attribute name gets exactly one, reused wherever it appears.
#[derive(Debug, Default)]
pub(super) struct Placeholders {
    pub names: HashMap<String, String>,
    pub values: HashMap<String, AttributeValue>,
    by_name: HashMap<String, String>,
}

impl Placeholders {
    /// `#aN` for an attribute name.
    pub fn name(&mut self, attribute: &str) -> String {
        if let Some(p) = self.by_name.get(attribute) {
            return p.clone();
        }
        let placeholder = format!("#a{}", self.by_name.len());
        self.by_name
            .insert(attribute.to_string(), placeholder.clone());
        self.names
            .insert(placeholder.clone(), attribute.to_string());
        placeholder
    }

    /// `:vN` for a value.
    pub fn value(&mut self, value: AttributeValue) -> String {
        let placeholder = format!(":v{}", self.values.len());
        self.values.insert(placeholder.clone(), value);
        placeholder
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_back_exactly() {
        for x in [0.1, 2.5, -3.0, 1e-99, 123456789.125, 1e30, 1.5e120] {
            let text = number(x);
            assert!(text.len() <= 40, "{text}");
            assert_eq!(text.parse::<f64>().ok(), Some(x));
        }
        assert_eq!(number(-0.0), "0");
        assert_eq!(number(1e-300), "0");
        assert_eq!(parse_count("1.2E+3"), Some(1200));
    }

    #[test]
    fn escaped_parts_do_not_collide() {
        assert_ne!(
            format!("{}#{}", escape("a#b"), escape("c")),
            format!("{}#{}", escape("a"), escape("b#c"))
        );
    }
}
