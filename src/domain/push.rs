//! Push delivery: a station's own server (SFTP, FTP, an S3 bucket) where the
//! hub writes what the station follows, and each file pushed there. Parsed
//! types, no I/O.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::template::{Choice, Template};
use super::{FileRole, Program, ProgramId, Secret, Sha256, StationId};

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
    /// The delivery profile (a slug) the station's playout takes: what is
    /// sent unless the follow names its own.
    pub profile: Option<String>,
    /// How files are named there (see [`crate::domain::template`]); `None`:
    /// [`DEFAULT_PUSH_TEMPLATE`], or the follow's cut ID when it has one.
    pub template: Option<String>,
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
    /// The master's (or other file's) content this delivery is made from: a
    /// changed file is another delivery.
    pub master_sha256: Sha256,
    /// The profile it is sent in; `None`: the file as uploaded.
    pub profile: Option<String>,
    /// What the target receives: the file's content, or once it is made the
    /// rendition's.
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
    /// A push into a bucket: what the next attempt resumes from (the
    /// sender's own record, opaque here).
    pub resume: Option<String>,
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

/// The name of a pushed file when its target names none and its follow
/// sets no cut ID: the hub's own, from the program's id, the file's role and
/// an extension kept from the original name only when it is short and
/// plain, so that nothing a station typed becomes a path on another
/// station's server.
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

/// How a target without a template names what a follow with a cut ID
/// brings: the playout's cut number (`4501.wav`), as automation systems
/// watch for it; the next episode replaces the last under the same name.
pub const CUT_ID_TEMPLATE: &str = "{cut_id}.{ext}";

/// Checks a target's template: one that parses, and names a file in the
/// target's folder (no `/` or `\\`: its values never separate folders).
pub fn check_push_template(raw: &str) -> Result<Template, String> {
    if raw.chars().count() > 200 {
        return Err("must be at most 200 characters".into());
    }
    if raw.contains(['/', '\\']) {
        return Err("names a file in the target's folder: no `/` or `\\`".into());
    }
    Template::parse(raw)
}

/// The name `program`'s `role` file (`filename`: the name it is sent
/// under, its extension the rendition's) takes on the target: by the
/// target's `template`, else by the follow's cut ID, else [`push_name`].
/// Always one component that Windows and Linux both take.
pub fn pushed_name(
    program: &Program,
    role: FileRole,
    filename: &str,
    template: Option<&str>,
    choice: &Choice,
) -> String {
    let parsed = match template {
        Some(t) => check_push_template(t).ok(),
        None if choice.cut_id.is_some() => Template::parse(CUT_ID_TEMPLATE).ok(),
        None => None,
    };
    // A cut number the follow does not set names nothing.
    let unnamed = choice.cut_id.is_none() && template.is_some_and(|t| t.contains("{cut_id}"));
    let Some(t) = parsed.filter(|_| !unnamed) else {
        return push_name(program.id, role, filename);
    };
    let parts = t.render_with(&super::template::fields_of(program), role.as_str(), filename, choice);
    // Values never separate folders; should a template still give more
    // than one component, they are one name.
    super::template::safe_component(&parts.join(" "))
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
    fn pushed_names_follow_the_template_then_the_cut_id() {
        let meta = serde_json::json!({"title": "Tiếng nói/Hà Giang: số 1", "kind": "radio", "genre": "news",
            "languages": ["vi"]});
        let p = Program {
            id: ProgramId::generate(),
            station: StationId::parse("ha-giang").unwrap(),
            status: super::super::ProgramStatus::Published,
            meta: super::super::ProgramMetadata::parse(serde_json::from_value(meta).unwrap()).unwrap(),
            created_at: Utc::now(),
            updated_at: Utc::now(),
            published_at: Some(Utc::now()),
            withdrawn_at: None,
            withdrawal_reason: None,
            version: 1,
            files: Vec::new(),
            origin: None,
        };
        let cut = Choice {
            profile: Some("bwf-mp2".into()),
            cut_id: Some("4501".into()),
        };
        assert_eq!(pushed_name(&p, FileRole::Master, "tin.wav", None, &cut), "4501.wav");
        assert_eq!(
            pushed_name(&p, FileRole::Script, "tin.txt", None, &cut),
            "4501.script.txt"
        );
        assert_eq!(
            pushed_name(&p, FileRole::Master, "tin.wav", Some("{cut_id} {title}.{ext}"), &cut),
            "4501 Tiếng nói_Hà Giang_ số 1.wav"
        );
        assert_eq!(
            pushed_name(&p, FileRole::Master, "tin.mp3", None, &Choice::default()),
            format!("{}-master.mp3", p.id)
        );
        // Without a cut ID, a template naming it gives the hub's own name.
        assert_eq!(
            pushed_name(
                &p,
                FileRole::Master,
                "tin.wav",
                Some("{cut_id}.{ext}"),
                &Choice::default()
            ),
            format!("{}-master.wav", p.id)
        );
        for bad in ["in/{title}", "a\\b", "{nope}", "../x", ""] {
            assert!(check_push_template(bad).is_err(), "{bad}");
        }
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
