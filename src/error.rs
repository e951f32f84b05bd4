//! The one HTTP error type: a status, a stable `code` and a safe message,
//! rendered as RFC 9457 problem+json. Internal causes are logged, never sent.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::FieldError;
use crate::exchange::error::code;
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

pub use crate::exchange::error::STORAGE_RETRY_AFTER_SECS;

const NOT_FOUND_DETAIL: &str = "no such resource";
const INTERNAL_DETAIL: &str = "the hub could not complete the request; it has been logged";

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    /// The problem's title: the status's reason phrase.
    title: &'static str,
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
            title: status.canonical_reason().unwrap_or("Error"),
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
            ..Self::new(StatusCode::UNPROCESSABLE_ENTITY, code::VALIDATION_FAILED, detail)
        }
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, code::NOT_FOUND, NOT_FOUND_DETAIL)
    }

    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        Self {
            cause: Some(cause.into()),
            ..Self::new(StatusCode::INTERNAL_SERVER_ERROR, code::INTERNAL, INTERNAL_DETAIL)
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
    /// The table's row for `e`, in the API's words.
    fn from(e: ExchangeError) -> Self {
        let answer = e.answer();
        if answer.internal {
            return Self::internal(e);
        }
        match &e {
            ExchangeError::StorageUnavailable(cause) => tracing::warn!(error = %cause, "media store unavailable"),
            ExchangeError::StorageFull(cause) => tracing::error!(error = %cause, "media store full"),
            _ => {}
        }
        let status = StatusCode::from_u16(answer.status).expect("the table's statuses are valid");
        let mut err = match e {
            ExchangeError::Invalid(errors) => Self::invalid(errors),
            e => Self::new(status, answer.code, detail(e)),
        };
        err.title = answer.title;
        match answer.retry_after_secs {
            Some(secs) => err.with_header(header::RETRY_AFTER, secs),
            None => err,
        }
    }
}

/// What the API says of a refusal.
fn detail(e: ExchangeError) -> String {
    use ExchangeError as E;
    match e {
        E::Unauthorized => "a valid bearer token is required".into(),
        E::Forbidden(why) => why.into(),
        E::NotFound => NOT_FOUND_DETAIL.into(),
        E::Conflict { detail, .. } | E::BadRequest { detail, .. } | E::TooManyRequests { detail, .. } => detail,
        E::PreconditionFailed => "If-Match does not match the current version; fetch it again".into(),
        E::TooLarge { limit } => format!("files may be at most {limit} bytes"),
        E::UnsupportedMediaType(detail) => detail,
        E::DigestMismatch => "the body's SHA-256 differs from its Content-Digest; nothing was stored".into(),
        E::RightsWindowClosed => "the program may not be taken outside its rebroadcast window".into(),
        E::Gone => "the program was withdrawn and can no longer be downloaded".into(),
        E::PreviewNotReady => "the file has not been analysed yet, or no preview could be made of it".into(),
        E::Expired => "the upload expired; start a new one".into(),
        E::RenditionFailed(why) => format!("the rendition cannot be made: {why}"),
        E::AnalysisPending { .. } => "the master is still being analysed; publish it once its analysis is done".into(),
        E::Locked => "another request is writing this upload; retry later".into(),
        E::ChecksumMismatch => {
            "the chunk does not match its Upload-Checksum; it was discarded and the offset did not move".into()
        }
        E::StorageUnavailable(_) => "the media store is not answering; nothing was recorded, try again shortly".into(),
        E::StorageFull(_) => {
            "the hub's storage is full; nothing was recorded, try again once the operator has made room".into()
        }
        E::OriginUnavailable => {
            "the program comes from a peer hub that could not give its file now; nothing was stored, try again later"
                .into()
        }
        E::Invalid(_) | E::Broken(_) | E::Catalog(_) | E::Media(_) => INTERNAL_DETAIL.into(),
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
            title: self.title.to_owned(),
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
