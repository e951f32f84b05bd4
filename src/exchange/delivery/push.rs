//! Push delivery, for stations that run no agent: the hub writes what a
//! station's delivering follows match into the station's own SFTP server,
//! FTP server or S3 bucket (its "target"), from its cursor over the log into
//! an outbox of pushes that its worker sends, resumed, with backoff.
//!
//! A push writes `NAME.<digest>.part` (resumed from the size already there),
//! gives it its final name only when whole, then writes `NAME.md5`, the
//! station's "complete" signal; on S3 a multipart upload appears under its
//! name only when complete. See [`send`].

mod ftp;
mod send;
mod sftp;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;

use crate::catalog::{self, follows, programs, push, renditions as profiles, stations};
use crate::catalog::{Connection, DbResult, Transaction};
use crate::domain::push::{check_push_template, is_slug, pushed_name};
use crate::domain::template::Choice;
use crate::domain::{Event, EventType, FieldError, FileRole, Follow, Program, PushDelivery, PushState};
use crate::domain::{PushTarget, Secret, StationId, StationKind, TargetKind, Viewer};
use crate::exchange::error::code;
use crate::exchange::renditions::{Rendition, RENDITION_RETRY_AFTER_SECS};
use crate::exchange::rights::{may_see, may_take, NotNow};
use crate::exchange::tokens::Caller;
use crate::exchange::{ExchangeError, Hub};

/// The push channel's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct PushSettings {
    /// The first wait before a failed push is tried again (doubled each
    /// time, at most an hour).
    pub retry: Duration,
    /// Tries before a push is given up (a redelivery starts again).
    pub max_attempts: u32,
    /// Pushes sent at once (one per target at a time).
    pub lanes: usize,
}

impl Default for PushSettings {
    fn default() -> Self {
        Self {
            retry: Duration::from_secs(30),
            max_attempts: 10,
            lanes: 4,
        }
    }
}

/// How a push's `error` begins, for each kind of fault a station can act
/// on, and a key the pages say it by in their own language (the API says
/// the words).
pub const ERROR_KEYS: &[(&str, &str)] = &[
    ("the server refused the user name or password", "password"),
    ("the bucket refused the access key or secret", "password"),
    ("the server could not write the file (is its disk full?)", "full"),
    ("the server is full", "full"),
    ("the server refused to write there", "denied"),
    ("could not connect", "connect"),
    ("could not reach the bucket", "connect"),
    ("the connection dropped", "dropped"),
    ("the server stopped", "dropped"),
    ("the server's host key", "host-key"),
    ("refused: the address", "address"),
    ("stopped: the program was withdrawn", "withdrawn"),
    ("stopped: the program changed", "changed"),
    ("the target was removed", "removed"),
    ("waiting for the file in the station's delivery profile", "rendering"),
    (
        "the file could not be made in the station's delivery profile",
        "rendition",
    ),
];

/// The key of `error` in [`ERROR_KEYS`], if it is one of those.
pub fn error_key(error: &str) -> Option<&'static str> {
    ERROR_KEYS
        .iter()
        .find(|(start, _)| error.starts_with(start))
        .map(|(_, key)| *key)
}

/// The most targets one station may have.
pub const MAX_TARGETS: usize = 20;

/// A target as a station asks for it.
#[derive(Debug, Clone)]
pub struct NewTarget {
    pub kind: TargetKind,
    pub url: String,
    pub username: String,
    pub secret: Secret,
    pub path: String,
    pub profile: Option<String>,
    pub template: Option<String>,
}

/// Wakes the push worker; the targets whose push is being sent.
#[derive(Clone, Default)]
pub struct PushWork {
    wake: Arc<Notify>,
    busy: Arc<Mutex<HashSet<String>>>,
}

/// What a follow's delivery to `target` sends of a file in role `role`:
/// the follow's profile, else the target's, else the station's default
/// (`default`); `None`, the file as uploaded. Only a master is rendered.
fn profile_of(follow: &Follow, target: &PushTarget, default: Option<String>, role: FileRole) -> Option<String> {
    if role != FileRole::Master {
        return None;
    }
    follow.profile.clone().or_else(|| target.profile.clone()).or(default)
}

fn check_text(errors: &mut Vec<FieldError>, field: &str, value: &str, max: usize) {
    if value.is_empty() || value.chars().count() > max || value.chars().any(char::is_control) {
        errors.push(FieldError::new(
            field,
            format!("must be 1 to {max} characters, without control characters"),
        ));
    }
}

