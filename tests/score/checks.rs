//! Checks shared by every intent (truncation, repetition, refusal) and the
//! relevance score.

use bedrock_tuner::score::relevance;

use super::{failed, outcome, score, score_with};

const SEARCH: &str = "Any Junji Ito?\n\n[Search results]\n\
    - Uzumaki (3-in-1 deluxe edition) | Junji Ito | ¥3,300 | in stock\n\
    - Tomie (complete edition) | Junji Ito | ¥3,080 | 2 left";

const ANSWER: &str = "Here's what we have by Junji Ito:\n\
    1. Uzumaki (3-in-1 deluxe edition) — Junji Ito — ¥3,300 — in stock\n\
    2. Tomie (complete edition) — Junji Ito — ¥3,080 — only 2 left";

#[test]
fn a_truncated_answer_is_penalised_whatever_the_family_calls_it() {
    for stop in ["max_tokens", "length", "LENGTH", "MAX_TOKENS"] {
        let report = score_with("product_search", SEARCH, ANSWER, Some(stop));
        assert!(!outcome(&report, "not_truncated").passed, "{stop}");
        assert!(report.score <= 0.5, "{stop}: {report:#?}");
    }
    for stop in [
        Some("end_turn"),
        Some("stop_sequence"),
        Some("COMPLETE"),
        None,
    ] {
        let report = score_with("product_search", SEARCH, ANSWER, stop);
        assert_eq!(report.score, 1.0, "{stop:?}: {report:#?}");
    }
}

#[test]
fn repeated_sentences_are_detected() {
    let looping = "Your order ORD-70112 has shipped with Japan Post. \
        The tracking number is 3390-1180-2245. \
        Your order ORD-70112 has shipped with Japan Post. \
        The tracking number is 3390-1180-2245.";
    let user = "where is ORD-70112?\n[Order record]\norder_id: ORD-70112\nstatus: shipped\n\
        carrier: Japan Post\ntracking_number: 3390-1180-2245";
    let report = score("order_status", user, looping);
    assert_eq!(failed(&report), ["no_repetition"], "{report:#?}");
    assert!(report.score <= 0.5);
    assert!(
        outcome(&report, "no_repetition")
            .detail
            .contains("sentence repeated")
    );
}

#[test]
fn a_phrase_loop_inside_one_sentence_is_detected() {
    let answer = "Here is a great pick for you, a great pick for you, a great pick for you, \
        a great pick for you, a great pick for you, a great pick for you";
    let report = score("chitchat", "hi", answer);
    assert!(!outcome(&report, "no_repetition").passed, "{report:#?}");
    // A list whose items share a layout is not repetition.
    let report = score("product_search", SEARCH, ANSWER);
    assert!(outcome(&report, "no_repetition").passed, "{report:#?}");
}

#[test]
fn refusals_are_detected_where_the_intent_should_answer() {
    for refusal in [
        "I'm sorry, but I can't help with that request.",
        "I cannot assist with that.",
        "申し訳ございませんが、そのご質問にはお答えできません。",
    ] {
        let report = score("product_search", SEARCH, refusal);
        assert!(
            failed(&report).contains(&"no_refusal"),
            "{refusal}: {report:#?}"
        );
        assert!(report.score <= 0.2, "{refusal}: {report:#?}");
    }
    // Saying what cannot be done is not refusing the request.
    let answer = "I can't give you a delivery date while order ORD-70118 is processing. \
        Tracking number: I don't have that information yet.";
    let user = "when will ORD-70118 come?\n[Order record]\norder_id: ORD-70118\nstatus: processing";
    assert!(outcome(&score("order_status", user, answer), "no_refusal").passed);
}

#[test]
fn relevance_is_higher_on_topic_than_off_topic() {
    let question = "How much is express shipping to Osaka and how long does it take?";
    let context = "- Domestic express: ¥880 per order, 1-2 business days\n- Domestic standard: ¥550, 2-4 business days";
    let on_topic = "Express shipping to Osaka costs ¥880 per order and takes 1-2 business days.";
    let off_topic = "One Piece is a long-running pirate adventure by Eiichiro Oda, with over a hundred volumes.";
    let (on, off) = (
        relevance(question, context, on_topic),
        relevance(question, context, off_topic),
    );
    assert!(
        on > 0.6 && off < 0.2 && on > off + 0.4,
        "on {on}, off {off}"
    );
    assert_eq!(relevance(question, context, ""), 0.0);
    for value in [on, off, relevance("", "", "anything at all")] {
        assert!((0.0..=1.0).contains(&value));
    }
}

#[test]
fn relevance_works_for_japanese() {
    let question = "北海道への送料はいくらですか？";
    let context = "国内通常配送: ¥550（沖縄・離島は¥1,100）、2〜4営業日";
    let on_topic = "北海道への通常配送の送料は¥550で、2〜4営業日でお届けします。";
    let off_topic = "ワンピースの作者は尾田栄一郎さんで、週刊少年ジャンプで連載中です。";
    let (on, off) = (
        relevance(question, context, on_topic),
        relevance(question, context, off_topic),
    );
    assert!(on > off + 0.3, "on {on}, off {off}");
    // Mixed scripts: an English question answered in Japanese still overlaps on names and numbers.
    let mixed = relevance(
        "Is ORD-51230 shipped?",
        "order_id: ORD-51230",
        "ORD-51230は発送済みです。",
    );
    assert!(
        mixed
            > relevance(
                "Is ORD-51230 shipped?",
                "order_id: ORD-51230",
                "こんにちは！"
            )
    );
}
