//! The pages, one module per page or group of pages.

mod account;
mod admin;
mod catalog;
mod offer;
mod program;
mod report;
mod station;

use actix_web::web;
use serde::de::DeserializeOwned;

use super::{Visit, WebError};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(catalog::catalog))
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
        .route("/offer", web::get().to(offer::offer_form))
        .route("/offer", web::post().to(offer::offer))
        .route("/programs/{id}/follow", web::post().to(program::follow))
        .route("/station", web::get().to(station::my_station))
        .route("/station/unfollow", web::post().to(station::unfollow))
        .route("/station/redeliver", web::post().to(station::redeliver))
        .route("/report", web::get().to(report::report))
        .route("/report.csv", web::get().to(report::report_csv))
        .route("/admin", web::get().to(admin::admin))
        .route("/admin/stations", web::post().to(admin::add_station))
        .route("/admin/people", web::post().to(admin::add_person))
        .route("/admin/people/unlock", web::post().to(admin::unlock_login))
        .route("/admin/tokens", web::post().to(admin::issue_token))
        .route("/admin/tokens/revoke", web::post().to(admin::revoke_token))
        .route("/admin/webhooks/remove", web::post().to(admin::remove_webhook));
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
            role: k.role.as_str().to_owned(),
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
}
