//! `/api/v1/deliveries`: push delivery into a station's own servers (SFTP,
//! FTP, S3): its targets, and each file pushed there.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::{Auth, Json, Query};
use super::params::Limit;
use crate::domain::{FileRole, PushDelivery, PushState, PushTarget, Secret, TargetKind};
use crate::error::{ApiError, Problem};
use crate::exchange::delivery::push::NewTarget;
use crate::exchange::Hub;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(super::routing::resource("/deliveries").get(list))
        .service(
            super::routing::resource("/deliveries/targets")
                .get(targets)
                .post(add_target),
        )
        .service(super::routing::resource("/deliveries/targets/{id}").delete(remove_target))
        .service(super::routing::resource("/deliveries/{id}/redeliver").post(redeliver));
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetInput {
    pub kind: TargetKind,
    /// `sftp://host[:port]`, `ftp://host[:port]`, or for `s3` the endpoint
    /// `https://host[:port]` (optionally `?region=NAME`). Loopback, private,
    /// link-local, shared, multicast and reserved addresses (and names
    /// resolving to one) are refused unless the operator allows them.
    #[schema(pattern = "^([Ss][Ff][Tt][Pp]|[Ff][Tt][Pp]|[Hh][Tt][Tt][Pp][Ss]?)://[^/?#\\s@]+")]
    pub url: String,
    /// The user name; for `s3` the access key id.
    #[schema(min_length = 1, max_length = 256, pattern = "^[^\\x00-\\x1f\\x7f-\\x9f]+$")]
    pub username: String,
    /// The password; for `s3` the secret key. Never shown again.
    #[schema(value_type = String, min_length = 1, max_length = 1024, pattern = "^[^\\x00-\\x1f\\x7f-\\x9f]+$")]
    pub secret: Secret,
    /// The folder files go to; for `s3`, `bucket/prefix`.
    #[schema(max_length = 500, pattern = "^[^\\x00-\\x1f\\x7f-\\x9f\\\\]*$")]
    pub path: String,
    /// The delivery profile's id the station's playout takes: what is sent
    /// unless the follow names its own profile (else the station's
    /// default; with none, the file as uploaded).
    #[serde(default)]
    #[schema(max_length = 64, pattern = "^[a-z0-9]+(-[a-z0-9]+)*$")]
    pub profile: Option<String>,
    /// How files are named there, with the pull agent's fields (`{cut_id}`,
    /// `{title}`, `{ext}`, …; no `/`). Default: `{cut_id}.{ext}` for a
    /// follow with a cut ID, else `PROGRAM-ID-ROLE.ext`.
    #[serde(default)]
    #[schema(max_length = 200, example = "{cut_id} {title}.{ext}")]
    pub template: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TargetView {
    pub id: String,
    pub kind: TargetKind,
    pub url: String,
    pub username: String,
    pub path: String,
    pub profile: Option<String>,
    pub template: Option<String>,
    /// SFTP: the server's host key (SHA-256 fingerprint), learnt at the
    /// first delivery; another key later is refused.
    pub host_key: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<PushTarget> for TargetView {
    fn from(t: PushTarget) -> Self {
        Self {
            id: t.id,
            kind: t.kind,
            url: t.url,
            username: t.username,
            path: t.path,
            profile: t.profile,
            template: t.template,
            host_key: t.host_key,
            created_at: t.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TargetList {
    pub items: Vec<TargetView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryView {
    pub id: String,
    pub program_id: String,
    /// The target's id.
    pub target: String,
    pub role: FileRole,
    /// The file's name on the target (`NAME.md5` follows it once whole).
    pub name: String,
    /// The delivery profile it is sent in; null: the file as uploaded.
    pub profile: Option<String>,
    pub state: PushState,
    /// Bytes on the target so far.
    pub bytes: u64,
    /// The file's size.
    pub size: u64,
    pub attempts: u32,
    /// Why the last attempt failed, in words.
    pub error: Option<String>,
    /// When a pending delivery is tried next.
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

impl From<PushDelivery> for DeliveryView {
    fn from(d: PushDelivery) -> Self {
        Self {
            next_attempt_at: matches!(d.state, PushState::Pending | PushState::WaitingWindow)
                .then_some(d.next_attempt_at),
            id: d.id,
            program_id: d.program_id.to_string(),
            target: d.target_id,
            role: d.role,
            name: d.name,
            profile: d.profile,
            state: d.state,
            bytes: d.bytes,
            size: d.size,
            attempts: d.attempts,
            error: d.error,
            updated_at: d.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryList {
    /// Newest first.
    pub items: Vec<DeliveryView>,
    /// The next page's `cursor`; null at the end.
    pub next_cursor: Option<String>,
}

/// Add a push target: a server of the caller's station where the hub writes
/// what its delivering follows match (an editor's token).
#[utoipa::path(post, path = "/api/v1/deliveries/targets", tag = "follows", operation_id = "add_push_target",
    request_body = TargetInput,
    responses((status = 201, body = TargetView, headers(("Location" = String))),
        (status = 400, body = Problem, description = "malformed JSON"), (status = 401, body = Problem),
        (status = 403, body = Problem, description = "the operator has no targets; a viewer may not add one"),
        (status = 409, body = Problem, description = "`too_many_targets`: the station has 20"),
        (status = 422, body = Problem,
            description = "`validation_failed`: a URL not of its kind or refused by the address rule, an empty user name or secret, a path with `..`, a profile that is not a profile's id, a template that does not parse or names a folder")),
    security(("bearer" = [])))]
pub async fn add_target(
    Auth(caller): Auth,
    hub: web::Data<Hub>,
    body: Json<TargetInput>,
) -> Result<HttpResponse, ApiError> {
    let b = body.parsed()?;
    let t = hub
        .add_target(
            &caller,
            NewTarget {
                kind: b.kind,
                url: b.url,
                username: b.username,
                secret: b.secret,
                path: b.path,
                profile: b.profile,
                template: b.template,
            },
        )
        .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/deliveries/targets/{}", t.id)))
        .json(TargetView::from(t)))
}

/// The caller station's push targets (their secrets are never shown).
#[utoipa::path(get, path = "/api/v1/deliveries/targets", tag = "follows", operation_id = "list_push_targets",
    responses((status = 200, body = TargetList), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn targets(Auth(caller): Auth, hub: web::Data<Hub>) -> Result<HttpResponse, ApiError> {
    let items = hub.targets(&caller).await?;
    Ok(HttpResponse::Ok().json(TargetList {
        items: items.into_iter().map(Into::into).collect(),
    }))
}

/// Remove a push target of the caller's station: its deliveries not done
/// stop, and its follows push no more.
#[utoipa::path(delete, path = "/api/v1/deliveries/targets/{id}", tag = "follows", operation_id = "remove_push_target",
    params(("id" = uuid::Uuid, Path, description = "target id")),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn remove_target(
    Auth(caller): Auth,
    hub: web::Data<Hub>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    hub.remove_target(&caller, path.into_inner()).await?;
    Ok(HttpResponse::new(StatusCode::NO_CONTENT))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// 1 to 100, default 20.
    #[param(inline)]
    limit: Option<Limit>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// The caller station's push deliveries, newest first, a page at a time.
#[utoipa::path(get, path = "/api/v1/deliveries", tag = "follows", operation_id = "list_push_deliveries",
    params(ListParams),
    responses((status = 200, body = DeliveryList), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn list(Auth(caller): Auth, hub: web::Data<Hub>, query: Query<ListParams>) -> Result<HttpResponse, ApiError> {
    let ListParams { limit, cursor } = query.parsed()?;
    let (items, next_cursor) = hub.pushes(&caller, cursor, Limit::or_default(limit)).await?;
    Ok(HttpResponse::Ok().json(DeliveryList {
        items: items.into_iter().map(Into::into).collect(),
        next_cursor,
    }))
}

/// Send a delivery again (now, from what the target already holds).
#[utoipa::path(post, path = "/api/v1/deliveries/{id}/redeliver", tag = "follows", operation_id = "redeliver",
    params(("id" = uuid::Uuid, Path, description = "delivery id")),
    responses((status = 200, body = DeliveryView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem),
        (status = 409, body = Problem, description = "`delivery_sending`: it is being sent now")),
    security(("bearer" = [])))]
pub async fn redeliver(
    Auth(caller): Auth,
    hub: web::Data<Hub>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let d = hub.redeliver(&caller, path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(DeliveryView::from(d)))
}
