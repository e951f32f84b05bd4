//! Limits on a request's head that answer as every other error does
//! (problem+json), before any handler runs. Heads beyond actix-http's own
//! buffer (128 KiB, or more than 96 headers) are refused by it with a bare
//! 431 before the application sees them; these limits sit well below that.

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
    let refusal = if target > MAX_TARGET_BYTES {
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
