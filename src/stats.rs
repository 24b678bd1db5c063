//! The statistics engine that judges A/B experiments between tuning
//! profiles.
//!
//! The proxy cannot keep every request it served, and an experiment may run
//! for months, so everything here is computed from per-variant sufficient
//! statistics: counts, sums and sums of squares (and products, for
//! session-level ratios). Those only ever grow by addition, the store can
//! keep them in a few numbers per variant and metric, and analysing an
//! experiment costs the same after a hundred requests or a billion.
//!
//! Decisions are made at the session level, since sessions are what the
//! router randomises, with always-valid sequential p-values so that the
//! report may be read at any time without inflating false positives.
//! Fixed-horizon tests (Welch, two-proportion z, chi-squared) are reported
//! beside them. `docs/statistics.md` gives every formula and the independent
//! references the results are checked against.
//!
//! [`analyze`] is a pure function from an [`ExperimentSummary`] and
//! [`AnalysisOptions`] to an [`AnalysisReport`]; [`summary_file`] reads the
//! JSON file format of `bedrock-tuner analyze` into those types, and
//! [`render`] prints a report as a text table.

pub mod compare;
pub mod decision;
pub mod dist;
pub mod estimate;
pub mod multiple;
pub mod proportion;
pub mod ratio;
pub mod render;
pub mod report;
pub mod sample_size;
pub mod sequential;
pub mod srm;
pub mod summary;
pub mod summary_file;
pub mod welch;

mod analyze;

pub use analyze::analyze;
pub use report::AnalysisReport;
pub use summary::{AnalysisOptions, ExperimentSummary};
