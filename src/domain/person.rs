//! People at the stations: accounts for the web page (tokens stay for
//! machines). A person belongs to one station, or is the hub's operator.

use std::fmt;

use super::StationId;

/// A person's id: 16 lowercase hex digits, made by the hub.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PersonId(String);

impl PersonId {
    pub fn parse(s: &str) -> Option<Self> {
        (s.len() == 16 && s.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()))
            .then(|| Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PersonId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A login name: 3 to 64 of `a-z 0-9 . _ -`, starting with a letter or a
/// digit; compared without case (kept lowercase).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Login(String);

impl Login {
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        let s = s.trim().to_ascii_lowercase();
        let len_ok = (3..=64).contains(&s.len());
        let chars_ok = s
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-'));
        let first_ok = s.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric());
        if len_ok && chars_ok && first_ok {
            Ok(Self(s))
        } else {
            Err("must be 3 to 64 of a-z, 0-9, '.', '_', '-', starting with a letter or a digit")
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Login {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a person may do: an editor offers and takes programs, a viewer
/// finds and takes them; the operator runs the hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum PersonRole {
    Editor,
    Viewer,
    #[value(skip)]
    Operator,
}

impl PersonRole {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Editor => "editor",
            Self::Viewer => "viewer",
            Self::Operator => "operator",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "editor" => Some(Self::Editor),
            "viewer" => Some(Self::Viewer),
            "operator" => Some(Self::Operator),
            _ => None,
        }
    }

    /// Whether this role may offer programs: create, change, upload,
    /// publish, withdraw.
    pub fn may_offer(self) -> bool {
        matches!(self, Self::Editor | Self::Operator)
    }
}

/// A person's account, without its password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub id: PersonId,
    pub login: Login,
    pub name: String,
    /// `None` for the operator.
    pub station: Option<StationId>,
    pub role: PersonRole,
    /// The page language the person chose (`vi`, `en`), if any.
    pub language: Option<String>,
    /// May not sign in (kept with what they did).
    pub disabled: bool,
    /// A station's editor in charge: manages the station's people.
    pub in_charge: bool,
}

/// What a person did to a program, for "who did what when".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionKind {
    Created,
    Uploaded,
    Published,
    Withdrew,
    Took,
    Rebroadcast,
    /// Changed the metadata or rights; the detail names what (`title,rights`).
    Edited,
}

impl ActionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Uploaded => "uploaded",
            Self::Published => "published",
            Self::Withdrew => "withdrew",
            Self::Took => "took",
            Self::Rebroadcast => "rebroadcast",
            Self::Edited => "edited",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Created,
            Self::Uploaded,
            Self::Published,
            Self::Withdrew,
            Self::Took,
            Self::Rebroadcast,
            Self::Edited,
        ]
        .into_iter()
        .find(|a| a.as_str() == s)
    }
}

/// One action on a program by a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action {
    pub kind: ActionKind,
    pub person_name: String,
    pub station: Option<StationId>,
    /// What it was about (a file role, a withdrawal's reason, a channel).
    pub detail: Option<String>,
    pub at: chrono::DateTime<chrono::Utc>,
}

/// The shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// The longest (hashing cost stays bounded).
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// The common passwords refused (lowercased), kept in the repository.
const COMMON_PASSWORDS: &str = include_str!("common_passwords.txt");

fn is_common(p: &str) -> bool {
    let folded = p.trim().to_lowercase();
    COMMON_PASSWORDS
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .any(|l| l == folded)
}

/// Whether `p` may be the password of the person signing in as `login`:
/// long enough, not blank, not one character repeated, not the login, not
/// one of the most common passwords.
pub fn check_password(p: &str, login: &str) -> Result<(), &'static str> {
    let mut chars = p.chars();
    let first = chars.next();
    if p.chars().count() < MIN_PASSWORD_CHARS {
        Err("must be at least 10 characters")
    } else if p.len() > MAX_PASSWORD_BYTES {
        Err("must be at most 1024 bytes")
    } else if p.trim().is_empty() {
        Err("must not be blank")
    } else if chars.all(|c| Some(c) == first) {
        Err("must not be one character repeated")
    } else if !login.trim().is_empty() && p.trim().to_lowercase() == login.trim().to_lowercase() {
        Err("must not be the login")
    } else if is_common(p) {
        Err("is one of the most common passwords; choose another")
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logins_are_lowercase_slugs() {
        assert_eq!(Login::parse(" Hoa.Nguyen ").unwrap().as_str(), "hoa.nguyen");
        for bad in ["", "ab", "-abc", "hoà", "a b c", &"x".repeat(65)] {
            assert!(Login::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords_that_are_guessed_first_are_refused() {
        assert!(check_password("mật khẩu thật dài", "hoa").is_ok());
        assert!(check_password("correct horse battery", "hoa").is_ok());
        for (bad, login) in [
            ("short", "hoa"),
            ("          ", "hoa"),
            ("\t\t\t\t\t\t\t\t\t\t", "hoa"),
            ("aaaaaaaaaaaa", "hoa"),
            ("ĐĐĐĐĐĐĐĐĐĐ", "hoa"),
            ("1234567890", "hoa"),
            ("Password123", "hoa"),
            (" QWERTYUIOP ", "hoa"),
            ("matkhau123", "hoa"),
            ("hoa.nguyen.tn", "hoa.nguyen.tn"),
            ("Hoa.Nguyen.TN", "hoa.nguyen.tn"),
        ] {
            assert!(check_password(bad, login).is_err(), "{bad:?}");
        }
        // The list is read: every entry is refused, none is short.
        let entries: Vec<&str> = COMMON_PASSWORDS
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect();
        assert!(entries.len() > 50);
        for e in entries {
            assert!(e.chars().count() >= MIN_PASSWORD_CHARS, "{e}");
            assert!(check_password(e, "hoa").is_err(), "{e}");
        }
    }

    #[test]
    fn person_ids_are_16_hex() {
        assert!(PersonId::parse("0123456789abcdef").is_some());
        assert!(PersonId::parse("0123456789ABCDEF").is_none());
        assert!(PersonId::parse("0123").is_none());
    }

    #[test]
    fn passwords_have_bounds() {
        assert!(check_password("short", "hoa").is_err());
        assert!(check_password("mật khẩu dài đủ", "hoa").is_ok());
        assert!(check_password(&"xy".repeat(1000), "hoa").is_err());
    }
}
