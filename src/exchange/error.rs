use crate::domain::FieldError;

/// What a use-case can answer besides success. The HTTP layer maps each to a
/// status and a stable code; `Catalog` is internal and never shown.
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
    #[error("catalog")]
    Catalog(#[from] rusqlite::Error),
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
}
