//! The two places tuning state comes from at run time, the configuration
//! file and the store, merged into one snapshot whenever either changes.
//!
//! Each source replaces only its own layer; the snapshot is rebuilt from
//! both and validated whole, so a bad edit in either is rejected while the
//! last good snapshot keeps serving.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use super::{SharedTuning, Tuning};
use crate::classify::ModelCall;
use crate::config::TuningSettings;
use crate::experiment::RawExperiment;
use crate::profile::RawProfile;
use crate::record::Metrics;
use crate::store::refresh::Snapshot;

/// The layers behind the published snapshot.
pub struct TuningSources {
    layers: Mutex<TuningSettings>,
    model_call: Option<ModelCall>,
    shared: SharedTuning,
    metrics: Arc<Metrics>,
}

impl TuningSources {
    pub fn new(
        initial: TuningSettings,
        model_call: Option<ModelCall>,
        shared: SharedTuning,
        metrics: Arc<Metrics>,
    ) -> Arc<Self> {
        Arc::new(Self {
            layers: Mutex::new(initial),
            model_call,
            shared,
            metrics,
        })
    }

    /// A new file layer (a reload); the store's layer is kept.
    pub fn set_file(&self, mut file: TuningSettings) -> &'static str {
        self.update("file", |layers| {
            file.store_profiles = std::mem::take(&mut layers.store_profiles);
            file.store_experiments = std::mem::take(&mut layers.store_experiments);
            file
        })
    }

    /// A new store layer (a refresh); documents that do not parse are
    /// reported and make the whole refresh wait for a fix.
    pub fn set_store(&self, snapshot: &Snapshot) -> &'static str {
        let profiles: Result<BTreeMap<String, RawProfile>, String> = snapshot
            .profiles
            .iter()
            .map(|d| parse(&d.body, &d.id).map(|p| (d.id.clone(), p)))
            .collect();
        let experiments: Result<Vec<RawExperiment>, String> = snapshot
            .experiments
            .iter()
            .map(|d| parse(&d.body, &d.id))
            .collect();
        let (Ok(profiles), Ok(experiments)) = (profiles, experiments) else {
            tracing::warn!("store_documents_unreadable");
            self.metrics
                .config_reloads
                .with_label_values(&["rejected"])
                .inc();
            return "rejected";
        };
        self.update("store", |layers| TuningSettings {
            store_profiles: profiles,
            store_experiments: experiments,
            ..layers.clone()
        })
    }

    /// Counts a reload refused before it reached the layers (a file that
    /// does not parse).
    pub fn count_rejected(&self) {
        self.metrics
            .config_reloads
            .with_label_values(&["rejected"])
            .inc();
    }

    fn update(
        &self,
        source: &str,
        next: impl FnOnce(&mut TuningSettings) -> TuningSettings,
    ) -> &'static str {
        let Ok(mut layers) = self.layers.lock() else {
            return "rejected";
        };
        let mut current = layers.clone();
        let candidate = next(&mut current);
        let outcome = match Tuning::from_settings(&candidate, self.model_call.clone()) {
            Ok(tuning) => {
                self.shared.store(Arc::new(tuning));
                *layers = candidate;
                tracing::info!(source, "tuning_reloaded");
                "applied"
            }
            Err(errors) => {
                let errors: Vec<String> = errors.iter().map(ToString::to_string).collect();
                tracing::warn!(source, errors = %errors.join("; "), "tuning_reload_rejected");
                "rejected"
            }
        };
        self.metrics
            .config_reloads
            .with_label_values(&[outcome])
            .inc();
        outcome
    }
}

fn parse<T: serde::de::DeserializeOwned>(body: &serde_json::Value, id: &str) -> Result<T, String> {
    serde_json::from_value(body.clone()).map_err(|e| {
        tracing::warn!(id, error = %e, "store_document_invalid");
        e.to_string()
    })
}
