//! Fault injection: `pxhub serve` (the built binary, a process of its own)
//! killed with SIGKILL at random moments while it takes single-request
//! uploads, tus PATCHes, publications, withdrawals, webhook deliveries and
//! analysis jobs, on the local store and on Garage; after each restart every invariant is
//! checked, and the counts are printed.
//!
//! ```text
//! cargo bench --bench faults -- [--points 120] [--seed 16] [--quick] [--keep] [--only local|garage]
//! ```
//!
//! Each kill point: the hub is started (sweep grace 0, so its start-up sweep
//! removes every leftover at once: no traffic runs while it does), the
//! checks below run, then three clients send a seeded random mix of work and
//! the hub is killed after a seeded random delay (50-1500 ms). Checks after
//! each restart:
//! - `pxhub scrub` finds no fault (no row points at a missing or changed object);
//! - SQLite's `PRAGMA integrity_check` is `ok`;
//! - every upload answered 2xx (single or tus) reads back byte-exact (the
//!   ones of the last round each time, all of them at the end), a tus
//!   upload's offset never goes back below one the hub acknowledged, and
//!   every tus upload cut by the kill resumes and completes;
//! - every publication or withdrawal answered 2xx holds;
//! - once the start-up sweep is done, nothing is left that no row owns: no
//!   object, no local staging file, no spool or tail file, no S3 multipart
//!   upload (`ListMultipartUploads`), no upload row;
//! - at the end, every acknowledged publication has reached, at least once
//!   and with a valid signature, both the operator's webhook and the webhook
//!   of a provincial station that follows the publishing station (one
//!   delivery machinery, the follow deciding; deliveries are retried after a
//!   restart).
//!
//! Analysis runs in the hub under test (two workers, a 2 s lease so that a
//! job held by a killed hub is taken again soon), and the workload also
//! uploads real media from a pool made at the start with FFmpeg's
//! generators (tones as MP3, `testsrc2` as MP4: distinct content, distinct
//! jobs; a pool file uploaded twice is analysed once). Before each restart
//! the jobs the killed hub held (`running`) are noted. Checks: after each
//! restart, no preview object, staging file or S3 multipart upload is left
//! that no analysis owns (one a waiting or running job may still write
//! counts as owned); at the end, once the queue is empty, every job of an
//! acknowledged file ended (`done`, or `failed` with a reason), every
//! interrupted job was taken again and ended, no program was told
//! `file.analyzed` twice, the previews of every `done` job read back through
//! the API byte-exact (against the SHA-256 the catalog recorded), the
//! analysis work folder is empty, and after one more restart nothing under
//! `previews/` is left that a finished analysis does not name.
//!
//! Output: a table in the form of the other benches (scripts/bench.sh reads
//! it): kill points tried, losses and orphans (target 0, against the work
//! acknowledged as the baseline), analysis jobs cut by a kill and not ended
//! once (target 0, against the jobs interrupted; SKIPPED when no kill hit
//! one), then the analysis and webhook counts and `- ` problem lines; exit 1
//! on any loss or orphan. `--quick`: 8 points on the local store and 6 on
//! Garage, a pool of 4 tones and 2 patterns (16 and 8 in the full run).

#[path = "common/mod.rs"]
mod common;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{free_port, print_problems, print_table, pxhub, run, Garage, Proc, Row, S3Env};
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Garage ports of the bench's own, away from the test suite's and the
/// media bench's.
const GARAGE_PORTS: (u16, u16, u16) = (29960, 29961, 29963);
const PART: usize = 5 * 1024 * 1024;
/// The analysis lease of the hub under test.
const LEASE_SECS: u64 = 2;
/// The webhooks' secrets (the receiver checks every signature).
const HOOK_SECRET: &str = "faults-bench-operator-secret";
const FOLLOWER_SECRET: &str = "faults-bench-follower-secret";

struct Opts {
    local_points: usize,
    garage_points: usize,
    seed: u64,
    keep: bool,
    quick: bool,
}

fn opts() -> Opts {
    let mut o = Opts {
        local_points: 60,
        garage_points: 60,
        seed: 16,
        keep: false,
        quick: false,
    };
    let mut only: Option<String> = None;
    let mut points: Option<usize> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| panic!("{a} needs a value"));
        match a.as_str() {
            "--points" => points = Some(value().parse().expect("--points N")),
            "--seed" => o.seed = value().parse().expect("--seed N"),
            "--only" => only = Some(value()),
            "--quick" => {
                o.quick = true;
                o.local_points = 8;
                o.garage_points = 6;
            }
            "--keep" => o.keep = true,
            "--bench" => {}
            other => panic!("unknown option {other}"),
        }
    }
    if let Some(n) = points {
        o.local_points = n.div_ceil(2);
        o.garage_points = n / 2;
    }
    match only.as_deref() {
        Some("local") => o.garage_points = 0,
        Some("garage") => o.local_points = 0,
        Some(x) => panic!("--only local|garage, not {x}"),
        None => {}
    }
    o
}

// ---------------------------------------------------------------------------
// What was acknowledged

#[derive(Default)]
struct Ledger {
    /// Program id → SHA-256 (hex) and size of the master the hub answered 2xx for.
    files: BTreeMap<String, (String, u64)>,
    /// Programs whose publication was answered 2xx (and not withdrawn since).
    published: HashSet<String>,
    withdrawn: HashSet<String>,
    /// Drafts with a master, ready to publish.
    drafts: Vec<String>,
    /// tus uploads cut by a kill: (upload path, program, seed, length, acked offset).
    open_tus: Vec<OpenTus>,
    /// Programs whose file was acknowledged in the current round.
    fresh: Vec<String>,
    /// Files of programs a withdrawal was sent for (their bytes are no
    /// longer served: the catalog's row is checked, and scrub its object).
    withdrawn_files: BTreeMap<String, (String, u64)>,
    /// Drafts whose master is real media (the pool's): the ones published
    /// (a master found to be no media may not be).
    media_drafts: Vec<String>,
}

#[derive(Clone)]
struct OpenTus {
    upload: String,
    program: String,
    seed: u64,
    length: usize,
    acked: usize,
}

#[derive(Default)]
struct Counts {
    points: usize,
    ops_started: usize,
    acked_files: usize,
    acked_tus_chunks: usize,
    acked_states: usize,
    resumed_tus: usize,
    losses: usize,
    orphans: usize,
    problems: Vec<String>,
    /// Real media files acknowledged (their analysis makes previews).
    acked_media: usize,
    /// Kill points at which the killed hub held at least one analysis job.
    kills_during_analysis: usize,
    /// Analysis jobs a kill interrupted (content and attempt), and how
    /// they ended.
    interrupted: usize,
    /// Of which real media (previews being made).
    interrupted_media: usize,
    interrupted_done: usize,
    interrupted_failed: usize,
    interrupted_gone: usize,
    /// Jobs at the end: done, failed (with a reason); previews read back.
    jobs_done: usize,
    jobs_failed: usize,
    previews_read: usize,
    /// Webhook deliveries received, and with a valid signature.
    deliveries: usize,
}

