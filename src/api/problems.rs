//! Every refusal a problem document: what actix-web's own extractors and
//! router answer (a body over its limit: 413 in plain text; a method the
//! route has not: 405 with no body…) is given the problem+json body the
//! hub's own refusals carry, with the same status and headers.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, StatusCode};
use actix_web::middleware::Next;
use actix_web::ResponseError;

use crate::error::ApiError;
use crate::exchange::error::code;

/// The code and words of a refusal that came without its own.
fn problem_for(status: StatusCode) -> ApiError {
    let (code, detail) = match status {
        StatusCode::BAD_REQUEST => (code::BAD_REQUEST, "the request could not be read"),
        StatusCode::NOT_FOUND => (code::NOT_FOUND, "nothing here"),
        StatusCode::METHOD_NOT_ALLOWED => (code::METHOD_NOT_ALLOWED, "this method is not allowed here"),
        StatusCode::REQUEST_TIMEOUT => (code::BODY_TIMEOUT, "the request's body did not arrive in time"),
        StatusCode::PAYLOAD_TOO_LARGE => (
            code::PAYLOAD_TOO_LARGE,
            "the request's body is larger than this hub reads",
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (code::UNSUPPORTED_MEDIA_TYPE, "this content type is not read here"),
        StatusCode::URI_TOO_LONG => (code::URI_TOO_LONG, "the request's path and query are too long"),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => (code::HEADERS_TOO_LARGE, "the request's headers are too long"),
        s if s.is_server_error() => (code::INTERNAL, "the hub failed to answer; try again later"),
        _ => (code::REFUSED, "the request was refused"),
    };
    ApiError::new(status, code, detail)
}

/// Whether an answer is a refusal without a body of the hub's making:
/// none, or plain text.
fn bare(res: &ServiceResponse<impl MessageBody>) -> bool {
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return false;
    }
    match res.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) {
        None => true,
        Some(t) => t.starts_with("text/plain"),
    }
}

/// Replaces a bare refusal's body with a problem document.
pub async fn problems(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let res = next.call(req).await?;
    if !bare(&res) || res.request().method() == actix_web::http::Method::HEAD {
        return Ok(res.map_into_boxed_body());
    }
    let status = res.status();
    let kept: Vec<_> = res
        .headers()
        .iter()
        .filter(|(name, _)| *name != header::CONTENT_TYPE && *name != header::CONTENT_LENGTH)
        .map(|(n, v)| (n.clone(), v.clone()))
        .collect();
    let (req, _) = res.into_parts();
    let mut problem = problem_for(status).error_response();
    for (name, value) in kept {
        problem.headers_mut().insert(name, value);
    }
    Ok(ServiceResponse::new(req, problem))
}
