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
    /// When its feed was last read (or tried); `None` before the first time.
    pub polled_at: Option<DateTime<Utc>>,
    /// What the peer's webhooks are signed with (made here, given to the
    /// peer when this hub subscribed; never shown).
    pub wake_secret: Option<Secret>,
    /// This hub's webhook subscription at the peer, once made.
    pub wake_hook: Option<String>,
    /// Which of its programs' files are fetched ahead of any need.
    pub eager: EagerMirror,
    /// At most this many bytes of its programs' files are stored here by
    /// eager mirroring (0: no limit).
    pub eager_max_bytes: u64,
}

/// Which of a peer's mirrored programs have their files fetched before
/// anyone asks (so that they are served while the peer is down).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EagerMirror {
    /// None: each file is fetched on first need.
    #[default]
    None,
    /// Every program mirrored from the peer.
    All,
    /// The programs a station of this hub follows.
    Followed,
}

impl EagerMirror {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::All => "all",
            Self::Followed => "followed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::None, Self::All, Self::Followed]
            .into_iter()
            .find(|e| e.as_str() == s)
    }
}

/// A take or a rebroadcast of one of this hub's programs by a station of a
/// peer hub, as the peer reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerUse {
    /// The peer hub (its station here).
    pub peer: StationId,
    /// The peer's idempotency key: one use per key.
    pub key: String,
    /// `take` or `rebroadcast`.
    pub kind: &'static str,
    /// The station there, by its id and name there.
    pub station: String,
    pub station_name: String,
    /// A take's file role.
    pub role: Option<String>,
    /// A rebroadcast's time and channel.
    pub aired_at: Option<DateTime<Utc>>,
    pub channel: Option<String>,
    pub at: DateTime<Utc>,
}
