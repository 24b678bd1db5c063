//! Each intent's built-in checks on good and bad answers.

use bedrock_tuner::score::{QualityChecks, ScoreInput, request_text_from_json};
use serde_json::json;

use super::{failed, outcome, score};

const SHIPPED: &str = "Where is my order ORD-61207?

[Order record]
order_id: ORD-61207
status: shipped
items: Blue Period vol. 15 (x1), Dungeon Meshi vol. 14 (x1)
shipped_on: 2025-04-02
carrier: Yamato Transport
tracking_number: 4471-8830-2169
estimated_delivery: 2025-04-04";

const PROCESSING: &str = "When will order ORD-61544 get here? I need it by the weekend.

[Order record]
order_id: ORD-61544
status: processing
items: Sakamoto Days vol. 18 (x1)
ordered_on: 2025-04-05
tracking_number: (none)
estimated_delivery: (none)";

#[test]
fn correct_order_answer_scores_high() {
    let answer = "**Order ORD-61207** has shipped!\n\n\
        - **Items:** Blue Period vol. 15 and Dungeon Meshi vol. 14\n\
        - **Shipped:** 2025-04-02 via Yamato Transport\n\
        - **Tracking Number:** 4471-8830-2169\n\
        - **Estimated Delivery:** 2025-04-04\n\n\
        You can follow the parcel on Yamato Transport's tracking page.";
    let report = score("order_status", SHIPPED, answer);
    assert_eq!(failed(&report), Vec::<&str>::new(), "{report:#?}");
    assert!(report.score >= 0.95, "{report:#?}");
    // The processing-only checks did not apply to a shipped order.
    assert!(!outcome(&report, "no_delivery_date_while_processing").applied);
}

#[test]
fn fabricated_delivery_date_for_a_processing_order_scores_low() {
    let answer = "Good news! Order ORD-61544 (Sakamoto Days vol. 18) should arrive on 2025-04-08, \
        just in time for the weekend.";
    let report = score("order_status", PROCESSING, answer);
    assert!(report.score <= 0.2, "{report:#?}");
    let failures = failed(&report);
    for name in [
        "dates_grounded",
        "no_delivery_date_while_processing",
        "tracking_number",
    ] {
        assert!(failures.contains(&name), "{name} should fail: {report:#?}");
    }
    assert!(
        outcome(&report, "dates_grounded")
            .detail
            .contains("2025-04-08")
    );
}

#[test]
fn processing_order_answered_without_a_prediction_scores_high() {
    let answer = "Order ORD-61544 (Sakamoto Days vol. 18), placed on 2025-04-05, is still processing.\n\
        - Tracking number: I don't have that information yet.\n\
        - Delivery date: I don't have that information yet, and I can't predict one while the order is processing.";
    let report = score("order_status", PROCESSING, answer);
    assert_eq!(failed(&report), Vec::<&str>::new(), "{report:#?}");
    assert!(outcome(&report, "no_delivery_date_while_processing").applied);
}

#[test]
fn only_a_date_in_a_delivery_clause_is_a_delivery_date() {
    let tail = " Tracking number: I don't have that information yet.";
    for (answer, predicted) in [
        (
            "Order ORD-61544 was placed on 2025-04-05 and hasn't been delivered yet.",
            false,
        ),
        (
            "Order ORD-61544, placed on 2025-04-05, is processing. Delivery date: I don't have that information yet.",
            false,
        ),
        ("Order ORD-61544 should arrive on 2025-04-08.", true),
        ("Order ORD-61544 - estimated delivery: 2025-04-08.", true),
        ("ご注文ORD-61544は2025-04-08にお届け予定です。", true),
    ] {
        let report = score("order_status", PROCESSING, &format!("{answer}{tail}"));
        let check = outcome(&report, "no_delivery_date_while_processing");
        assert_eq!(!check.passed, predicted, "{answer}: {check:#?}");
    }
}

#[test]
fn a_prediction_without_a_date_is_caught_too() {
    let answer = "Order ORD-61544 is processing; it usually arrives in 2-3 business days. \
        Tracking number: I don't have that information yet.";
    let report = score("order_status", PROCESSING, answer);
    assert!(
        failed(&report).contains(&"no_delivery_estimate_while_processing"),
        "{report:#?}"
    );
    assert!(report.score <= 0.3, "{report:#?}");
}

