//! What the benches share: processes stopped on the way out, a `pxhub serve`
//! bootstrapped with the CLI, a Garage (S3 store) of the bench's own, sources
//! and timing helpers, the realistic catalog of the search and web benches
//! (`catalog`), and the result table
//! (with its correctness problems) each of them prints, parsed by
//! `scripts/bench.sh`. The search bench prints a table of its own
//! (latencies, not ratios of throughput).
#![allow(dead_code)]

pub mod catalog;
pub mod link;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use sha2::{Digest, Sha256};

pub const MIB: u64 = 1024 * 1024;

// ---------------------------------------------------------------------------
// Processes: every one started is registered, and stopped on the way out.

static PIDS: Mutex<Vec<u32>> = Mutex::new(Vec::new());

pub fn register(pid: u32) {
    PIDS.lock().unwrap_or_else(|e| e.into_inner()).push(pid);
}

fn alive(pid: u32) -> bool {
    // A zombie (exited, not yet reaped) counts as gone.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| !s.rsplit(')').next().unwrap_or("").trim_start().starts_with('Z'))
        .unwrap_or(false)
}

/// SIGTERM, up to 10 s of grace, then SIGKILL.
pub fn stop_pid(pid: u32) {
    let name = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    PIDS.lock().unwrap_or_else(|e| e.into_inner()).retain(|p| *p != pid);
    if !alive(pid) {
        return;
    }
    let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status();
    for _ in 0..100 {
        if !alive(pid) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!(
        "process {pid} ({}) still running 10 s after SIGTERM; killing it",
        name.trim()
    );
    let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
}

pub fn stop_all_registered() {
    let pids = PIDS.lock().unwrap_or_else(|e| e.into_inner()).clone();
    for pid in pids {
        stop_pid(pid);
    }
}

/// A child process, stopped on drop.
pub struct Proc {
    pub name: String,
    pub child: Child,
}

impl Proc {
    pub fn spawn(name: &str, cmd: &mut Command) -> Self {
        let child = cmd.spawn().unwrap_or_else(|e| panic!("starting {name} ({cmd:?}): {e}"));
        register(child.id());
        Proc {
            name: name.into(),
            child,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn check_running(&mut self, log: &Path) {
        if let Ok(Some(status)) = self.child.try_wait() {
            let log = std::fs::read_to_string(log).unwrap_or_default();
            panic!("{} exited early ({status}); its log:\n{log}", self.name);
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        stop_pid(self.child.id());
        let _ = self.child.wait();
    }
}

/// Runs `body` with a clean folder `target/<name>` and a runtime; stops every
/// process started, also on a panic or Ctrl-C, removes the folder unless
/// `keep`, and exits 1 if `body` reported problems (101 on a panic).
pub fn main_with(name: &str, keep: bool, body: impl FnOnce(&Path, &tokio::runtime::Runtime) -> Vec<String>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("target").join(name);
    if root.exists() {
        std::fs::remove_dir_all(&root).unwrap_or_else(|e| panic!("clearing {}: {e}", root.display()));
    }
    std::fs::create_dir_all(&root).expect("bench folder");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    rt.spawn(async {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("interrupted: stopping what the bench started");
            stop_all_registered();
            std::process::exit(130);
        }
    });
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| body(&root, &rt)));
    stop_all_registered();
    if keep {
        eprintln!("kept {}", root.display());
    } else if let Err(e) = std::fs::remove_dir_all(&root) {
        eprintln!("could not remove {}: {e}", root.display());
    }
    match result {
        Ok(problems) if problems.is_empty() => {}
        Ok(problems) => {
            for p in &problems {
                eprintln!("PROBLEM: {p}");
            }
            std::process::exit(1);
        }
        Err(_) => std::process::exit(101),
    }
}

// ---------------------------------------------------------------------------
// Helpers

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

pub fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    if !out.status.success() {
        panic!(
            "{cmd:?} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// Flushes dirty pages left by the previous step, so it is not billed to the next.
pub fn sync() {
    run(&mut Command::new("sync"));
}

/// Reads `path` once, so it is in the page cache.
pub fn warm(path: &Path) {
    let mut f = std::fs::File::open(path).expect("open to warm");
    let mut buf = vec![0u8; 8 << 20];
    while f.read(&mut buf).expect("read to warm") > 0 {}
}

/// Bytes of `path` in the page cache (`mincore`), or `None` if that cannot be told.
pub fn resident(path: &Path) -> Option<u64> {
    let file = std::fs::File::open(path).ok()?;
    let len = file.metadata().ok()?.len() as usize;
    if len == 0 {
        return Some(0);
    }
    // SAFETY: a read-only shared mapping of a file we opened, only passed to
    // mincore (which reads no page) and unmapped before returning.
    unsafe {
        use std::os::fd::AsRawFd;
        let addr = libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ,
            libc::MAP_SHARED,
            file.as_raw_fd(),
            0,
        );
        if addr == libc::MAP_FAILED {
            return None;
        }
        let page = libc::sysconf(libc::_SC_PAGESIZE) as usize;
        let mut vec = vec![0u8; len.div_ceil(page)];
        let ok = libc::mincore(addr, len, vec.as_mut_ptr()) == 0;
        libc::munmap(addr, len);
        ok.then(|| (vec.iter().filter(|v| *v & 1 == 1).count() * page).min(len) as u64)
    }
}

/// Random bytes in `path`; returns their SHA-256 (hex).
pub fn generate(path: &Path, size: u64, seed: u64) -> String {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut out = std::io::BufWriter::with_capacity(8 << 20, std::fs::File::create(path).expect("create source"));
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 8 << 20];
    let mut left = size;
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        rng.fill_bytes(&mut buf[..n]);
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n]).expect("write source");
        left -= n as u64;
    }
    out.flush().expect("flush source");
    hex::encode(hasher.finalize())
}

