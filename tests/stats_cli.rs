//! `bedrock-tuner analyze` and `bedrock-tuner sample-size` through their
//! `run` functions, as `main` calls them.

use std::io::Write as _;

use clap::Parser;

use bedrock_tuner::cli::analyze::{self, AnalyzeArgs};
use bedrock_tuner::cli::sample_size::{self, SampleSizeArgs};

#[derive(Debug, Parser)]
struct AnalyzeCommand {
    #[command(flatten)]
    args: AnalyzeArgs,
}

#[derive(Debug, Parser)]
struct SampleSizeCommand {
    #[command(flatten)]
    args: SampleSizeArgs,
}

fn sample_size(argv: &[&str]) -> Result<String, String> {
    let command = SampleSizeCommand::try_parse_from(
        std::iter::once("sample-size").chain(argv.iter().copied()),
    )
    .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    sample_size::run(command.args, &mut out).map_err(|e| e.to_string())?;
    Ok(String::from_utf8(out).expect("utf-8"))
}

fn analyze_file(contents: &str, json: bool) -> Result<String, String> {
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    file.write_all(contents.as_bytes()).expect("write");
    let path = file.path().to_str().expect("path").to_string();
    let mut argv = vec!["analyze", "--summary", path.as_str()];
    if json {
        argv.push("--json");
    }
    let command = AnalyzeCommand::try_parse_from(argv).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    analyze::run(command.args, &mut out).map_err(|e| e.to_string())?;
    Ok(String::from_utf8(out).expect("utf-8"))
}

const EXAMPLE: &str = r#"{"alpha": 0.05, "control": "A",
 "variants": {
   "A": {"weight": 0.5, "sessions": 5050,
         "metrics": {"quality": {"n": 8, "sum": 6.11, "sum_sq": 4.7125},
                     "thumbs_up": {"n": 500, "successes": 420}}},
   "B": {"weight": 0.5, "sessions": 4950,
         "metrics": {"quality": {"n": 10, "sum": 8.74, "sum_sq": 7.6622},
                     "thumbs_up": {"n": 520, "successes": 455}}}}}"#;

#[test]
fn the_planning_example_needs_2036_per_variant() {
    let text = sample_size(&["--baseline", "0.85", "--mde", "0.03"]).expect("runs");
    assert!(text.starts_with("2036 per variant"), "{text}");
    assert!(text.contains("formula: two-proportion z-test"), "{text}");
    let json = sample_size(&[
        "--baseline",
        "0.85",
        "--mde",
        "0.03",
        "--alpha",
        "0.05",
        "--power",
        "0.8",
        "--json",
    ])
    .expect("runs");
    let value: serde_json::Value = serde_json::from_str(&json).expect("json");
    assert_eq!(value["per_variant"], 2036);
}

#[test]
fn a_mean_is_planned_from_its_standard_deviation() {
    // 2·(1.959964 + 0.841621)²·1²/0.1² = 1569.8 → 1570.
    let text = sample_size(&["--sd", "1", "--mde", "0.1"]).expect("runs");
    assert!(text.starts_with("1570 per variant"), "{text}");
}

#[test]
fn impossible_plans_are_explained() {
    let error = sample_size(&["--baseline", "0.99", "--mde", "0.02"]).expect_err("fails");
    assert!(error.contains("baseline + mde"), "{error}");
    let error =
        sample_size(&["--baseline", "0.5", "--sd", "1", "--mde", "0.1"]).expect_err("fails");
    assert!(error.contains("cannot be used with"), "{error}");
}

#[test]
fn analyze_prints_text_or_json() {
    let text = analyze_file(EXAMPLE, false).expect("runs");
    assert!(text.contains("Recommendation:"), "{text}");
    let json = analyze_file(EXAMPLE, true).expect("runs");
    let value: serde_json::Value = serde_json::from_str(&json).expect("json");
    assert_eq!(value["control"], "A");
}

#[test]
fn analyze_explains_a_bad_file() {
    let error = analyze_file(
        "{\"control\": \"A\", \"variants\": {}, \"extra\": 1}",
        false,
    )
    .expect_err("fails");
    assert!(error.contains("`extra`: unknown field"), "{error}");
    let error = analyze_file("not json", false).expect_err("fails");
    assert!(error.contains("not valid JSON"), "{error}");
}
