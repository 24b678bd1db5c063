//! The quality scorer, the relevance score and the text extraction helpers
//! on realistic MangaAssist requests and answers.
//!
//! Requests are built as the application sends them (the intent's system
//! prompt from `data/prompts.toml`, then the user's turn with its
//! retrieved context) and read back with `request_text_from_json`, so the
//! checks see what they will see in the proxy.

#[path = "score/checks.rs"]
mod checks;
#[path = "score/extract.rs"]
mod extract;
#[path = "score/intents.rs"]
mod intents;
#[path = "score/properties.rs"]
mod properties;

use bedrock_tuner::score::{
    CheckKind, QualityChecks, QualityReport, RawQualityTable, ScoreInput, request_text_from_json,
};
use serde_json::json;

/// The latest system prompt of `intent` in the built-in library.
fn system_prompt(intent: &str) -> String {
    let file: toml::Table =
        toml::from_str(include_str!("../data/prompts.toml")).expect("prompts.toml parses");
    let prompts = file["prompts"].as_table().expect("[prompts] table");
    let version = |key: &String| {
        key.rsplit_once("_v")
            .and_then(|(_, v)| v.parse::<u32>().ok())
    };
    let key = prompts
        .keys()
        .filter(|k| k.rsplit_once("_v").is_some_and(|(name, _)| name == intent))
        .max_by_key(|k| version(k))
        .expect("a prompt for the intent");
    prompts[key].as_str().expect("prompt text").to_string()
}

/// The request text of a Claude Messages body carrying the intent's
/// system prompt and one user turn.
fn request(intent: &str, user: &str) -> String {
    let body = json!({
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 512,
        "system": system_prompt(intent),
        "messages": [{"role": "user", "content": [{"type": "text", "text": user}]}],
    });
    request_text_from_json(&body)
}

/// Scores `answer` with the built-in checks of `intent`.
fn score_with(intent: &str, user: &str, answer: &str, stop: Option<&str>) -> QualityReport {
    let request = request(intent, user);
    QualityChecks::builtin().score(&ScoreInput {
        intent,
        request_text: &request,
        answer_text: answer,
        stop_reason: stop,
    })
}

/// Scores an answer that ended normally.
fn score(intent: &str, user: &str, answer: &str) -> QualityReport {
    score_with(intent, user, answer, Some("end_turn"))
}

/// The outcome of the named check.
fn outcome<'a>(report: &'a QualityReport, name: &str) -> &'a bedrock_tuner::score::CheckOutcome {
    report
        .checks
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no check {name} in {report:#?}"))
}

/// Names of the applied checks that failed.
fn failed(report: &QualityReport) -> Vec<&str> {
    report
        .checks
        .iter()
        .filter(|c| c.applied && !c.passed)
        .map(|c| c.name.as_str())
        .collect()
}

#[test]
fn builtin_checks_are_valid_and_cover_the_six_intents() {
    let checks =
        QualityChecks::with_overrides(&RawQualityTable::new()).expect("built-in checks are valid");
    let intents: Vec<&str> = checks.intents().collect();
    let expected = [
        "chitchat",
        "manga_qa",
        "order_status",
        "product_search",
        "recommendation",
        "shipping_info",
    ];
    assert_eq!(intents, expected);
    for intent in expected {
        let names: Vec<&str> = checks
            .for_intent(intent)
            .checks()
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        assert!(
            names.contains(&"not_truncated") && names.contains(&"no_repetition"),
            "{intent}: {names:?}"
        );
        assert_eq!(
            names.contains(&"no_refusal"),
            intent != "chitchat",
            "{intent}: {names:?}"
        );
    }
    // An intent nothing names gets the default checks alone.
    let fallback: Vec<&str> = checks
        .for_intent("returns")
        .checks()
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(
        fallback,
        ["no_refusal", "no_repetition", "not_empty", "not_truncated"]
    );
}

#[derive(serde::Deserialize)]
struct FewShotFile {
    few_shots: Vec<FewShot>,
}

#[derive(serde::Deserialize)]
struct FewShot {
    intent: String,
    user: String,
    assistant: String,
    rejected: Option<String>,
}

/// The few-shot library holds, per intent, answers that follow the system
/// prompt and, for negative examples, the wrong answer they correct: a
/// labelled set the checks must agree with. Invented facts about real
/// manga (manga_qa) need knowledge no check has, so those wrong answers
/// are not expected to score low.
#[test]
fn few_shot_answers_score_as_labelled() {
    let file: FewShotFile =
        toml::from_str(include_str!("../data/few_shots.toml")).expect("few_shots.toml parses");
    let mut rejected = 0;
    for shot in &file.few_shots {
        let good = score(&shot.intent, &shot.user, &shot.assistant);
        assert!(
            good.score >= 0.8,
            "aligned answer scored low: {:?}\n{good:#?}",
            shot.assistant
        );
        let Some(wrong) = shot
            .rejected
            .as_deref()
            .filter(|_| shot.intent != "manga_qa")
        else {
            continue;
        };
        let bad = score(&shot.intent, &shot.user, wrong);
        assert!(
            bad.score <= 0.5,
            "rejected answer scored high: {wrong:?}\n{bad:#?}"
        );
        assert!(bad.score < good.score);
        rejected += 1;
    }
    assert!(rejected >= 8, "only {rejected} rejected answers checked");
}