#[test]
fn a_date_from_the_question_is_still_no_delivery_date() {
    let user = "Will ORD-61544 arrive before 2025-04-12?\n\n[Order record]\norder_id: ORD-61544\nstatus: processing";
    let answer = "Yes, order ORD-61544 will arrive before 2025-04-12. Tracking number: I don't have that information yet.";
    let report = score("order_status", user, answer);
    assert!(
        outcome(&report, "dates_grounded").passed,
        "the date is in the request"
    );
    assert!(
        !outcome(&report, "no_delivery_date_while_processing").passed,
        "{report:#?}"
    );
    assert!(report.score <= 0.2);
}

#[test]
fn order_dates_must_be_iso_and_ids_real() {
    let report = score(
        "order_status",
        SHIPPED,
        "Order ORD-61207 shipped on April 2, 2025 (tracking 4471-8830-2169) and should arrive April 4.",
    );
    assert_eq!(
        failed(&report),
        ["iso_dates"],
        "grounded but not YYYY-MM-DD: {report:#?}"
    );
    assert!(report.score > 0.7 && report.score < 1.0);

    let invented = score(
        "order_status",
        SHIPPED,
        "Order ORD-61207 shipped on 2025-04-02. Your tracking number is 4471-0000-1234.",
    );
    assert!(failed(&invented).contains(&"ids_grounded"), "{invented:#?}");
    assert!(invented.score <= 0.3);
}

#[test]
fn order_id_written_differently_and_japanese_answers() {
    let report = score(
        "order_status",
        SHIPPED,
        "Order #61207 shipped 2025-04-02 with Yamato Transport, tracking number 4471-8830-2169.",
    );
    assert_eq!(
        failed(&report),
        Vec::<&str>::new(),
        "#61207 is ORD-61207: {report:#?}"
    );

    let user = "注文ORD-61890の状況は？\n\n[Order record]\norder_id: ORD-61890\nstatus: shipped\n\
        items: 葬送のフリーレン 14巻 (x1)\nshipped_on: 2025-04-03\ncarrier: 日本郵便\n\
        tracking_number: 3390-4418-7702\nestimated_delivery: 2025-04-05";
    let answer = "ご注文ORD-61890（葬送のフリーレン 14巻）は2025-04-03に日本郵便で発送されました。\n\
        - 追跡番号: 3390-4418-7702\n- お届け予定日: 2025-04-05";
    let report = score("order_status", user, answer);
    assert_eq!(failed(&report), Vec::<&str>::new(), "{report:#?}");
    let wrong = answer.replace("2025-04-05", "2025年4月6日");
    let report = score("order_status", user, &wrong);
    assert!(failed(&report).contains(&"iso_dates") && failed(&report).contains(&"dates_grounded"));
}

#[test]
fn processing_status_inside_a_converse_tool_result_is_seen() {
    let body = json!({
        "system": [{"text": super::system_prompt("order_status")}],
        "messages": [
            {"role": "user", "content": [{"text": "When does ORD-61544 arrive?"}]},
            {"role": "assistant", "content": [{"toolUse": {"toolUseId": "t1", "name": "get_order", "input": {"id": "ORD-61544"}}}]},
            {"role": "user", "content": [{"toolResult": {"toolUseId": "t1", "content": [
                {"json": {"order_id": "ORD-61544", "status": "processing", "ordered_on": "2025-04-05"}}
            ]}}]}
        ]
    });
    let request = request_text_from_json(&body);
    let report = QualityChecks::builtin().score(&ScoreInput {
        intent: "order_status",
        request_text: &request,
        answer_text: "Order ORD-61544 will be delivered on 2025-04-05. Tracking number: I don't have that information yet.",
        stop_reason: Some("end_turn"),
    });
    assert!(
        !outcome(&report, "no_delivery_date_while_processing").passed,
        "{report:#?}"
    );
    assert!(report.score <= 0.2);
}

const SEARCH: &str = "Do you have Chainsaw Man?

[Search results]
- Chainsaw Man vol. 1 | Tatsuki Fujimoto | ¥528 | in stock
- Chainsaw Man vol. 17 | Tatsuki Fujimoto | ¥528 | in stock
- Chainsaw Man vol. 1-11 set | Tatsuki Fujimoto | ¥5,808 | 1 left
[Promotions]
- 10% off all sets with code SET10";

