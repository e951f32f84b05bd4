//! Hubs that follow each other: two `pxhub serve` processes on loopback,
//! hub B following hub A as a peer (README, "Liên cụm / between clusters").
//!
//! ```text
//! cargo bench --bench peers -- [--programs 100] [--poll-ms 2000]
//!                              [--size-mib 64] [--takers 10] [--quick] [--keep]
//! ```
//!
//! 1. Publish on A → searchable on B: `--programs` programs published on A
//!    one after the other (a tiny master each); a watcher asks the search of
//!    two following hubs every 20 ms and notes when each appears: B, polling
//!    only (`peer_wake` off), and W, which also polls every `--poll-ms` but
//!    is woken by A's webhooks (`peer_wake` on). Figures: the p50 and p95 of
//!    the delays; B's against its poll interval (target p95 ≤ 1.2 × the
//!    interval), W's against B's measured in the same run (target: W's p95
//!    under 5 s).
//! 2. Bytes A sends for a program taken by `--takers` stations of B at
//!    once: A's `pxhub_bytes_sent_total` over the file's size; target 1.00
//!    (one transfer, whoever takes it); every take byte-exact.
//! 3. The same program taken on a fourth hub, L, that reaches A through a
//!    link paced so that the file takes 5 s, which cuts every connection 2 s
//!    after it opened (so the fetch resumes with ranges): the bytes the link
//!    carried (both ways, as the pull bench counts them) over the file's
//!    size; target ≤ 1.05; byte-exact. A's own `pxhub_bytes_sent_total` is
//!    shown beside: it also counts what sat in loopback's socket buffers
//!    when the link cut.
//!
//! `--quick` (20 programs, 500 ms poll, 8 MiB taken by 3 stations) runs in
//! well under a minute.

#[path = "common/mod.rs"]
mod common;

use std::collections::HashMap;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{print_problems, print_table, pxhub, run, Hub, Row, MIB};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

struct Opts {
    programs: usize,
    poll_ms: u64,
    size: u64,
    takers: usize,
    keep: bool,
}

impl Opts {
    fn parse() -> Self {
        let mut o = Opts {
            programs: 100,
            poll_ms: 2000,
            size: 64 * MIB,
            takers: 10,
            keep: false,
        };
        let mut quick = false;
        let mut asked: HashMap<String, String> = HashMap::new();
        let mut args = std::env::args().skip(1);
        while let Some(a) = args.next() {
            match a.as_str() {
                "--quick" => quick = true,
                "--keep" => o.keep = true,
                "--bench" => {}
                "--programs" | "--poll-ms" | "--size-mib" | "--takers" => {
                    let v = args.next().unwrap_or_else(|| panic!("{a} needs a value"));
                    asked.insert(a, v);
                }
                other => panic!("unknown argument {other}; see the top of benches/peers.rs"),
            }
        }
        if quick {
            (o.programs, o.poll_ms, o.size, o.takers) = (20, 500, 8 * MIB, 3);
        }
        let num = |k: &str| {
            asked
                .get(k)
                .map(|v| v.parse::<u64>().unwrap_or_else(|_| panic!("{k} N")))
        };
        o.programs = num("--programs").map_or(o.programs, |n| n as usize);
        o.poll_ms = num("--poll-ms").unwrap_or(o.poll_ms);
        o.size = num("--size-mib").map_or(o.size, |n| n * MIB);
        o.takers = num("--takers").map_or(o.takers, |n| n as usize);
        o
    }
}

fn main() {
    let o = Opts::parse();
    common::main_with("bench-peers", o.keep, |root, rt| rt.block_on(bench(root, &o)));
}

/// `pxhub station add` on a hub's folder (before it serves).
fn add_station(dir: &Path, id: &str, kind: &str) {
    std::fs::create_dir_all(dir).expect("hub folder");
    run(pxhub(dir)
        .args([
            "station",
            "add",
            "--id",
            id,
            "--name",
            &format!("Đài {id}"),
            "--province",
            id,
            "--kind",
            kind,
        ])
        .stderr(Stdio::null()));
}

