//! The tuning state the request path reads: profiles, model limits and the
//! policies for requests the sidecar cannot tune, published as one
//! immutable snapshot.
//!
//! A reload (file edit, store refresh) builds a whole new [`Tuning`] and
//! swaps it in at once, so a request sees the old state or the new one,
//! never a mix; a request holds its snapshot for its whole life.

use std::sync::Arc;

use arc_swap::ArcSwap;

use std::collections::BTreeMap;

use crate::classify::{Classifier, ModelCall};
use crate::config::{ConfigError, TuningSettings};
use crate::experiment::ExperimentSet;
use crate::fewshot::FewShotLibrary;
use crate::prompts::PromptLibrary;
use crate::score::QualityChecks;

mod libraries;
pub mod reload;
pub mod sources;
use crate::profile::{ProfileSet, ProfileSource, RawProfile, builtin};
use crate::rewrite::ModelLimits;

/// What to do with a request whose intent matches no profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnknownIntent {
    /// Apply the conservative sampling parameters (the default).
    Conservative,
    /// Forward the body untouched.
    PassThrough,
}

/// What to do with a body the rewriter cannot handle (not JSON, an
/// unknown model family).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unparseable {
    /// Forward it unchanged and count it (fail open, the default).
    Forward,
    /// Answer 400 with the reason (fail closed).
    Reject,
}

/// Policies for requests outside the happy path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TuningPolicy {
    pub unknown_intent: UnknownIntent,
    pub unparseable: Unparseable,
    /// Derive a session key from the conversation when the header is
    /// missing, so experiments work for apps that send none.
    pub derive_session: bool,
}

impl Default for TuningPolicy {
    fn default() -> Self {
        Self {
            unknown_intent: UnknownIntent::Conservative,
            unparseable: Unparseable::Forward,
            derive_session: true,
        }
    }
}

/// One consistent view of everything that tunes a request.
#[derive(Clone)]
pub struct Tuning {
    pub profiles: ProfileSet,
    pub limits: Arc<ModelLimits>,
    pub policy: TuningPolicy,
    pub experiments: ExperimentSet,
    pub prompts: Arc<PromptLibrary>,
    pub few_shots: Arc<FewShotLibrary>,
    /// `None` when classification is off.
    pub classifier: Option<Arc<Classifier>>,
    pub quality: Arc<QualityChecks>,
}

impl std::fmt::Debug for Tuning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tuning")
            .field("profiles", &self.profiles)
            .field("policy", &self.policy)
            .field("experiments", &self.experiments)
            .field("classifier", &self.classifier.is_some())
            .finish_non_exhaustive()
    }
}

impl Tuning {
    /// The built-in profiles, libraries and model limits with default
    /// policies.
    pub fn builtin() -> Result<Self, String> {
        Self::from_settings(&TuningSettings::default(), None).map_err(|errors| {
            let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
            lines.join("; ")
        })
    }

    /// Everything the configuration says about tuning, layered over the
    /// built-in defaults and checked; every problem comes back at once.
    /// `model_call` reaches the classification model when the classifier
    /// runs in `model` mode.
    pub fn from_settings(
        settings: &TuningSettings,
        model_call: Option<ModelCall>,
    ) -> Result<Self, Vec<ConfigError>> {
        let builtin: BTreeMap<String, RawProfile> = builtin::profiles().into_iter().collect();
        let layers = [
            (ProfileSource::Builtin, &builtin),
            (ProfileSource::File, &settings.profiles),
            (ProfileSource::Store, &settings.store_profiles),
        ];
        let profiles = ProfileSet::resolve(&layers)?;
        let limits = match &settings.model_limits_file {
            Some(path) => ModelLimits::from_path(path),
            None => ModelLimits::builtin(),
        }
        .map_err(|e| vec![ConfigError::new("tuning.model_limits_file", e.to_string())])?;
        let (prompts, few_shots) = libraries::load(settings, &profiles)?;
        let classifier = libraries::classifier(settings, model_call)?;
        let experiments = ExperimentSet::resolve(&experiments(settings), &profiles)?;
        let quality = QualityChecks::with_overrides(&settings.quality).map_err(|errors| {
            errors
                .into_iter()
                .map(|e| ConfigError::new(e.key, e.message))
                .collect::<Vec<_>>()
        })?;
        Ok(Self {
            profiles,
            limits: Arc::new(limits),
            policy: settings.policy,
            experiments,
            prompts: Arc::new(prompts),
            few_shots: Arc::new(few_shots),
            classifier: classifier.map(Arc::new),
            quality: Arc::new(quality),
        })
    }
}

/// The file's experiments with the store's laid over them by id.
fn experiments(settings: &TuningSettings) -> Vec<crate::experiment::RawExperiment> {
    let from_store: std::collections::BTreeSet<&str> = settings
        .store_experiments
        .iter()
        .map(|e| e.id.as_str())
        .collect();
    let file = settings
        .experiments
        .iter()
        .filter(|e| !from_store.contains(e.id.as_str()));
    file.chain(&settings.store_experiments).cloned().collect()
}

/// The published snapshot, swapped whole on reload.
pub type SharedTuning = Arc<ArcSwap<Tuning>>;
