//! Push delivery over a poor link: `pxhub serve` pushes a master into a
//! station's SFTP server (asyncssh, tests/api/push_servers.py) through a TCP
//! proxy in this process (benches/common/link.rs) paced at 4 MB/s each way
//! that resets every connection 2 s after it opened.
//!
//! ```text
//! cargo bench --bench push -- [--size-mib 64] [--quick] [--keep]
//! ```
//!
//! Figures, in the same run:
//! 1. the bytes the proxy carried towards the server for the push through
//!    the link that resets, over the file's size (target ≤ 1.05: a cut
//!    transfer resumes from what the server holds, it does not start over);
//! 2. the same bytes over those of the same push through the same link
//!    without resets (what SSH and SFTP add to the file), for reference;
//! 3. the push's time through the link that resets over its time without
//!    resets, for reference.
//!
//! Every delivered file is checked byte-exact with its `.md5`. `--quick`
//! (16 MiB) runs in well under a minute. The Python with asyncssh is
//! `PXHUB_BENCH_PYTHON` or `target/pyenv/bin/python` (scripts/bench.sh
//! installs it through scripts/pyenv.sh).

#[path = "common/mod.rs"]
mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::link::start_link;
use common::{generate, issue_token, print_problems, print_table, pxhub, run, Hub, Proc, Row, MIB};

struct Opts {
    size: u64,
    keep: bool,
}

impl Opts {
    fn parse() -> Self {
        let mut o = Opts {
            size: 64 * MIB,
            keep: false,
        };
        let mut size = None;
        let mut args = std::env::args().skip(1);
        while let Some(a) = args.next() {
            match a.as_str() {
                "--size-mib" => {
                    size = Some(args.next().expect("--size-mib N").parse::<u64>().expect("--size-mib N") * MIB)
                }
                "--quick" => o.size = 16 * MIB,
                "--keep" => o.keep = true,
                "--bench" => {}
                other => panic!("unknown argument {other}; see the top of benches/push.rs"),
            }
        }
        o.size = size.unwrap_or(o.size);
        o
    }
}

const USER: &str = "station";
const PASSWORD: &str = "bench-password";

/// The SFTP server, its inbox and port.
fn sftp_server(root: &Path) -> (Proc, std::path::PathBuf, u16) {
    let python = std::env::var("PXHUB_BENCH_PYTHON").unwrap_or_else(|_| {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("target/pyenv/bin/python")
            .to_string_lossy()
            .into_owned()
    });
    let dir = root.join("station");
    std::fs::create_dir_all(dir.join("in")).expect("the server's folder");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/api/push_servers.py");
    let mut cmd = Command::new(&python);
    cmd.arg(script)
        .arg("sftp")
        .arg("--root")
        .arg(&dir)
        .args(["--user", USER, "--password", PASSWORD])
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut proc = Proc::spawn("the SFTP server", &mut cmd);
    let out = proc.child.stdout.take().expect("its output");
    let mut line = String::new();
    BufReader::new(out)
        .read_line(&mut line)
        .expect("the server says its port");
    let port = line
        .trim()
        .strip_prefix("PORT ")
        .unwrap_or_else(|| panic!("{python} with asyncssh did not start the server: {line:?}"))
        .parse()
        .expect("a port");
    (proc, dir.join("in"), port)
}

/// Station `taker` pushing what station `bench` publishes to `url`.
fn taker(hub: &Hub, rt: &tokio::runtime::Runtime, url: &str) -> String {
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
    let token = issue_token(&hub.dir, "taker");
    rt.block_on(async {
        let client = reqwest::Client::new();
        let r = client
            .post(format!("{}/api/v1/deliveries/targets", hub.base))
            .bearer_auth(&token)
            .json(&serde_json::json!({"kind": "sftp", "url": url, "username": USER, "secret": PASSWORD, "path": "in"}))
            .send()
            .await
            .expect("POST a target");
        assert_eq!(r.status().as_u16(), 201, "adding the target");
        let target: serde_json::Value = r.json().await.expect("the target");
        let r = client
            .post(format!("{}/api/v1/follows", hub.base))
            .bearer_auth(&token)
            .json(&serde_json::json!({"kind": "station", "value": "bench", "deliver": true, "target": target["id"]}))
            .send()
            .await
            .expect("POST a follow");
        assert_eq!(r.status().as_u16(), 201, "following");
    });
    token
}

