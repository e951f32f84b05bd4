//! Catalog read load: requests per second and p99 latency of
//! `GET /api/v1/programs/{id}` and of a search (`GET /api/v1/programs?q=…`)
//! under 64 concurrent connections, against the hub's own `/healthz` measured
//! in the same run (ratio = rps / healthz rps).
//!
//! ```text
//! cargo bench --bench load -- [--programs 2000] [--secs 10] [--connections 64] [--quick] [--keep]
//! ```
//!
//! The load generator is wrk (Debian's 4.1.0, pinned by `scripts/bench.sh`), two
//! threads, keep-alive, a Lua script picking a random id or query word per
//! request. `pxhub serve` (release binary, local store, its data folder under
//! `target/bench-load/`) holds `--programs` published programs of station
//! `bench` (a tiny master each), created over the API before the runs. Every endpoint is checked once for its
//! answer before it is loaded, and wrk must see no error and no non-2xx
//! answer. The order is healthz, by id, search, healthz; the baseline is the
//! mean of the two healthz runs. `--quick`: 300 programs, 2 s per run.
//!
//! Then broad searches on the search bench's realistic catalog
//! (`--catalog N`, default 100,000, a copy of the cached one; `--quick`:
//! 2,000 generated here; 0: skipped), served by a second `pxhub serve` as
//! station `cao-bang`: `--search-connections` (16) connections, each request
//! one of the catalog's 25 commonest words (each matches thousands of
//! programs), between two `/healthz` runs. The server's private memory
//! (`RssAnon`, and PSS from `smaps_rollup`) is read before and after the
//! load: RSS would count the catalog file mapped by every read connection.

#[path = "common/mod.rs"]
mod common;

use std::path::Path;
use std::process::Command;

use common::{print_table, Hub, Row};
use futures_util::StreamExt;

struct Opts {
    programs: usize,
    secs: u32,
    connections: u32,
    keep: bool,
    quick: bool,
    /// Programs of the realistic catalog for the broad searches (0: none).
    catalog: usize,
    search_connections: u32,
}

impl Opts {
    fn parse() -> Self {
        let mut o = Opts {
            programs: 2000,
            secs: 10,
            connections: 64,
            keep: false,
            quick: false,
            catalog: 100_000,
            search_connections: 16,
        };
        let mut catalog = None;
        let (mut programs, mut secs) = (None, None);
        let mut args = std::env::args().skip(1);
        while let Some(a) = args.next() {
            let mut value = |name: &str| args.next().unwrap_or_else(|| panic!("{name} needs a value"));
            match a.as_str() {
                "--programs" => programs = Some(value(&a).parse().expect("--programs N")),
                "--secs" => secs = Some(value(&a).parse().expect("--secs N")),
                "--connections" => o.connections = value(&a).parse().expect("--connections N"),
                "--quick" => {
                    o.programs = 300;
                    o.secs = 2;
                    o.quick = true;
                    o.catalog = 2_000;
                }
                "--catalog" => catalog = Some(value(&a).parse().expect("--catalog N")),
                "--search-connections" => o.search_connections = value(&a).parse().expect("--search-connections N"),
                "--keep" => o.keep = true,
                "--bench" => {}
                other => panic!("unknown argument {other}; see the top of benches/load.rs"),
            }
        }
        o.programs = programs.unwrap_or(o.programs);
        o.catalog = catalog.unwrap_or(o.catalog);
        o.secs = secs.unwrap_or(o.secs);
        o
    }
}

/// Words of titles and tags; searches pick one of the first few.
const WORDS: &[&str] = &[
    "thời sự",
    "nông nghiệp",
    "văn hóa",
    "du lịch",
    "giáo dục",
    "sức khỏe",
    "thể thao",
    "biên giới",
    "dân tộc",
    "lễ hội",
    "chè",
    "rừng",
    "chợ phiên",
    "hát then",
    "đàn tính",
    "ruộng bậc thang",
];
const QUERIES: &[&str] = &[
    "thoi su",
    "nong nghiep",
    "van hoa",
    "du lich",
    "le hoi",
    "che",
    "hat then",
];

struct Wrk {
    rps: f64,
    p99_ms: f64,
    requests: u64,
}

