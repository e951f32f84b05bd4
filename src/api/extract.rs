//! Extractors shared by the handlers: the caller's token, JSON bodies that
//! name the offending field, preconditions, and list parameters.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::{header, StatusCode};
use actix_web::web::{Bytes, Data};
use actix_web::{FromRequest, HttpRequest};
use serde::de::DeserializeOwned;
use serde_json::Value;

use chrono::{DateTime, NaiveDate, Utc};

use crate::domain::{FieldError, ProgramId};
use crate::error::ApiError;
use crate::exchange::programs::{from_json, IfMatch};
use crate::exchange::{Caller, ExchangeError, Hub};

/// The authenticated caller (`Authorization: Bearer …`); 401 otherwise.
pub struct Auth(pub Caller);

impl FromRequest for Auth {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let hub = req.app_data::<Data<Hub>>().cloned();
        let bearer = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim().to_owned());
        Box::pin(async move {
            let hub = hub.ok_or_else(|| ApiError::internal(anyhow::anyhow!("hub missing from app data")))?;
            let bearer = bearer.ok_or(ExchangeError::Unauthorized)?;
            Ok(Auth(hub.authenticate(&bearer).await?))
        })
    }
}

/// A JSON request body. Too large: 413; not JSON: 415; malformed: 400; of
/// the wrong shape (types, unknown fields, unknown values): 422 naming the
/// field.
///
/// Extraction itself never fails: the handler calls [`Json::parsed`] once
/// the caller is authenticated, so that a request without a valid token
/// gets 401 whatever its body.
pub struct Json<T>(Result<T, ApiError>);

impl<T> Json<T> {
    pub fn parsed(self) -> Result<T, ApiError> {
        self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|m| {
                let m = m.trim().to_ascii_lowercase();
                m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
            })
            .unwrap_or(false);
        let body = Bytes::from_request(req, payload);
        Box::pin(async move { Ok(Json(parse(is_json, body.await).await)) })
    }
}

async fn parse<T: DeserializeOwned>(is_json: bool, body: Result<Bytes, actix_web::Error>) -> Result<T, ApiError> {
    if !is_json {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as application/json",
        ));
    }
    let bytes = body.map_err(|e| {
        if e.as_response_error().status_code() == StatusCode::PAYLOAD_TOO_LARGE {
            too_large()
        } else {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "unreadable_body",
                "the request body could not be read",
            )
        }
    })?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            format!("the body is not valid JSON: {e}"),
        )
    })?;
    Ok(from_json(value)?)
}

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        "the request body is larger than this hub accepts",
    )
}

/// The `If-Match` header, if any.
pub fn if_match(req: &HttpRequest) -> IfMatch {
    let values: Vec<String> = req
        .headers()
        .get_all(header::IF_MATCH)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .collect();
    IfMatch((!values.is_empty()).then_some(values))
}

pub const DEFAULT_LIMIT: usize = 20;
pub const MAX_LIMIT: usize = 100;

/// `limit`: 1..=100, 20 when absent.
pub fn parse_limit(value: Option<&str>) -> Result<usize, FieldError> {
    match value {
        None => Ok(DEFAULT_LIMIT),
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            _ => Err(FieldError::new(
                "limit",
                format!("must be a whole number from 1 to {MAX_LIMIT}"),
            )),
        },
    }
}

/// The query string as (name, value) pairs, refusing names not in `known`.
pub fn query_pairs(req: &HttpRequest, known: &[&str]) -> Result<Vec<(String, String)>, ApiError> {
    pairs_of(req.query_string(), known)
}

/// `query` (without its `?`) as (name, value) pairs, refusing names not in `known`.
pub fn pairs_of(query: &str, known: &[&str]) -> Result<Vec<(String, String)>, ApiError> {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let unknown: Vec<FieldError> = pairs
        .iter()
        .filter(|(k, _)| !known.contains(&k.as_str()))
        .map(|(k, _)| {
            FieldError::new(
                k.clone(),
                format!("unknown parameter; expected one of: {}", known.join(", ")),
            )
        })
        .collect();
    if unknown.is_empty() {
        Ok(pairs)
    } else {
        Err(ApiError::invalid(unknown))
    }
}

/// The single value of parameter `name`; repeating it is an error.
pub fn single<'a>(pairs: &'a [(String, String)], name: &str, errors: &mut Vec<FieldError>) -> Option<&'a str> {
    let mut values = pairs.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let first = values.next();
    if values.next().is_some() {
        errors.push(FieldError::new(name, "may be given only once"));
    }
    first
}

/// A program id from a path; one that is not a program id names nothing.
pub fn program_id(raw: &str) -> Result<ProgramId, ApiError> {
    ProgramId::parse(raw).ok_or_else(ApiError::not_found)
}

/// An RFC 3339 date-time, or a `YYYY-MM-DD` date: its start, or with
/// `end_of_day` its last microsecond.
pub fn parse_time(field: &str, v: &str, end_of_day: bool, errors: &mut Vec<FieldError>) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Some(t.with_timezone(&Utc));
    }
    match NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        Ok(d) if end_of_day => d.and_hms_micro_opt(23, 59, 59, 999_999).map(|t| t.and_utc()),
        Ok(d) => d.and_hms_opt(0, 0, 0).map(|t| t.and_utc()),
        Err(_) => {
            errors.push(FieldError::new(
                field,
                "must be an RFC 3339 date-time or a YYYY-MM-DD date",
            ));
            None
        }
    }
}
