//! `pxhub pull`: the agent a national broadcaster runs to take exchanged
//! programs into its own systems. It follows the change feed from its saved
//! cursor, downloads each new or replaced master it may take (resuming with
//! Range, verifying SHA-256 before the file appears), writes the program's
//! JSON and EBUCore sidecars beside it, and moves withdrawn programs aside.
//! Killed at any point and started again, it finishes the work without
//! doing any twice.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use futures_util::StreamExt;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::domain::file::parse_filename;

/// What the agent needs to run.
#[derive(Debug, Clone)]
pub struct PullOptions {
    /// The hub, e.g. `https://hub.example.vn`.
    pub hub: String,
    pub token: crate::domain::Secret,
    /// Where programs go: `DIR/<station>/<program id>/`.
    pub into: PathBuf,
    /// Keep following the feed instead of stopping when caught up.
    pub follow: bool,
    /// Bytes per second, at most.
    pub limit_rate: Option<u64>,
    /// How long to wait between polls when following.
    pub interval: Duration,
}

struct Agent {
    opts: PullOptions,
    client: reqwest::Client,
    state: PathBuf,
    progress: bool,
}

/// Writes `bytes` to `path` atomically: a temporary file, fsync, rename.
async fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension(&TEMP_SUFFIX[1..]);
    let mut f = tokio::fs::File::create(&tmp).await?;
    f.write_all(bytes).await?;
    f.sync_all().await?;
    tokio::fs::rename(&tmp, path).await?;
    Ok(())
}

/// A path component from text the hub sent: never `..`, never a separator.
fn component(raw: &str, fallback: &str) -> String {
    match parse_filename(raw) {
        Ok(name) if name != "." && name != ".." && !name.starts_with('.') => name,
        _ => fallback.to_owned(),
    }
}

/// The names the agent writes beside a program's media.
const SIDECARS: [&str; 2] = ["program.json", "ebucore.xml"];
/// What a file being written is called until it is renamed into place.
const TEMP_SUFFIX: &str = ".pxhub-tmp";

/// The name a media file takes in its program's folder: its own name, made a
/// safe component, and never one the agent uses for a sidecar or a file in
/// progress (compared without case, for file systems that ignore it).
fn media_name(raw: &str) -> String {
    let name = component(raw, "master");
    let lower = name.to_lowercase();
    if SIDECARS.contains(&lower.as_str()) || lower.ends_with(TEMP_SUFFIX) {
        format!("media-{name}")
    } else {
        name
    }
}

