//! `/api/v1/programs/{id}/files/{role}`: streamed upload, ranged download.

use actix_web::body::{BodySize, MessageBody, SizedStream};
use actix_web::http::{header, Method, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse, HttpResponseBuilder};
use serde::Deserialize;
use utoipa::IntoParams;

use super::extract::{program_id, Auth, Query};
use super::http_headers::{content_disposition, filename_from_disposition, parse_content_digest, parse_range, Ranged};
use crate::domain::{FileRecord, FileRole};
use crate::error::{ApiError, Problem};
use crate::exchange::error::code;
use crate::exchange::{Hub, IncomingFile, Sending};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        super::routing::resource("/programs/{id}/files/{role}")
            .put(put_file)
            .get(get_file)
            .head(head_file)
            .delete(delete_file),
    );
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct UploadParams {
    /// The original file name, if not in Content-Disposition.
    filename: Option<String>,
}

/// Upload a file, streamed. The body is the file.
#[utoipa::path(put, path = "/api/v1/programs/{id}/files/{role}", tag = "files",
    params(
        ("id" = uuid::Uuid, Path, description = "program id"),
        ("role" = FileRole, Path),
        UploadParams,
        ("Content-Disposition" = Option<String>, Header, description = "attachment; filename*=UTF-8''…"),
        ("Content-Digest" = Option<String>, Header, description = "sha-256=:<base64>: (RFC 9530), verified"),
    ),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "the file; its Content-Type must suit the role"),
    responses(
        (status = 201, body = FileRecord, description = "stored"),
        (status = 200, body = FileRecord, description = "stored, replacing the earlier file of this role"),
        (status = 400, body = Problem, description = "`digest_mismatch`, `invalid_digest` or `upload_incomplete`; nothing stored"),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "`invalid_status`: the program is withdrawn"),
        (status = 413, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem),
        (status = 429, body = Problem, description = "`too_many_uploads`: the station has as many uploads running as the hub allows",
            headers(("Retry-After" = u32, description = "seconds to wait"))),
        (status = 503, body = Problem, description = "`storage_unavailable`: the media store is down or failing; nothing was recorded",
            headers(("Retry-After" = u32, description = "seconds to wait"))),
        (status = 507, body = Problem, description = "`storage_full`: the hub's disk is full; nothing was recorded"),
    ),
    security(("bearer" = [])))]
pub async fn put_file(
    Auth(caller): Auth,
    hub: web::Data<Hub>,
    path: web::Path<(String, String)>,
    req: HttpRequest,
    query: Query<UploadParams>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (id, role) = path.into_inner();
    let id = program_id(&id)?;
    let role = FileRole::parse(&role).ok_or_else(|| {
        ApiError::invalid(vec![crate::domain::FieldError::new(
            "role",
            "must be master, preview, script, artwork or subtitle",
        )])
    })?;
    let query_name = query.parsed()?.filename;
    let headers = req.headers();
    let text = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    let incoming = IncomingFile {
        filename: text(header::CONTENT_DISPOSITION)
            .and_then(filename_from_disposition)
            .or(query_name),
        media_type: text(header::CONTENT_TYPE).map(str::to_owned),
        length: text(header::CONTENT_LENGTH).and_then(|v| v.parse().ok()),
        sha256: match headers.get("content-digest") {
            None => None,
            Some(v) => parse_content_digest(v.to_str().unwrap_or(""))
                .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, code::INVALID_DIGEST, e))?,
        },
    };
    let (record, replaced) = hub.put_file(&caller, id, role, incoming, payload).await?;
    let status = if replaced { StatusCode::OK } else { StatusCode::CREATED };
    Ok(HttpResponse::build(status)
        .insert_header((
            header::LOCATION,
            format!("/api/v1/programs/{id}/files/{}", role.as_str()),
        ))
        .json(record))
}

