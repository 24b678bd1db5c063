//! Text normalisation shared by keywords, patterns and the messages they
//! are matched against, so that both sides are compared in one spelling.

/// Lowercases, folds full-width ASCII (`ＯＲＤ－１２３` → `ord-123`, common
/// in Japanese input) and curly apostrophes to plain ones, and collapses
/// every run of whitespace into one space, trimming the ends.
pub(crate) fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_space = false;
    for c in text.chars().flat_map(fold) {
        if c.is_whitespace() {
            pending_space = !out.is_empty();
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        out.push(c);
    }
    out
}

/// One character in its comparison form (possibly several characters, as
/// lowercasing can produce).
pub(crate) fn fold(c: char) -> impl Iterator<Item = char> {
    let c = match c {
        // Full-width forms of ASCII sit at a fixed offset above it.
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        '\u{3000}' => ' ',
        '\u{2018}' | '\u{2019}' | '\u{02BC}' => '\'',
        _ => c,
    };
    c.to_lowercase()
}

/// Characters that make up words for boundary checks: letters, digits and
/// `_`, except Japanese, Chinese and Korean script, which is written
/// without spaces and so has no word boundaries to respect.
pub(crate) fn is_word_char(c: char) -> bool {
    (c.is_alphanumeric() || c == '_') && !is_cjk(c)
}

fn is_cjk(c: char) -> bool {
    matches!(c,
        '\u{3040}'..='\u{30FF}'     // hiragana, katakana
        | '\u{3400}'..='\u{4DBF}'   // CJK extension A
        | '\u{4E00}'..='\u{9FFF}'   // CJK unified ideographs
        | '\u{AC00}'..='\u{D7AF}'   // hangul syllables
        | '\u{F900}'..='\u{FAFF}'   // CJK compatibility ideographs
        | '\u{FF66}'..='\u{FF9F}'   // half-width katakana
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_case_width_quotes_and_spaces() {
        assert_eq!(
            normalize("  Where’s   MY\n\tＯＲＤ－１２３ "),
            "where's my ord-123"
        );
        assert_eq!(normalize("注文\u{3000}番号"), "注文 番号");
        assert_eq!(normalize("   "), "");
    }

    #[test]
    fn cjk_is_not_a_word_char() {
        assert!(is_word_char('a'));
        assert!(is_word_char('7'));
        assert!(is_word_char('é'));
        assert!(!is_word_char('注'));
        assert!(!is_word_char('カ'));
        assert!(!is_word_char('-'));
    }
}
