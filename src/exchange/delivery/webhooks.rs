//! Webhooks: subscriptions, and the dispatcher that delivers their events,
//! signed, at least once, with backoff, from state kept in the catalog.

pub mod guard;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

use super::follows::Following;
use crate::catalog::events;
use crate::catalog::webhooks::{self, Outcome};
use crate::catalog::{self, programs, stations};
use crate::catalog::{Connection, DbResult, Transaction};
use crate::domain::{Delivery, Event, EventType, Webhook};
use crate::domain::{FieldError, Program, Secret, StationId, StationKind, Viewer};
use crate::exchange::error::code;
use crate::exchange::rights::may_see;
use crate::exchange::tokens::Caller;
use crate::exchange::{ExchangeError, Hub};
pub use guard::WebhookPolicy;

/// The webhook channel's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookSettings {
    /// Where webhooks may go, and how many one subscriber may have.
    pub policy: WebhookPolicy,
    /// The first wait before a failed delivery is retried.
    pub retry: Duration,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            policy: WebhookPolicy::default(),
            retry: Duration::from_secs(5),
        }
    }
}

/// Attempts before a delivery is given up.
pub const MAX_ATTEMPTS: u32 = 10;
/// How long a receiver has to answer.
const TIMEOUT: Duration = Duration::from_secs(10);
/// Deliveries one lane sends before it makes way for other subscribers.
const BATCH: usize = 16;
/// Subscribers delivered to at once.
const LANES: usize = 16;

/// Renders a delivery's body: the HTTP layer owns the JSON shape.
pub type Render = fn(&str, &Event, &Program, &crate::domain::Viewer) -> Vec<u8>;

/// Wakes the dispatcher when deliveries are enqueued, and when a lane ends.
#[derive(Clone, Default)]
pub struct Dispatch(Arc<Notify>);

/// The subscribers (station; `None`: the operator) whose lane is running.
/// Each subscriber's deliveries go one after another in its own lane, and
/// lanes run side by side, so that a slow receiver delays only its own
/// subscriber's deliveries.
#[derive(Clone, Default)]
struct Lanes(Arc<Mutex<HashSet<Option<StationId>>>>);

impl Lanes {
    fn running(&self, subscriber: &Option<StationId>) -> bool {
        self.0.lock().expect("lanes").contains(subscriber)
    }

    fn start(&self, subscriber: Option<StationId>, slot: OwnedSemaphorePermit, dispatch: Dispatch) -> Lane {
        self.0.lock().expect("lanes").insert(subscriber.clone());
        Lane {
            subscriber,
            lanes: self.clone(),
            dispatch,
            _slot: slot,
        }
    }
}

/// A running lane; when it ends (even by a panic) its subscriber is free
/// for the next one, and the dispatcher is woken to start it.
struct Lane {
    subscriber: Option<StationId>,
    lanes: Lanes,
    dispatch: Dispatch,
    _slot: OwnedSemaphorePermit,
}

impl Drop for Lane {
    fn drop(&mut self) {
        if let Ok(mut running) = self.lanes.0.lock() {
            running.remove(&self.subscriber);
        }
        self.dispatch.0.notify_one();
    }
}

/// A subscription as a broadcaster asks for it.
#[derive(Debug, Clone)]
pub struct NewWebhook {
    pub url: String,
    pub events: Vec<String>,
    /// Given by the subscriber, or made by the hub when absent.
    pub secret: Option<Secret>,
}

/// Waits after the `attempts`-th failure: base, twice that, four times, …
/// at most an hour.
pub fn backoff(attempts: u32, base: Duration) -> Duration {
    base.saturating_mul(1 << attempts.min(20))
        .min(Duration::from_secs(3600))
}

pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

pub(super) fn check_url(raw: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(raw.trim()).map_err(|_| "must be an absolute http or https URL".to_owned())?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err("must be an absolute http or https URL".into());
    }
    if raw.len() > 2000 || !url.username().is_empty() || url.password().is_some() {
        return Err("must be at most 2000 characters, without credentials".into());
    }
    Ok(url)
}

/// Who a webhook's owner is, for the rights rule.
fn subscriber(conn: &Connection, station: Option<&StationId>) -> DbResult<Viewer> {
    let Some(id) = station else {
        return Ok(Viewer::Admin);
    };
    let kind = stations::get(conn, id)?.map(|s| s.kind);
    if kind == Some(StationKind::Peer) {
        return Ok(Viewer::Peer { id: id.clone() });
    }
    Ok(Viewer::Station {
        id: id.clone(),
        national: kind == Some(StationKind::National),
    })
}

impl Hub {
    pub(in crate::exchange) fn wake_deliveries(&self) {
        self.dispatch.0.notify_one();
    }

