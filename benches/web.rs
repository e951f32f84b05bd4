//! The web page's figures, each as a ratio against a baseline measured in
//! the same run:
//!
//! - the catalog page's time against the API search of the same query, on
//!   the search bench's realistic catalog (100,000 programs, a copy of the
//!   cached one), for four query shapes: a common word with its marks, the
//!   same without, a facet filter, and the second page through the cursor
//!   (target: the page's p95 at most 1.5× the API's, i.e. API ÷ page ≥ 0.67,
//!   and under 30 ms);
//! - a visible program's page (`/programs/{id}`, as the station's editor)
//!   against the API's `GET /api/v1/programs/{id}` of the same program, in
//!   pairs the same way (for reference: the page reads much more than the
//!   one program), and its p95 against the same 30 ms budget;
//! - the bytes a browser fetches for the catalog page on a first visit (the
//!   page and its assets, gzipped) and on a later one (assets cached),
//!   against the budgets of 120 KB and 20 KB;
//! - an upload through the program's upload page (tus-js-client in Debian's
//!   Chromium driven by Playwright, loopback, 512 MiB) against tuspy
//!   uploading the same file in the same chunks to the same hub, rounds in
//!   alternation (target ≥ 0.7×), each stored master byte-exact. More
//!   sides in the same rounds tell where the gap is: one PUT of the file
//!   from the same page (Chromium's own ceiling, without tus and chunks);
//!   the page driven without Playwright (what its watching costs); the page
//!   sending three parts at once to three drafts (what parallel uploads
//!   could bring); and the page and tuspy through a paced 400 Mbit/s link
//!   (whether the gap shows on a link, target ≥ 0.9×).
//!
//! `cargo bench --bench web` (100,000 programs, 300 timed pairs a shape,
//! 512 MiB, 3 rounds each); `-- --quick` (3,000 programs generated afresh, 60
//! pairs, 32 MiB, one round). The Python with Playwright and tuspy is
//! `PXHUB_BENCH_PYTHON` or `target/pyenv/bin/python` (scripts/bench.sh
//! installs it through scripts/pyenv.sh); Chromium is `/usr/bin/chromium`.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use common::{catalog, print_problems, print_table, pxhub, Hub, Row, MIB};
use pxhub::catalog::Catalog;

const PASSWORD: &str = "mật khẩu cho bench";
/// A station of the generated catalog: the person and the token act for it.
const STATION: &str = "cao-bang";
const CHROMIUM: &str = "/usr/bin/chromium";

struct Options {
    quick: bool,
    programs: usize,
    pairs: usize,
    upload_mib: u64,
    rounds: usize,
    /// The hub's `web_upload_chunk_bytes`, when not its default.
    chunk_mib: Option<u64>,
}

fn options() -> Options {
    let quick = std::env::args().any(|a| a == "--quick");
    let mut o = if quick {
        Options {
            quick,
            programs: 3_000,
            pairs: 60,
            upload_mib: 32,
            rounds: 1,
            chunk_mib: None,
        }
    } else {
        Options {
            quick,
            programs: 100_000,
            pairs: 300,
            upload_mib: 512,
            rounds: 3,
            chunk_mib: None,
        }
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| panic!("{a} takes a number"));
        match a.as_str() {
            "--pairs" => o.pairs = value().parse().expect("--pairs N"),
            "--upload-mib" => o.upload_mib = value().parse().expect("--upload-mib N"),
            "--rounds" => o.rounds = value().parse().expect("--rounds N"),
            "--chunk-mib" => o.chunk_mib = Some(value().parse().expect("--chunk-mib N")),
            // cargo bench passes --bench; ignore what is not ours.
            _ => {}
        }
    }
    o
}

fn p95(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    v[((v.len() as f64 * 0.95).ceil() as usize)
        .saturating_sub(1)
        .min(v.len() - 1)]
}

fn cookie_of(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| {
            c.strip_prefix(&format!("{name}="))?
                .split(';')
                .next()
                .map(str::to_owned)
        })
}

