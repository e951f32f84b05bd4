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
}

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_DATA_DIR: &str = "storage";
pub const DEFAULT_MAX_JSON_BYTES: usize = 1024 * 1024;
pub const DEFAULT_LOG: &str = "info";

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: DEFAULT_LISTEN.into(),
            data_dir: DEFAULT_DATA_DIR.into(),
            max_json_bytes: DEFAULT_MAX_JSON_BYTES,
            workers: 0,
            log: DEFAULT_LOG.into(),
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
}

impl Overrides {
    fn apply(self, s: &mut Settings) {
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
        if let Some(path) = file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            let from_file: Overrides =
                toml::from_str(&text).with_context(|| format!("in {}", path.display()))?;
            from_file.apply(&mut s);
        }
        overrides.apply(&mut s);
        if s.max_json_bytes < 1024 {
            anyhow::bail!("max_json_bytes must be at least 1024");
        }
        Ok(s)
    }

    pub fn catalog_path(&self) -> PathBuf {
        catalog_path(&self.data_dir)
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
