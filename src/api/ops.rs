//! Operations: liveness and readiness.

use actix_web::{web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::exchange::Hub;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz))
        .route("/metrics", web::get().to(metrics));
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

/// The catalog and the media store answer.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, body = Health), (status = 503, body = crate::error::Problem)))]
pub async fn readyz(hub: web::Data<Hub>) -> Result<HttpResponse, ApiError> {
    let not_ready = |what: &str| {
        ApiError::new(
            actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            format!("the {what} is not reachable"),
        )
    };
    if let Err(e) = hub.catalog().ping().await {
        tracing::error!(error = %e, "catalog not ready");
        return Err(not_ready("catalog"));
    }
    if let Err(e) = hub.media().check().await {
        tracing::error!(error = %e, "media store not ready");
        return Err(not_ready("media store"));
    }
    Ok(HttpResponse::Ok().json(Health { status: "ready" }))
}

/// Counters in the Prometheus text format: requests and their latency, file
/// bytes in and out, uploads in progress.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, content_type = "text/plain; version=0.0.4", body = String)))]
pub async fn metrics(hub: web::Data<Hub>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(hub.metrics().render())
}
