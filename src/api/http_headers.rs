//! The HTTP header grammars the file endpoints speak: Content-Disposition
//! (RFC 6266, RFC 8187), Content-Digest (RFC 9530), Range (RFC 9110).

use std::ops::Range;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

use crate::domain::Sha256;

/// The parameters of a header like `attachment; filename="a b"; x=y`, with
/// quoted strings unescaped. Names are lowercased.
fn parameters(value: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = value.split_once(';').map_or("", |(_, r)| r);
    loop {
        rest = rest.trim_start_matches([' ', '\t', ';']);
        let Some((name, after)) = rest.split_once('=') else {
            break;
        };
        let name = name.trim().to_ascii_lowercase();
        let after = after.trim_start();
        let (val, remaining) = if let Some(quoted) = after.strip_prefix('"') {
            let mut val = String::new();
            let mut chars = quoted.char_indices();
            let mut end = quoted.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => val.extend(chars.next().map(|(_, c)| c)),
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    c => val.push(c),
                }
            }
            (val, &quoted[end..])
        } else {
            let end = after.find(';').unwrap_or(after.len());
            (after[..end].trim().to_owned(), &after[end..])
        };
        out.push((name, val));
        rest = remaining;
    }
    out
}

/// The file name of a `Content-Disposition`: `filename*` (UTF-8, RFC 8187)
/// when present and valid, else `filename`.
pub fn filename_from_disposition(value: &str) -> Option<String> {
    let params = parameters(value);
    let extended = params.iter().find(|(n, _)| n == "filename*").and_then(|(_, v)| {
        let (charset, rest) = v.split_once('\'')?;
        let (_language, encoded) = rest.split_once('\'')?;
        if !charset.eq_ignore_ascii_case("utf-8") {
            return None;
        }
        percent_decode_str(encoded).decode_utf8().ok().map(|s| s.into_owned())
    });
    extended.or_else(|| params.into_iter().find(|(n, _)| n == "filename").map(|(_, v)| v))
}

/// RFC 8187 attr-char: what may stay unencoded in `filename*`.
const ATTR_CHAR: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

/// `attachment` with an ASCII fallback name (marks dropped: `Thời sự` →
/// `Thoi su`) and the original in UTF-8.
pub fn content_disposition(filename: &str) -> String {
    let ascii: String = filename
        .nfd()
        .filter(|c| !is_combining_mark(*c))
        .map(|c| match c {
            'đ' => 'd',
            'Đ' => 'D',
            c if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' => c,
            _ => '_',
        })
        .collect();
    format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{}",
        utf8_percent_encode(filename, ATTR_CHAR)
    )
}

/// The SHA-256 of a `Content-Digest` (`sha-256=:<base64>:`), if it names one.
pub fn parse_content_digest(value: &str) -> Result<Option<Sha256>, String> {
    for member in value.split(',') {
        let Some((alg, v)) = member.split_once('=') else {
            continue;
        };
        if !alg.trim().eq_ignore_ascii_case("sha-256") {
            continue;
        }
        let b64 = v.trim().strip_prefix(':').and_then(|v| v.strip_suffix(':'));
        let bytes = b64.and_then(|b| STANDARD.decode(b).ok());
        return match bytes.and_then(|b| <[u8; 32]>::try_from(b).ok()).map(Sha256::from_bytes) {
            Some(d) => Ok(Some(d)),
            None => Err("Content-Digest sha-256 must be a byte sequence of 32 bytes, :base64:".into()),
        };
    }
    Ok(None)
}

#[derive(Debug, PartialEq, Eq)]
pub enum Ranged {
    /// Serve these bytes (end exclusive).
    Bytes(Range<u64>),
    /// Nothing of it lies within the file: 416.
    Unsatisfiable,
    /// Not a single byte range we serve (malformed, several ranges, other
    /// units): answer with the whole file, as RFC 9110 allows.
    Ignored,
}

