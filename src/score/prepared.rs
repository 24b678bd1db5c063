//! The answer and the request in the forms the checks compare, each built
//! at most once per scoring and only when a check asks for it.

use std::cell::OnceCell;

use super::amounts::{all_numbers, percents};
use super::dates::{FoundDate, find_dates};
use super::text::{folded, folded_string, is_cjk, is_word_char};

/// One answer and its request, with lazily built views.
pub(crate) struct Prepared<'a> {
    pub answer: &'a str,
    pub request: &'a str,
    pub stop_reason: Option<&'a str>,
    answer_chars: OnceCell<Vec<char>>,
    answer_dates: OnceCell<Vec<FoundDate>>,
    request_chars: OnceCell<Vec<char>>,
    request_string: OnceCell<String>,
    request_compact: OnceCell<String>,
    request_dates: OnceCell<Vec<FoundDate>>,
    request_numbers: OnceCell<Vec<u64>>,
    request_percents: OnceCell<Vec<u64>>,
}

impl<'a> Prepared<'a> {
    pub fn new(answer: &'a str, request: &'a str, stop_reason: Option<&'a str>) -> Self {
        Self {
            answer,
            request,
            stop_reason,
            answer_chars: OnceCell::new(),
            answer_dates: OnceCell::new(),
            request_chars: OnceCell::new(),
            request_string: OnceCell::new(),
            request_compact: OnceCell::new(),
            request_dates: OnceCell::new(),
            request_numbers: OnceCell::new(),
            request_percents: OnceCell::new(),
        }
    }

    /// The answer, folded, as characters.
    pub fn answer_chars(&self) -> &[char] {
        self.answer_chars.get_or_init(|| folded(self.answer))
    }

    /// Dates in the answer.
    pub fn answer_dates(&self) -> &[FoundDate] {
        self.answer_dates
            .get_or_init(|| find_dates(self.answer_chars()))
    }

    /// The request, folded, as characters.
    pub fn request_chars(&self) -> &[char] {
        self.request_chars.get_or_init(|| folded(self.request))
    }

    /// The request, folded, as a string for substring lookups.
    pub fn request_string(&self) -> &str {
        self.request_string
            .get_or_init(|| folded_string(self.request))
    }

    /// The request's letters and digits only, so `ORD-48213` in an answer
    /// is found as `ord48213` whatever punctuation the request used.
    pub fn request_compact(&self) -> &str {
        self.request_compact.get_or_init(|| {
            self.request_chars()
                .iter()
                .filter(|c| c.is_alphanumeric())
                .collect()
        })
    }

    /// True when folded `word` is a whole word of the request (for a
    /// CJK word, anywhere in it: that script has no word boundaries).
    pub fn request_has_word(&self, word: &str) -> bool {
        let text = self.request_string();
        let cjk = word.chars().next().is_some_and(is_cjk);
        text.match_indices(word).any(|(at, _)| {
            let before = text[..at].chars().next_back().is_some_and(is_word_char);
            let after = text[at + word.len()..]
                .chars()
                .next()
                .is_some_and(is_word_char);
            cjk || !(before || after)
        })
    }

    /// Dates in the request.
    pub fn request_dates(&self) -> &[FoundDate] {
        self.request_dates
            .get_or_init(|| find_dates(self.request_chars()))
    }

    /// Every number in the request, sorted.
    pub fn request_numbers(&self) -> &[u64] {
        self.request_numbers
            .get_or_init(|| all_numbers(self.request_chars()))
    }

    /// Every percentage in the request, sorted.
    pub fn request_percents(&self) -> &[u64] {
        self.request_percents.get_or_init(|| {
            let mut values: Vec<u64> = percents(self.request_chars())
                .iter()
                .map(|a| a.hundredths)
                .collect();
            values.sort_unstable();
            values
        })
    }

    /// True when `phrase` (folded) appears in the request as written, or
    /// with only its letters and digits (`#48213` against `ORD-48213`).
    pub fn request_contains(&self, phrase: &str) -> bool {
        if self.request_string().contains(phrase) {
            return true;
        }
        let compact: String = phrase.chars().filter(|c| c.is_alphanumeric()).collect();
        !compact.is_empty() && self.request_compact().contains(&compact)
    }
}