async fn sign_in(client: &reqwest::Client, base: &str) -> String {
    let r = client
        .get(format!("{base}/sign-in"))
        .send()
        .await
        .expect("sign-in page");
    let pre = cookie_of(&r, "pxhub_pre").expect("a pre-session cookie");
    let page = r.text().await.expect("the page");
    let at = page.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
    let csrf = page[at..].split('"').next().expect("a token").to_owned();
    let r = client
        .post(format!("{base}/sign-in"))
        .header("Cookie", format!("pxhub_pre={pre}"))
        .form(&[
            ("login", "bench"),
            ("password", PASSWORD),
            ("csrf", &csrf),
            ("next", "/"),
        ])
        .send()
        .await
        .expect("sign in");
    assert_eq!(r.status().as_u16(), 303, "signing in");
    cookie_of(&r, "pxhub_session").expect("a session cookie")
}

/// The hub's data folder with the realistic catalog: with `--quick` one of
/// `programs` generated here, otherwise a copy of the search bench's cached
/// one (generated first if missing), which the hub then writes to while the
/// cache stays as it was.
fn prepare_catalog(dir: &Path, o: &Options) {
    std::fs::create_dir_all(dir).expect("hub folder");
    let db = pxhub::config::catalog_path(dir);
    if o.quick {
        eprintln!("generating a catalog of {} programs…", o.programs);
        let c = Catalog::open(&db).expect("open the catalog");
        catalog::generate(&c, o.programs).expect("generate the catalog");
        return;
    }
    let (c, cached, _tmp) = catalog::catalog(o.programs, false);
    drop(c);
    let from = cached.parent().expect("the cache folder");
    let name = db.file_name().expect("a file name").to_string_lossy().into_owned();
    for entry in std::fs::read_dir(from).expect("the cache folder") {
        let entry = entry.expect("an entry");
        let file = entry.file_name().to_string_lossy().into_owned();
        // The database and its write-ahead log (none once closed), not the shared memory.
        if file == name || file == format!("{name}-wal") {
            std::fs::copy(entry.path(), dir.join(&file)).expect("copy the cached catalog");
        }
    }
    eprintln!("catalog of {}: copied from {}", o.programs, from.display());
}

