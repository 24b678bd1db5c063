//! Finding date-looking text in answers and requests: ISO dates, other
//! numeric dates (`3/14/2025`, `14.03.2025`, `2025/3/14`), English dates
//! with month names (`March 14, 2025`, `14th of March`) and Japanese dates
//! (`2025年3月14日`, `3月14日`). Runs on folded text (`text::folded`), so
//! full-width digits count as digits. Japanese text may touch a date on
//! either side (`2025-03-05に発送`): CJK characters do not continue numbers.
//!
//! Deliberately not dates: two numbers joined by `-` (`1-2 business days`,
//! `vol. 1-10`), runs with a part too long for a month or a day (tracking
//! numbers such as `4471-2290-1834`), times, years alone and month-year
//! pairs without a day.

use super::text::is_word_char;

/// One date found in a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FoundDate {
    /// Character range in the folded text.
    pub start: usize,
    pub end: usize,
    pub year: Option<u32>,
    pub month: u32,
    pub day: u32,
    /// Written exactly `YYYY-MM-DD`.
    pub iso: bool,
}

impl FoundDate {
    /// Same day of the year, and the same year when both name one: an
    /// answer's `March 6` matches a record's `2025-03-06`.
    pub fn same_day(&self, other: &FoundDate) -> bool {
        self.month == other.month
            && self.day == other.day
            && (self.year.is_none() || other.year.is_none() || self.year == other.year)
    }
}

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// Every date in folded `text`, left to right, without overlaps.
pub(crate) fn find_dates(text: &[char]) -> Vec<FoundDate> {
    let mut found = Vec::new();
    let mut at = 0;
    while at < text.len() {
        // Every date starts with a digit or a month's name.
        if !text[at].is_ascii_alphanumeric() {
            at += 1;
            continue;
        }
        let date = numeric_at(text, at)
            .or_else(|| japanese_at(text, at))
            .or_else(|| month_first_at(text, at))
            .or_else(|| day_first_at(text, at));
        match date {
            Some(date) => {
                at = date.end;
                found.push(date);
            }
            None => at += 1,
        }
    }
    found
}

/// The number of up to five ASCII digits at `at`: `(value, digits)`.
fn number(text: &[char], at: usize) -> Option<(u32, usize)> {
    let len = text[at.min(text.len())..]
        .iter()
        .take(6)
        .take_while(|c| c.is_ascii_digit())
        .count();
    if len == 0 || len > 5 {
        return None;
    }
    let value = text[at..at + len]
        .iter()
        .fold(0, |v, c| v * 10 + c.to_digit(10).unwrap_or(0));
    Some((value, len))
}

/// True when position `at` may start a number of its own: not inside a
/// word or a longer chain of numbers.
fn starts_number(text: &[char], at: usize) -> bool {
    at == 0 || (!is_word_char(text[at - 1]) && !matches!(text[at - 1], '-' | '/' | '.' | ','))
}

/// True when nothing after `end` continues the number.
fn ends_number(text: &[char], end: usize) -> bool {
    match text.get(end) {
        None => true,
        Some(&c) if is_word_char(c) => false,
        Some('-' | '/' | '.' | ':' | ',') => !text.get(end + 1).is_some_and(char::is_ascii_digit),
        Some(_) => true,
    }
}

fn valid(
    year: Option<u32>,
    month: u32,
    day: u32,
    start: usize,
    end: usize,
    iso: bool,
) -> Option<FoundDate> {
    ((1..=12).contains(&month) && (1..=31).contains(&day)).then_some(FoundDate {
        start,
        end,
        year,
        month,
        day,
        iso,
    })
}

