//! The pull agent over poor links: a provincial station's `pxhub pull`
//! delivering what it follows from a `pxhub serve` on the local store.
//!
//! ```text
//! cargo bench --bench pull -- [--files 3] [--size-mib 64] [--loss-mib 32]
//!                             [--quick] [--keep]
//! ```
//!
//! 1. A link that drops: the agent downloads `--files` masters of
//!    `--size-mib` through a TCP proxy in this process (benches/common/link.rs)
//!    paced at 16 MB/s each way that resets every connection 2 s after it
//!    opened. Figure: the bytes the proxy carried (both ways) over the files'
//!    sizes (target ≤ 1.05); every file byte-exact, in one run of the agent.
//! 2. A link that loses packets: hub and agent in a network namespace this
//!    bench creates (`ip netns add`), on its `lo` (MTU 1500) shaped to 2 MB/s
//!    (`tc … tbf rate 16mbit`) and losing 1 % of packets at random. Where the
//!    kernel has `sch_netem` the loss is `tc netem loss 1%`; where it does not
//!    (this machine), an nftables rule drops 1 % of the packets (`numgen
//!    random mod 100 < 1 drop`), which is the same to TCP. Figures: the
//!    agent's rate with loss (the file's size over the whole run of the
//!    process) over what the link carries (one plain TCP connection on it,
//!    no loss, measured in the same run; target ≥ 0.9), over the link's
//!    nominal 2 MB/s (which counts IP headers: 1448 bytes of payload in
//!    1500), and over the agent's own rate on the same link without loss.
//!    Without `ip netns` (not root, or no namespaces) the rows say SKIPPED
//!    and why. No packet leaves the namespace: its only interface is
//!    its own `lo`.
//!
//! `--quick` (3 × 16 MiB, 8 MiB with loss) runs in well under a minute.

#[path = "common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::link::start_link;
use common::{generate, mb_per_s, print_problems, print_table, pxhub, run, Hub, Row, MIB};

struct Opts {
    files: u64,
    size: u64,
    loss_size: u64,
    keep: bool,
    quick: bool,
}

impl Opts {
    fn parse() -> Self {
        let mut o = Opts {
            files: 3,
            size: 64 * MIB,
            loss_size: 32 * MIB,
            keep: false,
            quick: false,
        };
        let (mut size, mut loss) = (None, None);
        let mut args = std::env::args().skip(1);
        while let Some(a) = args.next() {
            let mut value = |name: &str| args.next().unwrap_or_else(|| panic!("{name} needs a value"));
            match a.as_str() {
                "--files" => o.files = value(&a).parse().expect("--files N"),
                "--size-mib" => size = Some(value(&a).parse::<u64>().expect("--size-mib N") * MIB),
                "--loss-mib" => loss = Some(value(&a).parse::<u64>().expect("--loss-mib N") * MIB),
                "--quick" => o.quick = true,
                "--keep" => o.keep = true,
                "--bench" => {}
                other => panic!("unknown argument {other}; see the top of benches/pull.rs"),
            }
        }
        if o.quick {
            o.size = 16 * MIB;
            o.loss_size = 8 * MIB;
        }
        o.size = size.unwrap_or(o.size);
        o.loss_size = loss.unwrap_or(o.loss_size);
        o
    }
}

/// A station that takes: `taker`, its token, and a follow of station
/// `bench` with deliver on.
fn taker(hub: &Hub, rt: &tokio::runtime::Runtime) -> String {
    run(pxhub(&hub.dir)
        .args([
            "station",
            "add",
            "--id",
            "taker",
            "--name",
            "Taker",
            "--province",
            "Cao Bằng",
        ])
        .stderr(Stdio::null()));
    let token = run(pxhub(&hub.dir)
        .args(["token", "issue", "--station", "taker"])
        .stderr(Stdio::null()))
    .trim()
    .to_owned();
    rt.block_on(async {
        let r = reqwest::Client::new()
            .post(format!("{}/api/v1/follows", hub.base))
            .bearer_auth(&token)
            .json(&serde_json::json!({"kind": "station", "value": "bench", "deliver": true}))
            .send()
            .await
            .expect("POST /api/v1/follows");
        assert_eq!(r.status().as_u16(), 201, "following");
    });
    token
}

