//! Request-body rewriting: the step that makes a profile real.
//!
//! The proxy resolves a parameter profile for each request's intent; this
//! module writes that profile into the body the application sent, in the
//! spelling of the target model family (Claude Messages, Nova, Titan Text,
//! Llama, Mistral, Cohere Command R, Jamba, or the model-independent Converse
//! API), before the request is signed again and forwarded.
//!
//! It exists as its own module because the body is the application's data:
//! Bedrock rejects unknown keys, models refuse some parameter combinations,
//! and an application's messages, tools, images and cache markers must pass
//! through untouched. So the rewriter
//! - writes only keys the family's schema allows, and drops (and reports) a
//!   parameter the family lacks instead of sending it;
//! - reads the request before changing it: extended thinking pins sampling
//!   parameters, limits from `data/model_limits.toml` clamp values, models
//!   refusing temperature with top_p get only one, and application values
//!   may be configured to win;
//! - splits only the top level of the body into raw slices and rebuilds only
//!   the small objects it owns, so every other value keeps its exact bytes
//!   and a large body costs little more than one scan;
//! - is idempotent: rewriting a rewritten body with the same plan leaves it
//!   byte for byte the same.
//!
//! Every decision lands in a [`RewriteReport`] for dry runs and metrics.

mod chat;
mod content;
mod display;
mod error;
mod family;
mod json;
/// Also the answer reader's way to skip what it does not need.
pub(crate) mod json_text;
mod limits;
mod params;
mod plan;
mod prompt_text;
mod range;
mod report;
mod slots;
mod system;

pub use error::{LimitsError, RewriteError};
pub use family::{Family, base_model_id, family_of};
pub use limits::ModelLimits;
pub use plan::{Api, FewShot, InferenceParams, PromptMode, RewritePlan};
pub use report::{
    ClampReason, DropReason, FewShotReport, FewShotSkip, Origin, Param, ParamClamp, ParamDrop,
    ParamSet, ParamValue, RewriteReport, SystemAction, SystemReport,
};

use json::RawObject;
use params::ParamContext;

/// A rewritten body and the account of what was done to it.
#[derive(Debug, Clone, PartialEq)]
pub struct Rewritten {
    /// The body to sign and forward. When nothing changed these are the
    /// application's bytes, whitespace included.
    pub body: Vec<u8>,
    /// What was done to it.
    pub report: RewriteReport,
}

/// Rewrites a request body for `model_id` (percent-decoded, as in the
/// request path) according to `plan`.
///
/// InvokeModel bodies need a known family ([`family_of`]); Converse bodies
/// share one schema, so a model outside the known families still gets the
/// Converse base fields (temperature, top_p, max tokens, stop sequences),
/// the system prompt and the examples, and only its model-specific
/// parameters are dropped.
pub fn rewrite(
    model_id: &str,
    api: Api,
    body: &[u8],
    plan: &RewritePlan,
    limits: &ModelLimits,
) -> Result<Rewritten, RewriteError> {
    let family = family_of(model_id);
    if family.is_none() && api == Api::InvokeModel {
        return Err(RewriteError::UnknownFamily {
            model_id: model_id.to_string(),
        });
    }
    let schema = slots::schema_name(family, api);
    let mut doc = RawObject::parse_body(body, schema)?;
    content::check_shape(family, api, &doc, schema)?;
    let rules = limits.rules(family, base_model_id(model_id), api);
    let ctx = ParamContext {
        rules: &rules,
        slots: slots::table(family, api, &doc, schema)?,
        app_values_win: plan.app_values_win,
        native_root: match api {
            Api::InvokeModel => &[],
            Api::Converse => &["additionalModelRequestFields"],
        },
        schema,
    };
    let mut report = RewriteReport::new(family, api);
    params::apply(&mut doc, &ctx, &plan.params, &mut report)?;
    content::apply(family, api, &mut doc, plan, schema, &mut report)?;
    report.body_changed = doc.changed();
    let body = if doc.changed() {
        let mut text = String::with_capacity(doc.approx_len());
        doc.write(&mut text);
        text.into_bytes()
    } else {
        body.to_vec()
    };
    Ok(Rewritten { body, report })
}