/// `Y-M-D`, `D.M.Y`, `M/D/Y`, `M/D/YY` and `M/D`.
fn numeric_at(text: &[char], at: usize) -> Option<FoundDate> {
    if !starts_number(text, at) {
        return None;
    }
    let (a, a_len) = number(text, at)?;
    let sep = *text
        .get(at + a_len)
        .filter(|c| matches!(c, '-' | '/' | '.'))?;
    let b_at = at + a_len + 1;
    let (b, b_len) = number(text, b_at)?;
    let c_at = b_at + b_len + 1;
    let third = (text.get(c_at - 1) == Some(&sep))
        .then(|| number(text, c_at))
        .flatten();
    let Some((c, c_len)) = third else {
        // Two parts only count with a slash (`3/14`); `1-2` is a range.
        let end = b_at + b_len;
        let pair = sep == '/' && a_len <= 2 && b_len <= 2 && ends_number(text, end);
        return pair.then(|| valid(None, a, b, at, end, false)).flatten();
    };
    let end = c_at + c_len;
    if !ends_number(text, end) || b_len > 2 {
        return None;
    }
    match (a_len, c_len) {
        (4, 1..=2) => valid(
            Some(a),
            b,
            c,
            at,
            end,
            sep == '-' && b_len == 2 && c_len == 2,
        ),
        // Day and month order is ambiguous; a first part over 12 is a day.
        (1..=2, 4) if a > 12 => valid(Some(c), b, a, at, end, false),
        (1..=2, 4) => valid(Some(c), a, b, at, end, false),
        (1..=2, 2) if sep == '/' => valid(Some(2000 + c), a, b, at, end, false),
        _ => None,
    }
}

/// `2025年3月14日` and `3月14日`.
fn japanese_at(text: &[char], at: usize) -> Option<FoundDate> {
    if !starts_number(text, at) {
        return None;
    }
    let (first, first_len) = number(text, at)?;
    let (year, month_at) = match text.get(at + first_len) {
        Some('年') => (Some(first), at + first_len + 1),
        Some('月') => (None, at),
        _ => return None,
    };
    let (month, month_len) = number(text, month_at)?;
    (text.get(month_at + month_len) == Some(&'月')).then_some(())?;
    let day_at = month_at + month_len + 1;
    let (day, day_len) = number(text, day_at)?;
    (text.get(day_at + day_len) == Some(&'日')).then_some(())?;
    valid(year, month, day, at, day_at + day_len + 1, false)
}

/// The month named at `at` (a full name, or three or four letters with an
/// optional period), as `(month, end)`.
fn month_name(text: &[char], at: usize) -> Option<(u32, usize)> {
    // Month names start with one of these letters; most words do not.
    if !matches!(
        text.get(at),
        Some('j' | 'f' | 'm' | 'a' | 's' | 'o' | 'n' | 'd')
    ) || (at > 0 && is_word_char(text[at - 1]))
    {
        return None;
    }
    let word_len = text[at..]
        .iter()
        .take(10)
        .take_while(|c| c.is_ascii_alphabetic())
        .count();
    if !(3..=9).contains(&word_len) {
        return None;
    }
    let word = &text[at..at + word_len];
    let spells =
        |name: &str| name.len() >= word_len && name.chars().take(word_len).eq(word.iter().copied());
    let abbreviation = |name: &str| word_len == 3 || (word_len == 4 && name == "september");
    let month = MONTHS
        .iter()
        .position(|m| spells(m) && (m.len() == word_len || abbreviation(m)))?;
    let end = at + word_len;
    let end = if text.get(end) == Some(&'.') {
        end + 1
    } else {
        end
    };
    Some((month as u32 + 1, end))
}

/// A day number with an optional ordinal suffix: `(day, end)`.
fn day_number(text: &[char], at: usize) -> Option<(u32, usize)> {
    let (day, len) = number(text, at).filter(|&(_, len)| len <= 2)?;
    let mut end = at + len;
    let suffix: String = text[end..].iter().take(2).collect();
    if ["st", "nd", "rd", "th"].contains(&suffix.as_str()) {
        end += 2;
    }
    (!text.get(end).is_some_and(|&c| is_word_char(c) || c == ':')).then_some((day, end))
}

