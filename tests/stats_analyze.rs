//! The analysis end to end: the summary file format, the report's JSON
//! shape, insufficient data, sample-ratio mismatch and recommendations.

use serde_json::Value;

use bedrock_tuner::stats::analyze;
use bedrock_tuner::stats::render::render_text;
use bedrock_tuner::stats::report::{Action, AnalysisReport, SrmStatus};
use bedrock_tuner::stats::summary_file::{SummaryFileError, parse_summary};

/// The example from the summary file format's documentation.
const EXAMPLE: &str = r#"{"alpha": 0.05, "control": "A",
 "variants": {
   "A": {"weight": 0.5, "sessions": 5050,
         "metrics": {"quality": {"n": 8, "sum": 6.11, "sum_sq": 4.7125},
                     "thumbs_up": {"n": 500, "successes": 420}}},
   "B": {"weight": 0.5, "sessions": 4950,
         "metrics": {"quality": {"n": 10, "sum": 8.74, "sum_sq": 7.6622},
                     "thumbs_up": {"n": 520, "successes": 455}}}}}"#;

fn report_of(text: &str) -> AnalysisReport {
    let (summary, options) = parse_summary(text).expect("valid summary");
    analyze(&summary, &options)
}

fn json_of(text: &str) -> Value {
    serde_json::to_value(report_of(text)).expect("report serialises")
}

fn field_error(text: &str) -> (String, String) {
    match parse_summary(text) {
        Err(SummaryFileError::Field { path, message }) => (path, message),
        other => panic!("expected a field error, got {other:?}"),
    }
}

/// A two-arm file on one yes/no metric with the given counts.
fn binary_file(extra: &str, a: (u64, u64, u64), b: (u64, u64, u64)) -> String {
    format!(
        r#"{{"control": "A" {extra},
          "variants": {{
            "A": {{"weight": 1, "sessions": {}, "metrics": {{"ok": {{"n": {}, "successes": {}}}}}}},
            "B": {{"weight": 1, "sessions": {},
                   "metrics": {{"ok": {{"n": {}, "successes": {}}}}}}}}}}}"#,
        a.0, a.1, a.2, b.0, b.1, b.2
    )
}

#[test]
fn the_documented_example_reports_plainly_named_figures() {
    let json = json_of(EXAMPLE);
    assert_eq!(json["srm"]["status"], "ok");
    assert!(json["srm"]["srm_p_value"].as_f64().is_some_and(|p| p > 0.3));
    let b = &json["variants"][1];
    assert_eq!(b["name"], "B");
    let thumbs = &b["metrics"][1]["request_level"];
    assert_eq!(thumbs["method"], "two_proportion_z");
    let comparison = &thumbs["comparison"];
    assert_eq!(comparison["status"], "ok");
    for key in [
        "z",
        "p_value",
        "ci",
        "relative_lift",
        "relative_lift_ci",
        "sequential",
    ] {
        assert!(!comparison[key].is_null(), "missing {key}");
    }
    // The quality metric has 8 and 10 observations, below the default
    // minimum of 30: an explicit state with counts, and no p-value.
    let quality = &b["metrics"][0]["request_level"]["comparison"];
    assert_eq!(quality["status"], "insufficient_data");
    assert_eq!(quality["reason"], "below_minimum_sample");
    assert_eq!(
        (
            quality["control_n"].as_u64(),
            quality["treatment_n"].as_u64()
        ),
        (Some(8), Some(10))
    );
    assert!(quality.get("p_value").is_none());
}

