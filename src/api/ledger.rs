//! The ledger: rebroadcasts, takes, and the exchange report.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::{program_id, Auth, Json, Query};
use super::params::DateOrTime;
use crate::domain::{FileRole, PeerUse, Rebroadcast, Take};
use crate::error::{ApiError, Problem};
use crate::exchange::delivery::peer_reports::PeerReport;
use crate::exchange::report::{Period, ReportView};
use crate::exchange::{Hub, NewRebroadcast};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(super::routing::resource("/programs/{id}/rebroadcasts").post(report_rebroadcast))
        .service(
            super::routing::resource("/programs/{id}/takes")
                .get(takes)
                .post(report_take),
        )
        .service(super::routing::resource("/reports/exchange").get(exchange_report));
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RebroadcastInput {
    /// When it aired (RFC 3339).
    pub aired_at: DateTime<Utc>,
    /// The channel it aired on, e.g. `TNTV1`, `FM 97.5` (1 to 200 characters).
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "^[^\\x00-\\x1f\\x7f-\\x9f]*[^\\s\\x00-\\x1f\\x7f-\\x9f][^\\x00-\\x1f\\x7f-\\x9f]*$"
    )]
    pub channel: String,
    /// Up to 2000 characters, on several lines; empty means none.
    #[serde(default)]
    #[schema(max_length = 2000, pattern = "^[^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f]*$")]
    pub note: Option<String>,
    /// From a peer hub only: its station that aired it (id there).
    #[serde(default)]
    pub station: Option<String>,
    /// From a peer hub only: that station's name.
    #[serde(default)]
    pub station_name: Option<String>,
    /// From a peer hub only: the report counts once by this key.
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

/// A take by a station of a peer hub, as the peer reports it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PeerTakeInput {
    /// The station there that took it (its id there).
    pub station: String,
    pub station_name: String,
    /// Which file.
    pub role: FileRole,
    /// The take counts once by this key.
    pub idempotency_key: String,
}

/// A take or rebroadcast by a station of a peer hub.
#[derive(Debug, Serialize, ToSchema)]
pub struct PeerUseView {
    /// The peer hub (its station id here).
    pub peer: String,
    /// `take` or `rebroadcast`.
    pub kind: String,
    pub station: String,
    pub station_name: String,
    pub role: Option<String>,
    pub aired_at: Option<DateTime<Utc>>,
    pub channel: Option<String>,
    /// When the peer reported it.
    pub reported_at: DateTime<Utc>,
}

impl From<PeerUse> for PeerUseView {
    fn from(u: PeerUse) -> Self {
        Self {
            peer: u.peer.to_string(),
            kind: u.kind.to_owned(),
            station: u.station,
            station_name: u.station_name,
            role: u.role,
            aired_at: u.aired_at,
            channel: u.channel,
            reported_at: u.at,
        }
    }
}

/// The answer to a peer's report: 201 the first time, 200 for its key again.
fn peer_use_answer((u, new): (PeerUse, bool)) -> HttpResponse {
    let status = if new { StatusCode::CREATED } else { StatusCode::OK };
    HttpResponse::build(status).json(PeerUseView::from(u))
}

