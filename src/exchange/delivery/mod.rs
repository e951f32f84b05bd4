//! Delivery: every way a program leaves the hub. A change writes one event
//! to the log ([`emit`], which only appends); each channel carries the log
//! out in its own way, with its own cursor or outbox, settings and worker.
//! The channels a hub runs are registered in one place (`app.rs`); a new
//! way out (push to a station's playout, peer hubs) is a new [`Channel`].
//!
//! - [`feed`]: the feed and its Atom form, read by cursor by whoever asks.
//! - [`agent`]: the server side of what the pull agent fetches (its follows'
//!   feed, and the back-fill of a new follow).
//! - [`webhooks`]: pushes, from its cursor over the log into an outbox of
//!   deliveries that its dispatcher sends.
//! - [`push`]: files written into stations' own SFTP, FTP or S3 servers,
//!   from its cursor over the log into an outbox that its worker sends.
//! - [`follows`]: what a station follows, and which programs that matches;
//!   the channels judge by it.

pub mod agent;
pub mod feed;
pub mod follow_settings;
pub mod follows;
pub(super) mod peer_eager;
pub(super) mod peer_files;
pub mod peer_reports;
pub mod peer_wake;
pub mod peers;
pub mod push;
pub mod webhooks;

use super::{ExchangeError, Hub};
use crate::catalog::{self, events, programs};
use crate::catalog::{DbResult, Transaction};
use crate::domain::{EventType, ProgramId};

/// A way programs leave the hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// The feed and Atom: the reader holds the cursor; no worker.
    Feed,
    /// What the pull agent fetches: the agent holds the cursor; no worker.
    Agent,
    /// Webhooks: a cursor over the log, the deliveries as outbox, and the
    /// dispatcher as worker.
    Webhooks,
    /// Peer hubs: this hub reads theirs (each peer's cursor is kept with
    /// it) and mirrors what they share; its worker polls them.
    Peers,
    /// Push delivery: a cursor over the log, the pushes as outbox, and
    /// their sender as worker.
    Push,
}

impl Channel {
    pub fn name(self) -> &'static str {
        match self {
            Self::Feed => "feed",
            Self::Agent => "agent",
            Self::Webhooks => "webhooks",
            Self::Peers => "peers",
            Self::Push => "push",
        }
    }

    /// Whether the hub keeps this channel's place in the log (the others'
    /// readers keep their own).
    fn has_cursor(self) -> bool {
        matches!(self, Self::Webhooks | Self::Push)
    }
}

/// Each channel's settings.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DeliverySettings {
    pub feed: feed::FeedSettings,
    pub agent: agent::AgentSettings,
    pub webhooks: webhooks::WebhookSettings,
    pub peers: peers::PeerSettings,
    pub push: push::PushSettings,
}

/// Records `kind` for the program in the transaction of the change: the
/// one thing a change does for delivery. The channels read it afterwards.
pub(super) fn emit(tx: &Transaction<'_>, kind: EventType, program_id: ProgramId) -> DbResult<()> {
    let Some(stored) = programs::get(tx, program_id)? else {
        return Ok(());
    };
    events::append(tx, kind, stored.seq, catalog::now())?;
    Ok(())
}

/// Events a channel takes from the log in one transaction.
const CATCH_UP_BATCH: usize = 500;

/// A hub that has never run a channel starts it at the end of the log: what
/// came before was carried out when it was written (or never will be).
pub(super) fn start_cursors(tx: &Transaction<'_>, channels: &[Channel]) -> DbResult<()> {
    for channel in channels.iter().filter(|c| c.has_cursor()) {
        if events::cursor(tx, channel.name())?.is_none() {
            events::set_cursor(tx, channel.name(), events::last(tx)?)?;
        }
    }
    Ok(())
}

impl Hub {
    /// Carries the events each channel with a cursor has not taken yet into
    /// its outbox. Called after every change that emits (see
    /// [`Hub::delivered`]), so that the outbox holds the change when the call
    /// answers, and by the workers, which pick up what a crash left between.
    pub(super) async fn take_events(&self) -> Result<(), ExchangeError> {
        for channel in self.channels.iter().copied().filter(|c| c.has_cursor()) {
            loop {
                let hub = self.clone();
                let more = self
                    .catalog
                    .write(move |tx| {
                        let from = events::cursor(tx, channel.name())?.unwrap_or(0);
                        let batch = events::after(tx, from, CATCH_UP_BATCH)?;
                        let Some(last) = batch.last().map(|e| e.seq) else {
                            return Ok::<_, ExchangeError>(false);
                        };
                        match channel {
                            Channel::Webhooks => hub.enqueue_webhooks(tx, &batch)?,
                            Channel::Push => hub.enqueue_pushes(tx, &batch)?,
                            Channel::Feed | Channel::Agent | Channel::Peers => {}
                        }
                        events::set_cursor(tx, channel.name(), last)?;
                        Ok(batch.len() == CATCH_UP_BATCH)
                    })
                    .await?;
                if !more {
                    break;
                }
            }
        }
        Ok(())
    }

    /// After a change that emitted: the channels take its events, and their
    /// workers are woken. Delivery never fails the change (it is committed);
    /// what could not be taken now the workers take later.
    pub(in crate::exchange) async fn delivered(&self) {
        if let Err(e) = self.take_events().await {
            tracing::error!(error = %e, "could not carry events to the channels; the workers will");
        }
        self.wake_deliveries();
        self.wake_pushes();
    }

    /// Runs `channel`'s worker, forever; channels without one return at once.
    pub async fn run_channel(self, channel: Channel, render: webhooks::Render) {
        match channel {
            Channel::Webhooks => self.run_deliveries(render).await,
            Channel::Peers => self.run_peers().await,
            Channel::Push => self.run_pushes().await,
            Channel::Feed | Channel::Agent => {}
        }
    }
}
