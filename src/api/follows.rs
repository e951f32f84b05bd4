//! `/api/v1/follows`: what a station follows, and what a late joiner
//! back-fills.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::{Auth, Json, Query};
use super::params::Limit;
use super::programs::ProgramView;
use crate::domain::{FileRole, Follow, FollowKind};
use crate::error::{ApiError, Problem};
use crate::exchange::{Hub, NewFollow};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(super::routing::resource("/follows").get(list).post(create))
        .service(super::routing::resource("/follows/{id}").delete(remove))
        .service(super::routing::resource("/follows/{id}/programs").get(programs));
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FollowInput {
    pub kind: FollowKind,
    /// The series name (case and diacritics ignored), a station id, a genre,
    /// a search's query string as `GET /api/v1/programs` takes it
    /// (`q=nong+nghiep&genre=agriculture`), or, for `list`, the login of a
    /// person of the caller's station whose download list ("Danh sách tải")
    /// the station takes: the programs on it now and those put on it later;
    /// 1 to 1000 characters on one line. Which values a kind takes the hub
    /// says (422 naming `value`; a login of another station's person is
    /// refused as one of nobody's).
    #[schema(
        min_length = 1,
        max_length = 1000,
        pattern = "^[^\\x00-\\x1f\\x7f-\\x9f]*[^\\s\\x00-\\x1f\\x7f-\\x9f][^\\x00-\\x1f\\x7f-\\x9f]*$"
    )]
    pub value: String,
    /// Whether the station's pull agent delivers what this follow matches.
    #[serde(default)]
    pub deliver: bool,
    /// The files the agent delivers (at least one); default `["master"]`.
    #[serde(default)]
    #[schema(min_items = 1)]
    pub roles: Option<Vec<FileRole>>,
    /// How many of the latest matching programs still available the agent
    /// delivers when it first meets this follow (0 to 50, default 0).
    #[serde(default)]
    #[schema(minimum = 0, maximum = 50)]
    pub backfill: u32,
    /// The delivery profile (`GET /api/v1/profiles`) the agent fetches for
    /// this follow; default: the station's `default_profile`, else the master.
    #[serde(default)]
    pub profile: Option<String>,
    /// The station's playout number for what this follow brings (1 to 12
    /// digits, e.g. `"4501"`): the agent's `{cut_id}` and the `cart` chunk's.
    #[serde(default)]
    #[schema(pattern = "^[0-9]{1,12}$")]
    pub cut_id: Option<String>,
    /// With `deliver: true`: the id of one of the station's push targets
    /// (`/api/v1/deliveries/targets`) where the hub writes what this follow
    /// matches. Not for a `list` (422): a list is handed to the station's
    /// pull agent, which reads it on each poll; a push goes with the
    /// catalog's events, and putting a program on a list is none.
    #[serde(default)]
    pub target: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FollowView {
    pub id: String,
    pub kind: FollowKind,
    pub value: String,
    pub deliver: bool,
    pub roles: Vec<FileRole>,
    pub backfill: u32,
    pub profile: Option<String>,
    pub cut_id: Option<String>,
    /// The push target, if the hub pushes what this follow matches.
    pub target: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<Follow> for FollowView {
    fn from(f: Follow) -> Self {
        Self {
            id: f.id,
            kind: f.kind,
            value: f.value,
            deliver: f.deliver,
            roles: f.roles,
            backfill: f.backfill,
            profile: f.profile,
            cut_id: f.cut_id,
            target: f.target,
            created_at: f.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FollowList {
    pub items: Vec<FollowView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FollowedPrograms {
    /// Latest first aired first (a list: in the order put on it).
    pub items: Vec<ProgramView>,
}

/// Follow a series, a station, a genre, a saved search or a person's
/// download list (a station's token).
#[utoipa::path(post, path = "/api/v1/follows", tag = "follows", operation_id = "create_follow", request_body = FollowInput,
    responses((status = 201, body = FollowView, headers(("Location" = String))),
        (status = 400, body = Problem, description = "malformed JSON"), (status = 401, body = Problem),
        (status = 403, body = Problem, description = "the operator follows nothing; a viewer may not set `deliver`"),
        (status = 409, body = Problem,
            description = "`already_following`: the station follows this already; `too_many_follows`: it has 200"),
        (status = 422, body = Problem,
            description = "`validation_failed`: an unknown kind, role or station, an empty or over-long value, a saved search the search API would refuse, a `list` of a login no person of the station has, a `list` with a `target`")),
    security(("bearer" = [])))]
pub async fn create(
    Auth(caller): Auth,
    hub: web::Data<Hub>,
    body: Json<FollowInput>,
) -> Result<HttpResponse, ApiError> {
    let b = body.parsed()?;
    let f = hub
        .follow(
            &caller,
            NewFollow {
                kind: b.kind,
                value: b.value,
                deliver: b.deliver,
                roles: b.roles,
                backfill: b.backfill,
                profile: b.profile,
                cut_id: b.cut_id,
                target: b.target,
            },
        )
        .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/follows/{}", f.id)))
        .json(FollowView::from(f)))
}

/// The caller station's follows, oldest first.
#[utoipa::path(get, path = "/api/v1/follows", tag = "follows", operation_id = "list_follows",
    responses((status = 200, body = FollowList), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn list(Auth(caller): Auth, hub: web::Data<Hub>) -> Result<HttpResponse, ApiError> {
    let items = hub.follows(&caller).await?;
    Ok(HttpResponse::Ok().json(FollowList {
        items: items.into_iter().map(Into::into).collect(),
    }))
}

/// Stop following (the caller station's follow only; another's is not found).
#[utoipa::path(delete, path = "/api/v1/follows/{id}", tag = "follows", operation_id = "delete_follow",
    params(("id" = uuid::Uuid, Path, description = "follow id")),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn remove(
    Auth(caller): Auth,
    hub: web::Data<Hub>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    hub.unfollow(&caller, path.into_inner()).await?;
    Ok(HttpResponse::new(StatusCode::NO_CONTENT))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct FollowedParams {
    /// 1 to 100, default 20.
    #[param(inline)]
    limit: Option<Limit>,
}

/// The latest programs a follow matches that the caller may still take (now,
/// or once their window opens), latest first aired first: what the pull
/// agent back-fills for a late joiner. For a `list`, the programs on the
/// list that the caller may still take, in the order they were put on it
/// (a list holds at most 100: one answer has it whole); the pull agent
/// reads it on each poll.
#[utoipa::path(get, path = "/api/v1/follows/{id}/programs", tag = "follows", operation_id = "followed_programs",
    params(("id" = uuid::Uuid, Path, description = "follow id"), FollowedParams),
    responses((status = 200, body = FollowedPrograms), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn programs(
    Auth(caller): Auth,
    hub: web::Data<Hub>,
    path: web::Path<String>,
    query: Query<FollowedParams>,
) -> Result<HttpResponse, ApiError> {
    let FollowedParams { limit } = query.parsed()?;
    let items = hub
        .followed_programs(&caller, path.into_inner(), Limit::or_default(limit))
        .await?;
    let viewer = caller.viewer();
    Ok(HttpResponse::Ok().json(FollowedPrograms {
        items: items.into_iter().map(|p| ProgramView::new(p, &viewer)).collect(),
    }))
}
