//! One typed settings tree. Each setting is written once, in the
//! [`settings!`] table below: its name (the TOML key and, in kebab case, the
//! `pxhub serve` flag), its `PXHUB_…` variable, its type, its default and its
//! help line. The flags, the variables, the TOML file, the defaults, the help
//! text and the README's table all come from that one row.
//!
//! Precedence: command-line flag, then environment variable, then the TOML
//! file (`--config`), then the default. Nothing here opens a file but the
//! TOML file; the subsystems take small settings structs of their own
//! ([`Settings::media`], [`Settings::exchange`]), so none of them reads this
//! module.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use serde::Deserialize;

pub use crate::domain::Secret;
use crate::media::S3Bucket;

mod conffile;
pub use conffile::{package_conffile, PACKAGE_DATA_DIR};

/// How a default reads in the help text and the README.
pub trait ShowDefault {
    fn show(&self) -> String;
}

macro_rules! show_by_display {
    ($($t:ty),*) => { $(impl ShowDefault for $t { fn show(&self) -> String { self.to_string() } })* };
}
show_by_display!(String, usize, u64, u32, bool);

/// With its decimal point (`-23.0`), so that TOML reads it as a float.
impl ShowDefault for f64 {
    fn show(&self) -> String {
        format!("{self:?}")
    }
}

impl ShowDefault for Secret {
    fn show(&self) -> String {
        String::new()
    }
}

impl ShowDefault for PathBuf {
    fn show(&self) -> String {
        self.display().to_string()
    }
}

/// One row of the settings table, as the help text and the README show it.
#[derive(Debug, Clone, PartialEq)]
pub struct SettingDoc {
    /// The TOML key (`[storage] path` for the storage table's).
    pub key: String,
    pub env: &'static str,
    /// The default as text; empty when there is none.
    pub default: String,
    pub help: &'static str,
}

impl SettingDoc {
    /// The key inside its TOML table, and whether that table is `[storage]`.
    pub fn toml_key(&self) -> (&str, bool) {
        match self.key.strip_prefix("[storage] ") {
            Some(key) => (key, true),
            None => (&self.key, false),
        }
    }

    /// The default as a TOML value; `None` when there is none, or when it
    /// depends on another setting (`<…>`).
    pub fn toml_default(&self) -> Option<String> {
        let d = &self.default;
        if d.is_empty() || d.contains('<') {
            return None;
        }
        let bare = d.parse::<f64>().is_ok() || d == "true" || d == "false";
        Some(if bare { d.clone() } else { format!("{d:?}") })
    }
}

