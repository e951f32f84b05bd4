//! "My station": our programs by status, what others took of ours, what we
//! took; withdrawing is on each program's page, with its reason.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::{form, station_names, StationNames};
use crate::domain::SearchFilter;
use crate::domain::{FollowKind, ProgramStatus, StationId};
use crate::exchange::delivery::follow_settings::FollowDelivery;
use crate::exchange::SearchRequest;
use crate::web::visit::Chrome;
use crate::web::{format, page, see_other, words, Visit, WebError};

pub struct Line {
    pub href: String,
    pub title: String,
    pub other: String,
    pub date: String,
}

pub struct Group {
    pub title: String,
    pub id: &'static str,
    pub lines: Vec<Line>,
}

/// One of the station's follows, in words.
pub struct FollowLine {
    pub id: String,
    pub kind: String,
    pub value: String,
    pub deliver: String,
    pub deliver_on: bool,
    /// The delivery profile's id (empty: the station's default).
    pub profile: String,
    /// The delivery profile in words.
    pub profile_name: String,
    pub roles: String,
    pub created: String,
}

/// One file pushed to the station's own server, in words.
pub struct PushLine {
    pub id: String,
    pub href: String,
    pub name: String,
    pub state: String,
    pub progress: String,
    pub error: String,
    pub updated: String,
}

#[derive(Template)]
#[template(path = "station.html")]
struct StationPage {
    c: Chrome,
    station: String,
    groups: Vec<Group>,
    given: Vec<Line>,
    taken: Vec<Line>,
    follows: Vec<FollowLine>,
    /// The hub's delivery profiles (id, name), to choose from.
    profiles: Vec<(String, String)>,
    /// A draft was just deleted: say so.
    deleted: bool,
    /// A follow's delivery was just saved: say so.
    follow_saved: bool,
    /// The station's people, for its editor in charge (else none).
    people: Vec<super::people::PersonLine>,
    pushes: Vec<PushLine>,
}

/// What the hub pushed, or is pushing, to the station's servers.
async fn push_lines(v: &Visit) -> Result<Vec<PushLine>, WebError> {
    let (t, caller) = (v.t(), &v.signed_in()?.caller);
    let lang = t.lang;
    Ok(v.hub
        .pushes(caller, None, 100)
        .await
        .map_err(|e| v.fail(e))?
        .0
        .into_iter()
        .map(|d| PushLine {
            href: format!("/programs/{}", d.program_id),
            state: t.get(&format!("push-state-{}", d.state.as_str())),
            progress: format!("{} / {}", format::size(d.bytes, lang), format::size(d.size, lang)),
            error: match d.error {
                Some(e) => match crate::exchange::delivery::push::error_key(&e) {
                    Some(key) => t.get(&format!("push-error-{key}")),
                    None => e,
                },
                None => String::new(),
            },
            updated: format::date_time(d.updated_at, lang),
            name: d.name,
            id: d.id,
        })
        .collect())
}