/// Publishes `count` programs of station `bench` with masters of `size`
/// bytes; returns the masters' SHA-256s.
fn publish(hub: &Hub, rt: &tokio::runtime::Runtime, root: &Path, count: u64, size: u64) -> Vec<String> {
    let client = reqwest::Client::new();
    (0..count)
        .map(|i| {
            let src = root.join(format!("src-{i}.bin"));
            let sha = generate(&src, size, 100 + i);
            rt.block_on(async {
                let program = hub.new_program(&client, &format!("Số {i}"), &[]).await;
                let file = tokio::fs::File::open(&src).await.expect("open the source");
                let r = client
                    .put(format!("{}?filename=so-{i}.mp4", hub.file_url(&program)))
                    .header("Authorization", hub.auth())
                    .header("Content-Type", "video/mp4")
                    .header("Content-Length", size)
                    .body(reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::new(file)))
                    .send()
                    .await
                    .expect("PUT a master");
                assert!(r.status().is_success(), "PUT a master: {}", r.status());
                hub.publish(&client, &program).await;
            });
            let _ = std::fs::remove_file(&src);
            sha
        })
        .collect()
}

/// The SHA-256s of the media files under `dir` (sidecars and state left out).
fn delivered(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if p.is_dir() {
                if name != ".pxhub" {
                    stack.push(p);
                }
            } else if name.ends_with(".mp4") {
                let mut f = std::fs::File::open(&p).expect("open a delivered file");
                let mut h = <sha2::Sha256 as sha2::Digest>::new();
                std::io::copy(&mut f, &mut h).expect("hash");
                out.push(hex::encode(sha2::Digest::finalize(h)));
            }
        }
    }
    out.sort();
    out
}

