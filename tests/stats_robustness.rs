//! Whatever numbers a summary holds (NaN, infinities, zeros, counts near
//! 2⁶⁴, successes above trials), the analysis returns a report, renders it
//! and serialises it without panicking.

use std::collections::BTreeMap;

use proptest::prelude::*;

use bedrock_tuner::stats::analyze;
use bedrock_tuner::stats::dist;
use bedrock_tuner::stats::render::render_text;
use bedrock_tuner::stats::summary::{
    AnalysisOptions, BinaryCounts, ExperimentSummary, MetricSummary, Moments, RequestLevel,
    SessionSums, SrmPhase, VariantSummary,
};

fn any_number() -> BoxedStrategy<f64> {
    prop_oneof![
        Just(0.0),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(-1.0),
        -1e6..1e6,
        proptest::num::f64::ANY,
    ]
    .boxed()
}

fn any_count() -> BoxedStrategy<u64> {
    prop_oneof![Just(0), Just(1), Just(2), 0..100_000u64, Just(u64::MAX)].boxed()
}

// Boxed strategies keep proptest's value trees off the stack, which deep
// tuples of unboxed ones overflow in a debug build.
fn any_metric() -> BoxedStrategy<MetricSummary> {
    let moments = (any_count(), any_number(), any_number())
        .prop_map(|(n, sum, sum_sq)| RequestLevel::Continuous(Moments { n, sum, sum_sq }));
    let binary = (any_count(), any_count())
        .prop_map(|(trials, successes)| RequestLevel::Binary(BinaryCounts { trials, successes }));
    let sums = (
        any_count(),
        [
            any_number(),
            any_number(),
            any_number(),
            any_number(),
            any_number(),
        ],
    )
        .prop_map(
            |(sessions, [sum_y, sum_y_sq, sum_m, sum_m_sq, sum_ym])| SessionSums {
                sessions,
                sum_y,
                sum_y_sq,
                sum_m,
                sum_m_sq,
                sum_ym,
            },
        );
    (
        proptest::option::of(prop_oneof![moments, binary]),
        proptest::option::of(sums),
    )
        .prop_map(|(requests, sessions)| MetricSummary { requests, sessions })
        .boxed()
}

fn any_variant(name: &'static str) -> BoxedStrategy<VariantSummary> {
    (
        any_number(),
        any_count(),
        proptest::option::of(any_count()),
        any_metric(),
        any_metric(),
    )
        .prop_map(move |(share, sessions, requests, m1, m2)| VariantSummary {
            name: name.to_string(),
            expected_share: share,
            sessions,
            requests,
            metrics: BTreeMap::from([("m1".to_string(), m1), ("m2".to_string(), m2)]),
        })
        .boxed()
}

fn any_options() -> BoxedStrategy<AnalysisOptions> {
    (
        prop_oneof![Just(0.05), any_number()],
        any_count(),
        any_count(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(alpha, min_sample, tuning, higher, yates)| AnalysisOptions {
                alpha,
                primary_metric: Some("m1".to_string()),
                higher_is_better: higher,
                min_sample,
                sequential_tuning_n: tuning,
                srm_threshold: 0.001,
                yates_correction: yates,
            },
        )
        .boxed()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn analysis_never_panics(
        a in any_variant("A"),
        b in any_variant("B"),
        c in any_variant("C"),
        share in any_number(),
        phase_sessions in any_count(),
        with_phase in any::<bool>(),
        options in any_options(),
    ) {
        let srm_phases = if with_phase {
            vec![SrmPhase {
                name: "ramp".to_string(),
                expected_share: BTreeMap::from([("A".to_string(), share), ("B".to_string(), 1.0)]),
                sessions: BTreeMap::from([("A".to_string(), phase_sessions), ("C".to_string(), 3)]),
            }]
        } else {
            Vec::new()
        };
        let variants = vec![a, b, c];
        let summary = ExperimentSummary { control: "A".to_string(), variants, srm_phases };
        let report = analyze(&summary, &options);
        prop_assert!(!render_text(&report).is_empty());
        prop_assert!(serde_json::to_string(&report).is_ok());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// The t quantile below the large-df switch, at any probability a double
    /// can hold (a tiny alpha puts it at 1e-300 and below), ends and lands
    /// where the tail gives the probability back.
    #[test]
    fn t_quantile_inverts_the_tail_at_any_probability(
        exponent in 0.0..323.0f64,
        mantissa in 1.0..10.0f64,
        df in prop_oneof![0.05..3.0f64, 3.0..999.0f64],
    ) {
        let p = mantissa * 10f64.powf(-exponent);
        prop_assume!(p > 0.0 && p < 0.5);
        let q = dist::students_t_quantile(p, df);
        prop_assert!(q < 0.0, "p = {p:e}, df = {df}: {q}");
        if q.is_finite() {
            let back = dist::students_t_sf(-q, df);
            // A subnormal p carries fewer digits than 1e-9 asks for.
            let tolerance = 1e-9 + 4.0 * f64::from_bits(1) / p;
            prop_assert!((back / p - 1.0).abs() < tolerance, "p = {p:e}, df = {df}: q = {q:e}, tail {back:e}");
        } else {
            // Only a heavy tail puts the answer beyond the largest double.
            prop_assert!(dist::students_t_sf(f64::MAX, df) > p);
        }
    }
}
