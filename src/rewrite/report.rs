//! What a rewrite did, for `rewrite --dry-run`, logs and metrics.
//!
//! Every enum here has a fixed set of values with an `as_str` name, so that a
//! metric can count drops by `(param, reason)` without unbounded labels;
//! free text (values, locations) lives only in the report structs.

use std::fmt;

use super::family::Family;
use super::plan::{Api, PromptMode};

/// An inference parameter the rewriter manages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Param {
    /// Sampling temperature.
    Temperature,
    /// Top-k sampling (`top_k`, Cohere `k`, Nova `topK`).
    TopK,
    /// Nucleus sampling (`top_p`, Cohere `p`, Nova `topP`).
    TopP,
    /// The output token limit, however the family names it.
    MaxTokens,
    /// Stop sequences (`stop_sequences`, `stop`, `stopSequences`).
    StopSequences,
    /// Cohere's frequency penalty.
    FrequencyPenalty,
}

impl Param {
    /// Every parameter, in the order the rewriter handles them.
    pub const ALL: [Param; 6] = [
        Param::Temperature,
        Param::TopK,
        Param::TopP,
        Param::MaxTokens,
        Param::StopSequences,
        Param::FrequencyPenalty,
    ];

    /// The family-independent name (a metric label value).
    pub fn as_str(self) -> &'static str {
        match self {
            Param::Temperature => "temperature",
            Param::TopK => "top_k",
            Param::TopP => "top_p",
            Param::MaxTokens => "max_tokens",
            Param::StopSequences => "stop_sequences",
            Param::FrequencyPenalty => "frequency_penalty",
        }
    }

    /// Parses the name used by [`Param::as_str`].
    pub fn from_name(name: &str) -> Option<Param> {
        Param::ALL.into_iter().find(|p| p.as_str() == name)
    }
}

impl fmt::Display for Param {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A parameter value as the report shows it.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamValue {
    /// A real number (temperature, top_p, penalties).
    Float(f64),
    /// A count (top_k, max tokens).
    Int(u32),
    /// A list of strings (stop sequences).
    Strings(Vec<String>),
    /// A value the application sent, as its JSON text.
    Json(String),
}

impl fmt::Display for ParamValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamValue::Float(v) => write!(f, "{v}"),
            ParamValue::Int(v) => write!(f, "{v}"),
            ParamValue::Strings(v) => write!(f, "{v:?}"),
            ParamValue::Json(v) => f.write_str(v),
        }
    }
}

/// Why a parameter was not written (or was taken out of the body).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// The model family (or the Converse API for it) has no such parameter.
    FamilyLacks,
    /// The model refuses this parameter together with another one.
    RefusedCombination,
    /// The application already set it and application values win.
    AppValueKept,
    /// A feature of the request fixes this parameter (extended thinking).
    PinnedByRequest,
    /// The profile's value cannot be sent (not a finite number).
    InvalidValue,
}

impl DropReason {
    /// Every reason, for metric pre-registration.
    pub const ALL: [DropReason; 5] = [
        DropReason::FamilyLacks,
        DropReason::RefusedCombination,
        DropReason::AppValueKept,
        DropReason::PinnedByRequest,
        DropReason::InvalidValue,
    ];

    /// A metric label value.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::FamilyLacks => "family_lacks",
            DropReason::RefusedCombination => "refused_combination",
            DropReason::AppValueKept => "app_value_kept",
            DropReason::PinnedByRequest => "pinned_by_request",
            DropReason::InvalidValue => "invalid_value",
        }
    }
}

/// Whose value a report entry is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Origin {
    /// The profile's value: it was never written.
    Profile,
    /// The application's value: it was removed from the body.
    App,
}

/// Why a value was changed before being written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClampReason {
    /// Below the documented minimum for the model.
    BelowMinimum,
    /// Above the documented maximum for the model.
    AboveMaximum,
    /// Raised so that max tokens stays above the request's thinking budget.
    ThinkingBudget,
}

impl ClampReason {
    /// A metric label value.
    pub fn as_str(self) -> &'static str {
        match self {
            ClampReason::BelowMinimum => "below_minimum",
            ClampReason::AboveMaximum => "above_maximum",
            ClampReason::ThinkingBudget => "thinking_budget",
        }
    }
}

/// A parameter written into the body.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamSet {
    /// Which parameter.
    pub param: Param,
    /// The value written, after any clamping.
    pub value: ParamValue,
    /// Dotted path of the key written, e.g. `inferenceConfig.topP`.
    pub location: &'static str,
    /// The application's value it replaced, if there was one.
    pub replaced: Option<String>,
}

