//! "Danh sách tải": the programs a person picked, to download one by one
//! (the browser's download resumes with the file's Range and ETag), with
//! what their station did with each: taken or not, and whether a taken one
//! still lacks its rebroadcast report. An editor hands the list to the
//! station's pull agent (a follow of kind `list`), and stops it.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use chrono::Utc;
use serde::Deserialize;

use super::{form, program_id, station_names};
use crate::domain::follow::Rule;
use crate::domain::{FileRole, Follow, FollowKind};
use crate::exchange::error::code;
use crate::exchange::rights::may_take;
use crate::exchange::tokens::Caller;
use crate::exchange::{ExchangeError, NewFollow};
use crate::web::visit::Chrome;
use crate::web::words::{self, Badge};
use crate::web::{html, page, see_other, Visit, WebError};

pub struct ListLine {
    pub id: String,
    pub href: String,
    pub title: String,
    pub station: String,
    pub badge: Badge,
    /// The master's download, when the station may take it now.
    pub download: Option<String>,
    pub taken: bool,
    /// Taken, and no rebroadcast reported yet.
    pub needs_report: bool,
}

#[derive(Template)]
#[template(path = "download_list.html")]
struct ListPage {
    c: Chrome,
    lines: Vec<ListLine>,
    notice: Option<String>,
    has_station: bool,
    /// For an editor of a station: whether the list is handed to the
    /// station's pull agent.
    hand: Option<bool>,
}

/// The station's follow of `login`'s list, if it has one.
async fn list_follow(v: &Visit, caller: &Caller, login: &crate::domain::Login) -> Result<Option<Follow>, WebError> {
    Ok(v.hub
        .follows(caller)
        .await
        .map_err(|e| v.fail(e))?
        .into_iter()
        .find(|f| f.kind == FollowKind::List && f.rule() == Some(Rule::List(login.clone()))))
}

pub async fn list(v: Visit, req: actix_web::HttpRequest) -> Result<HttpResponse, WebError> {
    let s = v.signed_in()?;
    let t = v.t();
    let names = station_names(&v).await?;
    let (viewer, now) = (s.caller.viewer(), Utc::now());
    let lines = v
        .hub
        .download_list(&s.caller)
        .await
        .map_err(|e| v.fail(e))?
        .into_iter()
        .map(|l| {
            let p = &l.program;
            let open = may_take(&viewer, p, now);
            ListLine {
                id: p.id.to_string(),
                href: format!("/programs/{}", p.id),
                title: p.meta.title.clone(),
                station: names.of_program(p),
                badge: words::badge(&t, p, open, now),
                download: (open.is_ok() && p.files.iter().any(|f| f.role == FileRole::Master))
                    .then(|| format!("/api/v1/programs/{}/files/master", p.id)),
                taken: l.taken,
                needs_report: l.taken && !l.rebroadcast,
            }
        })
        .collect();
    let notice = match req.query_string() {
        "done=added" => Some(t.get("list-added")),
        "done=removed" => Some(t.get("list-removed")),
        "done=handed" => Some(t.get("list-handed-notice")),
        "done=stopped" => Some(t.get("list-stopped")),
        _ => None,
    };
    let hand = match s.caller.station.is_some() && s.caller.may_offer() {
        true => Some(
            list_follow(&v, &s.caller, &s.person.login)
                .await?
                .is_some_and(|f| f.deliver),
        ),
        false => None,
    };
    page(&ListPage {
        c: v.chrome(),
        lines,
        notice,
        has_station: s.caller.station.is_some(),
        hand,
    })
}

#[derive(Deserialize)]
pub struct ListForm {
    csrf: Option<String>,
    #[serde(default)]
    id: String,
}

/// Puts a program on the list: from a results list (htmx), the button
/// becomes a note that says so; without scripts, to the list.
pub async fn add(v: Visit, body: web::Bytes) -> Result<HttpResponse, WebError> {
    v.signed_in()?;
    let f: ListForm = form(&v, &body)?;
    let s = v.check_csrf(f.csrf.as_deref())?;
    let id = program_id(&v, &f.id)?;
    v.hub.list_add(&s.caller, id).await.map_err(|e| v.fail(e))?;
    if v.htmx {
        let done = askama::filters::escape(v.t().get("list-added-short"), askama::filters::Html)
            .map_err(WebError::internal)?
            .to_string();
        return Ok(html(
            StatusCode::OK,
            format!("<p class=\"badge badge-ok\" role=\"status\">{done}</p>"),
        ));
    }
    Ok(see_other("/list?done=added"))
}

/// Takes a program off the list.
pub async fn remove(v: Visit, body: web::Bytes) -> Result<HttpResponse, WebError> {
    v.signed_in()?;
    let f: ListForm = form(&v, &body)?;
    let s = v.check_csrf(f.csrf.as_deref())?;
    let id = program_id(&v, &f.id)?;
    v.hub.list_remove(&s.caller, id).await.map_err(|e| v.fail(e))?;
    Ok(see_other("/list?done=removed"))
}

#[derive(Deserialize)]
pub struct HandForm {
    csrf: Option<String>,
}

/// Hands the person's list to their station's pull agent: the station
/// follows it (kind `list`, delivering), once; a follow of it that had
/// delivery switched off delivers again.
pub async fn hand(v: Visit, body: web::Bytes) -> Result<HttpResponse, WebError> {
    v.signed_in()?;
    let f: HandForm = form(&v, &body)?;
    let s = v.check_csrf(f.csrf.as_deref())?;
    match list_follow(&v, &s.caller, &s.person.login).await? {
        Some(f) if f.deliver => {}
        Some(f) => {
            let on = crate::exchange::delivery::follow_settings::FollowDelivery {
                deliver: true,
                profile: f.profile,
            };
            v.hub
                .set_follow_delivery(&s.caller, f.id, on)
                .await
                .map_err(|e| v.fail(e))?;
        }
        None => {
            let new = NewFollow::plain(FollowKind::List, s.person.login.to_string(), true);
            match v.hub.follow(&s.caller, new).await {
                Ok(_)
                | Err(ExchangeError::Conflict {
                    code: code::ALREADY_FOLLOWING,
                    ..
                }) => {}
                Err(e) => return Err(v.fail(e)),
            }
        }
    }
    Ok(see_other("/list?done=handed#hand"))
}

/// Stops the station's agent taking the person's list (what it delivered
/// stays at the station).
pub async fn stop(v: Visit, body: web::Bytes) -> Result<HttpResponse, WebError> {
    v.signed_in()?;
    let f: HandForm = form(&v, &body)?;
    let s = v.check_csrf(f.csrf.as_deref())?;
    if !s.caller.may_offer() {
        return Err(v.fail(ExchangeError::Forbidden("delivery settings belong to editors")));
    }
    if let Some(f) = list_follow(&v, &s.caller, &s.person.login).await? {
        v.hub.unfollow(&s.caller, f.id).await.map_err(|e| v.fail(e))?;
    }
    Ok(see_other("/list?done=stopped#hand"))
}
