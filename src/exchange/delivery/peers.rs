//! Peer hubs: the hubs this hub follows, and the channel that mirrors what
//! they share. A peer is read through its public API, as any follower reads
//! it: its feed from a saved cursor, with the token its operator issued for
//! this hub. Each program it shows (audience `all`, its own, not itself
//! mirrored) is kept here as a mirror: its metadata and file records, marked
//! with its origin, owned by the peer's station row, withdrawn when the
//! peer withdraws it. What the peer may not share is refused, one log line
//! each, and nothing of it stored.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::emit;
use crate::catalog::index::SearchIndex;
use crate::catalog::{self, peers, programs, stations, Transaction};
use crate::domain::{
    Audience, Credit, EagerMirror, EventType, FileRecord, FileRole, Genre, Origin, Peer, Program, ProgramId,
    ProgramInput, ProgramKind, ProgramStatus, RightsInput, Secret, Sha256, Station, StationId, StationKind,
};
use crate::exchange::error::code;
use crate::exchange::programs::parse_metadata;
use crate::exchange::{Caller, ExchangeError, Hub};

/// The peer channel's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerSettings {
    /// How long the worker waits between two reads of every peer's feed.
    pub poll: Duration,
    /// Subscribe to each peer's webhooks, so that its changes wake the
    /// worker at once (see [`super::peer_wake`]).
    pub wake: bool,
}

impl Default for PeerSettings {
    fn default() -> Self {
        Self {
            poll: Duration::from_secs(30),
            wake: true,
        }
    }
}

/// A peer as the operator adds it.
#[derive(Debug, Clone)]
pub struct NewPeer {
    pub id: String,
    pub name: String,
    pub url: String,
    pub token: Secret,
    /// `none` (or empty), `all` or `followed`: which of its programs' files
    /// are fetched ahead of need.
    pub eager: String,
    /// The most bytes eager mirroring stores of its programs (0: no limit).
    pub eager_max_bytes: u64,
}

/// A peer as the operator's page lists it.
#[derive(Debug, Clone)]
pub struct PeerSummary {
    pub peer: Peer,
    /// Its programs mirrored here and published.
    pub mirrored: u64,
}

/// Events asked for in one read of a peer's feed.
const PAGE: usize = 100;
/// The largest answer read from a peer.
const MAX_BODY: usize = 32 * 1024 * 1024;
/// How long one request to a peer may take.
const TIMEOUT: Duration = Duration::from_secs(60);

/// Why a read of a peer stopped; its words go to the log and `/api/v1/peers`.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    #[error("the peer refused this hub's token ({0}); ask its operator for a new one and add the peer again")]
    Refused(u16),
    #[error("the peer answered {0}")]
    Status(u16),
    #[error("the peer could not be reached: {0}")]
    Unreachable(String),
    #[error("the peer sent what is not its feed: {0}")]
    Nonsense(String),
    #[error("the peer's address is refused: {0}")]
    Address(&'static str),
    #[error(transparent)]
    Local(#[from] ExchangeError),
}

/// What kind of failure a peer's stored `last_error` (a [`PeerError`]'s
/// words) tells of, for the pages to say in their language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerErrorKind {
    Refused,
    Status(u16),
    Unreachable,
    Nonsense,
    Address,
    Other,
}

/// The kind of a stored `last_error`, read back from [`PeerError`]'s words.
pub fn error_kind(stored: &str) -> PeerErrorKind {
    if stored.starts_with("the peer refused this hub's token") {
        PeerErrorKind::Refused
    } else if let Some(code) = stored.strip_prefix("the peer answered ") {
        code.trim()
            .parse()
            .map(PeerErrorKind::Status)
            .unwrap_or(PeerErrorKind::Other)
    } else if stored.starts_with("the peer could not be reached") {
        PeerErrorKind::Unreachable
    } else if stored.starts_with("the peer sent what is not its feed") {
        PeerErrorKind::Nonsense
    } else if stored.starts_with("the peer's address is refused") {
        PeerErrorKind::Address
    } else {
        PeerErrorKind::Other
    }
}