/// A parameter not written, or an application value removed.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamDrop {
    /// Which parameter.
    pub param: Param,
    /// Why it was not written or was removed.
    pub reason: DropReason,
    /// Whether it was the profile's value or the application's.
    pub origin: Origin,
    /// The value dropped.
    pub value: ParamValue,
    /// Free text for people (which feature pinned it, which key held it).
    pub detail: Option<String>,
}

/// A profile value changed to fit the model's documented limits.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamClamp {
    /// Which parameter.
    pub param: Param,
    /// The profile's value.
    pub from: ParamValue,
    /// The value after clamping.
    pub to: ParamValue,
    /// Which limit moved it.
    pub reason: ClampReason,
}

/// What happened to the managed system prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SystemAction {
    /// The application had none; the managed prompt was added.
    Inserted,
    /// Placed before the application's system prompt.
    Prepended,
    /// Put in place of the application's system text.
    Replaced,
    /// Placed after the application's system prompt.
    Appended,
    /// The application's system prompt stands ([`PromptMode::Keep`]).
    AppKept,
    /// The body already carries the managed prompt where it belongs.
    AlreadyPresent,
    /// The request has no place where a system prompt can be told apart.
    NotSupported,
}

impl SystemAction {
    /// A metric label value.
    pub fn as_str(self) -> &'static str {
        match self {
            SystemAction::Inserted => "inserted",
            SystemAction::Prepended => "prepended",
            SystemAction::Replaced => "replaced",
            SystemAction::Appended => "appended",
            SystemAction::AppKept => "app_kept",
            SystemAction::AlreadyPresent => "already_present",
            SystemAction::NotSupported => "not_supported",
        }
    }

    /// The action that writes the managed prompt under `mode`.
    pub(crate) fn for_mode(mode: PromptMode, app_had_one: bool) -> SystemAction {
        match (mode, app_had_one) {
            (_, false) => SystemAction::Inserted,
            (PromptMode::Prepend, true) => SystemAction::Prepended,
            (PromptMode::Replace, true) => SystemAction::Replaced,
            (PromptMode::Append, true) => SystemAction::Appended,
            (PromptMode::Keep, true) => SystemAction::AppKept,
        }
    }
}

/// The managed system prompt's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemReport {
    /// What was done.
    pub action: SystemAction,
    /// Where it went, e.g. `system`, `preamble`, `prompt`, `messages[0]`.
    pub location: &'static str,
}

/// Why few-shot examples were not injected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FewShotSkip {
    /// The body already starts with these examples.
    AlreadyPresent,
    /// The conversation does not open with a user turn, so examples ending
    /// on an assistant turn would break the required alternation.
    FirstTurnNotUser,
}

impl FewShotSkip {
    /// A metric label value.
    pub fn as_str(self) -> &'static str {
        match self {
            FewShotSkip::AlreadyPresent => "already_present",
            FewShotSkip::FirstTurnNotUser => "first_turn_not_user",
        }
    }
}

/// The few-shot examples' outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FewShotReport {
    /// How many examples (user/assistant pairs) were written.
    pub injected: usize,
    /// Where they went, e.g. `messages`, `chat_history`, `prompt`.
    pub location: &'static str,
    /// Why none were written, if none were.
    pub skipped: Option<FewShotSkip>,
}

/// The full account of one rewrite.
#[derive(Debug, Clone, PartialEq)]
pub struct RewriteReport {
    /// `None` for a Converse request to a model outside the known families.
    pub family: Option<Family>,
    /// The API whose body schema was used.
    pub api: Api,
    /// Parameters written into the body.
    pub set: Vec<ParamSet>,
    /// Parameters not written, and application values removed.
    pub dropped: Vec<ParamDrop>,
    /// Values changed to fit the model's limits before being written.
    pub clamped: Vec<ParamClamp>,
    /// `None` when the plan had no system prompt.
    pub system_prompt: Option<SystemReport>,
    /// `None` when the plan had no few-shot examples.
    pub few_shots: Option<FewShotReport>,
    /// Whether the body that leaves differs from the one that came in.
    pub body_changed: bool,
}

impl RewriteReport {
    pub(crate) fn new(family: Option<Family>, api: Api) -> Self {
        RewriteReport {
            family,
            api,
            set: Vec::new(),
            dropped: Vec::new(),
            clamped: Vec::new(),
            system_prompt: None,
            few_shots: None,
            body_changed: false,
        }
    }

    /// `(param, reason)` label pairs for a drop counter.
    pub fn drop_labels(&self) -> impl Iterator<Item = (&'static str, &'static str)> + '_ {
        self.dropped
            .iter()
            .map(|d| (d.param.as_str(), d.reason.as_str()))
    }
}
