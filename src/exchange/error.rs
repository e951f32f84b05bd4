//! What a use-case can answer besides success, in the use-cases' own words.
//! No HTTP status lives here: `crate::error` maps each to one.

use crate::catalog::index::{IndexError, NameKind};
use crate::domain::FieldError;
use crate::media::MediaError;

/// What a use-case can answer besides success. The HTTP layer maps each to a
/// status and a stable code; `Catalog` and `Media` are internal and never
/// shown.
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
    Catalog(#[from] rusqlite::Error),
    #[error("media store")]
    Media(MediaError),
    /// The media store is down, slow or failing: nothing was recorded;
    /// the client may try again shortly.
    #[error("the media store is unavailable")]
    StorageUnavailable(MediaError),
    /// The local store's disk is full: nothing was recorded.
    #[error("the media store is full")]
    StorageFull(MediaError),
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

impl From<IndexError> for ExchangeError {
    fn from(e: IndexError) -> Self {
        match e {
            IndexError::Catalog(e) => Self::Catalog(e),
            // The write that would add the name is refused (and rolled back).
            IndexError::TooManyNames(full) => match full.kind {
                NameKind::Languages => Self::invalid(
                    "languages",
                    "this hub cannot take another distinct language tag; use one already in use",
                ),
                NameKind::Stations => Self::conflict("index_full", "this hub cannot take another station"),
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