fn body(seed: u64, len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    StdRng::seed_from_u64(seed).fill_bytes(&mut v);
    v
}

fn sha(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

// ---------------------------------------------------------------------------
// The hub under test

struct Target {
    name: &'static str,
    dir: PathBuf,
    env: Vec<(&'static str, String)>,
    token: String,
    admin: String,
    /// A provincial station's, which follows station `faults`.
    follower: String,
    /// The store, reached by this process (to look behind the hub's back).
    settings: pxhub::config::Settings,
}

impl Target {
    fn new(name: &'static str, dir: &Path, s3: Option<&S3Env>) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        let mut env: Vec<(&'static str, String)> = vec![
            ("PXHUB_PART_SIZE", PART.to_string()),
            ("PXHUB_SWEEP_GRACE_SECS", "0".into()),
            ("PXHUB_SWEEP_INTERVAL_SECS", "3600".into()),
            ("PXHUB_WEBHOOK_ALLOW", "127.0.0.0/8".into()),
            ("PXHUB_WEBHOOK_RETRY_MS", "200".into()),
            ("PXHUB_MAX_UPLOAD_BYTES", (64 << 20).to_string()),
            // Analysis on, with a short lease: a job a killed hub held is
            // taken again two seconds after.
            ("PXHUB_ANALYSIS_WORKERS", "2".into()),
            ("PXHUB_ANALYSIS_LEASE_SECS", LEASE_SECS.to_string()),
        ];
        let mut settings = pxhub::config::Settings {
            data_dir: dir.to_owned(),
            part_size: PART,
            ..Default::default()
        };
        if let Some(s3) = s3 {
            env.extend(s3.hub_env(S3_PREFIX));
            settings.storage = s3_storage(s3);
        }
        let cli = |args: &[&str]| run(pxhub(dir).args(args).stderr(Stdio::null())).trim().to_owned();
        cli(&[
            "station",
            "add",
            "--id",
            "faults",
            "--name",
            "Faults",
            "--province",
            "Hà Giang",
        ]);
        cli(&[
            "station",
            "add",
            "--id",
            "follower",
            "--name",
            "Follower",
            "--province",
            "Cao Bằng",
        ]);
        let token = cli(&["token", "issue", "--station", "faults"]);
        let follower = cli(&["token", "issue", "--station", "follower"]);
        let admin = cli(&["token", "issue", "--role", "admin", "--label", "faults"]);
        let mut t = Self {
            name,
            dir: dir.to_owned(),
            env,
            token,
            admin,
            follower,
            settings,
        };
        t.env.push(("PXHUB_LOG", "warn".into()));
        t
    }

    fn start(&self, round: usize) -> (Proc, String) {
        let port = free_port();
        let log = self.dir.join(format!("server-{round}.log"));
        let mut cmd = pxhub(&self.dir);
        cmd.args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .envs(self.env.iter().map(|(k, v)| (*k, v)))
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::options().append(true).open(&log).unwrap());
        let mut proc = Proc::spawn("pxhub serve", &mut cmd);
        let base = format!("http://127.0.0.1:{port}");
        common::wait_http(&mut proc, &log, &format!("{base}/readyz"));
        (proc, base)
    }

    fn scrub(&self) -> Result<(), String> {
        let out = pxhub(&self.dir)
            .arg("scrub")
            .envs(self.env.iter().map(|(k, v)| (*k, v)))
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "pxhub scrub: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    fn integrity(&self) -> Result<(), String> {
        let conn = rusqlite::Connection::open(self.dir.join("catalog.db")).map_err(|e| e.to_string())?;
        let r: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .map_err(|e| e.to_string())?;
        if r == "ok" {
            Ok(())
        } else {
            Err(format!("integrity_check: {r}"))
        }
    }

    /// What is in the store and the spools that no catalog row owns, and
    /// the upload rows left. `strict`: with the analysis queue empty, every
    /// preview must be one a finished analysis names (otherwise one a
    /// waiting or running job may still write counts as owned).
    async fn orphans(&self, strict: bool) -> Vec<String> {
        let conn = rusqlite::Connection::open(self.dir.join("catalog.db")).unwrap();
        let col = |sql: &str| -> HashSet<String> {
            let mut st = conn.prepare(sql).unwrap();
            st.query_map([], |r| r.get::<_, String>(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap()
        };
        let mut keys = col("SELECT key FROM media_objects");
        keys.extend(col("SELECT key FROM media_uploads"));
        keys.extend(col("SELECT json_extract(sink, '$.key') FROM tus_uploads"));
        let tus_ids = col("SELECT id FROM tus_uploads");
        let multiparts = col("SELECT json_extract(sink, '$.multipart_id') FROM tus_uploads
             WHERE completed_at IS NULL AND json_extract(sink, '$.multipart_id') IS NOT NULL");
        let upload_rows: i64 = conn
            .query_row("SELECT count(*) FROM media_uploads", [], |r| r.get(0))
            .unwrap();
        let recorded_previews = col(
            "SELECT key FROM (SELECT preview_key AS key FROM analysis_jobs WHERE state = 'done'
             UNION SELECT poster_key FROM analysis_jobs WHERE state = 'done'
             UNION SELECT waveform_key FROM analysis_jobs WHERE state = 'done') WHERE key IS NOT NULL",
        );
        // Content whose job may be writing its previews now.
        let busy = if strict {
            HashSet::new()
        } else {
            col("SELECT sha256 FROM analysis_jobs WHERE state IN ('pending', 'running')")
        };
        let sha_of = |key: &str| key.split('/').nth(1).unwrap_or_default().to_owned();
        drop(conn);
        let mut out = Vec::new();
        if upload_rows > 0 {
            out.push(format!("{upload_rows} upload row(s) left"));
        }
        let media = pxhub::media::MediaStore::open(&self.settings.media()).unwrap();
        for (key, _) in media.keys().await.unwrap() {
            if !keys.contains(&key) {
                out.push(format!("object {key}"));
            }
        }
        for (key, _) in media.preview_keys().await.unwrap() {
            if !recorded_previews.contains(&key) && !busy.contains(&sha_of(&key)) {
                out.push(format!("preview object {key}"));
            }
        }
        for m in media.pending_multiparts().await.unwrap() {
            let preview_in_progress = m.key.starts_with("previews/") && busy.contains(&sha_of(&m.key));
            if !multiparts.contains(&m.upload_id) && !preview_in_progress {
                out.push(format!("multipart upload {} of {}", m.upload_id, m.key));
            }
        }
        let spools = match &self.settings.storage {
            pxhub::config::StorageSettings::S3(_) => self.dir.join("uploads"),
            _ => self.dir.join("media/uploads"),
        };
        for entry in std::fs::read_dir(&spools).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !tus_ids.contains(name.split('.').next().unwrap_or_default()) {
                out.push(format!("spool file {name}"));
            }
        }
        if media.is_local() {
            for entry in std::fs::read_dir(self.dir.join("media/blobs"))
                .into_iter()
                .flatten()
                .flatten()
            {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.contains('#') {
                    out.push(format!("staging file {name}"));
                }
            }
            for dir in std::fs::read_dir(self.dir.join("media/previews"))
                .into_iter()
                .flatten()
                .flatten()
            {
                let sha = dir.file_name().to_string_lossy().into_owned();
                for entry in std::fs::read_dir(dir.path()).into_iter().flatten().flatten() {
                    let name = entry.file_name().to_string_lossy().into_owned();
                    if name.contains('#') && !busy.contains(&sha) {
                        out.push(format!("preview staging file {sha}/{name}"));
                    }
                }
            }
        }
        if strict {
            // The analysis work folder: one folder per running job.
            for entry in std::fs::read_dir(self.dir.join("analysis"))
                .into_iter()
                .flatten()
                .flatten()
            {
                out.push(format!("analysis work folder {}", entry.file_name().to_string_lossy()));
            }
        }
        out
    }

    /// The analysis jobs the (killed) hub held: `(sha256, attempt)`.
    /// The jobs a killed hub held: content, attempt, and the row's
    /// `created_at` (a job that went with its file and was queued anew for
    /// the same content later is another job).
    fn running_jobs(&self) -> Vec<(String, i64, i64)> {
        let conn = rusqlite::Connection::open(self.dir.join("catalog.db")).unwrap();
        let mut st = conn
            .prepare("SELECT sha256, attempts, created_at FROM analysis_jobs WHERE state = 'running'")
            .unwrap();
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }
}

// ---------------------------------------------------------------------------
// Work

struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Client {
    fn req(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
    }

    async fn new_program(&self, title: &str) -> Option<String> {
        let body = serde_json::json!({"title": title, "kind": "radio", "genre": "news", "languages": ["vi"]});
        let r = self
            .req(reqwest::Method::POST, "/api/v1/programs")
            .json(&body)
            .send()
            .await
            .ok()?;
        if r.status().as_u16() != 201 {
            return None;
        }
        let v: serde_json::Value = r.json().await.ok()?;
        v["id"].as_str().map(str::to_owned)
    }

    async fn put(&self, program: &str, data: Vec<u8>) -> bool {
        self.put_as(program, data, "audio/mpeg", "a.mp3").await
    }

    async fn put_as(&self, program: &str, data: Vec<u8>, media_type: &str, filename: &str) -> bool {
        let r = self
            .req(
                reqwest::Method::PUT,
                &format!("/api/v1/programs/{program}/files/master?filename={filename}"),
            )
            .header("Content-Type", media_type)
            .body(data)
            .send()
            .await;
        matches!(r, Ok(r) if r.status().is_success())
    }

    /// The SHA-256 of a GET of `path`, if answered 200.
    async fn sha_of(&self, path: &str) -> Result<String, String> {
        let mut r = self
            .req(reqwest::Method::GET, path)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if r.status().as_u16() != 200 {
            return Err(format!("GET {path}: {}", r.status()));
        }
        let mut h = Sha256::new();
        while let Some(c) = r.chunk().await.map_err(|e| e.to_string())? {
            h.update(&c);
        }
        Ok(hex::encode(h.finalize()))
    }

    fn tus(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.req(method, path).header("Tus-Resumable", "1.0.0")
    }

    async fn tus_create(&self, program: &str, length: usize) -> Option<String> {
        let b64 = |s: &str| {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.encode(s)
        };
        let r = self
            .tus(reqwest::Method::POST, "/api/v1/uploads")
            .header("Upload-Length", length.to_string())
            .header(
                "Upload-Metadata",
                format!(
                    "program {},role {},filename {}",
                    b64(program),
                    b64("master"),
                    b64("t.mp4")
                ),
            )
            .send()
            .await
            .ok()?;
        if r.status().as_u16() != 201 {
            return None;
        }
        r.headers().get("location")?.to_str().ok().map(str::to_owned)
    }

    /// The offset after the PATCH, if answered 204.
    async fn tus_patch(&self, upload: &str, offset: usize, data: Vec<u8>) -> Option<usize> {
        let r = self
            .tus(reqwest::Method::PATCH, upload)
            .header("Upload-Offset", offset.to_string())
            .header("Content-Type", "application/offset+octet-stream")
            .body(data)
            .send()
            .await
            .ok()?;
        if r.status().as_u16() != 204 {
            return None;
        }
        r.headers().get("upload-offset")?.to_str().ok()?.parse().ok()
    }

    async fn tus_offset(&self, upload: &str) -> Result<usize, String> {
        let r = self
            .tus(reqwest::Method::HEAD, upload)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if r.status().as_u16() != 200 {
            return Err(format!("HEAD {upload}: {}", r.status()));
        }
        r.headers()["upload-offset"]
            .to_str()
            .map_err(|e| e.to_string())?
            .parse()
            .map_err(|e: std::num::ParseIntError| e.to_string())
    }

    /// Publishes `program`: `Some(true)` done, `Some(false)` refused while
    /// its master's analysis runs (409 `analysis_pending`: still a draft),
    /// `None` not acknowledged.
    async fn publish(&self, program: &str) -> Option<bool> {
        let r = self
            .req(reqwest::Method::POST, &format!("/api/v1/programs/{program}/publish"))
            .json(&serde_json::json!({}))
            .send()
            .await
            .ok()?;
        if r.status().is_success() {
            return Some(true);
        }
        let pending = r.status().as_u16() == 409
            && r.json::<serde_json::Value>()
                .await
                .is_ok_and(|b| b["code"] == "analysis_pending");
        pending.then_some(false)
    }

    async fn post(&self, path: &str, body: serde_json::Value) -> bool {
        matches!(self.req(reqwest::Method::POST, path).json(&body).send().await, Ok(r) if r.status().is_success())
    }

    async fn master_sha(&self, program: &str) -> Result<(String, u64), String> {
        let mut r = self
            .req(
                reqwest::Method::GET,
                &format!("/api/v1/programs/{program}/files/master"),
            )
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if r.status().as_u16() != 200 {
            return Err(format!("GET the master of {program}: {}", r.status()));
        }
        let mut h = Sha256::new();
        let mut n = 0u64;
        while let Some(c) = r.chunk().await.map_err(|e| e.to_string())? {
            h.update(&c);
            n += c.len() as u64;
        }
        Ok((hex::encode(h.finalize()), n))
    }

    async fn status(&self, program: &str) -> Result<String, String> {
        let r = self
            .req(reqwest::Method::GET, &format!("/api/v1/programs/{program}"))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let v: serde_json::Value = r.json().await.map_err(|e| e.to_string())?;
        Ok(v["status"].as_str().unwrap_or("?").to_owned())
    }
}

/// One client's work until the hub dies: a seeded mix of the kinds.
async fn work(
    client: Arc<Client>,
    ledger: Arc<Mutex<Ledger>>,
    counts: Arc<Mutex<Counts>>,
    pool: Arc<Vec<PoolFile>>,
    seed: u64,
) {
    let mut rng = StdRng::seed_from_u64(seed);
    // A few operations per round, with a short pause between them, so that
    // the store grows by tens of MiB a round, not by gigabytes.
    for step in 0..6u64 {
        tokio::time::sleep(Duration::from_millis(rng.gen_range(10..60))).await;
        counts.lock().unwrap().ops_started += 1;
        match rng.gen_range(0..10) {
            // A single-request upload of random bytes (its analysis finds
            // no media).
            0..=2 => {
                let Some(p) = client.new_program(&format!("put {seed}-{step}")).await else {
                    return;
                };
                let len = rng.gen_range(1024..3 << 20);
                let s = rng.next_u64();
                let data = body(s, len);
                let digest = sha(&data);
                if client.put(&p, data).await {
                    let mut l = ledger.lock().unwrap();
                    l.files.insert(p.clone(), (digest, len as u64));
                    l.drafts.push(p.clone());
                    l.fresh.push(p);
                    counts.lock().unwrap().acked_files += 1;
                } else {
                    return;
                }
            }
            // Real media from the pool: its analysis makes previews.
            3 | 4 => {
                let Some(p) = client.new_program(&format!("media {seed}-{step}")).await else {
                    return;
                };
                let f = &pool[rng.gen_range(0..pool.len())];
                if client.put_as(&p, f.bytes.clone(), f.media_type, f.filename).await {
                    let mut l = ledger.lock().unwrap();
                    l.files.insert(p.clone(), (sha(&f.bytes), f.bytes.len() as u64));
                    l.drafts.push(p.clone());
                    l.media_drafts.push(p.clone());
                    l.fresh.push(p);
                    let mut c = counts.lock().unwrap();
                    c.acked_files += 1;
                    c.acked_media += 1;
                } else {
                    return;
                }
            }
            // A resumable upload in chunks.
            5 | 6 => {
                let Some(p) = client.new_program(&format!("tus {seed}-{step}")).await else {
                    return;
                };
                // Past one part, so that on S3 a part is sent, and a tail kept.
                let length = rng.gen_range(PART + 1..PART + (2 << 20));
                let s = rng.next_u64();
                let Some(upload) = client.tus_create(&p, length).await else {
                    return;
                };
                let data = body(s, length);
                let open = OpenTus {
                    upload: upload.clone(),
                    program: p.clone(),
                    seed: s,
                    length,
                    acked: 0,
                };
                ledger.lock().unwrap().open_tus.push(open);
                let mut offset = 0;
                while offset < length {
                    let end = (offset + rng.gen_range(256 * 1024..2 * PART)).min(length);
                    match client.tus_patch(&upload, offset, data[offset..end].to_vec()).await {
                        Some(o) => {
                            offset = o;
                            counts.lock().unwrap().acked_tus_chunks += 1;
                            let mut l = ledger.lock().unwrap();
                            if let Some(t) = l.open_tus.iter_mut().find(|t| t.upload == upload) {
                                t.acked = o;
                            }
                        }
                        None => return,
                    }
                }
                let mut l = ledger.lock().unwrap();
                l.open_tus.retain(|t| t.upload != upload);
                l.files.insert(p.clone(), (sha(&data), length as u64));
                l.drafts.push(p.clone());
                l.fresh.push(p);
                counts.lock().unwrap().acked_files += 1;
            }
            // Publish a draft whose master is media (webhook deliveries
            // follow; a master found to be no media may not be published,
            // nor one whose analysis has not ended: 409 analysis_pending
            // puts it back among the drafts to try later).
            7 | 8 => {
                let draft = {
                    let mut l = ledger.lock().unwrap();
                    let n = l.media_drafts.len();
                    let pick = (n > 0).then(|| l.media_drafts.swap_remove(rng.gen_range(0..n)));
                    if let Some(p) = &pick {
                        l.drafts.retain(|d| d != p);
                    }
                    pick
                };
                let Some(p) = draft else { continue };
                match client.publish(&p).await {
                    Some(true) => {
                        ledger.lock().unwrap().published.insert(p);
                        counts.lock().unwrap().acked_states += 1;
                    }
                    Some(false) => {
                        let mut l = ledger.lock().unwrap();
                        l.drafts.push(p.clone());
                        l.media_drafts.push(p);
                    }
                    // Not acknowledged: it may or may not be published.
                    None => return,
                }
            }
            // Withdraw a published program.
            _ => {
                let pick = {
                    let l = ledger.lock().unwrap();
                    let v: Vec<&String> = l.published.iter().collect();
                    (!v.is_empty()).then(|| v[rng.gen_range(0..v.len())].clone())
                };
                let Some(p) = pick else { continue };
                {
                    let mut l = ledger.lock().unwrap();
                    l.published.remove(&p);
                    if let Some(f) = l.files.remove(&p) {
                        l.withdrawn_files.insert(p.clone(), f);
                    }
                }
                if client
                    .post(
                        &format!("/api/v1/programs/{p}/withdraw"),
                        serde_json::json!({"reason": "fault injection"}),
                    )
                    .await
                {
                    ledger.lock().unwrap().withdrawn.insert(p);
                    counts.lock().unwrap().acked_states += 1;
                } else {
                    return;
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// The webhook receiver: records every delivery it is sent, and whether its
// signature is valid for the secret of the path it came to.

#[derive(Clone)]
struct Received {
    /// `/hook` (the operator's subscription) or `/follow` (the follower's).
    path: String,
    body: String,
    valid: bool,
}

fn signature(secret: &str, body: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

async fn receiver(bodies: Arc<Mutex<Vec<Received>>>) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let bodies = bodies.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 16384];
                loop {
                    let Ok(n) = s.read(&mut chunk).await else { return };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                        continue;
                    };
                    let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
                    let header = |name: &str| {
                        head.lines()
                            .find_map(|l| l.strip_prefix(name))
                            .map(|v| v.trim().to_owned())
                    };
                    let len: usize = header("content-length:").and_then(|v| v.parse().ok()).unwrap_or(0);
                    if buf.len() < end + 4 + len {
                        continue;
                    }
                    let path = head.split_whitespace().nth(1).unwrap_or_default().to_owned();
                    let raw = &buf[end + 4..end + 4 + len];
                    let secret = if path == "/follow" {
                        FOLLOWER_SECRET
                    } else {
                        HOOK_SECRET
                    };
                    let valid = header("x-hub-signature-256:") == Some(signature(secret, raw));
                    let body = String::from_utf8_lossy(raw).into_owned();
                    bodies.lock().unwrap().push(Received { path, body, valid });
                    buf.drain(..end + 4 + len);
                    let _ = s
                        .write_all(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
                        .await;
                }
            });
        }
    });
    port
}