pub async fn run(opts: PullOptions) -> anyhow::Result<()> {
    let state = opts.into.join(".pxhub");
    tokio::fs::create_dir_all(state.join("partial"))
        .await
        .with_context(|| format!("creating {}", state.display()))?;
    let client = reqwest::Client::builder()
        .user_agent(concat!("pxhub-pull/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(30))
        .build()?;
    let agent = Agent {
        progress: std::io::stderr().is_terminal(),
        opts,
        client,
        state,
    };
    agent.run().await
}

impl Agent {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.opts.hub.trim_end_matches('/'))
    }

    async fn cursor(&self) -> anyhow::Result<Option<String>> {
        match tokio::fs::read_to_string(self.state.join("cursor")).await {
            Ok(c) => Ok(Some(c.trim().to_owned()).filter(|c| !c.is_empty())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn get_json(&self, path: &str) -> anyhow::Result<Value> {
        let r = self
            .client
            .get(self.url(path))
            .bearer_auth(self.opts.token.expose())
            .send()
            .await?;
        let status = r.status();
        if !status.is_success() {
            let problem: Value = r.json().await.unwrap_or_default();
            bail!("{path}: {status} {}", problem["detail"].as_str().unwrap_or(""));
        }
        Ok(r.json().await?)
    }

    async fn run(&self) -> anyhow::Result<()> {
        loop {
            let cursor = self.cursor().await?;
            let after = cursor.as_deref().map(|c| format!("&after={c}")).unwrap_or_default();
            let page = self.get_json(&format!("/api/v1/feed?limit=100{after}")).await?;
            let items = page["items"].as_array().cloned().unwrap_or_default();
            // The cursor moves only once the whole page is handled: a restart
            // handles the page again, and finds its finished work in place.
            for event in &items {
                self.handle(event)
                    .await
                    .with_context(|| format!("event {}", event["seq"]))?;
            }
            let next = page["next_cursor"].as_str().context("the feed gave no next_cursor")?;
            write_atomically(&self.state.join("cursor"), next.as_bytes()).await?;
            if items.is_empty() {
                if !self.opts.follow {
                    return Ok(());
                }
                tokio::time::sleep(self.opts.interval).await;
            }
        }
    }

    async fn handle(&self, event: &Value) -> anyhow::Result<()> {
        let program = &event["program"];
        let station = component(program["station"].as_str().unwrap_or(""), "unknown-station");
        let id = component(
            program["id"].as_str().context("an event without a program id")?,
            "unknown-program",
        );
        let home = self.opts.into.join(&station).join(&id);
        let withdrawn = self.opts.into.join("withdrawn").join(&station).join(&id);
        if program["status"] == "withdrawn" || event["type"] == "program.withdrawn" {
            if tokio::fs::try_exists(&home).await? {
                tokio::fs::create_dir_all(withdrawn.parent().expect("a parent")).await?;
                if tokio::fs::try_exists(&withdrawn).await? {
                    tokio::fs::remove_dir_all(&withdrawn).await?;
                }
                tokio::fs::rename(&home, &withdrawn).await?;
                eprintln!("withdrawn: {station}/{id}");
            }
            return Ok(());
        }
        let Some(master) = program["files"]
            .as_array()
            .and_then(|f| f.iter().find(|f| f["role"] == "master"))
        else {
            return Ok(());
        };
        if program["can_download"] != true {
            eprintln!(
                "not yet: {station}/{id} ({})",
                program["unavailable_reason"].as_str().unwrap_or("rights")
            );
            return Ok(());
        }
        let sha256 = master["sha256"]
            .as_str()
            .context("a master without its SHA-256")?
            .to_owned();
        let size = master["size"].as_u64().context("a master without its size")?;
        let name = media_name(master["filename"].as_str().unwrap_or(""));
        tokio::fs::create_dir_all(&home).await?;
        let target = home.join(&name);
        // Recorded as taken, or in place from a run killed before it said so.
        let have = self.have(&home, &sha256).await?
            || (tokio::fs::try_exists(&target).await? && hash_file(&target).await? == sha256);
        if !have {
            let partial = self.state.join("partial").join(&sha256);
            self.download(program["id"].as_str().unwrap_or(&id), &sha256, size, &partial)
                .await?;
            // Verified: it takes its place, and an older master goes.
            for old in self.masters(&home).await? {
                if old != target {
                    tokio::fs::remove_file(&old).await?;
                }
            }
            tokio::fs::rename(&partial, &target).await?;
            eprintln!("took: {station}/{id}/{name} ({size} bytes)");
        }
        let ebucore = self
            .client
            .get(self.url(&format!("/api/v1/programs/{id}/ebucore.xml")))
            .bearer_auth(self.opts.token.expose())
            .send()
            .await?;
        if ebucore.status().is_success() {
            write_atomically(&home.join(SIDECARS[1]), &ebucore.bytes().await?).await?;
        }
        write_atomically(
            &home.join(SIDECARS[0]),
            serde_json::to_string_pretty(program)?.as_bytes(),
        )
        .await?;
        Ok(())
    }

    /// Whether the master with `sha256` is in place already (its program.json
    /// says so, and it is written only after the master is verified).
    async fn have(&self, home: &Path, sha256: &str) -> anyhow::Result<bool> {
        let Ok(text) = tokio::fs::read_to_string(home.join(SIDECARS[0])).await else {
            return Ok(false);
        };
        let stored: Value = serde_json::from_str(&text).unwrap_or_default();
        let recorded = stored["files"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|f| f["role"] == "master");
        let Some(recorded) = recorded else { return Ok(false) };
        let name = media_name(recorded["filename"].as_str().unwrap_or(""));
        Ok(recorded["sha256"] == sha256 && tokio::fs::try_exists(home.join(name)).await?)
    }

    /// The media files of a program folder (everything but the sidecars).
    async fn masters(&self, home: &Path) -> anyhow::Result<Vec<PathBuf>> {
        let mut out = Vec::new();
        let mut dir = tokio::fs::read_dir(home).await?;
        while let Some(e) = dir.next_entry().await? {
            let name = e.file_name().to_string_lossy().into_owned();
            if !SIDECARS.contains(&name.as_str()) && !name.ends_with(TEMP_SUFFIX) {
                out.push(e.path());
            }
        }
        Ok(out)
    }

    /// Downloads the master into `partial`, resuming what is there, and
    /// checks its SHA-256; a file that does not check out is started over.
    async fn download(&self, program: &str, sha256: &str, size: u64, partial: &Path) -> anyhow::Result<()> {
        for attempt in 0..3 {
            let mut have = tokio::fs::metadata(partial).await.map(|m| m.len()).unwrap_or(0);
            if have > size {
                tokio::fs::remove_file(partial).await?;
                have = 0;
            }
            if have < size {
                self.fetch(program, sha256, have, size, partial).await?;
            }
            if hash_file(partial).await? == sha256 {
                return Ok(());
            }
            eprintln!(
                "SHA-256 mismatch for {program}; starting over (attempt {})",
                attempt + 1
            );
            tokio::fs::remove_file(partial).await?;
        }
        bail!("{program}: the download never matched its SHA-256")
    }

    async fn fetch(&self, program: &str, sha256: &str, from: u64, size: u64, partial: &Path) -> anyhow::Result<()> {
        let mut req = self
            .client
            .get(self.url(&format!("/api/v1/programs/{program}/files/master")))
            .bearer_auth(self.opts.token.expose());
        if from > 0 {
            req = req
                .header("Range", format!("bytes={from}-"))
                .header("If-Range", format!("\"{sha256}\""));
        }
        let r = req.send().await?;
        let (mut file, mut done) = match r.status().as_u16() {
            206 => (tokio::fs::OpenOptions::new().append(true).open(partial).await?, from),
            200 => (tokio::fs::File::create(partial).await?, 0),
            code => bail!("downloading {program}: the hub answered {code}"),
        };
        let started = Instant::now();
        let start = done;
        let mut body = r.bytes_stream();
        let mut last_shown = Instant::now();
        while let Some(chunk) = body.next().await {
            let chunk = chunk?;
            file.write_all(&chunk).await?;
            done += chunk.len() as u64;
            if let Some(rate) = self.opts.limit_rate.filter(|r| *r > 0) {
                let due = Duration::from_secs_f64((done - start) as f64 / rate as f64);
                if let Some(wait) = due.checked_sub(started.elapsed()) {
                    tokio::time::sleep(wait).await;
                }
            }
            if self.progress && last_shown.elapsed() > Duration::from_millis(200) {
                let rate = (done - start) as f64 / started.elapsed().as_secs_f64().max(0.001) / 1e6;
                eprint!(
                    "\r{program}: {:>5.1}% {:.1} MB/s ",
                    done as f64 * 100.0 / size.max(1) as f64,
                    rate
                );
                let _ = std::io::stderr().flush();
                last_shown = Instant::now();
            }
        }
        file.sync_all().await?;
        if self.progress {
            eprintln!();
        }
        Ok(())
    }
}

async fn hash_file(path: &Path) -> anyhow::Result<String> {
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || -> anyhow::Result<String> {
        let mut f = std::fs::File::open(&path)?;
        let mut h = Sha256::new();
        std::io::copy(&mut f, &mut h)?;
        Ok(hex::encode(h.finalize()))
    })
    .await?
}

#[cfg(test)]
mod tests {
    use super::media_name;

    #[test]
    fn media_never_takes_a_sidecar_name() {
        assert_eq!(media_name("Thời sự tối.mp4"), "Thời sự tối.mp4");
        assert_eq!(media_name("program.json"), "media-program.json");
        assert_eq!(media_name("EBUCore.XML"), "media-EBUCore.XML");
        assert_eq!(media_name("program.pxhub-tmp"), "media-program.pxhub-tmp");
        assert_eq!(media_name("../program.json"), "media-program.json");
        assert_eq!(media_name(""), "master");
    }
}