#[test]
fn a_lower_minimum_sample_gives_welch_figures() {
    let text = EXAMPLE.replacen(r#""alpha": 0.05,"#, r#""alpha": 0.05, "min_sample": 2,"#, 1);
    let json = json_of(&text);
    let quality = &json["variants"][1]["metrics"][0]["request_level"]["comparison"];
    assert_eq!(quality["status"], "ok");
    let df = quality["df"].as_f64().expect("df");
    // Welch's df lies between the smaller n − 1 and the sum of both.
    assert!((7.0..=16.0).contains(&df), "df {df}");
    assert!(quality["t"].as_f64().is_some_and(|t| t > 0.0));
}

#[test]
fn unknown_keys_are_refused_with_their_path() {
    let text = EXAMPLE.replacen(r#""sum_sq": 4.7125"#, r#""sum_sq": 4.7125, "mean": 1"#, 1);
    let (path, message) = field_error(&text);
    assert_eq!(path, "variants.A.metrics.quality.mean");
    assert!(message.contains("unknown field"), "{message}");
    let text = EXAMPLE.replacen(r#""alpha""#, r#""alhpa""#, 1);
    assert_eq!(field_error(&text).0, "alhpa");
}

#[test]
fn bad_values_are_named() {
    let text = EXAMPLE.replacen(r#""successes": 420"#, r#""successes": 520"#, 1);
    assert_eq!(
        field_error(&text).0,
        "variants.A.metrics.thumbs_up.successes"
    );
    let text = EXAMPLE.replacen(r#""sessions": 4950"#, r#""sessions": -3"#, 1);
    assert_eq!(field_error(&text).0, "variants.B.sessions");
    let text = EXAMPLE.replacen(r#""control": "A""#, r#""control": "Z""#, 1);
    assert_eq!(field_error(&text).0, "control");
    let text = EXAMPLE.replacen(r#""sum_sq": 7.6622"#, r#""sum_sq": 1.0"#, 1);
    assert_eq!(field_error(&text).0, "variants.B.metrics.quality.sum_sq");
    let sessions = r#""thumbs_up": {"n": 500, "successes": 420,
        "per_session": {"sessions": 400, "sum_y": 420, "sum_y_sq": 300, "sum_m": 500,
                        "sum_m_sq": 700, "sum_ym": 600}}"#;
    let text = EXAMPLE.replacen(r#""thumbs_up": {"n": 500, "successes": 420}"#, sessions, 1);
    let (path, message) = field_error(&text);
    assert_eq!(path, "variants.A.metrics.thumbs_up.per_session");
    assert!(message.contains("no set of sessions"), "{message}");
    assert!(matches!(
        parse_summary("{\"control\": "),
        Err(SummaryFileError::Syntax(_))
    ));
}

#[test]
fn a_clear_gain_is_promoted_and_a_clear_loss_rolled_back() {
    let gain = report_of(&binary_file("", (5000, 5000, 4000), (5000, 5000, 4300)));
    assert_eq!(gain.recommendation.action, Action::Promote);
    assert_eq!(gain.recommendation.variant.as_deref(), Some("B"));
    let loss = report_of(&binary_file("", (5000, 5000, 4300), (5000, 5000, 4000)));
    assert_eq!(loss.recommendation.action, Action::RollBack);
    // When lower is better (an error rate), the same gain is harm.
    let flipped = binary_file(
        r#", "higher_is_better": false"#,
        (5000, 5000, 4000),
        (5000, 5000, 4300),
    );
    assert_eq!(report_of(&flipped).recommendation.action, Action::RollBack);
}

#[test]
fn no_difference_continues_until_the_planned_size_then_stops() {
    let early = binary_file(
        r#", "sequential_tuning_n": 20000"#,
        (5000, 5000, 4000),
        (5000, 5000, 4010),
    );
    assert_eq!(report_of(&early).recommendation.action, Action::Continue);
    let done = binary_file(
        r#", "sequential_tuning_n": 5000"#,
        (5000, 5000, 4000),
        (5000, 5000, 4010),
    );
    assert_eq!(report_of(&done).recommendation.action, Action::Stop);
}

#[test]
fn a_broken_split_stops_the_experiment_whatever_the_metrics_say() {
    let text = binary_file("", (5600, 5000, 4000), (4400, 5000, 4300));
    let report = report_of(&text);
    assert_eq!(report.srm.status, SrmStatus::Mismatch);
    assert_eq!(report.recommendation.action, Action::Stop);
    assert!(
        report
            .recommendation
            .reason
            .contains("sample ratio mismatch")
    );
}

#[test]
fn rollout_phases_are_checked_against_their_own_split() {
    // 90/10 then 50/50: fine per phase, a mismatch against the blended 50/50.
    let phases = r#", "srm_phases": [
        {"name": "ramp", "weights": {"A": 0.9, "B": 0.1}, "sessions": {"A": 9000, "B": 1000}},
        {"name": "full", "weights": {"A": 0.5, "B": 0.5}, "sessions": {"A": 5000, "B": 5000}}]"#;
    let with = report_of(&binary_file(
        phases,
        (14000, 5000, 4000),
        (6000, 5000, 4010),
    ));
    assert_eq!(with.srm.status, SrmStatus::Ok);
    assert_eq!(with.srm.check.as_ref().map(|c| c.df), Some(2.0));
    let without = report_of(&binary_file("", (14000, 5000, 4000), (6000, 5000, 4010)));
    assert_eq!(without.srm.status, SrmStatus::Mismatch);
}

#[test]
fn session_sums_make_the_decision_and_request_figures_stay_beside_them() {
    let text = r#"{"control": "A", "variants": {
      "A": {"weight": 1, "sessions": 400, "metrics": {"quality": {
            "n": 1200, "sum": 840, "sum_sq": 640,
            "per_session": {"sessions": 400, "sum_y": 840, "sum_y_sq": 2400, "sum_m": 1200,
                            "sum_m_sq": 4400, "sum_ym": 3100}}}},
      "B": {"weight": 1, "sessions": 400, "metrics": {"quality": {
            "n": 1210, "sum": 871, "sum_sq": 660,
            "per_session": {"sessions": 400, "sum_y": 871, "sum_y_sq": 2500, "sum_m": 1210,
                            "sum_m_sq": 4450, "sum_ym": 3200}}}}}}"#;
    let json = json_of(text);
    let quality = &json["variants"][1]["metrics"][0];
    assert_eq!(quality["decision_level"], "session");
    assert_eq!(quality["session_level"]["method"], "delta_method_ratio_z");
    assert_eq!(quality["request_level"]["method"], "welch_t");
    // Only the decision level is adjusted for multiplicity.
    assert_eq!(
        quality["session_level"]["comparison"]["adjusted"]["method"],
        "holm"
    );
    assert!(quality["request_level"]["comparison"]["adjusted"].is_null());
    // Requests are counted from the session sums when not given.
    assert_eq!(json["variants"][0]["requests"], 1200);
    let text = render_text(&report_of(text));
    assert!(
        text.contains("session level") && text.contains("request level"),
        "{text}"
    );
}

#[test]
fn holm_adjusts_across_treatments_and_bh_across_exploratory_metrics() {
    let arm = |name: &str, x: u64, y: u64| {
        format!(
            r#""{name}": {{"weight": 1, "sessions": 3000, "metrics": {{
                "main": {{"n": 3000, "successes": {x}}},
                "side": {{"n": 3000, "successes": {y}}}}}}}"#
        )
    };
    let text = format!(
        r#"{{"control": "A", "primary_metric": "main", "variants": {{{}, {}, {}, {}}}}}"#,
        arm("A", 1500, 900),
        arm("B", 1560, 960),
        arm("C", 1480, 930),
        arm("D", 1620, 880)
    );
    let json = json_of(&text);
    for v in 1..4 {
        let main = &json["variants"][v]["metrics"][0]["request_level"]["comparison"];
        assert_eq!(main["adjusted"]["method"], "holm");
        let (raw, adjusted) = (
            main["p_value"].as_f64(),
            main["adjusted"]["p_value"].as_f64(),
        );
        assert!(matches!((raw, adjusted), (Some(r), Some(a)) if a >= r));
        let side = &json["variants"][v]["metrics"][1]["request_level"]["comparison"];
        assert_eq!(side["adjusted"]["method"], "benjamini_hochberg");
    }
    // Four arms of a yes/no metric also get one chi-squared over all arms.
    let arms = &json["arms_tests"][0];
    assert_eq!(
        (arms["arms"].as_u64(), arms["result"]["df"].as_f64()),
        (Some(4), Some(3.0))
    );
}

