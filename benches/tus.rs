//! Resumable upload (tus 1.0.0) benchmark, against baselines measured in the
//! same run on the same machine and disk.
//!
//! ```text
//! cargo bench --bench tus -- [--size-mib 1024] [--chunk-mib 8] [--poor-mib 128]
//!                            [--rate-mbs 16] [--cut-secs 2] [--reps 3]
//!                            [--quick] [--no-rustus] [--keep]
//! ```
//!
//! 1. Throughput of one tus upload (POST, then one PATCH per chunk,
//!    sequential, as tus clients do) to `pxhub serve` on the local store,
//!    against (a) rustus, a tus server in Rust (pinned by `scripts/bench.sh`,
//!    found on PATH or in the cargo root; file storage under this bench's
//!    folder on the same disk, no hooks, no auth), and (b) the hub's own
//!    single-request upload (`PUT /api/v1/programs/{id}/files/master`) of the
//!    same file. One client for all: reqwest, from this process. Runs are
//!    interleaved (order rotating), median of `--reps`. The hub's file is
//!    downloaded and compared by SHA-256 (byte-exact) after the first run of
//!    each kind.
//! 2. Poor link: the same tus upload (`--poor-mib`) through a TCP proxy in
//!    this process that forwards client→hub at `--rate-mbs` MB/s and resets
//!    every connection `--cut-secs` after it opened. The client resumes with
//!    HEAD + PATCH from the offset the hub reports. Figures: the bytes the
//!    proxy forwarded client→hub over the file size (target ≤ 1.05), and the
//!    file must arrive byte-exact.
//!
//! `--quick` (32 MiB, one run, 24 MiB poor link) checks everything in seconds.
//! `--no-rustus` skips the rustus baseline and says so in its row. The table
//! goes to stdout, progress to stderr; the store must hold no spool file and
//! no object once the files are deleted.

#[path = "common/mod.rs"]
mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use bytes::Bytes;
use common::link::start_link;
use common::{free_port, generate, mb_per_s, median, print_table, sync, warm, Hub, Proc, Row, MIB};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

/// Pinned by scripts/bench.sh (`cargo install rustus --version … --locked`).
const RUSTUS_VERSION: &str = "0.5.10";

struct Opts {
    size: u64,
    chunk: u64,
    poor: u64,
    rate: f64,
    cut: Duration,
    reps: usize,
    rustus: bool,
    keep: bool,
    quick: bool,
}

impl Opts {
    fn parse() -> Self {
        let mut o = Opts {
            size: 1024 * MIB,
            chunk: 8 * MIB,
            poor: 128 * MIB,
            rate: 16.0,
            cut: Duration::from_secs(2),
            reps: 3,
            rustus: true,
            keep: false,
            quick: false,
        };
        let (mut size, mut poor, mut reps, mut cut) = (None, None, None, None);
        let mut args = std::env::args().skip(1);
        while let Some(a) = args.next() {
            let mut value = |name: &str| args.next().unwrap_or_else(|| panic!("{name} needs a value"));
            match a.as_str() {
                "--size-mib" => size = Some(value(&a).parse::<u64>().expect("--size-mib N") * MIB),
                "--chunk-mib" => o.chunk = value(&a).parse::<u64>().expect("--chunk-mib N") * MIB,
                "--poor-mib" => poor = Some(value(&a).parse::<u64>().expect("--poor-mib N") * MIB),
                "--rate-mbs" => o.rate = value(&a).parse().expect("--rate-mbs X"),
                "--cut-secs" => cut = Some(Duration::from_secs_f64(value(&a).parse().expect("--cut-secs X"))),
                "--reps" => reps = Some(value(&a).parse::<usize>().expect("--reps N").max(1)),
                "--quick" => o.quick = true,
                "--no-rustus" => o.rustus = false,
                "--keep" => o.keep = true,
                "--bench" => {}
                other => panic!("unknown argument {other}; see the top of benches/tus.rs"),
            }
        }
        if o.quick {
            o.size = 32 * MIB;
            o.poor = 24 * MIB;
            o.reps = 1;
            o.cut = Duration::from_millis(600);
        }
        o.size = size.unwrap_or(o.size);
        o.poor = poor.unwrap_or(o.poor);
        o.reps = reps.unwrap_or(o.reps);
        o.cut = cut.unwrap_or(o.cut);
        assert!(o.chunk > 0 && o.size > 0 && o.poor > 0, "sizes must be positive");
        o
    }
}

