//! Sustained mixed load: stations uploading, searching and downloading at
//! once for minutes, against one `pxhub serve` (release binary, local
//! store, data folder under `target/bench-soak/`). It reports per kind of
//! request how many were served, how many the server failed (5xx: must be
//! 0) and the p99 latency, against the same kind's p99 measured alone in the
//! same run (the ratio); and the server's resident memory before the load,
//! once warm, and at the end (the ratio end / warm: no growth beyond noise).
//!
//! ```text
//! cargo bench --bench soak -- [--secs 600] [--uploaders 30] [--searchers 100] [--downloaders 20] [--quick] [--keep]
//! ```
//!
//! - uploaders: one station each; a cycle creates a draft, stores a 1 MiB
//!   master (every fourth one by tus, POST then one PATCH, the others by a
//!   single PUT; bytes unique per upload, the SHA-256 the hub answers is
//!   checked), then publishes one draft in ten and deletes the others with
//!   their file (so the disk holds a tenth of what was sent, and the catalog
//!   grows by the published tenth only: memory that still grows is not the
//!   data's).
//! - searchers: one word of the catalog's titles per request
//!   (`GET /api/v1/programs?q=…`), over a catalog of `--programs` programs
//!   made before the load.
//! - downloaders: one station each; whole 2 MiB masters of 20 programs of
//!   another station, each hashed (byte-exact, or a problem); every download
//!   by a station that had not taken the program yet writes a take.
//! - "catalog": the small writes and reads around the uploads (create,
//!   publish, delete a draft, read a program back).
//!
//! Before the mixed load, each kind runs alone (`--alone-secs`, default 20;
//! same number of clients) for its baseline p99. Every client sends its next
//! request as soon as the last one is answered (no think time). `--quick`:
//! 2 minutes of mixed load, 5 s alone per kind, 300 programs: about 2.5
//! minutes in all.
//!
//! Memory is sampled every second, as VmRSS (all resident memory, with the
//! catalog's pages that SQLite reads through its memory map: the kernel's
//! page cache, growing with the data touched) and RssAnon (the memory the
//! server allocated itself, where a leak would show); it is reported warm
//! (a tenth of the way in), half-way and at the end: growth that levels off
//! shows as a second half that grows much less than the first.

#[path = "common/mod.rs"]
mod common;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{print_table, Hub, Row};
use futures_util::StreamExt;
use sha2::{Digest, Sha256};

struct Opts {
    secs: u64,
    alone_secs: u64,
    uploaders: usize,
    searchers: usize,
    downloaders: usize,
    programs: usize,
    keep: bool,
}

impl Opts {
    fn parse() -> Self {
        let mut o = Opts {
            secs: 600,
            alone_secs: 20,
            uploaders: 30,
            searchers: 100,
            downloaders: 20,
            programs: 2000,
            keep: false,
        };
        let (mut secs, mut alone, mut programs) = (None, None, None);
        let mut args = std::env::args().skip(1);
        while let Some(a) = args.next() {
            let mut value = |name: &str| args.next().unwrap_or_else(|| panic!("{name} needs a value"));
            match a.as_str() {
                "--secs" => secs = Some(value(&a).parse().expect("--secs N")),
                "--alone-secs" => alone = Some(value(&a).parse().expect("--alone-secs N")),
                "--uploaders" => o.uploaders = value(&a).parse().expect("--uploaders N"),
                "--searchers" => o.searchers = value(&a).parse().expect("--searchers N"),
                "--downloaders" => o.downloaders = value(&a).parse().expect("--downloaders N"),
                "--programs" => programs = Some(value(&a).parse().expect("--programs N")),
                "--quick" => {
                    o.secs = 120;
                    o.alone_secs = 5;
                    o.programs = 300;
                }
                "--keep" => o.keep = true,
                "--bench" => {}
                other => panic!("unknown argument {other}; see the top of benches/soak.rs"),
            }
        }
        o.secs = secs.unwrap_or(o.secs);
        o.alone_secs = alone.unwrap_or(o.alone_secs);
        o.programs = programs.unwrap_or(o.programs);
        o
    }
}

