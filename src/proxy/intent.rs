//! The intent stage: the intent header wins when it names a known profile;
//! without one, the classifier decides from the conversation; an unknown
//! or unclassifiable intent gets the conservative profile, or none when
//! the operator chose to pass such requests through.

use std::sync::OnceLock;

use bytes::Bytes;
use serde_json::Value;

use crate::classify::ClassifierSource;
use crate::profile::Profile;
use crate::tuning::{Tuning, UnknownIntent};

/// How a request's intent was decided, for metrics and headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntentSource {
    /// The app named a known intent in the intent header.
    Header,
    /// The app named an intent no profile exists for.
    UnknownHeader,
    /// The classifier found it.
    Classified(ClassifierSource),
    /// No intent header, and none could be classified.
    Unclassified,
}

impl IntentSource {
    pub fn label(self) -> &'static str {
        match self {
            IntentSource::Header => "header",
            IntentSource::UnknownHeader => "unknown_header",
            IntentSource::Classified(ClassifierSource::Rules) => "rules",
            IntentSource::Classified(ClassifierSource::Model) => "model",
            IntentSource::Classified(ClassifierSource::Cache) => "cache",
            IntentSource::Unclassified => "unclassified",
        }
    }
}

/// The request body, parsed as JSON at most once and only when a stage
/// needs it (classification, session derivation).
pub struct BodyView<'a> {
    pub bytes: &'a Bytes,
    json: OnceLock<Option<Value>>,
}

impl<'a> BodyView<'a> {
    pub fn new(bytes: &'a Bytes) -> Self {
        Self {
            bytes,
            json: OnceLock::new(),
        }
    }

    pub fn json(&self) -> Option<&Value> {
        self.json
            .get_or_init(|| serde_json::from_slice(self.bytes).ok())
            .as_ref()
    }
}

/// The profile for a request, and how its intent was decided.
pub async fn resolve<'t>(
    header: Option<&str>,
    body: &BodyView<'_>,
    tuning: &'t Tuning,
) -> (IntentSource, Option<&'t Profile>) {
    let source = match header {
        Some(name) => match tuning.profiles.get(name) {
            Some(profile) => return (IntentSource::Header, Some(profile)),
            None => IntentSource::UnknownHeader,
        },
        None => match classify(body, tuning).await {
            Some((source, profile)) => return (source, Some(profile)),
            None => IntentSource::Unclassified,
        },
    };
    (source, fallback(tuning))
}

/// The decision for a request whose intent is already known (or absent),
/// without classification: for dry runs.
pub fn resolve_named<'t>(
    header: Option<&str>,
    tuning: &'t Tuning,
) -> (IntentSource, Option<&'t Profile>) {
    match header.and_then(|name| tuning.profiles.get(name)) {
        Some(profile) => (IntentSource::Header, Some(profile)),
        None if header.is_some() => (IntentSource::UnknownHeader, fallback(tuning)),
        None => (IntentSource::Unclassified, fallback(tuning)),
    }
}

async fn classify<'t>(
    body: &BodyView<'_>,
    tuning: &'t Tuning,
) -> Option<(IntentSource, &'t Profile)> {
    let classifier = tuning.classifier.as_ref()?;
    let found = classifier.classify(body.json()?).await?;
    let profile = tuning.profiles.get(&found.intent)?;
    Some((IntentSource::Classified(found.source), profile))
}

fn fallback(tuning: &Tuning) -> Option<&Profile> {
    match tuning.policy.unknown_intent {
        UnknownIntent::Conservative => Some(tuning.profiles.conservative().as_ref()),
        UnknownIntent::PassThrough => None,
    }
}