// ---------------------------------------------------------------------------
// The media pool: short real files made by FFmpeg's generators, each
// distinct (a job per content).

struct PoolFile {
    bytes: Vec<u8>,
    media_type: &'static str,
    filename: &'static str,
}

fn media_pool(dir: &Path, tones: usize, videos: usize) -> Vec<PoolFile> {
    std::fs::create_dir_all(dir).unwrap();
    let make = |name: &str, args: &[&str]| -> Vec<u8> {
        let out = dir.join(name);
        let status = Command::new("ffmpeg")
            .args(["-nostdin", "-v", "error", "-y"])
            .args(args)
            .arg(&out)
            .status()
            .expect("ffmpeg runs (the analysis part of the bench needs it: apt-get install ffmpeg)");
        assert!(status.success(), "ffmpeg {args:?}");
        std::fs::read(out).unwrap()
    };
    let mut pool = Vec::new();
    for i in 0..tones {
        // 20 s of a tone as MP3 at 128 kbit/s: about 320 KB.
        let src = format!("sine=frequency={}:sample_rate=44100:duration=20", 220 + 37 * i);
        pool.push(PoolFile {
            bytes: make(
                &format!("tone-{i}.mp3"),
                &[
                    "-f",
                    "lavfi",
                    "-i",
                    &src,
                    "-ac",
                    "2",
                    "-c:a",
                    "libmp3lame",
                    "-b:a",
                    "128k",
                ],
            ),
            media_type: "audio/mpeg",
            filename: "tone.mp3",
        });
    }
    for i in 0..videos {
        // 4 s of test pattern with a tone, H.264 + AAC: a few hundred KB.
        let video = format!("testsrc2=size=320x240:rate=25:duration=4,hue=h={}", 40 * i);
        let audio = format!("sine=frequency={}:duration=4", 300 + 50 * i);
        pool.push(PoolFile {
            bytes: make(
                &format!("pattern-{i}.mp4"),
                &[
                    "-f",
                    "lavfi",
                    "-i",
                    &video,
                    "-f",
                    "lavfi",
                    "-i",
                    &audio,
                    "-c:v",
                    "libx264",
                    "-preset",
                    "veryfast",
                    "-pix_fmt",
                    "yuv420p",
                    "-b:v",
                    "600k",
                    "-c:a",
                    "aac",
                    "-shortest",
                ],
            ),
            media_type: "video/mp4",
            filename: "pattern.mp4",
        });
    }
    pool
}