/// Download a file. Single ranges, `If-None-Match` and `If-Range` are honoured.
#[utoipa::path(get, path = "/api/v1/programs/{id}/files/{role}", tag = "files",
    params(
        ("id" = uuid::Uuid, Path, description = "program id"),
        ("role" = FileRole, Path),
        ("Range" = Option<String>, Header, description = "bytes=first-last, bytes=first- or bytes=-suffix"),
        ("If-Range" = Option<String>, Header), ("If-None-Match" = Option<String>, Header),
    ),
    responses(
        (status = 200, content_type = "application/octet-stream", body = Vec<u8>,
            headers(("ETag" = String, description = "quoted SHA-256 hex"), ("Repr-Digest" = String), ("Content-Disposition" = String), ("Accept-Ranges" = String))),
        (status = 206, content_type = "application/octet-stream", body = Vec<u8>, headers(("Content-Range" = String))),
        (status = 304, description = "If-None-Match matched"),
        (status = 307, description = "with presigned downloads: where to fetch the bytes"),
        (status = 401, body = Problem), (status = 403, body = Problem, description = "`rights_window_closed`"),
        (status = 404, body = Problem), (status = 410, body = Problem, description = "the program was withdrawn"),
        (status = 416, body = Problem, headers(("Content-Range" = String, description = "bytes */size"))),
        (status = 503, body = Problem, description = "`storage_unavailable`: the media store is down or failing; nothing was recorded",
            headers(("Retry-After" = u32, description = "seconds to wait"))),
    ),
    security(("bearer" = [])))]
pub async fn get_file(
    Auth(caller): Auth,
    hub: web::Data<Hub>,
    path: web::Path<(String, String)>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (id, role) = path.into_inner();
    let id = program_id(&id)?;
    let role = FileRole::parse(&role).ok_or_else(ApiError::not_found)?;
    let download = hub.download(&caller, id, role).await?;
    let file = &download.file;
    let (mut res, range, length) = match conditional(
        &req,
        format!("\"{}\"", file.sha256),
        file.size,
        "file",
        &file.media_type,
    )? {
        Conditional::NotModified(answer) => return Ok(answer),
        Conditional::Send { res, range, length } => (res, range, length),
    };
    res.insert_header((header::CONTENT_DISPOSITION, content_disposition(&file.filename)));
    if range.is_none() {
        let digest = file.sha256.base64();
        res.insert_header(("Repr-Digest", format!("sha-256=:{digest}:")));
    }

    if req.method() == Method::HEAD {
        return Ok(res.body(Announced(length)));
    }
    match hub.send(&download, range).await? {
        Sending::Redirect(url) => Ok(HttpResponse::TemporaryRedirect()
            .insert_header((header::LOCATION, url))
            .finish()),
        Sending::Stream(bytes) => Ok(res.body(SizedStream::new(length, bytes))),
        Sending::File(send) => Ok(super::direct_send::respond(res, &req, length, *send)),
        Sending::Accel(path) => Ok(accel(res, &path)),
    }
}

/// An answer that hands the sending to nginx: the file's headers (nginx
/// keeps Content-Type, Content-Disposition, Cache-Control and Accept-Ranges
/// of it, and the documented configuration adds ETag and Repr-Digest), no
/// body; nginx applies the request's range itself, from the file.
fn accel(mut res: HttpResponseBuilder, path: &str) -> HttpResponse {
    let mut answer = res
        .status(StatusCode::OK)
        .insert_header(("X-Accel-Redirect", path.to_owned()))
        .finish();
    answer.headers_mut().remove(header::CONTENT_RANGE);
    answer
}

/// A GET or HEAD of stored bytes, up to its body.
pub(super) enum Conditional {
    /// `If-None-Match` named these bytes: 304.
    NotModified(HttpResponse),
    /// 200 or 206 with its headers, the range to send (all when `None`) and
    /// its length.
    Send {
        res: HttpResponseBuilder,
        range: Option<std::ops::Range<u64>>,
        length: u64,
    },
}

