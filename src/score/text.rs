//! Character-level helpers shared by the checks: one folded spelling for
//! comparisons, word and sentence counting that also works for Japanese.

/// One character in the spelling every comparison uses: lowercase, with
/// full-width ASCII (`ＯＲＤ－１２３`, common in Japanese input), the
/// ideographic space, the full-width yen sign and curly apostrophes folded
/// to their plain forms. Lowercasing may yield several characters.
pub(crate) fn fold(c: char) -> impl Iterator<Item = char> {
    let plain = match c {
        // Full-width forms of ASCII sit at a fixed offset above it.
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        '\u{3000}' => ' ',
        '\u{FFE5}' => '¥',
        '\u{2018}' | '\u{2019}' | '\u{02BC}' => '\'',
        _ => c,
    };
    plain.to_lowercase()
}

/// `text` with every character folded (see [`fold`]).
pub(crate) fn folded(text: &str) -> Vec<char> {
    let mut out = Vec::with_capacity(text.len());
    fold_into(text, |c| out.push(c));
    out
}

/// `text` folded into a `String`, for substring comparisons.
pub(crate) fn folded_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    fold_into(text, |c| out.push(c));
    out
}

/// Feeds `push` the folded characters of `text`; ASCII, most of any
/// text, takes a short path.
fn fold_into(text: &str, mut push: impl FnMut(char)) {
    for c in text.chars() {
        if c.is_ascii() {
            push(c.to_ascii_lowercase());
        } else {
            fold(c).for_each(&mut push);
        }
    }
}

/// Japanese, Chinese and Korean script: written without spaces, so it has
/// no word boundaries and is counted and compared by character.
#[inline]
pub(crate) fn is_cjk(c: char) -> bool {
    !c.is_ascii()
        && matches!(c,
            '\u{3040}'..='\u{30FF}'     // hiragana, katakana
            | '\u{3400}'..='\u{4DBF}'   // CJK extension A
            | '\u{4E00}'..='\u{9FFF}'   // CJK unified ideographs
            | '\u{AC00}'..='\u{D7AF}'   // hangul syllables
            | '\u{F900}'..='\u{FAFF}'   // CJK compatibility ideographs
            | '\u{FF66}'..='\u{FF9F}'   // half-width katakana
        )
}

/// Hiragana carries most of Japanese grammar (particles, endings), so a
/// pair of hiragana says little about what a text is about.
pub(crate) fn is_hiragana(c: char) -> bool {
    matches!(c, '\u{3040}'..='\u{309F}')
}

/// Letters, digits and `_` outside CJK script: what `\b` and word counts
/// treat as part of a word.
#[inline]
pub(crate) fn is_word_char(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphanumeric() || c == '_';
    }
    c.is_alphanumeric() && !is_cjk(c)
}

/// A piece of text as the tokenizer sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Token<'a> {
    /// A run of word characters (see [`is_word_char`]).
    Word(&'a str),
    /// A run of CJK characters.
    Cjk(&'a str),
}

/// Splits `text` into word runs and CJK runs; everything else separates
/// them. Callers fold first when they compare tokens.
pub(crate) fn tokens(text: &str) -> impl Iterator<Item = Token<'_>> {
    let mut rest = text;
    std::iter::from_fn(move || {
        let start = rest.find(|c: char| is_word_char(c) || is_cjk(c))?;
        rest = &rest[start..];
        let cjk = rest.chars().next().is_some_and(is_cjk);
        let same = |c: char| if cjk { is_cjk(c) } else { is_word_char(c) };
        let end = rest.find(|c: char| !same(c)).unwrap_or(rest.len());
        let (run, after) = rest.split_at(end);
        rest = after;
        Some(if cjk {
            Token::Cjk(run)
        } else {
            Token::Word(run)
        })
    })
}

/// Words in `text`: each word run counts one, and a CJK run counts one per
/// two characters (rounded up), roughly the length of a Japanese word, so
/// that a length limit means about the same in either language.
pub(crate) fn word_count(text: &str) -> usize {
    let (mut words, mut cjk_run, mut in_word) = (0usize, 0usize, false);
    for c in text.chars() {
        if is_cjk(c) {
            cjk_run += 1;
            in_word = false;
            continue;
        }
        words += cjk_run.div_ceil(2);
        cjk_run = 0;
        let word = is_word_char(c);
        words += usize::from(word && !in_word);
        in_word = word;
    }
    words + cjk_run.div_ceil(2)
}

/// Abbreviations whose final period does not end a sentence ("vol. 105").
const ABBREVIATIONS: &[&str] = &[
    "dr", "e.g", "etc", "i.e", "jr", "mr", "mrs", "ms", "no", "st", "vol", "vols", "vs",
];

/// The sentences of `text`: split after `.`, `!`, `?` followed by
/// whitespace or the end, after `。！？` anywhere, and at line breaks; a
/// period after a known abbreviation or a single letter does not split.
/// Pieces with no word or CJK character are dropped.
pub(crate) fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        let next = chars.peek().map(|&(_, n)| n);
        let ends = match c {
            '\n' | '。' | '！' | '？' => true,
            '!' | '?' => next.is_none_or(char::is_whitespace),
            '.' => next.is_none_or(char::is_whitespace) && !is_abbreviation(&text[start..at]),
            _ => false,
        };
        if ends {
            push_sentence(&mut out, &text[start..at + c.len_utf8()]);
            start = at + c.len_utf8();
        }
    }
    push_sentence(&mut out, &text[start..]);
    out
}

fn push_sentence<'a>(out: &mut Vec<&'a str>, piece: &'a str) {
    let piece = piece.trim();
    if piece.chars().any(|c| is_word_char(c) || is_cjk(c)) {
        out.push(piece);
    }
}

/// True when the text before a period ends in an abbreviation or a lone
/// letter (an initial).
fn is_abbreviation(before: &str) -> bool {
    let last = before
        .rsplit(|c: char| c.is_whitespace() || c == '(')
        .next()
        .unwrap_or("")
        .to_lowercase();
    (last.chars().count() == 1 && last.chars().all(char::is_alphabetic))
        || ABBREVIATIONS.contains(&last.as_str())
}

/// `text` cut to at most `max` bytes at a character boundary.
pub(crate) fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_width_case_and_quotes() {
        assert_eq!(
            folded_string("ＯＲＤ－１２３ Where’s ￥５００"),
            "ord-123 where's ¥500"
        );
    }

    #[test]
    fn counts_words_in_both_scripts() {
        assert_eq!(word_count("Order ORD-48213 has shipped."), 5);
        assert_eq!(word_count("注文番号"), 2);
        assert_eq!(word_count("ご注文ORD-51230は発送"), 2 + 2 + 2);
    }

    #[test]
    fn splits_sentences_but_not_abbreviations() {
        let s = sentences(
            "One Piece vol. 105 shipped. Dr. Stone too! Next?\n- item\n配送済みです。ありがとう",
        );
        assert_eq!(
            s,
            [
                "One Piece vol. 105 shipped.",
                "Dr. Stone too!",
                "Next?",
                "- item",
                "配送済みです。",
                "ありがとう"
            ]
        );
    }

    #[test]
    fn truncates_at_char_boundary() {
        assert_eq!(truncate("ab漫画", 4), "ab");
        assert_eq!(truncate("abc", 10), "abc");
    }
}
