//! The exchange report over a period: per station, and station by station;
//! as JSON shows it ([`ReportView`]) and as a spreadsheet takes it (CSV).

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, TimeZone, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::tokens::Caller;
use super::{ExchangeError, Hub};
use crate::catalog::{ledger, stations};
use crate::domain::{StationId, StationNumbers};

/// The period a report covers: `[from, to)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

impl Period {
    /// `[from, to)`; `to` must come after `from`.
    pub fn new(from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Self, ExchangeError> {
        if to <= from {
            return Err(ExchangeError::invalid("to", "must be after from"));
        }
        Ok(Self { from, to })
    }

    /// 1 January of `year` to 1 January of the next, UTC.
    pub fn year(year: i32) -> Option<Self> {
        let start = |y: i32| Utc.with_ymd_and_hms(y, 1, 1, 0, 0, 0).single();
        Some(Self {
            from: start(year)?,
            to: start(year.checked_add(1)?)?,
        })
    }

    pub fn this_year() -> Self {
        Self::year(Utc::now().year()).expect("this year has a first of January")
    }
}

#[derive(Debug, Clone)]
pub struct StationRow {
    pub station: StationId,
    pub name: String,
    pub numbers: StationNumbers,
}

#[derive(Debug, Clone)]
pub struct ExchangeReport {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Every station for the admin; the caller's own row for a station.
    pub stations: Vec<StationRow>,
    /// The sums over every station, whoever asks.
    pub totals: StationNumbers,
    /// `(origin, taker) → programs taken`; for a station, the cells it is in.
    pub matrix: BTreeMap<(StationId, StationId), u64>,
    /// Uses of this hub's programs (a station's own, for a station) by the
    /// stations of peer hubs, as the peers reported them.
    pub other_clusters: Vec<ClusterRow>,
}

/// What one station of a peer hub took and rebroadcast of this hub's programs.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ClusterRow {
    /// The peer hub (its station id here).
    pub peer: String,
    /// The station there: its id and name there.
    pub station: String,
    pub station_name: String,
    pub takes: u64,
    pub rebroadcasts: u64,
}