/// One page of a peer's feed, as far as this hub reads it.
#[derive(Debug, Deserialize)]
struct FeedPage {
    items: Vec<RemoteEvent>,
    next_cursor: String,
}

#[derive(Debug, Deserialize)]
struct RemoteEvent {
    seq: i64,
    program_id: String,
    program: RemoteProgram,
}

/// A program as a peer's API returns it (the fields a mirror keeps).
#[derive(Debug, Deserialize)]
struct RemoteProgram {
    id: String,
    station: String,
    status: ProgramStatus,
    title: String,
    summary: Option<String>,
    description: Option<String>,
    tags: Vec<String>,
    kind: ProgramKind,
    genre: Genre,
    languages: Vec<String>,
    series: Option<String>,
    episode: Option<i64>,
    first_aired_at: Option<DateTime<Utc>>,
    duration_seconds: Option<i64>,
    credits: Vec<Credit>,
    rights: RightsInput,
    files: Vec<RemoteFile>,
    withdrawal_reason: Option<String>,
    /// When its origin published it: where it is listed here.
    #[serde(default)]
    published_at: Option<DateTime<Utc>>,
    #[serde(default)]
    origin: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct RemoteFile {
    role: String,
    filename: String,
    media_type: String,
    size: u64,
    sha256: String,
}

#[derive(Debug, Deserialize)]
struct StationPage {
    items: Vec<RemoteStation>,
    next_cursor: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RemoteStation {
    id: String,
    name: String,
}

impl RemoteProgram {
    /// Why this hub may not keep it, if it may not.
    fn refusal(&self, event: &RemoteEvent) -> Option<String> {
        if self.id != event.program_id {
            return Some(format!(
                "event {} names program {} but carries {}",
                event.seq, event.program_id, self.id
            ));
        }
        if self.rights.audience != Audience::All {
            return Some(format!(
                "program {} is for audience `{}`, not `all`: a peer may not show it",
                self.id,
                self.rights.audience.as_str()
            ));
        }
        if self.origin.as_ref().is_some_and(|o| !o.is_null()) {
            return Some(format!("program {} is itself mirrored from another hub", self.id));
        }
        if self.status == ProgramStatus::Draft {
            return Some(format!("program {} is a draft", self.id));
        }
        None
    }

    fn input(&self) -> ProgramInput {
        ProgramInput {
            title: self.title.clone(),
            summary: self.summary.clone(),
            description: self.description.clone(),
            tags: self.tags.clone(),
            kind: self.kind,
            genre: self.genre,
            languages: self.languages.clone(),
            series: self.series.clone(),
            episode: self.episode,
            first_aired_at: self.first_aired_at,
            duration_seconds: self.duration_seconds,
            credits: self.credits.clone(),
            rights: self.rights.clone(),
        }
    }

