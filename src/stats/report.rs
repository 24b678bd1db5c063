//! What an analysis returns. Every type serialises to JSON with the
//! figures named as a statistician would name them (`t`, `df`, `p_value`,
//! `ci`, `relative_lift`, `srm_p_value`), and [`crate::stats::render`]
//! turns the same report into a text table.

use std::fmt;

use serde::Serialize;

use crate::stats::estimate::Shortfall;
use crate::stats::srm::SrmCheck;

/// The full analysis of one experiment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnalysisReport {
    pub control: String,
    pub alpha: f64,
    /// Confidence level of every interval, 1 − alpha.
    pub confidence: f64,
    /// Metric the recommendation rests on; `None` when there is none.
    pub primary_metric: Option<String>,
    pub higher_is_better: bool,
    pub srm: SrmReport,
    pub variants: Vec<VariantReport>,
    /// Chi-squared tests over all arms of each request-level yes/no metric.
    pub arms_tests: Vec<ArmsTest>,
    pub recommendation: Recommendation,
}

/// Sample-ratio status with the test behind it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SrmReport {
    pub status: SrmStatus,
    #[serde(flatten)]
    pub check: Option<SrmCheck>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SrmStatus {
    Ok,
    Mismatch,
    /// No sessions yet, or fewer than two arms with a share.
    NotChecked,
}

/// One variant with all its metrics.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VariantReport {
    pub name: String,
    pub control: bool,
    pub expected_share: f64,
    pub sessions: u64,
    pub requests: Option<u64>,
    pub metrics: Vec<MetricReport>,
    /// This variant's own verdict against the control; `None` for the
    /// control itself.
    pub recommendation: Option<Recommendation>,
}

/// One metric of one variant.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricReport {
    pub metric: String,
    pub primary: bool,
    /// The level whose figures count for decisions and corrections:
    /// session level whenever per-session sums exist.
    pub decision_level: Level,
    pub session_level: Option<LevelReport>,
    pub request_level: Option<LevelReport>,
}

impl MetricReport {
    /// The figures at the decision level.
    pub fn decision(&self) -> Option<&LevelReport> {
        match self.decision_level {
            Level::Session => self.session_level.as_ref(),
            Level::Request => self.request_level.as_ref(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Ratio of per-session sums; sessions are the randomisation unit.
    Session,
    /// Individual requests, treated as independent.
    Request,
}

/// The estimate of one arm at one level, and its comparison with the
/// control's.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LevelReport {
    pub method: Method,
    /// Observations: sessions at session level, requests or trials at
    /// request level.
    pub n: u64,
    pub mean: Option<f64>,
    pub ci: Option<[f64; 2]>,
    /// `None` for the control.
    pub comparison: Option<Comparison>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Delta-method ratio of session sums, z-test.
    DeltaMethodRatioZ,
    /// Welch's unequal-variance t-test.
    WelchT,
    /// Pooled two-proportion z-test, Wilson interval per arm.
    TwoProportionZ,
}

/// A comparison with the control, or why there is none.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Comparison {
    Ok(Box<ComparisonFigures>),
    InsufficientData(InsufficientData),
}

/// Treatment − control at one level.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComparisonFigures {
    pub difference: f64,
    pub ci: [f64; 2],
    pub std_error: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub t: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub df: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub z: Option<f64>,
    /// Fixed-horizon two-sided p-value: valid at the planned sample size,
    /// not under repeated looks.
    pub p_value: f64,
    /// Relative lift, treatment/control − 1; `None` if the control mean is 0.
    pub relative_lift: Option<f64>,
    /// Delta-method interval of the relative lift.
    pub relative_lift_ci: Option<[f64; 2]>,
    /// Always-valid figures; `None` when they cannot be computed.
    pub sequential: Option<SequentialFigures>,
    /// Multiplicity-adjusted p-values at the decision level.
    pub adjusted: Option<Adjusted>,
}

/// Figures of the normal-mixture confidence sequence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SequentialFigures {
    pub p_value: f64,
    pub ci: [f64; 2],
    pub tuning_n: u64,
}

/// p-values after a correction for multiple comparisons.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Adjusted {
    pub method: AdjustmentMethod,
    pub p_value: f64,
    pub sequential_p_value: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AdjustmentMethod {
    /// Family-wise error over the variants, for the primary metric.
    Holm,
    /// False discovery rate over all exploratory comparisons.
    BenjaminiHochberg,
}

/// No test was run: the reason and the counts behind it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InsufficientData {
    pub reason: Shortfall,
    pub control_n: u64,
    pub treatment_n: u64,
    pub min_sample: u64,
}

impl fmt::Display for InsufficientData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "insufficient data ({}): control n = {}, treatment n = {}, minimum {}",
            self.reason, self.control_n, self.treatment_n, self.min_sample
        )
    }
}

/// Chi-squared over all arms of one yes/no metric.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArmsTest {
    pub metric: String,
    pub arms: usize,
    pub yates_correction: bool,
    pub result: ArmsOutcome,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ArmsOutcome {
    Ok {
        chi_squared: f64,
        df: f64,
        p_value: f64,
    },
    InsufficientData {
        reason: Shortfall,
    },
}

/// What to do with the experiment (or one variant) now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recommendation {
    pub action: Action,
    /// The variant the action is about, when it is about one.
    pub variant: Option<String>,
    /// Why, in one sentence.
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Ship the variant: it beats the control.
    Promote,
    /// Keep collecting data.
    Continue,
    /// End the experiment without shipping (no effect found by the planned
    /// size, or the data cannot be trusted).
    Stop,
    /// Send traffic back to the control: a variant is doing harm.
    RollBack,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::Promote => "promote",
            Action::Continue => "continue",
            Action::Stop => "stop",
            Action::RollBack => "roll_back",
        })
    }
}

/// A p-value for people: four decimals, or two significant digits in
/// scientific notation below 1e-4 so that tiny values do not read as 0.
pub fn format_p_value(p: f64) -> String {
    if p < 1e-4 {
        format!("{p:.2e}")
    } else {
        format!("{p:.4}")
    }
}
