//! A hub this hub follows: another cluster's, read through its public API
//! with a token its operator issued for this hub.

use chrono::{DateTime, Utc};

use super::{Secret, StationId};

#[derive(Debug, Clone)]
pub struct Peer {
    /// Also the id of the station row that owns its programs here.
    pub id: StationId,
    /// "Cụm 2 — Đông Bắc".
    pub name: String,
    /// Its base URL (`http://hub.example/`), checked by the address guard.
    pub url: String,
    /// Sent to it only, never shown or logged.
    pub token: Secret,
    /// Where its feed is read from next (its own opaque cursor).
    pub cursor: Option<String>,
    /// What went wrong at the last read, in words; `None` when it went well.
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
}