/// wrk's `--latency` summary: `Requests/sec:`, the `99%` line, errors.
fn parse_wrk(out: &str) -> Result<Wrk, String> {
    let field = |prefix: &str| {
        out.lines()
            .map(str::trim)
            .find_map(|l| l.strip_prefix(prefix).map(|v| v.trim().to_owned()))
    };
    if out.contains("Socket errors") {
        return Err(format!("wrk saw socket errors:\n{out}"));
    }
    if out.contains("Non-2xx or 3xx responses") {
        return Err(format!("wrk saw error answers:\n{out}"));
    }
    let rps = field("Requests/sec:")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("no Requests/sec in wrk's output:\n{out}"))?;
    let p99 = field("99%").ok_or_else(|| format!("no 99% line in wrk's output:\n{out}"))?;
    let p99_ms = duration_ms(&p99).ok_or_else(|| format!("wrk's p99 {p99}?"))?;
    let requests = out
        .lines()
        .find(|l| l.contains("requests in"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("no request count in wrk's output:\n{out}"))?;
    Ok(Wrk { rps, p99_ms, requests })
}

/// `512.00us`, `1.20ms`, `2.01s`, `1.00m` → milliseconds.
fn duration_ms(v: &str) -> Option<f64> {
    let split = v.find(|c: char| c.is_ascii_alphabetic())?;
    let (n, unit) = v.split_at(split);
    let n: f64 = n.parse().ok()?;
    Some(match unit {
        "us" => n / 1000.0,
        "ms" => n,
        "s" => n * 1000.0,
        "m" => n * 60_000.0,
        _ => return None,
    })
}

/// One wrk run of `connections` against `hub`'s `path` (with a Lua script).
fn run_wrk(
    hub: &Hub,
    connections: u32,
    secs: u32,
    what: &str,
    path: &str,
    script: Option<&Path>,
) -> Result<Wrk, String> {
    let mut cmd = Command::new("wrk");
    cmd.args(["-t", "2", "-c", &connections.to_string()])
        .args(["-d", &format!("{secs}s"), "--latency", "--timeout", "10s"])
        .args(["-H", &format!("Authorization: {}", hub.auth())]);
    if let Some(s) = script {
        cmd.arg("-s").arg(s);
    }
    cmd.arg(format!("{}{path}", hub.base));
    let out = cmd.output().map_err(|e| format!("wrk: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        return Err(format!("wrk failed: {text}{}", String::from_utf8_lossy(&out.stderr)));
    }
    let w = parse_wrk(&text)?;
    eprintln!(
        "  {what}: {:.0} requests/s, p99 {:.2} ms ({} requests)",
        w.rps, w.p99_ms, w.requests
    );
    Ok(w)
}

/// The server's private memory: (`RssAnon`, PSS, RSS) in MiB.
fn memory(pid: u32) -> Option<(f64, f64, f64)> {
    let kib = |text: &str, key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<f64>().ok())
            .map(|k| k / 1024.0)
    };
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    Some((
        kib(&status, "RssAnon:")?,
        kib(&rollup, "Pss:")?,
        kib(&status, "VmRSS:")?,
    ))
}

/// The data folder of the broad searches: the realistic catalog of `n`
/// programs (generated here with `--quick`, else a copy of the cache).
fn realistic_catalog(dir: &Path, n: usize, quick: bool) {
    std::fs::create_dir_all(dir).expect("hub folder");
    let db = pxhub::config::catalog_path(dir);
    if quick {
        eprintln!("generating a catalog of {n} programs…");
        let c = pxhub::catalog::Catalog::open(&db).expect("open the catalog");
        common::catalog::generate(&c, n).expect("generate the catalog");
        return;
    }
    let (c, cached, _tmp) = common::catalog::catalog(n, false);
    drop(c);
    let name = db.file_name().expect("a file name").to_string_lossy().into_owned();
    for file in [name.clone(), format!("{name}-wal")] {
        let from = cached.with_file_name(&file);
        if from.exists() {
            std::fs::copy(&from, dir.join(&file)).expect("copy the cached catalog");
        }
    }
}

/// Broad searches over HTTP on the realistic catalog, against `/healthz`
/// in the same run, and the server's memory before and after.
/// The runs that worked; each failure goes to `problems`.
fn succeeded<T>(runs: impl IntoIterator<Item = Result<T, String>>, problems: &mut Vec<String>) -> Vec<T> {
    let mut got = Vec::new();
    for r in runs {
        match r {
            Ok(w) => got.push(w),
            Err(e) => problems.push(e),
        }
    }
    got
}

