//! Stations, their kinds, the roles of tokens, and the viewer the rights rule
//! judges by. Parsed types, no I/O.

use std::fmt;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A station's id: a lowercase ASCII slug such as `thai-nguyen` (2..=64 chars,
/// letters, digits and single hyphens, starting with a letter).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct StationId(String);

impl StationId {
    pub fn parse(s: &str) -> Result<Self, String> {
        let ok_len = (2..=64).contains(&s.len());
        let ok_chars = s
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        let ok_shape = s.starts_with(|c: char| c.is_ascii_lowercase()) && !s.ends_with('-') && !s.contains("--");
        if ok_len && ok_chars && ok_shape {
            Ok(Self(s.to_owned()))
        } else {
            Err("must be a slug of 2 to 64 lowercase letters, digits and single hyphens, starting with a letter (e.g. thai-nguyen)".into())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// [`StationId::parse`]'s rule as a pattern (with lengths 2 to 64).
pub const SLUG_PATTERN: &str = "^[a-z](-?[a-z0-9])+$";

impl utoipa::PartialSchema for StationId {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some(
                "A slug: 2 to 64 lowercase letters, digits and single hyphens, starting with a letter (`thai-nguyen`).",
            ))
            .min_length(Some(2))
            .max_length(Some(64))
            .pattern(Some(SLUG_PATTERN))
            .into()
    }
}
impl utoipa::ToSchema for StationId {}

impl fmt::Display for StationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum StationKind {
    Provincial,
    National,
    /// Another cluster's hub, following this one.
    Peer,
}

impl StationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Provincial => "provincial",
            Self::National => "national",
            Self::Peer => "peer",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "provincial" => Some(Self::Provincial),
            "national" => Some(Self::National),
            "peer" => Some(Self::Peer),
            _ => None,
        }
    }

    /// The role a token of this station gets when none is asked for.
    pub fn default_role(self) -> Role {
        match self {
            Self::Provincial => Role::Station,
            Self::National => Role::National,
            Self::Peer => Role::Peer,
        }
    }
}

/// What a token may do (see DOMAIN.md, "Users and roles").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Station,
    National,
    Admin,
    /// Another cluster's hub: reads what the rights allow a peer, reports
    /// its stations' takes and rebroadcasts, offers nothing.
    Peer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Station => "station",
            Self::National => "national",
            Self::Admin => "admin",
            Self::Peer => "peer",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "station" => Some(Self::Station),
            "national" => Some(Self::National),
            "admin" => Some(Self::Admin),
            "peer" => Some(Self::Peer),
            _ => None,
        }
    }

    /// Whether a token of this role may belong to a station of `kind`
    /// (`None`: the hub operator, who has no station).
    pub fn fits(self, kind: Option<StationKind>) -> Result<(), &'static str> {
        match (self, kind) {
            (Role::Admin, None) => Ok(()),
            (Role::Admin, Some(_)) => Err("an admin token belongs to the hub operator, not to a station"),
            (_, None) => Err("a station or national token needs a station"),
            (Role::Peer, Some(StationKind::Peer)) => Ok(()),
            (Role::Peer, Some(_)) => Err("only a peer hub's station can hold a peer token"),
            (_, Some(StationKind::Peer)) => Err("a peer hub's station holds peer tokens only"),
            (Role::National, Some(StationKind::Provincial)) => Err("only a national station can hold a national token"),
            (Role::Station | Role::National, Some(_)) => Ok(()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Station {
    pub id: StationId,
    pub name: String,
    pub province: String,
    pub kind: StationKind,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The document's pattern says what the parser takes.
    #[test]
    fn the_slug_pattern_is_the_parser_s_rule() {
        let re = regex::Regex::new(SLUG_PATTERN).unwrap();
        let long = format!("a{}", "b".repeat(63));
        for s in [
            "thai-nguyen",
            "a0",
            "vtv",
            "a-b-c",
            "a",
            "",
            "0a",
            "-a",
            "a-",
            "a--b",
            "Ab",
            "ab_c",
            "ă",
            &long,
            &format!("{long}c"),
        ] {
            let by_pattern = re.is_match(s) && (2..=64).contains(&s.chars().count());
            assert_eq!(by_pattern, StationId::parse(s).is_ok(), "{s:?}");
        }
    }

    #[test]
    fn slugs_parse() {
        for ok in ["thai-nguyen", "vtv", "cao-bang-2", "ab"] {
            assert!(StationId::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "a",
            "Thai-Nguyen",
            "thai_nguyen",
            "-thai",
            "thai-",
            "thai--nguyen",
            "2tv",
            "thái",
            "../etc",
        ] {
            assert!(StationId::parse(bad).is_err(), "{bad}");
        }
        assert!(StationId::parse(&"a".repeat(65)).is_err());
    }

    #[test]
    fn roles_fit_station_kinds() {
        assert!(Role::Admin.fits(None).is_ok());
        assert!(Role::Admin.fits(Some(StationKind::National)).is_err());
        assert!(Role::Station.fits(None).is_err());
        assert!(Role::National.fits(Some(StationKind::Provincial)).is_err());
        assert!(Role::National.fits(Some(StationKind::National)).is_ok());
        assert!(Role::Station.fits(Some(StationKind::National)).is_ok());
        assert!(Role::Peer.fits(Some(StationKind::Peer)).is_ok());
        assert!(Role::Peer.fits(Some(StationKind::Provincial)).is_err());
        assert!(Role::Station.fits(Some(StationKind::Peer)).is_err());
        assert!(Role::National.fits(Some(StationKind::Peer)).is_err());
        assert_eq!(StationKind::Peer.default_role(), Role::Peer);
    }
}

/// Who is looking at the catalog; what they may see is decided from this alone
/// (see `exchange::rights`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Viewer {
    /// The hub operator sees every program.
    Admin,
    Station {
        id: StationId,
        national: bool,
    },
    /// Another cluster's hub (a station of kind `peer`): sees only what the
    /// rights allow a peer, and never what this hub mirrored from a peer.
    Peer {
        id: StationId,
    },
}