    fn files(&self) -> Result<Vec<FileRecord>, String> {
        self.files
            .iter()
            .map(|f| {
                Ok(FileRecord {
                    role: FileRole::parse(&f.role).ok_or_else(|| format!("a file of role `{}`", f.role))?,
                    filename: crate::domain::text::tidy(&f.filename, false)
                        .map_err(|_| "a file name that is not text".to_owned())?,
                    media_type: f.media_type.clone(),
                    size: f.size,
                    sha256: Sha256::parse_hex(&f.sha256).ok_or_else(|| format!("a SHA-256 `{}`", f.sha256))?,
                    analysis: None,
                })
            })
            .collect()
    }
}

/// Checks what the operator gave, before anything is stored.
fn check_new(new: &NewPeer) -> Result<(StationId, String, url::Url, EagerMirror), ExchangeError> {
    let mut errors = Vec::new();
    let id = match StationId::parse(new.id.trim()) {
        Ok(id) if id.as_str() == "local" => {
            errors.push(crate::domain::FieldError::new(
                "id",
                "`local` names this hub's own programs",
            ));
            None
        }
        Ok(id) => Some(id),
        Err(e) => {
            errors.push(crate::domain::FieldError::new("id", e));
            None
        }
    };
    let name = match crate::domain::text::tidy(&new.name, false) {
        Ok(n) if (1..=200).contains(&n.chars().count()) => n,
        // Why the text itself is refused (an invisible character, say).
        Err(why) => {
            errors.push(crate::domain::FieldError::new("name", why));
            String::new()
        }
        Ok(_) => {
            errors.push(crate::domain::FieldError::new(
                "name",
                "must be 1 to 200 characters of text",
            ));
            String::new()
        }
    };
    let url = super::webhooks::check_url(&new.url)
        .map_err(|e| errors.push(crate::domain::FieldError::new("url", e)))
        .ok();
    let token = new.token.expose();
    if token.is_empty() || token.len() > 512 || !token.bytes().all(|b| b.is_ascii_graphic()) {
        errors.push(crate::domain::FieldError::new(
            "token",
            "must be the token the peer's operator issued (1 to 512 printable characters)",
        ));
    }
    let eager = match new.eager.trim() {
        "" => Some(EagerMirror::None),
        e => EagerMirror::parse(e),
    };
    if eager.is_none() {
        errors.push(crate::domain::FieldError::new("eager", "must be none, all or followed"));
    }
    if new.eager_max_bytes > i64::MAX as u64 {
        errors.push(crate::domain::FieldError::new("eager_max_bytes", "is too large"));
    }
    match (id, url, eager, errors.is_empty()) {
        (Some(id), Some(url), Some(eager), true) => Ok((id, name, url, eager)),
        _ => Err(ExchangeError::Invalid(errors)),
    }
}

impl Hub {
    /// Records a hub to follow (the operator's): its station row (kind
    /// `peer`, which owns its mirrored programs here) and its address and
    /// token. The address passes the webhook address guard.
    #[tracing::instrument(skip_all, fields(caller = %caller.token_id))]
    pub async fn add_peer(&self, caller: &Caller, new: NewPeer) -> Result<Peer, ExchangeError> {
        self.require_operator(caller)?;
        let (id, name, url, eager) = check_new(&new)?;
        if let Err(refusal) = self.webhook_guard.check(&url).await {
            return Err(ExchangeError::invalid("url", refusal.shown()));
        }
        let peer = Peer {
            id,
            name,
            url: url.to_string(),
            token: new.token,
            cursor: None,
            last_error: None,
            created_at: catalog::now(),
            polled_at: None,
            wake_secret: None,
            wake_hook: None,
            eager,
            eager_max_bytes: new.eager_max_bytes,
        };
        let p = peer.clone();
        self.catalog
            .write(move |tx| {
                match stations::get(tx, &p.id)? {
                    Some(s) if s.kind != StationKind::Peer => {
                        return Err(ExchangeError::conflict(
                            code::STATION_EXISTS,
                            "a station of this hub has this id; a peer needs its own",
                        ))
                    }
                    Some(_) => {}
                    None => {
                        let s = Station {
                            id: p.id.clone(),
                            name: p.name.clone(),
                            province: String::new(),
                            kind: StationKind::Peer,
                        };
                        stations::insert(tx, &s)?;
                    }
                }
                if !peers::insert(tx, &p)? {
                    return Err(ExchangeError::conflict(
                        code::STATION_EXISTS,
                        "this hub follows that peer already",
                    ));
                }
                Ok(())
            })
            .await?;
        tracing::info!(peer = %peer.id, url = %peer.url, "following a peer hub");
        self.peer_wake.notify_one();
        Ok(peer)
    }

    /// The hubs this hub follows (the operator's).
    pub async fn peers(&self, caller: &Caller) -> Result<Vec<Peer>, ExchangeError> {
        self.require_operator(caller)?;
        Ok(self.catalog.read(peers::list).await?)
    }