/// The headers every answer of stored bytes (a file, a preview) shares:
/// ETag, `If-None-Match`, a `Range` that counts only when `If-Range`, if
/// sent, names these very bytes, and 416 for one beyond them (`what` names
/// them in its message).
pub(super) fn conditional(
    req: &HttpRequest,
    etag: String,
    size: u64,
    what: &str,
    media_type: &str,
) -> Result<Conditional, ApiError> {
    let headers = req.headers();
    let text = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    let mut res = HttpResponse::build(StatusCode::OK);
    res.insert_header((header::ETAG, etag.clone()))
        .insert_header((header::ACCEPT_RANGES, "bytes"))
        .insert_header((header::CACHE_CONTROL, "private, no-cache"));
    if text(header::IF_NONE_MATCH).is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*")) {
        return Ok(Conditional::NotModified(res.status(StatusCode::NOT_MODIFIED).finish()));
    }
    let range_header = text(header::RANGE).filter(|_| text(header::IF_RANGE).is_none_or(|v| v.trim() == etag));
    let range = match range_header.map(|r| parse_range(r, size)) {
        None | Some(Ranged::Ignored) => None,
        Some(Ranged::Unsatisfiable) => {
            return Err(ApiError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                code::RANGE_NOT_SATISFIABLE,
                format!("the {what} has {size} bytes"),
            )
            .with_header(header::CONTENT_RANGE, format!("bytes */{size}")))
        }
        // parse_range promises this; the arithmetic below relies on it.
        Some(Ranged::Bytes(r)) if r.start < r.end && r.end <= size => Some(r),
        Some(Ranged::Bytes(_)) => None,
    };
    res.insert_header((header::CONTENT_TYPE, media_type.to_owned()));
    let length = match &range {
        Some(r) => {
            res.status(StatusCode::PARTIAL_CONTENT)
                .insert_header((header::CONTENT_RANGE, format!("bytes {}-{}/{size}", r.start, r.end - 1)));
            r.end - r.start
        }
        None => size,
    };
    Ok(Conditional::Send { res, range, length })
}

/// A file's headers, as `GET` would send them, without its bytes.
#[utoipa::path(head, path = "/api/v1/programs/{id}/files/{role}", tag = "files",
    params(
        ("id" = uuid::Uuid, Path, description = "program id"),
        ("role" = FileRole, Path),
        ("Range" = Option<String>, Header), ("If-Range" = Option<String>, Header), ("If-None-Match" = Option<String>, Header),
    ),
    responses(
        (status = 200, headers(("ETag" = String), ("Content-Length" = u64), ("Repr-Digest" = String), ("Accept-Ranges" = String))),
        (status = 206, headers(("Content-Range" = String))),
        (status = 304), (status = 401), (status = 403), (status = 404), (status = 410),
        (status = 416, headers(("Content-Range" = String, description = "bytes */size"))),
    ),
    security(("bearer" = [])))]
pub async fn head_file(
    auth: Auth,
    hub: web::Data<Hub>,
    path: web::Path<(String, String)>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    get_file(auth, hub, path, req).await
}

/// Remove a draft's file.
#[utoipa::path(delete, path = "/api/v1/programs/{id}/files/{role}", tag = "files",
    params(("id" = uuid::Uuid, Path, description = "program id"), ("role" = FileRole, Path)),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem, description = "`not_a_draft`")),
    security(("bearer" = [])))]
pub async fn delete_file(
    Auth(caller): Auth,
    hub: web::Data<Hub>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, role) = path.into_inner();
    let id = program_id(&id)?;
    let role = FileRole::parse(&role).ok_or_else(ApiError::not_found)?;
    hub.delete_file(&caller, id, role).await?;
    Ok(HttpResponse::new(StatusCode::NO_CONTENT))
}

/// The body of a `HEAD` answer: announces the length, sends nothing.
pub(super) struct Announced(pub(super) u64);

impl MessageBody for Announced {
    type Error = std::convert::Infallible;

    fn size(&self) -> BodySize {
        BodySize::Sized(self.0)
    }

    fn poll_next(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<actix_web::web::Bytes, Self::Error>>> {
        std::task::Poll::Ready(None)
    }
}
