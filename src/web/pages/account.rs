//! Signing in and out, and a person's own account: password, language.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use base64::Engine;
use rand::RngCore;
use serde::Deserialize;

use super::form;
use crate::exchange::people::SESSION_COOKIE;
use crate::exchange::ExchangeError;
use crate::web::visit::{Chrome, PRE_SESSION_COOKIE};
use crate::web::{html, page, page_with, see_other, Visit, WebError};

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage {
    c: Chrome,
    csrf: String,
    next: String,
    login: String,
    error: Option<String>,
    /// No operator can sign in yet: say how to make the first one.
    first_run: bool,
}

/// Where to go after signing in: a path (and query) this site serves, as
/// the URL parser reads it, with no control character anywhere and no
/// host; else `/`. What is given back is the parsed path, percent-encoded,
/// so it is always a valid `Location`.
fn safe_next(next: Option<&str>) -> String {
    const HERE: &str = "http://hub.invalid/";
    let Some(n) = next else {
        return "/".to_owned();
    };
    let shaped = n.len() < 2000
        && n.starts_with('/')
        && !n.starts_with("//")
        && !n.contains('\\')
        && !n.chars().any(char::is_control);
    let here = url::Url::parse(HERE).expect("a valid base");
    match here.join(n) {
        Ok(u) if shaped && u.as_str().starts_with(HERE) => {
            let mut to = u.path().to_owned();
            if let Some(q) = u.query() {
                to.push('?');
                to.push_str(q);
            }
            to
        }
        _ => "/".to_owned(),
    }
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

fn random_secret() -> String {
    let mut b = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut b);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

pub async fn sign_in_form(v: Visit, q: web::Query<NextQuery>) -> Result<HttpResponse, WebError> {
    let next = safe_next(q.next.as_deref());
    if v.session.is_some() {
        return Ok(see_other(&next));
    }
    let (secret, fresh) = match &v.pre_session {
        Some(s) if !s.is_empty() && s.len() < 100 => (s.clone(), false),
        _ => (random_secret(), true),
    };
    let body = SignInPage {
        c: v.chrome(),
        csrf: v.pre_session_csrf(&secret),
        next,
        login: String::new(),
        error: None,
        first_run: !v.hub.has_operator().await.map_err(|e| v.fail(e))?,
    }
    .render()
    .map_err(WebError::internal)?;
    let mut res = html(StatusCode::OK, body);
    if fresh {
        res.add_cookie(&v.cookie(PRE_SESSION_COOKIE, secret))
            .map_err(WebError::internal)?;
    }
    Ok(res)
}

#[derive(Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    login: String,
    #[serde(default)]
    password: String,
    csrf: Option<String>,
    next: Option<String>,
}

pub async fn sign_in(v: Visit, req: actix_web::HttpRequest, body: web::Bytes) -> Result<HttpResponse, WebError> {
    let f: SignInForm = form(&v, &body)?;
    let secret = v.pre_session.clone().unwrap_or_default();
    let csrf_ok = !secret.is_empty() && v.hub.csrf_ok(&format!("pre:{secret}"), f.csrf.as_deref().unwrap_or(""));
    if !csrf_ok {
        return Err(v.refuse(StatusCode::FORBIDDEN, "error-csrf"));
    }
    let next = safe_next(f.next.as_deref());
    let mut retry_after = None;
    let client = req.peer_addr().map(|a| a.ip());
    let (status, message) = match v.hub.sign_in_from(&f.login, &f.password, client).await {
        Ok(s) => {
            let mut res = see_other(&next);
            res.add_cookie(&v.cookie(SESSION_COOKIE, s.session_id))
                .map_err(WebError::internal)?;
            return Ok(res);
        }
        // The same words whether the login exists or not.
        Err(ExchangeError::Unauthorized) => (StatusCode::UNAUTHORIZED, v.t().get("sign-in-failed")),
        Err(ExchangeError::TooManyRequests {
            code, retry_after_secs, ..
        }) => {
            retry_after = Some(retry_after_secs);
            let words = if code == "busy" {
                "sign-in-busy"
            } else {
                "sign-in-locked"
            };
            (StatusCode::TOO_MANY_REQUESTS, v.t().get(words))
        }
        Err(e) => return Err(v.fail(e)),
    };
    let body = SignInPage {
        c: v.chrome(),
        csrf: v.pre_session_csrf(&secret),
        next,
        login: f.login.chars().take(64).collect(),
        error: Some(message),
        first_run: !v.hub.has_operator().await.map_err(|e| v.fail(e))?,
    }
    .render()
    .map_err(WebError::internal)?;
    let mut res = html(status, body);
    if let Some(secs) = retry_after {
        res.headers_mut().insert(
            actix_web::http::header::RETRY_AFTER,
            actix_web::http::header::HeaderValue::from(secs),
        );
    }
    Ok(res)
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    csrf: Option<String>,
}

pub async fn sign_out(v: Visit, body: web::Bytes) -> Result<HttpResponse, WebError> {
    let f: CsrfOnly = form(&v, &body)?;
    let Some((id, _)) = &v.session else {
        return Ok(see_other("/sign-in"));
    };
    v.check_csrf(f.csrf.as_deref())?;
    v.hub.sign_out(id).await.map_err(|e| v.fail(e))?;
    let mut res = see_other("/sign-in");
    res.add_cookie(&v.removal(SESSION_COOKIE)).map_err(WebError::internal)?;
    Ok(res)
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    c: Chrome,
    login: String,
    station: String,
    role: String,
    message: Option<String>,
    error: Option<String>,
    tokens: Vec<super::TokenLine>,
}

