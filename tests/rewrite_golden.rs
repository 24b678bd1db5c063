//! Golden tests of the request rewriter: for every family and for Converse,
//! a body before (`before.json`, or `before.txt` for bodies that are not
//! JSON) and the expected body after (`after.json`), with the plan and the
//! expected report in `case.toml`, under `tests/golden/rewrite/<case>/`.
//!
//! Each case checks that the result equals `after.json` as JSON, that every
//! top-level value the rewrite did not change keeps its exact bytes, that
//! the report says what `case.toml` expects, and that a second rewrite with
//! the same plan returns the same bytes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bedrock_tuner::rewrite::{
    Api, FewShot, InferenceParams, ModelLimits, PromptMode, RewritePlan, RewriteReport, rewrite,
};
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    description: String,
    model_id: String,
    api: String,
    #[serde(default)]
    untouched: Vec<String>,
    #[serde(default)]
    plan: PlanSpec,
    expect: Expect,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct PlanSpec {
    temperature: Option<f64>,
    top_k: Option<u32>,
    top_p: Option<f64>,
    max_tokens: Option<u32>,
    stop_sequences: Option<Vec<String>>,
    frequency_penalty: Option<f64>,
    system_prompt: Option<String>,
    prompt_mode: Option<String>,
    #[serde(default)]
    few_shots: Vec<ShotSpec>,
    #[serde(default)]
    app_values_win: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ShotSpec {
    user: String,
    assistant: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Expect {
    error: Option<String>,
    #[serde(default)]
    set: Vec<String>,
    #[serde(default)]
    dropped: Vec<String>,
    #[serde(default)]
    clamped: Vec<String>,
    system: Option<String>,
    few_shots: Option<String>,
}

fn plan_of(spec: PlanSpec) -> RewritePlan {
    let prompt_mode = match spec.prompt_mode.as_deref() {
        None | Some("prepend") => PromptMode::Prepend,
        Some("replace") => PromptMode::Replace,
        Some("append") => PromptMode::Append,
        Some("keep") => PromptMode::Keep,
        Some(other) => panic!("unknown prompt_mode {other}"),
    };
    RewritePlan {
        params: InferenceParams {
            temperature: spec.temperature,
            top_k: spec.top_k,
            top_p: spec.top_p,
            max_tokens: spec.max_tokens,
            stop_sequences: spec.stop_sequences,
            frequency_penalty: spec.frequency_penalty,
        },
        system_prompt: spec.system_prompt,
        prompt_mode,
        few_shots: spec
            .few_shots
            .into_iter()
            .map(|s| FewShot {
                user: s.user,
                assistant: s.assistant,
            })
            .collect(),
        app_values_win: spec.app_values_win,
    }
}

fn case_dirs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/rewrite");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .map(|entry| entry.expect("dir entry").path())
        .filter(|p| p.join("case.toml").is_file())
        .collect();
    dirs.sort();
    dirs
}

fn read_before(dir: &Path) -> Vec<u8> {
    let json = dir.join("before.json");
    let path = if json.is_file() {
        json
    } else {
        dir.join("before.txt")
    };
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The report in the compact notation of `case.toml`.
fn summary(report: &RewriteReport) -> Expect {
    Expect {
        error: None,
        set: report
            .set
            .iter()
            .map(|s| format!("{}@{}", s.param, s.location))
            .collect(),
        dropped: report
            .dropped
            .iter()
            .map(|d| format!("{}:{}", d.param, d.reason.as_str()))
            .collect(),
        clamped: report
            .clamped
            .iter()
            .map(|c| format!("{}:{}:{}->{}", c.param, c.reason.as_str(), c.from, c.to))
            .collect(),
        system: report
            .system_prompt
            .as_ref()
            .map(|s| format!("{}@{}", s.action.as_str(), s.location)),
        few_shots: report.few_shots.as_ref().map(|f| match f.skipped {
            Some(reason) => format!("0@{}:{}", f.location, reason.as_str()),
            None => format!("{}@{}", f.injected, f.location),
        }),
    }
}

fn top_level(body: &[u8]) -> BTreeMap<String, Box<RawValue>> {
    serde_json::from_slice(body).expect("top level parses")
}

/// Top-level values equal as JSON before and after must be equal as bytes.
fn check_untouched_bytes(name: &str, before: &[u8], after: &[u8], declared: &[String]) {
    let (b, a) = (top_level(before), top_level(after));
    for key in declared {
        assert!(
            b.contains_key(key),
            "{name}: declared untouched key {key} is not in before.json"
        );
    }
    for (key, old) in &b {
        let Some(new) = a.get(key) else { continue };
        let same_json = serde_json::from_str::<Value>(old.get()).ok()
            == serde_json::from_str::<Value>(new.get()).ok();
        if same_json || declared.contains(key) {
            assert_eq!(
                old.get(),
                new.get(),
                "{name}: bytes of untouched `{key}` changed"
            );
        }
    }
}

fn load_case(dir: &Path) -> (String, Case, Api) {
    let name = dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("?")
        .to_string();
    let text = std::fs::read_to_string(dir.join("case.toml")).expect("case.toml");
    let case: Case = toml::from_str(&text).unwrap_or_else(|e| panic!("{name}/case.toml: {e}"));
    assert!(!case.description.is_empty(), "{name}: describe the case");
    let api = match case.api.as_str() {
        "invoke_model" => Api::InvokeModel,
        "converse" => Api::Converse,
        other => panic!("{name}: unknown api {other}"),
    };
    (name, case, api)
}

fn run_case(dir: &Path, limits: &ModelLimits) {
    let (name, case, api) = load_case(dir);
    let plan = plan_of(case.plan);
    let before = read_before(dir);
    let result = rewrite(&case.model_id, api, &before, &plan, limits);
    if let Some(kind) = &case.expect.error {
        let err = result.expect_err(&format!("{name}: expected error {kind}"));
        assert_eq!(err.kind(), kind, "{name}: {err}");
        return;
    }
    let out = result.unwrap_or_else(|e| panic!("{name}: {e}"));
    let want: Value =
        serde_json::from_slice(&std::fs::read(dir.join("after.json")).expect("after.json"))
            .expect("after.json parses");
    let got: Value = serde_json::from_slice(&out.body)
        .unwrap_or_else(|e| panic!("{name}: output is not JSON: {e}"));
    let pretty = |v: &Value| serde_json::to_string_pretty(v).unwrap_or_default();
    assert_eq!(
        got,
        want,
        "{name}: body differs\n got: {}\nwant: {}",
        pretty(&got),
        pretty(&want)
    );
    check_untouched_bytes(&name, &before, &out.body, &case.untouched);
    check_report(&name, &out.report, &case.expect);
    let again = rewrite(&case.model_id, api, &out.body, &plan, limits)
        .unwrap_or_else(|e| panic!("{name}: second pass: {e}"));
    assert_eq!(
        String::from_utf8_lossy(&again.body),
        String::from_utf8_lossy(&out.body),
        "{name}: second pass changed the body"
    );
    assert!(
        !again.report.body_changed,
        "{name}: second pass reports a change"
    );
}

fn check_report(name: &str, report: &RewriteReport, e: &Expect) {
    let s = summary(report);
    assert_eq!(
        (&s.set, &s.dropped, &s.clamped),
        (&e.set, &e.dropped, &e.clamped),
        "{name}: report\n{report}"
    );
    assert_eq!(
        (&s.system, &s.few_shots),
        (&e.system, &e.few_shots),
        "{name}: report\n{report}"
    );
}

#[test]
fn golden_cases() {
    let limits = ModelLimits::builtin().expect("built-in limits");
    let dirs = case_dirs();
    assert!(
        dirs.len() >= 20,
        "expected the golden cases, found {}",
        dirs.len()
    );
    for dir in &dirs {
        run_case(dir, &limits);
    }
}

#[test]
fn unchanged_bodies_are_returned_byte_for_byte() {
    let limits = ModelLimits::builtin().expect("built-in limits");
    let body = b"{\"anthropic_version\": \"bedrock-2023-05-31\",\n \"max_tokens\": 64, \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}";
    let out = rewrite(
        "anthropic.claude-3-haiku-20240307-v1:0",
        Api::InvokeModel,
        body,
        &RewritePlan::default(),
        &limits,
    )
    .expect("rewrites");
    assert_eq!(out.body, body.to_vec());
    assert!(!out.report.body_changed);
}

#[test]
fn dry_run_report_reads_as_one_decision_per_line() {
    let limits = ModelLimits::builtin().expect("built-in limits");
    let body = br#"{"anthropic_version":"bedrock-2023-05-31","max_tokens":64,"top_p":0.8,"messages":[{"role":"user","content":"hi"}]}"#;
    let plan = RewritePlan {
        params: InferenceParams {
            temperature: Some(0.2),
            frequency_penalty: Some(0.1),
            max_tokens: Some(90000),
            ..Default::default()
        },
        system_prompt: Some("Be terse.".into()),
        ..Default::default()
    };
    let out = rewrite(
        "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
        Api::InvokeModel,
        body,
        &plan,
        &limits,
    )
    .expect("rewrites");
    let text = out.report.to_string();
    let want = [
        "family claude, api invoke_model, body changed",
        "  set      temperature = 0.2 at temperature",
        "  set      max_tokens = 64000 at max_tokens (application had 64)",
        "  clamped  max_tokens 90000 -> 64000 (above_maximum)",
        "  dropped  frequency_penalty = 0.1 from profile (family_lacks)",
        "  dropped  top_p = 0.8 from application (refused_combination): removed from top_p; model refuses temperature with top_p",
        "  system   inserted at system",
    ];
    assert_eq!(text.lines().collect::<Vec<_>>(), want, "{text}");
    let labels: Vec<_> = out.report.drop_labels().collect();
    assert_eq!(
        labels,
        vec![
            ("frequency_penalty", "family_lacks"),
            ("top_p", "refused_combination")
        ]
    );
}
