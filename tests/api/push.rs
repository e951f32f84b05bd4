//! Push delivery into a station's own servers, real ones on loopback:
//! asyncssh's SFTP server and pyftpdlib's FTP server (tests/api/
//! push_servers.py, in the Python of scripts/pyenv.sh), and a second bucket
//! on the test Garage. Byte-exact, `NAME.md5` last and matching, a cut
//! connection resumed, a refused password and a full disk said in the
//! delivery's `error`, and no partial file ever under the final name.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use md5::{Digest, Md5};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::io::AsyncBufReadExt;

use crate::analysis::{analysed_app, analysis_of, ffmpeg_or_skip, upload};
use crate::helpers::{assert_problem, bytes, fields, id, program, strict, TestApp};
use crate::link::start_link;
use crate::renditions::{add_profile, ebur128, r128, rendition, tone, wavinfo};
use crate::web::{add_person, Browser};

/// The Python with asyncssh and pyftpdlib, or `None` (a skip, unless strict).
fn python() -> Option<String> {
    let found = std::env::var("PXHUB_TEST_PYTHON").ok().filter(|p| {
        std::process::Command::new(p)
            .args(["-c", "import asyncssh, pyftpdlib"])
            .status()
            .is_ok_and(|s| s.success())
    });
    if found.is_none() {
        assert!(
            !strict(),
            "PXHUB_TEST_PYTHON must have asyncssh and pyftpdlib: scripts/test.sh installs them"
        );
        eprintln!("no Python with asyncssh and pyftpdlib: skipping a push test (scripts/test.sh runs it)");
    }
    found
}

/// A station's server: its folder (`in/` is where files go) and port.
pub struct Server {
    child: tokio::process::Child,
    pub port: u16,
    pub root: tempfile::TempDir,
}

impl Server {
    pub fn inbox(&self) -> PathBuf {
        self.root.path().join("in")
    }
}

pub const USER: &str = "station";
pub const PASSWORD: &str = "mật-khẩu-máy-chủ";

