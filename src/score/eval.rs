//! Running one check against one answer.

use super::check::{Check, Dates, Length, List, Repetition, Rule};
use super::ground::grounding;
use super::pattern::Pattern;
use super::prepared::Prepared;
use super::text::{Token, folded, folded_string, sentences, tokens, word_count};

/// Whether a check passed, and why.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Verdict {
    pub passed: bool,
    pub detail: String,
}

impl Verdict {
    fn pass(detail: impl Into<String>) -> Self {
        Self {
            passed: true,
            detail: detail.into(),
        }
    }

    fn fail(detail: impl Into<String>) -> Self {
        Self {
            passed: false,
            detail: detail.into(),
        }
    }
}

fn hit<'p>(patterns: &'p [Pattern], text: &[char]) -> Option<&'p Pattern> {
    patterns.iter().find(|pattern| pattern.is_match(text))
}

/// `Err(reason)` when the check's conditions rule it out for this answer.
pub(crate) fn applies(check: &Check, p: &Prepared<'_>) -> Result<(), String> {
    if !check.when_request.is_empty() && hit(&check.when_request, p.request_chars()).is_none() {
        return Err("not applicable: the request matches no when_request pattern".into());
    }
    if let Some(pattern) = hit(&check.unless_request, p.request_chars()) {
        return Err(format!(
            "not applicable: the request matches unless_request `{pattern}`"
        ));
    }
    if let Some(pattern) = hit(&check.unless_answer, p.answer_chars()) {
        return Err(format!(
            "not applicable: the answer matches unless_answer `{pattern}`"
        ));
    }
    Ok(())
}

/// Runs the check's rule.
pub(crate) fn evaluate(rule: &Rule, p: &Prepared<'_>) -> Verdict {
    match rule {
        Rule::Truncation(reasons) => truncation(reasons, p.stop_reason),
        Rule::Length(length) => bounds(length, p.answer),
        Rule::List(list) => numbered_list(list, p.answer),
        Rule::Dates(dates) => date_rules(dates, p),
        Rule::Required(patterns) => match first_match(patterns, p.answer_chars()) {
            Some(found) => Verdict::pass(format!("found `{found}`")),
            None => Verdict::fail(format!("none of {} found", listed(patterns))),
        },
        Rule::Forbidden(patterns) => match first_match(patterns, p.answer_chars()) {
            Some(found) => Verdict::fail(format!("found `{found}`")),
            None => Verdict::pass(format!("none of {} patterns found", patterns.len())),
        },
        Rule::Grounding(rule) => grounding(rule, p),
        Rule::Repetition(rule) => repetition(rule, p.answer),
    }
}

