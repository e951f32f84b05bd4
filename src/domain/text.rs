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

/// The apostrophes that join a word's parts (`H'Mông`, `K’Ho`): typed
/// straight, curly or as a modifier letter.
const APOSTROPHES: [char; 4] = ['\'', '\u{2019}', '\u{2018}', '\u{2bc}'];

/// [`fold`] for the search index: each word written with an apostrophe is
/// kept as written (its parts: `h`, `mong`) and also joined (`hmong`), so
/// that a search typed either way finds it.
pub fn fold_for_index(s: &str) -> String {
    let mut out = fold(s);
    let joined: Vec<String> = out
        .split(|c: char| !(c.is_alphanumeric() || APOSTROPHES.contains(&c)))
        .filter(|w| w.contains(APOSTROPHES) && w.chars().any(char::is_alphanumeric))
        .map(|w| w.chars().filter(|c| !APOSTROPHES.contains(c)).collect())
        .collect();
    for w in joined {
        out.push(' ');
        out.push_str(&w);
    }
    out
}

/// What no kept text may hold, by Unicode property rather than by list:
/// format characters (Cf: bidirectional embeddings, overrides, isolates and
/// marks, so that `invoice\u{202E}pm3.exe` cannot show as `invoiceexe.3mp`;
/// zero-width joiners; soft hyphens; tags), line and paragraph separators
/// (Zl, Zp), noncharacters (U+FDD0…, U+FFFE, U+FFFF, which XML 1.0 forbids
/// or discourages), default-ignorable code points (variation selectors,
/// fillers, invisible vowels: shown as nothing, they make two names look
/// alike) and the object replacement character. Vietnamese needs none of
/// these: its letters, and combining marks when decomposed, pass.
fn hidden() -> &'static regex::Regex {
    static HIDDEN: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    HIDDEN.get_or_init(|| {
        regex::Regex::new(r"[\p{Cf}\p{Zl}\p{Zp}\p{Noncharacter_Code_Point}\p{Default_Ignorable_Code_Point}\x{FFFC}]")
            .expect("a valid pattern")
    })
}

/// Whether `c` is one of the characters [`hidden`] describes.
pub fn is_hidden_or_bidi(c: char) -> bool {
    !c.is_ascii() && hidden().is_match(c.encode_utf8(&mut [0; 4]))
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
    if !s.is_ascii() && hidden().is_match(&s) {
        return Err("must not contain invisible or direction-changing characters");
    }
    Ok(s)
}

/// The OpenAPI document's patterns for what [`tidy`] keeps: no control
/// character (C0, DEL, C1), and for a required text at least one that is
/// not white space (it is trimmed). The hidden and direction-changing
/// characters it also refuses are left to the parser's message.
pub const LINE_PATTERN: &str = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$";
/// An optional one-line text: empty or blank means none.
pub const LINE_OR_NONE_PATTERN: &str = r"^[^\x00-\x1f\x7f-\x9f]*$";
/// An optional text of several lines: tabs and line breaks allowed.
pub const LINES_OR_NONE_PATTERN: &str = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$";