const UPLOAD_BYTES: usize = 1 << 20;
const DOWNLOAD_BYTES: usize = 2 << 20;
const DOWNLOAD_PROGRAMS: usize = 20;
const WORDS: &[&str] = &[
    "thời sự",
    "nông nghiệp",
    "văn hóa",
    "du lịch",
    "giáo dục",
    "sức khỏe",
    "lễ hội",
    "chè",
    "hát then",
];
const QUERIES: &[&str] = &[
    "thoi+su",
    "nong+nghiep",
    "van+hoa",
    "du+lich",
    "le+hoi",
    "che",
    "hat+then",
];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Upload,
    Search,
    Download,
    Catalog,
}

const KINDS: [Kind; 4] = [Kind::Upload, Kind::Search, Kind::Download, Kind::Catalog];

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Upload => "upload (1 MiB: PUT, or tus PATCH one in four)",
            Kind::Search => "search (GET /api/v1/programs?q=…)",
            Kind::Download => "download (2 MiB master, hashed)",
            Kind::Catalog => "catalog (create, publish, delete a draft, read back)",
        }
    }
}

/// What the clients saw, per kind: latencies of answered requests (ms),
/// 5xx answers, other failures (transport errors, unexpected answers).
#[derive(Default)]
struct Tally {
    ms: Vec<f32>,
    server_errors: u64,
    failures: Vec<String>,
}

struct Recorder {
    tallies: Mutex<Vec<Tally>>,
}

impl Recorder {
    fn new() -> Arc<Self> {
        Arc::new(Recorder {
            tallies: Mutex::new((0..KINDS.len()).map(|_| Tally::default()).collect()),
        })
    }

    fn index(kind: Kind) -> usize {
        KINDS.iter().position(|k| *k == kind).unwrap()
    }

    fn ok(&self, kind: Kind, started: Instant) {
        let ms = started.elapsed().as_secs_f32() * 1000.0;
        self.tallies.lock().unwrap()[Self::index(kind)].ms.push(ms);
    }

    /// Records an answer that was not the expected one.
    fn bad(&self, kind: Kind, status: Option<u16>, what: String) {
        let mut t = self.tallies.lock().unwrap();
        let t = &mut t[Self::index(kind)];
        if status.is_some_and(|s| s >= 500) {
            t.server_errors += 1;
        }
        if t.failures.len() < 20 {
            t.failures.push(what);
        }
    }

    fn take(&self) -> Vec<Tally> {
        std::mem::replace(
            &mut *self.tallies.lock().unwrap(),
            (0..KINDS.len()).map(|_| Tally::default()).collect(),
        )
    }
}

fn p99(ms: &[f32]) -> f64 {
    if ms.is_empty() {
        return f64::NAN;
    }
    let mut v = ms.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() as f64 * 0.99).ceil() as usize).clamp(1, v.len()) - 1] as f64
}

/// Resident memory of `pid`, in MiB: (VmRSS, RssAnon). VmRSS counts the
/// catalog's pages SQLite reads through its memory map (RssFile: the
/// kernel's page cache, given back under pressure) as well as the memory the
/// process allocated itself (RssAnon), which is where a leak would show.
fn rss_mib(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
            .map_or(f64::NAN, |kib| kib / 1024.0)
    };
    (field("VmRSS:"), field("RssAnon:"))
}

struct Station {
    id: String,
    token: String,
}

/// The shared state of the clients.
struct Ctx {
    base: String,
    client: reqwest::Client,
    rec: Arc<Recorder>,
    stop: AtomicBool,
    /// (program id, SHA-256 hex) of the download set.
    downloads: Vec<(String, String)>,
    /// A random buffer the uploads vary, so every upload is new bytes.
    noise: Vec<u8>,
}

