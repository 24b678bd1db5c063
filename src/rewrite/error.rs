//! Errors of the rewriter and of loading model limits.

use std::path::PathBuf;

/// Why a body could not be rewritten. The caller decides whether to forward
/// the original body (fail open) or refuse the request (fail closed).
#[derive(Debug, thiserror::Error)]
pub enum RewriteError {
    /// The body is empty, not UTF-8 or not JSON.
    #[error("request body is not JSON: {0}")]
    NotJson(#[source] serde_json::Error),
    /// The body is JSON but its top level is not an object.
    #[error("request body is JSON but not an object")]
    NotObject,
    /// The model id names no family the rewriter knows (InvokeModel only:
    /// a Converse body has one schema for every model).
    #[error("no rewrite rules for model id {model_id:?}")]
    UnknownFamily {
        /// The model id as given.
        model_id: String,
    },
    /// The body does not have the shape the target schema allows, so
    /// rewriting it would mean guessing.
    #[error("{schema} body not rewritable: {detail}")]
    Shape {
        /// The schema the body was read against, e.g. `claude messages`.
        schema: &'static str,
        /// What is wrong with it.
        detail: String,
    },
}

impl RewriteError {
    /// A metric label value.
    pub fn kind(&self) -> &'static str {
        match self {
            RewriteError::NotJson(_) => "not_json",
            RewriteError::NotObject => "not_object",
            RewriteError::UnknownFamily { .. } => "unknown_family",
            RewriteError::Shape { .. } => "shape",
        }
    }

    pub(crate) fn shape(schema: &'static str, detail: impl Into<String>) -> Self {
        RewriteError::Shape {
            schema,
            detail: detail.into(),
        }
    }
}

/// Why a model-limits file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum LimitsError {
    /// The file could not be read.
    #[error("cannot read model limits {path}: {source}")]
    Read {
        /// The file asked for.
        path: PathBuf,
        /// Why it could not be read.
        #[source]
        source: std::io::Error,
    },
    /// The text is not TOML, or not in the layout of `model_limits.toml`.
    #[error("model limits are not valid TOML for the expected layout: {0}")]
    Toml(#[from] toml::de::Error),
    /// An entry breaks a rule of the layout (no source, unknown name,
    /// inverted range).
    #[error("model limits entry {entry:?}: {problem}")]
    Invalid {
        /// The entry: a family name, a model prefix or a feature name.
        entry: String,
        /// What is wrong with it.
        problem: String,
    },
}
