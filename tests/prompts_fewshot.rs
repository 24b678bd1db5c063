//! The prompt library and the few-shot library: built-in content, config
//! overrides and their errors, per-session selection, strategy guarantees,
//! and every built-in example obeying its intent's prompt rules.

use std::collections::{BTreeMap, BTreeSet};

use bedrock_tuner::fewshot::{FewShot, FewShotEntry, FewShotLibrary, Strategy, Tag};
use bedrock_tuner::prompts::{PromptLibrary, split_key};

const INTENTS: [&str; 6] = [
    "order_status",
    "shipping_info",
    "product_search",
    "manga_qa",
    "recommendation",
    "chitchat",
];

// ------------------------------------------------------------------ prompts

#[test]
fn ships_the_three_reference_prompts_verbatim() {
    let lib = PromptLibrary::builtin();
    assert_eq!(
        lib.get("order_status_v3"),
        Some(
            "You are MangaAssist, a precise order-tracking assistant for a Japanese manga store. RULES: 1. Only report data retrieved from the order database. Never estimate or guess dates. 2. If a field is unavailable, say 'I don't have that information yet' — do not fabricate. 3. Format dates as YYYY-MM-DD. 4. Include the order ID and tracking number in every response. 5. If the order status is 'processing', do NOT predict a delivery date."
        )
    );
    assert_eq!(
        lib.get("recommendation_v5"),
        Some(
            "You are MangaAssist, an enthusiastic manga recommendation specialist. RULES: 1. Suggest 3-5 titles per request, mixing popular and hidden gems. 2. Explain WHY each title fits the user's taste (genre, art style, themes). 3. Never recommend the same set of titles twice in a session — check conversation history. 4. Include genre tags and volume count for each recommendation. 5. If the user's preferences are vague, ask one clarifying question before recommending."
        )
    );
    assert_eq!(
        lib.get("product_search_v4"),
        Some(
            "You are MangaAssist, a knowledgeable product search assistant for a Japanese manga store. RULES: 1. Present search results with title, author, price, and availability. 2. Only cite products that appear in the retrieved context — never invent titles. 3. If fewer than 3 results match, suggest broadening the search. 4. Highlight any ongoing discounts or bundle deals. 5. Format results as a numbered list for easy scanning."
        )
    );
}

#[test]
fn every_intent_has_a_latest_prompt_in_the_house_style() {
    let lib = PromptLibrary::builtin();
    let latest: Vec<_> = INTENTS.iter().map(|i| lib.latest(i)).collect();
    let want = [
        "order_status_v3",
        "shipping_info_v2",
        "product_search_v4",
        "manga_qa_v3",
        "recommendation_v5",
        "chitchat_v2",
    ];
    assert_eq!(latest, want.map(Some));
    for key in lib.keys() {
        let text = lib.get(key).unwrap_or_default();
        assert!(split_key(key).is_some(), "{key}");
        assert!(text.starts_with("You are MangaAssist"), "{key}");
        assert!(text.contains("RULES: 1. "), "{key}");
        assert!(
            !text.contains('\n') && !text.contains("  "),
            "{key}: one line, single spaces"
        );
    }
    assert_eq!(
        lib.get("order_status_v2").map(|t| t.is_empty()),
        Some(false)
    );
}

#[test]
fn config_prompts_merge_over_builtins() {
    let overrides = BTreeMap::from([
        (
            "order_status_v3".to_string(),
            "You are MangaAssist. Be exact.".to_string(),
        ),
        (
            "order_status_v10".to_string(),
            "You are MangaAssist, v10.".to_string(),
        ),
        (
            "returns_v1".to_string(),
            "You are MangaAssist, returns desk.".to_string(),
        ),
    ]);
    let lib = PromptLibrary::with_overrides(&overrides).expect("valid");
    assert_eq!(
        lib.get("order_status_v3"),
        Some("You are MangaAssist. Be exact.")
    );
    assert_eq!(
        lib.get("returns_v1"),
        Some("You are MangaAssist, returns desk.")
    );
    assert_eq!(
        lib.get("chitchat_v2"),
        PromptLibrary::builtin().get("chitchat_v2")
    );
    assert_eq!(lib.len(), PromptLibrary::builtin().len() + 2);
    // Versions compare as numbers: v10 is newer than v3.
    assert_eq!(lib.latest("order_status"), Some("order_status_v10"));
    assert_eq!(lib.latest("nothing"), None);
}

