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

/// The words of a folded text, as FTS5's unicode61 tokenizer sees them.
pub fn words(folded: &str) -> impl Iterator<Item = &str> {
    folded.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty())
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
    fn splits_words() {
        let f = fold("Phóng sự: “Đường lên Mẫu Sơn” (tập 2)");
        assert_eq!(
            words(&f).collect::<Vec<_>>(),
            ["phong", "su", "duong", "len", "mau", "son", "tap", "2"]
        );
    }
}