// ---------------------------------------------------------------------------
// A tus client: the same code against the hub and rustus

#[derive(Clone)]
struct TusServer {
    /// The creation URL.
    endpoint: reqwest::Url,
    auth: Option<String>,
    /// `Upload-Metadata`.
    metadata: String,
}

#[derive(Default, Debug)]
struct Resumes {
    /// Requests that failed on the link (the connection was cut).
    broken: u64,
    /// Answers other than success while resuming (409 offset, 423 locked, …).
    refused: Vec<u16>,
}

impl TusServer {
    fn req(&self, client: &reqwest::Client, method: reqwest::Method, url: reqwest::Url) -> reqwest::RequestBuilder {
        let mut r = client.request(method, url).header("Tus-Resumable", "1.0.0");
        if let Some(a) = &self.auth {
            r = r.header("Authorization", a);
        }
        r
    }

    async fn create(&self, client: &reqwest::Client, length: u64) -> Result<reqwest::Url, String> {
        let r = self
            .req(client, reqwest::Method::POST, self.endpoint.clone())
            .header("Upload-Length", length.to_string())
            .header("Upload-Metadata", &self.metadata)
            .send()
            .await
            .map_err(|e| format!("POST: {e}"))?;
        if r.status().as_u16() != 201 {
            let status = r.status();
            return Err(format!(
                "POST answered {status}: {}",
                r.text().await.unwrap_or_default()
            ));
        }
        let location = r
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .ok_or("no Location")?;
        self.endpoint
            .join(location)
            .map_err(|e| format!("Location {location}: {e}"))
    }

    async fn offset(&self, client: &reqwest::Client, url: &reqwest::Url) -> Result<u64, String> {
        let r = self
            .req(client, reqwest::Method::HEAD, url.clone())
            .send()
            .await
            .map_err(|e| format!("HEAD: {e}"))?;
        if !r.status().is_success() {
            return Err(format!("HEAD answered {}", r.status()));
        }
        header_u64(&r, "upload-offset").ok_or_else(|| "HEAD: no Upload-Offset".into())
    }

    /// One PATCH; Ok(new offset), or Err(status if the server answered).
    async fn patch(
        &self,
        client: &reqwest::Client,
        url: &reqwest::Url,
        offset: u64,
        body: Bytes,
    ) -> Result<u64, Option<u16>> {
        let r = self
            .req(client, reqwest::Method::PATCH, url.clone())
            .header("Upload-Offset", offset.to_string())
            .header("Content-Type", "application/offset+octet-stream")
            .body(body)
            .send()
            .await
            .map_err(|_| None)?;
        let status = r.status().as_u16();
        if status != 204 && status != 200 {
            return Err(Some(status));
        }
        header_u64(&r, "upload-offset").ok_or(Some(status))
    }

