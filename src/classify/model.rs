//! The model classifier: a small model asked to name the intent.
//!
//! The Bedrock call itself is injected ([`ModelCall`]) so this module does
//! not depend on the proxy, and tests can stand in for the model.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::cache::IntentCache;
use super::rules::IntentInfo;
use super::{Classification, ClassifierSource};

/// Sends a prompt to the classification model and returns its text answer,
/// or a description of the failure.
pub type ModelCall = Arc<
    dyn Fn(String) -> Pin<Box<dyn Future<Output = Result<String, String>> + Send>> + Send + Sync,
>;

/// Longest answer considered: an intent name is short, anything longer is
/// the model explaining itself rather than answering.
const MAX_ANSWER_CHARS: usize = 64;

/// How the model classifier behaves.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelSettings {
    /// How long to wait for the model before falling back to the rules.
    pub timeout: Duration,
    /// Most answers cached (0 disables the cache).
    pub cache_capacity: usize,
    /// How long a cached answer is used.
    pub cache_ttl: Duration,
    /// When the rules score at least this, their answer is used without
    /// asking the model (saves the call on obvious messages); `None` always
    /// asks.
    pub rules_confident_score: Option<f64>,
}

impl Default for ModelSettings {
    fn default() -> Self {
        Self {
            timeout: Duration::from_millis(300),
            cache_capacity: 10_000,
            cache_ttl: Duration::from_secs(3600),
            rules_confident_score: None,
        }
    }
}

/// Why the model gave no usable intent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// The model did not answer within the budget.
    #[error("model classifier timed out after {0:?}")]
    Timeout(Duration),
    /// The call failed.
    #[error("model classifier call failed: {0}")]
    Call(String),
    /// The answer named no known intent.
    #[error("model classifier answered {0:?}, not a known intent")]
    Unrecognised(String),
}

/// Asks a model to pick one of the known intents.
pub struct ModelClassifier {
    call: ModelCall,
    intents: Vec<IntentInfo>,
    settings: ModelSettings,
    cache: Mutex<IntentCache>,
}

impl ModelClassifier {
    /// A classifier choosing among `intents` (typically
    /// `RuleSet::intents()`), calling the model through `call`.
    pub fn new(call: ModelCall, intents: Vec<IntentInfo>, settings: ModelSettings) -> Self {
        let cache = Mutex::new(IntentCache::new(
            settings.cache_capacity,
            settings.cache_ttl,
        ));
        Self {
            call,
            intents,
            settings,
            cache,
        }
    }

    /// The settings in use.
    pub fn settings(&self) -> &ModelSettings {
        &self.settings
    }

    /// The intent for `text`: from the cache, else from the model within
    /// the time budget. Only recognised answers are cached.
    pub async fn classify_text(&self, text: &str) -> Result<Classification, ModelError> {
        let key: [u8; 32] = Sha256::digest(text.as_bytes()).into();
        if let Some(intent) = self.lock_cache().get(&key, Instant::now()) {
            return Ok(found(intent, ClassifierSource::Cache));
        }
        let call = (self.call)(self.prompt(text));
        let answer = match tokio::time::timeout(self.settings.timeout, call).await {
            Err(_) => return Err(ModelError::Timeout(self.settings.timeout)),
            Ok(Err(message)) => return Err(ModelError::Call(message)),
            Ok(Ok(answer)) => answer,
        };
        let intent = self
            .parse_answer(&answer)
            .ok_or_else(|| {
                ModelError::Unrecognised(answer.chars().take(MAX_ANSWER_CHARS).collect())
            })?
            .to_string();
        self.lock_cache()
            .insert(key, intent.clone(), Instant::now());
        Ok(found(intent, ClassifierSource::Model))
    }

    /// The classification prompt for `text`.
    pub fn prompt(&self, text: &str) -> String {
        let mut prompt = String::from(
            "You sort customer messages for an online store's chat assistant into intents.\n\nIntents:\n",
        );
        for intent in &self.intents {
            if intent.description.is_empty() {
                prompt.push_str(&format!("- {}\n", intent.name));
            } else {
                prompt.push_str(&format!("- {}: {}\n", intent.name, intent.description));
            }
        }
        // The message is data, not instructions: keep it from closing its
        // own tag and addressing the classifier directly.
        let message = text.replace("</message>", "< /message>");
        prompt.push_str(&format!(
            "\nThe customer's message:\n<message>\n{message}\n</message>\n\n\
             Answer with the intent name only, exactly as written in the list, \
             or none if no intent fits."
        ));
        prompt
    }

    /// The intent named by `answer`, strictly: after trimming whitespace, a
    /// trailing full stop and one pair of quotes or backticks, the answer
    /// must be exactly one known intent name. Anything else (`none`
    /// included) is `None`.
    pub fn parse_answer(&self, answer: &str) -> Option<&str> {
        if answer.chars().count() > MAX_ANSWER_CHARS {
            return None;
        }
        let mut s = answer.trim();
        s = s.strip_suffix('.').unwrap_or(s).trim();
        for quote in ['"', '\'', '`'] {
            if let Some(inner) = s.strip_prefix(quote).and_then(|r| r.strip_suffix(quote)) {
                s = inner.trim();
                break;
            }
        }
        self.intents
            .iter()
            .find(|i| i.name == s)
            .map(|i| i.name.as_str())
    }

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, IntentCache> {
        // A cache is only an optimisation: after a panic elsewhere while
        // the lock was held, its worst state is a stale recency entry, so
        // a poisoned lock is still fine to use.
        self.cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn found(intent: String, source: ClassifierSource) -> Classification {
    Classification {
        intent,
        source,
        rule: None,
        score: 1.0,
    }
}