#[test]
fn an_empty_answer_scores_zero_for_every_intent() {
    for intent in [
        "chitchat",
        "manga_qa",
        "order_status",
        "product_search",
        "recommendation",
        "shipping_info",
        "returns",
    ] {
        let input = ScoreInput {
            intent,
            request_text: "hello?",
            answer_text: " \n ",
            stop_reason: None,
        };
        let report = QualityChecks::builtin().score(&input);
        assert_eq!(report.score, 0.0, "{report:#?}");
        assert_eq!(report.capped_by.as_deref(), Some("not_empty"));
    }
}

/// The request includes the system prompt, so a condition written with
/// the prompt's own words would fire on every request of its intent.
#[test]
fn conditions_do_not_fire_on_the_system_prompt_alone() {
    let checks = QualityChecks::builtin();
    for intent in [
        "chitchat",
        "manga_qa",
        "order_status",
        "product_search",
        "recommendation",
        "shipping_info",
    ] {
        let applied = |request: &str| -> Vec<String> {
            let input = ScoreInput {
                intent,
                request_text: request,
                answer_text: "",
                stop_reason: None,
            };
            let report = checks.score(&input);
            report
                .checks
                .into_iter()
                .filter(|c| c.applied)
                .map(|c| c.name)
                .collect()
        };
        assert_eq!(applied(&system_prompt(intent)), applied(""), "{intent}");
    }
}

fn overrides(text: &str) -> RawQualityTable {
    #[derive(serde::Deserialize)]
    struct Config {
        quality: RawQualityTable,
    }
    toml::from_str::<Config>(text)
        .expect("override parses")
        .quality
}

#[test]
fn configuration_changes_adds_and_removes_checks() {
    let table = overrides(
        r#"
        [quality.order_status.order_id]
        weight = 5
        cap = 0.1
        [quality.order_status.items_grounded]
        enabled = false
        [quality.returns.return_window]
        kind = "required"
        patterns = ['\d+ days']
        "#,
    );
    let checks = QualityChecks::with_overrides(&table).expect("valid overrides");
    let order = checks.for_intent("order_status").checks();
    let order_id = order
        .iter()
        .find(|c| c.name == "order_id")
        .expect("order_id kept");
    assert_eq!(
        (order_id.kind, order_id.weight, order_id.cap),
        (CheckKind::Required, 5.0, Some(0.1))
    );
    assert!(order.iter().all(|c| c.name != "items_grounded"));
    let returns: Vec<&str> = checks
        .for_intent("returns")
        .checks()
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(
        returns,
        [
            "no_refusal",
            "no_repetition",
            "not_empty",
            "not_truncated",
            "return_window"
        ]
    );

    let report = checks.score(&ScoreInput {
        intent: "order_status",
        request_text: "order_id: ORD-48213",
        answer_text: "Your parcel is on its way.",
        stop_reason: None,
    });
    assert_eq!(report.capped_by.as_deref(), Some("order_id"));
    assert!(report.score <= 0.1, "{report:#?}");
}

#[test]
fn configuration_errors_name_their_key_path() {
    let table = overrides(
        r#"
        [quality.order_status.order_id]
        patterns = ['\bORD-\d{4,}', 'x{9,3}']
        cap = 1.5
        [quality.order_status.tracking_number]
        min_items = 2
        [quality.shipping_info.new_check]
        weight = 1
        [quality.chitchat.brief]
        min_words = 90
        [quality.default.odd]
        kind = "sentiment"
        "#,
    );
    let errors = QualityChecks::with_overrides(&table).expect_err("invalid overrides");
    let keys: Vec<&str> = errors.iter().map(|e| e.key.as_str()).collect();
    for key in [
        "quality.order_status.order_id.patterns[1]",
        "quality.order_status.order_id.cap",
        "quality.order_status.tracking_number.min_items",
        "quality.shipping_info.new_check.kind",
        "quality.chitchat.brief.min_words",
        "quality.default.odd.kind",
    ] {
        assert!(keys.contains(&key), "{key} missing from {errors:#?}");
    }
    // The bad default check is reported once, not once per intent.
    assert_eq!(
        keys.iter().filter(|k| k.ends_with(".odd.kind")).count(),
        1,
        "{errors:#?}"
    );
    let unknown = toml::from_str::<RawQualityTable>("[order_status.order_id]\npatern = ['x']\n");
    let message = unknown.expect_err("unknown field refused").to_string();
    assert!(message.contains("unknown field `patern`"), "{message}");
}

#[test]
fn reports_serialize_for_logs_and_debug_endpoints() {
    let report = score(
        "chitchat",
        "hello!",
        "Hello, and welcome! I'm MangaAssist. Are you looking for something to read, or can I help with an order?",
    );
    let value = serde_json::to_value(&report).expect("serializes");
    assert_eq!(value["intent"], "chitchat");
    assert_eq!(value["score"], 1.0);
    let brief = value["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["name"] == "brief")
        .expect("brief");
    assert_eq!(brief["kind"], "length");
    assert_eq!(brief["passed"], true);
    assert_eq!(brief["applied"], true);
    assert!(
        brief["detail"]
            .as_str()
            .is_some_and(|d| d.contains("3 sentences")),
        "{brief}"
    );
}
