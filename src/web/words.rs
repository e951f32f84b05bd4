//! The domain's things in the pages' words: genres, kinds, statuses, file
//! roles, languages by name, and a program's rights as a badge ("Cả cụm",
//! "Chỉ VTV/VOV", "Còn 5 ngày", "Hết hạn"). Whether a program may be taken
//! is `exchange::rights`' rule; this only says it.

use chrono::{DateTime, Utc};

use super::format;
use super::i18n::Tr;
use crate::domain::{ActionKind, Audience, FileRole, Genre, Program, ProgramKind, ProgramStatus};
use crate::exchange::rights::NotNow;

pub fn genre(t: &Tr, g: Genre) -> String {
    t.get(&format!("genre-{}", g.as_str().replace('_', "-")))
}

pub fn kind(t: &Tr, k: ProgramKind) -> String {
    t.get(&format!("kind-{}", k.as_str()))
}

pub fn status(t: &Tr, s: ProgramStatus) -> String {
    t.get(&format!("status-{}", s.as_str()))
}

pub fn file_role(t: &Tr, r: FileRole) -> String {
    t.get(&format!("role-{}", r.as_str()))
}

pub fn audience(t: &Tr, a: Audience) -> String {
    t.get(&format!("audience-{}", a.as_str()))
}

pub fn action(t: &Tr, a: ActionKind) -> String {
    t.get(&format!("action-{}", a.as_str()))
}

/// A language by its name: the cluster's by the catalogs' words, others by
/// their code.
pub fn language(t: &Tr, code: &str) -> String {
    if crate::domain::CLUSTER_LANGUAGES.contains(&code) {
        t.get(&format!("lang-{code}"))
    } else {
        code.to_owned()
    }
}

/// A rights badge: its CSS class and its words.
#[derive(Debug, Clone)]
pub struct Badge {
    pub class: &'static str,
    pub text: String,
}

/// How many days before the end of its window a program says so.
const SAY_DAYS_LEFT: i64 = 30;

/// The badge of `p` for someone whom `may_take` answered.
pub fn badge(t: &Tr, p: &Program, may_take: Result<(), NotNow>, now: DateTime<Utc>) -> Badge {
    let r = &p.meta.rights;
    match may_take {
        Err(NotNow::Withdrawn) => {
            return Badge {
                class: "badge-off",
                text: status(t, ProgramStatus::Withdrawn),
            }
        }
        Err(NotNow::NoLongerAvailable) => {
            return Badge {
                class: "badge-off",
                text: t.get("badge-expired"),
            }
        }
        Err(NotNow::NotYetAvailable) => {
            let from = r.available_from.map(|f| format::date(f, t.lang)).unwrap_or_default();
            return Badge {
                class: "badge-wait",
                text: t.arg("badge-from", "date", from),
            };
        }
        Ok(()) => {}
    }
    if let Some(until) = r.available_until {
        let days = (until - now).num_days();
        if days <= SAY_DAYS_LEFT {
            return Badge {
                class: "badge-soon",
                text: t.arg("days-left", "n", days.max(0)),
            };
        }
    }
    match r.audience {
        Audience::Cluster => Badge {
            class: "badge-ok",
            text: t.get("badge-cluster"),
        },
        Audience::National => Badge {
            class: "badge-national",
            text: t.get("badge-national"),
        },
        Audience::Stations => Badge {
            class: "badge-ok",
            text: t.get("badge-stations"),
        },
        Audience::All => Badge {
            class: "badge-ok",
            text: t.get("badge-all"),
        },
    }
}

/// Why a program may not be taken now, in words.
pub fn why_not(t: &Tr, why: NotNow, p: &Program) -> String {
    let r = &p.meta.rights;
    match why {
        NotNow::Withdrawn => t.arg(
            "why-withdrawn",
            "reason",
            p.withdrawal_reason.clone().unwrap_or_default(),
        ),
        NotNow::NoLongerAvailable => t.arg(
            "why-expired",
            "date",
            r.available_until.map(|d| format::date(d, t.lang)).unwrap_or_default(),
        ),
        NotNow::NotYetAvailable => t.arg(
            "why-not-yet",
            "date",
            r.available_from.map(|d| format::date(d, t.lang)).unwrap_or_default(),
        ),
    }
}

