//! What a use-case can answer besides success, in the use-cases' own words,
//! and the one table of how each is answered ([`ExchangeError::answer`]):
//! the API (`crate::error`), the pages (`crate::web`) and the command line
//! (`crate::cli`) all read it, so that a refusal is the same at every door.

use crate::catalog::index::{IndexError, NameKind};
use crate::catalog::{CatalogError, DbError};
use crate::domain::FieldError;
use crate::media::MediaError;

/// What a use-case can answer besides success. [`ExchangeError::answer`]
/// gives each its status and stable code; `Catalog` and `Media` are
/// internal and never shown.
#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    #[error("missing, unknown or revoked token")]
    Unauthorized,
    #[error("not allowed: {0}")]
    Forbidden(&'static str),
    #[error("not found")]
    NotFound,
    #[error("{detail}")]
    Conflict { code: &'static str, detail: String },
    #[error("If-Match does not match the current version")]
    PreconditionFailed,
    #[error("invalid request")]
    Invalid(Vec<FieldError>),
    #[error("{detail}")]
    BadRequest { code: &'static str, detail: String },
    #[error("the file is larger than {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("the body does not match its Content-Digest")]
    DigestMismatch,
    #[error("outside the program's rebroadcast window")]
    RightsWindowClosed,
    #[error("the program was withdrawn")]
    Gone,
    /// The master's analysis has not ended: publishing waits for it.
    #[error("the master is still being analysed")]
    AnalysisPending { retry_after_secs: u64 },
    #[error("the preview is not made yet")]
    PreviewNotReady,
    /// The rendition cannot be made, for this reason (public: no paths, no
    /// internals).
    #[error("{0}")]
    RenditionFailed(String),
    #[error("the upload expired")]
    Expired,
    #[error("another request is writing this upload")]
    Locked,
    #[error("the chunk does not match its Upload-Checksum")]
    ChecksumMismatch,
    #[error("{detail}")]
    TooManyRequests {
        code: &'static str,
        detail: String,
        retry_after_secs: u64,
    },
    /// Something the hub's own records promise did not hold (a file row
    /// without its object, a saved hash state that does not read back):
    /// internal, logged, never shown.
    #[error("broken invariant: {0}")]
    Broken(&'static str),
    #[error("catalog")]
    Catalog(#[source] CatalogError),
    #[error("media store")]
    Media(MediaError),
    /// The media store is down, slow or failing: nothing was recorded;
    /// the client may try again shortly.
    #[error("the media store is unavailable")]
    StorageUnavailable(MediaError),
    /// The local store's disk is full: nothing was recorded.
    #[error("the media store is full")]
    StorageFull(MediaError),
    /// A program mirrored from a peer hub waits for its origin: the file
    /// could not be fetched from it now (down, refusing, or sending what
    /// does not match); nothing was stored. The cause is logged.
    #[error("the program's origin hub did not give its file")]
    OriginUnavailable,
}

impl From<MediaError> for ExchangeError {
    fn from(e: MediaError) -> Self {
        match e {
            MediaError::Unavailable(_) => Self::StorageUnavailable(e),
            MediaError::Full(_) => Self::StorageFull(e),
            e => Self::Media(e),
        }
    }
}

impl From<DbError> for ExchangeError {
    fn from(e: DbError) -> Self {
        Self::Catalog(e.into())
    }
}

impl From<IndexError> for ExchangeError {
    fn from(e: IndexError) -> Self {
        match e {
            IndexError::Catalog(e) => Self::Catalog(e.into()),
            // The write that would add the name is refused (and rolled back).
            IndexError::TooManyNames(full) => match full.kind {
                NameKind::Languages => Self::invalid(
                    "languages",
                    "this hub cannot take another distinct language tag; use one already in use",
                ),
                NameKind::Stations => Self::conflict(code::INDEX_FULL, "this hub cannot take another station"),
            },
        }
    }
}

impl ExchangeError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid(vec![FieldError::new(field, message)])
    }

    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            detail: detail.into(),
        }
    }

    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::BadRequest {
            code,
            detail: detail.into(),
        }
    }
}