#[test]
fn config_prompt_errors_name_every_bad_entry() {
    let overrides = BTreeMap::from([
        ("Order_Status_v3".to_string(), "text".to_string()),
        ("order_status".to_string(), "text".to_string()),
        ("order_status_v".to_string(), "text".to_string()),
        ("_v1".to_string(), "text".to_string()),
        ("chitchat_v3".to_string(), "  \n ".to_string()),
        ("fine_v1".to_string(), "fine".to_string()),
    ]);
    let errors = PromptLibrary::with_overrides(&overrides).expect_err("invalid");
    assert_eq!(errors.len(), 5, "{errors:#?}");
    for key in ["Order_Status_v3", "order_status", "order_status_v", "_v1"] {
        let prefix = format!("prompts.{key}: key must look like NAME_vN");
        assert!(
            errors.iter().any(|e| e.starts_with(&prefix)),
            "{key}: {errors:#?}"
        );
    }
    assert!(errors.contains(&"prompts.chitchat_v3: text is empty".to_string()));
}

#[test]
fn prompt_keys_follow_the_documented_shape() {
    assert_eq!(split_key("order_status_v3"), Some(("order_status", 3)));
    assert_eq!(split_key("a_v1_v2"), Some(("a_v1", 2)));
    assert_eq!(split_key("x2_v07"), Some(("x2", 7)));
    for bad in [
        "", "v1", "_v1", "a_v", "a_v1a", "a-b_v1", "A_v1", "a_V1", "a v1",
    ] {
        assert_eq!(split_key(bad), None, "{bad:?}");
    }
}

#[test]
fn prompt_files_reject_unknown_sections() {
    assert!(PromptLibrary::parse("[prompts]\nx_v1 = \"t\"\n[other]\n").is_err());
    assert_eq!(
        PromptLibrary::parse("[prompts]\nx_v1 = \"t\"\n").map(|l| l.len()),
        Ok(1)
    );
}

// ---------------------------------------------------------------- few-shots

fn library() -> FewShotLibrary {
    FewShotLibrary::builtin()
}

/// The examples of `intent` carrying `tag`, as injected.
fn shots_with(lib: &FewShotLibrary, intent: &str, tag: Tag) -> Vec<FewShot> {
    lib.examples(intent)
        .iter()
        .filter(|e| e.has(tag))
        .map(|e| e.shot.clone())
        .collect()
}

fn sub_category_of<'a>(lib: &'a FewShotLibrary, intent: &str, shot: &FewShot) -> Option<&'a str> {
    lib.examples(intent)
        .iter()
        .find(|e| e.shot == *shot)
        .and_then(|e| e.sub_category.as_deref())
}

#[test]
fn builtin_library_covers_six_intents_with_every_kind() {
    let lib = library();
    assert_eq!(
        lib.intents().collect::<BTreeSet<_>>(),
        BTreeSet::from(INTENTS)
    );
    for intent in INTENTS {
        let examples = lib.examples(intent);
        let count = |tag| examples.iter().filter(|e| e.has(tag)).count();
        assert!(examples.len() >= 8, "{intent}: {} examples", examples.len());
        assert!(count(Tag::Aligned) >= 3, "{intent}: aligned");
        assert!(count(Tag::EdgeCase) >= 2, "{intent}: edge cases");
        assert!(count(Tag::Negative) >= 1, "{intent}: negatives");
        let subs: BTreeSet<_> = examples
            .iter()
            .filter(|e| e.has(Tag::Diverse))
            .filter_map(|e| e.sub_category.as_deref())
            .collect();
        assert!(subs.len() >= 3, "{intent}: diverse sub-categories {subs:?}");
    }
}

#[test]
fn selection_is_deterministic_per_session() {
    let lib = library();
    for intent in INTENTS {
        for strategy in [
            Strategy::Aligned,
            Strategy::EdgeCases,
            Strategy::Diverse,
            Strategy::WithNegatives,
        ] {
            for count in 1..=5 {
                let a = lib.select(intent, strategy, count, "session-42");
                let b = lib.select(intent, strategy, count, "session-42");
                assert_eq!(a, b, "{intent} {strategy:?} {count}");
                assert_eq!(a.len(), count);
            }
        }
    }
}

#[test]
fn the_session_and_intent_both_seed_the_order() {
    let lib = library();
    let picks: BTreeSet<Vec<String>> = (0..50)
        .map(|i| {
            lib.select("manga_qa", Strategy::Diverse, 3, &format!("s{i}"))
                .into_iter()
                .map(|s| s.user)
                .collect()
        })
        .collect();
    assert!(
        picks.len() >= 10,
        "only {} distinct selections over 50 sessions",
        picks.len()
    );
}