/// Runs the agent once; returns (exit ok, seconds, stderr).
fn agent(hub: &str, token: &str, into: &Path) -> (bool, f64, String) {
    let t = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_pxhub"))
        .args(["pull", "--hub", hub, "--into"])
        .arg(into)
        .args(["--retry-max", "2"])
        .env("PXHUB_TOKEN", token)
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("run pxhub pull");
    (
        out.status.success(),
        t.elapsed().as_secs_f64(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--inside-netns") {
        return inside_netns(&args[2..]);
    }
    let opts = Opts::parse();
    common::main_with("bench-pull", opts.keep, |root, rt| bench(&opts, root, rt));
}

fn bench(opts: &Opts, root: &Path, rt: &tokio::runtime::Runtime) -> Vec<String> {
    let mut problems = Vec::new();
    let mut rows = Vec::new();

    // ---- 1. a link that drops every 2 s
    let (rate, cut) = (16e6, Duration::from_secs(2));
    eprintln!(
        "1. {} × {} MiB through a {:.0} MB/s link reset every {:?}",
        opts.files,
        opts.size / MIB,
        rate / 1e6,
        cut
    );
    let hub = Hub::start(&root.join("hub"));
    let token = taker(&hub, rt);
    let mut shas = publish(&hub, rt, root, opts.files, opts.size);
    shas.sort();
    let upstream = hub
        .base
        .trim_start_matches("http://")
        .parse()
        .expect("the hub's address");
    let link = rt.block_on(start_link(upstream, rate, cut));
    let into = root.join("into-cut");
    let (ok, secs, err) = agent(&format!("http://{}", link.addr), &token, &into);
    let carried = link.forwarded.load(Ordering::Relaxed) + link.returned.load(Ordering::Relaxed);
    let cuts = link.cuts.load(Ordering::Relaxed);
    let total = opts.files * opts.size;
    eprintln!(
        "   {secs:.1} s, {cuts} resets, {} connections, {carried} bytes carried for {total}",
        link.connections.load(Ordering::Relaxed)
    );
    if !ok {
        problems.push(format!("the agent did not finish in one run through the link: {err}"));
    }
    if delivered(&into) != shas {
        problems.push("a file through the link is not byte-exact".into());
    }
    if cuts == 0 {
        problems.push("the link never reset a connection: make the files larger".into());
    }
    let ratio = carried as f64 / total as f64;
    rows.push(Row {
        scenario: format!(
            "1. pull {} × {} MiB over a {:.0} MB/s link reset every {} s ({cuts} resets): bytes carried (vs the files' sizes)",
            opts.files,
            opts.size / MIB,
            rate / 1e6,
            cut.as_secs()
        ),
        hub: format!("{:.1} MiB", carried as f64 / MIB as f64),
        baseline: format!("{:.1} MiB", total as f64 / MIB as f64),
        ratio: Some(ratio),
        target: "≤ 1.05".into(),
        result: if ratio <= 1.05 { "PASS" } else { "MISS" }.into(),
    });
    drop(hub);

    // ---- 2. a link that loses 1 % of its packets
    eprintln!(
        "2. {} MiB over a 2 MB/s link losing 1 % of packets",
        opts.loss_size / MIB
    );
    let scenario = |what: &str| {
        format!(
            "2. pull {} MiB over a 2 MB/s link (tbf) losing 1 % of packets: MB/s {what}",
            opts.loss_size / MIB
        )
    };
    match netns(root, opts.loss_size) {
        Ok((lossy, clean, link, how)) => {
            eprintln!("   {how}: {lossy:.2} MB/s with loss, {clean:.2} MB/s without, the link carries {link:.2} MB/s");
            let mbs = |x: f64| format!("{x:.2} MB/s");
            rows.push(Row::ratio(
                format!(
                    "{} ({how})",
                    scenario("vs what the link carries (plain TCP on it, no loss)")
                ),
                mbs(lossy),
                mbs(link),
                lossy / link,
                0.9,
            ));
            rows.push(Row::ratio(
                scenario("vs the link's nominal 2 MB/s (IP headers included)"),
                mbs(lossy),
                mbs(2.0),
                lossy / 2.0,
                0.9,
            ));
            rows.push(Row::ratio(
                scenario("vs the agent without loss on the same link"),
                mbs(lossy),
                mbs(clean),
                lossy / clean,
                0.9,
            ));
        }
        Err(why) => {
            eprintln!("   skipped: {why}");
            // Only a machine without namespaces or loss tools skips; a run
            // that failed inside is a problem.
            if !(why.starts_with("no network namespace") || why.starts_with("no netem and no nftables")) {
                problems.push(format!("the lossy link: {why}"));
            }
            rows.push(Row {
                scenario: scenario("vs the link's 2 MB/s"),
                hub: "–".into(),
                baseline: "–".into(),
                ratio: None,
                target: "≥ 0.90".into(),
                result: format!("SKIPPED ({why})"),
            });
        }
    }
    print_table("## Pull agent over poor links", &rows);
    print_problems(&problems);
    problems
}

/// A network namespace this bench made, deleted when dropped.
struct Netns(String);

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn sh(cmd: &mut Command) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{:?} failed: {}",
            cmd,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Scenario 2 in a namespace of its own; returns (MB/s with loss, MB/s
/// without, how the loss was made).
fn netns(root: &Path, size: u64) -> Result<(f64, f64, f64, String), String> {
    let name = format!("pxhub-bench-{}", std::process::id());
    sh(Command::new("ip").args(["netns", "add", &name])).map_err(|e| format!("no network namespace: {e}"))?;
    let ns = Netns(name);
    sh(Command::new("ip").args(["-n", &ns.0, "link", "set", "lo", "mtu", "1500", "up"]))?;
    let out = Command::new("ip")
        .args(["netns", "exec", &ns.0])
        .arg(std::env::current_exe().map_err(|e| e.to_string())?)
        .arg("--inside-netns")
        .arg(root.join("netns"))
        .arg(size.to_string())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .ok_or_else(|| format!("the run inside the namespace gave no result: {}", text.trim()))?;
    if let Some(why) = line.strip_prefix("ERROR ") {
        return Err(why.to_owned());
    }
    let mut parts = line.splitn(4, ' ');
    let mut figure = || -> Result<f64, String> {
        parts
            .next()
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| "a bad result".to_owned())
    };
    let (lossy, clean, link) = (figure()?, figure()?, figure()?);
    Ok((lossy, clean, link, parts.next().unwrap_or("").to_owned()))
}

/// Inside the namespace: a hub, a follow, the agent without and with loss.
/// Prints `RESULT <lossy MB/s> <clean MB/s> <how>` or `RESULT ERROR <why>`.
fn inside_netns(args: &[String]) {
    let dir = PathBuf::from(&args[0]);
    let size: u64 = args[1].parse().expect("a size");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let result = (|| -> Result<(f64, f64, f64, String), String> {
        let hub = Hub::start(&dir.join("hub"));
        let token = taker(&hub, &rt);
        let shas = publish(&hub, &rt, &dir, 1, size);
        sh(Command::new("tc").args([
            "qdisc", "add", "dev", "lo", "root", "handle", "1:", "tbf", "rate", "16mbit", "burst", "32kb", "latency",
            "100ms",
        ]))?;
        let link = raw_tcp(size).map_err(|e| format!("raw TCP over the shaped link: {e}"))?;
        let clean_into = dir.join("into-clean");
        let (ok, clean_secs, err) = agent(&hub.base, &token, &clean_into);
        if !ok || delivered(&clean_into) != shas {
            return Err(format!("the agent failed without loss: {err}"));
        }
        // netem where the kernel has it; an nftables rule where it does not.
        let how = if sh(Command::new("tc").args([
            "qdisc", "add", "dev", "lo", "parent", "1:1", "handle", "10:", "netem", "loss", "1%",
        ]))
        .is_ok()
        {
            "tc netem loss 1%".to_owned()
        } else {
            sh(Command::new("nft").args(["add", "table", "inet", "pxbench"]))
                .map_err(|e| format!("no netem and no nftables: {e}"))?;
            sh(Command::new("nft").args(["add chain inet pxbench out { type filter hook output priority 0 ; }"]))?;
            sh(Command::new("nft").args(["add rule inet pxbench out numgen random mod 100 < 1 drop"]))?;
            "no sch_netem in this kernel: nftables drops 1 %".to_owned()
        };
        let lossy_into = dir.join("into-lossy");
        let (ok, lossy_secs, err) = agent(&hub.base, &token, &lossy_into);
        if !ok || delivered(&lossy_into) != shas {
            return Err(format!("the agent failed with loss: {err}"));
        }
        eprintln!("   runs: {clean_secs:.2} s without loss, {lossy_secs:.2} s with loss");
        let mbs = |secs: f64| mb_per_s(size, Duration::from_secs_f64(secs));
        Ok((mbs(lossy_secs), mbs(clean_secs), link, how))
    })();
    common::stop_all_registered();
    match result {
        Ok((lossy, clean, link, how)) => println!("RESULT {lossy} {clean} {link} {how}"),
        Err(why) => println!("RESULT ERROR {why}"),
    }
}

/// What the shaped link carries: `size` bytes over one plain TCP
/// connection on the namespace's `lo` (no HTTP, no files), in MB/s.
fn raw_tcp(size: u64) -> std::io::Result<f64> {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let sender = std::thread::spawn(move || -> std::io::Result<()> {
        let (mut s, _) = listener.accept()?;
        let buf = vec![0u8; 64 * 1024];
        let mut left = size;
        while left > 0 {
            let n = left.min(buf.len() as u64) as usize;
            s.write_all(&buf[..n])?;
            left -= n as u64;
        }
        Ok(())
    });
    let t = Instant::now();
    let mut c = std::net::TcpStream::connect(addr)?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut got = 0u64;
    while got < size {
        match c.read(&mut buf)? {
            0 => break,
            n => got += n as u64,
        }
    }
    let secs = t.elapsed();
    sender
        .join()
        .map_err(|_| std::io::Error::other("the sender panicked"))??;
    Ok(mb_per_s(got, secs))
}
