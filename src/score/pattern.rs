//! Patterns for quality checks (order ids, tracking numbers, refusal
//! phrases), written in the same small language as the intent rules so an
//! operator learns one syntax, and matched without a regex dependency.
//!
//! Syntax, matched case-insensitively against folded text (see
//! `text::fold`: full-width ASCII and curly apostrophes count as plain):
//! - a plain character matches itself; `\` before a character makes it
//!   plain (`\.`, `\(`, `\\`); a space matches any whitespace character;
//! - `.` any character, `\d` a digit, `\a` a letter, `\w` a letter, digit
//!   or `_`, `\s` any whitespace character;
//! - `\b` a word boundary (CJK characters are not word characters, so
//!   `注文ORD-1` has a boundary before `ORD`);
//! - after any of those but `\b`: `?`, `*`, `+`, `{n}`, `{n,}`, `{n,m}`
//!   (m at most 32).
//!
//! Unlike the intent rules, a match here also has a position: grounding
//! needs the matched text (`ORD-48213`) to look it up in the request. The
//! search keeps, for every step of the pattern, the earliest start that
//! reached it, so one pass over the text finds the leftmost, then longest,
//! match whatever the pattern: cost is linear in the text.

use std::fmt;
use std::iter::Peekable;
use std::str::Chars;

use super::text::{fold, is_word_char};

/// Largest `{n,m}` bound.
const MAX_REPEAT: usize = 32;
/// Largest number of steps once repeats are written out.
const MAX_STEPS: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Literal(char),
    Any,
    Digit,
    Letter,
    Word,
    Space,
}