const GOOD_SEARCH: &str = "Yes! Here's what we have:\n\
    1. Chainsaw Man vol. 1 — Tatsuki Fujimoto — ¥528 — in stock\n\
    2. Chainsaw Man vol. 17 — Tatsuki Fujimoto — ¥528 — in stock\n\
    3. Chainsaw Man vol. 1-11 set — Tatsuki Fujimoto — ¥5,808 — only 1 left\n\n\
    Deal: sets are 10% off with code SET10.";

#[test]
fn product_search_from_the_results_scores_high() {
    let report = score("product_search", SEARCH, GOOD_SEARCH);
    assert_eq!(failed(&report), Vec::<&str>::new(), "{report:#?}");
    assert_eq!(report.score, 1.0);
}

#[test]
fn product_search_citing_a_title_not_in_the_results_scores_low() {
    let answer = GOOD_SEARCH.replace(
        "\n\nDeal",
        "\n4. Chainsaw Man: Buddy Stories — Tatsuki Fujimoto — ¥528 — in stock\n\nDeal",
    );
    let report = score("product_search", SEARCH, &answer);
    assert!(report.score <= 0.3, "{report:#?}");
    let titles = outcome(&report, "titles_grounded");
    assert!(
        !titles.passed && titles.detail.contains("Buddy Stories"),
        "{titles:#?}"
    );

    let price = score(
        "product_search",
        SEARCH,
        &GOOD_SEARCH.replace("¥5,808", "¥4,980"),
    );
    assert_eq!(failed(&price), ["prices_grounded"], "{price:#?}");
    assert!(price.score <= 0.3);
}

#[test]
fn product_search_list_needs_price_and_availability() {
    let answer =
        "1. Chainsaw Man vol. 1 by Tatsuki Fujimoto\n2. Chainsaw Man vol. 17 by Tatsuki Fujimoto";
    let report = score("product_search", SEARCH, answer);
    assert_eq!(failed(&report), ["numbered_list"], "{report:#?}");
    let prose = score(
        "product_search",
        SEARCH,
        "We have Chainsaw Man vol. 1 and vol. 17, both ¥528 and in stock.",
    );
    assert_eq!(failed(&prose), ["numbered_list"], "{prose:#?}");
    let none = "Do you have Vinland Saga vol. 30?\n\n[Search results]\n(no matching products)";
    let report = score(
        "product_search",
        none,
        "I couldn't find Vinland Saga vol. 30 in our catalog. Try searching just \"Vinland Saga\" to see every volume.",
    );
    assert_eq!(
        failed(&report),
        Vec::<&str>::new(),
        "no list expected: {report:#?}"
    );
}

const RECOMMEND: &str = "I loved Frieren. What should I read next?";

#[test]
fn recommendation_with_four_well_formed_titles_scores_high() {
    let answer = "If Frieren's quiet, reflective fantasy is what you loved, try these:\n\
        1. Witch Hat Atelier — ongoing — [fantasy, adventure] — Gorgeous art and a gentle story about learning magic.\n\
        2. Mushishi — 10 volumes — [supernatural, slice of life] — Calm, episodic wandering with the same melancholy.\n\
        3. Aria — 12 volumes — [slice of life, sci-fi] — Soft and soothing, about small moments and the passing of time.\n\
        4. Land of the Lustrous — 12 volumes — [fantasy, drama] — A lesser-known gem on immortality and change.";
    let report = score("recommendation", RECOMMEND, answer);
    assert_eq!(failed(&report), Vec::<&str>::new(), "{report:#?}");
    assert!(report.score >= 0.95);
}

#[test]
fn recommendation_with_one_title_or_too_many_scores_low() {
    let one = "You should read Witch Hat Atelier — ongoing — [fantasy] — it has the same gentle magic as Frieren.";
    let report = score("recommendation", RECOMMEND, one);
    assert!(report.score <= 0.4, "{report:#?}");
    let single = "1. Witch Hat Atelier — ongoing — [fantasy] — the same gentle magic as Frieren, beautifully drawn.";
    assert!(score("recommendation", RECOMMEND, single).score <= 0.4);

    let item = |n: u32| {
        format!(
            "{n}. Title {n} — {n} volumes — [fantasy] — fits because it is calm and reflective.\n"
        )
    };
    let six: String = (1..=6).map(item).collect();
    let report = score("recommendation", RECOMMEND, &six);
    assert!(
        outcome(&report, "title_count").detail.contains("at most 5"),
        "{report:#?}"
    );
    // Without genre tags or a volume count the items are incomplete.
    let bare = "1. Witch Hat Atelier - lovely magic and art\n2. Mushishi - calm and eerie stories\n3. Aria - soothing and slow";
    let report = score("recommendation", RECOMMEND, bare);
    assert!(failed(&report).contains(&"item_details"), "{report:#?}");
}

