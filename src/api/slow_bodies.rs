//! A deadline for the bodies of forms and JSON documents: a client that
//! announces a body and sends it too slowly (or not at all) is answered 408
//! and its connection closed, instead of holding it, unauthenticated, for
//! minutes. File uploads (a `PUT` of a file, the tus `/uploads`) are left to
//! their own pacing, which allows slow links as long as bytes keep coming.

use std::time::Duration;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::{header, Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, ResponseError};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;

use crate::error::ApiError;
use crate::exchange::error::code;

/// How long a form's or a JSON document's whole body may take to arrive
/// (`body_timeout_secs`), as the app's data.
#[derive(Debug, Clone, Copy)]
pub struct BodyDeadline(pub Duration);
/// Past this many bytes read the rest streams on without a deadline: the
/// handler's own size limit refuses it.
const BUFFER_AT_MOST: usize = 4 << 20;

/// Whether the request's body is a file, which paces itself.
fn is_upload(req: &ServiceRequest) -> bool {
    let path = req.path();
    path.starts_with("/api/v1/uploads") || (req.method() == Method::PUT && path.contains("/files/"))
}

fn timed_out(within: Duration) -> ApiError {
    ApiError::new(
        StatusCode::REQUEST_TIMEOUT,
        code::BODY_TIMEOUT,
        format!("the request's body did not arrive within {} seconds", within.as_secs()),
    )
}

/// Reads the body of any request but an upload within its [`BodyDeadline`],
/// then hands it on; 408 `body_timeout` (and the connection closed) when
/// it does not come in time.
pub async fn body_deadline(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let announced =
        req.headers().contains_key(header::CONTENT_LENGTH) || req.headers().contains_key(header::TRANSFER_ENCODING);
    if !announced || is_upload(&req) {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    let within = req.app_data::<BodyDeadline>().map_or(Duration::from_secs(20), |d| d.0);
    let mut payload = req.take_payload();
    let deadline = tokio::time::Instant::now() + within;
    let mut read = BytesMut::new();
    let mut failed: Option<PayloadError> = None;
    let mut rest = false;
    loop {
        match tokio::time::timeout_at(deadline, payload.next()).await {
            Err(_) => {
                tracing::info!(path = req.path(), received = read.len(), "request body too slow");
                let mut res = timed_out(within).error_response();
                res.head_mut()
                    .set_connection_type(actix_web::http::ConnectionType::Close);
                return Ok(req.into_response(res).map_into_right_body());
            }
            Ok(None) => break,
            Ok(Some(Err(e))) => {
                failed = Some(e);
                break;
            }
            Ok(Some(Ok(chunk))) => {
                read.extend_from_slice(&chunk);
                if read.len() > BUFFER_AT_MOST {
                    rest = true;
                    break;
                }
            }
        }
    }
    let head: Bytes = read.freeze();
    let first = futures_util::stream::iter(
        std::iter::once(Ok(head))
            .filter(|r: &Result<Bytes, PayloadError>| r.as_ref().map_or(true, |b| !b.is_empty()))
            .chain(failed.map(Err)),
    );
    let stream = if rest {
        first.chain(payload).boxed_local()
    } else {
        first.boxed_local()
    };
    req.set_payload(Payload::Stream { payload: stream });
    Ok(next.call(req).await?.map_into_left_body())
}