#[test]
fn over_many_sessions_every_example_appears() {
    let lib = library();
    let strategies = [
        (Strategy::Aligned, Tag::Aligned),
        (Strategy::EdgeCases, Tag::EdgeCase),
        (Strategy::Diverse, Tag::Diverse),
        (Strategy::WithNegatives, Tag::Negative),
    ];
    for intent in INTENTS {
        let mut seen_any: BTreeSet<FewShotKey> = BTreeSet::new();
        for (strategy, tag) in strategies {
            let mut seen: BTreeSet<FewShotKey> = BTreeSet::new();
            for i in 0..1000 {
                for shot in lib.select(intent, strategy, 2, &format!("session-{i}")) {
                    seen.insert(key(&shot));
                }
            }
            // Every example of the strategy's preferred kind comes up.
            for shot in shots_with(&lib, intent, tag) {
                assert!(
                    seen.contains(&key(&shot)),
                    "{intent} {strategy:?}: never picked {:?}",
                    shot.user
                );
            }
            seen_any.extend(seen);
        }
        assert_eq!(
            seen_any.len(),
            lib.examples(intent).len(),
            "{intent}: some example never appears"
        );
    }
}

type FewShotKey = (String, String);

fn key(shot: &FewShot) -> FewShotKey {
    (shot.user.clone(), shot.assistant.clone())
}

#[test]
fn with_negatives_includes_a_negative_from_two_up() {
    let lib = library();
    for intent in INTENTS {
        let negatives: Vec<FewShotKey> = shots_with(&lib, intent, Tag::Negative)
            .iter()
            .map(key)
            .collect();
        for i in 0..200 {
            let session = format!("neg-{i}");
            let one = lib.select(intent, Strategy::WithNegatives, 1, &session);
            assert!(
                !negatives.contains(&key(&one[0])),
                "{intent}: count 1 is aligned"
            );
            for count in 2..=6 {
                let picked = lib.select(intent, Strategy::WithNegatives, count, &session);
                let n = picked
                    .iter()
                    .filter(|s| negatives.contains(&key(s)))
                    .count();
                assert!(n >= 1, "{intent} count {count}: no negative");
                // Negatives come last, closest to the real conversation.
                assert!(negatives.contains(&key(&picked[count - 1])), "{intent}");
            }
        }
    }
}

#[test]
fn diverse_and_edge_cases_cover_sub_categories_first() {
    let lib = library();
    for intent in INTENTS {
        for (strategy, tag) in [
            (Strategy::Diverse, Tag::Diverse),
            (Strategy::EdgeCases, Tag::EdgeCase),
        ] {
            let pool: BTreeSet<Option<&str>> = lib
                .examples(intent)
                .iter()
                .filter(|e| e.has(tag) && !e.has(Tag::Negative))
                .map(|e| e.sub_category.as_deref())
                .collect();
            for i in 0..200 {
                let picked = lib.select(intent, strategy, pool.len(), &format!("cover-{i}"));
                let subs: BTreeSet<_> = picked
                    .iter()
                    .map(|s| sub_category_of(&lib, intent, s))
                    .collect();
                assert_eq!(subs, pool, "{intent} {strategy:?}: one of each first");
            }
        }
    }
}

#[test]
fn aligned_prefers_aligned_examples() {
    let lib = library();
    for intent in INTENTS {
        let aligned: Vec<FewShotKey> = shots_with(&lib, intent, Tag::Aligned)
            .iter()
            .map(key)
            .collect();
        for i in 0..100 {
            let picked = lib.select(intent, Strategy::Aligned, aligned.len(), &format!("a-{i}"));
            assert!(picked.iter().all(|s| aligned.contains(&key(s))), "{intent}");
        }
    }
}

#[test]
fn counts_and_unknown_intents() {
    let lib = library();
    assert!(lib.select("returns", Strategy::Aligned, 3, "s").is_empty());
    assert!(
        lib.select("order_status", Strategy::Aligned, 0, "s")
            .is_empty()
    );
    let all = lib.select("chitchat", Strategy::Diverse, 1000, "s");
    assert_eq!(all.len(), lib.examples("chitchat").len());
    let distinct: BTreeSet<_> = all.iter().map(key).collect();
    assert_eq!(distinct.len(), all.len(), "no example twice");
}

