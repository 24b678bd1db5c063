//! A tiny pattern language for intent rules, so rules can recognise shapes
//! such as order ids (`#\d{5,}`, `\bord-\d+`) without a regex dependency.
//!
//! Syntax (matched case-insensitively, anywhere in the message):
//! - a plain character matches itself; `\` before a character makes it
//!   plain (`\.`, `\?`, `\\`);
//! - `.` any character, `\d` a digit 0-9 (full-width digits are folded to
//!   these), `\a` a letter, `\w` a letter, digit or `_`, `\s` a space
//!   (messages are normalised to single spaces);
//! - `\b` a word boundary (between a word character and a non-word one, or
//!   the text's edge);
//! - after any of those but `\b`: `?` (optional), `*` (any number), `+`
//!   (one or more), `{n}`, `{n,}`, `{n,m}` (n ≤ m ≤ 32).
//!
//! There are no groups, alternatives or character classes: write one
//! pattern per alternative. Matching runs all alternatives of the pattern
//! at once over the text (a Thompson NFA), so its cost is linear in the
//! text whatever the pattern: a rule cannot make classification slow.

use std::fmt;

use super::text::{fold, is_word_char};

/// Largest repeat count in `{n,m}`.
const MAX_REPEAT: usize = 32;
/// Largest number of matching steps after expanding repeats.
const MAX_STEPS: usize = 256;

