//! Who is looking at a page: their session (if any), their language, and
//! what every page's frame (the layout) shows.

use std::future::Future;
use std::pin::Pin;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::Payload;
use actix_web::web::Data;
use actix_web::{FromRequest, HttpRequest};

use super::assets::{self, Urls};
use super::i18n::{Lang, Tr};
use super::{WebError, WebSite};
use crate::domain::{Person, PersonRole};
use crate::exchange::people::SESSION_COOKIE;
use crate::exchange::{ExchangeError, Hub, Session};

/// The cookie that carries a signed-out browser's CSRF secret (for the
/// sign-in form).
pub const PRE_SESSION_COOKIE: &str = "pxhub_pre";

/// A request to a page: the hub, the session, the language.
pub struct Visit {
    pub hub: Data<Hub>,
    pub site: WebSite,
    pub lang: Lang,
    /// The session id and who it is, when signed in.
    pub session: Option<(String, Session)>,
    /// The path and query asked for, to come back to after signing in.
    pub here: String,
    pub pre_session: Option<String>,
    /// Whether htmx asked (it wants only the part that changes).
    pub htmx: bool,
}

impl FromRequest for Visit {
    type Error = WebError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, WebError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let hub = req.app_data::<Data<Hub>>().cloned();
        let site = req.app_data::<Data<WebSite>>().map(|s| s.get_ref().clone());
        let session_id = req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned());
        let pre_session = req.cookie(PRE_SESSION_COOKIE).map(|c| c.value().to_owned());
        let asked = url::form_urlencoded::parse(req.query_string().as_bytes())
            .find(|(k, _)| k == "lang")
            .and_then(|(_, v)| Lang::parse(&v));
        let here = match req.query_string() {
            "" => req.path().to_owned(),
            q => format!("{}?{q}", req.path()),
        };
        let htmx =
            req.headers().contains_key("hx-request") && !req.headers().contains_key("hx-history-restore-request");
        Box::pin(async move {
            let (Some(hub), Some(site)) = (hub, site) else {
                return Err(WebError::internal(anyhow::anyhow!("hub missing from app data")));
            };
            let session = match session_id {
                Some(id) => match hub.session(&id).await {
                    Ok(s) => Some((id, s)),
                    Err(ExchangeError::Unauthorized) => None,
                    Err(e) => return Err(WebError::internal(e)),
                },
                None => None,
            };
            let chosen = session
                .as_ref()
                .and_then(|(_, s)| s.person.language.as_deref())
                .and_then(Lang::parse);
            // The hub's language unless the person chose another: a browser
            // set to English still reads the stations' language.
            let lang = asked.or(chosen).unwrap_or(site.default_lang);
            Ok(Visit {
                hub,
                site,
                lang,
                session,
                here,
                pre_session,
                htmx,
            })
        })
    }
}

impl Visit {
    pub fn t(&self) -> Tr {
        Tr::new(self.lang)
    }

    /// The session, or off to sign in.
    pub fn signed_in(&self) -> Result<&Session, WebError> {
        match &self.session {
            Some((_, s)) => Ok(s),
            None => Err(WebError::SignIn {
                next: self.here.clone(),
            }),
        }
    }

    /// The session of one of the hub's operators: off to sign in, or 403.
    pub fn operator(&self) -> Result<&Session, WebError> {
        let s = self.signed_in()?;
        if !s.caller.is_admin() {
            return Err(self.refuse(actix_web::http::StatusCode::FORBIDDEN, "error-forbidden"));
        }
        Ok(s)
    }

    /// The use-case's refusal, in this visitor's words.
    pub fn fail(&self, e: ExchangeError) -> WebError {
        WebError::from_exchange(e, self.lang)
    }

    /// A page in words: `status` and message `id`.
    pub fn refuse(&self, status: actix_web::http::StatusCode, id: &str) -> WebError {
        WebError::Page {
            status,
            lang: self.lang,
            message: self.t().get(id),
            retry_after_secs: None,
        }
    }