    /// The hubs this hub follows, each with how many of its programs are
    /// mirrored here and published (the operator's page).
    pub async fn peer_summaries(&self, caller: &Caller) -> Result<Vec<PeerSummary>, ExchangeError> {
        self.require_operator(caller)?;
        self.catalog
            .read(|c| {
                let counts = peers::mirror_counts(c)?;
                Ok::<_, ExchangeError>(
                    peers::list(c)?
                        .into_iter()
                        .map(|peer| PeerSummary {
                            mirrored: counts.get(peer.id.as_str()).copied().unwrap_or(0),
                            peer,
                        })
                        .collect(),
                )
            })
            .await
    }

    /// The files of `p` (a program the caller was shown) that wait for its
    /// origin, each with when its origin was last tried: not stored here,
    /// and the latest news of the origin is bad (a fetch of the file failed
    /// since its feed was last read well, or its feed cannot be read).
    pub async fn waiting_for_origin(&self, p: &Program) -> Result<Vec<(FileRole, DateTime<Utc>)>, ExchangeError> {
        let Some(origin) = p.origin.clone() else {
            return Ok(Vec::new());
        };
        let files: Vec<(FileRole, Sha256)> = p.files.iter().map(|f| (f.role, f.sha256)).collect();
        self.catalog
            .read(move |c| {
                let Some(peer) = peers::get(c, &origin.peer)? else {
                    return Ok(Vec::new());
                };
                let down = peer.last_error.is_some();
                let polled = peer.polled_at.unwrap_or(peer.created_at);
                let mut waiting = Vec::new();
                for (role, sha) in files {
                    if crate::catalog::media::object(c, &sha)?.is_some() {
                        continue;
                    }
                    match peers::wait_of(c, &sha)? {
                        Some(tried) if down || tried >= polled => waiting.push((role, tried)),
                        _ if down => waiting.push((role, polled)),
                        _ => {}
                    }
                }
                Ok(waiting)
            })
            .await
    }

    /// Stops following a peer: its mirrored programs are withdrawn here.
    #[tracing::instrument(skip_all, fields(caller = %caller.token_id))]
    pub async fn remove_peer(&self, caller: &Caller, id: StationId) -> Result<(), ExchangeError> {
        self.require_operator(caller)?;
        let index = self.index.clone();
        let gone = self
            .catalog
            .write(move |tx| {
                let Some(gone) = peers::get(tx, &id)? else {
                    return Err(ExchangeError::NotFound);
                };
                peers::delete(tx, &id)?;
                for seq in peers::published_mirrors(tx, &id)? {
                    withdraw_mirror(tx, &index, seq, "the hub no longer follows its origin")?;
                }
                Ok(gone)
            })
            .await?;
        self.delivered().await;
        self.end_wake(&gone).await;
        Ok(())
    }

    fn require_operator(&self, caller: &Caller) -> Result<(), ExchangeError> {
        if caller.is_admin() {
            Ok(())
        } else {
            Err(ExchangeError::Forbidden("only the hub operator may do this"))
        }
    }

    /// Wakes the peer worker (a report to send, a peer added).
    pub(in crate::exchange) fn wake_peers(&self) {
        self.peer_wake.notify_one();
    }

