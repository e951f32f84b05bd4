//! `/api/v1/stations`, their tokens, and `/api/v1/me`.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpResponse};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::{Auth, Json, Query};
use super::params::Limit;
use crate::domain::{FieldError, Role, Station, StationId, StationKind};
use crate::error::ApiError;
use crate::exchange::{Hub, IssuedToken, NewStation};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        super::routing::resource("/stations")
            .get(list_stations)
            .post(create_station),
    )
    .service(super::routing::resource("/stations/{id}/tokens").post(issue_token))
    .service(super::routing::resource("/stations/{id}/tokens/{token_id}").delete(revoke_token))
    .service(super::routing::resource("/me").get(me));
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StationView {
    pub id: String,
    pub name: String,
    pub province: String,
    pub kind: StationKind,
}

impl From<Station> for StationView {
    fn from(s: Station) -> Self {
        Self {
            id: s.id.to_string(),
            name: s.name,
            province: s.province,
            kind: s.kind,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StationList {
    pub items: Vec<StationView>,
    /// Pass as `cursor` for the next page; null at the end.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateStation {
    /// A slug such as `thai-nguyen`.
    #[schema(min_length = 2, max_length = 64, pattern = "^[a-z](?:[a-z0-9]|-(?=[a-z0-9])){1,63}$")]
    pub id: String,
    /// 1 to 200 characters.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "^[^\\x00-\\x1f\\x7f-\\x9f]*[^\\s\\x00-\\x1f\\x7f-\\x9f][^\\x00-\\x1f\\x7f-\\x9f]*$"
    )]
    pub name: String,
    /// 1 to 100 characters; required, but for a peer hub's station (kind `peer`).
    #[serde(default)]
    #[schema(
        max_length = 100,
        pattern = "^([^\\x00-\\x1f\\x7f-\\x9f]*[^\\s\\x00-\\x1f\\x7f-\\x9f][^\\x00-\\x1f\\x7f-\\x9f]*)?$"
    )]
    pub province: String,
    /// `provincial` (default), `national`, or `peer` (another cluster's hub).
    #[serde(default = "provincial")]
    pub kind: StationKind,
}

fn provincial() -> StationKind {
    StationKind::Provincial
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueToken {
    /// Up to 200 characters on one line (what the token is for).
    #[serde(default)]
    #[schema(max_length = 200, pattern = "^[^\\x00-\\x1f\\x7f-\\x9f]*$")]
    pub label: String,
    /// `station` or `national`; by default what the station's kind implies.
    /// (An `admin` token belongs to the operator, never to a station.)
    #[serde(default)]
    #[schema(value_type = Option<String>, pattern = "^(station|national)$")]
    pub role: Option<Role>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenIssued {
    pub id: String,
    /// The bearer token. Shown only now: the hub keeps only its hash.
    pub token: String,
    pub station: Option<String>,
    pub role: Role,
    pub label: String,
}

impl From<IssuedToken> for TokenIssued {
    fn from(t: IssuedToken) -> Self {
        Self {
            id: t.id,
            token: t.token,
            station: t.station.map(|s| s.to_string()),
            role: t.role,
            label: t.label,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    /// The caller's station; null for the hub operator.
    pub station: Option<StationView>,
    pub role: Role,
    pub token_id: String,
    /// The Atom feed's URL with this token's key, for feed readers that
    /// cannot send headers (a provincial station's holds what it follows).
    pub feed_url: Option<String>,
    /// The station's default delivery profile (`PATCH /api/v1/stations/{id}`).
    pub default_profile: Option<String>,
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

fn station_id(raw: &str) -> Result<StationId, ApiError> {
    StationId::parse(raw).map_err(|_| ApiError::not_found())
}

/// List the stations of the hub.
#[utoipa::path(get, path = "/api/v1/stations", tag = "stations", params(ListParams),
    responses((status = 200, body = StationList), (status = 401, body = crate::error::Problem), (status = 422, body = crate::error::Problem)),
    security(("bearer" = [])))]
pub async fn list_stations(
    _auth: Auth,
    hub: web::Data<Hub>,
    query: Query<ListParams>,
) -> Result<HttpResponse, ApiError> {
    let ListParams { limit, cursor } = query.parsed()?;
    let limit = Limit::or_default(limit);
    let after = match cursor.filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => Some(
            URL_SAFE_NO_PAD
                .decode(c)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .filter(|s| StationId::parse(s).is_ok())
                .ok_or_else(|| ApiError::invalid(vec![FieldError::new("cursor", "not a cursor this list returned")]))?,
        ),
    };
    let mut stations = hub.list_stations(after, limit + 1).await?;
    let next_cursor = (stations.len() > limit).then(|| {
        stations.truncate(limit);
        URL_SAFE_NO_PAD.encode(stations[limit - 1].id.as_str())
    });
    Ok(HttpResponse::Ok().json(StationList {
        items: stations.into_iter().map(Into::into).collect(),
        next_cursor,
    }))
}

/// Add a station (admin).
#[utoipa::path(post, path = "/api/v1/stations", tag = "stations", request_body = CreateStation,
    responses((status = 201, body = StationView), (status = 401, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem), (status = 409, body = crate::error::Problem, description = "`station_exists`"),
        (status = 422, body = crate::error::Problem)),
    security(("bearer" = [])))]