/// Writes the settings' structs from one table. Each row:
/// `name: Type = default, "PXHUB_NAME", "VALUE_NAME", "help";`
macro_rules! settings {
    ($( $name:ident : $ty:ty = $default:expr, $env:literal, $value:literal, $help:literal; )*) => {
        /// Settings of a running hub; see the table in this module's source,
        /// `pxhub serve --help` or the README.
        #[derive(Debug, Clone, PartialEq)]
        pub struct Settings {
            /// Folder of the catalog and, by default, the media.
            pub data_dir: PathBuf,
            $( #[doc = $help] pub $name: $ty, )*
            /// Where media objects are stored.
            pub storage: StorageSettings,
        }

        impl Default for Settings {
            fn default() -> Self {
                Self {
                    data_dir: DEFAULT_DATA_DIR.into(),
                    $( $name: $default, )*
                    storage: StorageSettings::Local { path: None },
                }
            }
        }

        /// Values that override the defaults: from the file, the environment
        /// or the flags. Also the shape of the TOML file and the `serve` flags.
        #[derive(Debug, Clone, Default, Deserialize, clap::Args)]
        #[serde(deny_unknown_fields)]
        pub struct Overrides {
            /// The global `--data-dir` flag (and `PXHUB_DATA_DIR`), which every
            /// command that opens the catalog takes.
            #[arg(skip)]
            pub data_dir: Option<PathBuf>,
            $(
                #[arg(long, env = $env, value_name = $value, hide_env_values = true, help = help_line($help, Settings::default().$name.show()))]
                pub $name: Option<$ty>,
            )*
            #[serde(default)]
            #[command(flatten)]
            pub storage: StorageOverrides,
        }

        impl Overrides {
            /// Takes every value `later` has, keeping ours where it has none.
            fn merge(&mut self, later: Overrides) {
                if later.data_dir.is_some() { self.data_dir = later.data_dir; }
                $( if later.$name.is_some() { self.$name = later.$name; } )*
                self.storage.merge(later.storage);
            }

            fn resolve(self) -> anyhow::Result<Settings> {
                let defaults = Settings::default();
                Ok(Settings {
                    data_dir: self.data_dir.unwrap_or(defaults.data_dir),
                    $( $name: self.$name.unwrap_or(defaults.$name), )*
                    storage: self.storage.resolve()?,
                })
            }
        }

        impl Settings {
            /// Every setting's row: key, variable, default, help.
            pub fn docs() -> Vec<SettingDoc> {
                let defaults = Settings::default();
                let mut rows = vec![SettingDoc {
                    key: "data_dir".to_owned(),
                    env: "PXHUB_DATA_DIR",
                    default: DEFAULT_DATA_DIR.to_owned(),
                    help: "catalog (`catalog.db`) and, by default, the media; `--data-dir` works for every command",
                }];
                rows.extend([$( SettingDoc {
                    key: stringify!($name).to_owned(),
                    env: $env,
                    default: defaults.$name.show(),
                    help: $help,
                }, )*]);
                rows.extend(StorageOverrides::docs());
                rows
            }
        }
    };
}

/// The catalog's folder when neither `--data-dir` nor `PXHUB_DATA_DIR` is given.
pub const DEFAULT_DATA_DIR: &str = "storage";

fn help_line(help: &str, default: String) -> String {
    if default.is_empty() {
        help.to_owned()
    } else {
        format!("{help} [default: {default}]")
    }
}

settings! {
    listen: String = "127.0.0.1:8080".into(), "PXHUB_LISTEN", "ADDR",
        "address to listen on (port 0: any free port)";
    max_json_bytes: usize = 1024 * 1024, "PXHUB_MAX_JSON_BYTES", "BYTES",
        "largest JSON request body";
    max_upload_bytes: u64 = 50 * 1024 * 1024 * 1024, "PXHUB_MAX_UPLOAD_BYTES", "BYTES",
        "largest file (50 GiB); enforced as the bytes arrive";
    part_size: usize = 8 * 1024 * 1024, "PXHUB_PART_SIZE", "BYTES",
        "S3 multipart part size (8 MiB), at least 5 MiB with S3; 10,000 parts must hold `max_upload_bytes`";
    sweep_interval_secs: u64 = 3600, "PXHUB_SWEEP_INTERVAL_SECS", "SECS",
        "how often leftovers of interrupted uploads are swept (also at start)";
    sweep_grace_secs: u64 = 600, "PXHUB_SWEEP_GRACE_SECS", "SECS",
        "leftovers younger than this are left alone";
    presign_downloads: bool = false, "PXHUB_PRESIGN_DOWNLOADS", "BOOL",
        "with S3: full downloads get a 5-minute presigned redirect instead of being proxied (the ledger then counts the redirect as the take)";
    accel_redirect: String = String::new(), "PXHUB_ACCEL_REDIRECT", "PREFIX",
        "with the local store behind nginx: permitted downloads answer `X-Accel-Redirect: <this><object key>` and nginx sends the bytes from its `internal` location of this prefix, e.g. `/_objects/` (README, \"Behind nginx\"; the ledger counts the take when the redirect is handed out); empty: off";
    upload_idle_secs: u64 = 120, "PXHUB_UPLOAD_IDLE_SECS", "SECS",
        "an upload that sends no byte for this long is dropped (a resumable one keeps what arrived, and is free to resume at once)";
    upload_min_rate: u64 = 1024, "PXHUB_UPLOAD_MIN_RATE", "BYTES_PER_S",
        "after `upload_rate_grace_secs`, an upload slower than this on average is dropped (a resumable one keeps what arrived); 0: no floor";
    upload_rate_grace_secs: u64 = 60, "PXHUB_UPLOAD_RATE_GRACE_SECS", "SECS",
        "how long an upload may go below `upload_min_rate` at its start";
    max_uploads_per_station: usize = 8, "PXHUB_MAX_UPLOADS_PER_STATION", "N",
        "uploads (single requests and resumable chunks) one station may send at once; more get 429 (0: no cap)";
    max_open_uploads_per_station: usize = 100, "PXHUB_MAX_OPEN_UPLOADS_PER_STATION", "N",
        "unfinished resumable uploads one station may hold; more are refused with 409 (0: no cap)";
    public_url: String = String::new(), "PXHUB_PUBLIC_URL", "URL",
        "the hub's address as stations reach it (e.g. `https://hub.example.vn`), for links in feeds; empty: `http://` and the listen address";
    metrics_token: Secret = Secret::default(), "PXHUB_METRICS_TOKEN", "TOKEN",
        "when set, `/metrics` answers only `Authorization: Bearer <this>`; empty: open to whoever reaches the port";
    webhook_allow: String = String::new(), "PXHUB_WEBHOOK_ALLOW", "NETWORKS",
        "networks webhooks may reach although they are internal (loopback, private, link-local…), as CIDR networks or addresses separated by commas (`10.1.0.0/16, ::1`); empty: none";
    max_webhooks_per_subscriber: usize = 10, "PXHUB_MAX_WEBHOOKS_PER_SUBSCRIBER", "N",
        "live webhooks one subscriber (a station, or the operator) may have (0: no cap)";
    webhook_retry_ms: u64 = 5_000, "PXHUB_WEBHOOK_RETRY_MS", "MS",
        "first wait before a failed webhook delivery is retried; doubled each time, at most an hour";
    peer_poll_ms: u64 = 30_000, "PXHUB_PEER_POLL_MS", "MS",
        "how often the feeds of the peer hubs this hub follows are read (`pxhub peer add`)";
    peer_wake: bool = true, "PXHUB_PEER_WAKE", "BOOL",
        "subscribe to each peer hub's webhooks (with this hub's peer token, to `public_url`/api/v1/peers/ID/wake) so that a change there wakes this hub's peer worker at once; the feed is still read every `peer_poll_ms`";
    push_retry_ms: u64 = 30_000, "PXHUB_PUSH_RETRY_MS", "MS",
        "first wait before a failed push to a station's server (SFTP, FTP, S3) is tried again; doubled each time, at most an hour";
    storage_connect_timeout_ms: u64 = 2_000, "PXHUB_STORAGE_CONNECT_TIMEOUT_MS", "MS",
        "S3: a store that does not take the connection within this is unavailable (the request tries again, then answers 503)";
    storage_timeout_secs: u64 = 30, "PXHUB_STORAGE_TIMEOUT_SECS", "SECS",
        "S3: one request to the store (a part, a read, a listing) that takes longer fails and is tried again; a long read goes on from where it stopped";
    storage_retries: usize = 2, "PXHUB_STORAGE_RETRIES", "N",
        "S3: tries after the first for a request the store failed (refused, timed out, 5xx); after them the client gets 503 `storage_unavailable`";
    behind_tls: bool = false, "PXHUB_BEHIND_TLS", "BOOL",
        "the hub is reached over HTTPS (a TLS proxy in front): the web page's session cookie is marked `Secure`";
    body_timeout_secs: u64 = 20, "PXHUB_BODY_TIMEOUT_SECS", "SECS",
        "the body of a form or a JSON request (not a file upload) must arrive within this, else 408 and the connection is closed";
    session_idle_secs: u64 = 8 * 3600, "PXHUB_SESSION_IDLE_SECS", "SECS",
        "a web session unused for this long ends (8 hours)";
    session_max_secs: u64 = 12 * 3600, "PXHUB_SESSION_MAX_SECS", "SECS",
        "a web session ends this long after sign-in, however much it is used (12 hours)";
    visit_gap_secs: u64 = 3600, "PXHUB_VISIT_GAP_SECS", "SECS",
        "a person away from the pages this long comes back for a new visit: the page of what is new lists what was published since they left";
    sign_in_lock_after: u32 = 5, "PXHUB_SIGN_IN_LOCK_AFTER", "N",
        "failed sign-ins for one login before it locks (each failure past the second is answered more slowly)";
    sign_in_lock_secs: u64 = 900, "PXHUB_SIGN_IN_LOCK_SECS", "SECS",
        "how long a login stays locked after too many failed sign-ins";
    sign_in_address_limit: u32 = 30, "PXHUB_SIGN_IN_ADDRESS_LIMIT", "N",
        "failed sign-ins from one client address (an IPv6 /64) within sign_in_lock_secs before it is refused, whatever login it tries (0: no limit)";
    web_upload_chunk_bytes: u64 = 8 * 1024 * 1024, "PXHUB_WEB_UPLOAD_CHUNK_BYTES", "BYTES",
        "the size of each request of an upload from the web page (tus PATCH), 8 MiB; a dropped link resends at most this much";
    web_default_language: String = "vi".into(), "PXHUB_WEB_DEFAULT_LANGUAGE", "LANG",
        "the web page's language (`vi` or `en`) for whoever has not chosen one on the page, whatever the browser asks";
    hub_name: String = String::new(), "PXHUB_HUB_NAME", "NAME",
        "the hub's name in every page's title and header (empty: «Kho trao đổi chương trình», in the page's language)";
    favicon: PathBuf = PathBuf::new(), "PXHUB_FAVICON", "PATH",
        "an .ico, .png or .svg file (at most 256 kB) the pages show as their icon, read at start (empty: the built-in one)";
    analysis_workers: usize = 1, "PXHUB_ANALYSIS_WORKERS", "N",
        "files analysed at once (FFmpeg at low priority: probe, loudness, previews); 0: files are queued, not analysed";
    analysis_audio_workers: usize = 1, "PXHUB_ANALYSIS_AUDIO_WORKERS", "N",
        "of those, at most this many audio files (and anything not declared as video) at once";
    analysis_video_workers: usize = 1, "PXHUB_ANALYSIS_VIDEO_WORKERS", "N",
        "of those, at most this many video files at once (a video preview keeps every core busy)";
    ffmpeg: PathBuf = "ffmpeg".into(), "PXHUB_FFMPEG", "PATH",
        "the `ffmpeg` program (found on `PATH` unless a path is given); without it the hub runs and files wait for analysis";
    ffprobe: PathBuf = "ffprobe".into(), "PXHUB_FFPROBE", "PATH",
        "the `ffprobe` program";
    analysis_timeout_secs: u64 = 4 * 3600, "PXHUB_ANALYSIS_TIMEOUT_SECS", "SECS",
        "longest one file's analysis may take, previews included; then it is tried again later";
    analysis_lease_secs: u64 = 60, "PXHUB_ANALYSIS_LEASE_SECS", "SECS",
        "a running analysis renews its claim this often (three times per period); a claim not renewed (the hub died) passes to the next worker";
    qc_target_lufs: f64 = -23.0, "PXHUB_QC_TARGET_LUFS", "LUFS",
        "QC: the integrated loudness files should have (EBU R128)";
    qc_tolerance_lu: f64 = 1.0, "PXHUB_QC_TOLERANCE_LU", "LU",
        "QC: how far from the target a file may be before it is flagged `warn`";
    qc_max_true_peak_dbtp: f64 = -1.0, "PXHUB_QC_MAX_TRUE_PEAK_DBTP", "DBTP",
        "QC: the highest true peak before a file is flagged `warn`";
    catalog_autocheckpoint: u32 = 1000, "PXHUB_CATALOG_AUTOCHECKPOINT", "PAGES",
        "the catalog checkpoints its write-ahead log once it holds this many pages; 0: never, for a hub run under Litestream, which then checkpoints";
    workers: usize = 0, "PXHUB_WORKERS", "N",
        "HTTP worker threads (0: one per core)";
    log: String = "info".into(), "PXHUB_LOG", "FILTER",
        "log filter (`RUST_LOG` syntax; `RUST_LOG` itself wins)";
    log_format: String = "text".into(), "PXHUB_LOG_FORMAT", "FORMAT",
        "`text`: plain lines, coloured only on a terminal; `json`: one JSON object per line, for a log collector";
}

/// The media store: a local folder, or an S3-compatible bucket.
#[derive(Debug, Clone, PartialEq)]
pub enum StorageSettings {
    /// A folder; `None`: `<data_dir>/media`.
    Local {
        path: Option<PathBuf>,
    },
    S3(S3Bucket),
}

/// The `[storage]` table of the file, its `PXHUB_STORAGE_…` variables and
/// its `--storage…` flags. The table's rows are written once, here.
macro_rules! storage_settings {
    ($( $name:ident : $ty:ty, $flag:literal, $env:literal, $value:literal, $default:literal, $help:literal; )*) => {
        #[derive(Debug, Clone, Default, Deserialize, clap::Args)]
        #[serde(deny_unknown_fields)]
        pub struct StorageOverrides {
            $(
                #[arg(long = $flag, env = $env, value_name = $value, hide_env_values = true,
                      help = help_line($help, $default.to_owned()))]
                pub $name: Option<$ty>,
            )*
        }

        impl StorageOverrides {
            fn merge(&mut self, later: StorageOverrides) {
                $( if later.$name.is_some() { self.$name = later.$name; } )*
            }

            fn docs() -> Vec<SettingDoc> {
                vec![$( SettingDoc {
                    key: format!("[storage] {}", stringify!($name)),
                    env: $env,
                    default: $default.to_owned(),
                    help: $help,
                }, )*]
            }
        }
    };
}