    /// The webhook channel takes `batch` from the log: a delivery for every
    /// subscription to the event's type whose owner may see the program
    /// (and, for a provincial station, follows it, as its feed shows).
    pub(super) fn enqueue_webhooks(&self, tx: &Transaction<'_>, batch: &[Event]) -> DbResult<()> {
        let hooks = webhooks::all(tx)?;
        if hooks.is_empty() {
            return Ok(());
        }
        let now = catalog::now();
        for event in batch {
            let Some(stored) = programs::get(tx, event.program_id)? else {
                continue;
            };
            for hook in hooks.iter().filter(|h| h.events.contains(&event.kind)) {
                let viewer = subscriber(tx, hook.station.as_ref())?;
                let follows_it = match (&viewer, &hook.station) {
                    (Viewer::Station { national: false, .. }, Some(station)) => {
                        !Following::load(tx, station)?.matching(&stored.program).is_empty()
                    }
                    _ => true,
                };
                if follows_it && may_see(&viewer, &stored.program) {
                    webhooks::enqueue(tx, &uuid::Uuid::new_v4().to_string(), &hook.id, event.seq, now)?;
                }
            }
        }
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(caller = %caller.token_id))]
    pub async fn subscribe(&self, caller: &Caller, new: NewWebhook) -> Result<Webhook, ExchangeError> {
        let mut errors = Vec::new();
        let url = match check_url(&new.url) {
            // Where it points now; the dispatcher judges again at each connection.
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
        if new.events.is_empty() {
            errors.push(FieldError::new("events", "name at least one event type"));
        }
        let mut events: Vec<EventType> = Vec::new();
        for (i, e) in new.events.iter().enumerate() {
            match EventType::parse(e) {
                Some(t) if !events.contains(&t) => events.push(t),
                Some(_) => {}
                None => {
                    let all: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
                    errors.push(FieldError::new(
                        format!("events[{i}]"),
                        format!("must be one of {}", all.join(", ")),
                    ));
                }
            }
        }
        let secret = match new.secret {
            // Characters, as the OpenAPI document counts them, not bytes.
            Some(s)
                if (16..=256).contains(&s.expose().chars().count()) && !s.expose().chars().any(char::is_control) =>
            {
                s
            }
            Some(_) => {
                errors.push(FieldError::new(
                    "secret",
                    "must be 16 to 256 characters, without control characters",
                ));
                Secret::default()
            }
            None => {
                let mut b = [0u8; 32];
                rand::rngs::OsRng.fill_bytes(&mut b);
                Secret::new(hex::encode(b))
            }
        };
        if !errors.is_empty() {
            return Err(ExchangeError::Invalid(errors));
        }
        let hook = Webhook {
            id: uuid::Uuid::new_v4().to_string(),
            station: caller.station.clone(),
            url,
            events,
            secret,
            created_at: catalog::now(),
            token_id: Some(caller.token_id.clone()),
        };
        let stored = hook.clone();
        let max = self.webhook_guard.policy().max_per_subscriber;
        self.catalog
            .write(move |tx| {
                // Counted in the writing transaction, so that racing
                // subscriptions cannot pass the cap together.
                if webhooks::count(tx, stored.station.as_ref())? >= max && max > 0 {
                    return Err(ExchangeError::conflict(
                        code::TOO_MANY_WEBHOOKS,
                        format!("a subscriber may have at most {max} webhooks; delete one first"),
                    ));
                }
                Ok(webhooks::insert(tx, &stored)?)
            })
            .await?;
        Ok(hook)
    }

    /// Live subscriptions: the caller's own; the operator's choice of one
    /// station's (`station`), or everyone's.
    #[tracing::instrument(skip_all, fields(caller = %caller.token_id))]
    pub async fn webhooks(&self, caller: &Caller, station: Option<String>) -> Result<Vec<Webhook>, ExchangeError> {
        let own = caller.station.clone();
        let asked = match station {
            Some(s) => Some(StationId::parse(&s).map_err(|_| ExchangeError::invalid("station", "not a station id"))?),
            None => None,
        };
        if caller.is_admin() {
            return Ok(self
                .catalog
                .read(move |c| match asked {
                    Some(s) => webhooks::list(c, Some(&s)),
                    None => webhooks::all(c),
                })
                .await?);
        }
        if asked.is_some() && asked != own {
            return Err(ExchangeError::Forbidden(
                "only the hub operator may see other stations' webhooks",
            ));
        }
        Ok(self.catalog.read(move |c| webhooks::list(c, own.as_ref())).await?)
    }

    /// Subscription `id`, if the caller may manage it: its subscriber's, and
    /// the operator may manage any.
    async fn manageable_webhook(&self, caller: &Caller, id: String) -> Result<Webhook, ExchangeError> {
        let hook = self.catalog.read(move |c| webhooks::get(c, &id)).await?;
        hook.filter(|h| caller.is_admin() || h.station == caller.station)
            .ok_or(ExchangeError::NotFound)
    }

    #[tracing::instrument(skip_all, fields(caller = %caller.token_id))]
    pub async fn unsubscribe(&self, caller: &Caller, id: String) -> Result<(), ExchangeError> {
        let hook = self.manageable_webhook(caller, id).await?;
        self.catalog
            .write(move |tx| webhooks::delete(tx, &hook.id, catalog::now()))
            .await?;
        Ok(())
    }

    /// The subscription and its delivery log, newest first.
    #[tracing::instrument(skip_all, fields(caller = %caller.token_id))]
    pub async fn deliveries(&self, caller: &Caller, id: String) -> Result<(Webhook, Vec<Delivery>), ExchangeError> {
        let hook = self.manageable_webhook(caller, id).await?;
        let hook_id = hook.id.clone();
        let log = self.catalog.read(move |c| webhooks::log(c, &hook_id, 100)).await?;
        Ok((hook, log))
    }

    /// Delivers what is due, forever: woken when deliveries are enqueued,
    /// and when the next retry is due.
    pub async fn run_deliveries(self, render: Render) {
        // The guard resolves every name the client connects to, and refuses
        // internal addresses; IP literals, which skip the resolver, are judged
        // in `deliver`. No redirects (a 3xx is an answer like any other), and
        // no proxy from the environment, which would resolve names itself.
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(self.webhook_guard.clone()))
            .user_agent(concat!("pxhub/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("an HTTP client");
        let lanes = Lanes::default();
        let slots = Arc::new(Semaphore::new(LANES));
        loop {
            // What a change committed but could not carry here (a crash in
            // between, a busy catalog) is taken now.
            if let Err(e) = self.take_events().await {
                tracing::error!(error = %e, "could not take events for webhooks");
            }
            let wait = match self.start_lanes(&client, render, &lanes, &slots).await {
                Ok(wait) => wait,
                Err(e) => {
                    tracing::error!(error = %e, "webhook deliveries failed");
                    Duration::from_secs(1)
                }
            };
            tokio::select! {
                _ = self.dispatch.0.notified() => {}
                _ = tokio::time::sleep(wait.max(Duration::from_millis(20))) => {}
            }
        }
    }

    /// Starts a lane for each subscriber with deliveries due and no lane
    /// running, while slots are free; returns how long until the next
    /// delivery of a subscriber without a lane is due. Lanes wake the
    /// dispatcher when they end.
    async fn start_lanes(
        &self,
        client: &reqwest::Client,
        render: Render,
        lanes: &Lanes,
        slots: &Arc<Semaphore>,
    ) -> Result<Duration, ExchangeError> {
        let pending = self.catalog.read(webhooks::pending_by_subscriber).await?;
        let now = Utc::now();
        let mut wait = Duration::from_secs(60);
        for (subscriber, due) in pending {
            if lanes.running(&subscriber) {
                continue;
            }
            if due > now {
                wait = wait.min((due - now).to_std().unwrap_or_default());
                continue;
            }
            let Ok(slot) = slots.clone().try_acquire_owned() else {
                break;
            };
            let lane = lanes.start(subscriber, slot, self.dispatch.clone());
            tokio::spawn(self.clone().run_lane(client.clone(), render, lane));
        }
        Ok(wait)
    }

    /// Sends, one after another, a batch of what one subscriber has due.
    async fn run_lane(self, client: reqwest::Client, render: Render, lane: Lane) {
        let subscriber = lane.subscriber.clone();
        let due = self
            .catalog
            .read(move |c| webhooks::due_for(c, subscriber.as_ref(), Utc::now(), BATCH))
            .await;
        match due {
            Ok(due) => {
                for d in due {
                    self.deliver(&client, render, d).await;
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "could not read due deliveries");
                // Not straight back: the dispatcher restarts the lane at once.
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
        drop(lane);
    }

    async fn deliver(&self, client: &reqwest::Client, render: Render, d: Delivery) {
        let (id, now) = (d.id.clone(), Utc::now());
        let lease = now + chrono::Duration::from_std(TIMEOUT * 2).unwrap_or_default();
        match self.catalog.write(move |tx| webhooks::claim(tx, &id, now, lease)).await {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => {
                tracing::error!(error = %e, "could not claim a delivery");
                return;
            }
        }
        let (hook_id, seq) = (d.webhook_id.clone(), d.event_seq);
        let loaded = self.catalog.read(move |c| to_deliver(c, &hook_id, seq)).await;
        let now = Utc::now();
        let (status, error, outcome) = match loaded {
            Ok(Some((hook, _, _, _))) if self.literal_refused(&hook.url) => {
                (None, Some(guard::REFUSED.to_owned()), Outcome::GaveUp)
            }
            Ok(Some((hook, event, program, viewer))) if may_see(&viewer, &program) => {
                let body = render(&d.id, &event, &program, &viewer);
                let sent = client
                    .post(&hook.url)
                    .header("Content-Type", "application/json")
                    .header("X-Hub-Signature-256", sign(hook.secret.expose(), &body))
                    .header("X-Hub-Delivery", &d.id)
                    .header("X-Hub-Event", event.kind.as_str())
                    .body(body)
                    .send()
                    .await;
                match sent {
                    Ok(r) if r.status().is_success() => (Some(r.status().as_u16()), None, Outcome::Delivered),
                    Ok(r) => (
                        Some(r.status().as_u16()),
                        Some(format!("answered {}", r.status())),
                        self.retry(&d, now),
                    ),
                    Err(e) if guard::is_refusal(&e) => (None, Some(guard::REFUSED.to_owned()), Outcome::GaveUp),
                    Err(e) => (None, Some(describe(&e)), self.retry(&d, now)),
                }
            }
            Ok(_) => (
                None,
                Some("the program or subscription is gone, or no longer visible".to_owned()),
                Outcome::GaveUp,
            ),
            Err(e) => {
                tracing::error!(error = %e, delivery = %d.id, "could not prepare a delivery");
                return;
            }
        };
        let id = d.id.clone();
        let recorded = self
            .catalog
            .write(move |tx| webhooks::attempted(tx, &id, status, error.as_deref(), outcome, Utc::now()))
            .await;
        if let Err(e) = recorded {
            tracing::error!(error = %e, delivery = %d.id, "could not record a delivery attempt");
        }
    }
}

impl Hub {
    /// Whether `url` names an IP address the policy refuses (names are judged
    /// by the client's resolver).
    fn literal_refused(&self, url: &str) -> bool {
        match url::Url::parse(url) {
            Ok(url) => matches!(self.webhook_guard.judge_literal(&url), Some(Err(_))),
            Err(_) => true,
        }
    }

    fn retry(&self, d: &Delivery, now: DateTime<Utc>) -> Outcome {
        if d.attempts + 1 >= MAX_ATTEMPTS {
            Outcome::GaveUp
        } else {
            let wait = backoff(d.attempts, self.settings.delivery.webhooks.retry);
            Outcome::RetryAt(now + chrono::Duration::from_std(wait).unwrap_or_default())
        }
    }
}

/// What delivery `(hook_id, seq)` sends: the subscription, the event, the
/// program as it is now and who the subscriber is; `None` when one is gone
/// (or a provincial station no longer follows the program: it is not told).
fn to_deliver(
    c: &Connection,
    hook_id: &str,
    seq: i64,
) -> Result<Option<(Webhook, Event, Program, Viewer)>, ExchangeError> {
    let Some(hook) = webhooks::get(c, hook_id)? else {
        return Ok(None);
    };
    let Some(event) = events::get(c, seq)? else {
        return Ok(None);
    };
    let program = programs::get(c, event.program_id)?;
    let viewer = subscriber(c, hook.station.as_ref())?;
    // A provincial station that stopped following it is not told.
    let program = match (&viewer, &hook.station, program) {
        (Viewer::Station { national: false, .. }, Some(s), Some(p))
            if Following::load(c, s)?.matching(&p.program).is_empty() =>
        {
            None
        }
        (_, _, p) => p,
    };
    Ok(program.map(|p| (hook, event, p.program, viewer)))
}

/// A transport error in words, without internals beyond its kind: the log
/// is read by the subscriber, and must not tell what sits behind the URL.
fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "could not connect".into()
    } else {
        "the request failed".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_like_github() {
        // The example of GitHub's webhook documentation.
        assert_eq!(
            sign("It's a Secret to Everybody", b"Hello, World!"),
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
    }

    #[test]
    fn backs_off_exponentially_up_to_an_hour() {
        let base = Duration::from_secs(5);
        assert_eq!(backoff(0, base), Duration::from_secs(5));
        assert_eq!(backoff(1, base), Duration::from_secs(10));
        assert_eq!(backoff(3, base), Duration::from_secs(40));
        assert_eq!(backoff(30, base), Duration::from_secs(3600));
    }

    #[test]
    fn only_http_urls() {
        assert!(check_url("https://ingest.vtv.vn/hooks/pxhub").is_ok());
        assert!(check_url("http://127.0.0.1:9000/x").is_ok());
        for bad in [
            "ftp://x/y",
            "file:///etc/passwd",
            "javascript:alert(1)",
            "/relative",
            "https://user:pw@x/",
            "",
        ] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
    }
}
