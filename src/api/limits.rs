//! Limits on a request's head that answer as every other error does
//! (problem+json), before any handler runs. Heads that actix-http itself
//! would refuse with a bare status (over its 128 KiB buffer, more than 96
//! headers, a request line over 64 KiB, unreadable) are stopped below it by
//! [`super::head_guard`], which hands on a request naming the refusal; it is
//! answered here too.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::ResponseError;

use crate::error::ApiError;
use crate::exchange::error::code;

/// The longest request target (path and query) the hub reads.
pub const MAX_TARGET_BYTES: usize = 16 * 1024;
/// The most bytes of header names and values the hub reads.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;

/// The refusal of a head that [`super::head_guard`] stopped before actix-http
/// read it.
fn refused_head_problem(status: &str) -> ApiError {
    match status {
        "414" => ApiError::new(
            StatusCode::URI_TOO_LONG,
            code::URI_TOO_LONG,
            format!("the request's path and query may be at most {MAX_TARGET_BYTES} bytes"),
        ),
        "431" => ApiError::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            code::HEADERS_TOO_LARGE,
            format!("the request's headers may be at most {MAX_HEADER_BYTES} bytes"),
        ),
        _ => ApiError::new(
            StatusCode::BAD_REQUEST,
            code::BAD_REQUEST,
            "the request's head could not be read as HTTP/1.1",
        ),
    }
}

/// Refuses a request whose target or headers are too long: 414 or 431.
pub async fn request_head(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let target = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    let headers: usize = req
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    let refused_head = req
        .headers()
        .get(super::head_guard::REFUSED_HEAD)
        .and_then(|v| v.to_str().ok());
    let refusal = if let Some(status) = refused_head {
        Some(refused_head_problem(status))
    } else if target > MAX_TARGET_BYTES {
        Some(ApiError::new(
            StatusCode::URI_TOO_LONG,
            code::URI_TOO_LONG,
            format!("the request's path and query may be at most {MAX_TARGET_BYTES} bytes"),
        ))
    } else if headers > MAX_HEADER_BYTES {
        Some(ApiError::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            code::HEADERS_TOO_LARGE,
            format!("the request's headers may be at most {MAX_HEADER_BYTES} bytes"),
        ))
    } else {
        None
    };
    match refusal {
        Some(e) => Ok(req.into_response(e.error_response()).map_into_right_body()),
        None => Ok(next.call(req).await?.map_into_left_body()),
    }
}