storage_settings! {
    backend: String, "storage", "PXHUB_STORAGE", "BACKEND", "local",
        "`local` or `s3`";
    path: PathBuf, "storage-path", "PXHUB_STORAGE_PATH", "DIR", "<data_dir>/media",
        "local media folder";
    endpoint: String, "storage-endpoint", "PXHUB_STORAGE_ENDPOINT", "URL", "",
        "S3 endpoint URL";
    bucket: String, "storage-bucket", "PXHUB_STORAGE_BUCKET", "NAME", "",
        "S3 bucket";
    region: String, "storage-region", "PXHUB_STORAGE_REGION", "REGION", "us-east-1",
        "S3 region (Garage: as in its `s3_region`)";
    access_key_id: String, "storage-access-key-id", "PXHUB_STORAGE_ACCESS_KEY_ID", "ID", "",
        "S3 key id";
    secret_access_key: Secret, "storage-secret-access-key", "PXHUB_STORAGE_SECRET_ACCESS_KEY", "SECRET", "",
        "S3 secret; never logged (prefer the variable or the file to the flag)";
    prefix: String, "storage-prefix", "PXHUB_STORAGE_PREFIX", "PREFIX", "",
        "key prefix, so several hubs can share a bucket";
}

/// S3 allows at most this many parts in one multipart upload…
const S3_MAX_PARTS: u64 = 10_000;
/// …each at least this large but for the last.
const S3_MIN_PART: usize = 5 * 1024 * 1024;