#[test]
fn strategies_use_snake_case_names() {
    let parsed: Vec<Strategy> =
        serde_json::from_str(r#"["aligned","edge_cases","diverse","with_negatives"]"#)
            .expect("known names");
    assert_eq!(
        parsed,
        [
            Strategy::Aligned,
            Strategy::EdgeCases,
            Strategy::Diverse,
            Strategy::WithNegatives
        ]
    );
    assert!(serde_json::from_str::<Strategy>(r#""edge_case""#).is_err());
}

// ------------------------------------------------ negatives are safe to inject

#[test]
fn negatives_quote_the_wrong_answer_in_the_user_turn_only() {
    let text = r#"
[[few_shots]]
intent = "order_status"
tags = ["negative"]
user = "When will ORD-1 arrive?"
rejected = "It arrives 2025-01-02."
lesson = "the record has no date."
assistant = "ORD-1 is processing. Tracking number: I don't have that information yet."
"#;
    let lib = FewShotLibrary::parse(text).expect("valid");
    let shot = &lib.examples("order_status")[0].shot;
    assert!(shot.user.starts_with("When will ORD-1 arrive?\n\n"));
    assert!(shot.user.contains("\"It arrives 2025-01-02.\""));
    assert!(shot.user.contains("the record has no date."));
    assert!(!shot.assistant.contains("2025-01-02"));
    for intent in INTENTS {
        for e in lib_examples_with(intent, Tag::Negative) {
            assert!(
                e.user.contains("(Reviewer note: a previous reply"),
                "{intent}"
            );
            assert!(!e.assistant.contains("Reviewer note"), "{intent}");
        }
    }
}

fn lib_examples_with(intent: &str, tag: Tag) -> Vec<FewShot> {
    shots_with(&library(), intent, tag)
}

// ------------------------------------------------------ config and its errors

fn entry(intent: &str, tags: &[&str]) -> FewShotEntry {
    FewShotEntry {
        intent: intent.to_string(),
        user: "Do you have Akira vol. 1?".to_string(),
        assistant: "1. Akira vol. 1 — Katsuhiro Otomo — ¥1,980 — in stock".to_string(),
        tags: tags.iter().map(|s| s.to_string()).collect(),
        sub_category: None,
        rejected: None,
        lesson: None,
    }
}

#[test]
fn config_examples_are_added() {
    let mut extra = entry("product_search", &["diverse"]);
    extra.sub_category = Some("by_decade".to_string());
    let returns = entry("returns", &["aligned"]);
    let lib = FewShotLibrary::with_extra(&[extra, returns]).expect("valid");
    let builtin = library();
    assert_eq!(
        lib.examples("product_search").len(),
        builtin.examples("product_search").len() + 1
    );
    assert_eq!(lib.select("returns", Strategy::Aligned, 3, "s").len(), 1);
}

#[test]
fn config_example_errors_name_their_entry_and_field() {
    let mut no_sub = entry("product_search", &["diverse"]);
    no_sub.assistant = "A different answer.".to_string();
    let mut negative = entry("product_search", &["negative"]);
    negative.user = " ".to_string();
    let mut stray = entry("product_search", &["aligned"]);
    stray.rejected = Some("x".to_string());
    stray.sub_category = Some("by_author".to_string());
    stray.assistant = "Another answer.".to_string();
    let mut long = entry("chitchat", &["aligned"]);
    long.assistant = "a".repeat(9000);
    let entries = [
        entry("Product Search", &["aligned"]),
        entry("product_search", &["typical"]),
        entry("product_search", &[]),
        no_sub,
        negative,
        stray,
        long,
        entry("product_search", &["aligned"]),
        entry("product_search", &["aligned"]),
    ];
    let errors = FewShotLibrary::with_extra(&entries).expect_err("invalid");
    let has = |needle: &str| errors.iter().any(|e| e.starts_with(needle));
    assert!(has("few_shots[0].intent:"), "{errors:#?}");
    assert!(
        has("few_shots[1].tags: unknown tag \"typical\""),
        "{errors:#?}"
    );
    assert!(has("few_shots[2].tags: at least one tag"), "{errors:#?}");
    assert!(
        has("few_shots[3].sub_category: required with the diverse tag"),
        "{errors:#?}"
    );
    assert!(has("few_shots[4].user: text is empty"), "{errors:#?}");
    assert!(has("few_shots[4].rejected: required"), "{errors:#?}");
    assert!(has("few_shots[4].lesson: required"), "{errors:#?}");
    assert!(
        has("few_shots[5].rejected: only used with the negative tag"),
        "{errors:#?}"
    );
    assert!(
        has("few_shots[5].sub_category: only used with"),
        "{errors:#?}"
    );
    assert!(has("few_shots[6].assistant: longer than"), "{errors:#?}");
    assert!(has("few_shots[8]: duplicate"), "{errors:#?}");
    assert!(!has("few_shots[7]"), "{errors:#?}");
}

#[test]
fn example_files_reject_unknown_fields() {
    let text = "[[few_shots]]\nintent = \"chitchat\"\nuser = \"hi\"\nassistant = \"Hello!\"\ntags = [\"aligned\"]\nmood = \"happy\"\n";
    let errors = FewShotLibrary::parse(text).expect_err("unknown field");
    assert!(errors[0].contains("mood"), "{errors:#?}");
}

// ------------------------------------------- every example obeys its prompt

const MISSING: &str = "I don't have that information yet";

/// The user's message and its retrieved data, without a negative's note
/// (which quotes the wrong answer and so may hold invented values).
fn grounding(shot: &FewShot) -> &str {
    shot.user
        .split("\n\n(Reviewer note:")
        .next()
        .unwrap_or(&shot.user)
}

/// Every maximal run of characters accepted by `keep`, containing `must`.
fn tokens(text: &str, keep: impl Fn(char) -> bool, must: char) -> Vec<String> {
    text.split(|c: char| !keep(c))
        .filter(|t| t.contains(must))
        .map(str::to_string)
        .collect()
}

fn iso_dates(text: &str) -> Vec<String> {
    tokens(text, |c| c.is_ascii_digit() || c == '-', '-')
        .into_iter()
        .filter(|t| {
            let b = t.as_bytes();
            b.len() == 10 && b[4] == b'-' && b[7] == b'-'
        })
        .collect()
}

fn order_ids(text: &str) -> Vec<String> {
    tokens(text, |c| c.is_ascii_alphanumeric() || c == '-', '-')
        .into_iter()
        .filter(|t| t.starts_with("ORD-") && t.len() > 4)
        .collect()
}

fn yen_amounts(text: &str) -> Vec<String> {
    tokens(text, |c| c == '¥' || c.is_ascii_digit() || c == ',', '¥')
        .into_iter()
        .map(|t| t.trim_end_matches(',').to_string())
        .collect()
}

fn numbered_lines(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| {
            let digits = l.chars().take_while(char::is_ascii_digit).count();
            digits > 0 && l[digits..].starts_with(". ")
        })
        .collect()
}

/// `N. TITLE — rest`: the title.
fn item_title(line: &str) -> &str {
    let after = line.split_once(". ").map_or(line, |(_, rest)| rest);
    after.split(" — ").next().unwrap_or(after)
}

fn is_japanese(text: &str) -> bool {
    text.chars()
        .any(|c| matches!(c, '\u{3040}'..='\u{30FF}' | '\u{4E00}'..='\u{9FFF}'))
}

fn all_examples(intent: &str) -> Vec<FewShot> {
    library()
        .examples(intent)
        .iter()
        .map(|e| e.shot.clone())
        .collect()
}

#[test]
fn order_status_examples_obey_order_status_v3() {
    let months = [
        "January",
        "February",
        "March",
        "April",
        "May ",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    for shot in all_examples("order_status") {
        let (a, context) = (&shot.assistant, grounding(&shot));
        let ids = order_ids(a);
        assert!(!ids.is_empty(), "no order id: {a}");
        assert!(
            ids.iter().all(|id| context.contains(id.as_str())),
            "unknown id: {a}"
        );
        assert!(
            !iso_dates(a).is_empty() || a.contains(MISSING),
            "no date nor {MISSING:?}: {a}"
        );
        for date in iso_dates(a) {
            assert!(
                context.contains(&date),
                "date {date} not in the record: {a}"
            );
        }
        let lower = a.to_lowercase();
        assert!(
            lower.contains("tracking number") || a.contains("追跡番号"),
            "{a}"
        );
        assert!(
            months.iter().all(|m| !a.contains(m)),
            "dates must be YYYY-MM-DD: {a}"
        );
        if context.contains("status: processing") {
            assert!(a.contains(MISSING), "processing: {a}");
        }
    }
}

#[test]
fn product_search_examples_obey_product_search_v4() {
    for shot in all_examples("product_search") {
        let (a, context) = (&shot.assistant, grounding(&shot));
        let results = context
            .lines()
            .skip_while(|l| !l.starts_with("[Search results]"))
            .skip(1)
            .take_while(|l| !l.starts_with('['))
            .filter(|l| l.starts_with("- "))
            .count();
        let items = numbered_lines(a);
        assert_eq!(
            items.len(),
            results,
            "every result listed, nothing else: {a}"
        );
        for line in &items {
            assert!(context.contains(item_title(line)), "invented title: {line}");
            assert!(
                line.split(" — ").count() >= 4,
                "title, author, price, availability: {line}"
            );
            for amount in yen_amounts(line) {
                assert!(
                    context.contains(&amount),
                    "price {amount} not in results: {line}"
                );
            }
        }
        if results < 3 {
            assert!(
                a.to_lowercase().contains("try") || a.contains("検索"),
                "broaden: {a}"
            );
        }
        let promotions = context.split("[Promotions]").nth(1).unwrap_or("").trim();
        if !promotions.is_empty() && promotions != "(none)" {
            assert!(a.contains("Deal:"), "deal not highlighted: {a}");
        }
    }
}

#[test]
fn shipping_info_examples_obey_shipping_info_v2() {
    for shot in all_examples("shipping_info") {
        let (a, context) = (&shot.assistant, grounding(&shot));
        for amount in yen_amounts(a) {
            assert!(
                context.contains(&amount),
                "fee {amount} not in the policy: {a}"
            );
        }
        let ranges = tokens(a, |c| c.is_ascii_digit() || c == '-', '-');
        let digit_ends = |r: &&String| {
            r.starts_with(|c: char| c.is_ascii_digit()) && r.ends_with(|c: char| c.is_ascii_digit())
        };
        for range in ranges.iter().filter(digit_ends) {
            assert!(
                context.contains(&format!("{range} business days")),
                "{range}: {a}"
            );
        }
        let question = context.lines().next().unwrap_or("");
        let abroad = ["Germany", "Brazil", "US", "Australia", "Canada"];
        if abroad.iter().any(|c| question.contains(c)) {
            assert!(
                a.to_lowercase().contains("customs"),
                "customs not mentioned: {a}"
            );
        }
        let detail_lines = a.lines().filter(|l| l.starts_with("- ")).count();
        assert!(detail_lines <= 3, "at most three bullet points: {a}");
        assert!(!a.starts_with("- "), "direct answer first: {a}");
    }
}

#[test]
fn manga_qa_examples_obey_manga_qa_v3() {
    for shot in all_examples("manga_qa") {
        let a = &shot.assistant;
        let words = a.split_whitespace().count();
        assert!(words < 150, "{words} words: {a}");
        if shot.user.contains("spoilers are fine") {
            assert!(a.starts_with("Spoiler warning"), "{a}");
        }
        if shot.user.contains("kaisn") {
            assert!(a.contains("Jujutsu Kaisen"), "say which series: {a}");
        }
    }
}

#[test]
fn recommendation_examples_obey_recommendation_v5() {
    for shot in all_examples("recommendation") {
        let (a, context) = (&shot.assistant, grounding(&shot));
        let items = numbered_lines(a);
        if items.is_empty() {
            assert_eq!(a.matches('?').count(), 1, "one clarifying question: {a}");
            continue;
        }
        assert!((3..=5).contains(&items.len()), "3-5 titles: {a}");
        for line in items {
            assert!(
                line.contains(" volumes — ") || line.contains(" ongoing — "),
                "{line}"
            );
            assert!(
                line.contains(" — [") && line.contains("] — "),
                "genre tags: {line}"
            );
            let title = item_title(line);
            assert!(!context.contains(title), "recommends {title} again: {a}");
        }
    }
}

#[test]
fn chitchat_examples_obey_chitchat_v2() {
    for shot in all_examples("chitchat") {
        let a = &shot.assistant;
        let chars: Vec<char> = a.chars().collect();
        let sentences = chars
            .iter()
            .enumerate()
            .filter(|(i, c)| {
                "。！？".contains(**c)
                    || (".!?".contains(**c) && chars.get(i + 1).is_none_or(|n| n.is_whitespace()))
            })
            .count();
        assert!(sentences <= 3, "{sentences} sentences: {a}");
    }
}

#[test]
fn examples_answer_in_the_users_language() {
    for intent in INTENTS {
        for shot in all_examples(intent) {
            let question = shot.user.lines().next().unwrap_or("");
            assert_eq!(
                is_japanese(question),
                is_japanese(&shot.assistant),
                "{intent}: {question}"
            );
        }
    }
}
