//! Whatever the text, scoring and extraction neither panic nor leave
//! their bounds.

use std::sync::LazyLock;

use bedrock_tuner::score::{
    QualityChecks, ScoreInput, StreamText, answer_text_from_json, relevance,
};
use proptest::prelude::*;
use serde_json::json;

/// Text made of the pieces the parsers look for (digits, separators,
/// currency marks, month names, CJK, full-width forms, list markers,
/// quotes), so that edge cases are hit far more often than with
/// arbitrary strings.
fn texty() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        "[0-9]{1,5}",
        Just("-".to_string()),
        Just("/".to_string()),
        Just(".".to_string()),
        Just(",".to_string()),
        Just(" ".to_string()),
        Just("\n".to_string()),
        Just("\n1. ".to_string()),
        Just("¥".to_string()),
        Just("$".to_string()),
        Just("%".to_string()),
        Just("円".to_string()),
        Just("年".to_string()),
        Just("月".to_string()),
        Just("日".to_string()),
        Just("March ".to_string()),
        Just("14th of ".to_string()),
        Just("Sept".to_string()),
        Just("\"".to_string()),
        Just("「".to_string()),
        Just("ＯＲＤ－".to_string()),
        Just("ORD-".to_string()),
        Just("İ".to_string()),
        "[A-Za-z]{1,8}",
        "[ぁ-んァ-ン一-龥]{1,4}",
        any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat())
}

static CHECKS: LazyLock<QualityChecks> = LazyLock::new(QualityChecks::builtin);

const INTENTS: [&str; 7] = [
    "order_status",
    "shipping_info",
    "product_search",
    "manga_qa",
    "recommendation",
    "chitchat",
    "unknown",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn scores_stay_in_bounds(request in texty(), answer in texty(), intent in 0..INTENTS.len()) {
        let input = ScoreInput { intent: INTENTS[intent], request_text: &request, answer_text: &answer, stop_reason: Some("end_turn") };
        let report = CHECKS.score(&input);
        prop_assert!((0.0..=1.0).contains(&report.score), "{report:#?}");
        prop_assert!(report.checks.iter().all(|c| c.applied || c.weight == 0.0));
        let value = relevance(&request, &answer, &answer);
        prop_assert!((0.0..=1.0).contains(&value));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn stream_text_respects_its_limit(parts in prop::collection::vec(texty(), 0..8), limit in 0usize..200) {
        let mut text = StreamText::with_limit(limit);
        for part in &parts {
            text.push(&json!({"delta": {"text": part}}));
        }
        let total: usize = parts.iter().map(String::len).sum();
        prop_assert!(text.text().len() <= limit);
        prop_assert_eq!(text.truncated(), total > limit);
        let body = json!({"content": [{"type": "text", "text": parts.concat()}]});
        prop_assert!(answer_text_from_json(&body).len() <= total);
    }
}