    /// Checks a form's CSRF field against the session; refused with 403.
    pub fn check_csrf(&self, field: Option<&str>) -> Result<&Session, WebError> {
        let (id, s) = self
            .session
            .as_ref()
            .ok_or_else(|| WebError::SignIn { next: "/".into() })?;
        if self.hub.csrf_ok(id, field.unwrap_or("")) {
            Ok(s)
        } else {
            Err(self.refuse(actix_web::http::StatusCode::FORBIDDEN, "error-csrf"))
        }
    }

    /// The sign-in form's CSRF token: a MAC of the browser's pre-session
    /// cookie (made when missing; [`Visit::pre_session_cookie`] sets it).
    pub fn pre_session_csrf(&self, secret: &str) -> String {
        self.hub.csrf_token(&format!("pre:{secret}"))
    }

    pub fn cookie<'c>(&self, name: &'c str, value: String) -> Cookie<'c> {
        Cookie::build(name, value)
            .path("/")
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(self.site.secure_cookies)
            .finish()
    }

    /// The cookie that ends a session in the browser.
    pub fn removal(&self, name: &'static str) -> Cookie<'static> {
        let mut c = self.cookie(name, String::new());
        c.make_removal();
        c
    }

    /// What every page's frame shows.
    pub fn chrome(&self) -> Chrome {
        let (person, csrf) = match &self.session {
            Some((_, s)) => (Some(s.person.clone()), s.csrf.clone()),
            None => (None, String::new()),
        };
        let other = match self.lang {
            Lang::Vi => Lang::En,
            Lang::En => Lang::Vi,
        };
        Chrome {
            hub_name: self.site.hub_name.clone().unwrap_or_else(|| self.t().get("hub-name")),
            t: self.t(),
            lang: self.lang.code(),
            person,
            csrf,
            assets: assets::urls(),
            other_lang: other.code(),
            other_lang_url: with_lang(&self.here, other),
        }
    }
}

/// `here` with `lang=<lang>` in its query instead of any other.
fn with_lang(here: &str, lang: Lang) -> String {
    let (path, query) = here.split_once('?').unwrap_or((here, ""));
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        if k != "lang" {
            s.append_pair(&k, &v);
        }
    }
    s.append_pair("lang", lang.code());
    format!("{path}?{}", s.finish())
}

/// The frame of every page: language, person, CSRF token, asset URLs.
#[derive(Debug, Clone)]
pub struct Chrome {
    /// The hub's name (the `hub_name` setting, or the catalogs' words).
    pub hub_name: String,
    pub t: Tr,
    pub lang: &'static str,
    pub person: Option<Person>,
    pub csrf: String,
    pub assets: Urls,
    pub other_lang: &'static str,
    pub other_lang_url: String,
}

impl Chrome {
    /// The frame for a visitor not known (error pages).
    pub fn plain(lang: Lang) -> Self {
        Self {
            hub_name: Tr::new(lang).get("hub-name"),
            t: Tr::new(lang),
            lang: lang.code(),
            person: None,
            csrf: String::new(),
            assets: assets::urls(),
            other_lang: "",
            other_lang_url: String::new(),
        }
    }

    pub fn may_offer(&self) -> bool {
        self.person.as_ref().is_some_and(|p| p.role == PersonRole::Editor)
    }

    pub fn is_operator(&self) -> bool {
        self.person.as_ref().is_some_and(|p| p.role == PersonRole::Operator)
    }

    pub fn signed_in(&self) -> bool {
        self.person.is_some()
    }

    pub fn person_name(&self) -> &str {
        self.person.as_ref().map_or("", |p| p.name.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_links_keep_the_rest_of_the_query() {
        assert_eq!(with_lang("/?q=duong+len&lang=vi", Lang::En), "/?q=duong+len&lang=en");
        assert_eq!(with_lang("/programs/x", Lang::Vi), "/programs/x?lang=vi");
    }
}
