//! `/api/v1/profiles` (the hub's delivery profiles), a station's default
//! profile (`PATCH /api/v1/stations/{id}`), and the renditions made to them
//! (`/api/v1/programs/{id}/files/{role}/renditions/{profile}`).

use actix_web::body::SizedStream;
use actix_web::http::{header, Method, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::{program_id, Auth, Json};
use super::files::{conditional, Announced, Conditional};
use super::http_headers::content_disposition;
use crate::domain::profile::{Profile, ProfileInput};
use crate::domain::{AnalysisState, FileRole, StationId};
use crate::error::{ApiError, Problem};
use crate::exchange::renditions::{Rendition, RENDITION_RETRY_AFTER_SECS};
use crate::exchange::{Hub, Sending};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(super::routing::resource("/profiles").get(list).post(create))
        .service(super::routing::resource("/profiles/{id}").delete(remove))
        .service(super::routing::resource("/stations/{id}").patch(patch_station))
        .service(
            super::routing::resource("/programs/{id}/files/{role}/renditions/{profile}")
                .get(get_rendition)
                .head(head_rendition),
        );
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProfileList {
    pub items: Vec<Profile>,
}

/// The hub's delivery profiles, by id.
#[utoipa::path(get, path = "/api/v1/profiles", tag = "profiles", operation_id = "list_profiles",
    responses((status = 200, body = ProfileList), (status = 401, body = Problem)),
    security(("bearer" = [])))]
pub async fn list(Auth(caller): Auth, hub: web::Data<Hub>) -> Result<HttpResponse, ApiError> {
    let items = hub.profiles(&caller).await?;
    Ok(HttpResponse::Ok().json(ProfileList { items }))
}

/// Add a delivery profile (the operator). Defaults of the container fill
/// what is left out (PCM 24-bit, 48 kHz, stereo).
#[utoipa::path(post, path = "/api/v1/profiles", tag = "profiles", operation_id = "create_profile", request_body = ProfileInput,
    responses((status = 201, body = Profile, headers(("Location" = String))),
        (status = 400, body = Problem, description = "malformed JSON"), (status = 401, body = Problem),
        (status = 403, body = Problem, description = "only the operator adds profiles"),
        (status = 409, body = Problem, description = "`profile_exists`: a profile has this id"),
        (status = 422, body = Problem,
            description = "`validation_failed`: what FFmpeg cannot make (an unknown container or codec, a rate, depth or channel count the codec cannot take), a bad id or loudness target")),
    security(("bearer" = [])))]
pub async fn create(
    Auth(caller): Auth,
    hub: web::Data<Hub>,
    body: Json<ProfileInput>,
) -> Result<HttpResponse, ApiError> {
    let p = hub.create_profile(&caller, body.parsed()?).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/profiles/{}", p.id)))
        .json(p))
}

/// Remove a delivery profile no follow and no station's default uses (the operator).
#[utoipa::path(delete, path = "/api/v1/profiles/{id}", tag = "profiles", operation_id = "remove_profile",
    params(("id" = String, Path)),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem),
        (status = 409, body = Problem, description = "`profile_in_use`: a follow, a station's default or a push target names it")),
    security(("bearer" = [])))]
pub async fn remove(
    Auth(caller): Auth,
    hub: web::Data<Hub>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    hub.remove_profile(&caller, &path.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StationPatch {
    /// A profile's id, or `null` for none (the agent fetches masters).
    #[schema(value_type = Option<crate::domain::StationId>, inline)]
    pub default_profile: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StationSettings {
    pub id: String,
    pub default_profile: Option<String>,
}

/// Set a station's default delivery profile (its editors, or the operator).
#[utoipa::path(patch, path = "/api/v1/stations/{id}", tag = "stations", operation_id = "patch_station",
    params(("id" = String, Path)), request_body = StationPatch,
    responses((status = 200, body = StationSettings), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 422, body = Problem, description = "`validation_failed`: no profile has this id")),
    security(("bearer" = [])))]
