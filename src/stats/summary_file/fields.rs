//! Reads a JSON object field by field while tracking the key path, so that
//! every error names the exact place in the file (`variants.B.metrics.
//! quality.sum_sq`) and keys the format does not know are refused.

use serde_json::{Map, Value};

use crate::stats::summary_file::SummaryFileError;

/// The fields of one JSON object, with the path that leads to it.
pub struct Fields<'a> {
    path: String,
    map: &'a Map<String, Value>,
    allowed: &'static [&'static str],
}

impl<'a> Fields<'a> {
    /// Opens `value` as an object whose keys must all be in `allowed`.
    pub fn open(
        value: &'a Value,
        path: &str,
        allowed: &'static [&'static str],
    ) -> Result<Self, SummaryFileError> {
        let map = value
            .as_object()
            .ok_or_else(|| error(path, format!("expected an object, found {}", kind(value))))?;
        if let Some(unknown) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
            let message = format!("unknown field; expected one of: {}", allowed.join(", "));
            return Err(error(&join(path, unknown), message));
        }
        Ok(Self {
            path: path.to_string(),
            map,
            allowed,
        })
    }

    /// The path of a key of this object.
    pub fn path_of(&self, key: &str) -> String {
        join(&self.path, key)
    }

    pub fn has(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    /// The value under `key`, which must be present.
    pub fn required(&self, key: &'static str) -> Result<&'a Value, SummaryFileError> {
        debug_assert!(self.allowed.contains(&key));
        self.map
            .get(key)
            .ok_or_else(|| error(&self.path_of(key), "missing required field".to_string()))
    }

    pub fn optional(&self, key: &'static str) -> Option<&'a Value> {
        self.map.get(key)
    }

    pub fn number(&self, key: &'static str) -> Result<f64, SummaryFileError> {
        number(self.required(key)?, &self.path_of(key))
    }

    pub fn count(&self, key: &'static str) -> Result<u64, SummaryFileError> {
        count(self.required(key)?, &self.path_of(key))
    }

    pub fn text(&self, key: &'static str) -> Result<String, SummaryFileError> {
        let value = self.required(key)?;
        value.as_str().map(str::to_string).ok_or_else(|| {
            error(
                &self.path_of(key),
                format!("expected a string, found {}", kind(value)),
            )
        })
    }

    pub fn optional_number(&self, key: &'static str) -> Result<Option<f64>, SummaryFileError> {
        self.optional(key)
            .map(|v| number(v, &self.path_of(key)))
            .transpose()
    }

    pub fn optional_count(&self, key: &'static str) -> Result<Option<u64>, SummaryFileError> {
        self.optional(key)
            .map(|v| count(v, &self.path_of(key)))
            .transpose()
    }

    pub fn optional_flag(&self, key: &'static str) -> Result<Option<bool>, SummaryFileError> {
        self.optional(key)
            .map(|v| {
                v.as_bool().ok_or_else(|| {
                    error(
                        &self.path_of(key),
                        format!("expected true or false, found {}", kind(v)),
                    )
                })
            })
            .transpose()
    }

    pub fn optional_text(&self, key: &'static str) -> Result<Option<String>, SummaryFileError> {
        self.optional(key).map(|_| self.text(key)).transpose()
    }
}

/// A finite JSON number.
pub fn number(value: &Value, path: &str) -> Result<f64, SummaryFileError> {
    value
        .as_f64()
        .filter(|x| x.is_finite())
        .ok_or_else(|| error(path, format!("expected a number, found {}", kind(value))))
}

/// A non-negative whole JSON number.
pub fn count(value: &Value, path: &str) -> Result<u64, SummaryFileError> {
    value.as_u64().ok_or_else(|| {
        error(
            path,
            format!(
                "expected a whole number of at least 0, found {}",
                describe(value)
            ),
        )
    })
}

/// An object whose keys are free (variant or metric names), as pairs.
pub fn entries<'a>(
    value: &'a Value,
    path: &str,
) -> Result<Vec<(&'a String, &'a Value)>, SummaryFileError> {
    let map = value
        .as_object()
        .ok_or_else(|| error(path, format!("expected an object, found {}", kind(value))))?;
    Ok(map.iter().collect())
}

pub fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

pub fn error(path: &str, message: String) -> SummaryFileError {
    let path = if path.is_empty() { "(top level)" } else { path };
    SummaryFileError::Field {
        path: path.to_string(),
        message,
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn describe(value: &Value) -> String {
    match value {
        Value::Number(n) => n.to_string(),
        other => kind(other).to_string(),
    }
}
