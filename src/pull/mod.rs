//! `pxhub pull`: the agent a station runs to take exchanged programs into its
//! own systems. A provincial station's agent delivers what its follows with
//! "deliver" on match; a national broadcaster's takes every master it may.
//! It reads the change feed from its saved cursor, downloads each file
//! (resuming with Range, verifying SHA-256 before the file appears), writes
//! the program's JSON and EBUCore sidecars beside it, waits for windows that
//! have not opened, and moves withdrawn programs aside.
//!
//! Links drop: a network or server error is waited out with backoff, never
//! a reason to stop. Only a refused token, a SIGTERM or a local failure
//! (a full disk) ends it. Killed at any point and started again, it
//! finishes the work without doing any twice.

mod net;
mod state;
pub use crate::domain::template;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use tokio::sync::Notify;

use self::net::{HubSaid, Stopped, TokenRefused, Transient};
use self::state::{write_atomically, Delivered, Pending, Placed, State, TEMP_SUFFIX};
use self::template::{Choice, Template};
use crate::domain::file::parse_filename;

/// What the agent needs to run.
#[derive(Debug, Clone)]
pub struct PullOptions {
    /// The hub, e.g. `https://hub.example.vn`.
    pub hub: String,
    pub token: crate::domain::Secret,
    /// Where programs go.
    pub into: PathBuf,
    /// Keep following the feed instead of stopping when caught up.
    pub follow: bool,
    /// Bytes per second, at most.
    pub limit_rate: Option<u64>,
    /// How long to wait between polls when following.
    pub interval: Duration,
    /// How files are named; `None`: the default template for a station,
    /// `DIR/<station>/<program id>/` for a national broadcaster.
    pub template: Option<String>,
    /// The longest wait between retries.
    pub retry_max: Duration,
}

/// How a run ended, when it did not fail.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    /// Caught up (without `--follow`).
    CaughtUp,
    /// Stopped by SIGTERM or Ctrl-C, its work checkpointed.
    Stopped,
}

/// Asked to stop (SIGTERM, Ctrl-C): downloads checkpoint, waits end.
#[derive(Clone, Default)]
pub struct Stop {
    asked: Arc<AtomicBool>,
    wake: Arc<Notify>,
}

impl Stop {
    pub fn ask(&self) {
        self.asked.store(true, Ordering::SeqCst);
        self.wake.notify_waiters();
    }

    fn asked(&self) -> bool {
        self.asked.load(Ordering::SeqCst)
    }

    /// Sleeps `d`, or less when asked to stop (then `Err(Stopped)`).
    async fn sleep(&self, d: Duration) -> anyhow::Result<()> {
        let woken = self.wake.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        if self.asked() {
            return Err(Stopped.into());
        }
        tokio::select! {
            _ = tokio::time::sleep(d) => {}
            _ = woken => {}
        }
        if self.asked() {
            return Err(Stopped.into());
        }
        Ok(())
    }
}

/// How a program's files are laid out.
enum Layout {
    /// `DIR/<station>/<program id>/<file name>`, with `program.json` and
    /// `ebucore.xml` beside it: a national broadcaster's, as before templates.
    Folder,
    Template(Template),
}

/// The names the agent writes beside a program's media (folder layout).
const SIDECARS: [&str; 2] = ["program.json", "ebucore.xml"];

/// What a follow asks the agent for.
#[derive(Debug, Clone)]
struct Wanted {
    deliver: bool,
    /// A person's download list handed to the agent (kind `list`): no feed
    /// event says a program was put on it, so the agent reads it each poll.
    list: bool,
    roles: Vec<String>,
    backfill: u64,
    /// Events before it are not its to deliver (back-fill brings those).
    created_at: Option<DateTime<Utc>>,
    /// The profile (else the station's default) and cut ID it names.
    choice: Choice,
}

struct Agent {
    opts: PullOptions,
    client: reqwest::Client,
    /// `DIR/.pxhub`.
    dir: PathBuf,
    progress: bool,
    layout: Layout,
    stop: Stop,
    /// The caller's follows (a station's), by id.
    follows: BTreeMap<String, Wanted>,
    /// Whether everything visible is taken (national broadcasters, operator).
    everything: bool,
    /// The station's default delivery profile (`/api/v1/me`).
    default_profile: Option<String>,
    state: State,
    /// The last "waiting" line, said once until it changes.
    last_wait: String,
}

/// A path component from text the hub sent: never `..`, never a separator.
fn component(raw: &str, fallback: &str) -> String {
    match parse_filename(raw) {
        Ok(name) if name != "." && name != ".." && !name.starts_with('.') => name,
        _ => fallback.to_owned(),
    }
}

