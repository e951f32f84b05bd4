//! Administration, for the hub's operators: stations, people, tokens,
//! webhooks (listed and removed here; subscribing stays on the API).

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::{form, stations};
use crate::domain::{PersonRole, Role, StationId, StationKind};
use crate::exchange::{ExchangeError, NewPerson, NewStation};
use crate::web::visit::Chrome;
use crate::web::{page_with, Visit, WebError};

pub struct StationLine {
    pub id: String,
    pub name: String,
    pub province: String,
    pub kind: String,
}

pub struct WebhookLine {
    pub id: String,
    pub subscriber: String,
    pub url: String,
    pub events: String,
    pub state: String,
    pub created: String,
}

#[derive(Template)]
#[template(path = "admin.html")]
struct AdminPage {
    c: Chrome,
    stations: Vec<StationLine>,
    people: Vec<super::people::PersonLine>,
    tokens: Vec<super::TokenLine>,
    webhooks: Vec<WebhookLine>,
    peers: Vec<super::peers::PeerLine>,
    /// What the last action says (a new token or password, shown once).
    message: Option<String>,
    secret: Option<String>,
    error: Option<String>,
}

pub(super) async fn render(
    v: &Visit,
    status: StatusCode,
    message: Option<String>,
    secret: Option<String>,
    error: Option<String>,
) -> Result<HttpResponse, WebError> {
    let s = v.operator()?;
    let t = v.t();
    let stations = stations(v)
        .await?
        .into_iter()
        .map(|s| StationLine {
            id: s.id.to_string(),
            name: s.name,
            province: s.province,
            kind: t.get(&format!("station-kind-{}", s.kind.as_str())),
        })
        .collect();
    let people = super::people::lines(v).await?;
    let tokens = super::token_lines(v, &s.caller).await?;
    let mut webhooks = Vec::new();
    for h in v.hub.webhooks(&s.caller, None).await.map_err(|e| v.fail(e))? {
        let (_, log) = v.hub.deliveries(&s.caller, h.id.clone()).await.map_err(|e| v.fail(e))?;
        let last = match log.first() {
            Some(d) => t.get(&format!("delivery-{}", d.state.as_str())),
            None => t.get("delivery-none"),
        };
        webhooks.push(WebhookLine {
            subscriber: h
                .station
                .map(|s| s.to_string())
                .unwrap_or_else(|| t.get("person-role-operator")),
            url: h.url,
            events: h.events.iter().map(|e| e.as_str()).collect::<Vec<_>>().join(", "),
            state: t.arg("webhook-state", "name", last),
            created: crate::web::format::date(h.created_at, t.lang),
            id: h.id,
        });
    }
    let peers = super::peers::lines(v).await?;
    let page = AdminPage {
        c: v.chrome(),
        stations,
        people,
        tokens,
        webhooks,
        peers,
        message,
        secret,
        error,
    };
    page_with(status, &page)
}

pub async fn admin(v: Visit) -> Result<HttpResponse, WebError> {
    render(&v, StatusCode::OK, None, None, None).await
}

/// The refusal of an operator's form, said on the page.
async fn refused(v: &Visit, e: ExchangeError) -> Result<HttpResponse, WebError> {
    let t = v.t();
    let why = match e {
        ExchangeError::Invalid(errors) => {
            let e = super::FieldErrors::words(&t, errors.into_iter().map(|e| (e.field, e.message)).collect());
            e.0.iter()
                .map(|(field, m)| format!("{}: {m}", super::field_label(&t, field).1))
                .collect::<Vec<_>>()
                .join("; ")
        }
        e @ (ExchangeError::Conflict { .. } | ExchangeError::NotFound) => crate::web::refusal_words(&t, &e),
        other => return Err(v.fail(other)),
    };
    render(v, StatusCode::UNPROCESSABLE_ENTITY, None, None, Some(why)).await
}

#[derive(Deserialize)]
pub struct StationForm {
    csrf: Option<String>,
    #[serde(default)]
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    province: String,
    #[serde(default)]
    kind: String,
}

pub async fn add_station(v: Visit, body: web::Bytes) -> Result<HttpResponse, WebError> {
    v.signed_in()?;
    let f: StationForm = form(&v, &body)?;
    let s = v.check_csrf(f.csrf.as_deref())?;
    let kind = match f.kind.as_str() {
        "national" => StationKind::National,
        "peer" => StationKind::Peer,
        _ => StationKind::Provincial,
    };
    let new = NewStation {
        id: f.id,
        name: f.name,
        province: f.province,
        kind,
    };
    match v.hub.create_station(&s.caller, new).await {
        Ok(st) => {
            render(
                &v,
                StatusCode::OK,
                Some(v.t().arg("station-added", "name", st.name)),
                None,
                None,
            )
            .await
        }
        Err(e) => refused(&v, e).await,
    }
}