// ---------------------------------------------------------------------------
// The run

async fn verify(target: &Target, client: &Client, ledger: &Mutex<Ledger>, counts: &Mutex<Counts>, all: bool) {
    let mut problems = Vec::new();
    let mut losses = 0;
    // Leftovers: the start-up sweep runs with grace 0; wait (bounded) for it.
    let mut left = Vec::new();
    for _ in 0..100 {
        left = target.orphans(false).await;
        if left.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let orphans = left.len();
    problems.extend(left.into_iter().map(|o| format!("{}: orphan {o}", target.name)));
    if let Err(e) = target.scrub() {
        losses += 1;
        problems.push(format!("{}: {e}", target.name));
    }
    if let Err(e) = target.integrity() {
        losses += 1;
        problems.push(format!("{}: {e}", target.name));
    }
    // Acknowledged files, byte-exact.
    let check: Vec<(String, (String, u64))> = {
        let l = ledger.lock().unwrap();
        if all {
            l.files.clone().into_iter().collect()
        } else {
            l.fresh
                .iter()
                .filter_map(|p| l.files.get(p).map(|f| (p.clone(), f.clone())))
                .collect()
        }
    };
    for (p, want) in check {
        match client.master_sha(&p).await {
            Ok(got) if got == want => {}
            Ok(got) => {
                losses += 1;
                problems.push(format!(
                    "{}: program {p}: read {got:?}, acknowledged {want:?}",
                    target.name
                ));
            }
            Err(e) => {
                losses += 1;
                problems.push(format!("{}: program {p}: {e}", target.name));
            }
        }
    }
    // Files of withdrawn programs: the catalog still names the acknowledged
    // bytes (and scrub, above, proved the object holds them).
    let withdrawn_files = ledger.lock().unwrap().withdrawn_files.clone();
    if all && !withdrawn_files.is_empty() {
        let conn = rusqlite::Connection::open(target.dir.join("catalog.db")).unwrap();
        for (p, (want, _)) in withdrawn_files {
            let got: Option<String> = conn
                .query_row(
                    "SELECT f.sha256 FROM program_files f JOIN programs p ON p.seq = f.program_seq
                     WHERE p.id = ?1 AND f.role = 'master'",
                    [&p],
                    |r| r.get(0),
                )
                .ok();
            if got.as_deref() != Some(want.as_str()) {
                losses += 1;
                problems.push(format!(
                    "{}: withdrawn program {p}: catalog has {got:?}, acknowledged {want}",
                    target.name
                ));
            }
        }
    }
    // Most verified drafts lose their file again (a DELETE; not a kill
    // point), so that the store stays small over a hundred rounds.
    let fresh = std::mem::take(&mut ledger.lock().unwrap().fresh);
    for (i, p) in fresh.iter().enumerate() {
        let is_draft = {
            let l = ledger.lock().unwrap();
            l.drafts.contains(p) || l.media_drafts.contains(p)
        };
        if !is_draft || i % 4 == 0 {
            continue;
        }
        let r = client
            .req(reqwest::Method::DELETE, &format!("/api/v1/programs/{p}/files/master"))
            .send()
            .await;
        if matches!(r, Ok(r) if r.status().as_u16() == 204) {
            let mut l = ledger.lock().unwrap();
            l.files.remove(p);
            l.drafts.retain(|d| d != p);
            l.media_drafts.retain(|d| d != p);
        }
    }
    // Acknowledged states.
    let (published, withdrawn) = {
        let l = ledger.lock().unwrap();
        (l.published.clone(), l.withdrawn.clone())
    };
    for (set, want) in [(published, "published"), (withdrawn, "withdrawn")] {
        for p in set {
            match client.status(&p).await {
                Ok(s) if s == want => {}
                other => {
                    losses += 1;
                    problems.push(format!(
                        "{}: program {p} acknowledged {want}, is {other:?}",
                        target.name
                    ));
                }
            }
        }
    }
    // tus uploads cut by the kill: never behind what was acknowledged, and
    // they complete.
    let open: Vec<OpenTus> = std::mem::take(&mut ledger.lock().unwrap().open_tus);
    for t in open {
        let offset = match client.tus_offset(&t.upload).await {
            Ok(o) => o,
            Err(e) => {
                losses += 1;
                problems.push(format!("{}: resumable upload lost: {e}", target.name));
                continue;
            }
        };
        if offset < t.acked {
            losses += 1;
            problems.push(format!(
                "{}: resumable upload {} at {offset}, below the acknowledged {}",
                target.name, t.upload, t.acked
            ));
            continue;
        }
        let data = body(t.seed, t.length);
        let done = if offset == t.length {
            // Every byte was in, the last answer lost: the file is attached.
            true
        } else {
            client.tus_patch(&t.upload, offset, data[offset..].to_vec()).await == Some(t.length)
        };
        if !done {
            losses += 1;
            problems.push(format!(
                "{}: resumable upload {} did not complete",
                target.name, t.upload
            ));
            continue;
        }
        counts.lock().unwrap().resumed_tus += 1;
        let mut l = ledger.lock().unwrap();
        l.files.insert(t.program.clone(), (sha(&data), t.length as u64));
        l.drafts.push(t.program);
    }
    let mut c = counts.lock().unwrap();
    c.losses += losses;
    c.orphans += orphans;
    c.problems.extend(problems);
}

async fn run_target(
    target: &Target,
    points: usize,
    seed: u64,
    counts: Arc<Mutex<Counts>>,
    hook_port: u16,
    bodies: Arc<Mutex<Vec<Received>>>,
    pool: Arc<Vec<PoolFile>>,
) {
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let mut rng = StdRng::seed_from_u64(seed);
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    // The webhooks, subscribed once (the first hub start): the operator's,
    // and a provincial station's that follows station `faults`.
    {
        let (proc, base) = target.start(0);
        let as_ = |token: &str| Client {
            http: http.clone(),
            base: base.clone(),
            token: token.to_owned(),
        };
        let hook = |path: &str, secret: &str| serde_json::json!({"url": format!("http://127.0.0.1:{hook_port}{path}"), "events": ["program.published"], "secret": secret});
        assert!(
            as_(&target.admin)
                .post("/api/v1/webhooks", hook("/hook", HOOK_SECRET))
                .await,
            "subscribing the operator's webhook"
        );
        let follower = as_(&target.follower);
        assert!(
            follower
                .post(
                    "/api/v1/follows",
                    serde_json::json!({"kind": "station", "value": "faults"})
                )
                .await,
            "following station faults"
        );
        assert!(
            follower
                .post("/api/v1/webhooks", hook("/follow", FOLLOWER_SECRET))
                .await,
            "subscribing the follower's webhook"
        );
        drop(proc);
    }
    // Analysis jobs the killed hubs held: (content, attempt).
    let mut interrupted: HashSet<(String, i64, i64)> = HashSet::new();
    for point in 0..points {
        let (proc, base) = target.start(point + 1);
        let client = Arc::new(Client {
            http: http.clone(),
            base,
            token: target.token.clone(),
        });
        verify(target, &client, &ledger, &counts, false).await;
        let workers: Vec<_> = (0..3)
            .map(|i| {
                tokio::spawn(work(
                    client.clone(),
                    ledger.clone(),
                    counts.clone(),
                    pool.clone(),
                    rng.next_u64() ^ i,
                ))
            })
            .collect();
        let delay = Duration::from_millis(rng.gen_range(50..1500));
        tokio::time::sleep(delay).await;
        // SIGKILL: no chance to clean up.
        let pid = proc.pid();
        let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
        drop(proc);
        for w in workers {
            let _ = w.await;
        }
        let held = target.running_jobs();
        let mut c = counts.lock().unwrap();
        c.points += 1;
        if !held.is_empty() {
            c.kills_during_analysis += 1;
        }
        interrupted.extend(held);
        eprintln!(
            "{} point {}/{points}: killed after {delay:?}; so far {} files ({} media) and {} tus chunks acknowledged, {} analysis jobs interrupted, {} losses, {} orphans",
            target.name,
            point + 1,
            c.acked_files,
            c.acked_media,
            c.acked_tus_chunks,
            interrupted.len(),
            c.losses,
            c.orphans
        );
    }
    // The last restart: everything checked, webhooks delivered.
    let (proc, base) = target.start(points + 1);
    let client = Client {
        http: http.clone(),
        base,
        token: target.token.clone(),
    };
    verify(target, &client, &ledger, &counts, true).await;
    // Publications made after the subscriptions reach both, at least once,
    // signed with each one's secret.
    let published: Vec<String> = {
        let l = ledger.lock().unwrap();
        l.published.iter().chain(l.withdrawn.iter()).cloned().collect()
    };
    let started = Instant::now();
    let mut missing: Vec<(String, &str)> = published
        .iter()
        .flat_map(|p| [(p.clone(), "/hook"), (p.clone(), "/follow")])
        .collect();
    while !missing.is_empty() && started.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let got = bodies.lock().unwrap().clone();
        missing.retain(|(p, path)| {
            !got.iter()
                .any(|r| r.valid && r.path == *path && r.body.contains(p.as_str()))
        });
    }
    {
        let mut c = counts.lock().unwrap();
        for (p, path) in &missing {
            c.losses += 1;
            c.problems.push(format!(
                "{}: no validly signed delivery to {path} for the publication of {p}",
                target.name
            ));
        }
    }
    eprintln!(
        "{}: {} publications, {} of {} deliveries (operator and follower) received and signed",
        target.name,
        published.len(),
        2 * published.len() - missing.len(),
        2 * published.len()
    );
    check_analysis(target, &client, &ledger, &counts, &interrupted, &pool).await;
    drop(proc);
    // One more start: its sweep (no grace) leaves nothing that a finished
    // analysis does not name.
    let (proc, _) = target.start(points + 2);
    let mut left = Vec::new();
    for _ in 0..100 {
        left = target.orphans(true).await;
        if left.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(proc);
    let mut c = counts.lock().unwrap();
    c.orphans += left.len();
    c.problems.extend(
        left.into_iter()
            .map(|o| format!("{}: orphan at the end {o}", target.name)),
    );
}

/// Once the analysis queue is empty: every job of an acknowledged file
/// ended, every interrupted one was taken again and ended, no program was
/// told twice, and the previews of finished jobs read back byte-exact.
async fn check_analysis(
    target: &Target,
    client: &Client,
    ledger: &Mutex<Ledger>,
    counts: &Mutex<Counts>,
    interrupted: &HashSet<(String, i64, i64)>,
    pool: &[PoolFile],
) {
    let db = || rusqlite::Connection::open(target.dir.join("catalog.db")).unwrap();
    let started = Instant::now();
    let mut busy = i64::MAX;
    // Bounded: a job given back with an error waits 30 s, then 60 s.
    while started.elapsed() < Duration::from_secs(300) {
        busy = db()
            .query_row(
                "SELECT count(*) FROM analysis_jobs WHERE state IN ('pending', 'running')",
                [],
                |r| r.get(0),
            )
            .unwrap();
        if busy == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    eprintln!(
        "{}: analysis queue empty after {:.0} s",
        target.name,
        started.elapsed().as_secs_f64()
    );
    let conn = db();
    type Job = (
        String,
        i64,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        i64,
    );
    let job = |sha: &str| -> Option<Job> {
        conn.query_row(
            "SELECT state, attempts, error, preview_sha256, poster_sha256, waveform_sha256, created_at
             FROM analysis_jobs WHERE sha256 = ?1 AND kind = 'analyze'",
            [sha],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                ))
            },
        )
        .ok()
    };
    let mut problems = Vec::new();
    let mut losses = 0;
    if busy > 0 {
        losses += 1;
        problems.push(format!(
            "{}: {busy} analysis jobs still waiting or running",
            target.name
        ));
    }
    // Every acknowledged file's job ended.
    let (files, withdrawn): (Vec<(String, String)>, HashSet<String>) = {
        let l = ledger.lock().unwrap();
        (
            l.files
                .iter()
                .chain(l.withdrawn_files.iter())
                .map(|(p, (sha, _))| (p.clone(), sha.clone()))
                .collect(),
            l.withdrawn_files.keys().cloned().collect(),
        )
    };
    let (mut done, mut failed, mut read) = (0, 0, 0);
    let mut seen = HashSet::new();
    for (p, sha) in &files {
        let first = seen.insert(sha.clone());
        match job(sha) {
            Some((state, _, _, preview, poster, waveform, _)) if state == "done" => {
                done += usize::from(first);
                // The previews, through the API (a withdrawn program's
                // answer 410), each once per content.
                if !first || withdrawn.contains(p) {
                    continue;
                }
                for (what, want) in [
                    ("preview", preview),
                    ("poster.jpg", poster),
                    ("waveform.json", waveform),
                ] {
                    let Some(want) = want else { continue };
                    match client
                        .sha_of(&format!("/api/v1/programs/{p}/files/master/{what}"))
                        .await
                    {
                        Ok(got) if got == want => read += 1,
                        Ok(got) => {
                            losses += 1;
                            problems.push(format!(
                                "{}: the {what} of {p} reads {got}, the catalog recorded {want}",
                                target.name
                            ));
                        }
                        Err(e) => {
                            losses += 1;
                            problems.push(format!("{}: {e}", target.name));
                        }
                    }
                }
            }
            Some((state, _, Some(error), ..)) if state == "failed" && !error.is_empty() => failed += usize::from(first),
            other => {
                losses += 1;
                problems.push(format!(
                    "{}: the analysis of {p}'s master ({sha}) did not end: {:?}",
                    target.name,
                    other.map(|j| (j.0, j.1, j.2))
                ));
            }
        }
    }
    // Each interrupted job: taken again, and ended (or went with its file).
    let (mut i_done, mut i_failed, mut i_gone) = (0, 0, 0);
    let media: HashSet<String> = pool.iter().map(|f| sha(&f.bytes)).collect();
    let i_media = interrupted.iter().filter(|(s, ..)| media.contains(s)).count();
    for (sha, attempt, created) in interrupted {
        // The interrupted job went with its file, and the same content was
        // uploaded again since: its new job is not the one interrupted.
        let replaced = job(sha).is_some_and(|j| j.6 != *created);
        let job = |sha: &str| job(sha).filter(|j| j.6 == *created);
        match job(sha) {
            Some((state, attempts, ..)) if attempts > *attempt && (state == "done" || state == "failed") => {
                if state == "done" {
                    i_done += 1;
                } else {
                    i_failed += 1;
                }
            }
            None if replaced => i_gone += 1,
            None => {
                let owned: bool = conn
                    .query_row(
                        "SELECT EXISTS (SELECT 1 FROM program_files WHERE sha256 = ?1)",
                        [sha],
                        |r| r.get(0),
                    )
                    .unwrap();
                if owned {
                    losses += 1;
                    problems.push(format!("{}: the job of {sha} is gone, its file is not", target.name));
                } else {
                    i_gone += 1;
                }
            }
            Some((state, attempts, error, ..)) => {
                // A later interruption of the same job is counted by its
                // own entry; this one must at least have been taken again.
                if attempts <= *attempt || (state != "done" && state != "failed") {
                    losses += 1;
                    problems.push(format!(
                        "{}: the job of {sha} interrupted at attempt {attempt} is {state} at attempt {attempts} ({error:?})",
                        target.name
                    ));
                }
            }
        }
    }
    // Told once: no program has two `file.analyzed` events.
    let mut st = conn
        .prepare(
            "SELECT p.id, count(*) FROM events e JOIN programs p ON p.seq = e.program_seq
             WHERE e.type = 'file.analyzed' GROUP BY p.seq HAVING count(*) > 1",
        )
        .unwrap();
    let twice: Vec<(String, i64)> = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for (p, n) in twice {
        losses += 1;
        problems.push(format!("{}: program {p} was told file.analyzed {n} times", target.name));
    }
    let mut c = counts.lock().unwrap();
    c.interrupted += interrupted.len();
    c.interrupted_media += i_media;
    c.interrupted_done += i_done;
    c.interrupted_failed += i_failed;
    c.interrupted_gone += i_gone;
    c.jobs_done += done;
    c.jobs_failed += failed;
    c.previews_read += read;
    c.losses += losses;
    c.problems.extend(problems);
    eprintln!(
        "{}: analysis: {done} done, {failed} failed with a reason; {} interrupted by a kill ({i_media} of real media): {i_done} finished, {i_failed} failed, {i_gone} went with their file; {read} previews read back",
        target.name,
        interrupted.len()
    );
}