/// The target's URL, if it is one of its kind: scheme, host, optional port,
/// nothing else (an S3 endpoint may name its `region`).
fn check_url(kind: TargetKind, raw: &str) -> Result<url::Url, String> {
    let shape = match kind {
        TargetKind::Sftp => "must be sftp://host or sftp://host:port",
        TargetKind::Ftp => "must be ftp://host or ftp://host:port",
        TargetKind::S3 => "must be the S3 endpoint, http(s)://host[:port] (optionally ?region=NAME)",
    };
    let url = url::Url::parse(raw.trim()).map_err(|_| shape.to_owned())?;
    let query_ok = match url.query() {
        None => true,
        Some(q) => kind == TargetKind::S3 && url.query_pairs().all(|(k, _)| k == "region") && q.len() <= 100,
    };
    let ok = kind.schemes().contains(&url.scheme())
        && url.host_str().is_some_and(|h| !h.is_empty())
        && url.username().is_empty()
        && url.password().is_none()
        && matches!(url.path(), "" | "/")
        && url.fragment().is_none()
        && query_ok
        && raw.len() <= 500;
    ok.then_some(url).ok_or_else(|| shape.to_owned())
}

/// The folder on the target: no `..`, no control characters; for S3 the
/// first component is the bucket.
fn check_path(kind: TargetKind, path: &str) -> Result<(), String> {
    if path.chars().count() > 500 || path.chars().any(|c| c.is_control() || c == '\\') {
        return Err("must be at most 500 characters, without control characters or backslashes".into());
    }
    if path.split('/').any(|c| c == "..") {
        return Err("must not contain `..`".into());
    }
    if kind == TargetKind::S3 {
        let bucket = path.trim_start_matches('/').split('/').next().unwrap_or("");
        let ok = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        if !ok {
            return Err(
                "must start with the bucket's name (3 to 63 lowercase letters, digits, dots and hyphens)".into(),
            );
        }
    }
    Ok(())
}

/// A page's cursor: where the next begins (opaque to clients).
fn write_cursor(at: DateTime<Utc>, id: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{}.{id}", catalog::to_micros(at)))
}

fn read_cursor(cursor: &str) -> Option<(DateTime<Utc>, String)> {
    use base64::Engine;
    let text = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(cursor).ok()?;
    let (at, id) = std::str::from_utf8(&text).ok()?.split_once('.')?;
    let id = uuid::Uuid::parse_str(id).ok()?;
    Some((catalog::from_micros(at.parse().ok()?), id.to_string()))
}

/// Who a station is, for the rights rule.
fn station_viewer(conn: &Connection, id: &StationId) -> DbResult<Viewer> {
    let national = stations::get(conn, id)?.is_some_and(|s| s.kind == StationKind::National);
    Ok(Viewer::Station {
        id: id.clone(),
        national,
    })
}

/// Targets belong to a station; the operator has none.
fn owner(caller: &Caller) -> Result<&StationId, ExchangeError> {
    caller.station.as_ref().ok_or(ExchangeError::Forbidden(
        "push targets belong to a station; the operator has none",
    ))
}

impl Hub {
    #[tracing::instrument(skip_all, fields(caller = %caller.token_id))]
    pub async fn add_target(&self, caller: &Caller, new: NewTarget) -> Result<PushTarget, ExchangeError> {
        let station = owner(caller)?.clone();
        if !caller.may_offer() {
            return Err(ExchangeError::Forbidden("delivery settings belong to editors"));
        }
        let mut errors = Vec::new();
        let url = match check_url(new.kind, &new.url) {
            Ok(url) => match self.webhook_guard.check(&url).await {
                Ok(()) => url.to_string(),
                Err(refusal) => {
                    errors.push(FieldError::new("url", refusal.shown()));
                    String::new()
                }
            },
            Err(e) => {
                errors.push(FieldError::new("url", e));
                String::new()
            }
        };
        check_text(&mut errors, "username", &new.username, 256);
        check_text(&mut errors, "secret", new.secret.expose(), 1024);
        if let Err(e) = check_path(new.kind, &new.path) {
            errors.push(FieldError::new("path", e));
        }
        if new.profile.as_deref().is_some_and(|p| !is_slug(p)) {
            errors.push(FieldError::new(
                "profile",
                "must be a profile's id: a slug of lowercase letters, digits and single hyphens",
            ));
        } else if let Some(p) = new.profile.clone() {
            if self.catalog.read(move |c| profiles::profile(c, &p)).await?.is_none() {
                errors.push(FieldError::new("profile", "no profile has this id"));
            }
        }
        if let Some(Err(why)) = new.template.as_deref().map(check_push_template) {
            errors.push(FieldError::new("template", why));
        }
        if !errors.is_empty() {
            return Err(ExchangeError::Invalid(errors));
        }
        let target = PushTarget {
            id: uuid::Uuid::new_v4().to_string(),
            station,
            kind: new.kind,
            url,
            username: new.username,
            secret: new.secret,
            path: new.path,
            profile: new.profile,
            template: new.template,
            host_key: None,
            created_at: catalog::now(),
        };
        let stored = target.clone();
        self.catalog
            .write(move |tx| {
                if push::count_targets(tx, &stored.station)? >= MAX_TARGETS {
                    return Err(ExchangeError::conflict(
                        code::TOO_MANY_TARGETS,
                        format!("a station may have at most {MAX_TARGETS} push targets; remove one first"),
                    ));
                }
                Ok(push::insert_target(tx, &stored)?)
            })
            .await?;
        Ok(target)
    }

