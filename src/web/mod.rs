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
    /// The pages' language for whoever has not chosen one (`?lang=` or
    /// their account's): the browser's own languages are not asked.
    pub default_lang: Lang,
    /// The hub's name on every page, when set (else the catalogs' words).
    pub hub_name: Option<String>,
    /// The pages' icon and its media type, when set (else the built-in one).
    pub favicon: Option<(std::sync::Arc<[u8]>, &'static str)>,
}

/// The built-in icon: a radio mast, in the pages' blue.
const FAVICON_SVG: &str = include_str!("assets/favicon.svg");

/// `/favicon.ico`: the configured icon, or the built-in one.
async fn favicon(site: web::Data<WebSite>) -> HttpResponse {
    let (body, kind): (Vec<u8>, &str) = match &site.favicon {
        Some((bytes, kind)) => (bytes.to_vec(), kind),
        None => (FAVICON_SVG.as_bytes().to_vec(), "image/svg+xml"),
    };
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, kind))
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .body(body)
}

/// Every page's route.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.configure(assets::routes)
        .configure(pages::routes)
        .route("/favicon.ico", web::get().to(favicon));
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
        .insert_header((header::VARY, "Cookie, HX-Request"))
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

/// Whether an address that names nothing was asked for by a person's
/// browser (who should read a page in words) rather than by a program
/// (which reads the API's problem document).
pub fn wants_page(req: &actix_web::HttpRequest) -> bool {
    !req.path().starts_with("/api/")
        && req
            .headers()
            .get(header::ACCEPT)
            .and_then(|a| a.to_str().ok())
            .is_some_and(|a| a.contains("text/html"))
}

/// The page a browser gets for a mistyped address: 404, in its words.
pub async fn not_found_page(req: actix_web::HttpRequest) -> HttpResponse {
    use actix_web::{FromRequest, ResponseError};
    match Visit::extract(&req).await {
        Ok(v) => v.refuse(StatusCode::NOT_FOUND, "error-no-such-page").error_response(),
        Err(e) => e.error_response(),
    }
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
        /// `Retry-After`, when the visitor may try again shortly.
        retry_after_secs: Option<u64>,
    },
    Internal(anyhow::Error),
}

impl WebError {
    pub fn internal(e: impl Into<anyhow::Error>) -> Self {
        Self::Internal(e.into())
    }

    /// The use-case's refusal, said in words, with the status of the one
    /// table (`ExchangeError::answer`) that the API answers with too.
    pub fn from_exchange(e: ExchangeError, lang: Lang) -> Self {
        let answer = e.answer();
        let status = match StatusCode::from_u16(answer.status) {
            Ok(status) if !answer.internal => status,
            _ => return Self::Internal(anyhow::Error::new(e)),
        };
        if let ExchangeError::StorageUnavailable(cause) | ExchangeError::StorageFull(cause) = &e {
            tracing::warn!(error = %cause, "media store refused a page's request");
        }
        Self::Page {
            status,
            lang,
            message: refusal_words(&Tr::new(lang), &e),
            retry_after_secs: answer.retry_after_secs,
        }
    }
}

/// A refusal in the page's words: the message of its code when the
/// catalogs have one, else of its kind. Never the use-case's own text.
pub fn refusal_words(t: &Tr, e: &ExchangeError) -> String {
    t.get(message_id(e))
}

/// The message of a problem code that says more than its kind.
fn code_message(code: &str) -> Option<&'static str> {
    use crate::exchange::error::code;
    Some(match code {
        code::MASTER_NOT_MEDIA => "error-master-not-media",
        code::MASTER_REQUIRED => "error-master-required",
        code::NOT_A_DRAFT => "error-not-a-draft",
        code::INVALID_STATUS => "error-invalid-status",
        code::LOGIN_TAKEN => "error-login-taken",
        code::LAST_OPERATOR => "error-last-operator",
        code::STATION_EXISTS => "error-station-exists",
        code::ALREADY_FOLLOWING => "error-already-following",
        code::TOO_MANY_FOLLOWS => "error-too-many-follows",
        code::INDEX_FULL => "error-index-full",
        code::PROFILE_EXISTS => "error-profile-exists",
        code::PROFILE_IN_USE => "error-profile-in-use",
        _ => return None,
    })
}

/// The message a page shows for a refusal.
fn message_id(e: &ExchangeError) -> &'static str {
    use ExchangeError as E;
    match e {
        E::Conflict { code, .. } => code_message(code).unwrap_or("error-conflict"),
        E::PreconditionFailed => "error-changed-first",
        E::TooLarge { .. } => "error-too-large",
        E::UnsupportedMediaType(_) => "error-media-type",
        E::Expired => "error-upload-expired",
        E::Unauthorized => "error-unauthorized",
        E::Forbidden(_) => "error-forbidden",
        E::NotFound | E::PreviewNotReady => "error-not-found",
        E::Gone => "error-withdrawn",
        E::RightsWindowClosed => "error-window-closed",
        E::Locked => "error-conflict",
        E::AnalysisPending { .. } => "error-analysis-pending",
        E::RenditionFailed(_) => "error-rendition-failed",
        E::TooManyRequests { .. } => "error-too-many",
        E::StorageUnavailable(_) | E::StorageFull(_) => "error-storage",
        E::OriginUnavailable => "error-origin",
        E::Invalid(_) | E::BadRequest { .. } | E::DigestMismatch | E::ChecksumMismatch => "error-invalid",
        E::Broken(_) | E::Catalog(_) | E::Media(_) => "error-internal",
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
        let (status, lang, message, retry) = match self {
            Self::SignIn { next } => {
                let q: String = url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("next", next)
                    .finish();
                return see_other(&format!("/sign-in?{q}"));
            }
            Self::Page {
                status,
                lang,
                message,
                retry_after_secs,
            } => (*status, *lang, message.clone(), *retry_after_secs),
            Self::Internal(e) => {
                tracing::error!(error = format!("{e:#}"), "page failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Lang::Vi,
                    Tr::new(Lang::Vi).get("error-internal"),
                    None,
                )
            }
        };
        let page = ErrorPage {
            c: visit::Chrome::plain(lang),
            message,
        };
        let mut res = match page.render() {
            Ok(body) => html(status, body),
            Err(_) => HttpResponse::build(status).finish(),
        };
        if let Some(secs) = retry.and_then(|s| header::HeaderValue::from_str(&s.to_string()).ok()) {
            res.headers_mut().insert(header::RETRY_AFTER, secs);
        }
        res
    }
}