#[test]
fn the_text_report_names_levels_methods_and_the_recommendation() {
    let text = render_text(&report_of(EXAMPLE));
    for needle in [
        "control A",
        "Sample ratio: ok",
        "two-proportion z-test",
        "Recommendation: continue",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
    assert!(text.contains("insufficient data"), "{text}");
}

#[test]
fn a_thin_arm_still_counts_in_the_holm_family() {
    let text = r#"{"control": "A", "variants": {
      "A": {"weight": 1, "sessions": 3000, "metrics": {"ok": {"n": 3000, "successes": 1500}}},
      "B": {"weight": 1, "sessions": 3000, "metrics": {"ok": {"n": 3000, "successes": 1570}}},
      "C": {"weight": 0.001, "sessions": 3, "metrics": {"ok": {"n": 3, "successes": 2}}}}}"#;
    let json = json_of(text);
    let b = &json["variants"][1]["metrics"][0]["request_level"]["comparison"];
    let raw = b["p_value"].as_f64().expect("p");
    let adjusted = b["adjusted"]["p_value"].as_f64().expect("adjusted p");
    // Two treatments in the family: C's missing test counts as p = 1.
    assert!(
        (adjusted - (2.0 * raw).min(1.0)).abs() < 1e-15,
        "{raw} {adjusted}"
    );
    let c = &json["variants"][2]["metrics"][0]["request_level"]["comparison"];
    assert_eq!(c["status"], "insufficient_data");
}