    /// The caller station's targets.
    #[tracing::instrument(skip_all, fields(caller = %caller.token_id))]
    pub async fn targets(&self, caller: &Caller) -> Result<Vec<PushTarget>, ExchangeError> {
        let station = owner(caller)?.clone();
        Ok(self.catalog.read(move |c| push::targets(c, &station)).await?)
    }

    /// Removes a target of the caller's station (another's is not found):
    /// its pushes not done stop.
    #[tracing::instrument(skip_all, fields(caller = %caller.token_id))]
    pub async fn remove_target(&self, caller: &Caller, id: String) -> Result<(), ExchangeError> {
        let station = owner(caller)?.clone();
        if !caller.may_offer() {
            return Err(ExchangeError::Forbidden("delivery settings belong to editors"));
        }
        let gone = self
            .catalog
            .write(move |tx| push::delete_target(tx, &station, &id, catalog::now()))
            .await?;
        gone.then_some(()).ok_or(ExchangeError::NotFound)
    }

    /// A page of the caller station's pushes, newest first, and the cursor
    /// of the next page (none at the end). `cursor`: the previous page's.
    #[tracing::instrument(skip_all, fields(caller = %caller.token_id))]
    pub async fn pushes(
        &self,
        caller: &Caller,
        cursor: Option<String>,
        limit: usize,
    ) -> Result<(Vec<PushDelivery>, Option<String>), ExchangeError> {
        let station = owner(caller)?.clone();
        let before = match cursor.as_deref() {
            Some(c) => {
                Some(read_cursor(c).ok_or_else(|| ExchangeError::invalid("cursor", "not a cursor of this list"))?)
            }
            None => None,
        };
        let mut page = self
            .catalog
            .read(move |c| {
                let before = before.as_ref().map(|(at, id)| (*at, id.as_str()));
                push::of_station(c, &station, before, limit + 1)
            })
            .await?;
        let next = (page.len() > limit).then(|| {
            page.truncate(limit);
            page.last().map(|d| write_cursor(d.created_at, &d.id))
        });
        Ok((page, next.flatten()))
    }

    /// Sends push `id` of the caller's station again, from what the target
    /// already holds; `409 delivery_sending` while it is being sent.
    #[tracing::instrument(skip_all, fields(caller = %caller.token_id))]
    pub async fn redeliver(&self, caller: &Caller, id: String) -> Result<PushDelivery, ExchangeError> {
        let station = owner(caller)?.clone();
        if !caller.may_offer() {
            return Err(ExchangeError::Forbidden("delivery settings belong to editors"));
        }
        let d = self
            .catalog
            .write(move |tx| {
                let d = push::get(tx, &id)?.filter(|d| d.station == station);
                let Some(d) = d else {
                    return Err(ExchangeError::NotFound);
                };
                if !push::redeliver(tx, &station, &id, catalog::now())? {
                    return Err(ExchangeError::conflict(
                        code::DELIVERY_SENDING,
                        "the delivery is being sent; ask again when it ends",
                    ));
                }
                Ok(push::get(tx, &d.id)?.unwrap_or(d))
            })
            .await?;
        self.push_work.wake.notify_one();
        Ok(d)
    }

