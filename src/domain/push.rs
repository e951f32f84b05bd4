//! Push delivery: a station's own server (SFTP, FTP, an S3 bucket) where the
//! hub writes what the station follows, and each file pushed there. Parsed
//! types, no I/O.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{FileRole, ProgramId, Secret, Sha256, StationId};

/// How the hub reaches a station's server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    Sftp,
    Ftp,
    S3,
}

impl TargetKind {
    pub const ALL: [TargetKind; 3] = [Self::Sftp, Self::Ftp, Self::S3];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sftp => "sftp",
            Self::Ftp => "ftp",
            Self::S3 => "s3",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The URL schemes a target of this kind takes.
    pub fn schemes(self) -> &'static [&'static str] {
        match self {
            Self::Sftp => &["sftp"],
            Self::Ftp => &["ftp"],
            Self::S3 => &["http", "https"],
        }
    }

    pub fn default_port(self) -> u16 {
        match self {
            Self::Sftp => 22,
            Self::Ftp => 21,
            Self::S3 => 443,
        }
    }
}

/// A station's server, as the hub keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushTarget {
    pub id: String,
    pub station: StationId,
    pub kind: TargetKind,
    /// `sftp://host:port`, `ftp://host:port`, or an S3 endpoint
    /// `https://host:port` (`?region=` optional).
    pub url: String,
    pub username: String,
    pub secret: Secret,
    /// The folder files go to; for S3, `bucket/prefix`.
    pub path: String,
    /// The delivery profile (a slug), as the station gave it.
    pub profile: Option<String>,
    /// SFTP: the server's host key fingerprint, learnt at the first
    /// connection.
    pub host_key: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// Where a push stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PushState {
    /// Waiting for its turn, or for its next try.
    Pending,
    Sending,
    Done,
    /// Given up, or stopped (the program changed or was withdrawn).
    Failed,
    /// The program's rights window has not opened yet.
    WaitingWindow,
}

impl PushState {
    pub const ALL: [PushState; 5] = [
        Self::Pending,
        Self::Sending,
        Self::Done,
        Self::Failed,
        Self::WaitingWindow,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sending => "sending",
            Self::Done => "done",
            Self::Failed => "failed",
            Self::WaitingWindow => "waiting_window",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// One file pushed (or to push) to a target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushDelivery {
    pub id: String,
    pub station: StationId,
    pub target_id: String,
    pub program_id: ProgramId,
    pub role: FileRole,
    /// The content pushed.
    pub sha256: Sha256,
    pub size: u64,
    /// Its name on the target.
    pub name: String,
    pub state: PushState,
    /// Bytes on the target so far.
    pub bytes: u64,
    pub attempts: u32,
    /// Attempts in a row that moved no byte forward.
    pub stalls: u32,
    pub error: Option<String>,
    pub next_attempt_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Whether `s` is a slug as profile ids are (`bwf-mp2-r128`): 1 to 64
/// lowercase letters, digits and single hyphens, starting with a letter or
/// digit, not ending with a hyphen.
pub fn is_slug(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.contains("--")
}

/// The name a pushed file takes on the target: made by the hub from the
/// program's id, the file's role and an extension kept from the original
/// name only when it is short and plain, so that nothing a station typed
/// becomes a path on another station's server.
pub fn push_name(program: ProgramId, role: FileRole, original: &str) -> String {
    let ext = original
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .filter(|e| (1..=8).contains(&e.len()) && e.bytes().all(|b| b.is_ascii_alphanumeric()));
    match ext {
        Some(ext) => format!("{program}-{}.{ext}", role.as_str()),
        None => format!("{program}-{}", role.as_str()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_hubs_own() {
        let id = ProgramId::generate();
        assert_eq!(
            push_name(id, FileRole::Master, "Bản tin.MP3"),
            format!("{id}-master.mp3")
        );
        assert_eq!(push_name(id, FileRole::Master, "x.../../etc"), format!("{id}-master"));
        assert_eq!(push_name(id, FileRole::Script, "noext"), format!("{id}-script"));
        assert_eq!(
            push_name(id, FileRole::Master, "a.tar.verylongext"),
            format!("{id}-master")
        );
    }

    #[test]
    fn slugs() {
        for ok in ["bwf-mp2-r128", "keep", "mp3-128", "a"] {
            assert!(is_slug(ok), "{ok}");
        }
        for bad in ["", "-a", "a-", "a--b", "Keep", "a b", "a/b", &"a".repeat(65)] {
            assert!(!is_slug(bad), "{bad}");
        }
    }
}
