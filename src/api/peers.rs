//! `/api/v1/peers`: the hubs this hub follows (the operator's). A peer's
//! token is taken once and never shown again.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::{Auth, Json};
use crate::domain::{Peer, Secret, StationId};
use crate::error::{ApiError, Problem};
use crate::exchange::delivery::peers::NewPeer;
use crate::exchange::Hub;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(super::routing::resource("/peers").get(list).post(add))
        .service(super::routing::resource("/peers/{id}").delete(remove))
        .service(super::routing::resource("/peers/{id}/wake").post(wake));
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PeerInput {
    /// A slug such as `cum-2`; also the id its programs carry here as their
    /// `origin.peer` (and the station that owns them). Not `local`.
    #[schema(value_type = crate::domain::StationId, inline)]
    pub id: String,
    /// How the peer is shown: "Cụm 2 — Đông Bắc".
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "^[^\\x00-\\x1f\\x7f-\\x9f]*[^\\s\\x00-\\x1f\\x7f-\\x9f][^\\x00-\\x1f\\x7f-\\x9f]*$"
    )]
    pub name: String,
    /// The peer hub's base URL; it passes the webhook address guard.
    #[schema(pattern = "^[Hh][Tt][Tt][Pp][Ss]?://[^/?#\\s]+")]
    pub url: String,
    /// The token the peer's operator issued for this hub (a station of kind
    /// `peer` there); kept to call the peer, never shown again.
    #[schema(value_type = String, pattern = "^[!-~]{1,512}$")]
    pub token: Secret,
    /// Which of its programs' files are fetched ahead of any need, so that
    /// they are served while it is down: `none` (the default: each on first
    /// need), `all`, or `followed` (those a station here follows).
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "followed", pattern = "^(none|all|followed)?$")]
    pub eager: Option<String>,
    /// The most bytes of its programs' files eager mirroring keeps here
    /// (0, the default: no limit).
    #[serde(default)]
    #[schema(maximum = 9223372036854775807_u64)]
    pub eager_max_bytes: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PeerView {
    pub id: String,
    pub name: String,
    pub url: String,
    /// What went wrong at the last read of its feed; null when it went well.
    pub last_error: Option<String>,
    /// `none`, `all` or `followed`.
    pub eager: String,
    /// 0: no limit.
    pub eager_max_bytes: u64,
    pub created_at: DateTime<Utc>,
}

impl From<Peer> for PeerView {
    fn from(p: Peer) -> Self {
        Self {
            id: p.id.to_string(),
            name: p.name,
            url: p.url,
            last_error: p.last_error,
            eager: p.eager.as_str().to_owned(),
            eager_max_bytes: p.eager_max_bytes,
            created_at: p.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PeerList {
    pub items: Vec<PeerView>,
}

/// Follow a peer hub (the operator's): its programs for all clusters are
/// mirrored here from its feed.
#[utoipa::path(post, path = "/api/v1/peers", tag = "peers", operation_id = "add_peer", request_body = PeerInput,
    responses((status = 201, body = PeerView, headers(("Location" = String))),
        (status = 400, body = Problem, description = "malformed JSON"), (status = 401, body = Problem),
        (status = 403, body = Problem, description = "not the hub operator"),
        (status = 409, body = Problem, description = "`station_exists`: a station or peer has this id"),
        (status = 422, body = Problem,
            description = "`validation_failed`: a bad id, name, token or `eager`, a URL that is not http(s) or whose address the guard refuses")),
    security(("bearer" = [])))]
pub async fn add(Auth(caller): Auth, hub: web::Data<Hub>, body: Json<PeerInput>) -> Result<HttpResponse, ApiError> {
    let b = body.parsed()?;
    let peer = hub
        .add_peer(
            &caller,
            NewPeer {
                id: b.id,
                name: b.name,
                url: b.url,
                token: b.token,
                eager: b.eager.unwrap_or_default(),
                eager_max_bytes: b.eager_max_bytes.unwrap_or(0),
            },
        )
        .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/peers/{}", peer.id)))
        .json(PeerView::from(peer)))
}

/// The hubs this hub follows (the operator's).
#[utoipa::path(get, path = "/api/v1/peers", tag = "peers", operation_id = "list_peers",
    responses((status = 200, body = PeerList), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn list(Auth(caller): Auth, hub: web::Data<Hub>) -> Result<HttpResponse, ApiError> {
    let items = hub.peers(&caller).await?;
    Ok(HttpResponse::Ok().json(PeerList {
        items: items.into_iter().map(Into::into).collect(),
    }))
}

/// Stop following a peer hub (the operator's): the programs mirrored from
/// it are withdrawn here.
#[utoipa::path(delete, path = "/api/v1/peers/{id}", tag = "peers", operation_id = "remove_peer",
    params(("id" = String, Path, description = "peer id")),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn remove(
    Auth(caller): Auth,
    hub: web::Data<Hub>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = StationId::parse(&path.into_inner()).map_err(|_| ApiError::not_found())?;
    hub.remove_peer(&caller, id).await?;
    Ok(HttpResponse::new(StatusCode::NO_CONTENT))
}

/// A webhook delivery of peer hub `{id}`, to which this hub subscribed (with
/// its peer token there): signed with the secret this hub gave it, it makes
/// this hub read its peers' feeds now. The body is never read; anything not
/// signed so is refused with 401, whether the peer exists or not.
#[utoipa::path(post, path = "/api/v1/peers/{id}/wake", tag = "peers", operation_id = "wake_for_peer",
    params(("id" = String, Path, description = "peer id"),
        ("X-Hub-Signature-256" = String, Header, description = "`sha256=<hex HMAC-SHA256 of the body>`, keyed with the secret this hub gave the peer")),
    request_body(content = Object, description = "the peer's webhook delivery (not read)"),
    responses((status = 202, description = "the peers' feeds are read now"),
        (status = 401, body = Problem, description = "not signed by a peer this hub follows")))]
pub async fn wake(
    hub: web::Data<Hub>,
    req: actix_web::HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let signature = req.headers().get("X-Hub-Signature-256").and_then(|v| v.to_str().ok());
    hub.peer_woken(&path.into_inner(), signature, &body).await?;
    Ok(HttpResponse::Accepted().finish())
}