/// A peer hub reports a take of this hub's program by one of its stations
/// (peer tokens only); the same `idempotency_key` again counts nothing.
#[utoipa::path(post, path = "/api/v1/programs/{id}/takes", tag = "ledger", request_body = PeerTakeInput,
    params(("id" = uuid::Uuid, Path, description = "program id")),
    responses((status = 201, body = PeerUseView), (status = 200, body = PeerUseView, description = "reported before"),
        (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem, description = "not a peer token"), (status = 404, body = Problem),
        (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn report_take(
    Auth(caller): Auth,
    hub: web::Data<Hub>,
    path: web::Path<String>,
    body: Json<PeerTakeInput>,
) -> Result<HttpResponse, ApiError> {
    let id = program_id(&path)?;
    let b = body.parsed()?;
    let report = PeerReport {
        station: b.station,
        station_name: b.station_name,
        idempotency_key: b.idempotency_key,
        role: Some(b.role.as_str().to_owned()),
        aired_at: None,
        channel: None,
    };
    Ok(peer_use_answer(hub.record_peer_use(&caller, id, "take", report).await?))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RebroadcastView {
    pub id: String,
    /// The station that aired it.
    pub station: String,
    pub program_id: String,
    pub aired_at: DateTime<Utc>,
    pub channel: String,
    pub note: Option<String>,
    pub reported_at: DateTime<Utc>,
}

impl From<Rebroadcast> for RebroadcastView {
    fn from(r: Rebroadcast) -> Self {
        Self {
            id: r.id,
            station: r.station.to_string(),
            program_id: r.program_id.to_string(),
            aired_at: r.aired_at,
            channel: r.channel,
            note: r.note,
            reported_at: r.reported_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TakeView {
    /// The station that downloaded it.
    pub station: String,
    /// Which file.
    pub role: FileRole,
    pub sha256: String,
    pub size: u64,
    /// When its last byte reached the station.
    pub taken_at: DateTime<Utc>,
}

impl From<Take> for TakeView {
    fn from(t: Take) -> Self {
        Self {
            station: t.station.to_string(),
            role: t.role,
            sha256: t.sha256.hex(),
            size: t.size,
            taken_at: t.taken_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TakesView {
    pub takes: Vec<TakeView>,
    pub rebroadcasts: Vec<RebroadcastView>,
    /// Takes and rebroadcasts by the stations of peer hubs (other clusters).
    pub other_clusters: Vec<PeerUseView>,
}

/// Report a rebroadcast of a program the caller's station has downloaded.
#[utoipa::path(post, path = "/api/v1/programs/{id}/rebroadcasts", tag = "ledger", request_body = RebroadcastInput,
    params(("id" = uuid::Uuid, Path, description = "program id")),
    responses((status = 201, body = RebroadcastView), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem, description = "the station has not downloaded the program"),
        (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn report_rebroadcast(
    Auth(caller): Auth,
    hub: web::Data<Hub>,
    path: web::Path<String>,
    body: Json<RebroadcastInput>,
) -> Result<HttpResponse, ApiError> {
    let id = program_id(&path)?;
    let b = body.parsed()?;
    if caller.is_peer() {
        let report = PeerReport {
            station: b.station.unwrap_or_default(),
            station_name: b.station_name.unwrap_or_default(),
            idempotency_key: b.idempotency_key.unwrap_or_default(),
            role: None,
            aired_at: Some(b.aired_at),
            channel: Some(b.channel),
        };
        return Ok(peer_use_answer(
            hub.record_peer_use(&caller, id, "rebroadcast", report).await?,
        ));
    }
    let r = hub
        .report_rebroadcast(
            &caller,
            id,
            NewRebroadcast {
                aired_at: b.aired_at,
                channel: b.channel,
                note: b.note,
            },
        )
        .await?;
    Ok(HttpResponse::Created().json(RebroadcastView::from(r)))
}

/// Who downloaded the program and who rebroadcast it (owner, admin).
#[utoipa::path(get, path = "/api/v1/programs/{id}/takes", tag = "ledger",
    params(("id" = uuid::Uuid, Path, description = "program id")),
    responses((status = 200, body = TakesView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn takes(Auth(caller): Auth, hub: web::Data<Hub>, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let t = hub.takes(&caller, program_id(&path)?).await?;
    Ok(HttpResponse::Ok().json(TakesView {
        takes: t.takes.into_iter().map(Into::into).collect(),
        rebroadcasts: t.rebroadcasts.into_iter().map(Into::into).collect(),
        other_clusters: t.other_clusters.into_iter().map(Into::into).collect(),
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ReportParams {
    /// Start, inclusive: a date (YYYY-MM-DD, from its start) or an RFC 3339 date-time. Default: 1 January of this year.
    #[param(inline)]
    from: Option<DateOrTime>,
    /// End, exclusive: a date (from its start) or a date-time. Default: 1 January of next year.
    #[param(inline)]
    to: Option<DateOrTime>,
    /// `json` (default) or `csv` (UTF-8 with BOM, for spreadsheets).
    #[param(inline)]
    format: Option<ReportFormat>,
}

/// How the report is written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReportFormat {
    #[default]
    Json,
    Csv,
}

/// The exchange report: per station, and the station-by-station matrix of takes.
#[utoipa::path(get, path = "/api/v1/reports/exchange", tag = "ledger", params(ReportParams),
    responses((status = 200, description = "JSON, or CSV with format=csv",
            content((ReportView = "application/json"), (String = "text/csv"))),
        (status = 401, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn exchange_report(
    Auth(caller): Auth,
    hub: web::Data<Hub>,
    query: Query<ReportParams>,
) -> Result<HttpResponse, ApiError> {
    let ReportParams { from, to, format } = query.parsed()?;
    let this_year = Period::this_year();
    let from = from.map_or(this_year.from, DateOrTime::start);
    let to = to.map_or(this_year.to, DateOrTime::start);
    let csv = format.unwrap_or_default() == ReportFormat::Csv;
    let report = hub.exchange_report(&caller, Period::new(from, to)?).await?;
    if csv {
        let name = format!("exchange-{}-{}.csv", from.format("%Y%m%d"), to.format("%Y%m%d"));
        return Ok(HttpResponse::build(StatusCode::OK)
            .insert_header((header::CONTENT_TYPE, "text/csv; charset=utf-8"))
            .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")))
            .body(report.to_csv()));
    }
    Ok(HttpResponse::Ok().json(report.view()))
}