/// Where the hub under test keeps its objects in the bench's Garage.
const S3_PREFIX: &str = "faults";

/// The store of the hub under test, as this process reaches it.
fn s3_storage(env: &S3Env) -> pxhub::config::StorageSettings {
    pxhub::config::StorageSettings::S3(pxhub::media::S3Bucket {
        endpoint: env.endpoint.clone(),
        bucket: env.bucket.clone(),
        region: env.region.clone(),
        access_key_id: env.key_id.clone(),
        secret_access_key: pxhub::config::Secret::new(env.secret.clone()),
        prefix: S3_PREFIX.into(),
    })
}

fn main() {
    let o = opts();
    common::main_with("faults-bench", o.keep, |root, rt| {
        let counts = Arc::new(Mutex::new(Counts::default()));
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let hook_port = rt.block_on(receiver(bodies.clone()));
        let started = Instant::now();
        let pool = Arc::new(if o.quick {
            media_pool(&root.join("pool"), 4, 2)
        } else {
            media_pool(&root.join("pool"), 16, 8)
        });
        eprintln!(
            "media pool: {} files, {} KB in all, made in {:.1} s",
            pool.len(),
            pool.iter().map(|f| f.bytes.len()).sum::<usize>() / 1000,
            started.elapsed().as_secs_f64()
        );
        let mut rows = Vec::new();
        let mut per_target = Vec::new();
        if o.local_points > 0 {
            let t = Target::new("local", &root.join("local"), None);
            rt.block_on(run_target(
                &t,
                o.local_points,
                o.seed,
                counts.clone(),
                hook_port,
                bodies.clone(),
                pool.clone(),
            ));
            per_target.push(("local store", snapshot(&counts)));
        }
        if o.garage_points > 0 {
            match Garage::start(&root.join("garage"), GARAGE_PORTS) {
                Ok(garage) => {
                    let t = Target::new("garage", &root.join("hub-garage"), Some(&garage.env));
                    rt.block_on(run_target(
                        &t,
                        o.garage_points,
                        o.seed.wrapping_add(1),
                        counts.clone(),
                        hook_port,
                        bodies.clone(),
                        pool.clone(),
                    ));
                    per_target.push(("Garage", snapshot(&counts)));
                }
                Err(e) => counts.lock().unwrap().problems.push(format!("Garage: {e}")),
            }
        }
        {
            let got = bodies.lock().unwrap();
            let mut c = counts.lock().unwrap();
            c.deliveries = got.len();
            for r in got.iter().filter(|r| !r.valid) {
                c.losses += 1;
                c.problems.push(format!(
                    "a delivery to {} with a bad signature: {:.100}",
                    r.path, r.body
                ));
            }
        }
        let c = counts.lock().unwrap();
        let mut before = Snapshot::default();
        for (name, s) in &per_target {
            let d = s.minus(&before);
            rows.push(row(
                format!("kill -9 on the {name}: {} points; losses", d.points),
                d.losses,
                d.acked,
            ));
            rows.push(row(
                format!("kill -9 on the {name}: orphans after the sweep"),
                d.orphans,
                d.acked,
            ));
            let unfinished = d.interrupted - d.interrupted_ended;
            rows.push(Row {
                scenario: format!(
                    "kill -9 on the {name}: analysis jobs cut by a kill ({} kill points during analysis), not ended once after restarts",
                    d.kills_during_analysis
                ),
                hub: unfinished.to_string(),
                baseline: format!("{} interrupted", d.interrupted),
                ratio: Some(unfinished as f64 / d.interrupted.max(1) as f64),
                target: "0".into(),
                result: if unfinished == 0 && d.interrupted > 0 {
                    "PASS"
                } else if d.interrupted == 0 {
                    "SKIPPED (no kill point hit a running analysis)"
                } else {
                    "MISS"
                }
                .into(),
            });
            before = s.clone();
        }
        print_table(
            &format!(
                "Fault injection (seed {}, {} kill points, {:.0} s): {} operations started; acknowledged: {} files, {} tus chunks, {} publications/withdrawals; {} tus uploads cut by a kill resumed and completed",
                o.seed,
                c.points,
                started.elapsed().as_secs_f64(),
                c.ops_started,
                c.acked_files,
                c.acked_tus_chunks,
                c.acked_states,
                c.resumed_tus
            ),
            &rows,
        );
        println!(
            "\nkill points tried: {}, losses: {}, orphans: {}",
            c.points, c.losses, c.orphans
        );
        println!(
            "analysis: {} real media files acknowledged; {} kill points hit a running analysis, {} jobs interrupted ({} of real media, making previews; the rest random bytes found to be no media): {} finished after a restart, {} failed with a reason, {} went with their file (none told twice); at the end {} jobs done and {} failed with a reason, {} previews read back byte-exact",
            c.acked_media,
            c.kills_during_analysis,
            c.interrupted,
            c.interrupted_media,
            c.interrupted_done,
            c.interrupted_failed,
            c.interrupted_gone,
            c.jobs_done,
            c.jobs_failed,
            c.previews_read
        );
        println!(
            "webhooks: {} deliveries received (operator's and a following station's), {} with a bad signature",
            c.deliveries,
            c.problems.iter().filter(|p| p.contains("bad signature")).count()
        );
        print_problems(&c.problems);
        c.problems.clone()
    });
}

