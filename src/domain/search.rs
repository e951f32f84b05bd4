//! The search's nouns that cross the layers: how results are ordered, the
//! counts per facet value, and the dates its filters take.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

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
#[derive(Debug, Default)]
pub struct Facets {
    pub station: BTreeMap<String, u64>,
    pub kind: BTreeMap<String, u64>,
    pub genre: BTreeMap<String, u64>,
    pub language: BTreeMap<String, u64>,
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