/// Why a pattern was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("pattern {pattern:?}: {message}")]
pub struct PatternError {
    pattern: String,
    message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Atom {
    Char(char),
    Any,
    Digit,
    Letter,
    Word,
    Space,
}

impl Atom {
    fn matches(self, c: char) -> bool {
        match self {
            Atom::Char(x) => x == c,
            Atom::Any => true,
            Atom::Digit => c.is_ascii_digit(),
            Atom::Letter => c.is_alphabetic(),
            Atom::Word => c.is_alphanumeric() || c == '_',
            Atom::Space => c == ' ',
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Exactly one character.
    One(Atom),
    /// Zero or one character.
    Maybe(Atom),
    /// Any number of characters.
    Many(Atom),
    /// A word boundary; consumes nothing.
    Boundary,
}

/// A compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    source: String,
    steps: Vec<Step>,
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl Pattern {
    /// Compiles `source`.
    pub fn new(source: &str) -> Result<Self, PatternError> {
        let error = |message: String| PatternError {
            pattern: source.to_string(),
            message,
        };
        let mut steps: Vec<Step> = Vec::new();
        let mut chars = source.chars().peekable();
        while let Some(c) = chars.next() {
            let atoms: Vec<Atom> = match c {
                '\\' => match chars.next() {
                    Some('b') => {
                        steps.push(Step::Boundary);
                        continue;
                    }
                    Some('d') => vec![Atom::Digit],
                    Some('a') => vec![Atom::Letter],
                    Some('w') => vec![Atom::Word],
                    Some('s') => vec![Atom::Space],
                    Some(other) => fold(other).map(Atom::Char).collect(),
                    None => return Err(error("ends with a lone \\".into())),
                },
                '.' => vec![Atom::Any],
                '?' | '*' | '+' | '{' => {
                    return Err(error(format!(
                        "{c:?} does not follow a character to repeat"
                    )));
                }
                ' ' => vec![Atom::Space],
                other => fold(other).map(Atom::Char).collect(),
            };
            let (last, before) = atoms
                .split_last()
                .ok_or_else(|| error("empty character".into()))?;
            steps.extend(before.iter().map(|a| Step::One(*a)));
            let (min, max) = repeat(&mut chars).map_err(error)?;
            steps.extend(std::iter::repeat_n(Step::One(*last), min));
            match max {
                None => steps.push(Step::Many(*last)),
                Some(max) => steps.extend(std::iter::repeat_n(Step::Maybe(*last), max - min)),
            }
            if steps.len() > MAX_STEPS {
                return Err(error(format!(
                    "too long once repeats are expanded (over {MAX_STEPS} steps)"
                )));
            }
        }
        if !steps.iter().any(|s| matches!(s, Step::One(_))) {
            return Err(error(
                "matches the empty text; it needs at least one required character".into(),
            ));
        }
        Ok(Self {
            source: source.to_string(),
            steps,
        })
    }

    /// True when the pattern occurs anywhere in `text`, which must be
    /// normalised (see `text::normalize`) and split into characters.
    pub(crate) fn is_match(&self, text: &[char]) -> bool {
        let accept = self.steps.len();
        let mut current = vec![false; accept + 1];
        let mut next = vec![false; accept + 1];
        for pos in 0..=text.len() {
            // A match may start at any position.
            current[0] = true;
            if self.close(&mut current, text, pos) {
                return true;
            }
            let Some(&c) = text.get(pos) else { break };
            next.fill(false);
            for (state, step) in self.steps.iter().enumerate() {
                if !current[state] {
                    continue;
                }
                match step {
                    Step::One(a) | Step::Maybe(a) if a.matches(c) => next[state + 1] = true,
                    Step::Many(a) if a.matches(c) => next[state] = true,
                    _ => {}
                }
            }
            std::mem::swap(&mut current, &mut next);
        }
        false
    }

    /// Adds the states reachable without consuming a character; true when
    /// the accepting state is among them.
    fn close(&self, states: &mut [bool], text: &[char], pos: usize) -> bool {
        // Steps only lead forward, so one pass in order reaches everything.
        for state in 0..self.steps.len() {
            if !states[state] {
                continue;
            }
            let skip = match self.steps[state] {
                Step::Maybe(_) | Step::Many(_) => true,
                Step::Boundary => at_boundary(text, pos),
                Step::One(_) => false,
            };
            if skip {
                states[state + 1] = true;
            }
        }
        states[self.steps.len()]
    }
}

fn at_boundary(text: &[char], pos: usize) -> bool {
    let before = pos
        .checked_sub(1)
        .and_then(|p| text.get(p))
        .is_some_and(|c| is_word_char(*c));
    let after = text.get(pos).is_some_and(|c| is_word_char(*c));
    before != after
}

/// Reads an optional quantifier: `(min, Some(max))`, or `(min, None)` for
/// no upper bound. No quantifier is `(1, Some(1))`.
fn repeat(
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
) -> Result<(usize, Option<usize>), String> {
    let bounds = match chars.peek() {
        Some('?') => (0, Some(1)),
        Some('*') => (0, None),
        Some('+') => (1, None),
        Some('{') => {
            chars.next();
            let mut body = String::new();
            for c in chars.by_ref() {
                if c == '}' {
                    return braces(&body);
                }
                body.push(c);
            }
            return Err(format!("unclosed repeat {{{body}"));
        }
        _ => return Ok((1, Some(1))),
    };
    chars.next();
    Ok(bounds)
}

fn braces(body: &str) -> Result<(usize, Option<usize>), String> {
    let number = |s: &str| {
        s.trim()
            .parse::<usize>()
            .map_err(|_| format!("bad repeat {{{body}}}"))
    };
    let (min, max) = match body.split_once(',') {
        None => (number(body)?, Some(number(body)?)),
        Some((lo, hi)) if hi.trim().is_empty() => (number(lo)?, None),
        Some((lo, hi)) => (number(lo)?, Some(number(hi)?)),
    };
    if max.is_some_and(|m| m < min) || min.max(max.unwrap_or(0)) > MAX_REPEAT {
        return Err(format!(
            "repeat {{{body}}} must have n <= m <= {MAX_REPEAT}"
        ));
    }
    Ok((min, max))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::text::normalize;

    fn hit(pattern: &str, text: &str) -> bool {
        let chars: Vec<char> = normalize(text).chars().collect();
        Pattern::new(pattern)
            .map(|p| p.is_match(&chars))
            .unwrap_or(false)
    }

    #[test]
    fn order_ids() {
        assert!(hit(r"#\d{5,}", "order #12345 please"));
        assert!(!hit(r"#\d{5,}", "order #1234 please"));
        assert!(hit(r"\bord-\d+", "It's ORD-48213."));
        assert!(hit(r"\bord-\d+", "ＯＲＤ－４８２１３"));
        assert!(!hit(r"\bord-\d+", "word-123"));
        assert!(hit(r"\b\a\a\d{9}\a\a\b", "tracking EJ481205377JP ok"));
    }

    #[test]
    fn quantifiers_and_boundaries() {
        assert!(hit(r"\bvol\.?\s?\d+", "one piece vol.105"));
        assert!(hit(r"\bvol\.?\s?\d+", "one piece vol 105"));
        assert!(!hit(r"\bvol\.?\s?\d+", "volcano 3"));
        assert!(hit(r"\d+巻", "ワンピース105巻"));
        assert!(hit(r"what\sis\s.+\sabout\b", "so what is frieren about?"));
        assert!(hit(r"colou?r", "color"));
        assert!(hit(r"a{2,3}b", "xaab"));
        assert!(!hit(r"\ba{2,3}b", "aaaab"));
    }

    #[test]
    fn refuses_bad_patterns() {
        for bad in ["", "*a", "a{3,2}", "a{99}", r"x\", r"\b", "a?", "x{2"] {
            assert!(Pattern::new(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn linear_on_adversarial_input() {
        let text: Vec<char> = "a".repeat(4096).chars().collect();
        let p = Pattern::new("a*a*a*a*a*a*a*a*b").map_err(|e| e.to_string());
        assert_eq!(p.map(|p| p.is_match(&text)), Ok(false));
    }
}
