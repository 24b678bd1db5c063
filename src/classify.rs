//! Intent classification for requests that arrive without an `x-intent`
//! header.
//!
//! The last user message is pulled out of whatever body shape the model
//! family uses ([`last_user_message`]), then classified:
//! - by keyword and pattern rules ([`RuleSet`], data in
//!   `data/intent_rules.toml`): fast, deterministic, always available;
//! - optionally by a small model ([`ModelClassifier`]) asked to name one of
//!   the known intents within a latency budget, its answers cached, with the
//!   rules as the fallback whenever it is slow, failing or unclear.
//!
//! A request nothing recognises gets no intent (`None`): the proxy then
//! applies its default profile rather than a guessed one.

use std::fmt;

use serde::Serialize;

mod cache;
mod extract;
mod model;
mod pattern;
mod rules;
mod text;

pub use extract::{MAX_MESSAGE_BYTES, last_user_message};
pub use model::{ModelCall, ModelClassifier, ModelError, ModelSettings};
pub use pattern::{Pattern, PatternError};
pub use rules::{IntentInfo, RuleEntry, RuleSet};

/// Which classifier produced an intent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClassifierSource {
    /// The keyword and pattern rules.
    Rules,
    /// A fresh answer from the model classifier.
    Model,
    /// A cached answer of the model classifier.
    Cache,
}

impl ClassifierSource {
    /// A short lowercase name for logs and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            ClassifierSource::Rules => "rules",
            ClassifierSource::Model => "model",
            ClassifierSource::Cache => "cache",
        }
    }
}

impl fmt::Display for ClassifierSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The intent found for a request and how it was found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Classification {
    /// The intent's name.
    pub intent: String,
    /// The classifier that decided.
    pub source: ClassifierSource,
    /// For rules, the rule that contributed most to the winning intent.
    pub rule: Option<String>,
    /// For rules, the intent's total score; 1.0 for a model answer.
    pub score: f64,
}

/// The rules, and optionally the model classifier in front of them.
pub struct Classifier {
    rules: RuleSet,
    model: Option<ModelClassifier>,
}

impl Classifier {
    /// A classifier that uses the rules only.
    pub fn new(rules: RuleSet) -> Self {
        Self { rules, model: None }
    }

    /// Puts the model classifier in front of the rules.
    pub fn with_model(mut self, model: ModelClassifier) -> Self {
        self.model = Some(model);
        self
    }

    /// The rules in use.
    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    /// Classifies a request body (any supported model family's shape).
    ///
    /// With a model classifier, the rules answer alone when their score
    /// reaches the model settings' `rules_confident_score`; otherwise the
    /// model is asked and the rules are the fallback when it times out,
    /// fails or names no known intent.
    pub async fn classify(&self, body: &serde_json::Value) -> Option<Classification> {
        let text = last_user_message(body)?;
        let by_rules = self.rules.classify_text(&text);
        let Some(model) = &self.model else {
            return by_rules;
        };
        let confident = model.settings().rules_confident_score;
        if let (Some(c), Some(enough)) = (&by_rules, confident)
            && c.score >= enough
        {
            return by_rules;
        }
        match model.classify_text(&text).await {
            Ok(found) => Some(found),
            Err(error) => {
                tracing::debug!(%error, "model classifier fell back to rules");
                by_rules
            }
        }
    }

    /// Classifies a request body with the rules only, synchronously.
    pub fn classify_with_rules(&self, body: &serde_json::Value) -> Option<Classification> {
        last_user_message(body).and_then(|text| self.rules.classify_text(&text))
    }
}