#[derive(Default, Clone)]
struct Snapshot {
    points: usize,
    losses: usize,
    orphans: usize,
    acked: usize,
    kills_during_analysis: usize,
    interrupted: usize,
    interrupted_ended: usize,
}

impl Snapshot {
    fn minus(&self, o: &Snapshot) -> Snapshot {
        Snapshot {
            points: self.points - o.points,
            losses: self.losses - o.losses,
            orphans: self.orphans - o.orphans,
            acked: self.acked - o.acked,
            kills_during_analysis: self.kills_during_analysis - o.kills_during_analysis,
            interrupted: self.interrupted - o.interrupted,
            interrupted_ended: self.interrupted_ended - o.interrupted_ended,
        }
    }
}

fn snapshot(c: &Mutex<Counts>) -> Snapshot {
    let c = c.lock().unwrap();
    Snapshot {
        points: c.points,
        losses: c.losses,
        orphans: c.orphans,
        acked: c.acked_files + c.acked_tus_chunks + c.acked_states,
        kills_during_analysis: c.kills_during_analysis,
        interrupted: c.interrupted,
        interrupted_ended: c.interrupted_done + c.interrupted_failed + c.interrupted_gone,
    }
}

/// A row: the count against the acknowledged work; PASS at 0.
fn row(scenario: String, count: usize, acked: usize) -> Row {
    Row {
        scenario,
        hub: count.to_string(),
        baseline: format!("{acked} acknowledged"),
        ratio: Some(count as f64 / acked.max(1) as f64),
        target: "0".into(),
        result: if count == 0 { "PASS" } else { "MISS" }.into(),
    }
}
