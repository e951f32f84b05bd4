//! `pxhub pull` with a provincial station's token: it delivers what the
//! station follows, names files by its template, waits for windows, and
//! crosses a link that throttles and drops.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{bytes, id, program, TestApp};
use crate::link::start_link;

pub(crate) fn pull(hub: &str, token: &str, into: &Path, extra: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pxhub"));
    cmd.args(["pull", "--hub", hub, "--into"])
        .arg(into)
        .args(extra)
        .env("PXHUB_TOKEN", token)
        .env("RUST_BACKTRACE", "1");
    cmd
}

/// Runs `cmd` to its end off the async workers (a proxy may run on them).
pub(crate) async fn output(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

pub(crate) fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A hub with Thái Nguyên, which publishes, and Cao Bằng, whose agent pulls.
async fn two_stations() -> (TestApp, String, String) {
    let app = TestApp::spawn().await;
    let tn = app.station("thai-nguyen", "provincial").await;
    let cb = app.station("cao-bang", "provincial").await;
    (app, tn, cb)
}

async fn follow(app: &TestApp, token: &str, body: Value) -> Value {
    let r = app.post(token, "/api/v1/follows", &body).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    r.json().await.unwrap()
}

/// Publishes `body` with `master` (and, when given, a script).
async fn publish(app: &TestApp, token: &str, body: &Value, master: &[u8], script: Option<&str>) -> Value {
    let p = app.create_program(token, body).await;
    let r = app
        .put_master(token, id(&p), "Bản gốc: số 1?.mp3", master.to_vec())
        .await;
    assert!(r.status().is_success());
    if let Some(text) = script {
        let r = app
            .put_file(
                token,
                id(&p),
                "script",
                "text/plain",
                "kịch bản.txt",
                text.as_bytes().to_vec(),
            )
            .await;
        assert!(r.status().is_success());
    }
    let r = app
        .post(token, &format!("/api/v1/programs/{}/publish", id(&p)), &json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

fn episode(title: &str, aired: &str) -> Value {
    let mut p = program(title);
    p["series"] = json!("Nông nghiệp xanh");
    p["genre"] = json!("agriculture");
    p["first_aired_at"] = json!(aired);
    p
}

/// Publishes episodes Số 1 to Số 3 (aired 1 to 3 March) with masters of
/// `size` bytes, seeded `seed + n`; returns the masters.
async fn publish_three(app: &TestApp, token: &str, size: usize, seed: u32) -> Vec<Vec<u8>> {
    let mut masters = Vec::new();
    for n in 1..=3u32 {
        let m = bytes(size, seed + n);
        publish(
            app,
            token,
            &episode(&format!("Số {n}"), &format!("2024-03-0{n}T01:00:00Z")),
            &m,
            None,
        )
        .await;
        masters.push(m);
    }
    masters
}

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..300 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("never: {what}");
}

/// Waits for `child` to end, off the async workers.
async fn wait_child(mut child: Child) -> Output {
    tokio::task::spawn_blocking(move || {
        for _ in 0..300 {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = child.kill();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap()
}

fn sigterm(child: &Child) {
    // SAFETY: a signal to the child this test started.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stations_agent_delivers_what_it_follows_by_its_template() {
    let (app, tn, cb) = two_stations().await;
    let dir = tempfile::tempdir().unwrap();
    let into = dir.path().join("playout");

    // A template that leaves the folder is refused, and nothing is made.
    for bad in ["../{title}.{ext}", "/srv/{title}", "{nope}"] {
        let o = output(pull(&app.address, &cb, &into, &["--template", bad])).await;
        assert!(!o.status.success());
        assert!(stderr(&o).contains("--template"), "{}", stderr(&o));
        assert!(!stderr(&o).contains("backtrace"), "{}", stderr(&o));
        assert!(!into.exists());
    }

    follow(
        &app,
        &cb,
        json!({"kind": "series", "value": "nong nghiep xanh", "deliver": true, "roles": ["master", "script"]}),
    )
    .await;
    follow(&app, &cb, json!({"kind": "genre", "value": "news"})).await;
    let master = bytes(300_000, 7);
    let a = publish(
        &app,
        &tn,
        &episode("Số 12: lúa / ngô", "2024-03-12T20:30:00Z"),
        &master,
        Some("lời"),
    )
    .await;
    publish(&app, &tn, &program("Thời sự: theo dõi, không nhận"), b"xyz", None).await;
    let mut soon = episode("Số 13", "2024-03-19T20:30:00Z");
    let opens = chrono::Utc::now() + chrono::Duration::seconds(6);
    soon["rights"] = json!({"available_from": opens.to_rfc3339()});
    let later = bytes(1000, 8);
    let c = publish(&app, &tn, &soon, &later, None).await;

    let o = output(pull(&app.address, &cb, &into, &[])).await;
    assert!(o.status.success(), "{}", stderr(&o));
    let folder = into.join("Nông nghiệp xanh");
    let stem = "2024-03-13 Số 12_ lúa _ ngô";
    assert!(std::fs::read(folder.join(format!("{stem}.mp3"))).unwrap() == master);
    assert_eq!(
        std::fs::read_to_string(folder.join(format!("{stem}.script.txt"))).unwrap(),
        "lời"
    );
    let sidecar: Value =
        serde_json::from_slice(&std::fs::read(folder.join(format!("{stem}.program.json"))).unwrap()).unwrap();
    assert_eq!(sidecar["id"], a["id"]);
    let ebucore = std::fs::read_to_string(folder.join(format!("{stem}.ebucore.xml"))).unwrap();
    assert!(ebucore.contains("urn:ebu:metadata-schema:ebucore"));
    crate::probes::assert_valid_ebucore(&ebucore);
    let mut names: Vec<String> = std::fs::read_dir(&into)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [".pxhub", "Nông nghiệp xanh"],
        "followed without deliver: not delivered"
    );
    assert!(stderr(&o).contains("not yet: Số 13"), "{}", stderr(&o));
    // Each delivery is a take the origin sees.
    let takes: Value = app
        .get(&tn, &format!("/api/v1/programs/{}/takes", id(&a)))
        .await
        .json()
        .await
        .unwrap();
    let stations: Vec<&str> = takes["takes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["station"].as_str().unwrap())
        .collect();
    assert!(stations.contains(&"cao-bang"), "{takes}");

    // Kept running, it fetches the waiting program once its window opens,
    // and a SIGTERM ends it cleanly.
    let child = pull(&app.address, &cb, &into, &["--follow", "--interval", "1"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let c_file = folder.join("2024-03-20 Số 13.mp3");
    wait_until("the waiting program arrives", || c_file.exists()).await;
    assert!(std::fs::read(&c_file).unwrap() == later);
    sigterm(&child);
    let o = wait_child(child).await;
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("stopped"), "{}", stderr(&o));
    let _ = c;

    // Withdrawn: moved aside.
    let r = app
        .post(
            &tn,
            &format!("/api/v1/programs/{}/withdraw", id(&a)),
            &json!({"reason": "sai"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let o = output(pull(&app.address, &cb, &into, &[])).await;
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!folder.join(format!("{stem}.mp3")).exists());
    let aside = into.join("withdrawn/Nông nghiệp xanh");
    assert!(std::fs::read(aside.join(format!("{stem}.mp3"))).unwrap() == master);
    assert!(aside.join(format!("{stem}.program.json")).exists());
    assert!(c_file.exists(), "the other episode stays");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_joiner_gets_the_last_episodes_and_a_revoked_token_stops_the_agent() {
    let (app, tn, cb) = two_stations().await;
    let dir = tempfile::tempdir().unwrap();
    let into = dir.path().join("playout");
    let masters = publish_three(&app, &tn, 20_000, 0).await;
    follow(
        &app,
        &cb,
        json!({"kind": "series", "value": "Nông nghiệp xanh", "deliver": true, "backfill": 2}),
    )
    .await;
    let child = pull(&app.address, &cb, &into, &["--follow", "--interval", "1"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let folder = into.join("Nông nghiệp xanh");
    let file = |n: usize| folder.join(format!("2024-03-0{n} Số {n}.mp3"));
    wait_until("the back-fill", || file(2).exists() && file(3).exists()).await;
    assert!(!file(1).exists(), "only the last two");

    // The token is revoked while the agent runs: it stops, says why, and
    // keeps what it verified.
    let me: Value = app.get(&cb, "/api/v1/me").await.json().await.unwrap();
    let r = app
        .delete(
            &app.admin,
            &format!("/api/v1/stations/cao-bang/tokens/{}", me["token_id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    publish(&app, &tn, &episode("Số 4", "2024-03-04T01:00:00Z"), b"four", None).await;
    let o = wait_child(child).await;
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("refused the token"), "{err}");
    assert!(!err.contains("stack backtrace"), "{err}");
    assert!(std::fs::read(file(2)).unwrap() == masters[1]);
    assert!(std::fs::read(file(3)).unwrap() == masters[2]);
    // It read the whole feed before it stopped: the episode published
    // before the follow, beyond its back-fill, never came.
    assert!(!file(1).exists());
}

fn tree(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.path().is_dir() {
            out.extend(tree(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_a_link_that_throttles_and_drops_every_file_arrives_in_one_run() {
    let (app, tn, cb) = two_stations().await;
    follow(
        &app,
        &cb,
        json!({"kind": "station", "value": "thai-nguyen", "deliver": true}),
    )
    .await;
    let masters = publish_three(&app, &tn, 2_000_000, 100).await;
    // 4 MB/s, every connection reset 0.7 s after it opens: no file crosses
    // in one connection.
    let upstream = app.address.trim_start_matches("http://").parse().unwrap();
    let link = start_link(upstream, 4e6, Duration::from_millis(700)).await;
    let dir = tempfile::tempdir().unwrap();
    let into = dir.path().join("playout");
    let o = output(pull(
        &format!("http://{}", link.addr),
        &cb,
        &into,
        &["--retry-max", "2"],
    ))
    .await;
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    let (cuts, conns, carried) = (
        link.cuts.load(Ordering::Relaxed),
        link.connections.load(Ordering::Relaxed),
        link.returned.load(Ordering::Relaxed),
    );
    assert!(
        cuts >= 2,
        "the link dropped: {cuts} cuts, {conns} connections, {carried} bytes\n{err}"
    );
    assert!(err.contains("waiting: "), "{err}");
    assert!(!err.contains("backtrace"), "{err}");
    let folder = into.join("Nông nghiệp xanh");
    for (n, m) in masters.iter().enumerate() {
        let got = std::fs::read(folder.join(format!("2024-03-0{} Số {}.mp3", n + 1, n + 1))).unwrap();
        assert!(got == *m, "episode {} byte-exact", n + 1);
    }
    // Nothing half-written is left in the playout folder.
    let stray: Vec<_> = tree(&into)
        .into_iter()
        .filter(|p| !p.starts_with(into.join(".pxhub")) && p.to_string_lossy().contains("pxhub-tmp"))
        .collect();
    assert!(stray.is_empty(), "{stray:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigterm_mid_download_checkpoints_and_the_next_run_resumes() {
    let (app, tn, cb) = two_stations().await;
    follow(
        &app,
        &cb,
        json!({"kind": "genre", "value": "agriculture", "deliver": true}),
    )
    .await;
    let m = bytes(4_000_000, 9);
    let p = publish(&app, &tn, &episode("Số 1", "2024-03-01T01:00:00Z"), &m, None).await;
    let dir = tempfile::tempdir().unwrap();
    let into = dir.path().join("playout");
    let child = pull(&app.address, &cb, &into, &["--limit-rate", "1000000"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let sha = p["files"][0]["sha256"].as_str().unwrap().to_owned();
    let partial = into.join(".pxhub/partial").join(&sha);
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    wait_until("bytes arrive", || size(&partial) > 0).await;
    sigterm(&child);
    let o = wait_child(child).await;
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("stopped"), "{}", stderr(&o));
    let kept = size(&partial);
    assert!(kept > 0 && kept < m.len() as u64, "checkpointed {kept} bytes");

    let before = app.metric("pxhub_bytes_sent_total").await;
    let o = output(pull(&app.address, &cb, &into, &[])).await;
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(std::fs::read(into.join("Nông nghiệp xanh/2024-03-01 Số 1.mp3")).unwrap() == m);
    // It resumed: only the rest crossed (and the small JSON and XML answers).
    let sent = app.metric("pxhub_bytes_sent_total").await - before;
    assert!(
        sent < m.len() as u64 - kept + 100_000,
        "{sent} bytes sent, {kept} were kept"
    );
}

/// A hub's address that drops every connection until `up`, then forwards
/// them to `upstream`.
async fn door(listener: tokio::net::TcpListener, upstream: std::net::SocketAddr, up: Arc<AtomicBool>) {
    loop {
        let Ok((mut down, _)) = listener.accept().await else {
            continue;
        };
        if !up.load(Ordering::SeqCst) {
            drop(down);
            continue;
        }
        tokio::spawn(async move {
            if let Ok(mut hub) = tokio::net::TcpStream::connect(upstream).await {
                let _ = tokio::io::copy_bidirectional(&mut down, &mut hub).await;
            }
        });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_following_agent_waits_for_a_hub_that_is_down() {
    let (app, tn, cb) = two_stations().await;
    follow(
        &app,
        &cb,
        json!({"kind": "genre", "value": "agriculture", "deliver": true}),
    )
    .await;
    let m = bytes(50_000, 11);
    publish(&app, &tn, &episode("Số 1", "2024-03-01T01:00:00Z"), &m, None).await;
    // An address whose every connection drops: the hub is down.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let upstream = app.address.trim_start_matches("http://").parse().unwrap();
    let up = Arc::new(AtomicBool::new(false));
    tokio::spawn(door(listener, upstream, up.clone()));
    let dir = tempfile::tempdir().unwrap();
    let into = dir.path().join("playout");
    let mut child = pull(
        &format!("http://{addr}"),
        &cb,
        &into,
        &["--follow", "--interval", "1", "--retry-max", "1"],
    )
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(
        child.try_wait().unwrap().is_none(),
        "still running while the hub is down"
    );
    // The hub comes back.
    up.store(true, Ordering::SeqCst);
    let file = into.join("Nông nghiệp xanh/2024-03-01 Số 1.mp3");
    wait_until("the program arrives once the hub is back", || file.exists()).await;
    assert!(std::fs::read(&file).unwrap() == m);
    sigterm(&child);
    let o = wait_child(child).await;
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("waiting: the hub"), "{err}");
    assert_eq!(
        err.matches("waiting: the hub").count(),
        1,
        "said once while it lasted: {err}"
    );
}
