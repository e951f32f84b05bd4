//! pxhub: a program exchange hub for regional radio and television stations.
//!
//! Data flows one way: `api` (HTTP) → `exchange` (use-cases) → `catalog`
//! (SQLite) and `media` (the object store) → `domain` (the nouns).

pub mod analysis;
pub mod api;
pub mod app;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod domain;
pub mod error;
pub mod exchange;
pub mod media;
pub mod metrics;
pub mod pull;

pub use app::Application;
pub use config::Settings;

/// Logs to standard error, filtered by `filter` (`RUST_LOG` syntax);
/// `RUST_LOG` itself wins when set.
pub fn init_tracing(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
