//! The experiment stage: when the request's intent has an active
//! experiment, the session picks the variant whose profile (and perhaps
//! model) replaces the intent's own.

use super::context::RequestContext;
use crate::experiment::Reason;
use crate::experiment::session::SessionSource;
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
    (session, source): (Option<String>, SessionSource),
) -> Placed<'t> {
    let Some(experiment) = tuning.experiments.active_for(&profile.intent) else {
        return Placed {
            profile,
            model: None,
        };
    };
    let assignment = experiment.assign(session.as_deref());
    let variant = assignment.variant;
    let labels = [
        experiment.id.as_str(),
        &variant.name,
        assignment.reason.as_str(),
        source.as_str(),
    ];
    metrics.assignments.with_label_values(&labels).inc();
    if assignment.observed() {
        ctx.labels.variant = variant.name.clone();
    }
    ctx.tuned.coverage = Some(experiment.coverage);
    ctx.tuned.experiment = Some(ExperimentTag {
        experiment: experiment.id.clone(),
        variant: variant.name.clone(),
        reason: assignment.reason,
        session,
    });
    Placed {
        profile: &variant.profile,
        model: variant.model_id.as_deref(),
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