pub async fn patch_station(
    Auth(caller): Auth,
    hub: web::Data<Hub>,
    path: web::Path<String>,
    body: Json<StationPatch>,
) -> Result<HttpResponse, ApiError> {
    let id = StationId::parse(&path.into_inner()).map_err(|_| ApiError::not_found())?;
    let patch = body.parsed()?;
    let default_profile = hub
        .set_default_profile(&caller, id.clone(), patch.default_profile)
        .await?;
    Ok(HttpResponse::Ok().json(StationSettings {
        id: id.to_string(),
        default_profile,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RenditionState {
    /// `pending` or `running`.
    pub state: AnalysisState,
}

/// A file made over to a delivery profile: `202` while it is made (asking
/// starts it), then the file, as the master is served (ranges, ETag, a take).
#[utoipa::path(get, path = "/api/v1/programs/{id}/files/{role}/renditions/{profile}", tag = "files",
    params(
        ("id" = uuid::Uuid, Path, description = "program id"), ("role" = FileRole, Path),
        ("profile" = String, Path, description = "a profile's id"),
        ("Range" = Option<String>, Header), ("If-Range" = Option<String>, Header), ("If-None-Match" = Option<String>, Header),
    ),
    responses(
        (status = 200, content_type = "application/octet-stream", body = Vec<u8>,
            headers(("ETag" = String, description = "quoted SHA-256 hex"), ("Content-Digest" = String),
                ("Repr-Digest" = String), ("Content-Disposition" = String), ("Accept-Ranges" = String))),
        (status = 202, body = RenditionState, headers(("Retry-After" = u32, description = "seconds to wait"))),
        (status = 206, content_type = "application/octet-stream", body = Vec<u8>, headers(("Content-Range" = String))),
        (status = 304, description = "If-None-Match matched"),
        (status = 401, body = Problem), (status = 403, body = Problem, description = "`rights_window_closed`"),
        (status = 404, body = Problem, description = "no such program, file or profile"),
        (status = 410, body = Problem), (status = 416, body = Problem),
        (status = 422, body = Problem, description = "`rendition_failed`: why it cannot be made"),
    ),
    security(("bearer" = [])))]
pub async fn get_rendition(
    Auth(caller): Auth,
    hub: web::Data<Hub>,
    path: web::Path<(String, String, String)>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (id, role, profile) = path.into_inner();
    let id = program_id(&id)?;
    let role = FileRole::parse(&role).ok_or_else(ApiError::not_found)?;
    let r = match hub.rendition(&caller, id, role, &profile).await? {
        Rendition::Making(state) => {
            return Ok(HttpResponse::Accepted()
                .insert_header((header::RETRY_AFTER, RENDITION_RETRY_AFTER_SECS))
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .json(RenditionState { state }))
        }
        Rendition::Ready(r) => r,
    };
    let file = &r.download.file;
    let etag = format!("\"{}\"", file.sha256);
    let (mut res, range, length) = match conditional(&req, etag, file.size, "rendition", &file.media_type)? {
        Conditional::NotModified(answer) => return Ok(answer),
        Conditional::Send { res, range, length } => (res, range, length),
    };
    res.insert_header((header::CONTENT_DISPOSITION, content_disposition(&file.filename)));
    if range.is_none() {
        let digest = format!("sha-256=:{}:", file.sha256.base64());
        res.insert_header(("Content-Digest", digest.clone()));
        res.insert_header(("Repr-Digest", digest));
    }
    if req.method() == Method::HEAD {
        return Ok(res.body(Announced(length)));
    }
    match hub.send_rendition(&r, range).await? {
        Sending::Redirect(url) => Ok(HttpResponse::TemporaryRedirect()
            .insert_header((header::LOCATION, url))
            .finish()),
        Sending::Stream(bytes) => Ok(res.body(SizedStream::new(length, bytes))),
        Sending::File(send) => Ok(super::direct_send::respond(res, &req, length, *send)),
        Sending::Accel(path) => {
            let mut answer = res
                .status(StatusCode::OK)
                .insert_header(("X-Accel-Redirect", path))
                .finish();
            answer.headers_mut().remove(header::CONTENT_RANGE);
            Ok(answer)
        }
    }
}

/// A rendition's headers, as `GET` would send them (asking starts it).
#[utoipa::path(head, path = "/api/v1/programs/{id}/files/{role}/renditions/{profile}", tag = "files",
    params(
        ("id" = uuid::Uuid, Path, description = "program id"), ("role" = FileRole, Path),
        ("profile" = String, Path, description = "a profile's id"),
        ("Range" = Option<String>, Header), ("If-Range" = Option<String>, Header), ("If-None-Match" = Option<String>, Header),
    ),
    responses(
        (status = 200, headers(("ETag" = String), ("Content-Length" = u64), ("Content-Digest" = String), ("Accept-Ranges" = String))),
        (status = 202, headers(("Retry-After" = u32))),
        (status = 206, headers(("Content-Range" = String))),
        (status = 304), (status = 401), (status = 403), (status = 404), (status = 410), (status = 416), (status = 422),
    ),
    security(("bearer" = [])))]
pub async fn head_rendition(
    auth: Auth,
    hub: web::Data<Hub>,
    path: web::Path<(String, String, String)>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    get_rendition(auth, hub, path, req).await
}