    /// Reads every peer's feed and sends the reports waiting for them,
    /// forever: every `poll`, or at once when woken.
    pub async fn run_peers(self) {
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(self.webhook_guard.clone()))
            .user_agent(concat!("pxhub/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("an HTTP client");
        loop {
            match self.catalog.read(peers::list).await {
                Ok(list) => {
                    for peer in list {
                        self.ensure_wake(&client, &peer).await;
                        if self.poll_peer(&client, &peer).await {
                            self.mirror_eagerly(&peer);
                        }
                    }
                }
                Err(e) => tracing::error!(error = %e, "could not list the peer hubs"),
            }
            self.send_reports(&client).await;
            let poll = self.settings.delivery.peers.poll;
            tokio::select! {
                () = tokio::time::sleep(poll) => {}
                () = self.peer_wake.notified() => {}
            }
        }
    }

    /// Reads one peer's feed to its end (`true`: it went well); a failure
    /// is logged once and kept as the peer's `last_error`, and the next poll
    /// tries again from the saved cursor.
    async fn poll_peer(&self, client: &reqwest::Client, peer: &Peer) -> bool {
        let outcome = self.read_peer(client, peer).await;
        let error = outcome.err().map(|e| e.to_string());
        let well = error.is_none();
        // One line when it starts going wrong (or wrong differently), one
        // when it is well again; not one per poll.
        match (&error, &peer.last_error) {
            (Some(e), last) if Some(e) != last.as_ref() => tracing::warn!(peer = %peer.id, "{e}"),
            (None, Some(_)) => tracing::info!(peer = %peer.id, "the peer answers again"),
            _ => {}
        }
        let (id, at) = (peer.id.clone(), catalog::now());
        if let Err(e) = self
            .catalog
            .write(move |tx| peers::polled(tx, &id, error.as_deref(), at))
            .await
        {
            tracing::error!(peer = %peer.id, error = %e, "could not record the peer's state");
        }
        well
    }

    async fn read_peer(&self, client: &reqwest::Client, peer: &Peer) -> Result<(), PeerError> {
        let base = url::Url::parse(&peer.url).map_err(|_| PeerError::Address("not a URL"))?;
        if let Some(Err(refusal)) = self.webhook_guard.judge_literal(&base) {
            return Err(PeerError::Address(refusal.shown()));
        }
        let mut cursor = self.peer_cursor(&peer.id).await?;
        let mut names: Option<HashMap<String, String>> = None;
        loop {
            let mut url = join(&base, "api/v1/feed")?;
            url.query_pairs_mut().append_pair("limit", &PAGE.to_string());
            if let Some(c) = &cursor {
                url.query_pairs_mut().append_pair("after", c);
            }
            let page: FeedPage = get_json(client, url, &peer.token).await?;
            if !page.items.is_empty() && names.is_none() {
                names = Some(station_names(client, &base, &peer.token).await?);
            }
            let done = page.items.is_empty();
            self.apply_page(peer, page, names.as_ref()).await?;
            if done {
                return Ok(());
            }
            cursor = self.peer_cursor(&peer.id).await?;
        }
    }

    /// Where `id`'s feed is read from next.
    async fn peer_cursor(&self, id: &StationId) -> Result<Option<String>, ExchangeError> {
        let id = id.clone();
        let peer = self.catalog.read(move |c| peers::get(c, &id)).await?;
        Ok(peer.and_then(|p| p.cursor))
    }

    /// Applies a page of a peer's feed and moves its cursor, in one
    /// transaction: a page is taken whole, once.
    async fn apply_page(
        &self,
        peer: &Peer,
        page: FeedPage,
        names: Option<&HashMap<String, String>>,
    ) -> Result<(), PeerError> {
        let peer_id = peer.id.clone();
        let names = names.cloned().unwrap_or_default();
        let index = self.index.clone();
        let changed = self
            .catalog
            .write(move |tx| {
                let mut changed = false;
                for event in &page.items {
                    match apply(tx, &index, &peer_id, &names, event) {
                        Ok(c) => changed |= c,
                        Err(why) => {
                            tracing::warn!(peer = %peer_id, "refused an event of the peer; nothing stored: {why}")
                        }
                    }
                }
                peers::set_cursor(tx, &peer_id, &page.next_cursor)?;
                Ok::<_, ExchangeError>(changed)
            })
            .await?;
        if changed {
            self.delivered().await;
        }
        Ok(())
    }
}

/// Applies one event of `peer` to its mirror; `Ok(true)` when the catalog
/// changed, `Err` (the reason, nothing stored) when the peer may not show it.
fn apply(
    tx: &Transaction<'_>,
    index: &SearchIndex,
    peer: &StationId,
    names: &HashMap<String, String>,
    event: &RemoteEvent,
) -> Result<bool, String> {
    let p = &event.program;
    if p.rights.audience != Audience::All && p.id == event.program_id {
        // No longer shared with other clusters: a mirror of it goes.
        if let Some(s) = peers::mirror(tx, peer, &p.id).map_err(|e| e.to_string())? {
            if s.program.status == ProgramStatus::Published {
                let why = "no longer shared with other clusters by its origin";
                withdraw_mirror(tx, index, s.seq, why).map_err(|e| e.to_string())?;
                return Ok(true);
            }
            return Ok(false);
        }
    }
    if let Some(why) = p.refusal(event) {
        return Err(why);
    }
    // A savepoint: an event refused half-way leaves nothing.
    tx.execute_batch("SAVEPOINT peer_event").map_err(|e| e.to_string())?;
    let outcome = mirror_event(tx, index, peer, names, p);
    let end = match outcome {
        Ok(_) => "RELEASE peer_event",
        Err(_) => "ROLLBACK TO peer_event; RELEASE peer_event",
    };
    tx.execute_batch(end).map_err(|e| e.to_string())?;
    outcome
}

fn mirror_event(
    tx: &Transaction<'_>,
    index: &SearchIndex,
    peer: &StationId,
    names: &HashMap<String, String>,
    p: &RemoteProgram,
) -> Result<bool, String> {
    let existing = peers::mirror(tx, peer, &p.id).map_err(|e| e.to_string())?;
    Ok(match (p.status, existing) {
        (ProgramStatus::Withdrawn, Some(s)) if s.program.status == ProgramStatus::Published => {
            let reason = p.withdrawal_reason.as_deref().unwrap_or("withdrawn at its origin");
            withdraw_mirror(tx, index, s.seq, reason).map_err(|e| e.to_string())?;
            true
        }
        (ProgramStatus::Withdrawn, _) => false,
        (_, Some(s)) if s.program.status == ProgramStatus::Withdrawn => false,
        (_, existing) => {
            let origin = Origin {
                peer: peer.clone(),
                station: p.station.clone(),
                station_name: names.get(&p.station).cloned().unwrap_or_else(|| p.station.clone()),
                program_id: p.id.clone(),
            };
            keep(tx, index, &origin, p, existing.map(|s| s.seq))?;
            true
        }
    })
}

/// Writes the mirror of `p`: new (published at once) or updated.
fn keep(
    tx: &Transaction<'_>,
    index: &SearchIndex,
    origin: &Origin,
    p: &RemoteProgram,
    existing: Option<i64>,
) -> Result<(), String> {
    let files = p.files()?;
    let meta = parse_metadata(tx, p.input()).map_err(|e| match e {
        ExchangeError::Invalid(errors) => format!(
            "program {} has metadata this hub refuses: {}",
            p.id,
            errors
                .iter()
                .map(|f| format!("{}: {}", f.field, f.message))
                .collect::<Vec<_>>()
                .join("; ")
        ),
        other => other.to_string(),
    })?;
    let now = catalog::now();
    let db = |e: crate::catalog::DbError| e.to_string();
    let (seq, kind) = match existing {
        None => {
            let id = ProgramId::generate();
            let seq = peers::insert_mirror(tx, id, origin, &meta, now).map_err(db)?;
            peers::replace_files(tx, seq, &files).map_err(db)?;
            programs::publish(tx, seq, now).map_err(db)?;
            // Listed when its origin published it (never later than now):
            // a peer's whole back catalogue, mirrored at once when it is
            // first followed, is not this hub's newest.
            if let Some(at) = p.published_at.filter(|at| *at < now) {
                peers::published_at(tx, seq, at).map_err(db)?;
            }
            (seq, EventType::Published)
        }
        Some(seq) => {
            let before = programs::files(tx, seq).map_err(db)?;
            programs::update_metadata(tx, seq, &meta, now).map_err(db)?;
            peers::rename_origin(tx, seq, &origin.station, &origin.station_name).map_err(db)?;
            let same = before.len() == files.len()
                && before
                    .iter()
                    .zip(&files)
                    .all(|(a, b)| a.role == b.role && a.sha256 == b.sha256);
            if same {
                (seq, EventType::Updated)
            } else {
                peers::replace_files(tx, seq, &files).map_err(db)?;
                (seq, EventType::FileReplaced)
            }
        }
    };
    index.refresh(tx, seq).map_err(|e| e.to_string())?;
    let id = programs::id_of(tx, seq).map_err(db)?.ok_or("the mirror vanished")?;
    emit(tx, kind, id).map_err(db)?;
    Ok(())
}

/// Withdraws a mirror here (its origin withdrew it, or the peer is gone).
fn withdraw_mirror(tx: &Transaction<'_>, index: &SearchIndex, seq: i64, reason: &str) -> Result<(), ExchangeError> {
    programs::withdraw(tx, seq, reason, catalog::now())?;
    index.refresh(tx, seq)?;
    if let Some(id) = programs::id_of(tx, seq)? {
        emit(tx, EventType::Withdrawn, id)?;
    }
    Ok(())
}

/// A transport error in words, without what sits behind the URL.
pub(super) fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "could not connect".into()
    } else {
        "the request failed".into()
    }
}

pub(super) fn join(base: &url::Url, path: &str) -> Result<url::Url, PeerError> {
    let mut base = base.clone();
    if !base.path().ends_with('/') {
        base.set_path(&format!("{}/", base.path()));
    }
    base.join(path).map_err(|_| PeerError::Address("not a base URL"))
}

/// GETs `url` from the peer and reads its JSON answer.
async fn get_json<T: serde::de::DeserializeOwned>(
    client: &reqwest::Client,
    url: url::Url,
    token: &Secret,
) -> Result<T, PeerError> {
    let mut r = client
        .get(url)
        .bearer_auth(token.expose())
        .send()
        .await
        .map_err(|e| PeerError::Unreachable(describe(&e)))?;
    match r.status().as_u16() {
        200 => {}
        s @ (401 | 403) => return Err(PeerError::Refused(s)),
        s => return Err(PeerError::Status(s)),
    }
    let mut body = Vec::new();
    while let Some(chunk) = r.chunk().await.map_err(|e| PeerError::Unreachable(describe(&e)))? {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(PeerError::Nonsense(format!("an answer over {MAX_BODY} bytes")));
        }
        body.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&body).map_err(|e| PeerError::Nonsense(format!("bad JSON ({e})")))
}