impl StorageOverrides {
    fn resolve(self) -> anyhow::Result<StorageSettings> {
        match self.backend.as_deref().unwrap_or("local") {
            "local" => Ok(StorageSettings::Local { path: self.path }),
            "s3" => {
                let need = |v: Option<String>, name: &str| {
                    v.filter(|v| !v.is_empty()).with_context(|| {
                        format!(
                            "storage backend s3 needs storage.{name} (PXHUB_STORAGE_{})",
                            name.to_uppercase()
                        )
                    })
                };
                Ok(StorageSettings::S3(S3Bucket {
                    endpoint: need(self.endpoint, "endpoint")?,
                    bucket: need(self.bucket, "bucket")?,
                    region: self.region.unwrap_or_else(|| "us-east-1".into()),
                    access_key_id: need(self.access_key_id, "access_key_id")?,
                    secret_access_key: Secret::new(need(
                        self.secret_access_key.map(|s| s.expose().to_owned()),
                        "secret_access_key",
                    )?),
                    prefix: self.prefix.unwrap_or_default(),
                }))
            }
            other => anyhow::bail!("storage.backend must be `local` or `s3`, not `{other}`"),
        }
    }
}

impl Settings {
    /// Defaults, then `file` (if any), then `overrides`.
    pub fn load(file: Option<&Path>, overrides: Overrides) -> anyhow::Result<Self> {
        let mut merged = Overrides::default();
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            let from_file: Overrides = toml::from_str(&text).with_context(|| format!("in {}", path.display()))?;
            merged.merge(from_file);
        }
        merged.merge(overrides);
        let s = merged.resolve()?;
        s.check()?;
        Ok(s)
    }

    /// Refuses settings that cannot work.
    pub fn check(&self) -> anyhow::Result<()> {
        if self.max_json_bytes < 1024 {
            anyhow::bail!("max_json_bytes must be at least 1024");
        }
        if self.part_size < 64 * 1024 {
            anyhow::bail!("part_size must be at least 65536 bytes");
        }
        if let StorageSettings::S3(_) = self.storage {
            if self.part_size < S3_MIN_PART {
                anyhow::bail!("with S3, part_size must be at least {S3_MIN_PART} bytes");
            }
            if (self.part_size as u64).saturating_mul(S3_MAX_PARTS) < self.max_upload_bytes {
                anyhow::bail!(
                    "part_size {} allows files of at most {} bytes on S3 ({S3_MAX_PARTS} parts), less than max_upload_bytes {}",
                    self.part_size,
                    self.part_size as u64 * S3_MAX_PARTS,
                    self.max_upload_bytes
                );
            }
        }
        self.exchange()?;
        self.log_format()?;
        if !matches!(self.web_default_language.as_str(), "vi" | "en") {
            anyhow::bail!("web_default_language must be `vi` or `en`");
        }
        if self.hub_name.chars().count() > 100 || self.hub_name.chars().any(char::is_control) {
            anyhow::bail!("hub_name must be at most 100 characters, none of them control characters");
        }
        self.favicon()?;
        if !self.public_url.is_empty() {
            let url =
                url::Url::parse(&self.public_url).context("public_url must be a URL such as https://hub.example.vn")?;
            if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
                anyhow::bail!("public_url must be an http or https URL with a host");
            }
        }
        if self.presign_downloads && matches!(self.storage, StorageSettings::Local { .. }) {
            anyhow::bail!("presign_downloads needs the s3 storage backend");
        }
        if !self.accel_redirect.is_empty() {
            if !matches!(self.storage, StorageSettings::Local { .. }) {
                anyhow::bail!("accel_redirect needs the local storage backend");
            }
            let p = &self.accel_redirect;
            let safe = p.bytes().all(|b| b.is_ascii_alphanumeric() || b"/_-.".contains(&b));
            if !(p.starts_with('/') && p.ends_with('/') && p.len() > 2 && safe && !p.contains("..")) {
                anyhow::bail!("accel_redirect must be a path prefix such as /_objects/ (letters, digits, / _ - .)");
            }
        }
        Ok(())
    }

    /// The pages' icon, read from `favicon`, and its media type; `None`
    /// when none is set.
    pub fn favicon(&self) -> anyhow::Result<Option<(Vec<u8>, &'static str)>> {
        if self.favicon.as_os_str().is_empty() {
            return Ok(None);
        }
        let kind = match self
            .favicon
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
        {
            Some(e) if e == "ico" => "image/x-icon",
            Some(e) if e == "png" => "image/png",
            Some(e) if e == "svg" => "image/svg+xml",
            _ => anyhow::bail!("favicon must be an .ico, .png or .svg file"),
        };
        let bytes = std::fs::read(&self.favicon)
            .with_context(|| format!("favicon {} cannot be read", self.favicon.display()))?;
        if bytes.len() > 256 * 1024 {
            anyhow::bail!("favicon {} is larger than 256 kB", self.favicon.display());
        }
        Ok(Some((bytes, kind)))
    }

    /// How the hub's log lines are written.
    pub fn log_format(&self) -> anyhow::Result<LogFormat> {
        self.log_format.parse().map_err(|e: String| anyhow::anyhow!(e))
    }

    /// The hub's address for links: `public_url`, or `http://` and `bound`.
    pub fn public_base(&self, bound: std::net::SocketAddr) -> String {
        if self.public_url.is_empty() {
            format!("http://{bound}")
        } else {
            self.public_url.trim_end_matches('/').to_owned()
        }
    }

    pub fn catalog_path(&self) -> PathBuf {
        catalog_path(&self.data_dir)
    }

    /// The local media folder, when media are stored locally.
    pub fn media_path(&self) -> Option<PathBuf> {
        match &self.storage {
            StorageSettings::Local { path } => Some(path.clone().unwrap_or_else(|| self.data_dir.join("media"))),
            StorageSettings::S3(_) => None,
        }
    }

    /// What the media store needs to know.
    pub fn media(&self) -> crate::media::MediaSettings {
        use crate::media::{MediaSettings, StoreLocation};
        let store = match &self.storage {
            StorageSettings::Local { .. } => StoreLocation::Local {
                root: self.media_path().unwrap_or_else(|| self.data_dir.join("media")),
            },
            StorageSettings::S3(bucket) => StoreLocation::S3(bucket.clone()),
        };
        MediaSettings {
            store,
            part_size: self.part_size,
            spool_root: self.data_dir.join("uploads"),
            timeouts: crate::media::StoreTimeouts {
                connect: Duration::from_millis(self.storage_connect_timeout_ms.max(1)),
                request: Duration::from_secs(self.storage_timeout_secs.max(1)),
                retries: self.storage_retries,
            },
        }
    }

    /// What the use-cases need to know.
    pub fn exchange(&self) -> anyhow::Result<crate::exchange::ExchangeSettings> {
        use crate::exchange::delivery::webhooks::{WebhookPolicy, WebhookSettings};
        Ok(crate::exchange::ExchangeSettings {
            delivery: crate::exchange::DeliverySettings {
                webhooks: WebhookSettings {
                    policy: WebhookPolicy {
                        allow: WebhookPolicy::parse_allow(&self.webhook_allow)
                            .map_err(|e| anyhow::anyhow!("webhook_allow: {e}"))?,
                        max_per_subscriber: self.max_webhooks_per_subscriber,
                    },
                    retry: Duration::from_millis(self.webhook_retry_ms),
                },
                peers: crate::exchange::delivery::peers::PeerSettings {
                    poll: Duration::from_millis(self.peer_poll_ms.max(10)),
                    wake: self.peer_wake,
                },
                push: crate::exchange::delivery::push::PushSettings {
                    retry: Duration::from_millis(self.push_retry_ms),
                    ..Default::default()
                },
                ..Default::default()
            },
            // The composition root registers the channels.
            channels: Vec::new(),
            max_upload_bytes: self.max_upload_bytes,
            presign_downloads: self.presign_downloads,
            accel_redirect: (!self.accel_redirect.is_empty()).then(|| self.accel_redirect.clone()),
            upload_idle: Duration::from_secs(self.upload_idle_secs.max(1)),
            upload_min_rate: self.upload_min_rate,
            upload_rate_grace: Duration::from_secs(self.upload_rate_grace_secs),
            max_uploads_per_station: self.max_uploads_per_station,
            max_open_uploads_per_station: self.max_open_uploads_per_station,
            people: crate::exchange::PeopleSettings {
                session_idle: Duration::from_secs(self.session_idle_secs.max(1)),
                session_max: Duration::from_secs(self.session_max_secs.max(1)),
                lock_after: self.sign_in_lock_after.max(1),
                lock_for: Duration::from_secs(self.sign_in_lock_secs),
                address_limit: self.sign_in_address_limit,
                visit_gap: Duration::from_secs(self.visit_gap_secs.max(1)),
            },
            engine: crate::analysis::EngineSettings {
                ffmpeg: self.ffmpeg.clone(),
                ffprobe: self.ffprobe.clone(),
                timeout: Duration::from_secs(self.analysis_timeout_secs.max(1)),
                profile: crate::domain::QcProfile {
                    target_lufs: self.qc_target_lufs,
                    tolerance_lu: self.qc_tolerance_lu,
                    max_true_peak_dbtp: self.qc_max_true_peak_dbtp,
                },
                niceness: crate::analysis::FFMPEG_NICENESS,
            },
            analysis: crate::exchange::analysis::AnalysisSettings {
                workers: self.analysis_workers,
                audio_workers: self.analysis_audio_workers,
                video_workers: self.analysis_video_workers,
                lease: Duration::from_secs(self.analysis_lease_secs.max(1)),
                work_dir: self.data_dir.join("analysis"),
                max_attempts: crate::exchange::analysis::MAX_ATTEMPTS,
                retry: crate::exchange::analysis::RETRY,
            },
        })
    }

    /// The settings table as the README shows it (Markdown).
    pub fn markdown_table() -> String {
        let mut out = String::from("| setting (TOML key) | variable | default | what |\n|---|---|---|---|\n");
        for row in Self::docs() {
            let default = if row.default.is_empty() {
                "—".to_owned()
            } else {
                format!("`{}`", row.default)
            };
            let _ = writeln!(out, "| `{}` | `{}` | {default} | {} |", row.key, row.env, row.help);
        }
        out
    }

    /// Every setting as a TOML file would hold it, for `pxhub serve --help`.
    pub fn toml_example() -> String {
        let mut out = String::from("Every setting can also be given in a TOML file (--config), with the same names:\n");
        let mut in_storage = false;
        for row in Self::docs() {
            let (key, storage) = row.toml_key();
            if storage && !in_storage {
                out.push_str("  [storage]\n");
                in_storage = true;
            }
            // Settings without a default (or with one that depends on
            // another) are shown commented out.
            match row.toml_default() {
                Some(value) => writeln!(out, "  {key} = {value}"),
                None => writeln!(out, "  # {key} = \"…\"    ({})", row.help),
            }
            .expect("writing to a String");
        }
        out.push_str("A flag beats its environment variable, which beats the file, which beats the default.");
        out
    }
}

