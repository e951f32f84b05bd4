//! Operations: liveness and readiness.

use actix_web::{web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::exchange::error::code;
use crate::exchange::Hub;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(super::routing::resource("/healthz").get(healthz))
        .service(super::routing::resource("/readyz").get(readyz))
        .service(super::routing::resource("/metrics").get(metrics));
}

#[derive(Serialize, ToSchema)]
pub struct Health {
    pub status: &'static str,
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = Health)))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

#[derive(Serialize, ToSchema)]
pub struct Ready {
    pub status: &'static str,
    /// FFmpeg's version; `null` when it is not installed (the hub is still
    /// ready: files wait for analysis).
    pub ffmpeg: Option<String>,
}

/// The catalog and the media store answer; also names FFmpeg's version.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, body = Ready), (status = 503, body = crate::error::Problem)))]
pub async fn readyz(hub: web::Data<Hub>) -> Result<HttpResponse, ApiError> {
    let not_ready = |what: &str| {
        ApiError::new(
            actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
            code::NOT_READY,
            format!("the {what} is not reachable"),
        )
    };
    hub.ready().await.map_err(not_ready)?;
    Ok(HttpResponse::Ok().json(Ready {
        status: "ready",
        ffmpeg: hub.ffmpeg_version(),
    }))
}

/// Counters in the Prometheus text format: requests and their latency, file
/// bytes in and out, uploads in progress. Open, unless the hub has a
/// `metrics_token`: then only `Authorization: Bearer <metrics_token>`.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, content_type = "text/plain; version=0.0.4", body = String),
        (status = 401, body = crate::error::Problem, content_type = "application/problem+json",
            description = "the hub has a metrics token and the request did not carry it")),
    security((), ("bearer" = [])))]
pub async fn metrics(
    hub: web::Data<Hub>,
    site: web::Data<super::Site>,
    req: actix_web::HttpRequest,
) -> Result<HttpResponse, ApiError> {
    if let Some(want) = &site.metrics_token {
        let sent = req
            .headers()
            .get(actix_web::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        use subtle::ConstantTimeEq;
        let (a, b) = (
            <sha2::Sha256 as sha2::Digest>::digest(sent.as_bytes()),
            <sha2::Sha256 as sha2::Digest>::digest(want.expose().as_bytes()),
        );
        if !bool::from(a.ct_eq(&b)) {
            return Err(crate::exchange::ExchangeError::Unauthorized.into());
        }
    }
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(hub.metrics().render() + &ffmpeg_metric(hub.ffmpeg_version().as_deref())))
}

/// `pxhub_ffmpeg_info{version="…"} 1`, or `0` without a version when absent.
fn ffmpeg_metric(version: Option<&str>) -> String {
    let head =
        "# HELP pxhub_ffmpeg_info FFmpeg used for analysis (1: found, 0: missing).\n# TYPE pxhub_ffmpeg_info gauge\n";
    match version {
        Some(v) => {
            let v: String = v
                .chars()
                .filter(|c| c.is_ascii_graphic() && *c != '"' && *c != '\\')
                .collect();
            format!("{head}pxhub_ffmpeg_info{{version=\"{v}\"}} 1\n")
        }
        None => format!("{head}pxhub_ffmpeg_info{{version=\"\"}} 0\n"),
    }
}