/// A type that exists for the OpenAPI document only: a string of `$min` to
/// `$max` characters matching `$pattern`, described by its doc comment.
/// The parser's own limits are the arguments, so the two cannot differ.
macro_rules! text_schema {
    ($(#[doc = $doc:literal])+ $name:ident, $min:expr, $max:expr, $pattern:expr) => {
        $(#[doc = $doc])+
        pub struct $name;

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                let min: usize = $min;
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .description(Some([$($doc.trim()),+].join("\n")))
                    .min_length((min > 0).then_some(min))
                    .max_length(Some($max))
                    .pattern(Some($pattern))
                    .into()
            }
        }
        impl utoipa::ToSchema for $name {}
    };
}
pub(crate) use text_schema;

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
    fn the_index_keeps_words_with_apostrophes_whole_too() {
        assert_eq!(fold_for_index("Dân ca H'Mông"), "dan ca h'mong hmong");
        assert_eq!(
            fold_for_index("Tiếng K\u{2019}Ho, H\u{2bc}Mông"),
            "tieng k\u{2019}ho, h\u{2bc}mong kho hmong"
        );
        assert_eq!(fold_for_index("Thời sự"), "thoi su");
        assert_eq!(fold_for_index("' lẻ '"), "' le '");
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
            // Whole categories, not a list: Cf, Zl, Zp, noncharacters,
            // default-ignorables (variation selectors, invisible vowels).
            "a\u{180B}",
            "a\u{17B4}b",
            "a\u{1BCA0}",
            "a\u{1D173}",
            "a\u{FE0F}",
            "a\u{2028}b",
            "a\u{2029}b",
            "a\u{FFFC}",
            "a\u{FDD0}",
            "a\u{FFFE}",
            "a\u{FFFF}",
            "a\u{10FFFF}",
            "a\u{1FFFE}",
            "a\u{110BD}",
        ] {
            assert!(tidy(bad, true).is_err(), "{bad:?}");
        }
        assert!(tidy("a\nb", false).is_err());
        assert_eq!(tidy("a\nb", true).unwrap(), "a\nb");
        assert!(tidy("a\u{7}b", true).is_err());
        assert!(tidy("a\u{85}b", true).is_err());
    }

    #[test]
    fn tidy_keeps_everything_vietnamese_needs() {
        for text in [
            VIETNAMESE.to_owned(),
            VIETNAMESE.to_uppercase(),
            VIETNAMESE.nfd().collect(),
        ] {
            let kept = tidy(&text, false).unwrap();
            assert_eq!(kept, text.nfc().collect::<String>());
        }
        // Punctuation, quotes, dashes, currency and digits of everyday titles.
        let title = "Phóng sự: “Đường lên Mẫu Sơn” – tập 2 (50.000₫) … ‘ok’";
        assert_eq!(tidy(title, false).unwrap(), title);
        assert_eq!(tidy("Dòng 1\nDòng 2\tx", true).unwrap(), "Dòng 1\nDòng 2\tx");
    }

    #[test]
    fn splits_words() {
        let f = fold("Phóng sự: “Đường lên Mẫu Sơn” (tập 2)");
        assert_eq!(
            words(&f).collect::<Vec<_>>(),
            ["phong", "su", "duong", "len", "mau", "son", "tap", "2"]
        );
    }

    /// One character of each kind that matters: letters and marks
    /// (Vietnamese among them), spaces and separators, controls, format
    /// characters, noncharacters, private use, anything.
    fn any_kind() -> impl proptest::strategy::Strategy<Value = char> {
        use proptest::prelude::*;
        prop_oneof![
            proptest::sample::select(VIETNAMESE.chars().collect::<Vec<_>>()),
            proptest::sample::select(vec![
                '\u{0300}', '\u{0301}', '\u{0303}', '\u{0309}', '\u{0323}', ' ', '\n', '\t', '\r'
            ]),
            (0u32..0x20).prop_map(|n| char::from_u32(n).unwrap()),
            (0x7Fu32..0xA0).prop_map(|n| char::from_u32(n).unwrap()),
            proptest::sample::select(vec![
                '\u{00AD}',
                '\u{061C}',
                '\u{180B}',
                '\u{180E}',
                '\u{17B4}',
                '\u{200B}',
                '\u{200D}',
                '\u{202E}',
                '\u{2028}',
                '\u{2029}',
                '\u{2066}',
                '\u{FE0F}',
                '\u{FEFF}',
                '\u{FFF9}',
                '\u{FFFC}',
                '\u{FDD0}',
                '\u{FFFE}',
                '\u{FFFF}',
                '\u{1BCA0}',
                '\u{1D173}',
                '\u{E0041}',
                '\u{E0100}',
                '\u{1FFFE}',
                '\u{10FFFF}',
            ]),
            (0xE000u32..0xF900).prop_map(|n| char::from_u32(n).unwrap()),
            any::<char>(),
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3_000))]

        /// Whatever text comes in, what is kept holds nothing hidden, no
        /// control (but line breaks where allowed), nothing XML refuses.
        #[test]
        fn kept_text_holds_nothing_hidden_or_xml_forbidden(
            chars in proptest::collection::vec(any_kind(), 0..30),
            multiline in proptest::prelude::any::<bool>(),
        ) {
            let raw: String = chars.into_iter().collect();
            if let Ok(kept) = tidy(&raw, multiline) {
                for c in kept.chars() {
                    proptest::prop_assert!(!is_hidden_or_bidi(c), "{raw:?}: U+{:04X}", c as u32);
                    proptest::prop_assert!(!c.is_control() || (multiline && matches!(c, '\n' | '\t' | '\r')), "{raw:?}");
                    let n = c as u32;
                    proptest::prop_assert!(!(0xFDD0..=0xFDEF).contains(&n) && n & 0xFFFE != 0xFFFE, "{raw:?}");
                }
                proptest::prop_assert_eq!(tidy(&kept, multiline), Ok(kept.clone()), "tidy is idempotent");
            }
        }
    }
}