fn broad_search(opts: &Opts, root: &Path, problems: &mut Vec<String>) -> Vec<Row> {
    let n = opts.catalog;
    let dir = root.join("catalog-hub");
    realistic_catalog(&dir, n, opts.quick);
    let token = common::issue_token(&dir, "cao-bang");
    let hub = Hub::serve(&dir, token, &[]);
    let words: Vec<String> = common::catalog::common_words(25)
        .iter()
        .map(|w| url::form_urlencoded::byte_serialize(w.as_bytes()).collect())
        .collect();
    let script = root.join("lua/broad.lua");
    std::fs::write(
        &script,
        format!(
            "local qs = {{{}}}\nrequest = function()\n  return wrk.format(\"GET\", \"/api/v1/programs?q=\" .. qs[math.random(#qs)])\nend\n",
            lua_list(&words)
        ),
    )
    .expect("broad.lua");
    let before = memory(hub.proc.pid());
    let c = opts.search_connections;
    eprintln!("broad searches: {n} programs, {c} connections, {} s per run", opts.secs);
    let runs = [
        run_wrk(&hub, c, opts.secs, "healthz", "/healthz", None),
        run_wrk(
            &hub,
            c,
            opts.secs,
            "broad search",
            "/api/v1/programs?q=x",
            Some(&script),
        ),
        run_wrk(&hub, c, opts.secs, "healthz", "/healthz", None),
    ];
    let after = memory(hub.proc.pid());
    hub.print_log();
    let got = succeeded(runs, problems);
    let mut rows = Vec::new();
    if let [h1, s, h2] = &got[..] {
        let (base_rps, base_p99) = ((h1.rps + h2.rps) / 2.0, (h1.p99_ms + h2.p99_ms) / 2.0);
        let what = format!("L. search, broad queries (25 commonest words), {n} programs, {c} connections");
        rows.push(Row {
            scenario: format!("{what}: requests/s (vs /healthz)"),
            hub: format!("{:.0} req/s", s.rps),
            baseline: format!("{base_rps:.0} req/s"),
            ratio: Some(s.rps / base_rps),
            target: "≥ 300 req/s".into(),
            result: if s.rps >= 300.0 { "PASS" } else { "MISS" }.into(),
        });
        rows.push(Row {
            scenario: format!("{what}: p99 latency (vs /healthz p99)"),
            hub: format!("{:.2} ms", s.p99_ms),
            baseline: format!("{base_p99:.2} ms"),
            ratio: Some(s.p99_ms / base_p99),
            target: "p99 < 100 ms".into(),
            result: if s.p99_ms < 100.0 { "PASS" } else { "MISS" }.into(),
        });
    }
    match (before, after) {
        (Some((a0, p0, r0)), Some((a1, p1, r1))) => rows.push(Row {
            scenario: format!(
                "L. server private memory (RssAnon) after the broad searches, {n} programs (vs before them; PSS {p0:.0} → {p1:.0} MiB, RSS {r0:.0} → {r1:.0} MiB)"
            ),
            hub: format!("{a1:.0} MiB"),
            baseline: format!("{a0:.0} MiB"),
            ratio: Some(a1 / a0),
            target: "< 400 MiB".into(),
            result: if a1 < 400.0 { "PASS" } else { "MISS" }.into(),
        }),
        _ => problems.push("the server's /proc/<pid>/status or smaps_rollup could not be read".into()),
    }
    rows
}

fn lua_list(items: &[String]) -> String {
    items.iter().map(|s| format!("\"{s}\"")).collect::<Vec<_>>().join(",")
}

fn main() {
    let opts = Opts::parse();
    common::main_with("bench-load", opts.keep, |root, rt| bench(&opts, root, rt));
}