/// The stable problem codes (`urn:pxhub:problem:<code>`) of the contract.
pub mod code {
    pub const UNAUTHORIZED: &str = "unauthorized";
    pub const FORBIDDEN: &str = "forbidden";
    pub const NOT_FOUND: &str = "not_found";
    pub const PRECONDITION_FAILED: &str = "precondition_failed";
    pub const VALIDATION_FAILED: &str = "validation_failed";
    pub const PAYLOAD_TOO_LARGE: &str = "payload_too_large";
    pub const UNSUPPORTED_MEDIA_TYPE: &str = "unsupported_media_type";
    pub const DIGEST_MISMATCH: &str = "digest_mismatch";
    pub const RIGHTS_WINDOW_CLOSED: &str = "rights_window_closed";
    pub const WITHDRAWN: &str = "withdrawn";
    pub const PREVIEW_NOT_READY: &str = "preview_not_ready";
    pub const UPLOAD_EXPIRED: &str = "upload_expired";
    pub const LOCKED: &str = "locked";
    pub const CHECKSUM_MISMATCH: &str = "checksum_mismatch";
    pub const INTERNAL: &str = "internal";
    pub const STORAGE_UNAVAILABLE: &str = "storage_unavailable";
    pub const STORAGE_FULL: &str = "storage_full";
    pub const ORIGIN_UNAVAILABLE: &str = "origin_unavailable";
    pub const RENDITION_FAILED: &str = "rendition_failed";
    // Conflicts (409).
    pub const ALREADY_FOLLOWING: &str = "already_following";
    pub const PROFILE_EXISTS: &str = "profile_exists";
    pub const PROFILE_IN_USE: &str = "profile_in_use";
    pub const INDEX_FULL: &str = "index_full";
    pub const INVALID_STATUS: &str = "invalid_status";
    pub const LENGTH_MISMATCH: &str = "length_mismatch";
    pub const LOGIN_TAKEN: &str = "login_taken";
    pub const LAST_OPERATOR: &str = "last_operator";
    pub const ANALYSIS_PENDING: &str = "analysis_pending";
    pub const MASTER_NOT_MEDIA: &str = "master_not_media";
    pub const MASTER_REQUIRED: &str = "master_required";
    pub const NOT_A_DRAFT: &str = "not_a_draft";
    pub const OFFSET_MISMATCH: &str = "offset_mismatch";
    pub const STATION_EXISTS: &str = "station_exists";
    pub const TOO_MANY_FOLLOWS: &str = "too_many_follows";
    pub const TOO_MANY_WEBHOOKS: &str = "too_many_webhooks";
    pub const TOO_MANY_TARGETS: &str = "too_many_targets";
    pub const DELIVERY_SENDING: &str = "delivery_sending";
    pub const UPLOAD_INCOMPLETE: &str = "upload_incomplete";
    // Bad requests (400).
    pub const LENGTH_EXCEEDED: &str = "length_exceeded";
    pub const INVALID_DIGEST: &str = "invalid_digest";
    pub const MALFORMED_JSON: &str = "malformed_json";
    pub const UNREADABLE_BODY: &str = "unreadable_body";
    pub const UNSUPPORTED_TUS_VERSION: &str = "unsupported_tus_version";
    pub const CSRF_REFUSED: &str = "csrf_refused";
    pub const BAD_REQUEST: &str = "bad_request";
    // Too many requests (429).
    pub const SIGN_IN_LOCKED: &str = "sign_in_locked";
    /// More sign-ins at once than the password checks can take.
    pub const BUSY: &str = "busy";
    pub const TOO_MANY_UPLOADS: &str = "too_many_uploads";
    pub const TOO_MANY_OPEN_UPLOADS: &str = "too_many_open_uploads";
    // Answers of the HTTP layer itself.
    pub const HEADERS_TOO_LARGE: &str = "headers_too_large";
    pub const METHOD_NOT_ALLOWED: &str = "method_not_allowed";
    pub const NOT_READY: &str = "not_ready";
    pub const RANGE_NOT_SATISFIABLE: &str = "range_not_satisfiable";
    pub const URI_TOO_LONG: &str = "uri_too_long";
    pub const BODY_TIMEOUT: &str = "body_timeout";
    /// A refusal of the HTTP layer that says no more.
    pub const REFUSED: &str = "refused";
}