impl Ctx {
    fn running(&self) -> bool {
        !self.stop.load(Ordering::Relaxed)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

fn main() {
    let opts = Opts::parse();
    common::main_with("bench-soak", opts.keep, |root, rt| bench(&opts, root, rt));
}

async fn json_of(r: reqwest::Response) -> (u16, serde_json::Value) {
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or_default())
}

/// Adds a station and returns its token (admin API).
async fn add_station(base: &str, client: &reqwest::Client, admin: &str, id: &str) -> Station {
    let r = client
        .post(format!("{base}/api/v1/stations"))
        .bearer_auth(admin)
        .json(&serde_json::json!({"id": id, "name": format!("Đài {id}"), "province": id, "kind": "provincial"}))
        .send()
        .await
        .expect("POST /api/v1/stations");
    assert_eq!(r.status().as_u16(), 201, "adding station {id}");
    let r = client
        .post(format!("{base}/api/v1/stations/{id}/tokens"))
        .bearer_auth(admin)
        .json(&serde_json::json!({"label": "soak"}))
        .send()
        .await
        .expect("POST tokens");
    let (status, json) = json_of(r).await;
    assert_eq!(status, 201, "a token for {id}: {json}");
    Station {
        id: id.to_owned(),
        token: json["token"].as_str().expect("a token").to_owned(),
    }
}

fn bench(opts: &Opts, root: &Path, rt: &tokio::runtime::Runtime) -> Vec<String> {
    let mut problems = Vec::new();
    let hub = Hub::start(&root.join("hub"));
    let pid = hub.proc.pid();
    let admin = common::run(common::pxhub(&hub.dir).args(["token", "issue", "--role", "admin", "--label", "soak"]))
        .trim()
        .to_owned();
    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(256)
        // Idle connections are dropped before the server's keep-alive (5 s)
        // closes them, so a request never races a closing connection (the
        // full run of 2026-11-30 lost one download of 12178 to that race).
        .pool_idle_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(60))
        .build()
        .expect("a client");

    // The catalog the searchers search, made by station `bench`.
    eprintln!("creating {} programs and the download set…", opts.programs);
    let t = Instant::now();
    rt.block_on(
        futures_util::stream::iter(0..opts.programs)
            .map(|i| {
                let (hub, client) = (&hub, &client);
                async move {
                    let w = |k: usize| WORDS[(i * 7 + k * 13) % WORDS.len()];
                    let id = hub
                        .new_program(client, &format!("{} {} số {i}", w(0), w(1)), &[w(2)])
                        .await;
                    hub.publish_small(client, &id).await;
                }
            })
            .buffer_unordered(8)
            .collect::<Vec<()>>(),
    );
    // The download set: 20 published programs of `bench` with 2 MiB masters.
    let mut noise = vec![0u8; DOWNLOAD_BYTES.max(UPLOAD_BYTES)];
    {
        use rand::{RngCore, SeedableRng};
        rand::rngs::StdRng::seed_from_u64(16).fill_bytes(&mut noise);
    }
    let downloads: Vec<(String, String)> = rt.block_on(async {
        let mut out = Vec::new();
        for i in 0..DOWNLOAD_PROGRAMS {
            let id = hub.new_program(&client, &format!("tải về {i}"), &[]).await;
            let mut body = noise[..DOWNLOAD_BYTES].to_vec();
            body[..8].copy_from_slice(&(i as u64).to_le_bytes());
            let sha = hex::encode(Sha256::digest(&body));
            let r = client
                .put(format!("{}?filename=t.mp4", hub.file_url(&id)))
                .header("Authorization", hub.auth())
                .header("Content-Type", "video/mp4")
                .body(body)
                .send()
                .await
                .expect("PUT");
            assert!(r.status().is_success(), "the download set: {}", r.status());
            hub.publish(&client, &id).await;
            out.push((id, sha));
        }
        out
    });
    let (uploaders, downloaders): (Vec<Station>, Vec<Station>) = rt.block_on(async {
        let mut up = Vec::new();
        for i in 0..opts.uploaders {
            up.push(add_station(&hub.base, &client, &admin, &format!("up-{i}")).await);
        }
        let mut down = Vec::new();
        for i in 0..opts.downloaders {
            down.push(add_station(&hub.base, &client, &admin, &format!("down-{i}")).await);
        }
        (up, down)
    });
    eprintln!("  {:.1} s", t.elapsed().as_secs_f64());