/// The station's programs, by status.
async fn program_groups(v: &Visit, mine: &StationId) -> Result<Vec<Group>, WebError> {
    let (t, caller) = (v.t(), &v.signed_in()?.caller);
    let lang = t.lang;
    let mut groups = Vec::new();
    for (status, id) in [
        (ProgramStatus::Draft, "drafts"),
        (ProgramStatus::Published, "published"),
        (ProgramStatus::Withdrawn, "withdrawn"),
    ] {
        let found = v
            .hub
            .search(
                caller,
                SearchRequest {
                    filter: SearchFilter {
                        stations: vec![mine.clone()],
                        ..Default::default()
                    },
                    statuses: vec![status],
                    limit: 100,
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| v.fail(e))?;
        groups.push(Group {
            title: words::status(&t, status),
            id,
            lines: found
                .items
                .iter()
                .map(|p| Line {
                    href: format!("/programs/{}", p.id),
                    title: p.meta.title.clone(),
                    other: String::new(),
                    date: format::date(p.published_at.unwrap_or(p.created_at), lang),
                })
                .collect(),
        });
    }
    Ok(groups)
}

/// The hub's delivery profiles: (id, name).
async fn profiles(v: &Visit) -> Result<Vec<(String, String)>, WebError> {
    let caller = &v.signed_in()?.caller;
    Ok(v.hub
        .profiles(caller)
        .await
        .map_err(|e| v.fail(e))?
        .into_iter()
        .map(|p| (p.id, p.name))
        .collect())
}

/// What the station follows, in words.
async fn follow_lines(
    v: &Visit,
    names: &StationNames,
    profiles: &[(String, String)],
) -> Result<Vec<FollowLine>, WebError> {
    let (t, caller, name) = (v.t(), &v.signed_in()?.caller, |id: &str| names.of(id));
    let lang = t.lang;
    Ok(v.hub
        .follows(caller)
        .await
        .map_err(|e| v.fail(e))?
        .into_iter()
        .map(|f| FollowLine {
            kind: t.get(&format!("follow-kind-{}", f.kind.as_str())),
            value: match f.kind {
                FollowKind::Station => name(&f.value),
                _ => f.value.clone(),
            },
            deliver: t.get(if f.deliver { "yes" } else { "no" }),
            deliver_on: f.deliver,
            profile_name: match &f.profile {
                Some(id) => profiles
                    .iter()
                    .find(|(p, _)| p == id)
                    .map_or_else(|| id.clone(), |(_, n)| n.clone()),
                None => t.get("follow-profile-default"),
            },
            profile: f.profile.clone().unwrap_or_default(),
            roles: f
                .roles
                .iter()
                .map(|r| words::file_role(&t, *r))
                .collect::<Vec<_>>()
                .join(", "),
            created: format::date(f.created_at, lang),
            id: f.id,
        })
        .collect())
}

pub async fn my_station(v: Visit, req: actix_web::HttpRequest) -> Result<HttpResponse, WebError> {
    let s = v.signed_in()?;
    let Some(mine) = s.caller.station.clone() else {
        return Err(v.refuse(StatusCode::NOT_FOUND, "error-no-station"));
    };
    let t = v.t();
    let lang = t.lang;
    let names = station_names(&v).await?;
    let name = |id: &str| names.of(id);
    let groups = program_groups(&v, &mine).await?;
    let lines = |takes: Vec<crate::exchange::StationTake>| {
        takes
            .into_iter()
            .map(|x| Line {
                href: format!("/programs/{}", x.program),
                title: x.title,
                other: name(x.other.as_str()),
                date: format::date_time(x.taken_at, lang),
            })
            .collect::<Vec<_>>()
    };
    let given = lines(v.hub.station_takes(&s.caller, true, 100).await.map_err(|e| v.fail(e))?);
    let taken = lines(
        v.hub
            .station_takes(&s.caller, false, 100)
            .await
            .map_err(|e| v.fail(e))?,
    );
    let profiles = profiles(&v).await?;
    let follows = follow_lines(&v, &names, &profiles).await?;
    let pushes = push_lines(&v).await?;
    page(&StationPage {
        c: v.chrome(),
        station: name(mine.as_str()),
        groups,
        given,
        taken,
        follows,
        profiles,
        deleted: req.query_string() == "done=deleted",
        follow_saved: req.query_string() == "done=follow",
        people: super::people::lines(&v).await?,
        pushes,
    })
}

#[derive(Deserialize)]
pub struct UnfollowForm {
    csrf: Option<String>,
    #[serde(default)]
    id: String,
}

/// Sends one of the station's pushes again (someone else's is not found).
pub async fn redeliver(v: Visit, body: web::Bytes) -> Result<HttpResponse, WebError> {
    v.signed_in()?;
    let f: UnfollowForm = form(&v, &body)?;
    let s = v.check_csrf(f.csrf.as_deref())?;
    v.hub.redeliver(&s.caller, f.id).await.map_err(|e| v.fail(e))?;
    Ok(see_other("/station#pushes"))
}

#[derive(Deserialize)]
pub struct DeliveryForm {
    csrf: Option<String>,
    #[serde(default)]
    id: String,
    /// A check box: present when checked.
    deliver: Option<String>,
    #[serde(default)]
    profile: String,
}

/// Switches one of the station's follows' automatic delivery on or off and
/// sets its delivery profile (empty: the station's default).
pub async fn follow_delivery(v: Visit, body: web::Bytes) -> Result<HttpResponse, WebError> {
    v.signed_in()?;
    let f: DeliveryForm = form(&v, &body)?;
    let s = v.check_csrf(f.csrf.as_deref())?;
    let change = FollowDelivery {
        deliver: f.deliver.is_some(),
        profile: Some(f.profile).filter(|p| !p.is_empty()),
    };
    v.hub
        .set_follow_delivery(&s.caller, f.id, change)
        .await
        .map_err(|e| v.fail(e))?;
    Ok(see_other("/station?done=follow#follows"))
}

/// Stops one of the station's follows (someone else's is not found).
pub async fn unfollow(v: Visit, body: web::Bytes) -> Result<HttpResponse, WebError> {
    v.signed_in()?;
    let f: UnfollowForm = form(&v, &body)?;
    let s = v.check_csrf(f.csrf.as_deref())?;
    v.hub.unfollow(&s.caller, f.id).await.map_err(|e| v.fail(e))?;
    Ok(see_other("/station#follows"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_push_error_is_said_in_both_languages() {
        let (vi, en) = (include_str!("../i18n/vi.ftl"), include_str!("../i18n/en.ftl"));
        for (_, key) in crate::exchange::delivery::push::ERROR_KEYS {
            let id = format!("\npush-error-{key} = ");
            assert!(vi.contains(&id) && en.contains(&id), "{key}");
        }
    }
}