/// What a `503 storage_unavailable` asks the client to wait, in seconds.
pub const STORAGE_RETRY_AFTER_SECS: u64 = 5;
/// What a `503 origin_unavailable` asks the client to wait, in seconds.
pub const ORIGIN_RETRY_AFTER_SECS: u64 = 30;

/// How every door answers an [`ExchangeError`]: one row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    /// The stable problem code.
    pub code: &'static str,
    /// The HTTP status (the pages answer with it too; the command line
    /// says it).
    pub status: u16,
    /// The problem's title.
    pub title: &'static str,
    /// Whether, and after how many seconds, the client may try again
    /// (`Retry-After`).
    pub retry_after_secs: Option<u64>,
    /// Internal: the cause is logged, never shown; the client reads
    /// `internal`.
    pub internal: bool,
}

const fn row(code: &'static str, status: u16, title: &'static str) -> Answer {
    Answer {
        code,
        status,
        title,
        retry_after_secs: None,
        internal: false,
    }
}

const INTERNAL: Answer = Answer {
    internal: true,
    ..row(code::INTERNAL, 500, "Internal Server Error")
};

impl ExchangeError {
    /// This error's row of the table every door reads.
    pub fn answer(&self) -> Answer {
        use ExchangeError as E;
        match self {
            E::Unauthorized => row(code::UNAUTHORIZED, 401, "Unauthorized"),
            E::Forbidden(_) => row(code::FORBIDDEN, 403, "Forbidden"),
            E::NotFound => row(code::NOT_FOUND, 404, "Not Found"),
            E::Conflict { code, .. } => row(code, 409, "Conflict"),
            E::PreconditionFailed => row(code::PRECONDITION_FAILED, 412, "Precondition Failed"),
            E::Invalid(_) => row(code::VALIDATION_FAILED, 422, "Unprocessable Entity"),
            E::BadRequest { code, .. } => row(code, 400, "Bad Request"),
            E::TooLarge { .. } => row(code::PAYLOAD_TOO_LARGE, 413, "Payload Too Large"),
            E::UnsupportedMediaType(_) => row(code::UNSUPPORTED_MEDIA_TYPE, 415, "Unsupported Media Type"),
            E::DigestMismatch => row(code::DIGEST_MISMATCH, 400, "Bad Request"),
            E::RightsWindowClosed => row(code::RIGHTS_WINDOW_CLOSED, 403, "Forbidden"),
            E::Gone => row(code::WITHDRAWN, 410, "Gone"),
            E::PreviewNotReady => row(code::PREVIEW_NOT_READY, 404, "Not Found"),
            E::RenditionFailed(_) => row(code::RENDITION_FAILED, 422, "Unprocessable Entity"),
            E::Expired => row(code::UPLOAD_EXPIRED, 410, "Gone"),
            E::Locked => row(code::LOCKED, 423, "Locked"),
            // tus's status for a checksum that does not match; HTTP gives it
            // no reason phrase.
            E::ChecksumMismatch => row(code::CHECKSUM_MISMATCH, 460, "Error"),
            E::TooManyRequests {
                code, retry_after_secs, ..
            } => Answer {
                retry_after_secs: Some(*retry_after_secs),
                ..row(code, 429, "Too Many Requests")
            },
            E::Broken(_) | E::Catalog(_) | E::Media(_) => INTERNAL,
            E::StorageUnavailable(_) => Answer {
                retry_after_secs: Some(STORAGE_RETRY_AFTER_SECS),
                ..row(code::STORAGE_UNAVAILABLE, 503, "Service Unavailable")
            },
            E::StorageFull(_) => row(code::STORAGE_FULL, 507, "Insufficient Storage"),
            E::OriginUnavailable => Answer {
                retry_after_secs: Some(ORIGIN_RETRY_AFTER_SECS),
                ..row(code::ORIGIN_UNAVAILABLE, 503, "Service Unavailable")
            },
            E::AnalysisPending { retry_after_secs } => Answer {
                retry_after_secs: Some(*retry_after_secs),
                ..row(code::ANALYSIS_PENDING, 409, "Conflict")
            },
        }
    }
}