pub async fn create_station(
    Auth(caller): Auth,
    hub: web::Data<Hub>,
    body: Json<CreateStation>,
) -> Result<HttpResponse, ApiError> {
    let b = body.parsed()?;
    let station = hub
        .create_station(
            &caller,
            NewStation {
                id: b.id,
                name: b.name,
                province: b.province,
                kind: b.kind,
            },
        )
        .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/stations/{}", station.id)))
        .json(StationView::from(station)))
}

/// Issue a token for a station (admin). The token's text is in this response only.
#[utoipa::path(post, path = "/api/v1/stations/{id}/tokens", tag = "stations", request_body = IssueToken,
    params(("id" = String, Path, description = "station id", pattern = "^[a-z](-?[a-z0-9])+$", max_length = 64)),
    responses((status = 201, body = TokenIssued), (status = 401, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)),
    security(("bearer" = [])))]
pub async fn issue_token(
    Auth(caller): Auth,
    hub: web::Data<Hub>,
    path: web::Path<String>,
    body: Json<IssueToken>,
) -> Result<HttpResponse, ApiError> {
    let station = station_id(&path)?;
    let body = body.parsed()?;
    let issued = hub.issue_token(&caller, Some(station), body.role, body.label).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(TokenIssued::from(issued)))
}

/// Revoke a token (admin).
#[utoipa::path(delete, path = "/api/v1/stations/{id}/tokens/{token_id}", tag = "stations",
    params(("id" = String, Path, description = "station id", pattern = "^[a-z](-?[a-z0-9])+$", max_length = 64), ("token_id" = String, Path, description = "the token's id, as issued")),
    responses((status = 204), (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem)),
    security(("bearer" = [])))]
pub async fn revoke_token(
    Auth(caller): Auth,
    hub: web::Data<Hub>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (station, token_id) = path.into_inner();
    hub.revoke_token(&caller, Some(station_id(&station)?), token_id).await?;
    Ok(HttpResponse::new(StatusCode::NO_CONTENT))
}

/// The caller's station and role.
#[utoipa::path(get, path = "/api/v1/me", tag = "stations",
    responses((status = 200, body = Me), (status = 401, body = crate::error::Problem)),
    security(("bearer" = [])))]
pub async fn me(Auth(caller): Auth, hub: web::Data<Hub>) -> Result<HttpResponse, ApiError> {
    let (station, default_profile) = match caller.station.clone() {
        Some(id) => (
            Some(StationView::from(hub.station(id.clone()).await?)),
            hub.default_profile(&id).await?,
        ),
        None => (None, None),
    };
    let feed_url = Some(format!("/api/v1/feed.atom?key={}", hub.feed_key(&caller.token_id)));
    // The feed key is a secret: no cache keeps it.
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(Me {
            station,
            role: caller.role,
            token_id: caller.token_id,
            feed_url,
            default_profile,
        }))
}
