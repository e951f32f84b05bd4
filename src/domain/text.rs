//! Text folding for search: case and Vietnamese diacritics removed, so that
//! `Thời sự`, `THOI SU` and `thoi su` index and query alike.
//!
//! SQLite's `unicode61 remove_diacritics 2` folds most marks but keeps `đ`
//! (U+0111, a letter of its own, not `d` plus a mark), so the hub folds text
//! itself before it reaches the index, and folds queries the same way.

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// Lowercase, decompose, drop combining marks, map the letters that have no
/// decomposition (`đ`, `ð`, `ł`, `ø`…) to their base.
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.nfd() {
        if is_combining_mark(c) {
            continue;
        }
        for l in c.to_lowercase() {
            out.push(match l {
                'đ' | 'ð' | 'ɖ' => 'd',
                'ł' => 'l',
                'ø' => 'o',
                'ħ' => 'h',
                other => other,
            });
        }
    }
    out
}

/// Characters that change how text around them is shown without being seen
/// themselves: bidirectional embeddings, overrides, isolates and marks
/// (`invoice\u{202E}pm3.exe` shows as `invoiceexe.3mp`), and zero-width
/// characters that make two names look alike.
pub fn is_hidden_or_bidi(c: char) -> bool {
    matches!(c,
        '\u{00AD}'               // soft hyphen
        | '\u{034F}'             // combining grapheme joiner
        | '\u{061C}'             // Arabic letter mark
        | '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}' // Hangul fillers
        | '\u{180E}'             // Mongolian vowel separator
        | '\u{200B}'..='\u{200F}' // zero-width space, non-joiner, joiner; LRM, RLM
        | '\u{202A}'..='\u{202E}' // embeddings and overrides
        | '\u{2060}'..='\u{2064}' // word joiner, invisible operators
        | '\u{2066}'..='\u{206F}' // isolates, deprecated format characters
        | '\u{FEFF}'             // zero-width no-break space (BOM)
        | '\u{FFF9}'..='\u{FFFB}' // interlinear annotations
        | '\u{E0000}'..='\u{E007F}' // tag characters (text hidden in plain sight)
    )
}

/// Text a person typed, made fit to keep and show: trimmed, NFC; control
/// characters refused (but line breaks and tabs where `multiline`), and so
/// are hidden and direction-changing characters ([`is_hidden_or_bidi`]).
pub fn tidy(raw: &str, multiline: bool) -> Result<String, &'static str> {
    let s: String = raw.trim().nfc().collect();
    if s.chars()
        .any(|c| c.is_control() && !(multiline && matches!(c, '\n' | '\t' | '\r')))
    {
        return Err("must not contain control characters");
    }
    if s.chars().any(is_hidden_or_bidi) {
        return Err("must not contain invisible or direction-changing characters");
    }
    Ok(s)
}

/// The words of a folded text, as FTS5's unicode61 tokenizer sees them.
pub fn words(folded: &str) -> impl Iterator<Item = &str> {
    folded.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty())
}

/// The most words of a query that are searched for.
pub const MAX_QUERY_WORDS: usize = 16;

/// The words a search query looks for: folded, at most
/// [`MAX_QUERY_WORDS`] of them.
pub fn query_words(q: &str) -> Vec<String> {
    words(&fold(q)).take(MAX_QUERY_WORDS).map(str::to_owned).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every letter of the Vietnamese alphabet, with every tone on every vowel,
    /// in both cases.
    const VIETNAMESE: &str = "aàáảãạ ăằắẳẵặ âầấẩẫậ b c d đ eèéẻẽẹ êềếểễệ g h iìíỉĩị k l m n oòóỏõọ ôồốổỗộ ơờớởỡợ p q r s t uùúủũụ ưừứửữự v x yỳýỷỹỵ";

    #[test]
    fn folds_every_vietnamese_letter() {
        let expected = "aaaaaa aaaaaa aaaaaa b c d d eeeeee eeeeee g h iiiiii k l m n oooooo oooooo oooooo p q r s t uuuuuu uuuuuu v x yyyyyy";
        assert_eq!(fold(VIETNAMESE), expected);
        assert_eq!(fold(&VIETNAMESE.to_uppercase()), expected);
    }

    #[test]
    fn folds_precomposed_and_decomposed_alike() {
        let nfc: String = "Thời sự Định Hóa".nfc().collect();
        let nfd: String = "Thời sự Định Hóa".nfd().collect();
        assert_eq!(fold(&nfc), "thoi su dinh hoa");
        assert_eq!(fold(&nfd), "thoi su dinh hoa");
    }

    #[test]
    fn tidy_refuses_what_hides_or_reverses_text() {
        assert_eq!(
            tidy("  Thời sự tối\u{0301} ", false).unwrap(),
            "Thời sự tối\u{0301}".nfc().collect::<String>()
        );
        let nfd: String = "Định Hóa".nfd().collect();
        assert_eq!(tidy(&nfd, false).unwrap(), "Định Hóa");
        for bad in [
            "invoice\u{202E}pm3.exe",
            "a\u{200B}b",
            "\u{2066}x\u{2069}",
            "x\u{FEFF}",
            "a\u{200D}b",
            "a\u{061C}",
            "so\u{00AD}ft",
            "x\u{E0041}",
        ] {
            assert!(tidy(bad, true).is_err(), "{bad:?}");
        }
        assert!(tidy("a\nb", false).is_err());
        assert_eq!(tidy("a\nb", true).unwrap(), "a\nb");
        assert!(tidy("a\u{7}b", true).is_err());
    }

    #[test]
    fn splits_words() {
        let f = fold("Phóng sự: “Đường lên Mẫu Sơn” (tập 2)");
        assert_eq!(
            words(&f).collect::<Vec<_>>(),
            ["phong", "su", "duong", "len", "mau", "son", "tap", "2"]
        );
    }
}