    /// Uploads `file` in `chunk`s, resuming from the offset the server
    /// reports after any failure; returns how often it had to.
    async fn upload(&self, client: &reqwest::Client, file: &Path, chunk: u64) -> Result<Resumes, String> {
        let mut f = tokio::fs::File::open(file).await.map_err(|e| e.to_string())?;
        let size = f.metadata().await.map_err(|e| e.to_string())?.len();
        let mut resumes = Resumes::default();
        let url = loop {
            match self.create(client, size).await {
                Ok(u) => break u,
                // A creation cut on the link is retried (it may leave an
                // empty upload behind, as with any tus client).
                Err(e) if e.starts_with("POST: ") && resumes.broken < 100 => {
                    resumes.broken += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => return Err(e),
            }
        };
        let mut offset = 0u64;
        let mut pos = 0u64;
        let mut buf = vec![0u8; chunk as usize];
        while offset < size {
            let n = chunk.min(size - offset) as usize;
            if pos != offset {
                f.seek(std::io::SeekFrom::Start(offset))
                    .await
                    .map_err(|e| e.to_string())?;
            }
            f.read_exact(&mut buf[..n]).await.map_err(|e| e.to_string())?;
            pos = offset + n as u64;
            match self
                .patch(client, &url, offset, Bytes::copy_from_slice(&buf[..n]))
                .await
            {
                Ok(o) if o == offset + n as u64 => offset = o,
                Ok(o) => return Err(format!("PATCH at {offset} of {n} bytes answered offset {o}")),
                Err(status) => {
                    match status {
                        None => resumes.broken += 1,
                        Some(s) => resumes.refused.push(s),
                    }
                    if resumes.broken + resumes.refused.len() as u64 > 1000 {
                        return Err(format!("gave up after {resumes:?}"));
                    }
                    // As tus clients do: wait, ask where the upload stands, go on from there.
                    loop {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        match self.offset(client, &url).await {
                            Ok(o) => {
                                offset = o;
                                break;
                            }
                            Err(e) if e.starts_with("HEAD: ") => resumes.broken += 1,
                            Err(e) => return Err(e),
                        }
                    }
                }
            }
        }
        Ok(resumes)
    }
}

fn header_u64(r: &reqwest::Response, name: &str) -> Option<u64> {
    r.headers().get(name)?.to_str().ok()?.parse().ok()
}

fn b64(s: &str) -> String {
    STANDARD.encode(s)
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .tcp_nodelay(true)
        .build()
        .expect("an HTTP client")
}

// ---------------------------------------------------------------------------
// rustus

fn rustus_bin() -> Option<PathBuf> {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))?;
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path)
        .map(|p| p.join("rustus"))
        .chain([cargo_home.join("bin/rustus")])
        .find(|p| p.is_file());
    found
}

struct Rustus {
    _proc: Proc,
    endpoint: reqwest::Url,
    data: PathBuf,
}

