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