    /// The push channel takes `batch` from the log: a change or withdrawal
    /// stops the program's pushes not done yet; a publication (or a change)
    /// queues each file a delivering follow with a target matches, once per
    /// content and target.
    pub(super) fn enqueue_pushes(&self, tx: &Transaction<'_>, batch: &[Event]) -> DbResult<()> {
        let delivering = push::delivering_follows(tx)?;
        let now = catalog::now();
        for event in batch {
            match event.kind {
                EventType::Withdrawn => {
                    push::stop_program(tx, event.program_id, "stopped: the program was withdrawn", now)?;
                    continue;
                }
                EventType::Updated | EventType::FileReplaced => {
                    push::stop_program(
                        tx,
                        event.program_id,
                        "stopped: the program changed, and is sent again as it is now",
                        now,
                    )?;
                }
                EventType::Published => {}
                _ => continue,
            }
            if delivering.is_empty() {
                continue;
            }
            let Some(stored) = programs::get(tx, event.program_id)? else {
                continue;
            };
            self.enqueue_program(tx, &stored.program, &delivering, now)?;
        }
        Ok(())
    }

    fn enqueue_program(
        &self,
        tx: &Transaction<'_>,
        program: &Program,
        delivering: &[(StationId, String, String)],
        now: DateTime<Utc>,
    ) -> DbResult<()> {
        for (station, follow_id, target_id) in delivering {
            let Some(follow) = follows::get(tx, station, follow_id)? else {
                continue;
            };
            if !follow.rule().is_some_and(|r| r.matches(program)) {
                continue;
            }
            let viewer = station_viewer(tx, station)?;
            let (state, at) = match may_take(&viewer, program, now) {
                _ if !may_see(&viewer, program) => continue,
                Ok(()) => (PushState::Pending, now),
                Err(NotNow::NotYetAvailable) => (
                    PushState::WaitingWindow,
                    program.meta.rights.available_from.unwrap_or(now),
                ),
                Err(_) => continue,
            };
            let Some(target) = push::target_of(tx, Some(station), target_id)? else {
                continue;
            };
            let default = profiles::default_profile(tx, station)?;
            for role in &follow.roles {
                let Some(file) = program.files.iter().find(|f| f.role == *role) else {
                    continue;
                };
                if push::already(tx, target_id, program.id, *role, &file.sha256.hex())? {
                    continue;
                }
                let profile = profile_of(&follow, &target, default.clone(), *role);
                // The name carries the extension of what is sent.
                let container = match &profile {
                    Some(p) => profiles::profile(tx, p)?.map(|p| p.container),
                    None => None,
                };
                let filename = container.map_or_else(|| file.filename.clone(), |c| c.file_name(&file.filename));
                let choice = Choice {
                    profile: profile.clone(),
                    cut_id: follow.cut_id.clone(),
                };
                push::insert_delivery(
                    tx,
                    &PushDelivery {
                        id: uuid::Uuid::new_v4().to_string(),
                        station: station.clone(),
                        target_id: target_id.clone(),
                        program_id: program.id,
                        role: *role,
                        master_sha256: file.sha256,
                        name: pushed_name(program, *role, &filename, target.template.as_deref(), &choice),
                        profile,
                        sha256: file.sha256,
                        size: file.size,
                        state,
                        bytes: 0,
                        attempts: 0,
                        stalls: 0,
                        error: None,
                        next_attempt_at: at,
                        created_at: now,
                        updated_at: now,
                        resume: None,
                    },
                )?;
            }
        }
        Ok(())
    }

    pub(in crate::exchange) fn wake_pushes(&self) {
        self.push_work.wake.notify_one();
    }

    /// Sends what is due, forever: woken when pushes are queued, and when the
    /// next is due.
    pub async fn run_pushes(self) {
        let slots = Arc::new(tokio::sync::Semaphore::new(self.settings.delivery.push.lanes.max(1)));
        loop {
            if let Err(e) = self.take_events().await {
                tracing::error!(error = %e, "could not take events for pushes");
            }
            let wait = match self.start_pushes(&slots).await {
                Ok(wait) => wait,
                Err(e) => {
                    tracing::error!(error = %e, "push deliveries failed");
                    Duration::from_secs(1)
                }
            };
            tokio::select! {
                _ = self.push_work.wake.notified() => {}
                _ = tokio::time::sleep(wait.max(Duration::from_millis(20))) => {}
            }
        }
    }

