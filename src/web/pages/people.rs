//! People, managed on the page: the operator on `/admin` manages everyone;
//! a station's editor in charge, on "Đài của tôi", the station's own
//! people. Disable and enable, remove, change a role (and who is in
//! charge), reset a password to a one-time one shown once: each through
//! `exchange::people_manage`, which says who may.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::form;
use crate::domain::PersonRole;
use crate::exchange::people_manage::PersonChange;
use crate::exchange::ExchangeError;
use crate::web::visit::Chrome;
use crate::web::{page, page_with, Visit, WebError};

/// One person as the people list shows them, with what may be done.
pub struct PersonLine {
    pub login: String,
    pub name: String,
    pub station: String,
    pub role: String,
    /// `editor` or `viewer` for a station's person; empty for an operator.
    pub station_role: String,
    pub in_charge: bool,
    pub disabled: bool,
    /// The person looking: nothing to do to oneself here.
    pub me: bool,
}

/// The people the caller manages (the operator: everyone; an editor in
/// charge: the station's), or none for anyone else.
pub(super) async fn lines(v: &Visit) -> Result<Vec<PersonLine>, WebError> {
    let s = v.signed_in()?;
    let me = &s.person;
    if !(s.caller.is_admin() || (me.in_charge && me.role == PersonRole::Editor)) {
        return Ok(Vec::new());
    }
    let t = v.t();
    let people = v.hub.people(&s.caller).await.map_err(|e| v.fail(e))?;
    Ok(people
        .into_iter()
        .map(|p| PersonLine {
            me: p.id == me.id,
            login: p.login.to_string(),
            station: p.station.as_ref().map(|s| s.to_string()).unwrap_or_default(),
            role: match (p.role, p.in_charge) {
                (PersonRole::Editor, true) => format!("{} ({})", t.get("person-role-editor"), t.get("in-charge")),
                (role, _) => t.get(&format!("person-role-{}", role.as_str())),
            },
            station_role: match p.role {
                PersonRole::Operator => String::new(),
                role => role.as_str().to_owned(),
            },
            in_charge: p.in_charge,
            disabled: p.disabled,
            name: p.name,
        })
        .collect())
}

#[derive(Deserialize)]
pub struct ManageForm {
    csrf: Option<String>,
    #[serde(default)]
    login: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    role: String,
    in_charge: Option<String>,
}

#[derive(Template)]
#[template(path = "people_done.html")]
struct DonePage {
    c: Chrome,
    message: String,
    secret: Option<String>,
    back: String,
}

pub async fn manage(v: Visit, body: web::Bytes) -> Result<HttpResponse, WebError> {
    v.signed_in()?;
    let f: ManageForm = form(&v, &body)?;
    let s = v.check_csrf(f.csrf.as_deref())?;
    let t = v.t();
    let change = match f.action.as_str() {
        "disable" => PersonChange::Disable,
        "enable" => PersonChange::Enable,
        "remove" => PersonChange::Remove,
        "reset" => PersonChange::ResetPassword,
        "role" => PersonChange::Role {
            role: PersonRole::parse(&f.role).unwrap_or(PersonRole::Viewer),
            in_charge: f.in_charge.is_some(),
        },
        _ => return Err(v.refuse(StatusCode::BAD_REQUEST, "error-invalid")),
    };
    let back = if s.caller.is_admin() {
        "/admin#people-h"
    } else {
        "/station#people"
    };
    let login: String = f.login.trim().chars().take(64).collect();
    match v.hub.manage_person(&s.caller, &login, change).await {
        Ok(done) => {
            let id = match change {
                PersonChange::Disable => "person-disabled",
                PersonChange::Enable => "person-enabled",
                PersonChange::Remove => "person-removed",
                PersonChange::ResetPassword => "person-password-reset",
                PersonChange::Role { .. } => "person-role-changed",
            };
            page(&DonePage {
                c: v.chrome(),
                message: t.arg(id, "name", &login),
                secret: done.password,
                back: back.to_owned(),
            })
        }
        Err(e @ (ExchangeError::Conflict { .. } | ExchangeError::Invalid(_) | ExchangeError::NotFound)) => {
            let status = StatusCode::from_u16(e.answer().status).unwrap_or(StatusCode::CONFLICT);
            let message = match &e {
                ExchangeError::Invalid(_) => t.get("error-role-change"),
                _ => crate::web::refusal_words(&t, &e),
            };
            let p = DonePage {
                c: v.chrome(),
                message,
                secret: None,
                back: back.to_owned(),
            };
            page_with(status, &p)
        }
        Err(e) => Err(v.fail(e)),
    }
}
