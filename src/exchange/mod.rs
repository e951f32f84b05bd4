//! The use-cases: every business rule of the hub lives here, once, between
//! the HTTP layer and the catalog.

mod error;
pub mod feed;
pub mod files;
mod ledger;
mod maintenance;
pub mod programs;
mod report;
pub mod rights;
mod search;
pub mod stations;
pub mod tokens;
pub mod tus;
pub mod webhooks;

pub use error::ExchangeError;
pub use files::{Download, IncomingFile};
pub use ledger::{NewRebroadcast, Takes};
pub use maintenance::{ScrubReport, SweepReport};
pub use report::{ExchangeReport, StationRow};
pub use search::{Facets, SearchPage, SearchRequest, Sort};
pub use stations::NewStation;
pub use tokens::{Caller, IssuedToken};

use std::sync::Arc;

use crate::catalog::index::SearchIndex;
use crate::catalog::Catalog;
use crate::media::MediaStore;
use crate::metrics::Metrics;

/// The hub's use-cases, over one catalog and one media store. Cheap to clone.
#[derive(Clone)]
pub struct Hub {
    catalog: Catalog,
    /// What search filters, counts and sorts on, in memory.
    index: Arc<SearchIndex>,
    media: MediaStore,
    /// Signs search cursors so that a forged one is refused.
    cursor_key: [u8; 32],
    max_upload_bytes: u64,
    active: files::ActiveUploads,
    tus_locks: tus::Locks,
    dispatch: webhooks::Dispatch,
    /// The first wait before a failed webhook delivery is retried.
    webhook_retry: std::time::Duration,
    /// Where webhooks may go, and how many a subscriber may have.
    webhook_guard: webhooks::guard::Guard,
    /// How long an upload may go without a byte.
    upload_idle: std::time::Duration,
    metrics: Arc<Metrics>,
}

impl Hub {
    pub fn new(catalog: Catalog, media: MediaStore, max_upload_bytes: u64) -> Result<Self, rusqlite::Error> {
        let cursor_key = catalog.write_blocking(search::cursor_key)?;
        let index = Arc::new(catalog.write_blocking(|tx| SearchIndex::load(tx))?);
        Ok(Self {
            catalog,
            index,
            media,
            cursor_key,
            max_upload_bytes,
            active: Default::default(),
            tus_locks: Default::default(),
            dispatch: Default::default(),
            webhook_retry: std::time::Duration::from_millis(crate::config::DEFAULT_WEBHOOK_RETRY_MS),
            webhook_guard: webhooks::guard::Guard::new(Default::default(), Arc::new(webhooks::guard::SystemLookup)),
            upload_idle: std::time::Duration::from_secs(crate::config::DEFAULT_UPLOAD_IDLE_SECS),
            metrics: Default::default(),
        })
    }

    /// Sets how long an upload may go without a byte.
    pub fn with_upload_idle(mut self, idle: std::time::Duration) -> Self {
        self.upload_idle = idle;
        self
    }

    /// The next chunk of an upload's body; `Err(())` when none came in time.
    pub(crate) async fn next_chunk<S: futures_util::Stream + Unpin>(
        &self,
        body: &mut S,
    ) -> Result<Option<S::Item>, ()> {
        use futures_util::StreamExt;
        tokio::time::timeout(self.upload_idle, body.next()).await.map_err(drop)
    }

    /// Sets the first wait before a failed webhook delivery is retried.
    pub fn with_webhook_retry(mut self, wait: std::time::Duration) -> Self {
        self.webhook_retry = wait;
        self
    }

    /// Sets where webhooks may go (the allow list) and how many a subscriber
    /// may have.
    pub fn with_webhook_policy(mut self, policy: webhooks::WebhookPolicy) -> Self {
        self.webhook_guard = webhooks::guard::Guard::new(policy, Arc::new(webhooks::guard::SystemLookup));
        self
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    pub fn media(&self) -> &MediaStore {
        &self.media
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }
}