async fn account_page(v: &Visit, message: Option<String>, error: Option<String>) -> Result<AccountPage, WebError> {
    let s = v.signed_in()?;
    let t = v.t();
    let tokens = if s.caller.station.is_some() {
        super::token_lines(v, &s.caller).await?
    } else {
        Vec::new()
    };
    Ok(AccountPage {
        tokens,
        c: v.chrome(),
        login: s.person.login.to_string(),
        station: s.person.station.as_ref().map_or_else(String::new, |s| s.to_string()),
        role: t.get(&format!("person-role-{}", s.person.role.as_str())),
        message,
        error,
    })
}

pub async fn account(v: Visit) -> Result<HttpResponse, WebError> {
    page(&account_page(&v, None, None).await?)
}

#[derive(Deserialize)]
pub struct PasswordForm {
    csrf: Option<String>,
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    confirm_password: String,
}

pub async fn change_password(v: Visit, body: web::Bytes) -> Result<HttpResponse, WebError> {
    v.signed_in()?;
    let f: PasswordForm = form(&v, &body)?;
    let s = v.check_csrf(f.csrf.as_deref())?;
    let t = v.t();
    if f.new_password != f.confirm_password {
        let p = account_page(&v, None, Some(t.get("password-mismatch"))).await?;
        return page_with(StatusCode::UNPROCESSABLE_ENTITY, &p);
    }
    match v
        .hub
        .change_password(&s.caller, &f.current_password, &f.new_password)
        .await
    {
        Ok(new) => {
            let p = account_page(&v, Some(t.get("password-changed")), None).await?;
            let mut res = page(&p)?;
            res.add_cookie(&v.cookie(SESSION_COOKIE, new.session_id))
                .map_err(WebError::internal)?;
            Ok(res)
        }
        Err(ExchangeError::Invalid(errors)) => {
            let id = if errors.iter().any(|e| e.field == "current_password") {
                "password-wrong"
            } else {
                "password-too-short"
            };
            let p = account_page(&v, None, Some(t.get(id))).await?;
            page_with(StatusCode::UNPROCESSABLE_ENTITY, &p)
        }
        Err(e) => Err(v.fail(e)),
    }
}

#[derive(Deserialize)]
pub struct LanguageForm {
    csrf: Option<String>,
    #[serde(default)]
    language: String,
}

pub async fn set_language(v: Visit, body: web::Bytes) -> Result<HttpResponse, WebError> {
    v.signed_in()?;
    let f: LanguageForm = form(&v, &body)?;
    let s = v.check_csrf(f.csrf.as_deref())?;
    v.hub
        .set_language(&s.caller, &f.language)
        .await
        .map_err(|e| v.fail(e))?;
    Ok(see_other("/account"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next(Some("/programs/x?lang=en")), "/programs/x?lang=en");
        for bad in ["//evil.example", "https://evil.example", "/\\evil", "evil"] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad}");
        }
        assert_eq!(safe_next(None), "/");
        // Control characters, which URL parsers skip or headers refuse.
        for c in ['\t', '\n', '\r', '\u{b}', '\u{7f}', '\u{85}', '\0'] {
            let bad = format!("/{c}/evil.example");
            assert_eq!(safe_next(Some(&bad)), "/", "{bad:?}");
        }
        assert_eq!(safe_next(Some("/a\\b")), "/");
        // What is kept is a valid header value: non-ASCII percent-encoded.
        assert_eq!(
            safe_next(Some("/programs/Thời sự")),
            "/programs/Th%E1%BB%9Di%20s%E1%BB%B1"
        );
        assert_eq!(safe_next(Some("/report#x")), "/report");
        assert_eq!(safe_next(Some("/../../x")), "/x");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2_000))]

        /// Any `next` leads to a path of this site that is a valid header
        /// value, and never panics.
        #[test]
        fn any_next_stays_on_this_site_and_is_a_valid_location(
            chars in proptest::collection::vec(proptest::prelude::any::<char>(), 0..40),
            lead in proptest::sample::select(vec!["", "/", "//", "/\\", "http://", "/%0A", "/\t/"]),
        ) {
            let next: String = lead.chars().chain(chars).collect();
            let to = safe_next(Some(&next));
            proptest::prop_assert!(to.starts_with('/') && !to.starts_with("//"), "{next:?} -> {to:?}");
            proptest::prop_assert!(!to.chars().any(|c| c.is_control() || c == '\\'), "{next:?} -> {to:?}");
            proptest::prop_assert!(actix_web::http::header::HeaderValue::from_str(&to).is_ok(), "{to:?}");
            let here = url::Url::parse("http://hub.invalid/").unwrap();
            let resolved = here.join(&to).unwrap();
            proptest::prop_assert_eq!(resolved.host_str(), Some("hub.invalid"), "{:?}", to);
        }

        /// Any form body parses or is refused; never a panic.
        #[test]
        fn any_form_body_parses_or_is_refused(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            let _ = serde_html_form::from_bytes::<SignInForm>(&body);
        }
    }
}
