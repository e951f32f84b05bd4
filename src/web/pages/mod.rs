//! The pages, one module per page or group of pages.

mod account;
mod admin;
mod catalog;
mod download_list;
mod edit;
mod news;
mod offer;
mod peers;
mod people;
mod profiles;
mod program;
mod report;
mod station;

use actix_web::web;
use serde::de::DeserializeOwned;

use super::i18n::Tr;
use super::{Visit, WebError};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(catalog::catalog))
        .route("/news", web::get().to(news::news))
        .route("/list", web::get().to(download_list::list))
        .route("/list/add", web::post().to(download_list::add))
        .route("/list/remove", web::post().to(download_list::remove))
        .route("/list/hand", web::post().to(download_list::hand))
        .route("/list/stop", web::post().to(download_list::stop))
        .route("/news/count", web::get().to(news::news_count))
        .route("/sign-in", web::get().to(account::sign_in_form))
        .route("/sign-in", web::post().to(account::sign_in))
        .route("/sign-out", web::post().to(account::sign_out))
        .route("/account", web::get().to(account::account))
        .route("/account/password", web::post().to(account::change_password))
        .route("/account/language", web::post().to(account::set_language))
        .route("/programs/{id}", web::get().to(program::program))
        .route("/programs/{id}/rebroadcasts", web::post().to(program::rebroadcast))
        .route("/programs/{id}/publish", web::post().to(program::publish))
        .route("/programs/{id}/withdraw", web::post().to(program::withdraw))
        .route("/programs/{id}/upload", web::get().to(offer::upload_page))
        .route("/programs/{id}/files", web::get().to(offer::files_part))
        .route("/programs/{id}/edit", web::get().to(edit::edit_form))
        .route("/programs/{id}/edit", web::post().to(edit::edit))
        .route("/programs/{id}/delete", web::post().to(edit::delete))
        .route("/offer", web::get().to(offer::offer_form))
        .route("/offer", web::post().to(offer::offer))
        .route("/programs/{id}/follow", web::post().to(program::follow))
        .route("/station", web::get().to(station::my_station))
        .route("/station/unfollow", web::post().to(station::unfollow))
        .route("/station/follows/delivery", web::post().to(station::follow_delivery))
        .route("/station/redeliver", web::post().to(station::redeliver))
        .route("/report", web::get().to(report::report))
        .route("/report.csv", web::get().to(report::report_csv))
        .route("/admin", web::get().to(admin::admin))
        .route("/admin/stations", web::post().to(admin::add_station))
        .route("/admin/people", web::post().to(admin::add_person))
        .route("/admin/people/unlock", web::post().to(admin::unlock_login))
        .route("/people/manage", web::post().to(people::manage))
        .route("/admin/tokens", web::post().to(admin::issue_token))
        .route("/admin/tokens/revoke", web::post().to(admin::revoke_token))
        .route("/admin/webhooks/remove", web::post().to(admin::remove_webhook))
        .route("/admin/profiles", web::get().to(profiles::profiles))
        .route("/admin/profiles", web::post().to(profiles::add_profile))
        .route("/admin/profiles/remove", web::post().to(profiles::remove_profile))
        .route("/admin/peers", web::post().to(peers::add_peer))
        .route("/admin/peers/remove", web::post().to(peers::remove_peer));
}

/// Every station of the cluster.
pub(super) async fn stations(v: &Visit) -> Result<Vec<crate::domain::Station>, WebError> {
    v.hub.list_stations(None, 1000).await.map_err(|e| v.fail(e))
}

/// Every station's name by its id, for showing names where the catalog
/// holds ids.
pub(super) struct StationNames(std::collections::HashMap<String, String>);

impl StationNames {
    /// The name of station `id`, or the id when no station has it.
    pub(super) fn of(&self, id: &str) -> String {
        self.0.get(id).cloned().unwrap_or_else(|| id.to_owned())
    }

    /// Where a program comes from: its station's name, or for one mirrored
    /// from a peer hub, the peer's and its origin station's ("Cụm 2 — Đài
    /// PT-TH Cao Bằng").
    pub(super) fn of_program(&self, p: &crate::domain::Program) -> String {
        match &p.origin {
            Some(o) => format!("{} — {}", self.of(o.peer.as_str()), o.station_name),
            None => self.of(p.station.as_str()),
        }
    }
}

pub(super) async fn station_names(v: &Visit) -> Result<StationNames, WebError> {
    Ok(StationNames(
        stations(v)
            .await?
            .into_iter()
            .map(|s| (s.id.to_string(), s.name))
            .collect(),
    ))
}

/// A form body (`application/x-www-form-urlencoded`) as `T`; a body that
/// does not parse is refused in words.
pub(super) fn form<T: DeserializeOwned>(v: &Visit, body: &[u8]) -> Result<T, WebError> {
    serde_html_form::from_bytes(body).map_err(|_| v.refuse(actix_web::http::StatusCode::BAD_REQUEST, "error-invalid"))
}

/// A program id from a path; one that is not a program id names nothing.
pub(super) fn program_id(v: &Visit, raw: &str) -> Result<crate::domain::ProgramId, WebError> {
    crate::domain::ProgramId::parse(raw)
        .ok_or_else(|| v.refuse(actix_web::http::StatusCode::NOT_FOUND, "error-not-found"))
}

