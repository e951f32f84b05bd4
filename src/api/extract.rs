//! Extractors shared by the handlers: the caller's token, JSON bodies and
//! query strings that name the offending field, and preconditions.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::{header, Method, StatusCode};
use actix_web::web::{Bytes, Data};
use actix_web::{FromRequest, HttpRequest};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::domain::{FieldError, ProgramId};
use crate::error::ApiError;
use crate::exchange::error::code;
use crate::exchange::people::{CSRF_HEADER, SESSION_COOKIE};
use crate::exchange::programs::{from_json, IfMatch};
use crate::exchange::{Caller, ExchangeError, Hub};

/// The authenticated caller (`Authorization: Bearer …`); 401 otherwise.
///
/// Without a bearer token, the web page's session cookie stands for its
/// person, so that the browser can download and upload (tus) through the
/// API; a request that may change something must then also carry the
/// session's CSRF token in `X-CSRF-Token`, which another site cannot set.
/// A request another site made the browser send (`Sec-Fetch-Site:
/// cross-site` or `same-site`, e.g. a link or a form on another site, which
/// `SameSite=Lax` lets through for top-level GETs) does not carry the
/// person: a link elsewhere cannot make a signed-in person take a program.
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
        let session = req
            .cookie(SESSION_COOKIE)
            .map(|c| c.value().to_owned())
            .filter(|_| bearer.is_none() && !req.headers().contains_key(header::AUTHORIZATION))
            .filter(|_| !from_another_site(req));
        let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
        let csrf = req
            .headers()
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        Box::pin(async move {
            let hub = hub.ok_or_else(|| ApiError::internal(anyhow::anyhow!("hub missing from app data")))?;
            if let (None, Some(session)) = (&bearer, session) {
                let s = hub.session(&session).await?;
                if !safe && !hub.csrf_ok(&session, &csrf) {
                    return Err(ApiError::new(
                        StatusCode::FORBIDDEN,
                        code::CSRF_REFUSED,
                        "a browser's request that changes something must carry its page's X-CSRF-Token",
                    ));
                }
                return Ok(Auth(s.caller));
            }
            let bearer = bearer.ok_or(ExchangeError::Unauthorized)?;
            Ok(Auth(hub.authenticate(&bearer).await?))
        })
    }
}

/// Whether the browser says another site started this request. Browsers
/// that send no `Sec-Fetch-Site` are taken at their word (the CSRF token
/// still guards every change).
fn from_another_site(req: &HttpRequest) -> bool {
    req.headers()
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| !v.eq_ignore_ascii_case("same-origin") && !v.eq_ignore_ascii_case("none"))
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
            code::UNSUPPORTED_MEDIA_TYPE,
            "send the body as application/json",
        ));
    }
    let bytes = body.map_err(|e| {
        if e.as_response_error().status_code() == StatusCode::PAYLOAD_TOO_LARGE {
            too_large()
        } else {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                code::UNREADABLE_BODY,
                "the request body could not be read",
            )
        }
    })?;
    let mut value: Value = serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            code::MALFORMED_JSON,
            format!("the body is not valid JSON: {e}"),
        )
    })?;
    integral_numbers(&mut value);
    Ok(from_json(value)?)
}

/// Writes every integral number of `v` written with a fraction or an
/// exponent (`6.0`, `1e3`) as the integer it is: JSON Schema's `integer` is
/// any number whose fractional part is zero, so `6.0` is a valid episode
/// number, while serde reads only `6` into an integer field. `6.5` stays a
/// float (and is refused where an integer is wanted); so does an integral
/// number beyond 64 bits, which no integer field holds.
fn integral_numbers(v: &mut Value) {
    match v {
        Value::Number(n) if n.is_f64() => {
            let f = n.as_f64().unwrap_or(f64::NAN);
            // 2^64 and -2^63 are exact in f64; every integral f64 between
            // them fits the integer type it is cast to.
            const TWO_64: f64 = 18_446_744_073_709_551_616.0;
            const MINUS_TWO_63: f64 = -9_223_372_036_854_775_808.0;
            if f.fract() == 0.0 && (0.0..TWO_64).contains(&f) {
                *v = Value::from(f as u64);
            } else if f.fract() == 0.0 && (MINUS_TWO_63..0.0).contains(&f) {
                *v = Value::from(f as i64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integral_numbers),
        Value::Object(fields) => fields.values_mut().for_each(integral_numbers),
        _ => {}
    }
}

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        code::PAYLOAD_TOO_LARGE,
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

/// A query string, parsed into `T`: the very struct whose `IntoParams`
/// documents the parameters, so the document and the parser cannot differ.
/// `T` refuses unknown parameters (`#[serde(deny_unknown_fields)]`); a
/// repeatable parameter is a `Vec` field (`genre=news&genre=report`); any
/// other parameter given twice is refused. Errors are 422 naming the
/// parameter.
///
/// Like [`Json`], extraction itself never fails: the handler calls
/// [`Query::parsed`] once the caller is authenticated.
pub struct Query<T>(Result<T, ApiError>);

impl<T> Query<T> {
    pub fn parsed(self) -> Result<T, ApiError> {
        self.0
    }
}

impl<T: DeserializeOwned> FromRequest for Query<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(Ok(Query(parse_query(req.query_string()))))
    }
}

/// `query` (without its `?`) as a `T`, or a 422 naming the parameter.
pub fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let de = serde_html_form::Deserializer::from_bytes(query.as_bytes());
    serde_path_to_error::deserialize(de).map_err(|e| {
        let field = match e.path().iter().next() {
            Some(serde_path_to_error::Segment::Map { key }) => key.clone(),
            _ => String::new(),
        };
        let message = e.inner().to_string();
        let message = if message == "unsupported value" {
            "may be given only once".to_owned()
        } else if let Some(rest) = message.strip_prefix("unknown field") {
            format!("unknown parameter{rest}")
        } else {
            message
        };
        ApiError::invalid(vec![FieldError::new(field, message)])
    })
}

/// A program id from a path; one that is not a program id names nothing.
pub fn program_id(raw: &str) -> Result<ProgramId, ApiError> {
    ProgramId::parse(raw).ok_or_else(ApiError::not_found)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::integral_numbers;

    #[test]
    fn integral_floats_become_integers_and_fractions_stay() {
        let mut v: serde_json::Value =
            serde_json::from_str(r#"{"a": 6.0, "b": [-2.0, 1e3, 6.5, -0.0], "c": {"d": 1e300, "e": 7}}"#).unwrap();
        integral_numbers(&mut v);
        assert_eq!(v, json!({"a": 6, "b": [-2, 1000, 6.5, 0], "c": {"d": 1e300, "e": 7}}));
        assert!(v["a"].is_u64() && v["b"][0].is_i64() && v["b"][3].is_u64());
        assert!(v["b"][2].is_f64() && v["c"]["d"].is_f64());
    }
}
