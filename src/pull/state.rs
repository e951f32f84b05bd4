//! What the agent remembers between runs, in one JSON file written
//! atomically: where it is in the feed, what waits for its window, what it
//! delivered where, and which follows it has back-filled.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;

/// A program whose window has not opened: fetched again when it does.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Pending {
    pub opens: DateTime<Utc>,
    pub roles: Vec<String>,
    pub title: String,
    /// The rendition and cut ID its follow asked for.
    #[serde(default)]
    pub choice: super::template::Choice,
}

/// One file the agent put in place.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Placed {
    /// Relative to the delivery folder, `/`-separated.
    pub path: String,
    pub sha256: String,
}

/// What the agent put in place for one program.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Delivered {
    /// By role.
    pub files: BTreeMap<String, Placed>,
    /// The sidecars, relative paths.
    pub sidecars: Vec<String>,
    /// The rendition and cut ID it was delivered with: kept when a later
    /// event about it names no follow that asks for any (an event older
    /// than the follow that brought it, by back-fill or from a list).
    #[serde(default)]
    pub choice: super::template::Choice,
}

#[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct State {
    pub cursor: Option<String>,
    #[serde(default)]
    pub pending: BTreeMap<String, Pending>,
    #[serde(default)]
    pub delivered: BTreeMap<String, Delivered>,
    #[serde(default)]
    pub backfilled: BTreeSet<String>,
}

/// What a file being written is called until it is renamed into place.
pub const TEMP_SUFFIX: &str = ".pxhub-tmp";

/// Writes `bytes` to `path` atomically: a temporary file, fsync, rename.
pub async fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(TEMP_SUFFIX);
    let tmp = PathBuf::from(tmp);
    let mut f = tokio::fs::File::create(&tmp).await?;
    f.write_all(bytes).await?;
    f.sync_all().await?;
    tokio::fs::rename(&tmp, path).await?;
    Ok(())
}

impl State {
    /// The state in `dir` (`.pxhub/`): `state.json`, or the cursor file of
    /// agents before it.
    pub async fn load(dir: &Path) -> anyhow::Result<Self> {
        match tokio::fs::read(dir.join("state.json")).await {
            Ok(b) => Ok(serde_json::from_slice(&b)
                .map_err(|e| anyhow::anyhow!("{} is not the agent's state: {e}", dir.join("state.json").display()))?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let cursor = match tokio::fs::read_to_string(dir.join("cursor")).await {
                    Ok(c) => Some(c.trim().to_owned()).filter(|c| !c.is_empty()),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                    Err(e) => return Err(e.into()),
                };
                Ok(Self {
                    cursor,
                    ..Default::default()
                })
            }
            Err(e) => Err(e.into()),
        }
    }

    pub async fn save(&self, dir: &Path) -> anyhow::Result<()> {
        write_atomically(&dir.join("state.json"), &serde_json::to_vec_pretty(self)?).await
    }

    /// The program (other than `except`) that has a file at `path`.
    pub fn owner_of(&self, path: &str, except: &str) -> Option<&str> {
        self.delivered
            .iter()
            .find(|(id, d)| id.as_str() != except && d.files.values().any(|p| p.path == path))
            .map(|(id, _)| id.as_str())
    }
}
