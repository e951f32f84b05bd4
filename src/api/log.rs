//! The root span of every request, as the logs show it: method, route,
//! target, status and request id, like tracing-actix-web's default, but
//! with secrets in query strings (the Atom feed's `key=`) redacted, so a
//! feed key never lands in a log file.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::{Error, HttpMessage};
use tracing::Span;
use tracing_actix_web::{DefaultRootSpanBuilder, RequestId, RootSpanBuilder};

/// Query parameters whose values never reach a log line.
const SECRET_PARAMS: &[&str] = &["key", "token", "access_token"];

/// `target` with the values of [`SECRET_PARAMS`] replaced by `[redacted]`.
pub fn redact(target: &str) -> String {
    let Some((path, query)) = target.split_once('?') else {
        return target.to_owned();
    };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if SECRET_PARAMS.iter().any(|s| s.eq_ignore_ascii_case(name)) => {
                format!("{name}=[redacted]")
            }
            _ => pair.to_owned(),
        })
        .collect();
    format!("{path}?{}", pairs.join("&"))
}

pub struct RedactingRootSpan;

impl RootSpanBuilder for RedactingRootSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let target = redact(request.uri().path_and_query().map_or("", |p| p.as_str()));
        let request_id = request.extensions().get::<RequestId>().map(|id| id.to_string());
        tracing::info_span!(
            "HTTP request",
            http.method = %request.method(),
            http.route = %request.match_pattern().unwrap_or_default(),
            http.target = %target,
            http.status_code = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
            exception.message = tracing::field::Empty,
            exception.details = tracing::field::Empty,
            request_id = %request_id.unwrap_or_default(),
        )
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn feed_keys_are_redacted_and_the_rest_kept() {
        assert_eq!(
            redact("/api/v1/feed.atom?key=abc.def&x=1"),
            "/api/v1/feed.atom?key=[redacted]&x=1"
        );
        assert_eq!(redact("/a?TOKEN=s3cret"), "/a?TOKEN=[redacted]");
        assert_eq!(redact("/api/v1/programs?q=thoi+su"), "/api/v1/programs?q=thoi+su");
        assert_eq!(redact("/healthz"), "/healthz");
        assert_eq!(redact("/a?keyword=x"), "/a?keyword=x");
    }
}