/// The peer's stations' names, by id.
async fn station_names(
    client: &reqwest::Client,
    base: &url::Url,
    token: &Secret,
) -> Result<HashMap<String, String>, PeerError> {
    let mut names = HashMap::new();
    let mut cursor: Option<String> = None;
    for _ in 0..1000 {
        let mut url = join(base, "api/v1/stations")?;
        url.query_pairs_mut().append_pair("limit", "100");
        if let Some(c) = &cursor {
            url.query_pairs_mut().append_pair("cursor", c);
        }
        let page: StationPage = get_json(client, url, token).await?;
        names.extend(page.items.into_iter().map(|s| (s.id, s.name)));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_peer_error_reads_back_as_its_kind() {
        let cases = [
            (PeerError::Refused(401), PeerErrorKind::Refused),
            (PeerError::Status(502), PeerErrorKind::Status(502)),
            (PeerError::Unreachable("timed out".into()), PeerErrorKind::Unreachable),
            (PeerError::Nonsense("bad JSON".into()), PeerErrorKind::Nonsense),
            (PeerError::Address("loopback"), PeerErrorKind::Address),
            (PeerError::Local(ExchangeError::NotFound), PeerErrorKind::Other),
        ];
        for (e, kind) in cases {
            assert_eq!(error_kind(&e.to_string()), kind, "{e}");
        }
    }
}