/// Two runs of decimal digits compared as the numbers they write, however long.
fn digits_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let (a, b) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// A `Range` header against a file of `size` bytes. A `Bytes` range is
/// never empty and never ends past `size`, whatever the numbers sent: a
/// last position at or past the end means the end (RFC 9110, 14.1.2), and a
/// number too large for 64 bits is as large as any file.
pub fn parse_range(value: &str, size: u64) -> Ranged {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return Ranged::Ignored;
    };
    if spec.contains(',') {
        return Ranged::Ignored;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return Ranged::Ignored;
    };
    // Only digits, so parsing fails only on overflow.
    let num = |s: &str| {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse::<u64>().unwrap_or(u64::MAX))
    };
    match (first.trim(), last.trim()) {
        ("", suffix) => match num(suffix) {
            Some(0) => Ranged::Unsatisfiable,
            Some(_) if size == 0 => Ranged::Unsatisfiable,
            Some(n) => Ranged::Bytes(size.saturating_sub(n)..size),
            None => Ranged::Ignored,
        },
        (first, last) => match (
            num(first),
            if last.is_empty() {
                Some(None)
            } else {
                num(last).map(Some)
            },
        ) {
            // Compared as written: two numbers past 64 bits still have an order.
            (Some(_), Some(Some(_))) if digits_cmp(last, first).is_lt() => Ranged::Ignored,
            (Some(a), _) if a >= size => Ranged::Unsatisfiable,
            // a < size here, so the range holds at least byte a.
            (Some(a), Some(b)) => Ranged::Bytes(a..b.map_or(size, |b| b.saturating_add(1).min(size))),
            _ => Ranged::Ignored,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_utf8_and_plain_file_names() {
        let v = "attachment; filename=\"Thoi su.mp4\"; filename*=UTF-8''Th%E1%BB%9Di%20s%E1%BB%B1.mp4";
        assert_eq!(filename_from_disposition(v).as_deref(), Some("Thời sự.mp4"));
        assert_eq!(
            filename_from_disposition("attachment; filename=\"a \\\"b\\\"; c.mp3\"").as_deref(),
            Some("a \"b\"; c.mp3")
        );
        assert_eq!(
            filename_from_disposition("attachment; filename=plain.wav").as_deref(),
            Some("plain.wav")
        );
        assert_eq!(
            filename_from_disposition("attachment; filename*=utf-8'vi'%C4%90%C3%A0i.mp3").as_deref(),
            Some("Đài.mp3")
        );
        // A bad extended value falls back to the plain one.
        assert_eq!(
            filename_from_disposition("attachment; filename*=UTF-8''%FF; filename=x.mp3").as_deref(),
            Some("x.mp3")
        );
        assert_eq!(filename_from_disposition("attachment"), None);
    }

    #[test]
    fn writes_an_ascii_fallback_and_the_original() {
        assert_eq!(
            content_disposition("Đường lên Mẫu Sơn \"tập 1\".mp4"),
            "attachment; filename=\"Duong len Mau Son _tap 1_.mp4\"; filename*=UTF-8''%C4%90%C6%B0%E1%BB%9Dng%20l%C3%AAn%20M%E1%BA%ABu%20S%C6%A1n%20%22t%E1%BA%ADp%201%22.mp4"
        );
        let v = content_disposition("Thời sự.mp4");
        assert_eq!(filename_from_disposition(&v).as_deref(), Some("Thời sự.mp4"));
    }

    #[test]
    fn reads_content_digest() {
        let d = "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:";
        assert_eq!(
            parse_content_digest(d).unwrap().map(|s| s.hex()).as_deref(),
            Some("5f8f04f6a3a892aaabbddb6cf273894493773960d4a325b105fee46eef4304f1")
        );
        assert!(parse_content_digest(&format!("sha-512=:AAAA:, {d}")).unwrap().is_some());
        assert_eq!(parse_content_digest("sha-512=:AAAA:").unwrap(), None);
        assert!(parse_content_digest("sha-256=:AAAA:").is_err());
        assert!(parse_content_digest("sha-256=abc").is_err());
    }

    #[test]
    fn reads_single_byte_ranges() {
        use Ranged::*;
        assert_eq!(parse_range("bytes=0-99", 1000), Bytes(0..100));
        assert_eq!(parse_range("bytes=500-", 1000), Bytes(500..1000));
        assert_eq!(parse_range("bytes=900-5000", 1000), Bytes(900..1000));
        assert_eq!(parse_range("bytes=-100", 1000), Bytes(900..1000));
        assert_eq!(parse_range("bytes=-5000", 1000), Bytes(0..1000));
        assert_eq!(parse_range("bytes=999-999", 1000), Bytes(999..1000));
        assert_eq!(parse_range("bytes=1000-", 1000), Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", 1000), Unsatisfiable);
        assert_eq!(parse_range("bytes=5-1", 1000), Ignored);
        assert_eq!(parse_range("bytes=0-1,5-6", 1000), Ignored);
        assert_eq!(parse_range("items=0-1", 1000), Ignored);
        assert_eq!(parse_range("bytes=x-1", 1000), Ignored);
        assert_eq!(parse_range("bytes=+1-2", 1000), Ignored);
        // The last position past the end, even past 64 bits, means the end.
        assert_eq!(parse_range("bytes=0-18446744073709551615", 1000), Bytes(0..1000));
        assert_eq!(parse_range("bytes=10-99999999999999999999999", 1000), Bytes(10..1000));
        assert_eq!(parse_range("bytes=99999999999999999999999-", 1000), Unsatisfiable);
        assert_eq!(parse_range("bytes=-99999999999999999999999", 1000), Bytes(0..1000));
        assert_eq!(
            parse_range("bytes=0-18446744073709551615", u64::MAX),
            Bytes(0..u64::MAX)
        );
    }

    mod prop {
        use proptest::prelude::*;

        use super::super::{parse_range, Ranged};

        /// RFC 9110's single byte range, read independently of the parser:
        /// numbers as u128 (a decimal that overflows u64 still means a
        /// position past any file).
        fn reference(first: Option<u128>, last: Option<u128>, size: u64) -> Ranged {
            let size = u128::from(size);
            let bytes = |a: u128, b: u128| Ranged::Bytes(a as u64..b as u64);
            match (first, last) {
                (None, None) => Ranged::Ignored,
                (Some(a), Some(b)) if b < a => Ranged::Ignored,
                (Some(a), _) if a >= size => Ranged::Unsatisfiable,
                (Some(a), None) => bytes(a, size),
                (Some(a), Some(b)) => bytes(a, (b + 1).min(size)),
                (None, Some(n)) if n == 0 || size == 0 => Ranged::Unsatisfiable,
                (None, Some(n)) => bytes(size - n.min(size), size),
            }
        }

        fn position() -> impl Strategy<Value = u128> {
            prop_oneof![
                0..2_000u128,
                (0..=u64::MAX).prop_map(u128::from),
                (u128::from(u64::MAX) - 3..=u128::from(u64::MAX) + 3),
                any::<u128>(),
            ]
        }

        fn size() -> impl Strategy<Value = u64> {
            prop_oneof![Just(0u64), 1..2_000u64, any::<u64>(), u64::MAX - 3..=u64::MAX]
        }

        fn show(n: Option<u128>) -> String {
            n.map(|n| n.to_string()).unwrap_or_default()
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2_000))]

            #[test]
            fn single_ranges_agree_with_rfc_9110(
                first in proptest::option::of(position()),
                last in proptest::option::of(position()),
                size in size(),
                spaced in any::<bool>(),
            ) {
                let header = if spaced {
                    format!(" bytes= {} - {} ", show(first), show(last))
                } else {
                    format!("bytes={}-{}", show(first), show(last))
                };
                prop_assert_eq!(parse_range(&header, size), reference(first, last, size), "{}", header);
            }

            #[test]
            fn any_header_gives_a_range_within_the_file(
                header in prop_oneof![
                    ".{0,40}",
                    "bytes=[0-9 ,+-]{0,40}",
                    "bytes=[0-9]{0,25}-[0-9]{0,25}",
                    "(bytes|BYTES|items)=-?[0-9]{0,3}(,[0-9]{0,3}-[0-9]{0,3})*",
                ],
                size in size(),
            ) {
                match parse_range(&header, size) {
                    Ranged::Bytes(r) => prop_assert!(r.start < r.end && r.end <= size, "{header} -> {r:?}"),
                    Ranged::Unsatisfiable | Ranged::Ignored => {}
                }
            }
        }
    }
}
