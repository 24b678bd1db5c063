//! What the caller asks the rewriter to do: the resolved profile for one
//! request, independent of any model family's spelling.

use std::fmt;

/// The Bedrock Runtime operation whose body is being rewritten.
///
/// Streaming operations share the body shape of their plain counterpart, so
/// `InvokeModelWithResponseStream` maps to [`Api::InvokeModel`] and
/// `ConverseStream` to [`Api::Converse`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Api {
    /// `InvokeModel` and `InvokeModelWithResponseStream`: a model-native body.
    InvokeModel,
    /// `Converse` and `ConverseStream`: the model-independent Converse body.
    Converse,
}

impl Api {
    /// A short lowercase name, stable enough for logs and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Api::InvokeModel => "invoke_model",
            Api::Converse => "converse",
        }
    }
}

impl fmt::Display for Api {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Inference parameters a profile wants on the request. `None` leaves the
/// parameter as the application sent it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InferenceParams {
    /// Sampling temperature.
    pub temperature: Option<f64>,
    /// Sample only from the `top_k` most likely tokens.
    pub top_k: Option<u32>,
    /// Nucleus sampling mass.
    pub top_p: Option<f64>,
    /// Upper bound on generated tokens.
    pub max_tokens: Option<u32>,
    /// Sequences that end generation.
    pub stop_sequences: Option<Vec<String>>,
    /// Penalty on tokens by how often they already appeared (Cohere only).
    pub frequency_penalty: Option<f64>,
}

/// How the managed system prompt combines with one the application sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PromptMode {
    /// Managed prompt first, the application's own system prompt after it.
    #[default]
    Prepend,
    /// The managed prompt replaces the application's system text.
    Replace,
    /// The application's system prompt first, the managed prompt after it.
    Append,
    /// The application's system prompt stands; the managed prompt is used
    /// only when the application sent none.
    Keep,
}

impl PromptMode {
    /// A short lowercase name for reports.
    pub fn as_str(self) -> &'static str {
        match self {
            PromptMode::Prepend => "prepend",
            PromptMode::Replace => "replace",
            PromptMode::Append => "append",
            PromptMode::Keep => "keep",
        }
    }
}

/// One example exchange shown to the model before the real conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FewShot {
    /// What the user says in the example.
    pub user: String,
    /// What the assistant answers in the example.
    pub assistant: String,
}

/// Everything the rewriter should apply to one request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RewritePlan {
    /// Parameters the profile sets.
    pub params: InferenceParams,
    /// The managed system prompt, if the profile has one.
    pub system_prompt: Option<String>,
    /// How the managed system prompt meets the application's own.
    pub prompt_mode: PromptMode,
    /// Example exchanges placed before the application's conversation.
    pub few_shots: Vec<FewShot>,
    /// When true, a parameter the application already set is left alone
    /// (reported as kept); by default the profile's value replaces it.
    pub app_values_win: bool,
}