#[derive(Deserialize)]
pub struct PersonForm {
    csrf: Option<String>,
    #[serde(default)]
    station: String,
    #[serde(default)]
    login: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
}

pub async fn add_person(v: Visit, body: web::Bytes) -> Result<HttpResponse, WebError> {
    v.signed_in()?;
    let f: PersonForm = form(&v, &body)?;
    let s = v.check_csrf(f.csrf.as_deref())?;
    let role = PersonRole::parse(&f.role).unwrap_or(PersonRole::Editor);
    let station = match (role, f.station.trim()) {
        (PersonRole::Operator, _) | (_, "") => None,
        (_, id) => match StationId::parse(id) {
            Ok(id) => Some(id),
            Err(e) => return refused(&v, ExchangeError::invalid("station", e)).await,
        },
    };
    let new = NewPerson {
        station,
        login: f.login,
        name: f.name,
        role,
        password: None,
    };
    match v.hub.add_person(&s.caller, new).await {
        Ok(added) => {
            let msg = v.t().arg("person-added", "name", &added.person.login);
            render(&v, StatusCode::OK, Some(msg), added.generated_password, None).await
        }
        Err(e) => refused(&v, e).await,
    }
}

#[derive(Deserialize)]
pub struct UnlockForm {
    csrf: Option<String>,
    #[serde(default)]
    login: String,
}

/// Lets a login locked by failed sign-ins sign in again.
pub async fn unlock_login(v: Visit, body: web::Bytes) -> Result<HttpResponse, WebError> {
    v.signed_in()?;
    let f: UnlockForm = form(&v, &body)?;
    let s = v.check_csrf(f.csrf.as_deref())?;
    match v.hub.unlock_login(&s.caller, &f.login).await {
        Ok(was_locked) => {
            let id = if was_locked {
                "login-unlocked"
            } else {
                "login-not-locked"
            };
            let login: String = f.login.trim().chars().take(64).collect();
            let msg = v.t().arg(id, "name", &login);
            render(&v, StatusCode::OK, Some(msg), None, None).await
        }
        Err(e) => refused(&v, e).await,
    }
}

#[derive(Deserialize)]
pub struct TokenForm {
    csrf: Option<String>,
    #[serde(default)]
    station: String,
    #[serde(default)]
    label: String,
    #[serde(default)]
    token_id: String,
}

pub async fn issue_token(v: Visit, body: web::Bytes) -> Result<HttpResponse, WebError> {
    v.signed_in()?;
    let f: TokenForm = form(&v, &body)?;
    let s = v.check_csrf(f.csrf.as_deref())?;
    let (station, role) = match f.station.trim() {
        "" => (None, Some(Role::Admin)),
        id => match StationId::parse(id) {
            Ok(id) => (Some(id), None),
            Err(e) => return refused(&v, ExchangeError::invalid("station", e)).await,
        },
    };
    match v.hub.issue_token(&s.caller, station, role, f.label).await {
        Ok(issued) => {
            let msg = v.t().arg("token-issued", "name", &issued.id);
            render(&v, StatusCode::OK, Some(msg), Some(issued.token), None).await
        }
        Err(e) => refused(&v, e).await,
    }
}

pub async fn revoke_token(v: Visit, body: web::Bytes) -> Result<HttpResponse, WebError> {
    v.signed_in()?;
    let f: TokenForm = form(&v, &body)?;
    let s = v.check_csrf(f.csrf.as_deref())?;
    let id = f.token_id.trim().to_owned();
    match v.hub.revoke_token(&s.caller, None, id.clone()).await {
        Ok(()) => {
            render(
                &v,
                StatusCode::OK,
                Some(v.t().arg("token-revoked", "name", id)),
                None,
                None,
            )
            .await
        }
        Err(e) => refused(&v, e).await,
    }
}

#[derive(Deserialize)]
pub struct WebhookForm {
    csrf: Option<String>,
    #[serde(default)]
    webhook_id: String,
}

/// Removes a subscription (the operator may remove any), through the same
/// use-case as `DELETE /api/v1/webhooks/{id}`.
pub async fn remove_webhook(v: Visit, body: web::Bytes) -> Result<HttpResponse, WebError> {
    v.signed_in()?;
    let f: WebhookForm = form(&v, &body)?;
    let s = v.check_csrf(f.csrf.as_deref())?;
    if !s.caller.is_admin() {
        return Err(v.refuse(StatusCode::FORBIDDEN, "error-forbidden"));
    }
    let id = f.webhook_id.trim().to_owned();
    match v.hub.unsubscribe(&s.caller, id.clone()).await {
        Ok(()) => {
            render(
                &v,
                StatusCode::OK,
                Some(v.t().arg("webhook-removed", "name", id)),
                None,
                None,
            )
            .await
        }
        Err(e) => refused(&v, e).await,
    }
}