/// Publishes a master of `size` bytes; waits for its push to be done.
/// Returns the file's SHA-256 and the seconds from publication to done.
fn push_one(
    hub: &Hub,
    rt: &tokio::runtime::Runtime,
    root: &Path,
    token: &str,
    size: u64,
    seed: u64,
) -> Result<(String, f64), String> {
    let src = root.join(format!("src-{seed}.bin"));
    let sha = generate(&src, size, seed);
    rt.block_on(async {
        let client = reqwest::Client::new();
        let program = hub.new_program(&client, &format!("Số {seed}"), &[]).await;
        let file = tokio::fs::File::open(&src).await.expect("open the source");
        let r = client
            .put(format!("{}?filename=so-{seed}.mp4", hub.file_url(&program)))
            .header("Authorization", hub.auth())
            .header("Content-Type", "video/mp4")
            .header("Content-Length", size)
            .body(reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::new(file)))
            .send()
            .await
            .expect("PUT a master");
        assert!(r.status().is_success(), "PUT a master: {}", r.status());
        let t = Instant::now();
        hub.publish(&client, &program).await;
        let _ = std::fs::remove_file(&src);
        for _ in 0..6000 {
            let list: serde_json::Value = client
                .get(format!("{}/api/v1/deliveries", hub.base))
                .bearer_auth(token)
                .send()
                .await
                .expect("GET deliveries")
                .json()
                .await
                .expect("the deliveries");
            let mine = list["items"]
                .as_array()
                .and_then(|a| a.iter().find(|d| d["program_id"] == program.as_str()).cloned());
            match mine {
                Some(d) if d["state"] == "done" => return Ok((sha, t.elapsed().as_secs_f64())),
                Some(d) if d["state"] == "failed" => return Err(format!("the push failed: {d}")),
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        Err("the push did not end within 10 minutes".into())
    })
}

/// The delivered `.mp4`'s SHA-256 and whether its `.md5` matches it.
fn delivered(inbox: &Path) -> Option<(String, bool)> {
    let file = std::fs::read_dir(inbox)
        .ok()?
        .flatten()
        .find(|e| e.file_name().to_string_lossy().ends_with(".mp4"))?;
    let bytes = std::fs::read(file.path()).ok()?;
    let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
    let md5 = std::fs::read_to_string(format!("{}.md5", file.path().display())).ok()?;
    let expected = format!(
        "{}  {}\n",
        hex::encode(<md5::Md5 as md5::Digest>::digest(&bytes)),
        file.file_name().to_string_lossy()
    );
    Some((sha, md5 == expected))
}

fn main() {
    let opts = Opts::parse();
    common::main_with("bench-push", opts.keep, |root, rt| bench(&opts, root, rt));
}

fn bench(opts: &Opts, root: &Path, rt: &tokio::runtime::Runtime) -> Vec<String> {
    let mut problems = Vec::new();
    let (rate, cut) = (4e6, Duration::from_secs(2));
    let (_server, inbox, port) = sftp_server(root);
    let upstream = format!("127.0.0.1:{port}").parse().expect("the server's address");
    let cutting = rt.block_on(start_link(upstream, rate, cut));
    let clean = rt.block_on(start_link(upstream, rate, Duration::from_secs(3600)));
    let env = [
        ("PXHUB_WEBHOOK_ALLOW", "127.0.0.0/8".to_owned()),
        ("PXHUB_PUSH_RETRY_MS", "100".to_owned()),
    ];
    let mut rows = Vec::new();
    let mut runs = Vec::new();
    for (i, link) in [&clean, &cutting].into_iter().enumerate() {
        let what = if i == 0 { "without resets" } else { "reset every 2 s" };
        eprintln!(
            "{} MiB pushed through a {:.0} MB/s link {what}",
            opts.size / MIB,
            rate / 1e6
        );
        let hub = Hub::start_with(&root.join(format!("hub-{i}")), &env);
        let token = taker(&hub, rt, &format!("sftp://{}", link.addr));
        for e in std::fs::read_dir(&inbox).into_iter().flatten().flatten() {
            let _ = std::fs::remove_file(e.path());
        }
        match push_one(&hub, rt, root, &token, opts.size, 7 + i as u64) {
            Ok((sha, secs)) => {
                let carried = link.forwarded.load(Ordering::Relaxed);
                let cuts = link.cuts.load(Ordering::Relaxed);
                eprintln!(
                    "   {secs:.1} s, {cuts} resets, {carried} bytes carried for {}",
                    opts.size
                );
                match delivered(&inbox) {
                    Some((got, md5_ok)) if got == sha && md5_ok => {}
                    Some((got, _)) if got == sha => problems.push(format!("{what}: the .md5 does not match")),
                    _ => problems.push(format!("{what}: the delivered file is missing or not byte-exact")),
                }
                if i == 1 && cuts == 0 {
                    problems.push("the link never reset a connection: make the file larger".into());
                }
                runs.push((carried, secs, cuts));
            }
            Err(e) => {
                problems.push(format!("{what}: {e}"));
                hub.print_log();
            }
        }
    }
    if let [(clean_bytes, clean_secs, _), (cut_bytes, cut_secs, cuts)] = runs[..] {
        let mib = |b: u64| format!("{:.1} MiB", b as f64 / MIB as f64);
        let ratio = cut_bytes as f64 / opts.size as f64;
        let scenario = |what: &str| {
            format!(
                "push {} MiB by SFTP over a {:.0} MB/s link reset every {} s ({cuts} resets): {what}",
                opts.size / MIB,
                rate / 1e6,
                cut.as_secs()
            )
        };
        rows.push(Row {
            scenario: scenario("bytes sent (vs the file's size)"),
            hub: mib(cut_bytes),
            baseline: mib(opts.size),
            ratio: Some(ratio),
            target: "≤ 1.05".into(),
            result: if ratio <= 1.05 { "PASS" } else { "MISS" }.into(),
        });
        rows.push(
            Row {
                scenario: scenario("bytes sent (vs the same push without resets)"),
                hub: mib(cut_bytes),
                baseline: mib(clean_bytes),
                ratio: Some(cut_bytes as f64 / clean_bytes as f64),
                target: String::new(),
                result: String::new(),
            }
            .reference(),
        );
        rows.push(
            Row {
                scenario: scenario("time from publication to done (vs the same push without resets)"),
                hub: format!("{cut_secs:.1} s"),
                baseline: format!("{clean_secs:.1} s"),
                ratio: Some(cut_secs / clean_secs),
                target: String::new(),
                result: String::new(),
            }
            .reference(),
        );
    }
    print_table("## Push delivery over a link that resets", &rows);
    print_problems(&problems);
    problems
}
