//! Title-like phrases in an answer: what a grounding check compares with
//! the request to catch invented products.
//!
//! Two heuristics, both on the answer as written (case matters):
//! - quoted text (`"Uzumaki"`, `“Monster”`, `「鬼滅の刃」`, `『ONE PIECE』`)
//!   that starts with a capital letter, a digit or CJK script;
//! - runs of two or more capitalised words, optionally joined by small
//!   connectors (`Knights of Sidonia`, `Spy x Family`), ended by
//!   punctuation or a lowercase word.
//!
//! Capitalised labels (`Estimated Delivery`, `Out of Stock`) are not
//! titles: words on the ignore list do not count, and a run left with no
//! counted word is dropped. The first word of a sentence is capitalised by
//! position alone, so it does not count either; a list item's first word
//! does, as list items usually open with the title.

use super::text::{Token, folded_string, is_cjk, tokens};

/// Lowercase words allowed inside a title.
const CONNECTORS: &[&str] = &[
    "&", "a", "and", "de", "for", "in", "no", "of", "on", "the", "to", "x",
];

/// Words that are capitalised in labels and headings far more often than
/// in titles; the configuration can add more.
pub(crate) const DEFAULT_IGNORE: &[&str] = &[
    "author",
    "availability",
    "available",
    "carrier",
    "customer",
    "date",
    "deal",
    "delivered",
    "delivery",
    "email",
    "estimated",
    "express",
    "free",
    "genre",
    "genres",
    "good",
    "great",
    "id",
    "latest",
    "news",
    "note",
    "number",
    "order",
    "ordered",
    "out",
    "page",
    "price",
    "scan",
    "service",
    "shipped",
    "shipping",
    "standard",
    "status",
    "stock",
    "store",
    "support",
    "title",
    "total",
    "tracking",
    "volume",
    "volumes",
    "website",
];

/// A title-like phrase and the words that must be found in the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Title {
    /// As written in the answer.
    pub text: String,
    /// Folded words that decide grounding when the whole phrase is not
    /// found as written.
    pub words: Vec<String>,
}

/// Every title-like phrase in `answer`; `ignore` holds folded words.
pub(crate) fn titles(answer: &str, ignore: &[String]) -> Vec<Title> {
    let mut found = quoted(answer);
    for line in answer.lines() {
        capitalised_runs(line, ignore, &mut found);
    }
    let mut seen = Vec::new();
    found.retain(|t| {
        let key = folded_string(&t.text);
        let fresh = !seen.contains(&key);
        seen.push(key);
        fresh
    });
    found
}

fn quoted(answer: &str) -> Vec<Title> {
    let mut found = Vec::new();
    let mut rest = answer;
    while let Some(open_at) = rest.find(['"', '“', '「', '『']) {
        let open = rest[open_at..].chars().next().unwrap_or('"');
        let close = match open {
            '“' => '”',
            '「' => '」',
            '『' => '』',
            _ => '"',
        };
        let inner_start = open_at + open.len_utf8();
        let Some(len) = rest[inner_start..].find(close) else {
            break;
        };
        let inner = rest[inner_start..inner_start + len].trim();
        let starts_like_title = inner
            .chars()
            .next()
            .is_some_and(|c| c.is_uppercase() || c.is_ascii_digit() || is_cjk(c));
        if starts_like_title && (2..=80).contains(&inner.chars().count()) && !inner.contains('\n') {
            found.push(Title {
                text: inner.to_string(),
                words: word_tokens(inner),
            });
        }
        rest = &rest[inner_start + len + close.len_utf8()..];
    }
    found
}

/// Folded word tokens of two or more characters (CJK runs whole).
fn word_tokens(text: &str) -> Vec<String> {
    let folded = folded_string(text);
    tokens(&folded)
        .map(|t| match t {
            Token::Word(w) | Token::Cjk(w) => w.to_string(),
        })
        .filter(|w| w.chars().count() >= 2)
        .collect()
}

/// A run of words being collected: `(word, capitalised, at sentence start)`.
type Run<'a> = Vec<(&'a str, bool, bool)>;

