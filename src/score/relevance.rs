//! How much an answer is about its question and the context it was given.
//!
//! Texts become sets of terms: folded words of two or more characters
//! that are not stop words (a plural `s` dropped), and, for Japanese and
//! other CJK text written without spaces, overlapping character bigrams
//! (pairs of hiragana are skipped: they are mostly grammar). With Q the
//! question's terms, C the context's and A the answer's:
//!
//! - coverage = |A ∩ Q| / |Q|: how much of what was asked the answer
//!   speaks to;
//! - support = |A ∩ (Q ∪ C)| / |A|: how much of the answer comes from the
//!   question and its context rather than elsewhere;
//! - relevance = (coverage + support) / 2, or support alone when the
//!   question has no terms, and 0 for an answer with none.
//!
//! Both parts are in [0, 1] and need no corpus statistics. The measure
//! compares answers to the same question (two arms of an experiment); its
//! absolute level depends on how the question is worded.

use std::collections::HashSet;

use super::text::{Token, folded_string, is_hiragana, tokens};

/// Common English words that say nothing about a topic.
const STOP_WORDS: &[&str] = &[
    "about", "after", "again", "all", "also", "am", "an", "and", "any", "are", "aren", "as", "at",
    "be", "because", "been", "before", "being", "but", "by", "can", "could", "did", "didn", "do",
    "does", "doesn", "don", "each", "for", "from", "get", "got", "had", "has", "have", "he", "her",
    "here", "him", "his", "how", "if", "in", "into", "is", "isn", "it", "its", "just", "let", "ll",
    "me", "more", "most", "my", "no", "not", "now", "of", "on", "only", "or", "other", "our",
    "out", "please", "re", "she", "should", "so", "some", "than", "thank", "thanks", "that", "the",
    "their", "them", "then", "there", "these", "they", "this", "those", "to", "too", "up", "us",
    "ve", "very", "was", "we", "were", "what", "when", "where", "which", "while", "who", "why",
    "will", "with", "won", "would", "yes", "you", "your",
];

/// The relevance of `answer` to `question` and `context`, in [0, 1]; see
/// the module documentation for the formula.
pub fn relevance(question: &str, context: &str, answer: &str) -> f64 {
    let (question, context, answer) = (
        folded_string(question),
        folded_string(context),
        folded_string(answer),
    );
    let answer = terms(&answer);
    if answer.is_empty() {
        return 0.0;
    }
    let question = terms(&question);
    let context = terms(&context);
    let supported = answer
        .iter()
        .filter(|t| question.contains(*t) || context.contains(*t))
        .count();
    let support = supported as f64 / answer.len() as f64;
    if question.is_empty() {
        return support;
    }
    let covered = question.iter().filter(|t| answer.contains(*t)).count();
    let coverage = covered as f64 / question.len() as f64;
    ((coverage + support) / 2.0).clamp(0.0, 1.0)
}

/// The terms of folded text (see the module documentation), borrowed
/// from it.
pub(crate) fn terms(folded: &str) -> HashSet<&str> {
    let mut out = HashSet::new();
    for token in tokens(folded) {
        match token {
            Token::Word(word) => {
                if word.chars().nth(1).is_some() && STOP_WORDS.binary_search(&word).is_err() {
                    out.insert(singular(word));
                }
            }
            Token::Cjk(run) => cjk_terms(run, &mut out),
        }
    }
    out
}

/// Drops a plural `s` (`volumes` → `volume`), leaving `ss`, `us` and `is`.
fn singular(word: &str) -> &str {
    match word.strip_suffix('s') {
        Some(stem) if stem.len() >= 3 && !stem.ends_with(['s', 'u', 'i']) => stem,
        _ => word,
    }
}

/// Character bigrams of a CJK run, as slices of it; a run of one
/// character is its own term.
fn cjk_terms<'a>(run: &'a str, out: &mut HashSet<&'a str>) {
    let chars: Vec<(usize, char)> = run.char_indices().collect();
    if let [(_, only)] = chars[..] {
        if !is_hiragana(only) {
            out.insert(run);
        }
        return;
    }
    for pair in chars.windows(2) {
        let ((start, first), (at, second)) = (pair[0], pair[1]);
        if !(is_hiragana(first) && is_hiragana(second)) {
            out.insert(&run[start..at + second.len_utf8()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_words_are_sorted_for_binary_search() {
        assert!(STOP_WORDS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn terms_of_both_scripts() {
        let folded = folded_string("The volumes of ONE PIECE: 尾田栄一郎です");
        let t = terms(&folded);
        for expected in ["volume", "piece", "尾田", "田栄", "郎で"] {
            assert!(t.contains(expected), "{expected} missing from {t:?}");
        }
        assert!(t.contains("one") && !t.contains("the") && !t.contains("です"));
    }
}