/// The name a media file takes in its program's folder (folder layout): its
/// own name, made a safe component, and never one the agent uses for a
/// sidecar or a file in progress (compared without case).
fn media_name(raw: &str) -> String {
    let name = template::safe_component(&component(raw, "master"));
    let lower = name.to_lowercase();
    if SIDECARS.contains(&lower.as_str()) || lower.ends_with(TEMP_SUFFIX) {
        format!("media-{name}")
    } else {
        name
    }
}

/// Runs the agent until it is caught up (or, with `follow`, until stopped).
pub async fn run(opts: PullOptions, stop: Stop) -> anyhow::Result<Ended> {
    let template = opts
        .template
        .as_deref()
        .map(Template::parse)
        .transpose()
        .map_err(|e| anyhow::anyhow!("--template: {e}"))?;
    let dir = opts.into.join(".pxhub");
    tokio::fs::create_dir_all(dir.join("partial"))
        .await
        .with_context(|| format!("creating {}", dir.display()))?;
    let client = reqwest::Client::builder()
        .user_agent(concat!("pxhub-pull/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(30))
        .build()?;
    let state = State::load(&dir).await?;
    let mut agent = Agent {
        progress: std::io::stderr().is_terminal(),
        opts,
        client,
        dir,
        layout: Layout::Folder,
        stop,
        follows: BTreeMap::new(),
        default_profile: None,
        everything: true,
        state,
        last_wait: String::new(),
    };
    match agent.run(template).await {
        Ok(()) => Ok(Ended::CaughtUp),
        Err(e) if e.is::<Stopped>() => {
            agent.state.save(&agent.dir).await?;
            eprintln!("stopped: what was verified stays; the next run resumes where this one left off");
            Ok(Ended::Stopped)
        }
        Err(e) if e.is::<TokenRefused>() => {
            agent.state.save(&agent.dir).await?;
            bail!(
                "the hub refused the token (revoked or unknown); stopping. Every file already delivered \
                 was verified and stays in {}; run again with a valid token to go on",
                agent.opts.into.display()
            )
        }
        Err(e) => {
            let _ = agent.state.save(&agent.dir).await;
            Err(e)
        }
    }
}

impl Agent {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.opts.hub.trim_end_matches('/'))
    }

    /// Says once what the agent waits for (until it waits for something else).
    fn waiting(&mut self, what: String) {
        self.waiting_for(what.clone(), what);
    }

    /// Says `line` once while the agent waits for `what`: a hub that stays
    /// down says so once, whichever way each try fails.
    fn waiting_for(&mut self, what: String, line: String) {
        if what != self.last_wait {
            eprintln!("waiting: {line}");
            self.last_wait = what;
        }
    }

    async fn get_json_once(&self, path: &str) -> anyhow::Result<Value> {
        let r = self
            .client
            .get(self.url(path))
            .bearer_auth(self.opts.token.expose())
            .timeout(Duration::from_secs(120))
            .send()
            .await?;
        let r = net::check(r, path).await?;
        Ok(r.json().await?)
    }

    /// GETs JSON, waiting out transient failures.
    async fn get_json(&mut self, path: &str) -> anyhow::Result<Value> {
        let mut wait = Duration::from_secs(1);
        loop {
            match self.get_json_once(path).await {
                Ok(v) => {
                    self.last_wait.clear();
                    return Ok(v);
                }
                Err(e) if net::is_transient(&e) => {
                    let line = format!(
                        "the hub ({}); retrying with backoff up to {}s",
                        net::short(&e),
                        self.opts.retry_max.as_secs()
                    );
                    self.waiting_for("the hub".into(), line);
                    self.stop.sleep(wait).await?;
                    wait = (wait * 2).min(self.opts.retry_max);
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn run(&mut self, template: Option<Template>) -> anyhow::Result<()> {
        let me = self.get_json("/api/v1/me").await?;
        let role = me["role"].as_str().unwrap_or("").to_owned();
        self.everything = role != "station";
        self.default_profile = me["default_profile"].as_str().map(str::to_owned);
        self.layout = match (template, self.everything) {
            (Some(t), _) => Layout::Template(t),
            (None, true) => Layout::Folder,
            (None, false) => Layout::Template(Template::parse(template::DEFAULT).expect("the default parses")),
        };
        loop {
            self.load_follows().await?;
            self.backfill().await?;
            self.lists().await?;
            self.due().await?;
            let after = self
                .state
                .cursor
                .as_deref()
                .map(|c| format!("&after={c}"))
                .unwrap_or_default();
            let page = self.get_json(&format!("/api/v1/feed?limit=100{after}")).await?;
            let items = page["items"].as_array().cloned().unwrap_or_default();
            // The cursor moves only once the whole page is handled: a restart
            // handles the page again, and finds its finished work in place.
            for event in &items {
                let (roles, choice) = self.roles_for(event);
                let handled = self
                    .handle(&event["program"], &roles, &choice, event["type"] == "program.withdrawn")
                    .await;
                skip_refusal(handled).with_context(|| format!("event {}", event["seq"]))?;
            }
            self.state.cursor = Some(
                page["next_cursor"]
                    .as_str()
                    .context("the feed gave no next_cursor")?
                    .to_owned(),
            );
            self.state.save(&self.dir).await?;
            if items.is_empty() {
                let next_open = self.state.pending.values().map(|p| p.opens).min();
                if !self.opts.follow {
                    if let Some(at) = next_open {
                        eprintln!(
                            "caught up; {} program(s) wait for their window (the next opens {}): \
                             run again then, or keep the agent running with --follow",
                            self.state.pending.len(),
                            at.to_rfc3339()
                        );
                    }
                    return Ok(());
                }
                let mut nap = self.opts.interval;
                let mut what = format!("new programs (next look in {}s)", nap.as_secs());
                if let Some(at) = next_open {
                    let until = (at - Utc::now()).to_std().unwrap_or_default();
                    // A window the hub still calls closed (clocks differ): look
                    // again in a second, not in a busy loop.
                    nap = nap.min(until.max(Duration::from_secs(1)));
                    what += &format!(
                        "; {} program(s) wait for their window, the next opens {}",
                        self.state.pending.len(),
                        at.to_rfc3339()
                    );
                }
                self.waiting(what);
                self.stop.sleep(nap).await?;
            }
        }
    }

    /// The caller's follows, if it is a station's token.
    async fn load_follows(&mut self) -> anyhow::Result<()> {
        if self.everything {
            return Ok(());
        }
        let list = self.get_json("/api/v1/follows").await?;
        self.follows = list["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| {
                let roles = f["roles"]
                    .as_array()?
                    .iter()
                    .filter_map(|r| r.as_str().map(str::to_owned))
                    .collect();
                Some((
                    f["id"].as_str()?.to_owned(),
                    Wanted {
                        deliver: f["deliver"] == true,
                        list: f["kind"] == "list",
                        roles,
                        backfill: f["backfill"].as_u64().unwrap_or(0),
                        created_at: rfc3339(&f["created_at"]),
                        choice: Choice {
                            profile: f["profile"]
                                .as_str()
                                .map(str::to_owned)
                                .or_else(|| self.default_profile.clone()),
                            cut_id: f["cut_id"].as_str().map(str::to_owned),
                        },
                    },
                ))
            })
            .collect();
        Ok(())
    }

    /// The roles to deliver for a feed event: a national broadcaster's
    /// master; for a station, what its delivering follows that match ask for,
    /// of those made by the time of the event (a new agent reads the whole
    /// feed, and a new follow would otherwise bring a series' every past
    /// episode: `backfill` says how many of those it wants).
    /// The first of those follows that names a profile or a cut ID says
    /// which rendition and cut ID.
    fn roles_for(&self, event: &Value) -> (Vec<String>, Choice) {
        if self.everything {
            return (vec!["master".into()], Choice::default());
        }
        let at = rfc3339(&event["at"]);
        let mut roles = BTreeSet::new();
        let mut choice: Option<Choice> = None;
        for id in event["follows"].as_array().into_iter().flatten() {
            if let Some(w) = id
                .as_str()
                .and_then(|id| self.follows.get(id))
                .filter(|w| w.deliver && w.created_at.is_some_and(|made| at.is_some_and(|at| at >= made)))
            {
                roles.extend(w.roles.iter().cloned());
                if choice.is_none() || choice.as_ref() == Some(&Choice::default()) {
                    choice = Some(w.choice.clone());
                }
            }
        }
        (roles.into_iter().collect(), choice.unwrap_or_default())
    }

    /// Late joiners: the latest programs of each delivering follow with a
    /// back-fill, once per follow.
    async fn backfill(&mut self) -> anyhow::Result<()> {
        let todo: Vec<(String, Wanted)> = self
            .follows
            .iter()
            .filter(|(id, w)| w.deliver && w.backfill > 0 && !self.state.backfilled.contains(*id))
            .map(|(id, w)| (id.clone(), w.clone()))
            .collect();
        for (id, w) in todo {
            let page = match self
                .get_json(&format!("/api/v1/follows/{id}/programs?limit={}", w.backfill.min(100)))
                .await
            {
                Ok(p) => p,
                Err(e) if e.downcast_ref::<HubSaid>().is_some_and(|h| h.status == 404) => continue,
                Err(e) => return Err(e),
            };
            let items = page["items"].as_array().cloned().unwrap_or_default();
            eprintln!("back-fill: {} program(s) of follow {id}", items.len());
            for p in items.iter().rev() {
                skip_refusal(self.handle(p, &w.roles, &w.choice, false).await)?;
            }
            self.state.backfilled.insert(id);
            self.state.save(&self.dir).await?;
        }
        Ok(())
    }

    /// The programs on each delivering list follow's list that the agent
    /// has not delivered yet (nor waits for): read on every poll, since
    /// putting a program on a list is no feed event. What is in place is
    /// not fetched again; a replaced file comes by the feed, as for any
    /// follow.
    async fn lists(&mut self) -> anyhow::Result<()> {
        let lists: Vec<(String, Wanted)> = self
            .follows
            .iter()
            .filter(|(_, w)| w.deliver && w.list)
            .map(|(id, w)| (id.clone(), w.clone()))
            .collect();
        for (id, w) in lists {
            let page = match self.get_json(&format!("/api/v1/follows/{id}/programs?limit=100")).await {
                Ok(p) => p,
                Err(e) if e.downcast_ref::<HubSaid>().is_some_and(|h| h.status == 404) => continue,
                Err(e) => return Err(e),
            };
            for p in page["items"].as_array().into_iter().flatten() {
                let Some(pid) = p["id"].as_str().map(|i| component(i, "unknown-program")) else {
                    continue;
                };
                if self.state.pending.contains_key(&pid) || self.has_delivered(&pid, p, &w.roles) {
                    continue;
                }
                eprintln!("list: {} ({pid}) of follow {id}", p["title"].as_str().unwrap_or(""));
                skip_refusal(self.handle(p, &w.roles, &w.choice, false).await)?;
            }
        }
        Ok(())
    }

    /// Whether each of `roles` that `program` has a file of is in place.
    fn has_delivered(&self, id: &str, program: &Value, roles: &[String]) -> bool {
        let Some(d) = self.state.delivered.get(id) else {
            return false;
        };
        let files = program["files"].as_array().cloned().unwrap_or_default();
        roles
            .iter()
            .filter(|r| files.iter().any(|f| f["role"] == r.as_str()))
            .all(|r| d.files.contains_key(r))
    }

    /// Programs whose window has opened since they were met.
    async fn due(&mut self) -> anyhow::Result<()> {
        let now = Utc::now();
        let due: Vec<(String, Pending)> = self
            .state
            .pending
            .iter()
            .filter(|(_, p)| p.opens <= now)
            .map(|(id, p)| (id.clone(), p.clone()))
            .collect();
        for (id, pending) in due {
            match self.get_json(&format!("/api/v1/programs/{id}")).await {
                Ok(program) => skip_refusal(self.handle(&program, &pending.roles, &pending.choice, false).await)?,
                Err(e) if e.downcast_ref::<HubSaid>().is_some_and(|h| h.status == 404) => {
                    eprintln!("gone: {} is no longer visible to this station", pending.title);
                    self.state.pending.remove(&id);
                }
                Err(e) => return Err(e),
            }
            self.state.save(&self.dir).await?;
        }
        Ok(())
    }

    /// Where `role`'s file of `program` goes, relative to the delivery folder.
    fn place(&self, program: &Value, id: &str, role: &str, filename: &str, choice: &Choice) -> Vec<String> {
        match &self.layout {
            Layout::Folder => vec![
                component(program["station"].as_str().unwrap_or(""), "unknown-station"),
                id.to_owned(),
                if role == "master" {
                    media_name(filename)
                } else {
                    format!("{role}-{}", media_name(filename))
                },
            ],
            Layout::Template(t) => {
                let mut parts = t.render_with(program, role, filename, choice);
                let joined = parts.join("/");
                // Two programs rendered alike: the later one's name carries
                // its id.
                if self.state.owner_of(&joined, id).is_some() {
                    let last = parts.pop().expect("a file name");
                    let (stem, ext) = last.rsplit_once('.').unwrap_or((&last, ""));
                    parts.push(template::safe_component(&format!(
                        "{stem} ({}).{ext}",
                        &id[..8.min(id.len())]
                    )));
                }
                parts
            }
        }
    }

    /// Where the sidecars of a master at `master` go.
    fn sidecars(&self, master: &str) -> [String; 2] {
        match &self.layout {
            Layout::Folder => {
                let folder = master.rsplit_once('/').map_or("", |(f, _)| f);
                SIDECARS.map(|s| format!("{folder}/{s}"))
            }
            Layout::Template(_) => {
                let stem = match master.rsplit_once('.') {
                    Some((stem, _)) if !stem.ends_with('/') => stem,
                    _ => master,
                };
                [format!("{stem}.program.json"), format!("{stem}.ebucore.xml")]
            }
        }
    }

    fn abs(&self, rel: &str) -> PathBuf {
        rel.split('/').fold(self.opts.into.clone(), |p, c| p.join(c))
    }

    /// Handles `program` as it is now, delivering `roles` of it.
    async fn handle(
        &mut self,
        program: &Value,
        roles: &[String],
        choice: &Choice,
        withdrawn_event: bool,
    ) -> anyhow::Result<()> {
        let id = program["id"].as_str().context("an event without a program id")?;
        let id = component(id, "unknown-program");
        let title = program["title"].as_str().unwrap_or("").to_owned();
        if program["status"] == "withdrawn" || withdrawn_event {
            self.state.pending.remove(&id);
            return self.withdraw(program, &id, &title).await;
        }
        if roles.is_empty() && !self.state.delivered.contains_key(&id) {
            return Ok(());
        }
        // An event that names no follow asking for a rendition or cut ID
        // keeps those it was delivered with (else it would be renamed).
        let kept = match self.state.delivered.get(&id) {
            Some(d) if *choice == Choice::default() => d.choice.clone(),
            _ => choice.clone(),
        };
        let choice = &kept;
        // What was delivered before stays what is delivered (a follow
        // removed later does not take back what the station has).
        let mut roles: Vec<String> = roles.to_vec();
        if let Some(d) = self.state.delivered.get(&id) {
            for r in d.files.keys() {
                if !roles.contains(r) {
                    roles.push(r.clone());
                }
            }
        }
        if program["can_download"] != true {
            self.not_downloadable(program, id, roles, choice.clone(), title);
            return Ok(());
        }
        self.state.pending.remove(&id);
        let files: Vec<Value> = program["files"].as_array().cloned().unwrap_or_default();
        let mut entry = self.state.delivered.get(&id).cloned().unwrap_or_default();
        entry.choice = choice.clone();
        for role in &roles {
            let Some(file) = files.iter().find(|f| f["role"] == role.as_str()) else {
                continue;
            };
            let (rel, sha256) = self.place_file(program, &id, role, choice, file, &entry).await?;
            entry.files.insert(role.clone(), Placed { path: rel, sha256 });
            self.state.delivered.insert(id.clone(), entry.clone());
            self.state.save(&self.dir).await?;
        }
        if let Some(master) = entry.files.get("master").map(|p| p.path.clone()) {
            entry.sidecars = self.write_sidecars(program, &id, &master, &entry.sidecars).await?;
        }
        if !entry.files.is_empty() {
            self.state.delivered.insert(id.clone(), entry);
            self.state.save(&self.dir).await?;
        }
        Ok(())
    }

    /// A program the station may not take now: waited for when its window
    /// opens later, forgotten when it is closed for good.
    fn not_downloadable(&mut self, program: &Value, id: String, roles: Vec<String>, choice: Choice, title: String) {
        match program["unavailable_reason"].as_str() {
            Some("not_yet_available") => {
                let opens = program["rights"]["available_from"]
                    .as_str()
                    .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                    .map(|t| t.with_timezone(&Utc))
                    .unwrap_or_else(Utc::now);
                eprintln!(
                    "not yet: {title} ({id}) opens {}; it will be fetched then",
                    opens.to_rfc3339()
                );
                self.state.pending.insert(
                    id.clone(),
                    Pending {
                        opens,
                        roles,
                        title,
                        choice,
                    },
                );
            }
            why => {
                self.state.pending.remove(&id);
                eprintln!("closed: {title} ({id}): {}", why.unwrap_or("rights"));
            }
        }
    }

    /// Puts one file of `program` in its place (fetched, or renamed when only
    /// its name changed, or found whole where a killed run left it); returns
    /// where, and its SHA-256.
    async fn place_file(
        &mut self,
        program: &Value,
        id: &str,
        role: &str,
        choice: &Choice,
        file: &Value,
        entry: &Delivered,
    ) -> anyhow::Result<(String, String)> {
        let filename = file["filename"].as_str().unwrap_or("");
        let (sha256, size, filename, source) = match choice.profile.as_deref().filter(|_| role == "master") {
            Some(profile) => {
                let (sha256, size, ext) = self.rendition_made(id, profile).await?;
                let stem = filename.rsplit_once('.').map_or(filename, |(s, _)| s);
                let path = format!("/api/v1/programs/{id}/files/master/renditions/{profile}");
                (sha256, size, format!("{stem}.{ext}"), path)
            }
            None => (
                file["sha256"]
                    .as_str()
                    .context("a file without its SHA-256")?
                    .to_owned(),
                file["size"].as_u64().context("a file without its size")?,
                filename.to_owned(),
                format!("/api/v1/programs/{id}/files/{role}"),
            ),
        };
        if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            bail!("{id}: the hub sent a SHA-256 that is not one");
        }
        let rel = self.place(program, id, role, &filename, choice).join("/");
        let target = self.abs(&rel);
        if let Some(parent) = target.parent() {
            tokio::fs::create_dir_all(parent).await?;
        }
        let before = entry.files.get(role).cloned();
        let in_place = match &before {
            Some(p) if p.sha256 == sha256 && tokio::fs::try_exists(self.abs(&p.path)).await? => {
                if p.path != rel {
                    // Renamed (its metadata changed): moved, not fetched again.
                    tokio::fs::rename(self.abs(&p.path), &target).await?;
                    eprintln!("renamed: {} -> {rel}", p.path);
                }
                true
            }
            // In place from a run killed before it said so.
            _ => tokio::fs::try_exists(&target).await? && hash_file(&target).await? == sha256,
        };
        if !in_place {
            let partial = self.dir.join("partial").join(&sha256);
            self.download(id, &source, &sha256, size, &partial).await?;
            tokio::fs::rename(&partial, &target).await?;
            eprintln!("delivered: {rel} ({size} bytes, SHA-256 verified)");
        }
        if let Some(old) = before.filter(|p| p.path != rel) {
            let _ = tokio::fs::remove_file(self.abs(&old.path)).await;
        }
        Ok((rel, sha256))
    }

    /// The SHA-256, size and file extension of the `profile` rendition of
    /// `id`'s master, once the hub has made it (asking starts it; the agent
    /// waits as the hub says).
    async fn rendition_made(&mut self, id: &str, profile: &str) -> anyhow::Result<(String, u64, &'static str)> {
        if !profile
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            bail!("{id}: the hub named a profile that is not a slug");
        }
        let what = format!("the {profile} rendition of {id}");
        loop {
            let path = format!("/api/v1/programs/{id}/files/master/renditions/{profile}");
            let r = self
                .client
                .head(self.url(&path))
                .bearer_auth(self.opts.token.expose())
                .send()
                .await;
            let r = match r {
                Err(e) => {
                    self.waiting(format!("{what}: {e}"));
                    self.stop.sleep(Duration::from_secs(5)).await?;
                    continue;
                }
                Ok(r) => net::check(r, &what).await?,
            };
            let header = |name: &str| r.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
            if r.status().as_u16() == 202 {
                let secs = header("retry-after").and_then(|s| s.parse().ok()).unwrap_or(10u64);
                self.waiting(format!("{what}: the hub is making it"));
                self.stop.sleep(Duration::from_secs(secs.clamp(1, 60))).await?;
                continue;
            }
            let sha256 = header("etag").unwrap_or_default().trim_matches('"').to_owned();
            let size = header("content-length")
                .and_then(|s| s.parse().ok())
                .context("a rendition without its length")?;
            let ext = match header("content-type").as_deref().unwrap_or("") {
                "audio/wav" => "wav",
                "audio/mpeg" => "mp3",
                "audio/mp4" => "m4a",
                "video/mp4" => "mp4",
                "application/mxf" => "mxf",
                _ => "bin",
            };
            self.last_wait.clear();
            return Ok((sha256, size, ext));
        }
    }

    /// Writes the program's JSON and EBUcore beside its master, removes the
    /// `old` ones named otherwise; returns the new ones.
    async fn write_sidecars(
        &mut self,
        program: &Value,
        id: &str,
        master: &str,
        old: &[String],
    ) -> anyhow::Result<Vec<String>> {
        let sidecars = self.sidecars(master);
        let ebucore = self.get_ebucore(id).await?;
        if let Some(xml) = ebucore {
            write_atomically(&self.abs(&sidecars[1]), &xml).await?;
        }
        write_atomically(
            &self.abs(&sidecars[0]),
            serde_json::to_string_pretty(program)?.as_bytes(),
        )
        .await?;
        for gone in old.iter().filter(|o| !sidecars.contains(o)) {
            let _ = tokio::fs::remove_file(self.abs(gone)).await;
        }
        Ok(sidecars.to_vec())
    }

    async fn get_ebucore(&mut self, id: &str) -> anyhow::Result<Option<bytes::Bytes>> {
        let mut wait = Duration::from_secs(1);
        loop {
            let tried = async {
                let r = self
                    .client
                    .get(self.url(&format!("/api/v1/programs/{id}/ebucore.xml")))
                    .bearer_auth(self.opts.token.expose())
                    .timeout(Duration::from_secs(120))
                    .send()
                    .await?;
                match net::check(r, "ebucore.xml").await {
                    Ok(r) => Ok(Some(r.bytes().await?)),
                    Err(e) if e.is::<HubSaid>() => Ok(None),
                    Err(e) => Err(e),
                }
            }
            .await;
            match tried {
                Err(e) if net::is_transient(&e) => {
                    self.waiting_for("the hub".into(), format!("the hub ({}); retrying", net::short(&e)));
                    self.stop.sleep(wait).await?;
                    wait = (wait * 2).min(self.opts.retry_max);
                }
                other => return other,
            }
        }
    }

    /// Moves what was delivered of a withdrawn program to `DIR/withdrawn/`.
    async fn withdraw(&mut self, program: &Value, id: &str, title: &str) -> anyhow::Result<()> {
        let aside = self.opts.into.join("withdrawn");
        if let Layout::Folder = self.layout {
            let station = component(program["station"].as_str().unwrap_or(""), "unknown-station");
            let home = self.opts.into.join(&station).join(id);
            let to = aside.join(&station).join(id);
            if tokio::fs::try_exists(&home).await? {
                tokio::fs::create_dir_all(to.parent().expect("a parent")).await?;
                if tokio::fs::try_exists(&to).await? {
                    tokio::fs::remove_dir_all(&to).await?;
                }
                tokio::fs::rename(&home, &to).await?;
                eprintln!("withdrawn: {title} moved to withdrawn/{station}/{id}");
            }
            self.state.delivered.remove(id);
            return self.state.save(&self.dir).await;
        }
        let Some(d) = self.state.delivered.get(id).cloned() else {
            return Ok(());
        };
        for rel in d.files.values().map(|p| p.path.clone()).chain(d.sidecars.clone()) {
            let from = self.abs(&rel);
            if !tokio::fs::try_exists(&from).await? {
                continue;
            }
            let to = rel.split('/').fold(aside.clone(), |p, c| p.join(c));
            tokio::fs::create_dir_all(to.parent().expect("a parent")).await?;
            tokio::fs::rename(&from, &to).await?;
            // The folder it leaves, when empty, goes too.
            if let Some(parent) = from.parent().filter(|p| *p != self.opts.into) {
                let _ = tokio::fs::remove_dir(parent).await;
            }
        }
        eprintln!("withdrawn: {title} ({id}) moved to withdrawn/");
        self.state.delivered.remove(id);
        self.state.save(&self.dir).await
    }

    /// Downloads a file into `partial`, resuming what is there and waiting
    /// out dropped links, and checks its SHA-256; a file that does not check
    /// out is started over.
    async fn download(
        &mut self,
        id: &str,
        source: &str,
        sha256: &str,
        size: u64,
        partial: &Path,
    ) -> anyhow::Result<()> {
        let mut mismatches = 0;
        let mut wait = Duration::from_secs(1);
        loop {
            let mut have = tokio::fs::metadata(partial).await.map(|m| m.len()).unwrap_or(0);
            if have > size {
                tokio::fs::remove_file(partial).await?;
                have = 0;
            }
            if have < size {
                match self.fetch(id, source, sha256, have, size, partial).await {
                    Ok(()) => {}
                    Err(e) if net::is_transient(&e) => {
                        let now = tokio::fs::metadata(partial).await.map(|m| m.len()).unwrap_or(0);
                        if now > have {
                            // It moved: the link works, just not for long.
                            wait = Duration::from_secs(1);
                        }
                        self.waiting(format!(
                            "the link dropped during {id} ({}, {now} of {size} bytes kept); resuming",
                            net::short(&e)
                        ));
                        self.stop.sleep(wait).await?;
                        wait = (wait * 2).min(self.opts.retry_max);
                        continue;
                    }
                    Err(e) => return Err(e),
                }
                continue;
            }
            if hash_file(partial).await? == sha256 {
                self.last_wait.clear();
                return Ok(());
            }
            mismatches += 1;
            tokio::fs::remove_file(partial).await?;
            if mismatches == 3 {
                bail!("{id}: {source} never matched its SHA-256 in three downloads");
            }
            eprintln!("SHA-256 mismatch for {id}; starting over (attempt {mismatches})");
        }
    }

    async fn fetch(
        &self,
        id: &str,
        source: &str,
        sha256: &str,
        from: u64,
        size: u64,
        partial: &Path,
    ) -> anyhow::Result<()> {
        let mut req = self.client.get(self.url(source)).bearer_auth(self.opts.token.expose());
        if from > 0 {
            req = req
                .header("Range", format!("bytes={from}-"))
                .header("If-Range", format!("\"{sha256}\""));
        }
        let r = net::check(req.send().await?, &format!("downloading {source}")).await?;
        let (mut file, mut done) = match r.status().as_u16() {
            206 => (tokio::fs::OpenOptions::new().append(true).open(partial).await?, from),
            200 => (tokio::fs::File::create(partial).await?, 0),
            code => bail!("downloading {id}: the hub answered {code}"),
        };
        let started = Instant::now();
        let start = done;
        let mut body = r.bytes_stream();
        let mut last_shown = Instant::now();
        let stopping = self.stop.wake.notified();
        tokio::pin!(stopping);
        stopping.as_mut().enable();
        let result = loop {
            if self.stop.asked() {
                break Err(Stopped.into());
            }
            let next = tokio::select! {
                n = tokio::time::timeout(Duration::from_secs(60), body.next()) => n,
                _ = &mut stopping => break Err(Stopped.into()),
            };
            if self.stop.asked() {
                break Err(Stopped.into());
            }
            let chunk = match next {
                Err(_) => break Err(Transient("no byte for 60 s".into()).into()),
                Ok(None) => break Ok(()),
                Ok(Some(Err(e))) => break Err(e.into()),
                Ok(Some(Ok(c))) => c,
            };
            file.write_all(&chunk).await?;
            done += chunk.len() as u64;
            if let Some(rate) = self.opts.limit_rate.filter(|r| *r > 0) {
                let due = Duration::from_secs_f64((done - start) as f64 / rate as f64);
                if let Some(wait) = due.checked_sub(started.elapsed()) {
                    if self.stop.sleep(wait).await.is_err() {
                        break Err(Stopped.into());
                    }
                }
            }
            if self.progress && last_shown.elapsed() > Duration::from_millis(200) {
                let rate = (done - start) as f64 / started.elapsed().as_secs_f64().max(0.001) / 1e6;
                eprint!(
                    "\r{id}: {:>5.1}% {:.1} MB/s ",
                    done as f64 * 100.0 / size.max(1) as f64,
                    rate
                );
                let _ = std::io::stderr().flush();
                last_shown = Instant::now();
            }
        };
        // Whatever arrived is kept (a checkpoint): the next try resumes it.
        file.flush().await?;
        file.sync_all().await?;
        if self.progress {
            eprintln!();
        }
        result
    }
}

fn rfc3339(v: &Value) -> Option<DateTime<Utc>> {
    v.as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// A program the hub refuses now (withdrawn, its window closed, no longer
/// visible, since the feed was read) is skipped with a line saying why; the
/// next event about it, if any, brings it back.
fn skip_refusal(handled: anyhow::Result<()>) -> anyhow::Result<()> {
    match handled {
        Err(e) if e.is::<HubSaid>() => {
            eprintln!("skipped: {e}");
            Ok(())
        }
        other => other,
    }
}

async fn hash_file(path: &Path) -> anyhow::Result<String> {
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || -> anyhow::Result<String> {
        let mut f = std::fs::File::open(&path)?;
        let mut h = Sha256::new();
        std::io::copy(&mut f, &mut h)?;
        Ok(hex::encode(h.finalize()))
    })
    .await?
}

#[cfg(test)]
mod tests {
    use super::media_name;

    #[test]
    fn media_never_takes_a_sidecar_name() {
        assert_eq!(media_name("Thời sự tối.mp4"), "Thời sự tối.mp4");
        assert_eq!(media_name("program.json"), "media-program.json");
        assert_eq!(media_name("EBUCore.XML"), "media-EBUCore.XML");
        assert_eq!(media_name("program.pxhub-tmp"), "media-program.pxhub-tmp");
        assert_eq!(media_name("../program.json"), "media-program.json");
        assert_eq!(media_name(""), "master");
    }
}
