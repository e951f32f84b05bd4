//! Fault injection: `pxhub serve` (the built binary, a process of its own)
//! killed with SIGKILL at random moments while it takes single-request
//! uploads, tus PATCHes, publications, withdrawals and webhook deliveries,
//! on the local store and on Garage; after each restart every invariant is
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
//! - at the end, every acknowledged publication has reached the webhook
//!   receiver at least once (deliveries are retried after a restart).
//!
//! Analysis jobs do not exist on this branch: when they do, add a `Work`
//! kind that starts one and check after restart that it finishes once.
//!
//! Output: a table in the form of the other benches (scripts/bench.sh reads
//! it): kill points tried, losses and orphans (target 0, against the work
//! acknowledged as the baseline), then `- ` problem lines; exit 1 on any
//! loss or orphan. `--quick`: 8 points on the local store and 6 on Garage.

#[path = "common/mod.rs"]
mod common;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{free_port, print_problems, print_table, pxhub, register, run, stop_pid, Proc, Row};
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Garage ports of the bench's own, away from the test suite's and the
/// media bench's.
const GARAGE_PORTS: (u16, u16, u16) = (39960, 39961, 39963);
const PART: usize = 5 * 1024 * 1024;

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
    /// The store, reached by this process (to look behind the hub's back).
    settings: pxhub::Settings,
}

