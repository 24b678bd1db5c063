//! Experiments as written in `sidecar.toml` (`[[experiments]]`) or stored.

use serde::{Deserialize, Serialize};

use crate::profile::RawProfile;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExperiment {
    pub id: String,
    pub intent: String,
    #[serde(default)]
    pub description: String,
    /// `draft`, `running`, `paused` or `completed`.
    #[serde(default = "draft")]
    pub status: String,
    /// The name of the variant that is the control.
    pub control: String,
    pub variants: Vec<RawVariant>,
    /// Share of sessions in the experiment at all, in [0, 1]; the staged
    /// rollout raises it 0.05 → 0.2 → 0.5 → 1.
    #[serde(default = "full")]
    pub coverage: f64,
    #[serde(default = "quality")]
    pub primary_metric: String,
    #[serde(default)]
    pub guardrails: Vec<String>,
    #[serde(default = "min_sample")]
    pub min_sample_per_variant: u64,
    #[serde(default = "confidence")]
    pub confidence: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
    /// The promoted variant of a completed experiment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub winner: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawVariant {
    pub name: String,
    pub weight: f64,
    /// Any part of the profile: parameters, prompt key and mode, few-shot
    /// count and strategy.
    #[serde(default)]
    pub overrides: RawProfile,
    /// Send this variant's calls to another model (Sonnet against Haiku).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_id: Option<String>,
}

fn draft() -> String {
    "draft".into()
}
fn full() -> f64 {
    1.0
}
fn quality() -> String {
    "quality".into()
}
fn min_sample() -> u64 {
    1000
}
fn confidence() -> f64 {
    0.95
}
