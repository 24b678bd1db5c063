//! The reference file's layout: inputs and expected outputs of each case,
//! as written by `scripts/stats_reference.py`.

use std::sync::LazyLock;

use serde::Deserialize;

/// The parsed reference file, read once per test binary.
pub static REFERENCE: LazyLock<Reference> = LazyLock::new(|| {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/stats_reference.json"
    );
    let text = std::fs::read_to_string(path).expect("reference file");
    serde_json::from_str(&text).expect("reference JSON")
});

#[derive(Deserialize)]
pub struct Reference {
    pub distributions: Distributions,
    pub welch: Vec<WelchCase>,
    pub ratio: Vec<RatioCase>,
    pub proportions: Vec<ProportionCase>,
    pub arms_chi_squared: Vec<ArmsCase>,
    pub srm: Vec<SrmCase>,
    pub multiple: Vec<MultipleCase>,
    pub sample_size: SampleSizes,
    pub sequential: Sequential,
}

#[derive(Deserialize)]
pub struct Distributions {
    pub t_sf: Vec<TSf>,
    pub t_quantile: Vec<TQuantile>,
    pub normal_quantile: Vec<NormalQuantile>,
    pub normal_sf: Vec<NormalSf>,
    pub chi_squared_sf: Vec<ChiSquaredSf>,
    /// Tails far beyond a usual alpha, same layout as `t_sf`.
    pub t_far_sf: Vec<TSf>,
    /// Quantiles at tiny p, same layout as `t_quantile`.
    pub t_far_quantile: Vec<TQuantile>,
}

#[derive(Deserialize)]
pub struct TSf {
    pub df: f64,
    pub t: f64,
    pub sf: f64,
}

#[derive(Deserialize)]
pub struct TQuantile {
    pub df: f64,
    pub p: f64,
    pub quantile: f64,
}

#[derive(Deserialize)]
pub struct NormalQuantile {
    pub p: f64,
    pub quantile: f64,
}

#[derive(Deserialize)]
pub struct NormalSf {
    pub z: f64,
    pub sf: f64,
}

#[derive(Deserialize)]
pub struct ChiSquaredSf {
    pub x: f64,
    pub df: f64,
    pub sf: f64,
}

#[derive(Deserialize)]
pub struct MomentsIn {
    pub n: u64,
    pub sum: f64,
    pub sum_sq: f64,
}

#[derive(Deserialize)]
pub struct WelchCase {
    pub name: String,
    pub alpha: f64,
    pub control: MomentsIn,
    pub treatment: MomentsIn,
    pub t: f64,
    pub df: f64,
    pub p_value: f64,
    pub ci: [f64; 2],
    pub relative_lift: f64,
    pub relative_lift_ci: [f64; 2],
    pub control_mean_ci: [f64; 2],
    pub treatment_mean_ci: [f64; 2],
}

#[derive(Deserialize)]
pub struct SumsIn {
    pub sessions: u64,
    pub sum_y: f64,
    pub sum_y_sq: f64,
    pub sum_m: f64,
    pub sum_m_sq: f64,
    pub sum_ym: f64,
}

#[derive(Deserialize)]
pub struct RatioCase {
    pub name: String,
    pub alpha: f64,
    pub control: SumsIn,
    pub treatment: SumsIn,
    pub control_ratio: f64,
    pub control_variance: f64,
    pub treatment_ratio: f64,
    pub treatment_variance: f64,
    pub z: f64,
    pub p_value: f64,
    pub ci: [f64; 2],
}

#[derive(Deserialize)]
pub struct CountsIn {
    pub n: u64,
    pub successes: u64,
}

#[derive(Deserialize)]
pub struct ProportionCase {
    pub alpha: f64,
    pub control: CountsIn,
    pub treatment: CountsIn,
    pub z: f64,
    pub p_value: f64,
    pub ci: [f64; 2],
    pub relative_lift: f64,
    pub relative_lift_ci: [f64; 2],
    pub control_wilson: [f64; 2],
    pub treatment_wilson: [f64; 2],
}

#[derive(Deserialize)]
pub struct ArmsCase {
    pub arms: Vec<CountsIn>,
    pub yates: bool,
    pub chi_squared: f64,
    pub df: f64,
    pub p_value: f64,
}

#[derive(Deserialize)]
pub struct ArmIn {
    pub variant: String,
    pub expected_share: f64,
    pub sessions: u64,
}

#[derive(Deserialize)]
pub struct PhaseFitOut {
    pub chi_squared: f64,
    pub df: f64,
    pub p_value: f64,
}

#[derive(Deserialize)]
pub struct SrmCase {
    pub name: String,
    pub phases: Vec<Vec<ArmIn>>,
    pub phase_fits: Vec<PhaseFitOut>,
    pub chi_squared: f64,
    pub df: f64,
    pub srm_p_value: f64,
    pub mismatch: bool,
}

#[derive(Deserialize)]
pub struct MultipleCase {
    pub p_values: Vec<f64>,
    pub holm: Vec<f64>,
    pub benjamini_hochberg: Vec<f64>,
}

#[derive(Deserialize)]
pub struct SampleSizes {
    pub proportions: Vec<ProportionSize>,
    pub means: Vec<MeanSize>,
}

#[derive(Deserialize)]
pub struct ProportionSize {
    pub baseline: f64,
    pub mde: f64,
    pub alpha: f64,
    pub power: f64,
    pub exact: f64,
    pub per_variant: u64,
}

#[derive(Deserialize)]
pub struct MeanSize {
    pub sd: f64,
    pub mde: f64,
    pub alpha: f64,
    pub power: f64,
    pub exact: f64,
    pub per_variant: u64,
}

#[derive(Deserialize)]
pub struct Sequential {
    pub boundaries: Vec<BoundaryCase>,
    pub tests: Vec<SequentialCase>,
}

#[derive(Deserialize)]
pub struct BoundaryCase {
    pub v: f64,
    pub v_opt: f64,
    pub alpha: f64,
    pub s: f64,
    pub bound: f64,
    pub log_mixture: f64,
}

#[derive(Deserialize)]
pub struct SequentialCase {
    pub difference: f64,
    pub variance: f64,
    pub n: f64,
    pub tuning_n: u64,
    pub alpha: f64,
    pub p_value: f64,
    pub ci: [f64; 2],
}