    /// Starts a push for each due one whose target is free, while slots are;
    /// returns how long until the next is due.
    async fn start_pushes(&self, slots: &Arc<tokio::sync::Semaphore>) -> Result<Duration, ExchangeError> {
        let now = Utc::now();
        let (due, next) = self.catalog.read(move |c| push::due(c, now, 100)).await?;
        let mut wait = next
            .map(|n| (n - now).to_std().unwrap_or_default())
            .unwrap_or(Duration::from_secs(60))
            .min(Duration::from_secs(60));
        for d in due {
            if self.push_work.busy.lock().expect("busy targets").contains(&d.target_id) {
                // Its target's push wakes the worker when it ends.
                continue;
            }
            let Ok(slot) = slots.clone().try_acquire_owned() else {
                wait = wait.min(Duration::from_secs(1));
                break;
            };
            let (id, now) = (d.id.clone(), Utc::now());
            let lease = now + send::lease();
            if !self.catalog.write(move |tx| push::claim(tx, &id, now, lease)).await? {
                continue;
            }
            self.push_work
                .busy
                .lock()
                .expect("busy targets")
                .insert(d.target_id.clone());
            let hub = self.clone();
            tokio::spawn(async move {
                let target = d.target_id.clone();
                hub.push_one(d).await;
                hub.push_work.busy.lock().expect("busy targets").remove(&target);
                drop(slot);
                hub.push_work.wake.notify_one();
            });
        }
        Ok(wait)
    }

    /// One attempt at push `d` (claimed), recorded. An attempt that moved
    /// the file forward on the target before it failed is tried again soon
    /// and never counts towards giving up: a long file over a link that
    /// drops keeps going; attempts in a row that moved nothing back off and,
    /// after `max_attempts`, give up.
    async fn push_one(&self, d: PushDelivery) {
        let mut moved = false;
        let outcome = self.attempt(&d, &mut moved).await;
        let now = Utc::now();
        let mut stalls = if moved { 0 } else { d.stalls + 1 };
        let (state, error, next) = match outcome {
            Ok(()) => (PushState::Done, None, now),
            Err(send::Failure::Later(why, at)) => {
                // Waiting for the hub itself is no stall of the link.
                stalls = d.stalls;
                (PushState::Pending, Some(why), at)
            }
            Err(send::Failure::Wait(at)) => (PushState::WaitingWindow, None, at),
            Err(send::Failure::Final(why)) => (PushState::Failed, Some(why), now),
            Err(send::Failure::Retry(why)) if stalls >= self.settings.delivery.push.max_attempts => (
                PushState::Failed,
                Some(format!(
                    "{why} (gave up after {stalls} attempts in a row that sent nothing)"
                )),
                now,
            ),
            Err(send::Failure::Retry(why)) => {
                let wait = super::webhooks::backoff(stalls.saturating_sub(1), self.settings.delivery.push.retry);
                (
                    PushState::Pending,
                    Some(why),
                    now + chrono::Duration::from_std(wait).unwrap_or_default(),
                )
            }
        };
        let id = d.id.clone();
        let recorded = self
            .catalog
            .write(move |tx| {
                let a = push::Attempt {
                    state,
                    error: error.as_deref(),
                    next,
                    stalls,
                };
                push::attempted(tx, &id, &a, now)
            })
            .await;
        if let Err(e) = recorded {
            tracing::error!(error = %e, delivery = %d.id, "could not record a push attempt");
        }
    }

