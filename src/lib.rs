//! bedrock-tuner: a sidecar proxy for AWS Bedrock Runtime that tunes each
//! call's inference parameters for its intent and proves them with A/B
//! tests.
//!
//! A request's path through the sidecar reads from the modules:
//! [`server`] accepts it, [`proxy`] routes, reads and tunes it, [`sign`]
//! signs it with the sidecar's credentials, [`forward`] sends it upstream
//! and [`record`] measures the answer as it streams back. [`admin`] serves
//! metrics and health; [`config`] holds the settings; [`cli`] is the
//! command line.

pub mod admin;
pub mod analysis;
pub mod bedrock_client;
pub mod calendar;
pub mod classify;
pub mod cli;
pub mod config;
pub mod error;
pub mod experiment;
pub mod fewshot;
pub mod forward;
pub mod logging;
pub mod observe;
pub mod profile;
pub mod prompts;
pub mod proxy;
pub mod record;
pub mod rewrite;
pub mod score;
pub mod server;
pub mod sidecar;
pub mod sign;
pub mod stats;
pub mod store;
pub mod tuning;