impl Hub {
    /// The exchange over `period`: every station's for the operator, the
    /// caller's own for a station.
    #[tracing::instrument(skip(self, caller), fields(caller = %caller.token_id))]
    pub async fn exchange_report(&self, caller: &Caller, period: Period) -> Result<ExchangeReport, ExchangeError> {
        let Period { from, to } = period;
        let only = caller.station.clone();
        let mine = only.clone();
        let (numbers, names, mut matrix, other_clusters) = self
            .catalog
            .read(move |c| {
                let (numbers, matrix) = ledger::report(c, from, to)?;
                let names = stations::names(c)?;
                let clusters = crate::catalog::peers::uses_report(c, mine.as_ref(), from, to)?;
                Ok::<_, ExchangeError>((numbers, names, matrix, clusters))
            })
            .await?;
        let other_clusters = other_clusters
            .into_iter()
            .map(|(peer, station, station_name, takes, rebroadcasts)| ClusterRow {
                peer,
                station,
                station_name,
                takes,
                rebroadcasts,
            })
            .collect();
        let mut totals = StationNumbers::default();
        for n in numbers.values() {
            totals += *n;
        }
        let stations = numbers
            .into_iter()
            .filter(|(id, _)| only.as_ref().is_none_or(|o| o == id))
            .map(|(station, numbers)| StationRow {
                name: names.get(&station).cloned().unwrap_or_default(),
                station,
                numbers,
            })
            .collect();
        if let Some(me) = &only {
            matrix.retain(|(origin, taker), _| origin == me || taker == me);
        }
        Ok(ExchangeReport {
            from,
            to,
            stations,
            totals,
            matrix,
            other_clusters,
        })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StationReport {
    pub station: String,
    pub name: String,
    #[serde(flatten)]
    pub numbers: StationNumbers,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MatrixCell {
    /// The station whose programs were taken.
    pub origin: String,
    /// The station that took them.
    pub taker: String,
    /// How many programs.
    pub programs: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReportView {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Every station for the admin; the caller's own row for a station.
    pub stations: Vec<StationReport>,
    /// Sums over all stations.
    pub totals: StationNumbers,
    /// Programs taken, station by station (a station sees the cells it is in).
    pub matrix: Vec<MatrixCell>,
    /// By peer hub and its station: takes and rebroadcasts of this hub's
    /// programs in other clusters.
    pub other_clusters: Vec<ClusterRow>,
}

impl ExchangeReport {
    /// The report as JSON shows it.
    pub fn view(&self) -> ReportView {
        let r = self;
        ReportView {
            from: r.from,
            to: r.to,
            stations: r
                .stations
                .iter()
                .map(|s| StationReport {
                    station: s.station.to_string(),
                    name: s.name.clone(),
                    numbers: s.numbers,
                })
                .collect(),
            totals: r.totals,
            matrix: r
                .matrix
                .iter()
                .map(|((origin, taker), n)| MatrixCell {
                    origin: origin.to_string(),
                    taker: taker.to_string(),
                    programs: *n,
                })
                .collect(),
            other_clusters: r.other_clusters.clone(),
        }
    }
}

pub const COLUMNS: &[&str] = &[
    "station",
    "name",
    "contributed",
    "published",
    "taken_by_others",
    "taken_from_others",
    "rebroadcasts_of_its_programs",
    "rebroadcasts_made",
];

/// RFC 4180: quoted when it holds a comma, a quote or a line break. A cell
/// that a spreadsheet would take for a formula (`=`, `+`, `-`, `@`, a tab or
/// a carriage return first) is prefixed with `'`, so a station's name cannot
/// run anything on the desk of whoever opens the report (OWASP's rule).
fn field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        std::borrow::Cow::Owned(format!("'{s}"))
    } else {
        std::borrow::Cow::Borrowed(s)
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.into_owned()
    }
}

fn line(fields: &[String]) -> String {
    let mut l = fields.iter().map(|f| field(f)).collect::<Vec<_>>().join(",");
    l.push_str("\r\n");
    l
}

fn numbers(n: &StationNumbers) -> [String; 6] {
    [
        n.contributed,
        n.published,
        n.taken_by_others,
        n.taken_from_others,
        n.rebroadcasts_of_its_programs,
        n.rebroadcasts_made,
    ]
    .map(|v| v.to_string())
}

impl ExchangeReport {
    /// CSV for a spreadsheet: UTF-8 with a byte-order mark, CRLF lines. The
    /// per-station table (and a total row), a blank line, then the matrix:
    /// one row per origin station, one column per taking station.
    pub fn to_csv(&self) -> String {
        let header: Vec<String> = COLUMNS.iter().map(|c| c.to_string()).collect();
        self.to_csv_with(&header, "TOTAL", "origin \\ taker")
    }

    /// The column names (the eight of [`COLUMNS`], in its order), the total
    /// row's label and the matrix's corner cell in another language's words
    /// (the web page's download, in the page's language).
    pub fn to_csv_with(&self, header: &[String], total: &str, corner: &str) -> String {
        let mut out = String::from("\u{feff}");
        out += &line(header);
        for row in &self.stations {
            let mut f = vec![row.station.to_string(), row.name.clone()];
            f.extend(numbers(&row.numbers));
            out += &line(&f);
        }
        let mut f = vec![total.to_owned(), String::new()];
        f.extend(numbers(&self.totals));
        out += &line(&f);
        out += "\r\n";
        let mut stations: Vec<&StationId> = self.matrix.keys().flat_map(|(o, t)| [o, t]).collect();
        stations.sort();
        stations.dedup();
        let mut header = vec![corner.to_owned()];
        header.extend(stations.iter().map(|s| s.to_string()));
        out += &line(&header);
        for origin in &stations {
            let mut f = vec![origin.to_string()];
            f.extend(stations.iter().map(|taker| {
                self.matrix
                    .get(&((*origin).clone(), (*taker).clone()))
                    .copied()
                    .unwrap_or(0)
                    .to_string()
            }));
            out += &line(&f);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_what_needs_quoting() {
        assert_eq!(field("Đài PT-TH Thái Nguyên"), "Đài PT-TH Thái Nguyên");
        assert_eq!(field("Đài \"A\", tỉnh B"), "\"Đài \"\"A\"\", tỉnh B\"");
        assert_eq!(line(&["a\nb".into(), "c".into()]), "\"a\nb\",c\r\n");
    }

    #[test]
    fn csv_cells_are_never_formulas() {
        assert_eq!(field("=HYPERLINK(\"http://x\")"), "\"'=HYPERLINK(\"\"http://x\"\")\"");
        assert_eq!(field("+1"), "'+1");
        assert_eq!(field("-2+3"), "'-2+3");
        assert_eq!(field("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(field("\t=1"), "'\t=1");
        assert_eq!(field("12"), "12");
    }
}
