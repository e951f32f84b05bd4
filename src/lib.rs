//! pxhub: a program exchange hub for regional radio and television stations.
//!
//! Data flows one way: `api` (HTTP) and `web` (the pages) → `exchange` (use-cases) → `catalog`
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
pub mod web;

use config::LogFormat;

/// Logs to standard error, filtered by `filter` (`RUST_LOG` syntax);
/// `RUST_LOG` itself wins when set. Plain text.
pub fn init_tracing(filter: &str) {
    init_logs(filter, LogFormat::Text);
}

/// Logs to standard error as `format` says, filtered by `filter` (`RUST_LOG`
/// syntax); `RUST_LOG` itself wins when set.
pub fn init_logs(filter: &str, format: LogFormat) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(quiet_store_retries(filter)));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// object_store logs each retry of a failed request at `info`: dozens of
/// lines for one request while the store is down. Unless the filter names
/// object_store itself, only its warnings and errors are shown; the hub
/// logs the failure once, with its outcome.
fn quiet_store_retries(filter: &str) -> String {
    if filter.contains("object_store") {
        filter.to_owned()
    } else {
        format!("{filter},object_store=warn")
    }
}