pub fn mb_per_s(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / 1e6 / d.as_secs_f64()
}

pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

// ---------------------------------------------------------------------------
// The hub: a `pxhub serve` process on the local store

pub struct Hub {
    pub proc: Proc,
    pub base: String,
    pub token: String,
    pub dir: PathBuf,
    pub log: PathBuf,
}

pub fn pxhub(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pxhub"));
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("PXHUB_") {
            cmd.env_remove(k);
        }
    }
    cmd.arg("--data-dir").arg(dir);
    cmd
}

impl Hub {
    /// Station `bench` and its token, then `pxhub serve` on a free port.
    pub fn start(dir: &Path) -> Self {
        Self::start_with(dir, &[])
    }

    /// The same, with these environment variables for the server.
    pub fn start_with(dir: &Path, env: &[(&str, String)]) -> Self {
        std::fs::create_dir_all(dir).expect("hub folder");
        run(pxhub(dir)
            .args([
                "station",
                "add",
                "--id",
                "bench",
                "--name",
                "Bench",
                "--province",
                "Hà Nội",
            ])
            .stderr(Stdio::null()));
        let token = issue_token(dir, "bench");
        Self::serve(dir, token, env)
    }

    /// `pxhub serve` on a free port over the data in `dir` (which has a
    /// station of `token`), with these environment variables.
    pub fn serve(dir: &Path, token: String, env: &[(&str, String)]) -> Self {
        let port = free_port();
        let log = dir.join("server.log");
        let mut cmd = pxhub(dir);
        cmd.args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--log", "warn"])
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).expect("server log"))
            .stderr(std::fs::File::options().append(true).open(&log).expect("server log"))
            // The benches store made-up bytes: no analysis unless one asks.
            .env("PXHUB_ANALYSIS_WORKERS", "0");
        cmd.envs(env.iter().map(|(k, v)| (*k, v)));
        let mut hub = Hub {
            proc: Proc::spawn("pxhub serve", &mut cmd),
            base: format!("http://127.0.0.1:{port}"),
            token,
            dir: dir.to_owned(),
            log,
        };
        wait_http(&mut hub.proc, &hub.log, &format!("{}/readyz", hub.base));
        hub
    }

    pub fn auth(&self) -> String {
        format!("Bearer {}", self.token)
    }

    /// A draft program of station `bench`; returns its id.
    pub async fn new_program(&self, client: &reqwest::Client, title: &str, tags: &[&str]) -> String {
        let body =
            serde_json::json!({"title": title, "kind": "tv", "genre": "news", "languages": ["vi"], "tags": tags});
        let r = client
            .post(format!("{}/api/v1/programs", self.base))
            .header("Authorization", self.auth())
            .json(&body)
            .send()
            .await
            .expect("POST /api/v1/programs");
        let status = r.status();
        let json: serde_json::Value = r.json().await.expect("a JSON answer");
        assert_eq!(status.as_u16(), 201, "creating a program: {json}");
        json["id"].as_str().expect("an id").to_owned()
    }

    /// Gives the program a tiny master file and publishes it.
    pub async fn publish_small(&self, client: &reqwest::Client, program: &str) {
        let r = client
            .put(format!("{}?filename=p.mp3", self.file_url(program)))
            .header("Authorization", self.auth())
            .header("Content-Type", "audio/mpeg")
            .body(format!("ID3 {program}"))
            .send()
            .await
            .expect("PUT a master");
        assert!(r.status().is_success(), "PUT a master: {}", r.status());
        self.publish(client, program).await;
    }

    /// Publishes the program (it has its master file).
    pub async fn publish(&self, client: &reqwest::Client, program: &str) {
        let r = client
            .post(format!("{}/api/v1/programs/{program}/publish", self.base))
            .header("Authorization", self.auth())
            .send()
            .await
            .expect("POST publish");
        let status = r.status();
        assert!(
            status.is_success(),
            "publishing: {status} {}",
            r.text().await.unwrap_or_default()
        );
    }

    pub fn file_url(&self, program: &str) -> String {
        format!("{}/api/v1/programs/{program}/files/master", self.base)
    }

    /// Downloads the program's master; returns (bytes, SHA-256 hex).
    pub async fn master_digest(&self, client: &reqwest::Client, program: &str) -> (u64, String) {
        let mut r = client
            .get(self.file_url(program))
            .header("Authorization", self.auth())
            .send()
            .await
            .expect("GET the master");
        assert_eq!(r.status().as_u16(), 200, "GET the master of {program}");
        let mut hasher = Sha256::new();
        let mut n = 0u64;
        while let Some(chunk) = r.chunk().await.expect("a chunk of the master") {
            hasher.update(&chunk);
            n += chunk.len() as u64;
        }
        (n, hex::encode(hasher.finalize()))
    }

    pub async fn delete_master(&self, client: &reqwest::Client, program: &str) {
        let r = client
            .delete(self.file_url(program))
            .header("Authorization", self.auth())
            .send()
            .await
            .expect("DELETE the master");
        assert_eq!(r.status().as_u16(), 204, "deleting the master of {program}");
    }

    /// Entries left in a folder of the media store (`blobs`, `uploads`).
    pub fn media_entries(&self, folder: &str) -> usize {
        match std::fs::read_dir(self.dir.join("media").join(folder)) {
            Ok(entries) => entries.count(),
            Err(_) => 0,
        }
    }

    /// Prints the server log (warn and above) if it says anything.
    pub fn print_log(&self) {
        print_log("hub", &self.log);
    }
}

