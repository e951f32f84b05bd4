//! `/api/v1/programs/{id}/files/{role}/preview`, `/poster.jpg`,
//! `/waveform.json`: what the hub made of a file, for hearing and seeing
//! before taking. Ranged and ETag'd like files; never a take.

use actix_web::body::SizedStream;
use actix_web::http::Method;
use actix_web::{web, HttpRequest, HttpResponse};

use super::extract::{program_id, Auth};
use super::files::{conditional, Conditional};
use crate::domain::FileRole;
use crate::error::{ApiError, Problem};
use crate::exchange::analysis::Preview;
use crate::exchange::Hub;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        super::routing::resource("/programs/{id}/files/{role}/preview")
            .get(get_preview)
            .head(head_preview),
    )
    .service(super::routing::resource("/programs/{id}/files/{role}/poster.jpg").get(get_poster))
    .service(super::routing::resource("/programs/{id}/files/{role}/waveform.json").get(get_waveform));
}

/// The listening copy (AAC 64 kbit/s in MP4, `audio/mp4`) or viewing copy
/// (360p H.264 + AAC, `video/mp4`) of a file, with its index first. Visible
/// to whoever may see the program, also before its rebroadcast window opens;
/// not a take.
#[utoipa::path(get, path = "/api/v1/programs/{id}/files/{role}/preview", tag = "files",
    params(
        ("id" = uuid::Uuid, Path, description = "program id"),
        ("role" = FileRole, Path),
        ("Range" = Option<String>, Header), ("If-Range" = Option<String>, Header), ("If-None-Match" = Option<String>, Header),
    ),
    responses(
        (status = 200, content_type = "audio/mp4", body = Vec<u8>, headers(("ETag" = String), ("Accept-Ranges" = String))),
        (status = 206, content_type = "audio/mp4", body = Vec<u8>, headers(("Content-Range" = String))),
        (status = 304), (status = 401, body = Problem),
        (status = 404, body = Problem, description = "`preview_not_ready` until the analysis made it; `not_found` for a program the caller may not see"),
        (status = 410, body = Problem), (status = 416, body = Problem),
    ),
    security(("bearer" = [])))]
pub async fn get_preview(
    auth: Auth,
    hub: web::Data<Hub>,
    path: web::Path<(String, String)>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    serve(auth, hub, path, req, Preview::Media).await
}

/// The preview's headers, as `GET` would send them, without its bytes.
#[utoipa::path(head, path = "/api/v1/programs/{id}/files/{role}/preview", tag = "files",
    params(
        ("id" = uuid::Uuid, Path, description = "program id"),
        ("role" = FileRole, Path),
        ("Range" = Option<String>, Header), ("If-Range" = Option<String>, Header), ("If-None-Match" = Option<String>, Header),
    ),
    responses(
        (status = 200, headers(("ETag" = String), ("Content-Length" = u64), ("Accept-Ranges" = String))),
        (status = 206, headers(("Content-Range" = String))),
        (status = 304), (status = 401), (status = 404), (status = 410), (status = 416),
    ),
    security(("bearer" = [])))]
pub async fn head_preview(
    auth: Auth,
    hub: web::Data<Hub>,
    path: web::Path<(String, String)>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    serve(auth, hub, path, req, Preview::Media).await
}

/// A JPEG frame of a video file.
#[utoipa::path(get, path = "/api/v1/programs/{id}/files/{role}/poster.jpg", tag = "files",
    params(("id" = uuid::Uuid, Path, description = "program id"), ("role" = FileRole, Path),
        ("Range" = Option<String>, Header), ("If-None-Match" = Option<String>, Header)),
    responses(
        (status = 200, content_type = "image/jpeg", body = Vec<u8>, headers(("ETag" = String))),
        (status = 206, content_type = "image/jpeg", body = Vec<u8>),
        (status = 304), (status = 401, body = Problem),
        (status = 404, body = Problem, description = "`preview_not_ready`, also for files without video"),
        (status = 410, body = Problem), (status = 416, body = Problem),
    ),
    security(("bearer" = [])))]
pub async fn get_poster(
    auth: Auth,
    hub: web::Data<Hub>,
    path: web::Path<(String, String)>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    serve(auth, hub, path, req, Preview::Poster).await
}

/// Loudness over time and sample peaks, for drawing:
/// `{seconds_per_point, peaks: [0…1], loudness: [LUFS | null]}`.
#[utoipa::path(get, path = "/api/v1/programs/{id}/files/{role}/waveform.json", tag = "files",
    params(("id" = uuid::Uuid, Path, description = "program id"), ("role" = FileRole, Path),
        ("Range" = Option<String>, Header), ("If-None-Match" = Option<String>, Header)),
    responses(
        (status = 200, content_type = "application/json", body = Object, headers(("ETag" = String))),
        (status = 304), (status = 401, body = Problem),
        (status = 404, body = Problem, description = "`preview_not_ready`"),
        (status = 410, body = Problem), (status = 416, body = Problem),
    ),
    security(("bearer" = [])))]
pub async fn get_waveform(
    auth: Auth,
    hub: web::Data<Hub>,
    path: web::Path<(String, String)>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    serve(auth, hub, path, req, Preview::Waveform).await
}

async fn serve(
    Auth(caller): Auth,
    hub: web::Data<Hub>,
    path: web::Path<(String, String)>,
    req: HttpRequest,
    kind: Preview,
) -> Result<HttpResponse, ApiError> {
    let (id, role) = path.into_inner();
    let id = program_id(&id)?;
    let role = FileRole::parse(&role).ok_or_else(ApiError::not_found)?;
    let preview = hub.preview(&caller, id, role, kind).await?;
    let etag = format!("\"{}\"", preview.sha256);
    let (mut res, range, length) = match conditional(&req, etag, preview.size, "preview", &preview.media_type)? {
        Conditional::NotModified(answer) => return Ok(answer),
        Conditional::Send { res, range, length } => (res, range, length),
    };
    if req.method() == Method::HEAD {
        return Ok(res.body(super::files::Announced(length)));
    }
    let bytes = hub.send_preview(&preview, range).await?;
    Ok(res.body(SizedStream::new(length, bytes)))
}
