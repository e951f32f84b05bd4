//! The pages for station staff, served by the same binary on the same port
//! as the API: server-rendered HTML from templates checked at compile time
//! (askama), htmx for the parts that update in place, and the upload through
//! the API's tus endpoint with tus-js-client. Handlers are as thin as the
//! API's: read the form, call one use-case of `exchange`, render. Sessions
//! and CSRF tokens are `exchange::people`'s; the words are in the message
//! catalogs (`i18n/`), Vietnamese first.

pub mod assets;
pub mod format;
pub mod i18n;
mod pages;
mod visit;
pub mod words;

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpResponse};
use askama::Template;

pub use visit::Visit;

use crate::exchange::ExchangeError;
use i18n::{Lang, Tr};

/// What the pages know of the site, set at start.
#[derive(Debug, Clone)]
pub struct WebSite {
    /// The hub is reached over HTTPS: cookies are `Secure`.
    pub secure_cookies: bool,
    /// The size of each request of a browser's resumable upload.
    pub upload_chunk_bytes: u64,
}

/// Every page's route.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.configure(assets::routes).configure(pages::routes);
}

/// The Content-Security-Policy of every page: nothing from another host, no
/// inline script or style, no framing.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
    media-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// A rendered page with the headers every page carries.
pub fn html(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::REFERRER_POLICY, "same-origin"))
        // Pages hold what a person may see; no shared cache keeps them.
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::VARY, "Cookie, Accept-Language, HX-Request"))
        .body(body)
}

/// Renders `t` as a 200 page.
pub fn page(t: &impl Template) -> Result<HttpResponse, WebError> {
    page_with(StatusCode::OK, t)
}

/// Renders `t` as a page answered with `status` (a form shown again with
/// its errors: 422).
pub fn page_with(status: StatusCode, t: &impl Template) -> Result<HttpResponse, WebError> {
    Ok(html(status, t.render().map_err(WebError::internal)?))
}

/// A 303 to `to` (after a form's POST, or to sign in).
pub fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

/// What a page answers instead of itself.
#[derive(Debug)]
pub enum WebError {
    /// Not signed in: to the sign-in page, then back to `next`.
    SignIn {
        next: String,
    },
    /// A page saying what went wrong, in the visitor's language.
    Page {
        status: StatusCode,
        lang: Lang,
        message: String,
    },
    Internal(anyhow::Error),
}

impl WebError {
    pub fn internal(e: impl Into<anyhow::Error>) -> Self {
        Self::Internal(e.into())
    }

    /// The use-case's refusal, said in words.
    pub fn from_exchange(e: ExchangeError, lang: Lang) -> Self {
        let t = Tr::new(lang);
        let (status, id) = match e {
            ExchangeError::Unauthorized => (StatusCode::UNAUTHORIZED, "error-unauthorized"),
            ExchangeError::Forbidden(_) => (StatusCode::FORBIDDEN, "error-forbidden"),
            ExchangeError::NotFound => (StatusCode::NOT_FOUND, "error-not-found"),
            ExchangeError::Gone => (StatusCode::GONE, "error-withdrawn"),
            ExchangeError::RightsWindowClosed => (StatusCode::FORBIDDEN, "error-window-closed"),
            ExchangeError::Conflict { .. } => (StatusCode::CONFLICT, "error-conflict"),
            ExchangeError::AnalysisPending { .. } => (StatusCode::CONFLICT, "error-analysis-pending"),
            ExchangeError::Invalid(_) | ExchangeError::BadRequest { .. } => {
                (StatusCode::UNPROCESSABLE_ENTITY, "error-invalid")
            }
            ExchangeError::TooManyRequests { .. } => (StatusCode::TOO_MANY_REQUESTS, "error-too-many"),
            other => return Self::Internal(anyhow::Error::new(other)),
        };
        Self::Page {
            status,
            lang,
            message: t.get(id),
        }
    }
}

impl std::fmt::Display for WebError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::SignIn { .. } => f.write_str("sign in first"),
            Self::Page { status, message, .. } => write!(f, "{status}: {message}"),
            Self::Internal(_) => f.write_str("internal error"),
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    c: visit::Chrome,
    message: String,
}

impl actix_web::ResponseError for WebError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::SignIn { .. } => StatusCode::SEE_OTHER,
            Self::Page { status, .. } => *status,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let (status, lang, message) = match self {
            Self::SignIn { next } => {
                let q: String = url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("next", next)
                    .finish();
                return see_other(&format!("/sign-in?{q}"));
            }
            Self::Page { status, lang, message } => (*status, *lang, message.clone()),
            Self::Internal(e) => {
                tracing::error!(error = format!("{e:#}"), "page failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Lang::Vi,
                    Tr::new(Lang::Vi).get("error-internal"),
                )
            }
        };
        let page = ErrorPage {
            c: visit::Chrome::plain(lang),
            message,
        };
        match page.render() {
            Ok(body) => html(status, body),
            Err(_) => HttpResponse::build(status).finish(),
        }
    }
}
