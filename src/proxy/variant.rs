//! The experiment stage: when the request's intent has an active
//! experiment, the session picks the variant whose profile (and perhaps
//! model) replaces the intent's own.

use std::sync::Arc;

use bytes::Bytes;

use super::context::RequestContext;
use crate::experiment::session::{self, SessionSource};
use crate::experiment::{Experiment, Reason};
use crate::profile::Profile;
use crate::record::Metrics;
use crate::tuning::Tuning;

/// What the experiment stage decided, for headers, labels and
/// observations.
#[derive(Debug, Clone, PartialEq)]
pub struct ExperimentTag {
    pub experiment: String,
    pub variant: String,
    pub reason: Reason,
    pub session: Option<String>,
    pub session_source: SessionSource,
}

/// The variant decision for one request.
pub struct Placed<'t> {
    pub profile: &'t Profile,
    /// The model the variant sends the call to instead of the app's.
    pub model: Option<&'t str>,
}

/// Places the request in its intent's active experiment, if there is one.
pub fn place<'t>(
    ctx: &mut RequestContext,
    tuning: &'t Tuning,
    metrics: &Metrics,
    profile: &'t Profile,
    body: &Bytes,
) -> Placed<'t> {
    let Some(experiment) = tuning.experiments.active_for(&profile.intent) else {
        return Placed {
            profile,
            model: None,
        };
    };
    let (session, source) = session_key(ctx, tuning, body);
    let assignment = experiment.assign(session.as_deref());
    let variant = assignment.variant;
    metrics
        .assignments
        .with_label_values(&[
            &experiment.id,
            &variant.name,
            assignment.reason.as_str(),
            source.as_str(),
        ])
        .inc();
    if assignment.observed() {
        ctx.labels.variant = variant.name.clone();
    }
    ctx.tuned.experiment = Some(ExperimentTag {
        experiment: experiment.id.clone(),
        variant: variant.name.clone(),
        reason: assignment.reason,
        session,
        session_source: source,
    });
    let experiment: &'t Arc<Experiment> = experiment;
    let variant = &experiment.variants[index_of(experiment, &variant.name)];
    Placed {
        profile: &variant.profile,
        model: variant.model_id.as_deref(),
    }
}

fn index_of(experiment: &Experiment, name: &str) -> usize {
    experiment
        .variants
        .iter()
        .position(|v| v.name == name)
        .unwrap_or(experiment.control)
}

/// The session header, or a key derived from the conversation.
fn session_key(
    ctx: &RequestContext,
    tuning: &Tuning,
    body: &Bytes,
) -> (Option<String>, SessionSource) {
    if let Some(session) = &ctx.inbound.session {
        return (Some(session.clone()), SessionSource::Header);
    }
    if !tuning.policy.derive_session {
        return (None, SessionSource::None);
    }
    let derived = serde_json::from_slice(body)
        .ok()
        .and_then(|json| session::derive(&json));
    match derived {
        Some(key) => (Some(key), SessionSource::Derived),
        None => (None, SessionSource::None),
    }
}

/// The raw path with the model segment replaced, encoded the way the app
/// encoded its own model id (escaped `:` stays escaped, bare stays bare;
/// `/` is always escaped since it would split the path).
pub fn swap_model(raw_path: &str, span: std::ops::Range<usize>, model: &str) -> String {
    let escaped = raw_path[span.clone()].contains('%');
    let mut encoded = String::with_capacity(model.len() + 8);
    for c in model.chars() {
        match c {
            ':' if escaped => encoded.push_str("%3A"),
            '/' => encoded.push_str("%2F"),
            c if c.is_ascii_alphanumeric() || "-._~:".contains(c) => encoded.push(c),
            c => {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    encoded.push_str(&format!("%{b:02X}"));
                }
            }
        }
    }
    format!(
        "{}{encoded}{}",
        &raw_path[..span.start],
        &raw_path[span.end..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn swapped(path: &str, model: &str) -> String {
        let route = crate::proxy::route::route(&http::Method::POST, path);
        swap_model(path, route.model_span.unwrap_or_default(), model)
    }

    #[test]
    fn a_swapped_model_is_encoded_like_the_apps() {
        let escaped = "/model/anthropic.claude-3-haiku-20240307-v1%3A0/invoke";
        assert_eq!(
            swapped(escaped, "anthropic.claude-3-5-sonnet-20240620-v1:0"),
            "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/invoke"
        );
        let bare = "/model/anthropic.claude-3-haiku-20240307-v1:0/converse";
        assert_eq!(
            swapped(bare, "us.anthropic.claude-3-5-sonnet-20240620-v1:0"),
            "/model/us.anthropic.claude-3-5-sonnet-20240620-v1:0/converse"
        );
        let arn = "arn:aws:bedrock:us-east-1:1:inference-profile/us.x:0";
        assert_eq!(
            swapped(bare, arn),
            "/model/arn:aws:bedrock:us-east-1:1:inference-profile%2Fus.x:0/converse"
        );
    }
}