/// A token as the pages list it.
pub(super) struct TokenLine {
    pub id: String,
    pub station: String,
    pub label: String,
    pub role: String,
    pub created: String,
    pub live: bool,
}

/// The caller's station's tokens (the operator's: every token), in words.
pub(super) async fn token_lines(v: &Visit, caller: &crate::exchange::Caller) -> Result<Vec<TokenLine>, WebError> {
    let t = v.t();
    Ok(v.hub
        .tokens(caller)
        .await
        .map_err(|e| v.fail(e))?
        .into_iter()
        .map(|k| TokenLine {
            id: k.id,
            station: k.station.map(|s| s.to_string()).unwrap_or_default(),
            label: k.label,
            role: t.get(&format!("token-role-{}", k.role.as_str())),
            created: crate::web::format::date(k.created_at, t.lang),
            live: !k.revoked,
        })
        .collect())
}

/// The field errors of a refused form, by field name, in the use-case's
/// words (the API's validation, shown next to each field).
#[derive(Debug, Default, Clone)]
pub(super) struct FieldErrors(pub Vec<(String, String)>);

impl FieldErrors {
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(f, _)| f == field || f.starts_with(&format!("{field}[")) || f.starts_with(&format!("{field}.")))
            .map(|(_, m)| m.as_str())
    }

    pub fn any(&self) -> bool {
        !self.0.is_empty()
    }

    /// The use-case's field errors (its own words, English for the API) in
    /// the page's words: never the parser's or the API's text.
    pub fn words(t: &Tr, errors: Vec<(String, String)>) -> Self {
        Self(
            errors
                .into_iter()
                .map(|(field, why)| {
                    let m = field_message(t, &field, &why);
                    (field, m)
                })
                .collect(),
        )
    }

    /// The labels of the fields in error, each once, in order, with the id
    /// of its field (for the list at the top of a form).
    pub fn labels(&self, t: &Tr) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for (field, _) in &self.0 {
            let (id, label) = field_label(t, field);
            if !out.iter().any(|(i, _)| *i == id) {
                out.push((id, label));
            }
        }
        out
    }
}

/// The form field (its element id) and its label, for a field the use-case
/// names (`title`, `rights.available_until`, `languages[2]`).
pub(super) fn field_label(t: &Tr, field: &str) -> (String, String) {
    let base = field.split(['[', '.']).next().unwrap_or(field);
    let (id, label) = match field {
        f if f.starts_with("rights.stations") => ("rights_stations", "field-stations"),
        f if f.starts_with("rights.available_from") => ("available_from", "field-available-from"),
        f if f.starts_with("rights.available_until") => ("available_until", "field-available-until"),
        f if f.starts_with("rights.terms") => ("terms", "field-terms"),
        f if f.starts_with("rights.audience") => ("audience", "field-audience"),
        _ => match base {
            "title" => ("title", "field-title"),
            "summary" => ("summary", "field-summary"),
            "description" => ("description", "field-description"),
            "tags" => ("tags", "field-tags"),
            "kind" => ("kind", "field-kind"),
            "genre" => ("genre", "field-genre"),
            "languages" => ("languages", "field-languages"),
            "series" => ("series", "field-series"),
            "episode" => ("episode", "field-episode"),
            "first_aired_at" => ("first_aired_at", "field-first-aired"),
            "duration_seconds" => ("duration_minutes", "field-duration"),
            "credits" => ("producer", "credit-producer"),
            "aired_at" => ("aired_at", "aired-at"),
            "channel" => ("channel", "channel"),
            "note" => ("note", "note"),
            "reason" => ("reason", "withdraw-reason"),
            "login" => ("login", "login-name"),
            "name" => ("name", "name"),
            "station" => ("station", "station"),
            "role" => ("role", "person-role"),
            "province" => ("province", "province"),
            "rights" => ("audience", "rights"),
            _ => ("", "field-other"),
        },
    };
    (id.to_owned(), t.get(label))
}

/// One field error in the page's words. The use-case's messages are
/// matched by their fixed shapes; anything else reads as "not valid",
/// never as the use-case's own (English) text.
fn field_message(t: &Tr, field: &str, why: &str) -> String {
    let number_after =
        |prefix: &str| -> Option<String> { why.strip_prefix(prefix)?.split_whitespace().next().map(str::to_owned) };
    if let Some(id) = match why {
        "date" => Some("error-date"),
        "number" => Some("error-number"),
        "choose" => Some("error-choose"),
        "must not be empty" => Some("error-empty"),
        "must name at least one language" => Some("error-no-language"),
        "must be after available_from" => Some("error-until-before-from"),
        _ if why.starts_with("must name at least one station") => Some("error-no-station-chosen"),
        _ if why.starts_with("must be empty unless") => Some("error-stations-unless"),
        _ if why.starts_with("no station") => Some("error-unknown-station"),
        _ if why.starts_with("must not contain") => Some("error-hidden-characters"),
        _ if field.starts_with("languages[") => Some("error-language-tag"),
        _ => None,
    } {
        return t.get(id);
    }
    if let Some(n) = number_after("must be at most ") {
        return t.arg("error-too-long", "n", n);
    }
    if let Some(n) = number_after("at most ") {
        return t.arg("error-too-many-items", "n", n);
    }
    if let Some(range) = why.strip_prefix("must be between ") {
        if let Some((a, b)) = range.split_once(" and ") {
            return t.arg("error-range", "n", format!("{a}–{b}"));
        }
    }
    t.get("error-field-invalid")
}
