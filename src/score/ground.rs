//! The grounding check: facts in the answer (dates, prices, percentages,
//! titles, identifiers matched by patterns) that appear nowhere in the
//! request are what a model made up.
//!
//! Comparisons are by value where the spelling varies: a date matches the
//! same day in any format (`2025-03-06` against `March 6`); a price
//! matches any number of the same amount in the request (a tool result may
//! hold `"price": 528` for the answer's `¥528`), a percentage only a
//! percentage (small numbers such as 10 are everywhere). Titles and
//! identifiers match as folded text, or by their letters and digits alone
//! (`#48213` against `ORD-48213`); a title also passes when each of its
//! counted words is a word of the request.

use super::amounts::{Amount, percents, prices};
use super::check::Grounding;
use super::eval::Verdict;
use super::prepared::Prepared;
use super::text::folded_string;
use super::titles::titles;

/// Most ungrounded items listed in a detail.
const LISTED: usize = 6;

pub(crate) fn grounding(rule: &Grounding, p: &Prepared<'_>) -> Verdict {
    let answer = p.answer_chars();
    let mut items: Vec<(String, bool)> = Vec::new();
    if rule.dates {
        items.extend(p.answer_dates().iter().map(|date| {
            let grounded = p.request_dates().iter().any(|r| r.same_day(date));
            (span(answer, date.start, date.end), grounded)
        }));
    }
    if rule.prices {
        items.extend(amounts(answer, &prices(answer), p.request_numbers()));
    }
    if rule.percents {
        items.extend(amounts(answer, &percents(answer), p.request_percents()));
    }
    for pattern in &rule.patterns {
        items.extend(pattern.find_all(answer).into_iter().map(|(start, end)| {
            let text = span(answer, start, end);
            let grounded = p.request_contains(&text);
            (text, grounded)
        }));
    }
    if rule.titles {
        items.extend(
            titles(p.answer, &rule.ignore_words)
                .into_iter()
                .map(|title| {
                    let grounded = p.request_contains(&folded_string(&title.text))
                        || title.words.iter().all(|w| p.request_has_word(w));
                    (format!("\"{}\"", title.text), grounded)
                }),
        );
    }
    verdict(&items, rule.max_ungrounded)
}

fn span(text: &[char], start: usize, end: usize) -> String {
    text[start..end].iter().collect()
}

/// Each amount as written, and whether its value is among `known`.
fn amounts(answer: &[char], found: &[Amount], known: &[u64]) -> Vec<(String, bool)> {
    let known_value = |a: &Amount| known.binary_search(&a.hundredths).is_ok();
    found
        .iter()
        .map(|a| (span(answer, a.start, a.end), known_value(a)))
        .collect()
}

/// Passes when at most `tolerated` distinct items are ungrounded.
fn verdict(items: &[(String, bool)], tolerated: usize) -> Verdict {
    let mut missing: Vec<&str> = Vec::new();
    for (text, _) in items.iter().filter(|(_, grounded)| !grounded) {
        if !missing.contains(&text.as_str()) {
            missing.push(text);
        }
    }
    let checked = items.len();
    let detail = if missing.is_empty() {
        format!("all {checked} checked items appear in the request")
    } else {
        let more = missing.len().saturating_sub(LISTED);
        let more = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        let shown = missing[..missing.len().min(LISTED)].join(", ");
        format!(
            "{} of {checked} checked items not in the request: {shown}{more}",
            missing.len()
        )
    };
    Verdict {
        passed: missing.len() <= tolerated,
        detail,
    }
}