fn token(dir: &Path, args: &[&str]) -> String {
    run(pxhub(dir).args(["token", "issue"]).args(args).stderr(Stdio::null()))
        .trim()
        .to_owned()
}

/// A's `pxhub_bytes_sent_total`.
async fn bytes_sent(client: &reqwest::Client, hub: &Hub) -> u64 {
    let text = client
        .get(format!("{}/metrics", hub.base))
        .send()
        .await
        .expect("GET /metrics")
        .text()
        .await
        .expect("metrics");
    text.lines()
        .find_map(|l| l.strip_prefix("pxhub_bytes_sent_total "))
        .and_then(|v| v.trim().parse().ok())
        .expect("pxhub_bytes_sent_total")
}

/// `hub` (whose operator's token is `admin`) follows A as `cum-2`.
async fn follow(client: &reqwest::Client, hub: &Hub, admin: &str, a: &Hub, peer_token: &str) {
    follow_at(client, hub, admin, &a.base, peer_token).await;
}

/// `hub` follows the hub at `url` as `cum-2`.
async fn follow_at(client: &reqwest::Client, hub: &Hub, admin: &str, url: &str, peer_token: &str) {
    let r = client
        .post(format!("{}/api/v1/peers", hub.base))
        .bearer_auth(admin)
        .json(&json!({"id": "cum-2", "name": "Cụm 2", "url": url, "token": peer_token}))
        .send()
        .await
        .expect("POST /api/v1/peers");
    assert_eq!(r.status().as_u16(), 201, "adding the peer");
}