/// Starts `kind` (sftp, ftp) with `extra` arguments.
pub async fn server(python: &str, kind: &str, extra: &[&str]) -> Server {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir(root.path().join("in")).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/api/push_servers.py");
    let mut child = tokio::process::Command::new(python)
        .arg(script)
        .arg(kind)
        .arg("--root")
        .arg(root.path())
        .args(["--user", USER, "--password", PASSWORD])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the Python server starts");
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .expect("the server says its port")
        .unwrap()
        .unwrap();
    let port = line.strip_prefix("PORT ").unwrap().parse().unwrap();
    Server { child, port, root }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// A hub that retries pushes at once, with a provider and a taker station.
async fn hub() -> (TestApp, String, String) {
    let app = TestApp::spawn_with(|s| {
        s.push_retry_ms = 50;
        s.webhook_allow = crate::peers::NARROW_ALLOW.into();
    })
    .await;
    let hg = app.station("ha-giang", "provincial").await;
    let tn = app.station("thai-nguyen", "provincial").await;
    (app, hg, tn)
}

async fn add_target(app: &TestApp, token: &str, body: &Value) -> String {
    let r = app.post(token, "/api/v1/deliveries/targets", body).await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
    id(&r.json::<Value>().await.unwrap()).to_owned()
}

/// Thái Nguyên pushes every program of Hà Giang to `target`.
async fn follow_into(app: &TestApp, tn: &str, target: &str) {
    let r = app
        .post(
            tn,
            "/api/v1/follows",
            &json!({"kind": "station", "value": "ha-giang", "deliver": true, "target": target}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
    assert_eq!(r.json::<Value>().await.unwrap()["target"], target);
}

async fn deliveries(app: &TestApp, token: &str) -> Vec<Value> {
    let r = app.get(token, "/api/v1/deliveries").await;
    assert_eq!(r.status(), StatusCode::OK);
    r.json::<Value>().await.unwrap()["items"].as_array().unwrap().clone()
}

/// Waits until the station's only delivery satisfies `done`; returns it.
async fn wait_for(app: &TestApp, token: &str, secs: u64, done: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    for _ in 0..secs * 20 {
        let items = deliveries(app, token).await;
        if let [d] = items.as_slice() {
            if done(d) {
                return d.clone();
            }
            last = d.clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the delivery never got there: {last}");
}

fn md5_line(data: &[u8], name: &str) -> String {
    format!("{}  {name}\n", hex::encode(Md5::digest(data)))
}

/// Watches `dir` until stopped: every file under a delivered name (not
/// `.part`) must be whole (`size` bytes, or an `.md5` whose file is there
/// whole). Returns what it saw go wrong.
fn watch(dir: PathBuf, size: u64) -> (tokio::task::JoinHandle<Vec<String>>, tokio::sync::watch::Sender<bool>) {
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(async move {
        let mut wrong: Vec<String> = Vec::new();
        while !*stopped.borrow() {
            for e in std::fs::read_dir(&dir).unwrap().flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                let len = e.metadata().map(|m| m.len()).unwrap_or(0);
                if name.ends_with(".part") {
                    continue;
                }
                if let Some(file) = name.strip_suffix(".md5") {
                    if std::fs::metadata(dir.join(file)).map(|m| m.len()).ok() != Some(size) {
                        let what = format!("{name} before its file was whole");
                        if !wrong.contains(&what) {
                            wrong.push(what);
                        }
                    }
                } else if len != size {
                    let what = format!("{name} had {len} of {size} bytes");
                    if !wrong.contains(&what) {
                        wrong.push(what);
                    }
                }
            }
            tokio::select! {
                _ = stopped.changed() => {}
                _ = tokio::time::sleep(Duration::from_millis(5)) => {}
            }
        }
        wrong
    });
    (task, stop)
}

/// The delivered file and its `.md5` are in `dir`, exact, and nothing else.
fn assert_delivered(dir: &Path, name: &str, data: &[u8]) {
    assert_eq!(std::fs::read(dir.join(name)).unwrap(), data, "byte-exact");
    assert_eq!(
        std::fs::read_to_string(dir.join(format!("{name}.md5"))).unwrap(),
        md5_line(data, name)
    );
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, vec![name.to_owned(), format!("{name}.md5")], "no .part left");
}

#[tokio::test]
async fn targets_belong_to_their_station_and_never_show_their_secret() {
    let (app, hg, tn) = hub().await;
    add_profile(&app, &r128("bwf-mp2-r128", "bwf", "mp2")).await;
    let good = json!({"kind": "sftp", "url": "sftp://127.0.0.1:2222", "username": USER, "secret": "bí mật của đài",
        "path": "in", "profile": "bwf-mp2-r128"});
    let t = add_target(&app, &tn, &good).await;
    let r = app.get(&tn, "/api/v1/deliveries/targets").await;
    assert_eq!(r.status(), StatusCode::OK);
    let text = r.text().await.unwrap();
    assert!(!text.contains("bí mật"), "the secret is never shown: {text}");
    let list: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(list["items"][0]["id"], t.as_str());
    assert_eq!(list["items"][0]["profile"], "bwf-mp2-r128");
    assert_eq!(list["items"][0]["kind"], "sftp");

    // Another station sees none of it, cannot remove it, nor push into it.
    let theirs: Value = app.get(&hg, "/api/v1/deliveries/targets").await.json().await.unwrap();
    assert_eq!(theirs["items"], json!([]));
    let r = app.delete(&hg, &format!("/api/v1/deliveries/targets/{t}")).await;
    assert_problem(r, StatusCode::NOT_FOUND, "not_found").await;
    let r = app
        .post(
            &hg,
            "/api/v1/follows",
            &json!({"kind": "station", "value": "thai-nguyen", "deliver": true, "target": t}),
        )
        .await;
    let p = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(fields(&p), vec!["target"]);
    // A target needs `deliver`.
    let r = app
        .post(
            &tn,
            "/api/v1/follows",
            &json!({"kind": "station", "value": "ha-giang", "target": t}),
        )
        .await;
    let p = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(fields(&p), vec!["target"]);
    // The operator has no targets.
    let r = app.post(&app.admin, "/api/v1/deliveries/targets", &good).await;
    assert_problem(r, StatusCode::FORBIDDEN, "forbidden").await;

    // Bad input: each field named, nothing stored.
    for (patch, field) in [
        (json!({"url": "ftp://127.0.0.1:21"}), "url"),
        (json!({"url": "sftp://:pw@127.0.0.1"}), "url"),
        (json!({"url": "sftp://127.0.0.1/in"}), "url"),
        (json!({"url": "sftp://127.0.0.2:22"}), "url"),
        (json!({"url": "sftp://127.255.255.254"}), "url"),
        (json!({"username": ""}), "username"),
        (json!({"secret": ""}), "secret"),
        (json!({"path": "in/../../etc"}), "path"),
        (json!({"path": "in\u{0}x"}), "path"),
        (json!({"profile": "Bad Profile"}), "profile"),
        (json!({"profile": "no-such-profile"}), "profile"),
        (json!({"template": "in/{cut_id}.{ext}"}), "template"),
        (json!({"template": "{colour}.{ext}"}), "template"),
        (
            json!({"kind": "s3", "url": "http://127.0.0.1:3900", "path": "B"}),
            "path",
        ),
        (
            json!({"kind": "s3", "url": "http://127.0.0.1:3900?acl=x", "path": "bucket"}),
            "url",
        ),
    ] {
        let mut body = good.clone();
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        let r = app.post(&tn, "/api/v1/deliveries/targets", &body).await;
        let p = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(fields(&p), vec![field], "{body}");
    }
    let r = app
        .post(
            &tn,
            "/api/v1/deliveries/targets",
            &json!({"kind": "gopher", "url": "x", "username": "u", "secret": "s", "path": ""}),
        )
        .await;
    assert!(r.status().is_client_error());
    assert_eq!(app.count("push_targets"), 1);

    // At most 20 a station.
    for _ in 1..20 {
        add_target(&app, &tn, &good).await;
    }
    let r = app.post(&tn, "/api/v1/deliveries/targets", &good).await;
    assert_problem(r, StatusCode::CONFLICT, "too_many_targets").await;
    assert_eq!(app.count("push_targets"), 20);
    let all: Value = app.get(&tn, "/api/v1/deliveries/targets").await.json().await.unwrap();
    for other in all["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["id"] != t.as_str())
    {
        let r = app
            .delete(&tn, &format!("/api/v1/deliveries/targets/{}", id(other)))
            .await;
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
    }

    // Removed: gone from the list, and a second time not found.
    let r = app.delete(&tn, &format!("/api/v1/deliveries/targets/{t}")).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let list: Value = app.get(&tn, "/api/v1/deliveries/targets").await.json().await.unwrap();
    assert_eq!(list["items"], json!([]));
    let r = app.delete(&tn, &format!("/api/v1/deliveries/targets/{t}")).await;
    assert_problem(r, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn sftp_push_is_byte_exact_named_when_whole_and_md5_last() {
    let Some(py) = python() else { return };
    let sftp = server(&py, "sftp", &[]).await;
    let (app, hg, tn) = hub().await;
    let url = format!("sftp://127.0.0.1:{}", sftp.port);
    let t = add_target(
        &app,
        &tn,
        &json!({"kind": "sftp", "url": url, "username": USER, "secret": PASSWORD, "path": "in"}),
    )
    .await;
    follow_into(&app, &tn, &t).await;
    let data = bytes(3 * 1024 * 1024 + 17, 25);
    let (watcher, stop) = watch(sftp.inbox(), data.len() as u64);
    let p = app
        .publish_with_master(&hg, &program("Bản tin Hà Giang"), data.clone())
        .await;
    let d = wait_for(&app, &tn, 60, |d| d["state"] == "done").await;
    stop.send(true).unwrap();
    assert_eq!(watcher.await.unwrap(), Vec::<String>::new());
    let name = format!("{}-master.mp3", id(&p));
    assert_eq!(d["name"], name.as_str());
    assert_eq!(d["program_id"], id(&p));
    assert_eq!(d["target"], t.as_str());
    assert_eq!(d["bytes"], data.len());
    assert_eq!(d["error"], Value::Null);
    assert_delivered(&sftp.inbox(), &name, &data);
    // The host key was learnt at the first connection.
    let list: Value = app.get(&tn, "/api/v1/deliveries/targets").await.json().await.unwrap();
    assert!(
        list["items"][0]["host_key"].as_str().unwrap().starts_with("SHA256:"),
        "{list}"
    );

    // Hà Giang sees no delivery of Thái Nguyên's, and cannot redeliver it.
    assert_eq!(deliveries(&app, &hg).await, Vec::<Value>::new());
    let r = app
        .post(&hg, &format!("/api/v1/deliveries/{}/redeliver", id(&d)), &json!({}))
        .await;
    assert_problem(r, StatusCode::NOT_FOUND, "not_found").await;

    // A redelivery sends it again, whole.
    std::fs::remove_file(sftp.inbox().join(&name)).unwrap();
    std::fs::remove_file(sftp.inbox().join(format!("{name}.md5"))).unwrap();
    let before = d["updated_at"].clone();
    let r = app
        .post(&tn, &format!("/api/v1/deliveries/{}/redeliver", id(&d)), &json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["state"], "pending");
    wait_for(&app, &tn, 60, |d| d["state"] == "done" && d["updated_at"] != before).await;
    assert_delivered(&sftp.inbox(), &name, &data);
}

#[tokio::test]
async fn sftp_push_resumes_a_cut_connection() {
    let Some(py) = python() else { return };
    let sftp = server(&py, "sftp", &[]).await;
    // 1 MB/s, every connection cut after a second: a 3 MB file takes
    // several connections, each going on from what the server holds.
    let link = start_link(
        format!("127.0.0.1:{}", sftp.port).parse().unwrap(),
        1_000_000.0,
        Duration::from_secs(1),
    )
    .await;
    let (app, hg, tn) = hub().await;
    let url = format!("sftp://{}", link.addr);
    let t = add_target(
        &app,
        &tn,
        &json!({"kind": "sftp", "url": url, "username": USER, "secret": PASSWORD, "path": "in"}),
    )
    .await;
    follow_into(&app, &tn, &t).await;
    let data = bytes(3_000_000, 26);
    let (watcher, stop) = watch(sftp.inbox(), data.len() as u64);
    let p = app
        .publish_with_master(&hg, &program("Phóng sự dài"), data.clone())
        .await;
    let d = wait_for(&app, &tn, 90, |d| d["state"] == "done").await;
    stop.send(true).unwrap();
    assert_eq!(watcher.await.unwrap(), Vec::<String>::new());
    assert!(d["attempts"].as_u64().unwrap() >= 3, "{d}");
    assert!(link.cuts.load(std::sync::atomic::Ordering::Relaxed) >= 2);
    assert_delivered(&sftp.inbox(), &format!("{}-master.mp3", id(&p)), &data);
    // Resumed, not sent again from the start each time.
    let sent = link.forwarded.load(std::sync::atomic::Ordering::Relaxed);
    assert!(sent < data.len() as u64 * 3 / 2, "{sent} bytes sent for {}", data.len());
}

#[tokio::test]
async fn a_refused_password_and_a_full_disk_show_in_the_list_and_on_the_page() {
    let Some(py) = python() else { return };
    let sftp = server(&py, "sftp", &["--quota", "100000"]).await;
    let (app, hg, tn) = hub().await;
    let url = format!("sftp://127.0.0.1:{}", sftp.port);
    let t = add_target(
        &app,
        &tn,
        &json!({"kind": "sftp", "url": url, "username": USER, "secret": "sai mật khẩu", "path": "in"}),
    )
    .await;
    follow_into(&app, &tn, &t).await;
    let data = bytes(300_000, 27);
    app.publish_with_master(&hg, &program("Tin sáng"), data.clone()).await;
    let d = wait_for(&app, &tn, 30, |d| d["attempts"].as_u64() >= Some(2)).await;
    assert_eq!(d["error"], "the server refused the user name or password", "{d}");
    assert!(
        matches!(d["state"].as_str(), Some("pending" | "sending")),
        "it waits and tries again: {d}"
    );

    // My station shows it, with a button to send it again.
    add_person(
        &app,
        "thai-nguyen",
        "hoa",
        "Nguyễn Thị Hoa",
        "editor",
        "mật khẩu thật dài",
    );
    let mut b = Browser::new(&app);
    b.sign_in("hoa", "mật khẩu thật dài").await;
    let page = b.text("/station").await;
    assert!(
        page.contains("Máy chủ không nhận tên đăng nhập hoặc mật khẩu."),
        "{page}"
    );
    let page = b.text("/station?lang=en").await;
    assert!(page.contains("The server refused the user name or password."), "{page}");
    assert!(page.contains("action=\"/station/redeliver\""));
    assert!(page.contains(&format!("value=\"{}\"", id(&d))));

    // With the right password, a disk that fills: the error says so, and
    // the final name never appears.
    let r = app.delete(&tn, &format!("/api/v1/deliveries/targets/{t}")).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let gone = wait_for(&app, &tn, 10, |d| d["state"] == "failed").await;
    assert_eq!(gone["error"], "the target was removed");
    let t2 = add_target(
        &app,
        &tn,
        &json!({"kind": "sftp", "url": url, "username": USER, "secret": PASSWORD, "path": "in"}),
    )
    .await;
    let follows: Value = app.get(&tn, "/api/v1/follows").await.json().await.unwrap();
    let r = app
        .delete(&tn, &format!("/api/v1/follows/{}", id(&follows["items"][0])))
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    follow_into(&app, &tn, &t2).await;
    app.publish_with_master(&hg, &program("Tin trưa"), bytes(300_000, 28))
        .await;
    let full = async {
        for _ in 0..600 {
            let items = deliveries(&app, &tn).await;
            if let Some(d) = items
                .iter()
                .find(|d| d["target"] == t2.as_str() && d["attempts"].as_u64() >= Some(2))
            {
                return d.clone();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no attempt on the full disk");
    }
    .await;
    assert_eq!(
        full["error"], "the server could not write the file (is its disk full?)",
        "{full}"
    );
    let names: Vec<String> = std::fs::read_dir(sftp.inbox())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| n.ends_with(".part")), "{names:?}");
}

#[tokio::test]
async fn ftp_push_resumes_a_cut_connection() {
    let Some(py) = python() else { return };
    // Data at 1 MB/s; the control connection cut every second, which ends
    // the transfer under way.
    let ftp = server(&py, "ftp", &["--rate", "1000000"]).await;
    let link = start_link(
        format!("127.0.0.1:{}", ftp.port).parse().unwrap(),
        10_000_000.0,
        Duration::from_secs(1),
    )
    .await;
    let (app, hg, tn) = hub().await;
    let url = format!("ftp://{}", link.addr);
    let t = add_target(
        &app,
        &tn,
        &json!({"kind": "ftp", "url": url, "username": USER, "secret": PASSWORD, "path": "in"}),
    )
    .await;
    follow_into(&app, &tn, &t).await;
    let data = bytes(2_500_000, 29);
    let (watcher, stop) = watch(ftp.inbox(), data.len() as u64);
    let p = app.publish_with_master(&hg, &program("Ca nhạc"), data.clone()).await;
    let d = wait_for(&app, &tn, 90, |d| d["state"] == "done").await;
    stop.send(true).unwrap();
    assert_eq!(watcher.await.unwrap(), Vec::<String>::new());
    assert!(d["attempts"].as_u64().unwrap() >= 2, "{d}");
    assert_delivered(&ftp.inbox(), &format!("{}-master.mp3", id(&p)), &data);
}

#[tokio::test]
async fn ftp_wrong_password_is_said() {
    let Some(py) = python() else { return };
    let ftp = server(&py, "ftp", &[]).await;
    let (app, hg, tn) = hub().await;
    let url = format!("ftp://127.0.0.1:{}", ftp.port);
    let t = add_target(
        &app,
        &tn,
        &json!({"kind": "ftp", "url": url, "username": USER, "secret": "sai", "path": "in"}),
    )
    .await;
    follow_into(&app, &tn, &t).await;
    app.publish_with_master(&hg, &program("Tin"), bytes(1000, 30)).await;
    let d = wait_for(&app, &tn, 30, |d| {
        d["attempts"].as_u64() >= Some(1) && !d["error"].is_null()
    })
    .await;
    assert_eq!(d["error"], "the server refused the user name or password", "{d}");
    assert_eq!(std::fs::read_dir(ftp.inbox()).unwrap().count(), 0);
}

#[tokio::test]
async fn a_withdrawn_program_stops_its_pending_pushes_and_a_closed_window_waits() {
    // A target that refuses connections: the push stays pending.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let (app, hg, tn) = TestApp::spawn_with(|s| s.push_retry_ms = 60_000).await.with_two().await;
    let t = add_target(
        &app,
        &tn,
        &json!({"kind": "sftp", "url": format!("sftp://127.0.0.1:{port}"), "username": USER, "secret": PASSWORD, "path": "in"}),
    )
    .await;
    follow_into(&app, &tn, &t).await;
    let p = app.publish_with_master(&hg, &program("Tin"), bytes(1000, 31)).await;
    let d = wait_for(&app, &tn, 30, |d| d["error"] == "could not connect").await;
    assert_eq!(d["state"], "pending");
    let r = app
        .post(
            &hg,
            &format!("/api/v1/programs/{}/withdraw", id(&p)),
            &json!({"reason": "sai số liệu"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let d = wait_for(&app, &tn, 10, |d| d["state"] == "failed").await;
    assert_eq!(d["error"], "stopped: the program was withdrawn");

    // A program whose window opens later waits for it.
    let mut later = program("Phim tài liệu");
    later["rights"] = json!({"audience": "cluster", "available_from": "2099-01-01T00:00:00Z"});
    let q = app.publish_with_master(&hg, &later, bytes(1000, 32)).await;
    let items = deliveries(&app, &tn).await;
    let w = items.iter().find(|d| d["program_id"] == id(&q)).expect("queued");
    assert_eq!(w["state"], "waiting_window");
    assert_eq!(w["next_attempt_at"], "2099-01-01T00:00:00Z");

    // A page at a time, newest first.
    let page: Value = app.get(&tn, "/api/v1/deliveries?limit=1").await.json().await.unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(page["items"][0]["program_id"], id(&q));
    let cursor = page["next_cursor"].as_str().expect("a next page");
    let page: Value = app
        .get(&tn, &format!("/api/v1/deliveries?limit=1&cursor={cursor}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"][0]["program_id"], id(&p));
    assert_eq!(page["next_cursor"], Value::Null);
    for bad in ["nope", "bm9wZQ", "MTIzLnh5eg"] {
        let r = app.get(&tn, &format!("/api/v1/deliveries?cursor={bad}")).await;
        let p = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(fields(&p), vec!["cursor"]);
    }
}

#[tokio::test]
async fn a_transfer_under_way_is_not_redelivered_and_stops_when_withdrawn() {
    let Some(py) = python() else { return };
    let sftp = server(&py, "sftp", &[]).await;
    // 20 kB/s: the push is still under way when the station asks.
    let link = start_link(
        format!("127.0.0.1:{}", sftp.port).parse().unwrap(),
        20_000.0,
        Duration::from_secs(3600),
    )
    .await;
    let (app, hg, tn) = hub().await;
    let url = format!("sftp://{}", link.addr);
    let t = add_target(
        &app,
        &tn,
        &json!({"kind": "sftp", "url": url, "username": USER, "secret": PASSWORD, "path": "in"}),
    )
    .await;
    follow_into(&app, &tn, &t).await;
    let p = app
        .publish_with_master(&hg, &program("Tin dài"), bytes(2_000_000, 34))
        .await;
    let d = wait_for(&app, &tn, 30, |d| {
        d["state"] == "sending" && d["bytes"].as_u64() > Some(0)
    })
    .await;
    let r = app
        .post(&tn, &format!("/api/v1/deliveries/{}/redeliver", id(&d)), &json!({}))
        .await;
    assert_problem(r, StatusCode::CONFLICT, "delivery_sending").await;
    let r = app
        .post(
            &hg,
            &format!("/api/v1/programs/{}/withdraw", id(&p)),
            &json!({"reason": "sai"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let d = wait_for(&app, &tn, 10, |d| d["state"] == "failed").await;
    assert_eq!(d["error"], "stopped: the program was withdrawn");
    // The sender sees it within its next tick and lets go; nothing ever
    // takes the final name.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let names: Vec<String> = std::fs::read_dir(sftp.inbox())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| n.ends_with(".part")), "{names:?}");
    assert_eq!(deliveries(&app, &tn).await[0]["state"], "failed");
}

trait WithTwo {
    async fn with_two(self) -> (TestApp, String, String);
}

impl WithTwo for TestApp {
    async fn with_two(self) -> (TestApp, String, String) {
        let hg = self.station("ha-giang", "provincial").await;
        let tn = self.station("thai-nguyen", "provincial").await;
        (self, hg, tn)
    }
}

/// The station's bucket `bucket/prefix` on the test Garage, as the test
/// reads it.
fn station_bucket(
    app: &TestApp,
    store: &pxhub::media::S3Bucket,
    bucket: String,
    prefix: String,
) -> pxhub::media::MediaStore {
    pxhub::media::MediaStore::open(&pxhub::media::MediaSettings {
        store: pxhub::media::StoreLocation::S3(pxhub::media::S3Bucket {
            bucket,
            prefix,
            ..store.clone()
        }),
        part_size: crate::helpers::PART,
        spool_root: app.dir.path().join("spool"),
        timeouts: Default::default(),
    })
    .unwrap()
}

/// A target of station `token` in the test Garage's bucket `path`, through
/// `endpoint`.
async fn s3_target(app: &TestApp, token: &str, store: &pxhub::media::S3Bucket, endpoint: &str, path: &str) -> String {
    add_target(
        app,
        token,
        &json!({"kind": "s3", "url": format!("{endpoint}?region={}", store.region),
            "username": store.access_key_id, "secret": store.secret_access_key.expose(), "path": path}),
    )
    .await
}

async fn read_all(store: &pxhub::media::MediaStore, key: &str) -> Vec<u8> {
    use futures_util::TryStreamExt;
    let s = store.read(key, None).await.unwrap();
    s.try_fold(Vec::new(), |mut v, b| async move {
        v.extend_from_slice(&b);
        Ok(v)
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn s3_push_into_a_second_bucket() {
    let Some(pxhub::config::StorageSettings::S3(store)) = crate::helpers::s3_storage() else {
        return;
    };
    let bucket = std::env::var("PXHUB_TEST_S3_STATION_BUCKET").expect("scripts/garage.sh makes the station's bucket");
    let (app, hg, tn) = hub().await;
    let prefix = format!("vao-{}", uuid::Uuid::new_v4().simple());
    let t = s3_target(&app, &tn, &store, &store.endpoint, &format!("{bucket}/{prefix}")).await;
    follow_into(&app, &tn, &t).await;
    let data = bytes(12 * 1024 * 1024 + 5, 33);
    let p = app.publish_with_master(&hg, &program("Thời sự"), data.clone()).await;
    let d = wait_for(&app, &tn, 120, |d| d["state"] == "done").await;
    let name = format!("{}-master.mp3", id(&p));
    assert_eq!(d["name"], name.as_str());
    let (bucket_name, theirs_prefix) = (bucket.clone(), prefix.clone());
    let theirs = station_bucket(&app, &store, bucket, prefix);
    assert_eq!(read_all(&theirs, &name).await, data, "byte-exact");
    assert_eq!(
        read_all(&theirs, &format!("{name}.md5")).await,
        md5_line(&data, &name).into_bytes()
    );
    // No upload left open in the bucket.
    assert_eq!(theirs.pending_multiparts().await.unwrap().len(), 0);

    // A wrong secret: said, and nothing written.
    let wrong = add_target(
        &app,
        &tn,
        &json!({"kind": "s3", "url": format!("{}?region={}", store.endpoint, store.region),
            "username": store.access_key_id, "secret": "not-the-secret",
            "path": format!("{}/{}", bucket_name, theirs_prefix)}),
    )
    .await;
    let r = app
        .post(
            &tn,
            "/api/v1/follows",
            &json!({"kind": "genre", "value": "news", "deliver": true, "target": wrong}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    app.publish_with_master(&hg, &program("Thời sự tối"), bytes(1000, 35))
        .await;
    let refused = async {
        for _ in 0..600 {
            let items = deliveries(&app, &tn).await;
            if let Some(d) = items
                .iter()
                .find(|d| d["target"] == wrong.as_str() && !d["error"].is_null())
            {
                return d.clone();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no attempt with the wrong secret");
    }
    .await;
    assert_eq!(
        refused["error"], "the bucket refused the access key or secret",
        "{refused}"
    );
    assert_ne!(refused["state"], "done");
}

/// The station's house format reaches its playout's folder: Thái Nguyên's
/// target takes MPEG-1 Layer II broadcast WAV at −23 LUFS, its follow sets
/// cut 4501; a quiet master of Hà Giang's arrives rendered, as `4501.wav`
/// with `bext` and `cart`, byte for byte what the rendition's API serves
/// the station, and the push is the station's take.
#[tokio::test]
async fn a_push_sends_the_rendition_in_the_targets_profile_named_by_its_cut_id() {
    let Some(py) = python() else { return };
    if !ffmpeg_or_skip() {
        return;
    }
    let sftp = server(&py, "sftp", &[]).await;
    let app = analysed_app(|s| s.push_retry_ms = 50).await;
    let hg = app.station("ha-giang", "provincial").await;
    let tn = app.station("thai-nguyen", "provincial").await;
    add_profile(&app, &r128("bwf-mp2-r128", "bwf", "mp2")).await;
    let url = format!("sftp://127.0.0.1:{}", sftp.port);
    let t = add_target(
        &app,
        &tn,
        &json!({"kind": "sftp", "url": url, "username": USER, "secret": PASSWORD, "path": "in",
            "profile": "bwf-mp2-r128"}),
    )
    .await;
    // The profile is in use while the target names it.
    let r = app.delete(&app.admin, "/api/v1/profiles/bwf-mp2-r128").await;
    assert_problem(r, StatusCode::CONFLICT, "profile_in_use").await;
    let r = app
        .post(
            &tn,
            "/api/v1/follows",
            &json!({"kind": "station", "value": "ha-giang", "deliver": true, "target": t, "cut_id": "4501"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
    let dir = tempfile::tempdir().unwrap();
    let p = upload(
        &app,
        &hg,
        &program("Tin Ha Giang"),
        "audio/wav",
        "tin.wav",
        tone(dir.path(), "t.wav", -12.0, 6),
    )
    .await;
    assert_eq!(analysis_of(&app, &hg, &p, "master").await["state"], "done");
    let r = app
        .post(&hg, &format!("/api/v1/programs/{p}/publish"), &json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);

    let d = wait_for(&app, &tn, 120, |d| d["state"] == "done").await;
    assert_eq!(d["name"], "4501.wav", "{d}");
    assert_eq!(d["profile"], "bwf-mp2-r128", "{d}");
    // Delivered whole: one take, the push's.
    assert_eq!(app.count("takes"), 1);
    let delivered = std::fs::read(sftp.inbox().join("4501.wav")).unwrap();
    assert_eq!(d["size"], delivered.len());
    assert_eq!(
        std::fs::read_to_string(sftp.inbox().join("4501.wav.md5")).unwrap(),
        md5_line(&delivered, "4501.wav")
    );
    let served = rendition(&app, &tn, &p, "bwf-mp2-r128").await;
    assert_eq!(served.status(), StatusCode::OK);
    assert_eq!(
        served.bytes().await.unwrap(),
        delivered,
        "what the API serves the station"
    );
    let (i, tp) = ebur128(dir.path(), &delivered);
    assert!((i + 23.0).abs() <= 0.5 && tp <= -1.0, "{i} LUFS, {tp} dBTP");
    let path = dir.path().join("4501.wav");
    std::fs::write(&path, &delivered).unwrap();
    let w = wavinfo(&py, &path);
    assert_eq!(w["bext"]["description"], "Tin Ha Giang", "{w}");
    assert_eq!(w["cart"]["cut_id"], "4501", "{w}");
    assert_eq!(w["fmt"]["rate"], 48000, "{w}");
}

/// A target's template names the file; a master replaced after its push is
/// pushed again as a new delivery and replaces the file under the same name
/// (the first delivery stays done, the new one carries the new content).
#[tokio::test]
async fn a_replaced_master_is_pushed_again_under_the_targets_template_name() {
    let Some(py) = python() else { return };
    let sftp = server(&py, "sftp", &[]).await;
    let (app, hg, tn) = hub().await;
    let url = format!("sftp://127.0.0.1:{}", sftp.port);
    let t = add_target(
        &app,
        &tn,
        &json!({"kind": "sftp", "url": url, "username": USER, "secret": PASSWORD, "path": "in",
            "template": "{station} {title}.{ext}"}),
    )
    .await;
    follow_into(&app, &tn, &t).await;
    let first = bytes(700_000, 27);
    let p = app
        .publish_with_master(&hg, &program("Bản tin: sáng/thứ hai"), first.clone())
        .await;
    let name = "ha-giang Bản tin_ sáng_thứ hai.mp3";
    let d = wait_for(&app, &tn, 60, |d| d["state"] == "done").await;
    assert_eq!(d["name"], name);
    assert_delivered(&sftp.inbox(), name, &first);

    let second = bytes(900_000, 28);
    let r = app.put_master(&hg, id(&p), "bản tin (sửa).mp3", second.clone()).await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let mut items = Vec::new();
    for _ in 0..1200 {
        items = deliveries(&app, &tn).await;
        if items.len() == 2 && items[0]["state"] == "done" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(items.len(), 2, "{items:?}");
    assert_eq!(
        (&items[0]["state"], &items[0]["name"], &items[0]["size"]),
        (&json!("done"), &json!(name), &json!(second.len())),
        "the new content: {items:?}"
    );
    assert_eq!(items[1]["state"], "done", "the first push stands: {items:?}");
    assert_delivered(&sftp.inbox(), name, &second);
}

/// A push into a bucket whose link goes down for longer than the store
/// client's retries: the parts the bucket holds are kept with the delivery,
/// and once the link is back the push goes on from the part after them
/// (what crosses the link afterwards is less than what was left), whole and
/// byte-exact, no upload left open.
#[tokio::test]
async fn s3_push_resumes_from_the_parts_the_bucket_holds() {
    let Some(pxhub::config::StorageSettings::S3(store)) = crate::helpers::s3_storage() else {
        return;
    };
    let bucket = std::env::var("PXHUB_TEST_S3_STATION_BUCKET").expect("scripts/garage.sh makes the station's bucket");
    let garage = url::Url::parse(&store.endpoint).unwrap();
    let upstream = format!("127.0.0.1:{}", garage.port().unwrap()).parse().unwrap();
    let link = start_link(upstream, 16_000_000.0, Duration::from_secs(600)).await;
    let (app, hg, tn) = hub().await;
    let prefix = format!("vao-{}", uuid::Uuid::new_v4().simple());
    let t = s3_target(
        &app,
        &tn,
        &store,
        &format!("http://{}", link.addr),
        &format!("{bucket}/{prefix}"),
    )
    .await;
    follow_into(&app, &tn, &t).await;
    const PART: usize = 8 * 1024 * 1024;
    let data = bytes(3 * PART + 1000, 36);
    let p = app.publish_with_master(&hg, &program("Phóng sự"), data.clone()).await;
    // The first part is in the bucket: the link goes down.
    wait_for(&app, &tn, 60, |d| d["bytes"].as_u64().unwrap() >= PART as u64).await;
    link.down.store(true, std::sync::atomic::Ordering::Relaxed);
    let failed = wait_for(&app, &tn, 60, |d| !d["error"].is_null()).await;
    assert_ne!(failed["state"], "done", "{failed}");
    let kept: Value = {
        let conn = rusqlite::Connection::open(app.catalog_path()).unwrap();
        let json: String = conn
            .query_row("SELECT resume FROM push_deliveries", [], |r| r.get(0))
            .unwrap();
        serde_json::from_str(&json).unwrap()
    };
    let held = kept["parts"].as_array().unwrap().len();
    assert!(held >= 1, "{kept}");
    let sent_before = link.forwarded.load(std::sync::atomic::Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(2)).await;
    link.down.store(false, std::sync::atomic::Ordering::Relaxed);
    let d = wait_for(&app, &tn, 120, |d| d["state"] == "done").await;
    let after = link.forwarded.load(std::sync::atomic::Ordering::Relaxed) - sent_before;
    let left = (data.len() - held * PART) as u64;
    assert!(
        after < left + 1_000_000,
        "{after} bytes crossed after the outage for the {left} the bucket lacked"
    );
    let name = format!("{}-master.mp3", id(&p));
    assert_eq!(d["name"], name.as_str());
    let theirs = station_bucket(&app, &store, bucket, prefix);
    assert!(read_all(&theirs, &name).await == data, "byte-exact");
    assert_eq!(
        read_all(&theirs, &format!("{name}.md5")).await,
        md5_line(&data, &name).into_bytes()
    );
    assert_eq!(theirs.pending_multiparts().await.unwrap().len(), 0);
    assert_eq!(app.count("push_deliveries WHERE resume IS NOT NULL"), 0);
}
