//! The hubs this hub follows, on `/admin` (the operator's): each listed with
//! when its feed was last read, what went wrong then, and how many of its
//! programs are mirrored here; added (its token taken once, never shown
//! back) and removed through the same use-cases as `/api/v1/peers`.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde::Deserialize;

use super::admin::render;
use super::form;
use crate::domain::{EagerMirror, Secret, StationId};
use crate::exchange::delivery::peers::{error_kind, NewPeer, PeerErrorKind};
use crate::exchange::ExchangeError;
use crate::web::i18n::Tr;
use crate::web::{format, Visit, WebError};

/// A peer as `/admin` lists it, in words.
pub struct PeerLine {
    pub id: String,
    pub name: String,
    pub url: String,
    /// When its feed was last read (or tried).
    pub polled: String,
    /// "Bình thường", or what went wrong at the last read.
    pub state: String,
    pub ok: bool,
    /// How many of its programs are mirrored here.
    pub mirrored: String,
    /// Which of its files are fetched ahead of need, and the limit.
    pub eager: String,
}

/// The hubs this hub follows (the operator's; nobody else's page shows them).
pub(super) async fn lines(v: &Visit) -> Result<Vec<PeerLine>, WebError> {
    let s = v.signed_in()?;
    let t = v.t();
    let list = v.hub.peer_summaries(&s.caller).await.map_err(|e| v.fail(e))?;
    Ok(list
        .into_iter()
        .map(|p| PeerLine {
            id: p.peer.id.to_string(),
            polled: match p.peer.polled_at {
                Some(at) => format::date_time(at, t.lang),
                None => t.get("peer-never-polled"),
            },
            ok: p.peer.last_error.is_none(),
            state: match &p.peer.last_error {
                None => t.get("peer-ok"),
                Some(e) => error_words(&t, e),
            },
            mirrored: format::integer(p.mirrored, t.lang),
            eager: eager_words(&t, p.peer.eager, p.peer.eager_max_bytes),
            name: p.peer.name,
            url: p.peer.url,
        })
        .collect())
}

/// A peer's eager mirroring, in words.
fn eager_words(t: &Tr, mode: EagerMirror, max: u64) -> String {
    let mode_words = t.get(&format!("peer-eager-{}", mode.as_str()));
    match (mode, max) {
        (EagerMirror::None, _) | (_, 0) => mode_words,
        (_, max) => format!(
            "{mode_words} ({})",
            t.arg("peer-eager-limit", "size", format::size(max, t.lang))
        ),
    }
}

/// What went wrong at a peer's last read, in the page's words (the stored
/// text is the log's, in English).
fn error_words(t: &Tr, stored: &str) -> String {
    match error_kind(stored) {
        PeerErrorKind::Refused => t.get("peer-error-refused"),
        PeerErrorKind::Status(code) => t.arg("peer-error-status", "n", code),
        PeerErrorKind::Unreachable => t.get("peer-error-unreachable"),
        PeerErrorKind::Nonsense => t.get("peer-error-nonsense"),
        PeerErrorKind::Address => t.get("peer-error-address"),
        PeerErrorKind::Other => t.get("peer-error-other"),
    }
}

/// A refused peer form, said on the page; nothing was stored.
async fn refused(v: &Visit, e: ExchangeError) -> Result<HttpResponse, WebError> {
    let t = v.t();
    let why = match e {
        ExchangeError::Invalid(errors) => errors
            .iter()
            .map(|f| {
                t.get(match f.field.as_str() {
                    "id" => "peer-bad-id",
                    "name" => "peer-bad-name",
                    "url" => "peer-bad-url",
                    "token" => "peer-bad-token",
                    "eager" | "eager_max_bytes" => "peer-bad-eager",
                    _ => "error-field-invalid",
                })
            })
            .collect::<Vec<_>>()
            .join(" "),
        ExchangeError::Conflict { .. } => t.get("peer-id-taken"),
        ExchangeError::NotFound => t.get("peer-not-found"),
        other => return Err(v.fail(other)),
    };
    render(v, StatusCode::UNPROCESSABLE_ENTITY, None, None, Some(why)).await
}

#[derive(Deserialize)]
pub struct PeerForm {
    csrf: Option<String>,
    #[serde(default)]
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    url: String,
    #[serde(default)]
    token: String,
    #[serde(default)]
    peer_id: String,
    #[serde(default)]
    eager: String,
    #[serde(default)]
    eager_max_mib: String,
}

/// Follows a hub, as `POST /api/v1/peers` does.
pub async fn add_peer(v: Visit, body: web::Bytes) -> Result<HttpResponse, WebError> {
    v.signed_in()?;
    let f: PeerForm = form(&v, &body)?;
    let s = v.check_csrf(f.csrf.as_deref())?;
    let eager_max_bytes = match f.eager_max_mib.trim() {
        "" => 0,
        n => match n.parse::<u64>() {
            Ok(mib) if mib <= 1 << 40 => mib << 20,
            _ => return refused(&v, ExchangeError::invalid("eager_max_bytes", "a number of MiB")).await,
        },
    };
    let new = NewPeer {
        id: f.id,
        name: f.name,
        url: f.url.trim().to_owned(),
        token: Secret::new(f.token.trim()),
        eager: f.eager,
        eager_max_bytes,
    };
    match v.hub.add_peer(&s.caller, new).await {
        Ok(peer) => {
            let msg = v.t().arg("peer-added", "name", peer.name);
            render(&v, StatusCode::OK, Some(msg), None, None).await
        }
        Err(e) => refused(&v, e).await,
    }
}

/// Stops following a hub, as `DELETE /api/v1/peers/{id}` does: what was
/// mirrored from it is withdrawn here.
pub async fn remove_peer(v: Visit, body: web::Bytes) -> Result<HttpResponse, WebError> {
    v.signed_in()?;
    let f: PeerForm = form(&v, &body)?;
    let s = v.check_csrf(f.csrf.as_deref())?;
    let Ok(id) = StationId::parse(f.peer_id.trim()) else {
        return refused(&v, ExchangeError::NotFound).await;
    };
    match v.hub.remove_peer(&s.caller, id.clone()).await {
        Ok(()) => {
            let msg = v.t().arg("peer-removed", "name", id);
            render(&v, StatusCode::OK, Some(msg), None, None).await
        }
        Err(e) => refused(&v, e).await,
    }
}