impl Class {
    #[inline]
    fn accepts(self, c: char) -> bool {
        match self {
            Class::Literal(l) => l == c,
            Class::Any => true,
            Class::Digit => c.is_numeric(),
            Class::Letter => c.is_alphabetic(),
            Class::Word => c.is_alphanumeric() || c == '_',
            Class::Space => c.is_whitespace(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Once(Class),
    Optional(Class),
    Repeated(Class),
    Boundary,
}

/// A compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    source: String,
    steps: Vec<Step>,
    /// The class every match starts with, when the pattern has one: lets
    /// the search skip text that cannot start a match.
    first: Option<Class>,
    /// The plain characters every match starts with (`can't` in `can't
    /// help`), looked for before any matching starts.
    prefix: Vec<char>,
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl Pattern {
    /// Compiles `source`; the error says what is wrong with it.
    pub fn new(source: &str) -> Result<Self, String> {
        let mut steps = Vec::new();
        let mut chars = source.chars().peekable();
        while let Some(c) = chars.next() {
            let Some(classes) = classes(c, &mut chars)? else {
                steps.push(Step::Boundary);
                continue;
            };
            let Some((last, first)) = classes.split_last() else {
                return Err(format!("`{c}` has no comparable form"));
            };
            steps.extend(first.iter().map(|&class| Step::Once(class)));
            let (min, max) = quantifier(&mut chars)?;
            steps.extend(std::iter::repeat_n(Step::Once(*last), min));
            match max {
                Some(max) => steps.extend(std::iter::repeat_n(Step::Optional(*last), max - min)),
                None => steps.push(Step::Repeated(*last)),
            }
            if steps.len() > MAX_STEPS {
                return Err(format!(
                    "longer than {MAX_STEPS} steps once repeats are written out"
                ));
            }
        }
        if !steps.iter().any(|s| matches!(s, Step::Once(_))) {
            return Err("can match empty text; it needs at least one required character".into());
        }
        let (first, prefix) = lead(&steps);
        let source = source.to_string();
        Ok(Self {
            source,
            steps,
            first,
            prefix,
        })
    }

    /// True when the pattern occurs anywhere in folded `text`.
    pub(crate) fn is_match(&self, text: &[char]) -> bool {
        self.find_from(text, 0).is_some()
    }

    /// The first match in folded `text`, as a character range.
    pub(crate) fn find(&self, text: &[char]) -> Option<(usize, usize)> {
        self.find_from(text, 0)
    }

    /// Every non-overlapping match in folded `text`, as character ranges,
    /// left to right.
    pub(crate) fn find_all(&self, text: &[char]) -> Vec<(usize, usize)> {
        let mut found = Vec::new();
        let mut from = 0;
        while let Some((start, end)) = self.find_from(text, from) {
            found.push((start, end));
            // Every pattern consumes at least one character: end > start.
            from = end;
        }
        found
    }

    /// The leftmost, then longest, match starting at or after `from`.
    fn find_from(&self, text: &[char], from: usize) -> Option<(usize, usize)> {
        // Most searches end here: the pattern's start is nowhere in the text.
        let mut pos = self.next_start(text, from)?;
        let accept = self.steps.len();
        let mut current: Vec<Option<usize>> = vec![None; accept + 1];
        let mut next = current.clone();
        let mut best: Option<(usize, usize)> = None;
        let mut idle = true;
        while pos <= text.len() {
            if best.is_none() && idle {
                // Nothing in flight: skip to where a match can begin.
                pos = self.next_start(text, pos)?;
            }
            if best.is_none() && current[0].is_none() {
                current[0] = Some(pos);
            }
            self.close(&mut current, text, pos);
            if let Some(start) = current[accept].take()
                && best.is_none_or(|(s, e)| start < s || (start == s && pos > e))
            {
                best = Some((start, pos));
            }
            if let Some((best_start, _)) = best {
                // A thread that started later can no longer win.
                current
                    .iter_mut()
                    .filter(|s| s.is_some_and(|s| s > best_start))
                    .for_each(|s| *s = None);
                if current.iter().all(Option::is_none) {
                    break;
                }
            }
            let Some(&c) = text.get(pos) else { break };
            idle = !self.advance(&current, &mut next, c);
            std::mem::swap(&mut current, &mut next);
            pos += 1;
        }
        best
    }

    /// The first position from `pos` on where the pattern's first
    /// character can match (`None` past the end when it needs one).
    fn next_start(&self, text: &[char], pos: usize) -> Option<usize> {
        let rest = text.get(pos..)?;
        if let [lead, tail @ ..] = self.prefix.as_slice() {
            let mut from = 0;
            while let Some(i) = rest[from..].iter().position(|c| c == lead) {
                if rest[from + i + 1..].starts_with(tail) {
                    return Some(pos + from + i);
                }
                from += i + 1;
            }
            return None;
        }
        match self.first {
            Some(class) => text
                .get(pos..)?
                .iter()
                .position(|&c| class.accepts(c))
                .map(|i| pos + i),
            None => Some(pos),
        }
    }

    /// Moves every thread over character `c`; false when none survives.
    fn advance(&self, current: &[Option<usize>], next: &mut [Option<usize>], c: char) -> bool {
        next.fill(None);
        let mut alive = false;
        for (state, step) in self.steps.iter().enumerate() {
            let Some(start) = current[state] else {
                continue;
            };
            let target = match step {
                Step::Once(class) | Step::Optional(class) if class.accepts(c) => state + 1,
                Step::Repeated(class) if class.accepts(c) => state,
                _ => continue,
            };
            keep_earliest(&mut next[target], start);
            alive = true;
        }
        alive
    }

    /// Follows the steps that consume nothing (an optional or repeated
    /// step skipped, a boundary that holds at `pos`).
    fn close(&self, states: &mut [Option<usize>], text: &[char], pos: usize) {
        // Steps only lead forward, so one pass in order reaches everything.
        for (state, step) in self.steps.iter().enumerate() {
            let Some(start) = states[state] else { continue };
            let passes = match step {
                Step::Optional(_) | Step::Repeated(_) => true,
                Step::Boundary => at_boundary(text, pos),
                Step::Once(_) => false,
            };
            if passes {
                keep_earliest(&mut states[state + 1], start);
            }
        }
    }
}

/// The classes one pattern character stands for (a plain character may
/// fold to several), or `None` for `\b`.
fn classes(c: char, chars: &mut Peekable<Chars<'_>>) -> Result<Option<Vec<Class>>, String> {
    let classes = match c {
        '\\' => match chars.next() {
            Some('b') => return Ok(None),
            Some('d') => vec![Class::Digit],
            Some('a') => vec![Class::Letter],
            Some('w') => vec![Class::Word],
            Some('s') => vec![Class::Space],
            Some(other) => fold(other).map(Class::Literal).collect(),
            None => return Err("ends with a lone backslash".into()),
        },
        '.' => vec![Class::Any],
        '?' | '*' | '+' | '{' => return Err(format!("`{c}` follows nothing it could repeat")),
        c if c.is_whitespace() => vec![Class::Space],
        other => fold(other).map(Class::Literal).collect(),
    };
    Ok(Some(classes))
}

/// What every match starts with: the class of the first character, and
/// the plain characters that open the pattern (after any `\b`).
fn lead(steps: &[Step]) -> (Option<Class>, Vec<char>) {
    let leading = steps.iter().skip_while(|s| matches!(s, Step::Boundary));
    let first = match leading.clone().next() {
        Some(Step::Once(class)) => Some(*class),
        _ => None,
    };
    let prefix = leading
        .map_while(|s| match s {
            Step::Once(Class::Literal(c)) => Some(*c),
            _ => None,
        })
        .collect();
    (first, prefix)
}

fn keep_earliest(slot: &mut Option<usize>, start: usize) {
    if slot.is_none_or(|s| start < s) {
        *slot = Some(start);
    }
}

fn at_boundary(text: &[char], pos: usize) -> bool {
    let before = pos
        .checked_sub(1)
        .and_then(|p| text.get(p))
        .is_some_and(|&c| is_word_char(c));
    let after = text.get(pos).is_some_and(|&c| is_word_char(c));
    before != after
}

/// Reads an optional quantifier: `(min, Some(max))`, or `(min, None)` for
/// no upper bound; none at all is exactly once.
fn quantifier(chars: &mut Peekable<Chars<'_>>) -> Result<(usize, Option<usize>), String> {
    let bounds = match chars.peek() {
        Some('?') => (0, Some(1)),
        Some('*') => (0, None),
        Some('+') => (1, None),
        Some('{') => {
            chars.next();
            let mut body = String::new();
            for c in chars.by_ref() {
                if c == '}' {
                    return bounds(&body);
                }
                body.push(c);
            }
            return Err(format!("`{{{body}` is never closed"));
        }
        _ => return Ok((1, Some(1))),
    };
    chars.next();
    Ok(bounds)
}

/// Parses the inside of `{...}`.
fn bounds(body: &str) -> Result<(usize, Option<usize>), String> {
    let number = |s: &str| {
        s.trim()
            .parse::<usize>()
            .map_err(|_| format!("`{{{body}}}` is not a repeat like {{2}}, {{2,}} or {{2,5}}"))
    };
    let (min, max) = match body.split_once(',') {
        None => (number(body)?, Some(number(body)?)),
        Some((low, high)) if high.trim().is_empty() => (number(low)?, None),
        Some((low, high)) => (number(low)?, Some(number(high)?)),
    };
    if max.is_some_and(|m| m < min) || max.unwrap_or(min) > MAX_REPEAT {
        return Err(format!("`{{{body}}}` needs n <= m <= {MAX_REPEAT}"));
    }
    Ok((min, max))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::score::text::folded;

    fn find(pattern: &str, text: &str) -> Vec<String> {
        let chars = folded(text);
        let Ok(p) = Pattern::new(pattern) else {
            return vec!["<invalid>".into()];
        };
        p.find_all(&chars)
            .into_iter()
            .map(|(s, e)| chars[s..e].iter().collect())
            .collect()
    }

    #[test]
    fn finds_identifiers_with_positions() {
        assert_eq!(
            find(r"\bORD-\d{4,}", "Order ORD-48213 and ord-50032."),
            ["ord-48213", "ord-50032"]
        );
        assert_eq!(
            find(r"\bORD-\d{4,}", "ご注文ＯＲＤ－５１２３０です"),
            ["ord-51230"]
        );
        assert_eq!(find(r"\bORD-\d{4,}", "WORD-12345"), Vec::<String>::new());
        assert_eq!(
            find(r"\b\d{4}-\d{4}-\d{4}\b", "no. 4471-2290-1834, 1-2-3"),
            ["4471-2290-1834"]
        );
        assert_eq!(
            find(r"\b\a\a\d{9}\a\a\b", "EMS EJ481205377JP."),
            ["ej481205377jp"]
        );
    }

    #[test]
    fn leftmost_then_longest() {
        assert_eq!(
            find(r"\d+ business days", "takes 5-10 business days"),
            ["10 business days"]
        );
        assert_eq!(find(r"a+b?", "xaaab aa"), ["aaab", "aa"]);
        assert_eq!(
            find(
                r"tracking number:? .{0,12}don't have",
                "Tracking number: I don’t have it"
            ),
            ["tracking number: i don't have"]
        );
    }

    #[test]
    fn refuses_bad_patterns() {
        for bad in [
            "", "+a", "a{4,2}", "a{40}", "x\\", r"\b", "a*", "a{2", "a{x}",
        ] {
            assert!(Pattern::new(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