impl Rustus {
    /// `fsync`: rustus's `--force-fsync` (off by default), as the hub does
    /// after each PATCH.
    fn start(dir: &Path, max_body: u64, fsync: bool) -> Result<Self, String> {
        let bin = rustus_bin().ok_or("rustus is not installed (scripts/bench.sh installs it)")?;
        let version = common::run(Command::new(&bin).arg("--version"));
        if !version.contains(RUSTUS_VERSION) {
            return Err(format!("rustus {RUSTUS_VERSION} expected, found {}", version.trim()));
        }
        let data = dir.join("data");
        std::fs::create_dir_all(&data).map_err(|e| e.to_string())?;
        let port = free_port();
        let log = dir.join("rustus.log");
        let mut cmd = Command::new(&bin);
        // File storage and file info storage on this disk, the default URL
        // prefix /files, no auth. Hooks cannot be switched off, but with no
        // notifier configured (no hooks file, folder or URL) they do nothing;
        // only one is left enabled. Its body limit (256 KiB by default) must
        // hold a chunk: rustus reads each PATCH body whole before writing it.
        cmd.args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .arg("--data-dir")
            .arg(&data)
            .arg("--info-dir")
            .arg(&data)
            .args(["--storage", "file-storage", "--info-storage", "file-info-storage"])
            .args(["--max-body-size", &max_body.to_string()])
            .args(["--hooks", "post-terminate"])
            .args(["--force-fsync", if fsync { "true" } else { "false" }])
            .args(["--log-level", "WARN"])
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).map_err(|e| e.to_string())?)
            .stderr(
                std::fs::File::options()
                    .append(true)
                    .open(&log)
                    .map_err(|e| e.to_string())?,
            );
        let mut proc = Proc::spawn("rustus", &mut cmd);
        let base = format!("http://127.0.0.1:{port}");
        // rustus answers OPTIONS on its endpoint once up.
        for _ in 0..200 {
            proc.check_running(&log);
            let ok = Command::new("curl")
                .args(["-s", "-o", "/dev/null", "-X", "OPTIONS", "-w", "%{http_code}"])
                .arg(format!("{base}/files/"))
                .output()
                .is_ok_and(|o| o.stdout.starts_with(b"2"));
            if ok {
                return Ok(Rustus {
                    _proc: proc,
                    endpoint: format!("{base}/files/").parse().expect("a URL"),
                    data,
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err("rustus did not answer".into())
    }

    /// Empties its storage between runs.
    fn clear(&self) {
        if let Ok(entries) = std::fs::read_dir(&self.data) {
            for e in entries.flatten() {
                let p = e.path();
                let _ = if p.is_dir() {
                    std::fs::remove_dir_all(&p)
                } else {
                    std::fs::remove_file(&p)
                };
            }
        }
    }

    /// Bytes of the files in its storage (the uploaded file and its info).
    fn stored_bytes(&self) -> u64 {
        fn walk(p: &Path) -> u64 {
            std::fs::read_dir(p)
                .map(|d| {
                    d.flatten()
                        .map(|e| {
                            let m = e.metadata().map(|m| (m.is_dir(), m.len())).unwrap_or((false, 0));
                            if m.0 {
                                walk(&e.path())
                            } else {
                                m.1
                            }
                        })
                        .sum()
                })
                .unwrap_or(0)
        }
        walk(&self.data)
    }
}

// ---------------------------------------------------------------------------

fn main() {
    let opts = Opts::parse();
    common::main_with("bench-tus", opts.keep, |root, rt| bench(&opts, root, rt));
}

/// Runs the scenarios; returns the correctness problems seen.
fn bench(opts: &Opts, root: &Path, rt: &tokio::runtime::Runtime) -> Vec<String> {
    let mut problems = Vec::new();
    let mut rows = Vec::new();
    let mib = |b: u64| b / MIB;
    let client = client();

    eprintln!("generating sources…");
    std::fs::create_dir_all(root.join("src")).expect("src folder");
    let src = root.join("src/tus.bin");
    let sha = generate(&src, opts.size, 11);
    let poor_src = root.join("src/poor.bin");
    let poor_sha = generate(&poor_src, opts.poor, 12);

    let hub = Hub::start(&root.join("hub"));
    let hub_tus = |program: &str| TusServer {
        endpoint: format!("{}/api/v1/uploads", hub.base).parse().expect("a URL"),
        auth: Some(hub.auth()),
        metadata: format!(
            "program {},role {},filename {}",
            b64(program),
            b64("master"),
            b64("Thời sự tối.mp4")
        ),
    };
    let start_rustus = |name: &str, fsync: bool, problems: &mut Vec<String>| {
        if !opts.rustus {
            return None;
        }
        match Rustus::start(&root.join(name), opts.chunk + MIB, fsync) {
            Ok(r) => Some(r),
            Err(e) => {
                problems.push(format!("{name}: {e}"));
                None
            }
        }
    };
    let rustus = start_rustus("rustus", false, &mut problems);
    let rustus_fsync = start_rustus("rustus-fsync", true, &mut problems);

    // ---- 1. throughput
    eprintln!(
        "1. tus upload of {} MiB in {} MiB chunks: hub vs rustus vs hub single PUT",
        mib(opts.size),
        mib(opts.chunk)
    );
    warm(&src);
    let check = |what: &str, program: &str, problems: &mut Vec<String>| {
        let (n, got) = rt.block_on(hub.master_digest(&client, program));
        if n != opts.size || got != sha {
            problems.push(format!(
                "{what}: the stored file is not byte-exact ({n} bytes, SHA-256 {got}; sent {} bytes, {sha})",
                opts.size
            ));
        } else {
            eprintln!("  {what}: stored file byte-exact (SHA-256 {}…)", &got[..16]);
        }
    };
    let (mut t_hub, mut t_rustus, mut t_fsync, mut t_put) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for rep in 0..opts.reps {
        // Rotate the order, so no contender always goes first.
        for k in 0..4 {
            match (rep + k) % 4 {
                0 => {
                    let program = rt.block_on(hub.new_program(&client, "tus", &[]));
                    let server = hub_tus(&program);
                    sync();
                    let started = Instant::now();
                    let r = rt.block_on(server.upload(&client, &src, opts.chunk));
                    let mbs = mb_per_s(opts.size, started.elapsed());
                    match r {
                        Ok(_) => t_hub.push(mbs),
                        Err(e) => problems.push(format!("hub tus upload: {e}")),
                    }
                    if rep == 0 {
                        check("hub tus", &program, &mut problems);
                    }
                    rt.block_on(hub.delete_master(&client, &program));
                }
                k @ (1 | 2) => {
                    let (Some(rustus), times) = (if k == 1 {
                        (&rustus, &mut t_rustus)
                    } else {
                        (&rustus_fsync, &mut t_fsync)
                    }) else {
                        continue;
                    };
                    let server = TusServer {
                        endpoint: rustus.endpoint.clone(),
                        auth: None,
                        metadata: format!("filename {}", b64("Thời sự tối.mp4")),
                    };
                    sync();
                    let started = Instant::now();
                    let r = rt.block_on(server.upload(&client, &src, opts.chunk));
                    let mbs = mb_per_s(opts.size, started.elapsed());
                    match r {
                        Ok(_) => times.push(mbs),
                        Err(e) => problems.push(format!("rustus upload: {e}")),
                    }
                    let stored = rustus.stored_bytes();
                    if stored < opts.size {
                        problems.push(format!("rustus stored {stored} bytes of {}", opts.size));
                    }
                    rustus.clear();
                }
                _ => {
                    let program = rt.block_on(hub.new_program(&client, "put", &[]));
                    sync();
                    let started = Instant::now();
                    let r = rt.block_on(put(&client, &hub, &program, &src, opts.size));
                    let mbs = mb_per_s(opts.size, started.elapsed());
                    match r {
                        Ok(digest) if digest == sha => t_put.push(mbs),
                        Ok(digest) => problems.push(format!("hub PUT: the hub computed {digest}, sent {sha}")),
                        Err(e) => problems.push(format!("hub PUT: {e}")),
                    }
                    if rep == 0 {
                        check("hub PUT", &program, &mut problems);
                    }
                    rt.block_on(hub.delete_master(&client, &program));
                }
            }
        }
        let last = |v: &Vec<f64>| v.last().map_or("–".to_owned(), |x| format!("{x:.0} MB/s"));
        eprintln!(
            "  rep {}: hub tus {}, rustus {}, rustus --force-fsync {}, hub PUT {}",
            rep + 1,
            last(&t_hub),
            last(&t_rustus),
            last(&t_fsync),
            last(&t_put)
        );
    }
    let size_label = format!("{} MiB in {} MiB chunks", mib(opts.size), mib(opts.chunk));
    if !t_hub.is_empty() {
        let h = median(t_hub.clone());
        for (n, label, times) in [
            (
                "1a",
                format!("rustus {RUSTUS_VERSION}, file storage, same disk"),
                &t_rustus,
            ),
            (
                "1c",
                format!("rustus {RUSTUS_VERSION} with --force-fsync, as the hub syncs each PATCH"),
                &t_fsync,
            ),
        ] {
            let scenario = format!("{n}. tus upload {size_label}, local store (vs {label})");
            if times.is_empty() {
                rows.push(Row {
                    scenario,
                    hub: format!("{h:.0} MB/s"),
                    baseline: "–".into(),
                    ratio: None,
                    target: "≥ 1.00".into(),
                    result: if opts.rustus {
                        "SKIPPED (rustus did not run)".into()
                    } else {
                        "SKIPPED (--no-rustus)".into()
                    },
                });
            } else {
                let b = median(times.clone());
                rows.push(Row::throughput(scenario, h, b, 1.0));
            }
        }
        if !t_put.is_empty() {
            let b = median(t_put);
            rows.push(Row::throughput(
                format!("1b. tus upload {size_label}, local store (vs the hub's single-request PUT)"),
                h,
                b,
                0.8,
            ));
        }
    }
    drop(rustus);
    drop(rustus_fsync);

    // ---- 2. poor link
    eprintln!(
        "2. tus upload of {} MiB through a link of {} MB/s reset every {:.1} s",
        mib(opts.poor),
        opts.rate,
        opts.cut.as_secs_f64()
    );
    let upstream: SocketAddr = hub.base.trim_start_matches("http://").parse().expect("hub address");
    let link = rt.block_on(start_link(upstream, opts.rate * 1e6, opts.cut));
    let program = rt.block_on(hub.new_program(&client, "poor link", &[]));
    let mut server = hub_tus(&program);
    server.endpoint = format!("http://{}/api/v1/uploads", link.addr).parse().expect("a URL");
    let started = Instant::now();
    let result = rt.block_on(server.upload(&client, &poor_src, opts.chunk));
    let secs = started.elapsed().as_secs_f64();
    let forwarded = link.forwarded.load(Ordering::Relaxed);
    match result {
        Err(e) => problems.push(format!("poor link upload: {e}")),
        Ok(resumes) => {
            let (n, got) = rt.block_on(hub.master_digest(&client, &program));
            let exact = n == opts.poor && got == poor_sha;
            if !exact {
                problems.push(format!(
                    "poor link: the stored file is not byte-exact ({n} bytes, {got}; sent {} bytes, {poor_sha})",
                    opts.poor
                ));
            }
            eprintln!(
                "  {:.1} s; {} connections, {} reset by the link; {} requests broken, answers while resuming: {:?}; {} bytes forwarded; byte-exact: {exact}",
                secs,
                link.connections.load(Ordering::Relaxed),
                link.cuts.load(Ordering::Relaxed),
                resumes.broken,
                resumes.refused,
                forwarded
            );
            if link.cuts.load(Ordering::Relaxed) == 0 {
                problems.push("poor link: the link never reset a connection (upload too small for --cut-secs)".into());
            }
            let ratio = forwarded as f64 / opts.poor as f64;
            rows.push(Row {
                scenario: format!(
                    "2. tus upload {} MiB over a {} MB/s link reset every {:.1} s ({} resets, {} resumes): bytes forwarded client→hub (vs file size)",
                    mib(opts.poor),
                    opts.rate,
                    opts.cut.as_secs_f64(),
                    link.cuts.load(Ordering::Relaxed),
                    resumes.broken + resumes.refused.len() as u64
                ),
                hub: format!("{:.1} MiB", forwarded as f64 / MIB as f64),
                baseline: format!("{:.1} MiB", opts.poor as f64 / MIB as f64),
                ratio: Some(ratio),
                target: "≤ 1.05, byte-exact".into(),
                result: if ratio <= 1.05 && exact { "PASS" } else { "MISS" }.into(),
            });
        }
    }
    rt.block_on(hub.delete_master(&client, &program));

    // Leaks: every file was deleted, every upload finished.
    std::thread::sleep(Duration::from_millis(200));
    let (blobs, spool) = (hub.media_entries("blobs"), hub.media_entries("uploads"));
    if blobs != 0 || spool != 0 {
        problems.push(format!(
            "local store: {blobs} object(s) and {spool} spool file(s) left after every file was deleted"
        ));
    }
    hub.print_log();

    print_table(
        &format!(
            "Resumable uploads (tus): median of {} run(s), contenders interleaved; MB/s = 10^6 bytes/s; client: reqwest, sequential PATCH per chunk.",
            opts.reps
        ),
        &rows,
    );
    common::print_problems(&problems);
    problems
}

/// The hub's single-request upload, streamed from the file; returns the
/// SHA-256 the hub reports.
async fn put(client: &reqwest::Client, hub: &Hub, program: &str, file: &Path, size: u64) -> Result<String, String> {
    let f = tokio::fs::File::open(file).await.map_err(|e| e.to_string())?;
    let body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::with_capacity(f, 1 << 20));
    let r = client
        .put(format!("{}?filename=bench.mp4", hub.file_url(program)))
        .header("Authorization", hub.auth())
        .header("Content-Type", "video/mp4")
        .header("Content-Length", size.to_string())
        .body(body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = r.status().as_u16();
    let json: serde_json::Value = r.json().await.map_err(|e| e.to_string())?;
    if status != 201 && status != 200 {
        return Err(format!("PUT answered {status}: {json}"));
    }
    if json["size"].as_u64() != Some(size) {
        return Err(format!("PUT stored {:?} bytes of {size}", json["size"]));
    }
    Ok(json["sha256"].as_str().unwrap_or_default().to_owned())
}