#[test]
fn a_clarifying_question_is_a_valid_recommendation_answer() {
    let report = score(
        "recommendation",
        "recommend me something",
        "Happy to help! Is there a manga or anime you've enjoyed recently, or a genre you're in the mood for?",
    );
    assert_eq!(failed(&report), Vec::<&str>::new(), "{report:#?}");
}

const POLICY: &str = "How long does shipping to France take, and what does it cost?

[Shipping policy]
- International: Japan Post EMS to the countries listed at checkout, including France
- International EMS: ¥2,000-¥6,000 depending on parcel weight, 5-10 business days
- Customs duties and import taxes are paid by the recipient";

#[test]
fn shipping_answers_must_quote_the_policy() {
    let good = "Shipping to France by Japan Post EMS takes 5-10 business days and costs ¥2,000-¥6,000 \
        depending on parcel weight.\n- Customs duties or import taxes may apply in France, paid by the recipient.";
    let report = score("shipping_info", POLICY, good);
    assert_eq!(failed(&report), Vec::<&str>::new(), "{report:#?}");
    let invented =
        "Shipping to France takes about 3 days and costs a flat ¥1,500, with 10% off this month.";
    let report = score("shipping_info", POLICY, invented);
    let failures = failed(&report);
    for name in [
        "fees_grounded",
        "delivery_times_grounded",
        "customs_mentioned",
    ] {
        assert!(failures.contains(&name), "{name}: {report:#?}");
    }
    assert!(report.score <= 0.3);
}

#[test]
fn chitchat_stays_brief_and_invents_nothing() {
    let user = "hi! any sales this weekend?";
    let good = "Hi there! I don't have that information yet; I can't see any sales. Can I help you find something to read?";
    assert_eq!(score("chitchat", user, good).score, 1.0);
    let sale = "Hi! Yes, everything is 20% off this weekend!";
    let report = score("chitchat", user, sale);
    assert!(
        failed(&report).contains(&"nothing_invented") && report.score <= 0.3,
        "{report:#?}"
    );
    let chatty = "Hi! Great question. I love talking about manga. There are so many great series. \
        Some are long and some are short. Let me know what you like. I can help with orders too.";
    let report = score("chitchat", user, chatty);
    assert_eq!(failed(&report), ["brief"], "{report:#?}");
    // Declining is part of chitchat's job, not a refusal.
    let decline =
        "I'm sorry, I can't help with that; I'll stay out of politics. Want a manga tip instead?";
    assert_eq!(
        score("chitchat", "who should I vote for?", decline).score,
        1.0
    );
}

#[test]
fn manga_answers_stay_short_unless_detail_is_asked_for() {
    let long = "Frieren: Beyond Journey's End begins after the adventure is over. The hero Himmel and his party \
        have defeated the Demon King, and the elf mage Frieren, who will live for more than a thousand years, \
        barely notices the decade they spent together. Fifty years later Himmel dies, and at his funeral she \
        realises she never tried to know him. She sets out again, this time with Fern, the apprentice of her \
        old companion Heiter, and later with Stark, the pupil of the warrior Eisen. Their route retraces the \
        first journey toward the land where souls are said to rest, so that she can speak with Himmel once \
        more. Along the way she collects odd spells, such as one that makes flowers bloom, and remembers \
        moments she had ignored. The battles against demons are sharp and clever, yet the heart of the series \
        is grief, memory and the value of time spent with people who age far faster than you do. Kanehito \
        Yamada writes it and Tsukasa Abe draws it, and it has run in Weekly Shonen Sunday since 2020.";
    let report = score("manga_qa", "What is Frieren about?", long);
    assert_eq!(failed(&report), ["length"], "{report:#?}");
    let report = score("manga_qa", "Explain Frieren in detail, please.", long);
    assert!(!outcome(&report, "length").applied);
    let asked = score(
        "manga_qa",
        "Spoilers are fine: how does Frieren's fight with Aura end?",
        "Frieren wins: she reveals that her true mana was far greater than she showed, and turns Aura's own scales against her.",
    );
    assert_eq!(failed(&asked), ["spoiler_warning"], "{asked:#?}");
}