impl Target {
    fn new(name: &'static str, dir: &Path, storage: Option<pxhub::config::StorageSettings>) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        let mut env: Vec<(&'static str, String)> = vec![
            ("PXHUB_PART_SIZE", PART.to_string()),
            ("PXHUB_SWEEP_GRACE_SECS", "0".into()),
            ("PXHUB_SWEEP_INTERVAL_SECS", "3600".into()),
            ("PXHUB_WEBHOOK_ALLOW", "127.0.0.0/8".into()),
            ("PXHUB_WEBHOOK_RETRY_MS", "200".into()),
            ("PXHUB_MAX_UPLOAD_BYTES", (64 << 20).to_string()),
        ];
        let mut settings = pxhub::Settings {
            data_dir: dir.to_owned(),
            part_size: PART,
            ..Default::default()
        };
        if let Some(pxhub::config::StorageSettings::S3(b)) = &storage {
            env.extend([
                ("PXHUB_STORAGE", "s3".into()),
                ("PXHUB_STORAGE_ENDPOINT", b.endpoint.clone()),
                ("PXHUB_STORAGE_BUCKET", b.bucket.clone()),
                ("PXHUB_STORAGE_REGION", b.region.clone()),
                ("PXHUB_STORAGE_ACCESS_KEY_ID", b.access_key_id.clone()),
                (
                    "PXHUB_STORAGE_SECRET_ACCESS_KEY",
                    b.secret_access_key.expose().to_owned(),
                ),
                ("PXHUB_STORAGE_PREFIX", b.prefix.clone()),
            ]);
        }
        if let Some(s) = storage {
            settings.storage = s;
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
        let token = cli(&["token", "issue", "--station", "faults"]);
        let admin = cli(&["token", "issue", "--role", "admin", "--label", "faults"]);
        let mut t = Self {
            name,
            dir: dir.to_owned(),
            env,
            token,
            admin,
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
    /// the upload rows left.
    async fn orphans(&self) -> Vec<String> {
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
        for m in media.pending_multiparts().await.unwrap() {
            if !multiparts.contains(&m.upload_id) {
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
        }
        out
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
        let r = self
            .req(
                reqwest::Method::PUT,
                &format!("/api/v1/programs/{program}/files/master?filename=a.mp3"),
            )
            .header("Content-Type", "audio/mpeg")
            .body(data)
            .send()
            .await;
        matches!(r, Ok(r) if r.status().is_success())
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
async fn work(client: Arc<Client>, ledger: Arc<Mutex<Ledger>>, counts: Arc<Mutex<Counts>>, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    // A few operations per round, with a short pause between them, so that
    // the store grows by tens of MiB a round, not by gigabytes.
    for step in 0..6u64 {
        tokio::time::sleep(Duration::from_millis(rng.gen_range(10..60))).await;
        counts.lock().unwrap().ops_started += 1;
        match rng.gen_range(0..10) {
            // A single-request upload.
            0..=3 => {
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
            // A resumable upload in chunks.
            4..=6 => {
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
            // Publish a draft (a webhook delivery follows).
            7 | 8 => {
                let draft = {
                    let mut l = ledger.lock().unwrap();
                    let n = l.drafts.len();
                    (n > 0).then(|| l.drafts.swap_remove(rng.gen_range(0..n)))
                };
                let Some(p) = draft else { continue };
                if client
                    .post(&format!("/api/v1/programs/{p}/publish"), serde_json::json!({}))
                    .await
                {
                    ledger.lock().unwrap().published.insert(p);
                    counts.lock().unwrap().acked_states += 1;
                } else {
                    // Not acknowledged: it may or may not be published.
                    return;
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
// The webhook receiver: records every body it is sent.

async fn receiver(bodies: Arc<Mutex<Vec<String>>>) -> u16 {
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
                    let len: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    if buf.len() < end + 4 + len {
                        continue;
                    }
                    let body = String::from_utf8_lossy(&buf[end + 4..end + 4 + len]).into_owned();
                    bodies.lock().unwrap().push(body);
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
// The run

async fn verify(target: &Target, client: &Client, ledger: &Mutex<Ledger>, counts: &Mutex<Counts>, all: bool) {
    let mut problems = Vec::new();
    let mut losses = 0;
    // Leftovers: the start-up sweep runs with grace 0; wait (bounded) for it.
    let mut left = Vec::new();
    for _ in 0..100 {
        left = target.orphans().await;
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
        let is_draft = ledger.lock().unwrap().drafts.contains(p);
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
    bodies: Arc<Mutex<Vec<String>>>,
) {
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let mut rng = StdRng::seed_from_u64(seed);
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    // The webhook, subscribed once (the first hub start).
    {
        let (proc, base) = target.start(0);
        let admin = Client {
            http: http.clone(),
            base: base.clone(),
            token: target.admin.clone(),
        };
        assert!(
            admin
                .post(
                    "/api/v1/webhooks",
                    serde_json::json!({"url": format!("http://127.0.0.1:{hook_port}/hook"), "events": ["program.published"]}),
                )
                .await,
            "subscribing the webhook"
        );
        drop(proc);
    }
    for point in 0..points {
        let (proc, base) = target.start(point + 1);
        let client = Arc::new(Client {
            http: http.clone(),
            base,
            token: target.token.clone(),
        });
        verify(target, &client, &ledger, &counts, false).await;
        let workers: Vec<_> = (0..3)
            .map(|i| tokio::spawn(work(client.clone(), ledger.clone(), counts.clone(), rng.next_u64() ^ i)))
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
        counts.lock().unwrap().points += 1;
        let c = counts.lock().unwrap();
        eprintln!(
            "{} point {}/{points}: killed after {delay:?}; so far {} files and {} tus chunks acknowledged, {} losses, {} orphans",
            target.name,
            point + 1,
            c.acked_files,
            c.acked_tus_chunks,
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
    // Publications made after the webhook subscription reach it, at least once.
    let published: Vec<String> = {
        let l = ledger.lock().unwrap();
        l.published.iter().chain(l.withdrawn.iter()).cloned().collect()
    };
    let started = Instant::now();
    let mut missing = published.clone();
    while !missing.is_empty() && started.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let got = bodies.lock().unwrap().join("\n");
        missing.retain(|p| !got.contains(p.as_str()));
    }
    let mut c = counts.lock().unwrap();
    for p in &missing {
        c.losses += 1;
        c.problems.push(format!(
            "{}: no webhook delivery for the publication of {p}",
            target.name
        ));
    }
    eprintln!(
        "{}: {} publications, {} delivered to the webhook",
        target.name,
        published.len(),
        published.len() - missing.len()
    );
    drop(proc);
}

/// A Garage of the bench's own (scripts/garage.sh, on ports of its own).
fn start_garage(dir: &Path) -> Result<pxhub::config::StorageSettings, String> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (s3, rpc, admin) = GARAGE_PORTS;
    let out = Command::new("bash")
        .args([
            "-c",
            "source scripts/garage.sh && garage_start >&2 && env | grep '^PXHUB_TEST_S3_'",
        ])
        .current_dir(manifest)
        .env("GARAGE_DIR", dir)
        .env("GARAGE_S3_PORT", s3.to_string())
        .env("GARAGE_RPC_PORT", rpc.to_string())
        .env("GARAGE_ADMIN_PORT", admin.to_string())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("bash: {e}"))?;
    if let Ok(pid) = std::fs::read_to_string(dir.join("pid")) {
        if let Ok(pid) = pid.trim().parse() {
            register(pid);
        }
    }
    if !out.status.success() {
        return Err(format!("scripts/garage.sh: garage_start failed ({})", out.status));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let var = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("PXHUB_TEST_S3_{name}=")))
            .map(str::to_owned)
            .ok_or_else(|| format!("garage_start did not export PXHUB_TEST_S3_{name}"))
    };
    Ok(pxhub::config::StorageSettings::S3(pxhub::media::S3Bucket {
        endpoint: var("ENDPOINT")?,
        bucket: var("BUCKET")?,
        region: var("REGION")?,
        access_key_id: var("ACCESS_KEY_ID")?,
        secret_access_key: pxhub::config::Secret::new(var("SECRET_ACCESS_KEY")?),
        prefix: "faults".into(),
    }))
}

fn main() {
    let o = opts();
    common::main_with("faults-bench", o.keep, |root, rt| {
        let counts = Arc::new(Mutex::new(Counts::default()));
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let hook_port = rt.block_on(receiver(bodies.clone()));
        let started = Instant::now();
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
            ));
            per_target.push(("local store", snapshot(&counts)));
        }
        if o.garage_points > 0 {
            match start_garage(&root.join("garage")) {
                Ok(storage) => {
                    let t = Target::new("garage", &root.join("hub-garage"), Some(storage));
                    rt.block_on(run_target(
                        &t,
                        o.garage_points,
                        o.seed.wrapping_add(1),
                        counts.clone(),
                        hook_port,
                        bodies.clone(),
                    ));
                    per_target.push(("Garage", snapshot(&counts)));
                }
                Err(e) => counts.lock().unwrap().problems.push(format!("Garage: {e}")),
            }
            if let Ok(pid) = std::fs::read_to_string(root.join("garage/pid")) {
                if let Ok(pid) = pid.trim().parse() {
                    stop_pid(pid);
                }
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
}

impl Snapshot {
    fn minus(&self, o: &Snapshot) -> Snapshot {
        Snapshot {
            points: self.points - o.points,
            losses: self.losses - o.losses,
            orphans: self.orphans - o.orphans,
            acked: self.acked - o.acked,
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