/// How `pxhub serve` writes its log lines (`--log-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One readable line per event; colours only when standard error is a
    /// terminal, so a log file or the journal gets no escape sequences.
    Text,
    /// One JSON object per line, for a log collector.
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            other => Err(format!("log_format must be `text` or `json`, not `{other}`")),
        }
    }
}

pub fn catalog_path(data_dir: &Path) -> PathBuf {
    data_dir.join("catalog.db")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_beat_the_file_which_beats_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pxhub.toml");
        std::fs::write(&file, "listen = \"0.0.0.0:9000\"\nmax_json_bytes = 4096\n").unwrap();
        let s = Settings::load(
            Some(&file),
            Overrides {
                max_json_bytes: Some(8192),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(s.listen, "0.0.0.0:9000");
        assert_eq!(s.max_json_bytes, 8192);
        assert_eq!(s.data_dir, PathBuf::from("storage"));
        assert_eq!(s.storage, StorageSettings::Local { path: None });
        assert_eq!(s.media_path(), Some(PathBuf::from("storage/media")));
    }

    #[test]
    fn s3_settings_come_from_the_storage_table_and_hide_the_secret() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pxhub.toml");
        std::fs::write(
            &file,
            "[storage]\nbackend = \"s3\"\nendpoint = \"http://127.0.0.1:3900\"\nbucket = \"media\"\naccess_key_id = \"GK1\"\nsecret_access_key = \"hunter2\"\n",
        )
        .unwrap();
        let s = Settings::load(Some(&file), Overrides::default()).unwrap();
        assert!(matches!(&s.storage, StorageSettings::S3(S3Bucket { bucket, .. }) if bucket == "media"));
        assert!(!format!("{s:?}").contains("hunter2"));

        let missing = Overrides {
            storage: StorageOverrides {
                backend: Some("s3".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        let err = Settings::load(None, missing).unwrap_err();
        assert!(format!("{err:#}").contains("endpoint"), "{err:#}");
    }

    #[test]
    fn part_sizes_must_fit_s3_limits() {
        let s3 = |part_size: usize| Overrides {
            part_size: Some(part_size),
            storage: StorageOverrides {
                backend: Some("s3".into()),
                endpoint: Some("http://x".into()),
                bucket: Some("b".into()),
                access_key_id: Some("k".into()),
                secret_access_key: Some(Secret::new("s")),
                ..Default::default()
            },
            ..Default::default()
        };
        assert!(
            Settings::load(None, s3(1024 * 1024)).is_err(),
            "below S3's 5 MiB minimum"
        );
        assert!(
            Settings::load(None, s3(5 * 1024 * 1024)).is_err(),
            "50 GiB needs more than 10,000 parts of 5 MiB"
        );
        assert!(Settings::load(None, s3(8 * 1024 * 1024)).is_ok());
    }

    #[test]
    fn unknown_keys_in_the_file_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pxhub.toml");
        std::fs::write(&file, "lisen = \"0.0.0.0:9000\"\n").unwrap();
        let err = Settings::load(Some(&file), Overrides::default()).unwrap_err();
        assert!(format!("{err:#}").contains("lisen"), "{err:#}");
    }

    #[test]
    fn the_readme_table_is_the_settings_tree() {
        let readme = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"));
        let table = Settings::markdown_table();
        assert!(
            readme.contains(&table),
            "README.md's settings table differs from the settings tree; it should read:\n{table}"
        );
    }

    #[test]
    fn every_setting_is_a_flag_and_a_variable_with_its_default_in_the_help() {
        use clap::CommandFactory;
        #[derive(clap::Parser)]
        struct Serve {
            #[command(flatten)]
            settings: Overrides,
        }
        let mut cmd = Serve::command();
        // Folded to single spaces: clap wraps long lines anywhere.
        let help = cmd
            .render_long_help()
            .to_string()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        for row in Settings::docs().iter().filter(|r| r.key != "data_dir") {
            assert!(help.contains(row.env), "{} missing from --help:\n{help}", row.env);
            if !row.default.is_empty() {
                assert!(help.contains(&format!("[default: {}]", row.default)), "{row:?}");
            }
            let flag = match row.key.strip_prefix("[storage] ") {
                Some("backend") => "--storage".to_owned(),
                Some(k) => format!("--storage-{}", k.replace('_', "-")),
                None => format!("--{}", row.key.replace('_', "-")),
            };
            assert!(help.contains(&flag), "{flag} missing from --help");
        }
        let example = Settings::toml_example();
        let parsed: Overrides = toml::from_str(
            &example
                .lines()
                .filter(|l| l.starts_with("  "))
                .map(|l| l.trim())
                .filter(|l| !l.starts_with('#'))
                .collect::<Vec<_>>()
                .join("\n"),
        )
        .expect("the help's TOML example parses");
        assert_eq!(parsed.resolve().unwrap(), Settings::default());
    }

    #[test]
    fn a_flag_beats_its_variable() {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct Serve {
            #[command(flatten)]
            settings: Overrides,
        }
        // The variable's name comes from the table; clap reads it.
        let parsed = Serve::try_parse_from(["serve", "--max-json-bytes", "4096", "--storage-region", "garage"])
            .unwrap()
            .settings;
        assert_eq!(parsed.max_json_bytes, Some(4096));
        assert_eq!(parsed.storage.region.as_deref(), Some("garage"));
    }
}
