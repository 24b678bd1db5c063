//! The built-in profiles: the reference manga store assistant's six
//! intents, tuned from conservative (order status must never invent a
//! date) to creative (recommendations should surprise).

use super::raw::RawProfile;

/// Version label of the built-in profiles.
pub const BUILTIN_VERSION: &str = "default-v1";

/// The stop sequences every built-in profile uses: a model should never
/// write the user's next turn.
pub fn default_stops() -> Vec<String> {
    vec!["\n\nUser:".into(), "\n\nHuman:".into()]
}

/// `"\n\n---"` marks the end of a managed section; a profile may add it as
/// a safety boundary.
pub const SAFETY_STOP: &str = "\n\n---";

struct Row {
    intent: &'static str,
    temperature: f64,
    top_k: u32,
    top_p: f64,
    max_tokens: u32,
    frequency_penalty: f64,
    prompt: &'static str,
    few_shots: u32,
    quality: f64,
}

const ROWS: [Row; 6] = [
    row(
        "order_status",
        0.15,
        40,
        0.70,
        256,
        0.0,
        "order_status_v3",
        2,
        0.95,
    ),
    row(
        "shipping_info",
        0.20,
        40,
        0.80,
        384,
        0.0,
        "shipping_info_v2",
        2,
        0.93,
    ),
    row(
        "product_search",
        0.45,
        100,
        0.90,
        512,
        0.1,
        "product_search_v4",
        3,
        0.88,
    ),
    row(
        "manga_qa",
        0.50,
        100,
        0.90,
        768,
        0.1,
        "manga_qa_v3",
        2,
        0.85,
    ),
    row(
        "recommendation",
        0.80,
        250,
        0.95,
        1024,
        0.3,
        "recommendation_v5",
        3,
        0.80,
    ),
    row(
        "chitchat",
        0.75,
        200,
        0.95,
        128,
        0.2,
        "chitchat_v2",
        1,
        0.78,
    ),
];

#[allow(clippy::too_many_arguments)]
const fn row(
    intent: &'static str,
    temperature: f64,
    top_k: u32,
    top_p: f64,
    max_tokens: u32,
    frequency_penalty: f64,
    prompt: &'static str,
    few_shots: u32,
    quality: f64,
) -> Row {
    Row {
        intent,
        temperature,
        top_k,
        top_p,
        max_tokens,
        frequency_penalty,
        prompt,
        few_shots,
        quality,
    }
}

/// The built-in profile of every reference intent.
pub fn profiles() -> Vec<(String, RawProfile)> {
    ROWS.iter()
        .map(|r| (r.intent.to_string(), to_raw(r)))
        .collect()
}

/// The intent whose sampling parameters a request with an unknown intent
/// gets: it is safer to be boring than to hallucinate.
pub const CONSERVATIVE_INTENT: &str = "order_status";

fn to_raw(r: &Row) -> RawProfile {
    RawProfile {
        temperature: Some(r.temperature),
        top_k: Some(r.top_k),
        top_p: Some(r.top_p),
        max_tokens: Some(r.max_tokens),
        stop_sequences: Some(default_stops()),
        frequency_penalty: Some(r.frequency_penalty),
        system_prompt_key: Some(r.prompt.into()),
        prompt_mode: Some("prepend".into()),
        few_shot_count: Some(r.few_shots),
        few_shot_strategy: Some("aligned".into()),
        quality_score_target: Some(r.quality),
        app_values_win: Some(false),
        version: Some(BUILTIN_VERSION.into()),
        updated_at: None,
    }
}