/// A new API token of `station` (`pxhub token issue`).
pub fn issue_token(dir: &Path, station: &str) -> String {
    run(pxhub(dir)
        .args(["token", "issue", "--station", station])
        .stderr(Stdio::null()))
    .trim()
    .to_owned()
}

/// Prints the first lines of the server log `path`, if it has any.
pub fn print_log(name: &str, path: &Path) {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if !lines.is_empty() {
        eprintln!("{name} server log ({} lines):", lines.len());
        for l in lines.iter().take(20) {
            eprintln!("  {l}");
        }
    }
}

/// Waits until `url` answers 2xx (curl), while `proc` runs.
pub fn wait_http(proc: &mut Proc, log: &Path, url: &str) {
    for _ in 0..300 {
        proc.check_running(log);
        let ok = Command::new("curl")
            .args(["-sf", "-o", "/dev/null", url])
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{} did not answer on {url}", proc.name);
}

// ---------------------------------------------------------------------------
// Garage: an S3 store of the bench's own (scripts/garage.sh)

/// An S3 store, as `garage_start` exports it (`PXHUB_TEST_S3_*`).
#[derive(Clone, Default)]
pub struct S3Env {
    pub endpoint: String,
    pub bucket: String,
    pub region: String,
    pub key_id: String,
    pub secret: String,
}

impl S3Env {
    /// The settings (environment) of a hub that keeps its objects in this
    /// store, under `prefix`.
    pub fn hub_env(&self, prefix: &str) -> [(&'static str, String); 7] {
        [
            ("PXHUB_STORAGE", "s3".to_owned()),
            ("PXHUB_STORAGE_ENDPOINT", self.endpoint.clone()),
            ("PXHUB_STORAGE_BUCKET", self.bucket.clone()),
            ("PXHUB_STORAGE_REGION", self.region.clone()),
            ("PXHUB_STORAGE_ACCESS_KEY_ID", self.key_id.clone()),
            ("PXHUB_STORAGE_SECRET_ACCESS_KEY", self.secret.clone()),
            ("PXHUB_STORAGE_PREFIX", prefix.to_owned()),
        ]
    }
}

/// A Garage started with scripts/garage.sh in a folder and on ports of the
/// bench's own; stopped on drop.
pub struct Garage {
    pub dir: PathBuf,
    pub env: S3Env,
}

impl Garage {
    /// Starts Garage in `dir` on `ports` (S3, RPC, admin). Whatever happens,
    /// a started server is ours to stop.
    pub fn start(dir: &Path, ports: (u16, u16, u16)) -> Result<Self, String> {
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
        let (s3, rpc, admin) = ports;
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
        // Stopped on drop, so on any way out below but the last.
        let mut garage = Garage {
            dir: dir.to_owned(),
            env: S3Env::default(),
        };
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
        garage.env = S3Env {
            endpoint: var("ENDPOINT")?,
            bucket: var("BUCKET")?,
            region: var("REGION")?,
            key_id: var("ACCESS_KEY_ID")?,
            secret: var("SECRET_ACCESS_KEY")?,
        };
        Ok(garage)
    }
}

impl Drop for Garage {
    fn drop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(self.dir.join("pid")) {
            if let Ok(pid) = pid.trim().parse() {
                stop_pid(pid);
            }
            let _ = std::fs::remove_file(self.dir.join("pid"));
        }
    }
}

// ---------------------------------------------------------------------------
// Results: `| Scenario | Hub | Baseline | Hub / baseline | Target | Result |`

pub struct Row {
    pub scenario: String,
    pub hub: String,
    pub baseline: String,
    /// `None`: not measured (skipped).
    pub ratio: Option<f64>,
    pub target: String,
    /// PASS, MISS, SKIPPED (why), or – for a row [for reference](Row::reference)
    pub result: String,
}

impl Row {
    pub fn ratio(scenario: String, hub: String, baseline: String, ratio: f64, min: f64) -> Row {
        Row {
            scenario,
            hub,
            baseline,
            ratio: Some(ratio),
            target: format!("≥ {min:.2}"),
            result: if ratio >= min { "PASS" } else { "MISS" }.into(),
        }
    }

    /// A throughput row of rounds run in pairs (`hub[i]` and `baseline[i]` in
    /// the same round): each side's median MB/s, and as the ratio the median
    /// of the per-round ratios, so that one side's fast round is never set
    /// against the other's slow one (the median of each side alone can come
    /// from different rounds).
    pub fn paired(scenario: String, hub: &[f64], baseline: &[f64], min: f64) -> Row {
        assert_eq!(hub.len(), baseline.len(), "rounds run in pairs");
        let ratios = hub.iter().zip(baseline).map(|(h, b)| h / b).collect();
        Row::ratio(
            scenario,
            format!("{:.0} MB/s", median(hub.to_vec())),
            format!("{:.0} MB/s", median(baseline.to_vec())),
            median(ratios),
            min,
        )
    }

    /// The same figures for reference only: no target, Result `–` (which
    /// scripts/bench.sh reads as such; the ratio must still be there).
    pub fn reference(self) -> Row {
        Row {
            target: "– (for reference)".into(),
            result: "–".into(),
            ..self
        }
    }

    /// A throughput row: the hub's MB/s against the baseline's, at least `min` of it.
    pub fn throughput(scenario: String, hub: f64, baseline: f64, min: f64) -> Row {
        Row::ratio(
            scenario,
            format!("{hub:.0} MB/s"),
            format!("{baseline:.0} MB/s"),
            hub / baseline,
            min,
        )
    }
}

pub fn print_table(title: &str, rows: &[Row]) {
    println!("{title}\n");
    println!("| Scenario | Hub | Baseline | Hub / baseline | Target | Result |");
    println!("|---|---:|---:|---:|---|---|");
    for r in rows {
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            r.scenario,
            r.hub,
            r.baseline,
            r.ratio.map_or("–".to_owned(), |x| format!("{x:.2}")),
            r.target,
            r.result
        );
    }
}

/// The correctness problems after the table (`scripts/bench.sh` reads the `- ` lines).
pub fn print_problems(problems: &[String]) {
    if !problems.is_empty() {
        println!("\nCorrectness problems:");
        for p in problems {
            println!("- {p}");
        }
    }
}