fn capitalised_runs(line: &str, ignore: &[String], found: &mut Vec<Title>) {
    let (body, item) = strip_list_marker(line.trim_start());
    let mut run: Run<'_> = Vec::new();
    let mut sentence_start = !item;
    for raw in body.split_whitespace() {
        let opened = raw.trim_start_matches(['(', '[', '"', '“', '「', '*', '_', '#', '\'']);
        let core = opened.trim_end_matches([
            ')', ']', '"', '”', '」', '*', '_', '.', ',', ':', ';', '!', '?', '\'',
        ]);
        let (opens, closes) = (opened.len() < raw.len(), core.len() < opened.len());
        let core = core
            .strip_suffix("'s")
            .or_else(|| core.strip_suffix("’s"))
            .unwrap_or(core);
        if opens {
            close_run(&mut run, ignore, found);
        }
        let capitalised = core.chars().next().is_some_and(char::is_uppercase);
        if capitalised {
            run.push((core, true, sentence_start));
        } else if !run.is_empty() && CONNECTORS.contains(&core.to_lowercase().as_str()) {
            run.push((core, false, false));
        } else {
            close_run(&mut run, ignore, found);
        }
        if closes {
            close_run(&mut run, ignore, found);
        }
        sentence_start = raw.ends_with(['.', '!', '?'])
            && !raw
                .trim_end_matches('.')
                .chars()
                .all(|c| c.is_ascii_digit());
    }
    close_run(&mut run, ignore, found);
}

/// The line without a leading `1.`, `1)`, `-`, `*` or `•` marker, and
/// whether there was one.
fn strip_list_marker(line: &str) -> (&str, bool) {
    let digits = line.chars().take_while(char::is_ascii_digit).count();
    let rest = &line[digits..];
    let after = if digits > 0 {
        rest.strip_prefix(['.', ')'])
    } else {
        rest.strip_prefix(['-', '*', '•'])
    };
    match after {
        Some(after) if after.starts_with(char::is_whitespace) => (after, true),
        _ => (line, false),
    }
}

fn close_run(run: &mut Run<'_>, ignore: &[String], found: &mut Vec<Title>) {
    while run.last().is_some_and(|(_, capitalised, _)| !capitalised) {
        run.pop();
    }
    let capitalised = run.iter().filter(|(_, c, _)| *c).count();
    if capitalised >= 2 {
        let words: Vec<String> = run
            .iter()
            .filter(|(_, c, at_start)| *c && !*at_start)
            .flat_map(|(w, _, _)| word_tokens(w))
            .filter(|w| !ignore.contains(w) && !DEFAULT_IGNORE.contains(&w.as_str()))
            .collect();
        if !words.is_empty() {
            let text = run.iter().map(|(w, _, _)| *w).collect::<Vec<_>>().join(" ");
            found.push(Title { text, words });
        }
    }
    run.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(answer: &str) -> Vec<String> {
        titles(answer, &[]).into_iter().map(|t| t.text).collect()
    }

    #[test]
    fn capitalised_runs_and_connectors() {
        assert_eq!(
            texts(
                "Your order ORD-48213 (One Piece vol. 105 and Spy x Family vol. 12) has shipped."
            ),
            ["One Piece", "Spy x Family"]
        );
        assert_eq!(
            texts("4. Galaxy Station Zero — Hiro Tanaka — ¥700 — in stock"),
            ["Galaxy Station Zero", "Hiro Tanaka"]
        );
        assert_eq!(
            texts("Try Knights of Sidonia, or Yamato Transport's page."),
            ["Try Knights of Sidonia", "Yamato Transport"]
        );
    }

    #[test]
    fn labels_and_sentence_starts_do_not_count() {
        assert_eq!(
            texts("- Estimated Delivery: 2025-03-06\n- Out of Stock"),
            Vec::<String>::new()
        );
        assert_eq!(
            texts("Good News! I think so. JST on a business day"),
            Vec::<String>::new()
        );
        let run = titles("Both Monster and Pluto", &[]);
        assert_eq!(run[0].words, ["monster", "pluto"]);
    }

    #[test]
    fn quoted_titles() {
        assert_eq!(
            texts(r#"try "Junji Ito", not "horror"; 「鬼滅の刃」も"#),
            ["Junji Ito", "鬼滅の刃"]
        );
    }
}