/// A person of `STATION` who signs in as `bench`.
fn add_person(dir: &Path) {
    let mut child = pxhub(dir)
        .args([
            "person",
            "add",
            "--station",
            STATION,
            "--login",
            "bench",
            "--name",
            "Bench",
            "--role",
            "editor",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("pxhub person add");
    std::io::Write::write_all(
        &mut child.stdin.take().expect("stdin"),
        format!("{PASSWORD}\n").as_bytes(),
    )
    .expect("the password");
    assert!(child.wait().expect("person add").success(), "person add");
}

fn form(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// One query shape: what it is, its query string (page and API alike), and
/// how the table shows it.
struct Shape {
    name: &'static str,
    query: String,
    shows: &'static str,
}

async fn get(client: &reqwest::Client, url: &str, header: (&str, &str)) -> (u16, bytes::Bytes) {
    let r = client
        .get(url)
        .header(header.0, header.1)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = r.status().as_u16();
    (status, r.bytes().await.expect("a body"))
}

/// One GET, timed to its last byte: (answered 200 with a body, ms).
async fn timed(client: &reqwest::Client, url: String, header: (&str, &str)) -> (bool, f64) {
    let t = Instant::now();
    let (status, body) = get(client, &url, header).await;
    (status == 200 && !body.is_empty(), t.elapsed().as_secs_f64() * 1e3)
}

/// The p95s (ms) of `page` (with the session cookie) and `api` (with the
/// token) over `pairs` timed pairs after 10 untimed ones, which of the two
/// goes first alternating; `None` when either did not answer 200.
async fn paired_p95(
    client: &reqwest::Client,
    (page, api): (String, String),
    (cookie, auth): (&str, &str),
    pairs: usize,
) -> Option<(f64, f64)> {
    let (mut page_ms, mut api_ms) = (Vec::new(), Vec::new());
    for i in 0..pairs + 10 {
        let p = timed(client, page.clone(), ("Cookie", cookie));
        let a = timed(client, api.clone(), ("Authorization", auth));
        let ((page_ok, page_took), (api_ok, api_took)) = if i % 2 == 0 {
            let p = p.await;
            (p, a.await)
        } else {
            let a = a.await;
            (p.await, a)
        };
        if !(page_ok && api_ok) {
            return None;
        }
        if i >= 10 {
            page_ms.push(page_took);
            api_ms.push(api_took);
        }
    }
    Some((p95(page_ms), p95(api_ms)))
}

/// A visible program's page against the API's program, in pairs as the
/// catalog's shapes: the program is the API search's first for `tinh`. The
/// page reads more than the API's one program (its station names, files'
/// analysis, history, follows), so their ratio is for reference; the page's
/// p95 is held to the catalog page's 30 ms budget, and to its own earlier
/// figure across commits (BENCHMARKS.md).
fn program_rows(hub: &Hub, rt: &tokio::runtime::Runtime, cookie: &str, o: &Options) -> Result<Vec<Row>, String> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_gzip()
        .build()
        .expect("client");
    let auth = hub.auth();
    rt.block_on(async {
        let search = format!("{}/api/v1/programs?q=tinh&limit=1", hub.base);
        let (_, found) = get(&client, &search, ("Authorization", &auth)).await;
        let found: serde_json::Value = serde_json::from_slice(&found).expect("a JSON page");
        let id = found["items"][0]["id"].as_str().ok_or("no program found for `tinh`")?.to_owned();
        let title = found["items"][0]["title"].as_str().unwrap_or_default().to_owned();
        let (page, api) = (
            format!("{}/programs/{id}", hub.base),
            format!("{}/api/v1/programs/{id}", hub.base),
        );
        let (status, html) = get(&client, &page, ("Cookie", cookie)).await;
        let shown = askama::filters::escape(&title, askama::filters::Html)
            .map(|t| t.to_string())
            .unwrap_or_default();
        if status != 200 || !String::from_utf8_lossy(&html).contains(&shown) {
            return Err(format!("the program page ({status}) does not show the program's title"));
        }
        let (page_p95, api_p95) = paired_p95(&client, (page, api), (cookie, &auth), o.pairs)
            .await
            .ok_or("the program page or the API's program did not answer 200")?;
        Ok(vec![
            Row::ratio(
                format!(
                    "program page `/programs/{{id}}` vs API `GET /api/v1/programs/{{id}}`, p95 over {} pairs, {} programs (API ÷ page)",
                    o.pairs, o.programs
                ),
                format!("{page_p95:.2} ms"),
                format!("{api_p95:.2} ms"),
                api_p95 / page_p95,
                0.0,
            )
            .reference(),
            Row::ratio(
                format!("program page, p95, {} programs (budget 30 ms ÷ p95)", o.programs),
                format!("{page_p95:.2} ms"),
                "30 ms".into(),
                30.0 / page_p95,
                1.0,
            ),
        ])
    })
}

/// The catalog page against the API search, shape by shape, in pairs
/// (which of the two goes first alternates); returns the rows.
fn catalog_rows(
    hub: &Hub,
    rt: &tokio::runtime::Runtime,
    cookie: &str,
    o: &Options,
    problems: &mut Vec<String>,
) -> Vec<Row> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_gzip()
        .build()
        .expect("client");
    let auth = hub.auth();
    let api = |query: &str| format!("{}/api/v1/programs?{query}&limit=20", hub.base);
    let page = |query: &str| format!("{}/?{query}", hub.base);
    rt.block_on(async {
        // The second page: the cursor the API's first page gives.
        let (_, first) = get(&client, &api("q=tinh"), ("Authorization", &auth)).await;
        let first: serde_json::Value = serde_json::from_slice(&first).expect("a JSON page");
        let cursor = first["next_cursor"]
            .as_str()
            .expect("a second page of `tinh`")
            .to_owned();
        let shapes = [
            Shape {
                name: "a common word with its marks",
                query: format!("q={}", form("tỉnh")),
                shows: "q=tỉnh",
            },
            Shape {
                name: "the same without marks",
                query: "q=tinh".into(),
                shows: "q=tinh",
            },
            Shape {
                name: "a facet filter",
                query: "genre=documentary&kind=tv".into(),
                shows: "genre=documentary&kind=tv",
            },
            Shape {
                name: "the second page (cursor)",
                query: format!("q=tinh&cursor={}", form(&cursor)),
                shows: "q=tinh&cursor=…",
            },
        ];
        let mut rows = Vec::new();
        let mut slowest: f64 = 0.0;
        for shape in &shapes {
            // The page shows the API's first program (the same search, not a fallback).
            let (status, body) = get(&client, &api(&shape.query), ("Authorization", &auth)).await;
            let json: serde_json::Value = serde_json::from_slice(&body).expect("a JSON page");
            let first = json["items"][0]["id"].as_str().map(str::to_owned);
            let (page_status, html) = get(&client, &page(&shape.query), ("Cookie", cookie)).await;
            let html = String::from_utf8_lossy(&html);
            match first {
                Some(id) if status == 200 && page_status == 200 && html.contains(&format!("/programs/{id}\"")) => {}
                _ => {
                    problems.push(format!(
                        "{}: the page ({page_status}) does not show the API's ({status}) first program",
                        shape.name
                    ));
                    continue;
                }
            }
            let urls = (page(&shape.query), api(&shape.query));
            let Some((page_p95, api_p95)) = paired_p95(&client, urls, (cookie, &auth), o.pairs).await else {
                problems.push(format!("{}: the page or the API did not answer 200", shape.name));
                continue;
            };
            slowest = slowest.max(page_p95);
            rows.push(Row::ratio(
                format!(
                    "catalog page vs API search, {} (`{}`), p95 over {} pairs, {} programs (API ÷ page)",
                    shape.name, shape.shows, o.pairs, o.programs
                ),
                format!("{page_p95:.2} ms"),
                format!("{api_p95:.2} ms"),
                api_p95 / page_p95,
                1.0 / 1.5,
            ));
        }
        if rows.len() == shapes.len() {
            rows.push(Row::ratio(
                format!(
                    "catalog page, the slowest shape's p95, {} programs (budget 30 ms ÷ p95)",
                    o.programs
                ),
                format!("{slowest:.2} ms"),
                "30 ms".into(),
                30.0 / slowest,
                1.0,
            ));
        }
        rows
    })
}

/// The bytes on the wire of a first visit (the page and its assets, gzip)
/// and of a later one (the page alone: the assets are `immutable`).
fn bytes_rows(hub: &Hub, rt: &tokio::runtime::Runtime, cookie: &str) -> Vec<Row> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_gzip()
        .build()
        .expect("client");
    let query = "q=thoi+su&sort=newest";
    let (first, later) = rt.block_on(async {
        let r = client
            .get(format!("{}/?{query}", hub.base))
            .header("Cookie", cookie)
            .header("Accept-Encoding", "gzip")
            .send()
            .await
            .expect("the page");
        let head: usize = r.headers().iter().map(|(k, v)| k.as_str().len() + v.len() + 4).sum();
        let html = r.text().await.expect("the page");
        let page_bytes = head + html.len();
        let mut assets = 0;
        let mut rest = html.as_str();
        while let Some(at) = rest.find("\"/assets/") {
            let url = rest[at + 1..].split('"').next().expect("a URL").to_owned();
            rest = &rest[at + 1 + url.len()..];
            let r = client
                .get(format!("{}{url}", hub.base))
                .header("Accept-Encoding", "gzip")
                .send()
                .await
                .expect("an asset");
            let head: usize = r.headers().iter().map(|(k, v)| k.as_str().len() + v.len() + 4).sum();
            assets += head + r.bytes().await.expect("its body").len();
        }
        (page_bytes + assets, page_bytes)
    });
    vec![
        Row::ratio(
            format!("catalog page `/?{query}`, first visit: page + assets (gzip) (budget ÷ bytes)"),
            format!("{:.1} KB", first as f64 / 1e3),
            "120 KB".into(),
            120e3 / first as f64,
            1.0,
        ),
        Row::ratio(
            "catalog page, later visit: assets cached (immutable) (budget ÷ bytes)".into(),
            format!("{:.1} KB", later as f64 / 1e3),
            "20 KB".into(),
            20e3 / later as f64,
            1.0,
        ),
    ]
}

