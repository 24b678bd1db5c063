//! A profile as written in `sidecar.toml` or stored: every field optional,
//! so that layers (built-in, file, store) can be merged field by field.

use serde::{Deserialize, Serialize};

/// One layer of one intent's profile.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProfile {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_k: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_sequences: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system_prompt_key: Option<String>,
    /// `prepend` (default), `replace`, `append` or `keep`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_mode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub few_shot_count: Option<u32>,
    /// `aligned`, `edge_cases`, `diverse` or `with_negatives`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub few_shot_strategy: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quality_score_target: Option<f64>,
    /// When true, a parameter the app set itself stands.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_values_win: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
}
