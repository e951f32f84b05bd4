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

/// One bar pair of the chart.
pub struct Bar {
    pub name: String,
    pub y: u32,
    pub text_y: u32,
    pub given_w: u32,
    pub taken_w: u32,
    pub given: u64,
    pub taken: u64,
    pub given_x: u32,
    pub taken_x: u32,
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

const BAR_AREA: u32 = 360;
const LABEL_W: u32 = 200;
const ROW_H: u32 = 44;

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
    let width = |x: u64| ((x as f64 / max as f64) * BAR_AREA as f64).round() as u32;
    let bars: Vec<Bar> = r
        .stations
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let y = 10 + i as u32 * ROW_H;
            Bar {
                name: if s.name.is_empty() {
                    s.station.to_string()
                } else {
                    s.name.clone()
                },
                y,
                text_y: y + 16,
                given_w: width(s.numbers.taken_by_others),
                taken_w: width(s.numbers.taken_from_others),
                given: s.numbers.taken_by_others,
                taken: s.numbers.taken_from_others,
                given_x: LABEL_W + width(s.numbers.taken_by_others) + 4,
                taken_x: LABEL_W + width(s.numbers.taken_from_others) + 4,
            }
        })
        .collect();
    let this = chrono::Utc::now().year();
    page(&ReportPage {
        c: v.chrome(),
        year,
        years: (2020..=this.max(year)).rev().collect(),
        rows,
        chart_height: 20 + bars.len() as u32 * ROW_H,
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
        .body(r.to_csv()))
}