/// A quality-check finding (as `qc.reasons` keeps it) in words, with its
/// figures written the page's way; a reason in other words (an older
/// hub's) reads as "to be checked", never in the API's English.
pub fn qc_reason(t: &Tr, reason: &str) -> String {
    use crate::domain::finding::Finding as F;
    let n = |v: f64| format::number(v, 1, t.lang);
    let Some(f) = F::parse(reason) else {
        return t.get("qc-other");
    };
    match f {
        F::NotMedia => t.get("qc-not-media"),
        F::NoStreams => t.get("qc-no-streams"),
        F::NoPreview => t.get("qc-no-preview"),
        F::SentAs { declared, actual } => t.args("qc-sent-as", &[("declared", declared), ("actual", actual)]),
        F::SentAsVideoWithout { declared } => t.arg("qc-sent-as-no-video", "declared", declared),
        F::Damaged => t.get("qc-damaged"),
        F::Truncated { decoded, announced } => {
            t.args("qc-truncated", &[("decoded", n(decoded)), ("announced", n(announced))])
        }
        F::Silent => t.get("qc-silent"),
        F::Loudness {
            integrated,
            target,
            tolerance,
        } => t.args(
            "qc-loudness",
            &[
                ("value", n(integrated)),
                ("target", n(target)),
                ("tolerance", n(tolerance)),
            ],
        ),
        F::TruePeak { peak, max } => t.args("qc-true-peak", &[("value", n(peak)), ("max", n(max))]),
        F::Duration { declared, measured } => t.args(
            "qc-duration",
            &[
                ("declared", format::integer(u64::from(declared), t.lang)),
                ("measured", n(measured)),
            ],
        ),
    }
}

/// A key that orders words as a Vietnamese dictionary does: by letter
/// (a < ă < â < b < … < d < đ < e < ê … < o < ô < ơ … < u < ư), then by
/// tone (none, grave, acute, hook, tilde, dot below), then as written.
pub fn sort_key(s: &str) -> (Vec<(char, u8)>, Vec<u8>, String) {
    use unicode_normalization::UnicodeNormalization;
    let mut letters: Vec<(char, u8)> = Vec::new();
    let mut tones: Vec<u8> = Vec::new();
    for c in s.to_lowercase().nfd() {
        let tone = match c {
            '\u{300}' => Some(1),
            '\u{301}' => Some(2),
            '\u{309}' => Some(3),
            '\u{303}' => Some(4),
            '\u{323}' => Some(5),
            _ => None,
        };
        if let (Some(tone), Some(last)) = (tone, tones.last_mut()) {
            *last = tone;
            continue;
        }
        match (c, letters.last_mut()) {
            // The letters' own marks: breve (ă), circumflex (â ê ô), horn (ơ ư).
            ('\u{306}', Some(last)) => last.1 = 1,
            ('\u{302}', Some(last)) => last.1 = if last.0 == 'a' { 2 } else { 1 },
            ('\u{31b}', Some(last)) => last.1 = if last.0 == 'o' { 2 } else { 1 },
            (c, _) if ('\u{300}'..='\u{36f}').contains(&c) => {}
            (c, _) => {
                letters.push(if c == 'đ' { ('d', 1) } else { (c, 0) });
                tones.push(0);
            }
        }
    }
    (letters, tones, s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::web::i18n::Lang;

    #[test]
    fn every_qc_finding_reads_in_vietnamese() {
        let t = Tr::new(Lang::Vi);
        for f in crate::domain::finding::Finding::examples() {
            let said = qc_reason(&t, &f.text());
            assert!(!said.starts_with("qc-"), "{said}");
            assert_ne!(said, t.get("qc-other"), "{}", f.text());
            for english in [
                "the ", "file ", " is ", "where", "above", "outside", "lasts", "sent ", "cannot",
            ] {
                assert!(!said.contains(english), "{said}");
            }
        }
        assert_eq!(
            qc_reason(&t, "integrated loudness -19.2 LUFS is outside -23.0 ±1.0 LU"),
            "Độ lớn tích hợp \u{2212}19,2 LUFS, ngoài mức chuẩn \u{2212}23,0 ±1,0 LU."
        );
        assert_eq!(qc_reason(&t, "an older hub's words"), t.get("qc-other"));
    }

    #[test]
    fn words_sort_as_a_vietnamese_dictionary() {
        let mut w = vec![
            "Thời sự",
            "Ăn",
            "Đài",
            "Dân tộc",
            "An",
            "Âm",
            "Ba",
            "Thể thao",
            "Giáo dục",
            "Ơn",
            "Ô",
            "O",
        ];
        w.sort_by_cached_key(|s| sort_key(s));
        assert_eq!(
            w,
            [
                "An",
                "Ăn",
                "Âm",
                "Ba",
                "Dân tộc",
                "Đài",
                "Giáo dục",
                "O",
                "Ô",
                "Ơn",
                "Thể thao",
                "Thời sự"
            ]
        );
    }
}
