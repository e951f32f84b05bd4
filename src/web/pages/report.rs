//! The exchange report of a year: a table, a bar chart drawn on the server
//! as inline SVG (readable without JavaScript), the CSV download, and a
//! year picker.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use askama::Template;
use chrono::Datelike;
use serde::Deserialize;

use crate::exchange::report::Period;
use crate::web::visit::Chrome;
use crate::web::{format, page, Visit, WebError};

#[derive(Deserialize)]
pub struct YearQuery {
    year: Option<i32>,
}

pub struct ReportRow {
    pub name: String,
    pub contributed: String,
    pub published: String,
    pub taken_by_others: String,
    pub taken_from_others: String,
    pub rebroadcasts: String,
}

/// One bar pair of the chart: the station's name on its own line, then
/// its two bars below it, as long as a share of the chart's width (in
/// percent, so that the chart fits any screen at its words' own size).
pub struct Bar {
    pub name: String,
    pub name_y: u32,
    pub given_y: u32,
    pub taken_y: u32,
    pub given_w: String,
    pub taken_w: String,
    pub given_x: String,
    pub taken_x: String,
    pub given: String,
    pub taken: String,
}

#[derive(Template)]
#[template(path = "report.html")]
struct ReportPage {
    c: Chrome,
    year: i32,
    years: Vec<i32>,
    rows: Vec<ReportRow>,
    bars: Vec<Bar>,
    chart_height: u32,
    csv: String,
}

/// The longest bar, in percent of the chart's width (the rest holds its
/// number).
const BAR_AREA: f64 = 80.0;
/// A station's rows: its name (18 px), two bars of 16 px, and a gap.
const ROW_H: u32 = 64;
/// A name longer than this is cut with "…" in the chart (the table above
/// has it whole).
const NAME_MAX: usize = 40;

/// A station's name as the chart writes it.
fn chart_name(name: &str) -> String {
    if name.chars().count() <= NAME_MAX {
        return name.to_owned();
    }
    let cut: String = name.chars().take(NAME_MAX - 1).collect();
    format!("{}…", cut.trim_end())
}

fn year_of(v: &Visit, q: &YearQuery) -> Result<(i32, Period), WebError> {
    let year = q.year.unwrap_or_else(|| chrono::Utc::now().year());
    let period =
        Period::year(year).ok_or_else(|| v.refuse(actix_web::http::StatusCode::NOT_FOUND, "error-not-found"))?;
    Ok((year, period))
}

pub async fn report(v: Visit, q: web::Query<YearQuery>) -> Result<HttpResponse, WebError> {
    let s = v.signed_in()?;
    let (year, period) = year_of(&v, &q)?;
    let lang = v.lang;
    let r = v.hub.exchange_report(&s.caller, period).await.map_err(|e| v.fail(e))?;
    let n = |x: u64| format::integer(x, lang);
    let rows = r
        .stations
        .iter()
        .map(|s| ReportRow {
            name: if s.name.is_empty() {
                s.station.to_string()
            } else {
                s.name.clone()
            },
            contributed: n(s.numbers.contributed),
            published: n(s.numbers.published),
            taken_by_others: n(s.numbers.taken_by_others),
            taken_from_others: n(s.numbers.taken_from_others),
            rebroadcasts: n(s.numbers.rebroadcasts_made),
        })
        .collect();
    let max = r
        .stations
        .iter()
        .map(|s| s.numbers.taken_by_others.max(s.numbers.taken_from_others))
        .max()
        .unwrap_or(0)
        .max(1);
    let share = |x: u64| x as f64 / max as f64 * BAR_AREA;
    let pct = |x: f64| format!("{x:.1}%");
    let bars: Vec<Bar> = r
        .stations
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let y = 4 + i as u32 * ROW_H;
            let (given, taken) = (s.numbers.taken_by_others, s.numbers.taken_from_others);
            Bar {
                name: chart_name(if s.name.is_empty() { s.station.as_str() } else { &s.name }),
                name_y: y + 14,
                given_y: y + 20,
                taken_y: y + 38,
                given_w: pct(share(given)),
                taken_w: pct(share(taken)),
                given_x: pct(share(given) + 1.0),
                taken_x: pct(share(taken) + 1.0),
                given: n(given),
                taken: n(taken),
            }
        })
        .collect();
    let this = chrono::Utc::now().year();
    page(&ReportPage {
        c: v.chrome(),
        year,
        years: (2020..=this.max(year)).rev().collect(),
        rows,
        chart_height: 8 + bars.len() as u32 * ROW_H,
        bars,
        csv: format!("/report.csv?year={year}"),
    })
}

pub async fn report_csv(v: Visit, q: web::Query<YearQuery>) -> Result<HttpResponse, WebError> {
    let s = v.signed_in()?;
    let (year, period) = year_of(&v, &q)?;
    let r = v.hub.exchange_report(&s.caller, period).await.map_err(|e| v.fail(e))?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/csv; charset=utf-8"))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"exchange-{year}.csv\""),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(csv_in_words(&v.t(), &r)))
}

/// The report's CSV with its column names in the page's words.
fn csv_in_words(t: &crate::web::i18n::Tr, r: &crate::exchange::report::ExchangeReport) -> String {
    let header: Vec<String> = crate::exchange::report::COLUMNS
        .iter()
        .map(|c| t.get(&format!("csv-{}", c.replace('_', "-"))))
        .collect();
    r.to_csv_with(&header, &t.get("csv-total"), &t.get("csv-corner"))
}
