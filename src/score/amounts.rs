//! Prices, percentages and plain numbers in folded text, as values that
//! can be compared whatever their spelling (`¥1,200`, `1200円`, `$12.99`,
//! `USD 12.99`, `10%`, `10 percent`).

use super::text::is_word_char;

/// An amount found in a text, in hundredths (`¥1,200` → 120000).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Amount {
    /// Character range in the folded text, marks included.
    pub start: usize,
    pub end: usize,
    pub hundredths: u64,
}

/// Currency marks written before an amount (folded, so lowercase).
const BEFORE: &[&str] = &["us$", "¥", "$", "€", "£", "jpy ", "usd ", "eur ", "gbp "];
/// Currency marks written after an amount.
const AFTER: &[&str] = &["円", " yen", " jpy", " usd", " eur", " dollars"];
/// Percentage marks written after an amount.
const PERCENT: &[&str] = &["%", " percent", "パーセント", " per cent"];

/// Reads a number at `at`: digits with optional thousands commas and an
/// optional decimal part. Returns `(hundredths, end)`.
pub(crate) fn number_at(text: &[char], at: usize) -> Option<(u64, usize)> {
    let digits = |from: usize| {
        text.get(from..)
            .map_or(0, |t| t.iter().take_while(|c| c.is_ascii_digit()).count())
    };
    let value = |from: usize, len: usize| {
        text[from..from + len]
            .iter()
            .fold(0u64, |v, c| v * 10 + u64::from(c.to_digit(10).unwrap_or(0)))
    };
    let first = digits(at);
    if first == 0 || first > 15 {
        return None;
    }
    let mut whole = value(at, first);
    let (mut end, mut length) = (at + first, first);
    // Thousands groups: `,` then exactly three digits.
    while text.get(end) == Some(&',') && digits(end + 1) == 3 && length < 15 {
        whole = whole * 1000 + value(end + 1, 3);
        end += 4;
        length += 3;
    }
    let mut cents = 0;
    let fraction = if text.get(end) == Some(&'.') {
        digits(end + 1)
    } else {
        0
    };
    if (1..=2).contains(&fraction) {
        cents = value(end + 1, fraction) * if fraction == 1 { 10 } else { 1 };
        end += 1 + fraction;
    }
    Some((whole * 100 + cents, end))
}

fn starts_with_at(text: &[char], at: usize, mark: &str) -> bool {
    mark.chars()
        .enumerate()
        .all(|(i, m)| text.get(at + i) == Some(&m))
}

/// The first of `marks` written at `at`, as its length in characters.
fn mark_at(text: &[char], at: usize, marks: &[&str]) -> Option<usize> {
    marks
        .iter()
        .find(|m| starts_with_at(text, at, m))
        .map(|m| m.chars().count())
}

/// True when `at` cannot be inside a longer word or number.
fn free_start(text: &[char], at: usize) -> bool {
    at == 0 || !(is_word_char(text[at - 1]) || text[at - 1] == '.')
}

/// Every price: an amount with a currency mark before or after it.
pub(crate) fn prices(text: &[char]) -> Vec<Amount> {
    let mut found = Vec::new();
    let mut at = 0;
    while at < text.len() {
        if let Some(price) = price_at(text, at) {
            at = price.end;
            found.push(price);
        } else {
            at += 1;
        }
    }
    found
}

fn price_at(text: &[char], at: usize) -> Option<Amount> {
    // Every price starts with a digit or a currency mark's first letter.
    let lead = text[at];
    if !(lead.is_ascii_digit() || BEFORE.iter().any(|m| m.starts_with(lead)))
        || !free_start(text, at)
    {
        return None;
    }
    if let Some(mark) = mark_at(text, at, BEFORE) {
        let number_start = if text.get(at + mark) == Some(&' ') {
            at + mark + 1
        } else {
            at + mark
        };
        let (hundredths, end) = number_at(text, number_start)?;
        return Some(Amount {
            start: at,
            end,
            hundredths,
        });
    }
    let (hundredths, end) = number_at(text, at)?;
    let mark = mark_at(text, end, AFTER)?;
    Some(Amount {
        start: at,
        end: end + mark,
        hundredths,
    })
}

/// Every percentage: an amount followed by `%` or `percent`.
pub(crate) fn percents(text: &[char]) -> Vec<Amount> {
    let mut found = Vec::new();
    let mut at = 0;
    while at < text.len() {
        let hit = (text[at].is_ascii_digit() && free_start(text, at))
            .then(|| number_at(text, at))
            .flatten()
            .and_then(|(hundredths, end)| {
                let mark = mark_at(text, end, PERCENT)?;
                Some(Amount {
                    start: at,
                    end: end + mark,
                    hundredths,
                })
            });
        match hit {
            Some(amount) => {
                at = amount.end;
                found.push(amount);
            }
            None => at += 1,
        }
    }
    found
}

/// The value of every number in `text`, sorted, for lookups: an answer's
/// price is grounded when its amount appears in the request in any form
/// (`¥528`, `528円`, or `"price": 528` in a tool result).
pub(crate) fn all_numbers(text: &[char]) -> Vec<u64> {
    let mut values = Vec::new();
    let mut at = 0;
    while at < text.len() {
        let starts = text[at].is_ascii_digit() && free_start(text, at);
        match starts.then(|| number_at(text, at)).flatten() {
            Some((value, end)) => {
                values.push(value);
                at = end;
            }
            None => at += 1,
        }
    }
    values.sort_unstable();
    values.dedup();
    values
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::score::text::folded;

    fn values(found: Vec<Amount>) -> Vec<u64> {
        found.iter().map(|a| a.hundredths).collect()
    }

    #[test]
    fn prices_in_every_spelling() {
        let text =
            folded("¥1,200, ￥５２８, 1200円, $12.99, US$5, USD 7.5, 3,300 yen, ¥2,000-¥6,000");
        assert_eq!(
            values(prices(&text)),
            [
                120000, 52800, 120000, 1299, 500, 750, 330000, 200000, 600000
            ]
        );
    }

    #[test]
    fn japanese_text_may_touch_a_price() {
        let text = folded("合計1,200円です。送料¥550");
        assert_eq!(values(prices(&text)), [120000, 55000]);
    }

    #[test]
    fn plain_numbers_are_not_prices() {
        let text = folded("vol. 105, 4471-2290-1834, 2-4 business days, 1.5x");
        assert_eq!(prices(&text), []);
    }

    #[test]
    fn percentages() {
        let text = folded("10% off, 5 percent, 30％, ver2%");
        assert_eq!(values(percents(&text)), [1000, 500, 3000]);
    }

    #[test]
    fn numbers_for_lookup() {
        let text = folded(r#"{"price": 528, "total": "1,320"} vol. 1-10"#);
        assert_eq!(all_numbers(&text), [100, 1000, 52800, 132000]);
    }
}