/// The Python with Playwright and tuspy, and Chromium, or why not.
fn python() -> Result<PathBuf, String> {
    let python = std::env::var_os("PXHUB_BENCH_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/pyenv/bin/python"));
    let imports = Command::new(&python)
        .args(["-c", "import playwright.sync_api, tusclient"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let chromium = std::env::var_os("PXHUB_CHROMIUM").map_or_else(|| PathBuf::from(CHROMIUM), PathBuf::from);
    if !imports || !chromium.exists() {
        return Err(format!(
            "the upload needs {} with playwright and tuspy, and {} (scripts/bench.sh installs them: scripts/pyenv.sh)",
            python.display(),
            chromium.display()
        ));
    }
    Ok(python)
}

/// Runs `benches/web_upload.py` with `args`; its seconds.
fn timed_upload(python: &Path, args: &[&str]) -> Result<f64, String> {
    let out = Command::new(python)
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/benches/web_upload.py"))
        .args(args)
        .output()
        .map_err(|e| format!("running web_upload.py: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    match stdout.trim().parse::<f64>() {
        Ok(s) if out.status.success() => Ok(s),
        _ => Err(format!(
            "web_upload.py {} failed ({}): {}{}",
            args[0],
            out.status,
            stdout.trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        )),
    }
}

/// The master the hub recorded for `program`: (size, SHA-256 hex).
async fn recorded_master(hub: &Hub, client: &reqwest::Client, program: &str) -> Option<(u64, String)> {
    let r = client
        .get(format!("{}/api/v1/programs/{program}", hub.base))
        .header("Authorization", hub.auth())
        .send()
        .await
        .ok()?;
    let json: serde_json::Value = r.json().await.ok()?;
    let file = json["files"].as_array()?.iter().find(|f| f["role"] == "master")?;
    Some((file["size"].as_u64()?, file["sha256"].as_str()?.to_owned()))
}

/// The master of each program a side uploads, as (size, SHA-256 hex): the
/// whole file, or for the split side its parts of ceil(size / N) bytes
/// (`web_upload.py browser-split`).
fn expected_masters(file: &Path, size: u64, digest: &str, programs: usize) -> Vec<(u64, String)> {
    use sha2::{Digest, Sha256};
    use std::io::Read;
    if programs == 1 {
        return vec![(size, digest.to_owned())];
    }
    let part = size.div_ceil(programs as u64);
    let mut f = std::fs::File::open(file).expect("open the upload");
    let mut buf = vec![0u8; 8 << 20];
    (0..programs as u64)
        .map(|i| {
            let len = part.min(size - (i * part).min(size));
            let (mut hasher, mut left) = (Sha256::new(), len);
            while left > 0 {
                let want = left.min(buf.len() as u64) as usize;
                let n = f.read(&mut buf[..want]).expect("read the upload");
                assert!(n > 0, "the upload is shorter than it was written");
                hasher.update(&buf[..n]);
                left -= n as u64;
            }
            (len, hex::encode(hasher.finalize()))
        })
        .collect()
}

/// One way of uploading the file, timed in every round.
struct Side {
    who: &'static str,
    /// web_upload.py's mode.
    mode: &'static str,
    /// Through the paced link rather than straight to the hub.
    linked: bool,
    /// Drafts it uploads to at once (the file cut in as many parts).
    programs: usize,
    /// MB/s of each round.
    speeds: Vec<f64>,
}

/// Connections the split side opens at once.
const SPLIT: usize = 3;
/// The paced link's rate each way: 400 Mbit/s, faster than any station's.
const LINK_BYTES_PER_S: f64 = 50e6;

/// The upload through the page against tuspy: rounds in alternation, each
/// on new drafts, checked byte-exact and the masters deleted after.
fn upload_rows(
    hub: &Hub,
    rt: &tokio::runtime::Runtime,
    root: &Path,
    cookie: &str,
    o: &Options,
    problems: &mut Vec<String>,
) -> Vec<Row> {
    let scenario = |chunk: &str| {
        format!(
            "upload {} MiB through the program's upload page: tus-js-client in Chromium, {chunk} chunks, loopback \
             (vs tuspy, same file, same chunks, same hub), {} round(s) each, median",
            o.upload_mib, o.rounds
        )
    };
    let python = match python() {
        Ok(p) => p,
        Err(why) => {
            problems.push(why);
            return vec![Row {
                scenario: scenario("?"),
                hub: "–".into(),
                baseline: "–".into(),
                ratio: None,
                target: "≥ 0.70".into(),
                result: "SKIPPED (no Playwright, tuspy or Chromium)".into(),
            }];
        }
    };
    let client = reqwest::Client::new();
    let file = root.join("upload.mp4");
    let size = o.upload_mib * MIB;
    eprintln!("writing {} MiB of random bytes…", o.upload_mib);
    let digest = common::generate(&file, size, 12);
    let file_arg = file.to_str().expect("a UTF-8 path").to_owned();
    // The chunk size the page uses (`web_upload_chunk_bytes`), for tuspy too.
    let chunk = rt.block_on(async {
        let id = hub.new_program(&client, "Kích thước phần", &["bench"]).await;
        let (_, html) = get(
            &client,
            &format!("{}/programs/{id}/upload", hub.base),
            ("Cookie", cookie),
        )
        .await;
        let html = String::from_utf8_lossy(&html);
        let at = html.find("data-chunk-size=\"").expect("the page's chunk size") + 17;
        html[at..]
            .split('"')
            .next()
            .expect("a number")
            .parse::<u64>()
            .expect("a number")
    });
    // A link faster than any station's, never reset.
    let upstream = hub
        .base
        .trim_start_matches("http://")
        .parse()
        .expect("the hub's address");
    let link = rt.block_on(common::link::start_link(
        upstream,
        LINK_BYTES_PER_S,
        std::time::Duration::from_secs(24 * 3600),
    ));
    let linked_base = format!("http://{}", link.addr);
    let side = |who, mode, linked, programs| Side {
        who,
        mode,
        linked,
        programs,
        speeds: Vec::new(),
    };
    let mut sides = [
        side("the page (tus-js-client)", "browser", false, 1),
        side("tuspy", "tuspy", false, 1),
        side("one PUT from the page", "browser-put", false, 1),
        side("the page without Playwright", "browser-bare", false, 1),
        side("the page, 3 uploads at once", "browser-split", false, SPLIT),
        side("the page through the link", "browser", true, 1),
        side("tuspy through the link", "tuspy", true, 1),
    ];
    let expected: Vec<Vec<(u64, String)>> = sides
        .iter()
        .map(|s| expected_masters(&file, size, &digest, s.programs))
        .collect();
    let chunk_arg = chunk.to_string();
    let n = sides.len();
    'rounds: for round in 0..o.rounds {
        // Each round starts with another side.
        for k in 0..n {
            let at = (round + k) % n;
            let side = &mut sides[at];
            let ids: Vec<String> = (0..side.programs)
                .map(|i| rt.block_on(hub.new_program(&client, &format!("Tải lên {round}.{i}"), &["bench"])))
                .collect();
            let programs = ids.join(",");
            let base = if side.linked { &linked_base } else { &hub.base };
            common::sync();
            common::warm(&file);
            let args = if side.mode == "tuspy" {
                ["tuspy", base, &hub.token, &programs, &file_arg, &chunk_arg]
            } else {
                [side.mode, base, "bench", PASSWORD, &programs, &file_arg]
            };
            let seconds = match timed_upload(&python, &args) {
                Ok(s) => s,
                Err(e) => {
                    problems.push(e);
                    break 'rounds;
                }
            };
            let mbs = size as f64 / 1e6 / seconds;
            eprintln!("  round {round}, {}: {seconds:.2} s, {mbs:.0} MB/s", side.who);
            for (id, want) in ids.iter().zip(&expected[at]) {
                match rt.block_on(recorded_master(hub, &client, id)) {
                    Some(got) if &got == want => {}
                    got => problems.push(format!(
                        "{}, round {round}: the stored master is {got:?}, not {want:?}",
                        side.who
                    )),
                }
                rt.block_on(hub.delete_master(&client, id));
            }
            side.speeds.push(mbs);
        }
    }
    let _ = std::fs::remove_file(&file);
    if sides.iter().any(|s| s.speeds.len() < o.rounds) {
        return Vec::new();
    }
    let [page, tuspy, put, bare, split, page_linked, tuspy_linked] = sides.map(|s| s.speeds);
    let mib = chunk / MIB;
    vec![
        Row::paired(scenario(&format!("{mib} MiB")), &page, &tuspy, 0.7),
        // Where the gap is: Chromium's own upload, or the protocol's chunks.
        Row::paired(
            format!(
                "upload {} MiB: the page (tus, {mib} MiB chunks) vs one PUT of the same file from the same page \
                 (fetch, no tus): what tus and its chunks cost in Chromium; our target",
                o.upload_mib
            ),
            &page,
            &put,
            0.8,
        ),
        Row::paired(
            format!(
                "upload {} MiB: one PUT from the page in Chromium vs tuspy: Chromium's own ceiling here",
                o.upload_mib
            ),
            &put,
            &tuspy,
            0.0,
        )
        .reference(),
        Row::paired(
            format!(
                "upload {} MiB: the page driven without Playwright (DevTools pipe, no Network domain) vs with it: \
                 what Playwright's watching costs",
                o.upload_mib
            ),
            &bare,
            &page,
            0.0,
        )
        .reference(),
        Row::paired(
            format!(
                "upload {} MiB: the page sending {SPLIT} parts at once (tus-js-client, {SPLIT} drafts, {mib} MiB \
                 chunks) vs tuspy: the most parallel uploads could bring",
                o.upload_mib
            ),
            &split,
            &tuspy,
            0.0,
        )
        .reference(),
        Row::paired(
            format!(
                "upload {} MiB through a {:.0} Mbit/s link (paced loopback proxy): the page vs tuspy, {mib} MiB \
                 chunks; our target",
                o.upload_mib,
                LINK_BYTES_PER_S * 8.0 / 1e6
            ),
            &page_linked,
            &tuspy_linked,
            0.9,
        ),
    ]
}

fn main() {
    let o = options();
    common::main_with("bench-web", false, |root, rt| {
        let mut problems = Vec::new();
        let dir = root.join("hub");
        prepare_catalog(&dir, &o);
        let token = common::issue_token(&dir, STATION);
        add_person(&dir);
        eprintln!("starting the hub…");
        let env: Vec<_> = o
            .chunk_mib
            .map(|c| ("PXHUB_WEB_UPLOAD_CHUNK_BYTES", (c * MIB).to_string()))
            .into_iter()
            .collect();
        let hub = Hub::serve(&dir, token, &env);
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let cookie = format!("pxhub_session={}", rt.block_on(sign_in(&client, &hub.base)));
        eprintln!("the catalog page against the API…");
        let mut rows = catalog_rows(&hub, rt, &cookie, &o, &mut problems);
        eprintln!("the program page against the API…");
        match program_rows(&hub, rt, &cookie, &o) {
            Ok(r) => rows.extend(r),
            Err(why) => problems.push(why),
        }
        rows.extend(bytes_rows(&hub, rt, &cookie));
        eprintln!("uploads: the page in Chromium against tuspy…");
        rows.extend(upload_rows(&hub, rt, root, &cookie, &o, &mut problems));
        hub.print_log();
        print_table("The web page", &rows);
        print_problems(&problems);
        problems
    });
}