/// Waits until A holds `n` webhook subscriptions (W's, made by its peer
/// worker when it first reads A).
async fn subscribed(client: &reqwest::Client, a: &Hub, admin: &str, n: usize) {
    for _ in 0..500 {
        let hooks: Value = client
            .get(format!("{}/api/v1/webhooks", a.base))
            .bearer_auth(admin)
            .send()
            .await
            .expect("GET /api/v1/webhooks")
            .json()
            .await
            .unwrap_or_default();
        if hooks["items"].as_array().map_or(0, Vec::len) == n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("W never subscribed to A's webhooks");
}

async fn bench(root: &Path, o: &Opts) -> Vec<String> {
    let client = reqwest::Client::new();
    let (dir_a, dir_b, dir_w, dir_l) = (root.join("a"), root.join("b"), root.join("w"), root.join("l"));
    add_station(&dir_a, "bench", "provincial");
    add_station(&dir_a, "cum-3", "peer");
    add_station(&dir_a, "cum-4", "peer");
    add_station(&dir_a, "cum-5", "peer");
    let peer_token = token(&dir_a, &["--station", "cum-3"]);
    let w_peer_token = token(&dir_a, &["--station", "cum-4"]);
    let l_peer_token = token(&dir_a, &["--station", "cum-5"]);
    let a_admin = token(&dir_a, &["--role", "admin"]);
    // A's webhooks may reach W on loopback.
    let a_env = [("PXHUB_WEBHOOK_ALLOW", "127.0.0.0/8".to_owned())];
    let a = Hub::serve(&dir_a, token(&dir_a, &["--station", "bench"]), &a_env);
    let mut takers = Vec::new();
    for i in 0..o.takers {
        add_station(&dir_b, &format!("dai-{i}"), "provincial");
        takers.push(token(&dir_b, &["--station", &format!("dai-{i}")]));
    }
    let admin = token(&dir_b, &["--role", "admin"]);
    let env = |wake: bool| {
        [
            ("PXHUB_PEER_POLL_MS", o.poll_ms.to_string()),
            ("PXHUB_WEBHOOK_ALLOW", "127.0.0.0/8".to_owned()),
            ("PXHUB_PEER_WAKE", wake.to_string()),
        ]
    };
    let b = Hub::serve(&dir_b, takers[0].clone(), &env(false));
    follow(&client, &b, &admin, &a, &peer_token).await;
    add_station(&dir_w, "dai-w", "provincial");
    let w_admin = token(&dir_w, &["--role", "admin"]);
    let w = Hub::serve(&dir_w, token(&dir_w, &["--station", "dai-w"]), &env(true));
    follow(&client, &w, &w_admin, &a, &w_peer_token).await;
    subscribed(&client, &a, &a_admin, 1).await;

    let mut problems = Vec::new();
    let mut rows = searchable(&client, &a, [&b, &w], o, &mut problems).await;
    rows.push(taken_once(&client, &a, &b, &takers, o, &mut problems).await);
    // L: polling only, reaching A through a link that cuts every 2 s.
    add_station(&dir_l, "dai-l", "provincial");
    let l_admin = token(&dir_l, &["--role", "admin"]);
    let l = Hub::serve(&dir_l, token(&dir_l, &["--station", "dai-l"]), &env(false));
    let upstream = a.base.trim_start_matches("http://").parse().expect("A's address");
    // A whole take would last 5 s: two cuts at least.
    let rate = o.size as f64 / 5.0;
    let link = common::link::start_link(upstream, rate, Duration::from_secs(2)).await;
    let through = format!("http://{}", link.addr);
    follow_at(&client, &l, &l_admin, &through, &l_peer_token).await;
    rows.push(taken_over_cuts(&client, &a, &l, o, (&link, rate), &mut problems).await);
    print_table(
        &format!(
            "Peer hubs: B polls A every {} ms (W too, and A's webhooks wake it); {} programs; {} MiB taken by {} stations",
            o.poll_ms,
            o.programs,
            o.size / MIB,
            o.takers
        ),
        &rows,
    );
    print_problems(&problems);
    a.print_log();
    b.print_log();
    w.print_log();
    l.print_log();
    problems
}

/// When each title appeared in `hub`'s search, from `start`, until `n`
/// appeared (or ten minutes passed).
fn watch(
    client: &reqwest::Client,
    hub: &Hub,
    n: usize,
    start: Instant,
) -> tokio::task::JoinHandle<HashMap<String, Duration>> {
    let (client, hub) = (
        client.clone(),
        Hub2 {
            base: hub.base.clone(),
            auth: hub.auth(),
        },
    );
    tokio::spawn(async move {
        let mut seen: HashMap<String, Duration> = HashMap::new();
        let deadline = Instant::now() + Duration::from_secs(600);
        while seen.len() < n && Instant::now() < deadline {
            for t in hub.titles(&client).await {
                seen.entry(t).or_insert_with(|| start.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        seen
    })
}

/// The p50 and p95 of the delays from publication to appearance.
fn quantiles(
    published: &HashMap<String, Duration>,
    seen: &HashMap<String, Duration>,
    hub: &str,
    problems: &mut Vec<String>,
) -> (f64, f64) {
    let mut delays: Vec<f64> = Vec::new();
    for (title, at) in published {
        match seen.get(title) {
            Some(s) => delays.push(s.saturating_sub(*at).as_secs_f64()),
            None => problems.push(format!("{title} never became searchable on {hub}")),
        }
    }
    delays.sort_by(f64::total_cmp);
    let pick = |q: f64| {
        delays
            .get(((delays.len() as f64 * q).ceil() as usize).saturating_sub(1))
            .copied()
            .unwrap_or(f64::NAN)
    };
    (pick(0.5), pick(0.95))
}

/// Scenario 1: publish on A, searchable on B (polling only) and on W
/// (woken by A's webhooks), the same programs at the same time.
async fn searchable(
    client: &reqwest::Client,
    a: &Hub,
    [b, w]: [&Hub; 2],
    o: &Opts,
    problems: &mut Vec<String>,
) -> Vec<Row> {
    let start = Instant::now();
    let n = o.programs;
    let (on_b, on_w) = (watch(client, b, n, start), watch(client, w, n, start));
    let mut published = HashMap::new();
    for i in 0..n {
        let title = format!("Tin số {i}");
        let id = a.new_program(client, &title, &[]).await;
        // Each "all clusters": only those reach B.
        let r = client
            .patch(format!("{}/api/v1/programs/{id}", a.base))
            .header("Authorization", a.auth())
            .json(&json!({"rights": {"audience": "all"}}))
            .send()
            .await
            .expect("PATCH rights");
        assert!(r.status().is_success(), "PATCH rights: {}", r.status());
        a.publish_small(client, &id).await;
        published.insert(title, start.elapsed());
        // Spread over about two poll intervals.
        tokio::time::sleep(Duration::from_millis(2 * o.poll_ms / n.max(1) as u64)).await;
    }
    let seen_b = on_b.await.expect("the watcher of B");
    let seen_w = on_w.await.expect("the watcher of W");
    let (p50, p95) = quantiles(&published, &seen_b, "B", problems);
    let (w50, w95) = quantiles(&published, &seen_w, "W", problems);
    let poll = o.poll_ms as f64 / 1000.0;
    let ratio = p95 / poll;
    vec![
        Row {
            scenario: format!("publish on A → searchable on B, {n} programs (polling only)"),
            hub: format!("p50 {p50:.2} s, p95 {p95:.2} s"),
            baseline: format!("poll interval {poll:.2} s"),
            ratio: Some(ratio),
            target: "p95 ≤ 1.20".into(),
            result: if ratio <= 1.2 { "PASS" } else { "MISS" }.into(),
        },
        Row {
            scenario: format!("publish on A → searchable on W, {n} programs (with webhooks)"),
            hub: format!("p50 {w50:.2} s, p95 {w95:.2} s"),
            baseline: format!("polling only (B, same run): p95 {p95:.2} s"),
            ratio: Some(w95 / p95),
            target: "p95 < 5 s".into(),
            result: if w95 < 5.0 { "PASS" } else { "MISS" }.into(),
        },
    ]
}

/// B's base and auth, for the watcher task.
struct Hub2 {
    base: String,
    auth: String,
}

impl Hub2 {
    async fn titles(&self, client: &reqwest::Client) -> Vec<String> {
        let url = format!("{}/api/v1/programs?origin=cum-2&limit=100&sort=newest", self.base);
        let Ok(r) = client.get(url).header("Authorization", &self.auth).send().await else {
            return Vec::new();
        };
        let body: Value = r.json().await.unwrap_or_default();
        body["items"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|p| p["title"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Scenario 2: one program of A taken by every taker of B at once.
async fn taken_once(
    client: &reqwest::Client,
    a: &Hub,
    b: &Hub,
    takers: &[String],
    o: &Opts,
    problems: &mut Vec<String>,
) -> Row {
    let title = "Phóng sự lớn";
    let id = a.new_program(client, title, &[]).await;
    client
        .patch(format!("{}/api/v1/programs/{id}", a.base))
        .header("Authorization", a.auth())
        .json(&json!({"rights": {"audience": "all"}}))
        .send()
        .await
        .expect("PATCH rights");
    let body: Vec<u8> = (0..o.size)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let want = hex::encode(Sha256::digest(&body));
    let r = client
        .put(format!("{}?filename=big.mp4", a.file_url(&id)))
        .header("Authorization", a.auth())
        .header("Content-Type", "video/mp4")
        .body(body)
        .send()
        .await
        .expect("PUT the master");
    assert!(r.status().is_success(), "PUT the master: {}", r.status());
    a.publish(client, &id).await;
    let mut mirror = None;
    for _ in 0..3000 {
        let url = format!("{}/api/v1/programs?origin=cum-2&q=phong+su+lon", b.base);
        let found: Value = client
            .get(url)
            .header("Authorization", b.auth())
            .send()
            .await
            .expect("search")
            .json()
            .await
            .unwrap_or_default();
        if let Some(id) = found["items"][0]["id"].as_str() {
            mirror = Some(id.to_owned());
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mirror = mirror.expect("the program reaches B");
    let before = bytes_sent(client, a).await;
    let url = format!("{}/api/v1/programs/{mirror}/files/master", b.base);
    let gets = takers.iter().map(|t| {
        let (client, url, t) = (client.clone(), url.clone(), t.clone());
        tokio::spawn(async move {
            let mut r = client.get(url).bearer_auth(t).send().await.expect("GET the mirror");
            let mut h = Sha256::new();
            while let Some(c) = r.chunk().await.expect("a chunk") {
                h.update(&c);
            }
            hex::encode(h.finalize())
        })
    });
    for got in futures_util::future::join_all(gets).await {
        if got.expect("a take") != want {
            problems.push("a take on B is not byte-exact".into());
        }
    }
    let sent = bytes_sent(client, a).await - before;
    let ratio = sent as f64 / o.size as f64;
    Row {
        scenario: format!("bytes A sends for a program taken by {} stations of B", takers.len()),
        hub: format!("{:.1} MiB", sent as f64 / MIB as f64),
        baseline: format!("file {:.1} MiB", o.size as f64 / MIB as f64),
        ratio: Some(ratio),
        target: "≤ 1.00".into(),
        result: if ratio <= 1.0 { "PASS" } else { "MISS" }.into(),
    }
}

/// The mirror on `hub` of A's program found by `q`, once there (60 s).
async fn mirror_on(client: &reqwest::Client, hub: &Hub, q: &str) -> String {
    for _ in 0..3000 {
        let url = format!("{}/api/v1/programs?origin=cum-2&q={q}", hub.base);
        let found: Value = client
            .get(url)
            .header("Authorization", hub.auth())
            .send()
            .await
            .expect("search")
            .json()
            .await
            .unwrap_or_default();
        if let Some(id) = found["items"][0]["id"].as_str() {
            return id.to_owned();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the program never reached {}", hub.base);
}

/// Scenario 3: scenario 2's program taken on L, whose link to A cuts every
/// 2 s: the fetch resumes with ranges; A's bytes over the file's.
async fn taken_over_cuts(
    client: &reqwest::Client,
    a: &Hub,
    l: &Hub,
    o: &Opts,
    (link, rate): (&common::link::Link, f64),
    problems: &mut Vec<String>,
) -> Row {
    let mirror = mirror_on(client, l, "phong+su+lon").await;
    let want: String = {
        let body: Vec<u8> = (0..o.size)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        hex::encode(Sha256::digest(&body))
    };
    use std::sync::atomic::Ordering::Relaxed;
    let carried = || link.forwarded.load(Relaxed) + link.returned.load(Relaxed);
    let (cuts, carried_before) = (link.cuts.load(Relaxed), carried());
    let before = bytes_sent(client, a).await;
    let url = format!("{}/api/v1/programs/{mirror}/files/master", l.base);
    let mut r = client
        .get(url)
        .header("Authorization", l.auth())
        .send()
        .await
        .expect("GET the mirror");
    if !r.status().is_success() {
        problems.push(format!("the take through the cutting link answered {}", r.status()));
    }
    let mut h = Sha256::new();
    while let Some(c) = r.chunk().await.expect("a chunk") {
        h.update(&c);
    }
    if hex::encode(h.finalize()) != want {
        problems.push("the take through the cutting link is not byte-exact".into());
    }
    let sent = bytes_sent(client, a).await - before;
    let (cuts, carried) = (link.cuts.load(Relaxed) - cuts, carried() - carried_before);
    if cuts == 0 {
        problems.push("the link never cut a connection during the take".into());
    }
    // What crossed the link (both ways, as the pull bench counts it); A's
    // own count also has what sat in loopback's socket buffers at a cut.
    let ratio = carried as f64 / o.size as f64;
    Row {
        scenario: format!(
            "bytes carried from A for a program taken on L over a link of {:.1} MB/s cut every 2 s ({cuts} cuts)",
            rate / 1e6
        ),
        hub: format!(
            "{:.1} MiB (A's bytes_sent {:.1} MiB)",
            carried as f64 / MIB as f64,
            sent as f64 / MIB as f64
        ),
        baseline: format!("file {:.1} MiB", o.size as f64 / MIB as f64),
        ratio: Some(ratio),
        target: "≤ 1.05".into(),
        result: if ratio <= 1.05 { "PASS" } else { "MISS" }.into(),
    }
}