fn bench(opts: &Opts, root: &Path, rt: &tokio::runtime::Runtime) -> Vec<String> {
    let mut problems = Vec::new();
    if Command::new("wrk").arg("--version").output().is_err() {
        problems.push("wrk is not installed (scripts/bench.sh installs it: apt-get install wrk)".into());
        return problems;
    }
    let hub = Hub::start(&root.join("hub"));
    let client = reqwest::Client::builder().no_proxy().build().expect("a client");

    eprintln!("creating {} programs…", opts.programs);
    let started = std::time::Instant::now();
    let ids: Vec<String> = rt.block_on(
        futures_util::stream::iter(0..opts.programs)
            .map(|i| {
                let (hub, client) = (&hub, &client);
                async move {
                    let w = |k: usize| WORDS[(i * 7 + k * 13) % WORDS.len()];
                    let title = format!("{} {} số {i}", w(0), w(1));
                    let id = hub.new_program(client, &title, &[w(2), w(3)]).await;
                    hub.publish_small(client, &id).await;
                    id
                }
            })
            .buffer_unordered(8)
            .collect(),
    );
    eprintln!("  {:.1} s", started.elapsed().as_secs_f64());

    // Each endpoint answers, and a search finds something, before it is loaded.
    let get = |path: &str| {
        rt.block_on(async {
            let r = client
                .get(format!("{}{path}", hub.base))
                .header("Authorization", hub.auth())
                .send()
                .await
                .expect("GET");
            (r.status().as_u16(), r.text().await.unwrap_or_default())
        })
    };
    let (status, body) = get(&format!("/api/v1/programs/{}", ids[0]));
    if status != 200 || !body.contains(&ids[0]) {
        problems.push(format!("GET /api/v1/programs/{{id}} answered {status}: {body}"));
    }
    for q in QUERIES {
        let (status, body) = get(&format!("/api/v1/programs?q={}", q.replace(' ', "+")));
        let json: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        let found = json["total"]
            .as_u64()
            .or_else(|| json["items"].as_array().map(|a| a.len() as u64))
            .unwrap_or(0);
        if status != 200 || found == 0 {
            problems.push(format!("search {q:?} answered {status} and found {found}: {body:.300}"));
        }
    }
    if !problems.is_empty() {
        return problems;
    }

    let scripts = root.join("lua");
    std::fs::create_dir_all(&scripts).expect("lua folder");
    let sample: Vec<String> = ids.iter().take(2000).cloned().collect();
    let by_id = scripts.join("by_id.lua");
    std::fs::write(
        &by_id,
        format!(
            "local ids = {{{}}}\nrequest = function()\n  return wrk.format(\"GET\", \"/api/v1/programs/\" .. ids[math.random(#ids)])\nend\n",
            lua_list(&sample)
        ),
    )
    .expect("by_id.lua");
    let search = scripts.join("search.lua");
    let queries: Vec<String> = QUERIES.iter().map(|q| q.replace(' ', "+")).collect();
    std::fs::write(
        &search,
        format!(
            "local qs = {{{}}}\nrequest = function()\n  return wrk.format(\"GET\", \"/api/v1/programs?q=\" .. qs[math.random(#qs)])\nend\n",
            lua_list(&queries)
        ),
    )
    .expect("search.lua");

    let wrk =
        |what: &str, path: &str, script: Option<&Path>| run_wrk(&hub, opts.connections, opts.secs, what, path, script);
    eprintln!(
        "load: {} connections, {} s per run (wrk, 2 threads)",
        opts.connections, opts.secs
    );
    let runs = [
        wrk("healthz", "/healthz", None),
        wrk("by id", "/api/v1/programs/x", Some(&by_id)),
        wrk("search", "/api/v1/programs?q=x", Some(&search)),
        wrk("healthz", "/healthz", None),
    ];
    let got = succeeded(runs, &mut problems);
    let mut rows = Vec::new();
    if got.len() == 4 {
        let base_rps = (got[0].rps + got[3].rps) / 2.0;
        let base_p99 = (got[0].p99_ms + got[3].p99_ms) / 2.0;
        // The issue names no target: these are ours. A cluster's stations
        // together send a few requests per second; 1000 req/s on two cores
        // leaves room, and p99 stays under what a person notices.
        for (w, name, p99_max) in [
            (&got[1], "GET /api/v1/programs/{id}", 50.0),
            (&got[2], "search GET /api/v1/programs?q=… (one word)", 100.0),
        ] {
            let min_rps = 1000.0;
            rows.push(Row {
                scenario: format!(
                    "L. {name}, {} programs, {} connections: requests/s (vs /healthz)",
                    opts.programs, opts.connections
                ),
                hub: format!("{:.0} req/s", w.rps),
                baseline: format!("{base_rps:.0} req/s"),
                ratio: Some(w.rps / base_rps),
                target: format!("≥ {min_rps:.0} req/s"),
                result: if w.rps >= min_rps { "PASS" } else { "MISS" }.into(),
            });
            rows.push(Row {
                scenario: format!("L. {name}: p99 latency (vs /healthz p99)"),
                hub: format!("{:.2} ms", w.p99_ms),
                baseline: format!("{base_p99:.2} ms"),
                ratio: Some(w.p99_ms / base_p99),
                target: format!("p99 < {p99_max:.0} ms"),
                result: if w.p99_ms < p99_max { "PASS" } else { "MISS" }.into(),
            });
        }
    }
    hub.print_log();
    drop(hub);
    if opts.catalog > 0 {
        rows.extend(broad_search(opts, root, &mut problems));
    }
    print_table(
        &format!(
            "Catalog read load: wrk, 2 threads, {} connections, {} s per run; baseline: the hub's /healthz (mean of a run before and after).",
            opts.connections, opts.secs
        ),
        &rows,
    );
    common::print_problems(&problems);
    problems
}
