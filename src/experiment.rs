//! A/B experiments: per intent, sessions are split between a control and
//! variants that override any part of the intent's profile, or the model.
//!
//! Definitions are validated once into [`ExperimentSet`]; the request path
//! asks it for the active experiment of an intent and places the session
//! with [`assign`].

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::config::ConfigError;
use crate::profile::{Profile, ProfileSet};

pub mod assign;
pub mod raw;
pub mod session;
mod validate;

pub use raw::{RawExperiment, RawVariant};

/// Where an experiment is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Draft,
    Running,
    Paused,
    Completed,
}

impl Status {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "draft" => Status::Draft,
            "running" => Status::Running,
            "paused" => Status::Paused,
            "completed" => Status::Completed,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Draft => "draft",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Completed => "completed",
        }
    }
}

/// One arm of an experiment, its profile already merged and validated.
#[derive(Debug, Clone)]
pub struct Variant {
    pub name: String,
    pub weight: f64,
    pub profile: Arc<Profile>,
    pub model_id: Option<String>,
}

/// A validated experiment.
#[derive(Debug, Clone)]
pub struct Experiment {
    pub id: String,
    pub intent: String,
    pub description: String,
    pub status: Status,
    pub control: usize,
    pub variants: Vec<Variant>,
    pub coverage: f64,
    pub primary_metric: String,
    pub guardrails: Vec<String>,
    pub min_sample_per_variant: u64,
    pub confidence: f64,
    pub start: Option<String>,
    pub end: Option<String>,
    pub winner: Option<usize>,
}

/// Why a session got the variant it got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Inside the coverage: observed for its variant.
    Assigned,
    /// Outside the current coverage: control, not observed.
    NotCovered,
    /// No usable session key: control, not observed.
    NoSession,
    /// The experiment is paused: control for everyone.
    Paused,
    /// The experiment completed: its winner (or control) for everyone.
    Completed,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Assigned => "assigned",
            Reason::NotCovered => "not_covered",
            Reason::NoSession => "no_session",
            Reason::Paused => "paused",
            Reason::Completed => "completed",
        }
    }
}

/// A session's place in an experiment.
#[derive(Debug, Clone)]
pub struct Assignment<'e> {
    pub experiment: &'e Experiment,
    pub variant: &'e Variant,
    pub reason: Reason,
    /// The session's position in [0, 1), when it had a session key.
    pub position: Option<f64>,
}

impl Assignment<'_> {
    /// Only assigned sessions are observations of their variant.
    pub fn observed(&self) -> bool {
        self.reason == Reason::Assigned
    }
}

impl Experiment {
    /// Places a session (or the lack of one) in this experiment.
    pub fn assign(&self, session: Option<&str>) -> Assignment<'_> {
        let control = &self.variants[self.control];
        let (variant, reason, position) = match (self.status, session) {
            (Status::Completed, _) => {
                let winner = &self.variants[self.winner.unwrap_or(self.control)];
                (winner, Reason::Completed, None)
            }
            (Status::Paused | Status::Draft, _) => (control, Reason::Paused, None),
            (Status::Running, None) => (control, Reason::NoSession, None),
            (Status::Running, Some(session)) => {
                let p = assign::position(&self.id, session);
                let weights: Vec<f64> = self.variants.iter().map(|v| v.weight).collect();
                let placed = assign::place(p, &weights, self.coverage);
                match placed.covered {
                    true => (&self.variants[placed.variant], Reason::Assigned, Some(p)),
                    false => (control, Reason::NotCovered, Some(p)),
                }
            }
        };
        Assignment {
            experiment: self,
            variant,
            reason,
            position,
        }
    }
}

/// Every experiment, with at most one active per intent.
#[derive(Debug, Clone, Default)]
pub struct ExperimentSet {
    all: BTreeMap<String, Arc<Experiment>>,
    active_by_intent: BTreeMap<String, Arc<Experiment>>,
}

impl ExperimentSet {
    /// Validates definitions against the profiles they override.
    pub fn resolve(raw: &[RawExperiment], profiles: &ProfileSet) -> Result<Self, Vec<ConfigError>> {
        let experiments = validate::all(raw, profiles)?;
        let mut set = Self::default();
        for experiment in experiments {
            let experiment = Arc::new(experiment);
            if experiment.status != Status::Draft {
                let slot = set.active_by_intent.entry(experiment.intent.clone());
                // A running experiment wins over paused or completed ones.
                slot.and_modify(|e| {
                    if experiment.status == Status::Running {
                        *e = Arc::clone(&experiment);
                    }
                })
                .or_insert_with(|| Arc::clone(&experiment));
            }
            set.all.insert(experiment.id.clone(), experiment);
        }
        Ok(set)
    }

    /// The experiment that decides this intent's traffic, if any.
    pub fn active_for(&self, intent: &str) -> Option<&Arc<Experiment>> {
        self.active_by_intent.get(intent)
    }

    pub fn get(&self, id: &str) -> Option<&Arc<Experiment>> {
        self.all.get(id)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<Experiment>> {
        self.all.values()
    }
}