/// An optional `, 2025` or ` 2025` after a day: `(year, end)`.
fn trailing_year(text: &[char], at: usize) -> (Option<u32>, usize) {
    let mut pos = at;
    if text.get(pos) == Some(&',') {
        pos += 1;
    }
    if text.get(pos) != Some(&' ') {
        return (None, at);
    }
    match number(text, pos + 1) {
        Some((year, 4)) if ends_number(text, pos + 5) => (Some(year), pos + 5),
        _ => (None, at),
    }
}

/// `March 14`, `Mar. 14th, 2025`.
fn month_first_at(text: &[char], at: usize) -> Option<FoundDate> {
    let (month, name_end) = month_name(text, at)?;
    (text.get(name_end) == Some(&' ')).then_some(())?;
    let (day, day_end) = day_number(text, name_end + 1)?;
    let (year, end) = trailing_year(text, day_end);
    valid(year, month, day, at, end, false)
}

/// `14 March 2025`, `14th of March`.
fn day_first_at(text: &[char], at: usize) -> Option<FoundDate> {
    if !starts_number(text, at) {
        return None;
    }
    let (day, day_end) = day_number(text, at)?;
    (text.get(day_end) == Some(&' ')).then_some(())?;
    let mut name_at = day_end + 1;
    if text[name_at..].starts_with(&['o', 'f', ' ']) {
        name_at += 3;
    }
    let (month, name_end) = month_name(text, name_at)?;
    if text.get(name_end).is_some_and(|c| c.is_alphabetic()) {
        return None;
    }
    let (year, end) = trailing_year(text, name_end);
    valid(year, month, day, at, end, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::score::text::folded;

    fn dates(text: &str) -> Vec<(String, Option<u32>, u32, u32, bool)> {
        let chars = folded(text);
        find_dates(&chars)
            .into_iter()
            .map(|d| {
                (
                    chars[d.start..d.end].iter().collect(),
                    d.year,
                    d.month,
                    d.day,
                    d.iso,
                )
            })
            .collect()
    }

    #[test]
    fn iso_and_other_numeric_dates() {
        assert_eq!(
            dates("shipped 2025-03-03."),
            [("2025-03-03".into(), Some(2025), 3, 3, true)]
        );
        assert_eq!(
            dates("on 2025-3-4"),
            [("2025-3-4".into(), Some(2025), 3, 4, false)]
        );
        assert_eq!(
            dates("by 3/14/2025 or 14.03.2025"),
            [
                ("3/14/2025".into(), Some(2025), 3, 14, false),
                ("14.03.2025".into(), Some(2025), 3, 14, false)
            ]
        );
        assert_eq!(dates("around 3/14"), [("3/14".into(), None, 3, 14, false)]);
        assert_eq!(
            dates("２０２５－０３－０７"),
            [("2025-03-07".into(), Some(2025), 3, 7, true)]
        );
    }

    #[test]
    fn named_and_japanese_dates() {
        assert_eq!(
            dates("arrives March 14, 2025!"),
            [("march 14, 2025".into(), Some(2025), 3, 14, false)]
        );
        assert_eq!(
            dates("by the 14th of Mar."),
            [("14th of mar.".into(), None, 3, 14, false)]
        );
        assert_eq!(
            dates("2025年3月7日にお届け"),
            [("2025年3月7日".into(), Some(2025), 3, 7, false)]
        );
        assert_eq!(dates("3月7日"), [("3月7日".into(), None, 3, 7, false)]);
        assert_eq!(
            dates("発送日は2025-03-05にお届け"),
            [("2025-03-05".into(), Some(2025), 3, 5, true)]
        );
        assert_eq!(
            dates("お届けは3月7日です"),
            [("3月7日".into(), None, 3, 7, false)]
        );
    }

    #[test]
    fn things_that_are_not_dates() {
        for text in [
            "1-2 business days",
            "vol. 1-10 set",
            "tracking 4471-2290-1834",
            "call 03-1234-5678",
            "¥2,000-¥6,000",
            "at 14:00 JST",
            "ran from 2001 to 2010",
            "you may 2x it",
            "version 1.2.3",
            "EJ481205377JP",
            "march on",
        ] {
            assert_eq!(dates(text), [], "{text:?}");
        }
    }
}