    let ctx = Arc::new(Ctx {
        base: hub.base.clone(),
        client,
        rec: Recorder::new(),
        stop: AtomicBool::new(false),
        downloads,
        noise,
    });
    let uploaders = Arc::new(uploaders);
    let downloaders = Arc::new(downloaders);
    // Searchers use the tokens of every station, in turn.
    let search_tokens: Arc<Vec<String>> = Arc::new(
        uploaders
            .iter()
            .chain(downloaders.iter())
            .map(|s| s.token.clone())
            .chain([hub.token.clone()])
            .collect(),
    );

    let run_phase = |label: &str, secs: u64, kinds: &[Kind]| -> Vec<Tally> {
        eprintln!("{label}: {secs} s");
        ctx.stop.store(false, Ordering::Relaxed);
        let _ = ctx.rec.take();
        rt.block_on(async {
            let mut tasks = Vec::new();
            if kinds.contains(&Kind::Upload) {
                for i in 0..uploaders.len() {
                    tasks.push(tokio::spawn(uploader(ctx.clone(), uploaders.clone(), i)));
                }
            }
            if kinds.contains(&Kind::Search) {
                for i in 0..opts.searchers {
                    tasks.push(tokio::spawn(searcher(ctx.clone(), search_tokens.clone(), i)));
                }
            }
            if kinds.contains(&Kind::Download) {
                for i in 0..downloaders.len() {
                    tasks.push(tokio::spawn(downloader(ctx.clone(), downloaders.clone(), i)));
                }
            }
            tokio::time::sleep(Duration::from_secs(secs)).await;
            ctx.stop.store(true, Ordering::Relaxed);
            for t in tasks {
                let _ = t.await;
            }
        });
        ctx.rec.take()
    };

    // Each kind alone (uploads bring their catalog writes along).
    let mut alone: Vec<Option<f64>> = vec![None; KINDS.len()];
    for (kinds, label) in [
        (&[Kind::Upload][..], "uploads alone"),
        (&[Kind::Search][..], "searches alone"),
        (&[Kind::Download][..], "downloads alone"),
    ] {
        let got = run_phase(label, opts.alone_secs, kinds);
        for (k, t) in KINDS.iter().zip(&got) {
            if !t.ms.is_empty() && (kinds.contains(k) || (*k == Kind::Catalog && kinds.contains(&Kind::Upload))) {
                alone[Recorder::index(*k)] = Some(p99(&t.ms));
            }
            for f in &t.failures {
                problems.push(format!("{label}: {f}"));
            }
        }
    }

