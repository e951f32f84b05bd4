//! The one HTTP error type: a status, a stable `code` and a safe message,
//! rendered as RFC 9457 problem+json. Internal causes are logged, never sent.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::FieldError;
use crate::exchange::ExchangeError;

/// An RFC 9457 problem document.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// `urn:pxhub:problem:<code>`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable and machine-readable: `validation_failed`, `not_found`, …
    pub code: String,
    /// For `validation_failed`: each offending field.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// What a `503 storage_unavailable` asks the client to wait, in seconds.
pub const STORAGE_RETRY_AFTER_SECS: u64 = 5;

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    detail: String,
    errors: Vec<FieldError>,
    /// Headers the answer carries besides the problem's own (`Allow`,
    /// `Retry-After`, `Content-Range`, `Tus-Resumable`…).
    headers: Vec<(header::HeaderName, header::HeaderValue)>,
    /// What went wrong inside, for the log only.
    cause: Option<anyhow::Error>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            code,
            detail: detail.into(),
            errors: Vec::new(),
            headers: Vec::new(),
            cause: None,
        }
    }

    /// The same answer with one more header.
    pub fn with_header(mut self, name: header::HeaderName, value: impl std::fmt::Display) -> Self {
        match header::HeaderValue::from_str(&value.to_string()) {
            Ok(v) => self.headers.push((name, v)),
            Err(_) => tracing::error!(%name, "a header value that is not a header value"),
        }
        self
    }

    pub fn invalid(errors: Vec<FieldError>) -> Self {
        let fields: Vec<&str> = errors
            .iter()
            .map(|e| e.field.as_str())
            .filter(|f| !f.is_empty())
            .collect();
        let detail = if fields.is_empty() {
            errors
                .first()
                .map_or_else(|| "the request is invalid".to_owned(), |e| e.message.clone())
        } else {
            format!("invalid: {}", fields.join(", "))
        };
        Self {
            errors,
            ..Self::new(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", detail)
        }
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "no such resource")
    }

    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        Self {
            cause: Some(cause.into()),
            ..Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the hub could not complete the request; it has been logged",
            )
        }
    }

    pub fn code(&self) -> &'static str {
        self.code
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.detail)
    }
}

impl From<ExchangeError> for ApiError {
    fn from(e: ExchangeError) -> Self {
        use ExchangeError as E;
        match e {
            E::Unauthorized => Self::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "a valid bearer token is required",
            ),
            E::Forbidden(why) => Self::new(StatusCode::FORBIDDEN, "forbidden", why),
            E::NotFound => Self::not_found(),
            E::Conflict { code, detail } => Self::new(StatusCode::CONFLICT, code, detail),
            E::PreconditionFailed => Self::new(
                StatusCode::PRECONDITION_FAILED,
                "precondition_failed",
                "If-Match does not match the current version; fetch it again",
            ),
            E::Invalid(errors) => Self::invalid(errors),
            E::BadRequest { code, detail } => Self::new(StatusCode::BAD_REQUEST, code, detail),
            E::TooLarge { limit } => Self::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("files may be at most {limit} bytes"),
            ),
            E::UnsupportedMediaType(detail) => {
                Self::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", detail)
            }
            E::DigestMismatch => Self::new(
                StatusCode::BAD_REQUEST,
                "digest_mismatch",
                "the body's SHA-256 differs from its Content-Digest; nothing was stored",
            ),
            E::RightsWindowClosed => Self::new(
                StatusCode::FORBIDDEN,
                "rights_window_closed",
                "the program may not be taken outside its rebroadcast window",
            ),
            E::Gone => Self::new(
                StatusCode::GONE,
                "withdrawn",
                "the program was withdrawn and can no longer be downloaded",
            ),
            E::AnalysisPending { retry_after_secs } => Self::new(
                StatusCode::CONFLICT,
                "analysis_pending",
                "the master is still being analysed; publish it once its analysis is done",
            )
            .with_header(header::RETRY_AFTER, retry_after_secs),
            E::PreviewNotReady => Self::new(
                StatusCode::NOT_FOUND,
                "preview_not_ready",
                "the file has not been analysed yet, or no preview could be made of it",
            ),
            E::Expired => Self::new(
                StatusCode::GONE,
                "upload_expired",
                "the upload expired; start a new one",
            ),
            E::Locked => Self::new(
                StatusCode::LOCKED,
                "locked",
                "another request is writing this upload; retry later",
            ),
            E::ChecksumMismatch => Self::new(
                StatusCode::from_u16(460).expect("460 is a valid status"),
                "checksum_mismatch",
                "the chunk does not match its Upload-Checksum; it was discarded and the offset did not move",
            ),
            E::TooManyRequests {
                code,
                detail,
                retry_after_secs,
            } => Self::new(StatusCode::TOO_MANY_REQUESTS, code, detail)
                .with_header(header::RETRY_AFTER, retry_after_secs),
            E::Broken(what) => Self::internal(anyhow::anyhow!("broken invariant: {what}")),
            E::Catalog(e) => Self::internal(e),
            E::Media(e) => Self::internal(e),
            E::StorageUnavailable(e) => {
                tracing::warn!(error = %e, "media store unavailable");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "storage_unavailable",
                    "the media store is not answering; nothing was recorded, try again shortly",
                )
                .with_header(header::RETRY_AFTER, STORAGE_RETRY_AFTER_SECS)
            }
            E::StorageFull(e) => {
                tracing::error!(error = %e, "media store full");
                Self::new(
                    StatusCode::INSUFFICIENT_STORAGE,
                    "storage_full",
                    "the hub's storage is full; nothing was recorded, try again once the operator has made room",
                )
            }
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        if let Some(cause) = &self.cause {
            tracing::error!(code = self.code, error = format!("{cause:#}"), "request failed");
        }
        let problem = Problem {
            kind: format!("urn:pxhub:problem:{}", self.code),
            title: self.status.canonical_reason().unwrap_or("Error").to_owned(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            code: self.code.to_owned(),
            errors: self.errors.clone(),
        };
        let mut res = HttpResponse::build(self.status);
        res.insert_header((header::CONTENT_TYPE, "application/problem+json"));
        if self.status == StatusCode::UNAUTHORIZED {
            res.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"pxhub\""));
        }
        for (name, value) in &self.headers {
            res.insert_header((name.clone(), value.clone()));
        }
        res.body(serde_json::to_string(&problem).expect("problem serialises"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_keep_their_cause_out_of_the_body() {
        let e = ApiError::internal(anyhow::anyhow!("SQLITE_CORRUPT at /srv/pxhub/catalog.db"));
        let res = e.error_response();
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = actix_web::body::to_bytes(res.into_body());
        let body = futures_util::FutureExt::now_or_never(body).unwrap().unwrap();
        let text = String::from_utf8(body.to_vec()).unwrap();
        assert!(text.contains("\"code\":\"internal\""), "{text}");
        assert!(!text.contains("SQLITE") && !text.contains("/srv"), "{text}");
    }
}