fn listed(patterns: &[Pattern]) -> String {
    patterns
        .iter()
        .map(|p| format!("`{p}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The text of the first match of any pattern.
fn first_match(patterns: &[Pattern], text: &[char]) -> Option<String> {
    patterns
        .iter()
        .find_map(|p| p.find(text))
        .map(|(start, end)| text[start..end].iter().collect())
}

fn truncation(reasons: &[String], stop: Option<&str>) -> Verdict {
    match stop {
        Some(stop) if reasons.contains(&stop.to_lowercase()) => Verdict::fail(format!(
            "stop reason `{stop}`: the answer was cut at the token limit"
        )),
        Some(stop) => Verdict::pass(format!("stop reason `{stop}`")),
        None => Verdict::pass("no stop reason known"),
    }
}

fn bounds(rule: &Length, answer: &str) -> Verdict {
    let chars = answer.trim().chars().count();
    let words = word_count(answer);
    let mut problems = Vec::new();
    let mut check = |value: usize, min: Option<usize>, max: Option<usize>, unit: &str| {
        if let Some(min) = min.filter(|&m| value < m) {
            problems.push(format!("{value} {unit}, under {min}"));
        }
        if let Some(max) = max.filter(|&m| value > m) {
            problems.push(format!("{value} {unit}, over {max}"));
        }
    };
    check(chars, rule.min_chars, rule.max_chars, "characters");
    check(words, rule.min_words, rule.max_words, "words");
    let mut summary = format!("{chars} characters, {words} words");
    if rule.max_sentences.is_some() {
        let count = sentences(answer).len();
        check(count, None, rule.max_sentences, "sentences");
        summary.push_str(&format!(", {count} sentences"));
    }
    if problems.is_empty() {
        Verdict::pass(summary)
    } else {
        Verdict::fail(problems.join("; "))
    }
}

/// The items of the answer's numbered lists: each item's text runs from
/// its `1.` or `1)` marker to the next marker or blank line.
pub(crate) fn list_items(answer: &str) -> Vec<String> {
    let mut items: Vec<String> = Vec::new();
    let mut open = false;
    for line in answer.lines() {
        if let Some(rest) = item_start(line) {
            items.push(rest.to_string());
            open = true;
        } else if line.trim().is_empty() {
            open = false;
        } else if let (true, Some(item)) = (open, items.last_mut()) {
            item.push('\n');
            item.push_str(line.trim());
        }
    }
    items
}

/// The text after a numbered-list marker (`1.`, `2)`, `**3.**`, `４．`).
fn item_start(line: &str) -> Option<&str> {
    let line = line.trim_start().trim_start_matches(['*', '_']);
    let digits = line.chars().take_while(char::is_ascii_digit).count();
    let full_width = line
        .chars()
        .take_while(|c| ('０'..='９').contains(c))
        .count();
    let number_len = if digits > 0 {
        digits
    } else {
        full_width * '０'.len_utf8()
    };
    if number_len == 0 || digits > 3 || full_width > 3 {
        return None;
    }
    let rest = line[number_len..].strip_prefix(['.', ')', '．', '）'])?;
    let rest = rest.trim_start_matches(['*', '_']);
    rest.starts_with(char::is_whitespace).then(|| rest.trim())
}

fn numbered_list(rule: &List, answer: &str) -> Verdict {
    let items = list_items(answer);
    let count = items.len();
    if count == 0 && rule.accept_question && answer.contains(['?', '？']) {
        return Verdict::pass("no list, but the answer asks a question");
    }
    if count < rule.min_items {
        return Verdict::fail(format!(
            "{count} numbered items, needs at least {}",
            rule.min_items
        ));
    }
    if let Some(max) = rule.max_items.filter(|&m| count > m) {
        return Verdict::fail(format!("{count} numbered items, at most {max} allowed"));
    }
    for (i, item) in items.iter().enumerate() {
        let words = if rule.min_item_words > 0 {
            word_count(item)
        } else {
            0
        };
        if words < rule.min_item_words {
            return Verdict::fail(format!(
                "item {} has {words} words, needs {}",
                i + 1,
                rule.min_item_words
            ));
        }
        let chars = folded(item);
        if let Some(g) = rule
            .item_patterns
            .iter()
            .position(|group| !group.iter().any(|p| p.is_match(&chars)))
        {
            return Verdict::fail(format!("item {} matches none of item_patterns[{g}]", i + 1));
        }
    }
    Verdict::pass(format!("{count} numbered items"))
}

fn date_rules(rule: &Dates, p: &Prepared<'_>) -> Verdict {
    let text = p.answer_chars();
    let mut problems = Vec::new();
    for date in p.answer_dates() {
        let written: String = text[date.start..date.end].iter().collect();
        if rule.forbid {
            problems.push(format!("`{written}` where no date may be"));
        } else if let Some(word) = near_word(
            &rule.forbid_near,
            text,
            date.start,
            date.end,
            rule.near_chars,
        ) {
            problems.push(format!("`{written}` near `{word}`"));
        } else if rule.iso && !date.iso {
            problems.push(format!("`{written}` is not YYYY-MM-DD"));
        }
    }
    match problems.is_empty() {
        true => Verdict::pass(format!("{} dates, all acceptable", p.answer_dates().len())),
        false => Verdict::fail(problems.join("; ")),
    }
}

/// A forbidden word within `reach` characters of `start..end` and in the
/// same clause: "placed on 2025-04-05 and not delivered yet" names no
/// delivery date, "should arrive on 2025-04-08" does.
fn near_word(
    patterns: &[Pattern],
    text: &[char],
    start: usize,
    end: usize,
    reach: usize,
) -> Option<String> {
    let mut from = start;
    while from > start.saturating_sub(reach) && !ends_clause(text, from - 1) {
        from -= 1;
    }
    let mut to = end;
    while to < (end + reach).min(text.len()) && !ends_clause(text, to) {
        to += 1;
    }
    first_match(patterns, &text[from..to])
}

/// True when the character at `at` separates clauses: a line break,
/// `, ; ! ?` and their Japanese forms, a period before a space, or the
/// space that opens " and " or " but ".
fn ends_clause(text: &[char], at: usize) -> bool {
    let next = text.get(at + 1).copied();
    match text[at] {
        '\n' | ',' | ';' | '!' | '?' | '。' | '、' | '，' | '！' | '？' => true,
        '.' => next.is_none_or(char::is_whitespace),
        ' ' => [&['a', 'n', 'd', ' '][..], &['b', 'u', 't', ' ']]
            .iter()
            .any(|w| text[at + 1..].starts_with(w)),
        _ => false,
    }
}

/// Folded tokens for repetition: words, and CJK characters one by one.
fn repetition_tokens(folded: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for token in tokens(folded) {
        match token {
            Token::Word(w) => out.push(w),
            Token::Cjk(run) => {
                out.extend(run.char_indices().map(|(i, c)| &run[i..i + c.len_utf8()]))
            }
        }
    }
    out
}

/// A sentence of at least `min_words` words said twice, if any.
fn repeated_sentence(answer: &str, min_words: usize) -> Option<&str> {
    // Sorting brings equal sentences side by side: cheaper than hashing
    // for the few an answer has.
    let mut said: Vec<(String, &str)> = sentences(answer)
        .into_iter()
        .map(|s| (repetition_tokens(&folded_string(s)).join(" "), s))
        .filter(|(words, _)| words.split(' ').count() >= min_words)
        .collect();
    said.sort_unstable();
    said.windows(2)
        .find(|pair| pair[0].0 == pair[1].0)
        .map(|pair| pair[0].1)
}

fn repetition(rule: &Repetition, answer: &str) -> Verdict {
    if let Some(sentence) = repeated_sentence(answer, rule.min_sentence_words) {
        return Verdict::fail(format!("sentence repeated: \"{sentence}\""));
    }
    // N-grams do not cross line breaks, but a phrase repeated on several
    // lines counts; list items that only share their layout (`— ¥528 —
    // in stock`) stay under the threshold.
    let folded = folded_string(answer);
    let lines: Vec<Vec<&str>> = folded.lines().map(repetition_tokens).collect();
    let mut grams: Vec<&[&str]> = lines
        .iter()
        .flat_map(|words| words.windows(rule.ngram))
        .collect();
    let total = grams.len();
    grams.sort_unstable();
    grams.dedup();
    let repeated = total - grams.len();
    let share = if total >= 10 {
        repeated as f64 / total as f64
    } else {
        0.0
    };
    let detail = format!(
        "{:.0}% of {total} {}-grams repeated",
        share * 100.0,
        rule.ngram
    );
    if share > rule.max_ngram_share {
        Verdict::fail(detail)
    } else {
        Verdict::pass(detail)
    }
}