    // The mixed load, with the server's memory sampled as it goes.
    let rss_before = rss_mib(pid);
    let samples = Arc::new(Mutex::new(Vec::<(f64, (f64, f64))>::new()));
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let (samples, sampling) = (samples.clone(), sampling.clone());
        std::thread::spawn(move || {
            let t0 = Instant::now();
            while sampling.load(Ordering::Relaxed) {
                samples.lock().unwrap().push((t0.elapsed().as_secs_f64(), rss_mib(pid)));
                std::thread::sleep(Duration::from_secs(1));
            }
        })
    };
    let mixed_started = Instant::now();
    let mixed = run_phase(
        &format!(
            "mixed: {} uploading, {} searching, {} downloading",
            opts.uploaders, opts.searchers, opts.downloaders
        ),
        opts.secs,
        &KINDS,
    );
    let mixed_secs = mixed_started.elapsed().as_secs_f64();
    sampling.store(false, Ordering::Relaxed);
    let _ = sampler.join();
    let rss_end = rss_mib(pid);
    let samples = samples.lock().unwrap().clone();
    // "Warm": the memory a tenth of the way in (at least 10 s), once every
    // pool and cache has been filled once.
    let warm_at = (opts.secs as f64 / 10.0).max(10.0).min(opts.secs as f64 / 2.0);
    let half_at = opts.secs as f64 / 2.0;
    let at = |when: f64| {
        samples
            .iter()
            .find(|(t, _)| *t >= when)
            .map_or((f64::NAN, f64::NAN), |(_, r)| *r)
    };
    let (rss_warm, anon_warm) = at(warm_at);
    let (rss_half, anon_half) = at(half_at);
    let (rss_end, anon_end) = rss_end;
    let rss_peak = samples.iter().map(|(_, r)| r.0).fold(0.0, f64::max);
    let mut rows = Vec::new();
    let mut total_server_errors = 0;
    for (k, t) in KINDS.iter().zip(&mixed) {
        total_server_errors += t.server_errors;
        for f in &t.failures {
            problems.push(format!("mixed load, {}: {f}", k.name()));
        }
        if t.ms.is_empty() {
            problems.push(format!("mixed load: no {} answered", k.name()));
            continue;
        }
        let p = p99(&t.ms);
        let base = alone[Recorder::index(*k)].unwrap_or(f64::NAN);
        rows.push(Row {
            scenario: format!(
                "S. {}: p99 under the mixed load (vs alone), {:.0} s",
                k.name(),
                mixed_secs
            ),
            hub: format!(
                "{p:.1} ms; {} served ({:.0}/s), {} 5xx",
                t.ms.len(),
                t.ms.len() as f64 / mixed_secs,
                t.server_errors
            ),
            baseline: format!("{base:.1} ms"),
            ratio: Some(p / base),
            target: "0 server errors".into(),
            result: if t.server_errors == 0 && t.failures.is_empty() {
                "PASS"
            } else {
                "MISS"
            }
            .into(),
        });
    }
    if total_server_errors > 0 {
        problems.push(format!(
            "{total_server_errors} server errors (5xx) under the mixed load"
        ));
    }
    let growth = rss_end / rss_warm;
    rows.push(Row {
        scenario: format!(
            "S. server resident memory (VmRSS, with the catalog's memory-mapped pages) at the end vs warm ({warm_at:.0} s in); before the load {:.1} MiB, peak {rss_peak:.1} MiB",
            rss_before.0
        ),
        hub: format!("{rss_end:.1} MiB"),
        baseline: format!("{rss_warm:.1} MiB"),
        ratio: Some(growth),
        target: "≤ 1.25".into(),
        result: if growth <= 1.25 { "PASS" } else { "MISS" }.into(),
    });
    let second_half = anon_end / anon_half;
    rows.push(Row {
        scenario: format!(
            "S. server's own memory (RssAnon), second half: at the end vs half-way ({half_at:.0} s in); before the load {:.1} MiB, warm {anon_warm:.1} MiB (first half {:.2}); VmRSS second half {:.2}",
            rss_before.1,
            anon_half / anon_warm,
            rss_end / rss_half
        ),
        hub: format!("{anon_end:.1} MiB"),
        baseline: format!("{anon_half:.1} MiB"),
        ratio: Some(second_half),
        target: "≤ 1.10".into(),
        result: if second_half <= 1.10 { "PASS" } else { "MISS" }.into(),
    });
    eprintln!(
        "memory samples (s: VmRSS/RssAnon MiB): {}",
        samples
            .iter()
            .step_by((samples.len() / 12).max(1))
            .map(|(t, (rss, anon))| format!("{t:.0}:{rss:.1}/{anon:.1}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    hub.print_log();
    print_table(
        &format!(
            "Sustained mixed load: {} stations uploading, {} searching, {} downloading at once for {} s on the local store; \
             baseline: each kind alone for {} s in the same run.",
            opts.uploaders, opts.searchers, opts.downloaders, opts.secs, opts.alone_secs
        ),
        &rows,
    );
    common::print_problems(&problems);
    problems
}

/// Creates a draft, stores a new 1 MiB master (PUT, or tus one in four),
/// then publishes one in ten and deletes the others (their file goes too).
async fn uploader(ctx: Arc<Ctx>, stations: Arc<Vec<Station>>, i: usize) {
    let station = &stations[i];
    let mut cycle: u64 = 0;
    while ctx.running() {
        cycle += 1;
        let rec = &ctx.rec;
        let auth = format!("Bearer {}", station.token);
        let t = Instant::now();
        let r = ctx
            .client
            .post(ctx.url("/api/v1/programs"))
            .header("Authorization", &auth)
            .json(&serde_json::json!({"title": format!("{} {cycle}", station.id), "kind": "radio", "genre": "news", "languages": ["vi"]}))
            .send()
            .await;
        let id = match r {
            Ok(r) if r.status().as_u16() == 201 => {
                let (_, json) = json_of(r).await;
                rec.ok(Kind::Catalog, t);
                json["id"].as_str().unwrap_or_default().to_owned()
            }
            Ok(r) => {
                rec.bad(
                    Kind::Catalog,
                    Some(r.status().as_u16()),
                    format!("create: {}", r.status()),
                );
                continue;
            }
            Err(e) => {
                rec.bad(Kind::Catalog, None, format!("create: {e}"));
                continue;
            }
        };
        let mut body = ctx.noise[..UPLOAD_BYTES].to_vec();
        body[..8].copy_from_slice(&cycle.to_le_bytes());
        body[8..16].copy_from_slice(&(i as u64).to_le_bytes());
        let sha = hex::encode(Sha256::digest(&body));
        let body = Bytes::from(body);
        let by_tus = cycle.is_multiple_of(4);
        let stored = if by_tus {
            tus_put(&ctx, &auth, &id, body).await
        } else {
            let t = Instant::now();
            match ctx
                .client
                .put(ctx.url(&format!("/api/v1/programs/{id}/files/master?filename=s.mp3")))
                .header("Authorization", &auth)
                .header("Content-Type", "audio/mpeg")
                .body(body)
                .send()
                .await
            {
                Ok(r) if r.status().as_u16() == 201 => {
                    let (_, json) = json_of(r).await;
                    rec.ok(Kind::Upload, t);
                    if json["sha256"] != sha.as_str() {
                        rec.bad(Kind::Upload, None, format!("PUT answered {json}, not SHA-256 {sha}"));
                    }
                    true
                }
                Ok(r) => {
                    rec.bad(Kind::Upload, Some(r.status().as_u16()), format!("PUT: {}", r.status()));
                    false
                }
                Err(e) => {
                    rec.bad(Kind::Upload, None, format!("PUT: {e}"));
                    false
                }
            }
        };
        if !stored {
            continue;
        }
        if by_tus {
            // Read it back: the file the tus upload became.
            let t = Instant::now();
            match ctx
                .client
                .get(ctx.url(&format!("/api/v1/programs/{id}")))
                .header("Authorization", &auth)
                .send()
                .await
            {
                Ok(r) if r.status().is_success() => {
                    let (_, json) = json_of(r).await;
                    rec.ok(Kind::Catalog, t);
                    if json["files"][0]["sha256"] != sha.as_str() {
                        rec.bad(Kind::Upload, None, format!("tus upload became {}", json["files"]));
                    }
                }
                Ok(r) => rec.bad(
                    Kind::Catalog,
                    Some(r.status().as_u16()),
                    format!("GET program: {}", r.status()),
                ),
                Err(e) => rec.bad(Kind::Catalog, None, format!("GET program: {e}")),
            }
        }
        let t = Instant::now();
        let (req, expect) = if cycle.is_multiple_of(10) {
            (ctx.client.post(ctx.url(&format!("/api/v1/programs/{id}/publish"))), 200)
        } else {
            (ctx.client.delete(ctx.url(&format!("/api/v1/programs/{id}"))), 204)
        };
        match req.header("Authorization", &auth).send().await {
            Ok(r) if r.status().as_u16() == expect => rec.ok(Kind::Catalog, t),
            Ok(r) => rec.bad(
                Kind::Catalog,
                Some(r.status().as_u16()),
                format!("publish/delete: {}", r.status()),
            ),
            Err(e) => rec.bad(Kind::Catalog, None, format!("publish/delete: {e}")),
        }
    }
}

/// A tus upload in one PATCH; records the POST as catalog, the PATCH as upload.
async fn tus_put(ctx: &Ctx, auth: &str, program: &str, body: Bytes) -> bool {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    let rec = &ctx.rec;
    let meta = format!(
        "program {},role {},filename {}",
        STANDARD.encode(program),
        STANDARD.encode("master"),
        STANDARD.encode("s.mp3")
    );
    let t = Instant::now();
    let location = match ctx
        .client
        .post(ctx.url("/api/v1/uploads"))
        .header("Authorization", auth)
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Length", body.len().to_string())
        .header("Upload-Metadata", meta)
        .send()
        .await
    {
        Ok(r) if r.status().as_u16() == 201 => {
            rec.ok(Kind::Catalog, t);
            r.headers()
                .get("location")
                .and_then(|l| l.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        }
        Ok(r) => {
            rec.bad(
                Kind::Catalog,
                Some(r.status().as_u16()),
                format!("tus POST: {}", r.status()),
            );
            return false;
        }
        Err(e) => {
            rec.bad(Kind::Catalog, None, format!("tus POST: {e}"));
            return false;
        }
    };
    let t = Instant::now();
    match ctx
        .client
        .patch(ctx.url(&location))
        .header("Authorization", auth)
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Offset", "0")
        .header("Content-Type", "application/offset+octet-stream")
        .body(body)
        .send()
        .await
    {
        Ok(r) if r.status().as_u16() == 204 => {
            rec.ok(Kind::Upload, t);
            true
        }
        Ok(r) => {
            rec.bad(
                Kind::Upload,
                Some(r.status().as_u16()),
                format!("tus PATCH: {}", r.status()),
            );
            false
        }
        Err(e) => {
            rec.bad(Kind::Upload, None, format!("tus PATCH: {e}"));
            false
        }
    }
}

async fn searcher(ctx: Arc<Ctx>, tokens: Arc<Vec<String>>, i: usize) {
    let token = &tokens[i % tokens.len()];
    let mut n = i;
    while ctx.running() {
        n += 1;
        let q = QUERIES[n % QUERIES.len()];
        let t = Instant::now();
        match ctx
            .client
            .get(ctx.url(&format!("/api/v1/programs?q={q}")))
            .bearer_auth(token)
            .send()
            .await
        {
            Ok(r) if r.status().as_u16() == 200 => {
                let (_, json) = json_of(r).await;
                ctx.rec.ok(Kind::Search, t);
                if json["items"].as_array().is_none_or(|a| a.is_empty()) {
                    ctx.rec.bad(Kind::Search, None, format!("search {q} found nothing"));
                }
            }
            Ok(r) => ctx.rec.bad(
                Kind::Search,
                Some(r.status().as_u16()),
                format!("search: {}", r.status()),
            ),
            Err(e) => ctx.rec.bad(Kind::Search, None, format!("search: {e}")),
        }
    }
}

async fn downloader(ctx: Arc<Ctx>, stations: Arc<Vec<Station>>, i: usize) {
    let token = &stations[i].token;
    let mut n = i;
    while ctx.running() {
        n += 7;
        let (id, sha) = &ctx.downloads[n % ctx.downloads.len()];
        let t = Instant::now();
        let r = ctx
            .client
            .get(ctx.url(&format!("/api/v1/programs/{id}/files/master")))
            .bearer_auth(token)
            .send()
            .await;
        match r {
            Ok(mut r) if r.status().as_u16() == 200 => {
                let mut hasher = Sha256::new();
                let mut broken = None;
                loop {
                    match r.chunk().await {
                        Ok(Some(c)) => hasher.update(&c),
                        Ok(None) => break,
                        Err(e) => {
                            broken = Some(e);
                            break;
                        }
                    }
                }
                match broken {
                    Some(e) => ctx.rec.bad(Kind::Download, None, format!("download cut: {e}")),
                    None if hex::encode(hasher.finalize()) != *sha => {
                        ctx.rec
                            .bad(Kind::Download, None, format!("download of {id} not byte-exact"))
                    }
                    None => ctx.rec.ok(Kind::Download, t),
                }
            }
            Ok(r) => ctx.rec.bad(
                Kind::Download,
                Some(r.status().as_u16()),
                format!("download: {}", r.status()),
            ),
            Err(e) => ctx.rec.bad(Kind::Download, None, format!("download: {e}")),
        }
    }
}
