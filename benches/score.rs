//! Cost of scoring one answer, which the proxy may do for every
//! observation of an experiment: the target is well under a millisecond
//! for a typical answer (1-2 KB) against a typical request (about 4 KB of
//! system prompt, conversation and retrieved context).
//!
//! The product-search case runs the heaviest built-in checks (titles,
//! prices and dates grounded against the request, a numbered list with
//! per-item patterns); the order-status case runs the most patterns.

use std::hint::black_box;

use bedrock_tuner::score::{
    QualityChecks, ScoreInput, answer_text_from_json, relevance, request_text_from_json,
};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::{Value, json};

const SYSTEM: &str = "You are MangaAssist, a knowledgeable product search assistant for a Japanese \
manga store. RULES: 1. Present search results with title, author, price, and availability. 2. Only cite \
products that appear in the retrieved context — never invent titles. 3. If fewer than 3 results match, \
suggest broadening the search. 4. Highlight any ongoing discounts or bundle deals. 5. Format results as \
a numbered list for easy scanning.";

const SERIES: [(&str, &str); 12] = [
    ("One Piece", "Eiichiro Oda"),
    ("Jujutsu Kaisen", "Gege Akutami"),
    ("Spy x Family", "Tatsuya Endo"),
    ("Chainsaw Man", "Tatsuki Fujimoto"),
    ("Blue Lock", "Muneyuki Kaneshiro"),
    ("Dandadan", "Yukinobu Tatsu"),
    ("Frieren: Beyond Journey's End", "Kanehito Yamada"),
    ("Kaguya-sama: Love Is War", "Aka Akasaka"),
    ("Witch Hat Atelier", "Kamome Shirahama"),
    ("Dungeon Meshi", "Ryoko Kui"),
    ("Sakamoto Days", "Yuto Suzuki"),
    ("Blue Period", "Tsubasa Yamaguchi"),
];

/// A Claude body: system prompt, two earlier turns and a search result
/// block of 36 products, about 4 KB.
fn request_body() -> Value {
    let mut results = String::from("[Search results]\n");
    for (i, (title, author)) in SERIES.iter().cycle().take(48).enumerate() {
        let price = 484 + 11 * i;
        results.push_str(&format!(
            "- {title} vol. {} | {author} | ¥{price} | in stock\n",
            i + 1
        ));
    }
    results.push_str("[Promotions]\n- Spring sale: 5% off box sets (until 2025-04-15)\n");
    json!({
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 800,
        "system": SYSTEM,
        "messages": [
            {"role": "user", "content": "hi, I'm looking for something new to read"},
            {"role": "assistant", "content": "Happy to help! Tell me a series or a genre and I'll search the catalog."},
            {"role": "user", "content": [{"type": "text", "text": format!("What shonen volumes do you have?\n\n{results}")}]}
        ]
    })
}

/// A Claude answer listing twelve of the products, about 1.5 KB.
fn answer_body() -> Value {
    let mut text = String::from("Here are the shonen volumes we have in stock right now:\n");
    for (i, (title, author)) in SERIES.iter().enumerate() {
        let price = 484 + 11 * i;
        text.push_str(&format!(
            "{}. {title} vol. {} — {author} — ¥{price} — in stock, ready to ship today\n",
            i + 1,
            i + 1
        ));
    }
    text.push_str("\nDeal: box sets are 5% off in the spring sale until 2025-04-15, so a complete set may be the \
        cheapest way to start a new series. If you'd like more options, tell me a genre and I'll broaden the search.");
    json!({"id": "msg_1", "type": "message", "role": "assistant",
           "content": [{"type": "text", "text": text}], "stop_reason": "end_turn"})
}

const ORDER_REQUEST: &str = "Where is my order ORD-61207?\n\n[Order record]\norder_id: ORD-61207\n\
status: shipped\nitems: Blue Period vol. 15 (x1), Dungeon Meshi vol. 14 (x1)\nshipped_on: 2025-04-02\n\
carrier: Yamato Transport\ntracking_number: 4471-8830-2169\nestimated_delivery: 2025-04-04";

const ORDER_ANSWER: &str = "Your order ORD-61207 (Blue Period vol. 15 and Dungeon Meshi vol. 14) has shipped.\n\
- Shipped: 2025-04-02 with Yamato Transport\n- Tracking number: 4471-8830-2169\n\
- Estimated delivery (from the carrier record): 2025-04-04\n\n\
You can follow the parcel on Yamato Transport's tracking page with that number.";

fn bench(c: &mut Criterion) {
    let checks = QualityChecks::builtin();
    let (request_json, answer_json) = (request_body(), answer_body());
    let request = request_text_from_json(&request_json);
    let answer = answer_text_from_json(&answer_json);
    let mut group = c.benchmark_group("score");
    group.throughput(Throughput::Bytes((request.len() + answer.len()) as u64));
    let input = ScoreInput {
        intent: "product_search",
        request_text: &request,
        answer_text: &answer,
        stop_reason: Some("end_turn"),
    };
    let name = format!(
        "product_search {} B answer, {} B request",
        answer.len(),
        request.len()
    );
    group.bench_function(name, |b| b.iter(|| checks.score(black_box(&input))));
    let order_request = format!("{SYSTEM}\n{ORDER_REQUEST}");
    let order = ScoreInput {
        intent: "order_status",
        request_text: &order_request,
        answer_text: ORDER_ANSWER,
        stop_reason: None,
    };
    group.bench_function("order_status", |b| {
        b.iter(|| checks.score(black_box(&order)))
    });
    group.bench_function("relevance", |b| {
        b.iter(|| relevance(black_box(&request), "", black_box(&answer)))
    });
    group.bench_function("request_text_from_json", |b| {
        b.iter(|| request_text_from_json(black_box(&request_json)))
    });
    group.bench_function("answer_text_from_json", |b| {
        b.iter(|| answer_text_from_json(black_box(&answer_json)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
