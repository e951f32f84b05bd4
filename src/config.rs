//! One typed settings tree. Precedence: command-line flag, then environment
//! variable (`PXHUB_…`), then the TOML file (`--config`), then the default.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;

/// Settings of a running hub. Each field is also a `pxhub serve` flag and a
/// `PXHUB_…` variable; see `pxhub serve --help`.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Address to listen on; port 0 picks a free port.
    pub listen: String,
    /// Folder of the catalog (`catalog.db`) and, by default, the media.
    pub data_dir: PathBuf,
    /// Largest JSON request body, in bytes.
    pub max_json_bytes: usize,
    /// HTTP worker threads; 0 means one per core.
    pub workers: usize,
    /// Log filter, in `RUST_LOG` syntax (e.g. `info`, `pxhub=debug`).
    pub log: String,
    /// Where media objects are stored.
    pub storage: StorageSettings,
    /// Largest file accepted, in bytes; enforced as bytes arrive.
    pub max_upload_bytes: u64,
    /// Size of the parts an upload is written in (an S3 multipart part).
    pub part_size: usize,
    /// Seconds between sweeps for what interrupted uploads left behind.
    pub sweep_interval_secs: u64,
    /// Leftovers younger than this many seconds are not swept yet.
    pub sweep_grace_secs: u64,
    /// With S3: answer downloads with a short-lived presigned redirect
    /// instead of proxying the bytes.
    pub presign_downloads: bool,
    /// Milliseconds before a failed webhook delivery is tried again; doubled
    /// at each failure, up to an hour.
    pub webhook_retry_ms: u64,
    /// Networks webhooks may reach although they are internal (loopback,
    /// private, link-local, …), as CIDR networks or addresses separated by
    /// commas (`"10.1.0.0/16, ::1"`); empty: none.
    pub webhook_allow: String,
    /// Live webhooks one subscriber (a station, or the operator) may have.
    pub max_webhooks_per_subscriber: usize,
    /// Seconds an upload may go without a byte before the hub gives up on
    /// it (a resumable upload keeps what it received, and its lock is freed).
    pub upload_idle_secs: u64,
}

/// The media store: a local folder, or an S3-compatible bucket.
#[derive(Debug, Clone, PartialEq)]
pub enum StorageSettings {
    /// A folder; `None`: `<data_dir>/media`.
    Local { path: Option<PathBuf> },
    S3 {
        endpoint: String,
        bucket: String,
        region: String,
        access_key_id: String,
        secret_access_key: Secret,
        /// Key prefix inside the bucket, so several hubs can share one.
        prefix: String,
    },
}

/// A secret that never shows in logs or `Debug` output.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_DATA_DIR: &str = "storage";
pub const DEFAULT_MAX_JSON_BYTES: usize = 1024 * 1024;
pub const DEFAULT_LOG: &str = "info";
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 50 * 1024 * 1024 * 1024;
pub const DEFAULT_PART_SIZE: usize = 8 * 1024 * 1024;
pub const DEFAULT_SWEEP_INTERVAL_SECS: u64 = 3600;
pub const DEFAULT_SWEEP_GRACE_SECS: u64 = 600;
pub const DEFAULT_WEBHOOK_RETRY_MS: u64 = 5_000;
pub const DEFAULT_UPLOAD_IDLE_SECS: u64 = 120;
/// S3 allows at most this many parts in one multipart upload…
const S3_MAX_PARTS: u64 = 10_000;
/// …each at least this large but for the last.
const S3_MIN_PART: usize = 5 * 1024 * 1024;

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: DEFAULT_LISTEN.into(),
            data_dir: DEFAULT_DATA_DIR.into(),
            max_json_bytes: DEFAULT_MAX_JSON_BYTES,
            workers: 0,
            log: DEFAULT_LOG.into(),
            storage: StorageSettings::Local { path: None },
            max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
            part_size: DEFAULT_PART_SIZE,
            sweep_interval_secs: DEFAULT_SWEEP_INTERVAL_SECS,
            sweep_grace_secs: DEFAULT_SWEEP_GRACE_SECS,
            presign_downloads: false,
            webhook_retry_ms: DEFAULT_WEBHOOK_RETRY_MS,
            webhook_allow: String::new(),
            max_webhooks_per_subscriber: crate::exchange::webhooks::guard::DEFAULT_MAX_PER_SUBSCRIBER,
            upload_idle_secs: DEFAULT_UPLOAD_IDLE_SECS,
        }
    }
}