    /// Checks that push `d` may still go, then sends it.
    async fn attempt(&self, d: &PushDelivery, moved: &mut bool) -> Result<(), send::Failure> {
        let (station, target_id, program_id) = (d.station.clone(), d.target_id.clone(), d.program_id);
        let loaded = self
            .catalog
            .read(move |c| {
                let target = push::target_of(c, Some(&station), &target_id)?;
                let program = programs::get(c, program_id)?.map(|s| s.program);
                let viewer = station_viewer(c, &station)?;
                Ok::<_, ExchangeError>((target, program, viewer))
            })
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "could not prepare a push");
                send::Failure::Retry("the hub could not prepare the delivery".into())
            })?;
        let (Some(target), Some(program)) = (loaded.0, loaded.1) else {
            return Err(send::Failure::Final("the target or the program is gone".into()));
        };
        let viewer = loaded.2;
        match may_take(&viewer, &program, Utc::now()) {
            _ if !may_see(&viewer, &program) => {
                return Err(send::Failure::Final("the program is no longer visible".into()))
            }
            Ok(()) => {}
            Err(NotNow::NotYetAvailable) => {
                return Err(send::Failure::Wait(
                    program.meta.rights.available_from.unwrap_or_else(Utc::now),
                ))
            }
            Err(NotNow::Withdrawn) => return Err(send::Failure::Final("the program was withdrawn".into())),
            Err(_) => return Err(send::Failure::Final("the program's rights window has closed".into())),
        }
        if !program
            .files
            .iter()
            .any(|f| f.role == d.role && f.sha256 == d.master_sha256)
        {
            return Err(send::Failure::Final(
                "the file changed; its new content is sent as its own delivery".into(),
            ));
        }
        let r = self.what_to_send(d).await?;
        let mut d = d.clone();
        let (sha, size) = (r.download.file.sha256, r.download.file.size);
        if (sha, size) != (d.sha256, d.size) {
            let id = d.id.clone();
            self.catalog
                .write(move |tx| push::set_content(tx, &id, &sha.hex(), size))
                .await
                .map_err(|_| send::Failure::Retry("the hub could not record the delivery".into()))?;
            (d.sha256, d.size) = (sha, size);
        }
        self.push_file(&d, &target, &r, moved).await?;
        // Delivered whole: the station took it.
        if let Err(e) = self.record_received(r.download.clone(), 0..size).await {
            tracing::error!(error = %e, delivery = %d.id, "could not record a push's take");
        }
        Ok(())
    }

    /// The file push `d` sends: as uploaded, or its rendition in the
    /// delivery's profile once made (asking starts it).
    async fn what_to_send(
        &self,
        d: &PushDelivery,
    ) -> Result<crate::exchange::renditions::RenditionFile, send::Failure> {
        match self
            .source(&d.station, d.program_id, d.role, d.profile.as_deref())
            .await
        {
            Ok(Rendition::Ready(r)) => Ok(*r),
            Ok(Rendition::Making(_)) => Err(send::Failure::Later(
                "waiting for the file in the station's delivery profile to be made".into(),
                Utc::now() + chrono::Duration::seconds(RENDITION_RETRY_AFTER_SECS as i64),
            )),
            Err(ExchangeError::RenditionFailed(why)) => Err(send::Failure::Final(format!(
                "the file could not be made in the station's delivery profile: {why}"
            ))),
            Err(ExchangeError::NotFound) => Err(send::Failure::Final(
                "the program, its file or the delivery profile is gone".into(),
            )),
            Err(e) => {
                tracing::error!(error = %e, delivery = %d.id, "could not prepare a push");
                Err(send::Failure::Retry("the hub could not prepare the delivery".into()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_have_keys_the_pages_translate() {
        assert_eq!(
            error_key("the server refused the user name or password"),
            Some("password")
        );
        assert_eq!(
            error_key("the connection dropped (gave up after 10 attempts in a row that sent nothing)"),
            Some("dropped")
        );
        assert_eq!(error_key("something else"), None);
    }

    #[test]
    fn urls_of_each_kind() {
        assert!(check_url(TargetKind::Sftp, "sftp://sftp.station.example:2222").is_ok());
        assert!(check_url(TargetKind::Ftp, "ftp://ftp.station.example").is_ok());
        assert!(check_url(TargetKind::S3, "https://s3.station.example?region=vn-north").is_ok());
        for (kind, bad) in [
            (TargetKind::Sftp, "ftp://x"),
            (TargetKind::Sftp, "sftp://user:pw@x"),
            (TargetKind::Sftp, "sftp://x/in"),
            (TargetKind::Sftp, "sftp://x?region=a"),
            (TargetKind::Ftp, "ftp://x#frag"),
            (TargetKind::S3, "https://x?acl=public"),
            (TargetKind::S3, "s3://bucket"),
            (TargetKind::Sftp, "not a url"),
        ] {
            assert!(check_url(kind, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn paths_stay_inside_and_s3_names_its_bucket() {
        for ok in ["", "in", "/srv/playout/in", "Thư mục/vào"] {
            assert!(check_path(TargetKind::Sftp, ok).is_ok(), "{ok}");
        }
        for bad in ["../x", "in/../../etc", "in\\x", "a\u{7}b"] {
            assert!(check_path(TargetKind::Ftp, bad).is_err(), "{bad}");
        }
        assert!(check_path(TargetKind::S3, "playout-bucket/in").is_ok());
        for bad in ["", "B", "ab", "a_b/in"] {
            assert!(check_path(TargetKind::S3, bad).is_err(), "{bad}");
        }
    }
}
