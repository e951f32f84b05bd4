//! The use-cases: every business rule of the hub lives here, once, between
//! the doors (HTTP API, command line) and the catalog and media store, which
//! only this layer combines. Answers are domain types or this layer's own;
//! nothing here speaks HTTP or reads the settings file (each setting comes
//! in `ExchangeSettings`).

mod address_limit;
pub mod analysis;
pub mod delivery;
pub mod download_list;
pub mod error;
pub mod files;
mod ledger;
mod maintenance;
mod pace;
pub mod password_gate;
pub mod people;
pub mod people_manage;
pub mod programs;
pub mod renditions;
pub mod report;
pub mod rights;
mod search;
pub mod stations;
pub mod tokens;
pub mod tus;

pub use delivery::feed::FeedScope;
pub use delivery::follows::NewFollow;
pub use delivery::{Channel, DeliverySettings};
pub use error::ExchangeError;
pub use files::{Download, IncomingFile};
pub use ledger::{FileSend, NewRebroadcast, Sending, StationTake, Takes};
pub use maintenance::{ScrubReport, SweepReport};
pub use people::{NewPerson, NewSession, PeopleSettings, Session};
pub use report::{ExchangeReport, StationRow};
pub use search::{Facets, SearchPage, SearchRequest, Sort, MAX_SKIP};
pub use stations::NewStation;
pub use tokens::{Caller, IssuedToken, PersonRef};

use std::sync::Arc;

use crate::analysis::Engine;
use crate::catalog::index::SearchIndex;
use crate::catalog::Catalog;
use crate::media::MediaStore;
use crate::metrics::Metrics;

/// What the use-cases need to know; the hub's settings make one.
#[derive(Debug, Clone, PartialEq)]
pub struct ExchangeSettings {
    /// Largest file accepted, in bytes.
    pub max_upload_bytes: u64,
    /// With S3: whole downloads by a presigned redirect, not through the hub.
    pub presign_downloads: bool,
    /// Each delivery channel's settings, and which channels run.
    pub delivery: DeliverySettings,
    /// The channels this hub runs (`app.rs` registers them).
    pub channels: Vec<Channel>,
    /// Behind nginx with the local store: the prefix of nginx's internal
    /// location, for downloads answered with `X-Accel-Redirect`.
    pub accel_redirect: Option<String>,
    /// How long an upload may go without a byte.
    pub upload_idle: std::time::Duration,
    /// After `upload_rate_grace`, an upload slower than this on average
    /// (bytes per second) is given up; 0: no floor.
    pub upload_min_rate: u64,
    pub upload_rate_grace: std::time::Duration,
    /// Uploads one station may send at once (0: no cap).
    pub max_uploads_per_station: usize,
    /// Unfinished resumable uploads one station may hold (0: no cap).
    pub max_open_uploads_per_station: usize,
    /// Sessions and sign-ins of people.
    pub people: people::PeopleSettings,
    /// How FFmpeg runs.
    pub engine: crate::analysis::EngineSettings,
    /// How the analysis queue runs.
    pub analysis: analysis::AnalysisSettings,
}

/// The hub's use-cases, over one catalog and one media store. Cheap to clone.
#[derive(Clone)]
pub struct Hub {
    catalog: Catalog,
    /// What search filters, counts and sorts on, in memory.
    index: Arc<SearchIndex>,
    media: MediaStore,
    /// Signs search cursors so that a forged one is refused.
    cursor_key: [u8; 32],
    settings: ExchangeSettings,
    active: files::ActiveUploads,
    upload_slots: pace::UploadSlots,
    tus_locks: tus::Locks,
    /// The delivery channels this hub runs.
    channels: Arc<[Channel]>,
    /// Bounds the Argon2id checks running and waiting.
    password_gate: password_gate::PasswordGate,
    /// Failed sign-ins per client address.
    sign_in_addresses: address_limit::AddressLimit,
    dispatch: delivery::webhooks::Dispatch,
    /// Wakes the peer worker (a peer added).
    peer_wake: Arc<tokio::sync::Notify>,
    /// The fetches of mirrored files from their origins, one per content.
    peer_fetches: delivery::peer_files::Fetches,
    /// This hub's address as others reach it, once it listens (peers'
    /// webhooks are sent there).
    public_base: Arc<std::sync::OnceLock<String>>,
    /// When each peer's webhooks were last subscribed to, and failed.
    peer_wake_tries: delivery::peer_wake::Tries,
    /// The peers whose eager mirroring is fetching now.
    peer_eager_rounds: delivery::peer_eager::Rounds,
    /// Wakes the push worker; the targets being pushed to.
    push_work: delivery::push::PushWork,
    /// Where webhooks may go, and how many a subscriber may have.
    webhook_guard: delivery::webhooks::guard::Guard,
    metrics: Arc<Metrics>,
    engine: Engine,
    analysis: Arc<analysis::AnalysisSettings>,
    analysis_wake: Arc<tokio::sync::Notify>,
    /// Analyses running now, by kind.
    analysis_running: Arc<tokio::sync::Mutex<analysis::Running>>,
}

impl Hub {
    pub fn new(catalog: Catalog, media: MediaStore, settings: ExchangeSettings) -> Result<Self, ExchangeError> {
        let cursor_key = catalog.write_blocking(search::cursor_key)?;
        let index = Arc::new(catalog.write_blocking(|tx| SearchIndex::load(tx))?);
        index.follow(&catalog);
        catalog.write_blocking(|tx| delivery::start_cursors(tx, &settings.channels))?;
        Ok(Self {
            catalog,
            index,
            media,
            cursor_key,
            active: Default::default(),
            upload_slots: Default::default(),
            tus_locks: Default::default(),
            channels: settings.channels.clone().into(),
            password_gate: Default::default(),
            sign_in_addresses: Default::default(),
            dispatch: Default::default(),
            peer_wake: Default::default(),
            peer_fetches: Default::default(),
            public_base: Default::default(),
            peer_wake_tries: Default::default(),
            peer_eager_rounds: Default::default(),
            push_work: Default::default(),
            webhook_guard: delivery::webhooks::guard::Guard::new(
                settings.delivery.webhooks.policy.clone(),
                Arc::new(delivery::webhooks::guard::SystemLookup),
            ),
            engine: Engine::new(settings.engine.clone()),
            analysis: Arc::new(settings.analysis.clone()),
            analysis_wake: Default::default(),
            analysis_running: Default::default(),
            settings,
            metrics: Default::default(),
        })
    }

    /// Whether the catalog and the media store answer; `Err` names which
    /// does not (the cause is logged).
    #[tracing::instrument(skip_all)]
    pub async fn ready(&self) -> Result<(), &'static str> {
        if let Err(e) = self.catalog.ping().await {
            tracing::error!(error = %e, "catalog not ready");
            return Err("catalog");
        }
        if let Err(e) = self.media.check().await {
            tracing::error!(error = %e, "media store not ready");
            return Err("media store");
        }
        Ok(())
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }
}
