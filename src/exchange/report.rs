//! The yearly exchange report: per station, and station by station.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::tokens::Caller;
use super::{ExchangeError, Hub};
use crate::catalog::ledger::{self, StationNumbers};

#[derive(Debug, Clone)]
pub struct StationRow {
    pub station: String,
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
    pub matrix: BTreeMap<(String, String), u64>,
}

impl Hub {
    /// The exchange over `[from, to)`.
    pub async fn exchange_report(
        &self,
        caller: Option<&Caller>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<ExchangeReport, ExchangeError> {
        if to <= from {
            return Err(ExchangeError::invalid("to", "must be after from"));
        }
        let only = caller.and_then(|c| c.station.as_ref()).map(|s| s.to_string());
        let (numbers, names, mut matrix) = self
            .catalog
            .read(move |c| {
                let (numbers, matrix) = ledger::report(c, from, to)?;
                let names: BTreeMap<String, String> = c
                    .prepare("SELECT id, name FROM stations")?
                    .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<Result<_, _>>()?;
                Ok::<_, ExchangeError>((numbers, names, matrix))
            })
            .await?;
        let mut totals = StationNumbers::default();
        for n in numbers.values() {
            totals.contributed += n.contributed;
            totals.published += n.published;
            totals.taken_by_others += n.taken_by_others;
            totals.taken_from_others += n.taken_from_others;
            totals.rebroadcasts_of_its_programs += n.rebroadcasts_of_its_programs;
            totals.rebroadcasts_made += n.rebroadcasts_made;
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
        })
    }
}

const COLUMNS: &[&str] = &[
    "station",
    "name",
    "contributed",
    "published",
    "taken_by_others",
    "taken_from_others",
    "rebroadcasts_of_its_programs",
    "rebroadcasts_made",
];

/// RFC 4180: quoted when it holds a comma, a quote or a line break.
fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
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
        let mut out = String::from("\u{feff}");
        out += &line(&COLUMNS.iter().map(|c| c.to_string()).collect::<Vec<_>>());
        for row in &self.stations {
            let mut f = vec![row.station.clone(), row.name.clone()];
            f.extend(numbers(&row.numbers));
            out += &line(&f);
        }
        let mut f = vec!["TOTAL".to_owned(), String::new()];
        f.extend(numbers(&self.totals));
        out += &line(&f);
        out += "\r\n";
        let mut stations: Vec<&String> = self.matrix.keys().flat_map(|(o, t)| [o, t]).collect();
        stations.sort();
        stations.dedup();
        let mut header = vec!["origin \\ taker".to_owned()];
        header.extend(stations.iter().map(|s| s.to_string()));
        out += &line(&header);
        for origin in &stations {
            let mut f = vec![origin.to_string()];
            f.extend(stations.iter().map(|taker| {
                self.matrix
                    .get(&(origin.to_string(), taker.to_string()))
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
}