/// Values that override the file: from flags or the environment. Also the
/// shape of the TOML file, whose keys are the same names.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Overrides {
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub max_json_bytes: Option<usize>,
    pub workers: Option<usize>,
    pub log: Option<String>,
    pub max_upload_bytes: Option<u64>,
    pub part_size: Option<usize>,
    pub sweep_interval_secs: Option<u64>,
    pub sweep_grace_secs: Option<u64>,
    pub presign_downloads: Option<bool>,
    pub webhook_retry_ms: Option<u64>,
    pub upload_idle_secs: Option<u64>,
    #[serde(default)]
    pub storage: StorageOverrides,
}

/// The `[storage]` table of the file, and its `PXHUB_STORAGE_…` variables.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageOverrides {
    /// `local` or `s3`.
    pub backend: Option<String>,
    /// Local folder; default `<data_dir>/media`.
    pub path: Option<PathBuf>,
    pub endpoint: Option<String>,
    pub bucket: Option<String>,
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<Secret>,
    pub prefix: Option<String>,
}

impl StorageOverrides {
    fn merge(&mut self, other: StorageOverrides) {
        macro_rules! take {
            ($($f:ident),*) => { $(if other.$f.is_some() { self.$f = other.$f; })* };
        }
        take!(
            backend,
            path,
            endpoint,
            bucket,
            region,
            access_key_id,
            secret_access_key,
            prefix
        );
    }

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
                Ok(StorageSettings::S3 {
                    endpoint: need(self.endpoint, "endpoint")?,
                    bucket: need(self.bucket, "bucket")?,
                    region: self.region.unwrap_or_else(|| "us-east-1".into()),
                    access_key_id: need(self.access_key_id, "access_key_id")?,
                    secret_access_key: Secret(need(self.secret_access_key.map(|s| s.0), "secret_access_key")?),
                    prefix: self.prefix.unwrap_or_default(),
                })
            }
            other => anyhow::bail!("storage.backend must be `local` or `s3`, not `{other}`"),
        }
    }
}

impl Overrides {
    fn apply(self, s: &mut Settings, storage: &mut StorageOverrides) {
        storage.merge(self.storage);
        if let Some(v) = self.max_upload_bytes {
            s.max_upload_bytes = v;
        }
        if let Some(v) = self.part_size {
            s.part_size = v;
        }
        if let Some(v) = self.sweep_interval_secs {
            s.sweep_interval_secs = v;
        }
        if let Some(v) = self.sweep_grace_secs {
            s.sweep_grace_secs = v;
        }
        if let Some(v) = self.presign_downloads {
            s.presign_downloads = v;
        }
        if let Some(v) = self.webhook_retry_ms {
            s.webhook_retry_ms = v;
        }
        if let Some(v) = self.upload_idle_secs {
            s.upload_idle_secs = v;
        }
        if let Some(v) = self.listen {
            s.listen = v;
        }
        if let Some(v) = self.data_dir {
            s.data_dir = v;
        }
        if let Some(v) = self.max_json_bytes {
            s.max_json_bytes = v;
        }
        if let Some(v) = self.workers {
            s.workers = v;
        }
        if let Some(v) = self.log {
            s.log = v;
        }
    }
}

impl Settings {
    /// Defaults, then `file` (if any), then `overrides`.
    pub fn load(file: Option<&Path>, overrides: Overrides) -> anyhow::Result<Self> {
        let mut s = Settings::default();
        let mut storage = StorageOverrides::default();
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            let from_file: Overrides = toml::from_str(&text).with_context(|| format!("in {}", path.display()))?;
            from_file.apply(&mut s, &mut storage);
        }
        overrides.apply(&mut s, &mut storage);
        s.storage = storage.resolve()?;
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
        if let StorageSettings::S3 { .. } = self.storage {
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
        if self.presign_downloads && matches!(self.storage, StorageSettings::Local { .. }) {
            anyhow::bail!("presign_downloads needs the s3 storage backend");
        }
        Ok(())
    }

    pub fn catalog_path(&self) -> PathBuf {
        catalog_path(&self.data_dir)
    }

    /// The local media folder, when media are stored locally.
    pub fn media_path(&self) -> Option<PathBuf> {
        match &self.storage {
            StorageSettings::Local { path } => Some(path.clone().unwrap_or_else(|| self.data_dir.join("media"))),
            StorageSettings::S3 { .. } => None,
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
        assert!(matches!(&s.storage, StorageSettings::S3 { bucket, .. } if bucket == "media"));
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
}
