//! The search's nouns that cross the layers: how results are ordered, the
//! counts per facet value, and the dates its filters take.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Genre, LanguageTag, Program, ProgramKind, StationId};

/// Which programs a search keeps, by what they are: one type for the search
/// API's query, the use-case, the catalog's query and a followed search.
/// The words of a query, paging and order are each one's own.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchFilter {
    pub stations: Vec<StationId>,
    pub kinds: Vec<ProgramKind>,
    pub genres: Vec<Genre>,
    pub languages: Vec<LanguageTag>,
    pub aired_from: Option<DateTime<Utc>>,
    pub aired_to: Option<DateTime<Utc>>,
    pub min_duration: Option<u32>,
    pub max_duration: Option<u32>,
    /// Only programs whose analysed master has (or has not) video.
    pub has_video: Option<bool>,
    /// Only programs whose analysed master has a stream in one of these codecs.
    pub codecs: Vec<String>,
    /// Only this hub's own programs, or only those mirrored from one peer.
    pub origin: Option<OriginFilter>,
}

/// Which hub a program comes from: this one, or a peer it mirrors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OriginFilter {
    Local,
    Peer(StationId),
}

impl OriginFilter {
    /// `local`, or a peer's id.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "local" => Ok(Self::Local),
            _ => StationId::parse(s)
                .map(Self::Peer)
                .map_err(|_| "must be `local` or a peer hub's id".to_owned()),
        }
    }

    pub fn keeps(&self, p: &Program) -> bool {
        match self {
            Self::Local => p.origin.is_none(),
            Self::Peer(id) => p.origin.as_ref().is_some_and(|o| o.peer == *id),
        }
    }
}

impl SearchFilter {
    /// Whether `p`'s metadata passes the filter (what a followed search
    /// judges; the analysed `has_video` and `codecs` are the catalog's to
    /// judge, and a followed search holds none).
    pub fn keeps_metadata(&self, p: &Program) -> bool {
        let m = &p.meta;
        let any = |none: bool, hit: bool| none || hit;
        let aired = m.first_aired_at;
        let d = m.duration_seconds;
        any(self.stations.is_empty(), self.stations.contains(&p.station))
            && any(self.kinds.is_empty(), self.kinds.contains(&m.kind))
            && any(self.genres.is_empty(), self.genres.contains(&m.genre))
            && any(
                self.languages.is_empty(),
                m.languages.iter().any(|l| self.languages.contains(l)),
            )
            && self.aired_from.is_none_or(|t| aired.is_some_and(|a| a >= t))
            && self.aired_to.is_none_or(|t| aired.is_some_and(|a| a <= t))
            && self.min_duration.is_none_or(|x| d.is_some_and(|d| d >= x))
            && self.max_duration.is_none_or(|x| d.is_some_and(|d| d <= x))
            && self.origin.as_ref().is_none_or(|o| o.keeps(p))
    }
}

/// How search results are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Sort {
    /// Programs whose title has the words first, then the newest (the
    /// default with a query).
    Relevance,
    /// Newest publication first (the default without a query).
    Newest,
    /// Latest first aired first.
    Aired,
    /// By title.
    Title,
}

/// For each facet, the number of matching programs per value.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Facets {
    pub station: BTreeMap<String, u64>,
    pub kind: BTreeMap<String, u64>,
    pub genre: BTreeMap<String, u64>,
    pub language: BTreeMap<String, u64>,
    /// `local`, and each peer hub's id: where the matching programs come from.
    pub origin: BTreeMap<String, u64>,
    /// How many of the matching programs the viewer may take now (its own,
    /// and others' whose window is open): the "available now" filter's count.
    pub available_now: u64,
}

/// An RFC 3339 date-time, or a `YYYY-MM-DD` date (in UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateOrTime {
    At(DateTime<Utc>),
    Day(NaiveDate),
}

impl DateOrTime {
    pub fn parse(v: &str) -> Result<Self, String> {
        if let Ok(t) = DateTime::parse_from_rfc3339(v) {
            return Ok(Self::At(t.with_timezone(&Utc)));
        }
        NaiveDate::parse_from_str(v, "%Y-%m-%d")
            .ok()
            // A day whose start or end is past what a date-time holds is no day.
            .filter(|d| d.and_hms_micro_opt(23, 59, 59, 999_999).is_some() && d.succ_opt().is_some())
            .map(Self::Day)
            .ok_or_else(|| "must be an RFC 3339 date-time or a YYYY-MM-DD date".to_owned())
    }

    /// The instant, or the day's first.
    pub fn start(self) -> DateTime<Utc> {
        match self {
            Self::At(t) => t,
            Self::Day(d) => d.and_time(chrono::NaiveTime::MIN).and_utc(),
        }
    }

    /// The instant, or the day's last microsecond.
    pub fn end_of_day(self) -> DateTime<Utc> {
        match self {
            Self::At(t) => t,
            Self::Day(d) => d
                .and_hms_micro_opt(23, 59, 59, 999_999)
                .expect("checked when parsed")
                .and_utc(),
        }
    }
}
