//! A person's download list handed to the station's pull agent (a follow of
//! kind `list`): the agent fetches what is on it, once each, and what is put
//! on it later by the next poll; the hub delivers only what the rights let
//! the station take.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::delivery::{output, pull, stderr};
use crate::helpers::{assert_problem, bytes, fields, id, program, TestApp};
use crate::web::{add_person, Browser};

const PASSWORD: &str = "mật khẩu thật dài";

/// The media files under `into` (not the agent's own folder, not sidecars,
/// not what was moved aside), by path.
fn media(into: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    fn walk(dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let (path, name) = (e.path(), e.file_name().to_string_lossy().into_owned());
            if name == ".pxhub" || name == "withdrawn" {
                continue;
            }
            if path.is_dir() {
                walk(&path, out);
            } else if !name.ends_with(".program.json") && !name.ends_with(".ebucore.xml") {
                out.push((path.clone(), std::fs::read(&path).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(into, &mut out);
    out.sort();
    out
}

/// The masters in place, as bytes, sorted.
fn delivered(into: &Path) -> Vec<Vec<u8>> {
    let mut got: Vec<Vec<u8>> = media(into).into_iter().map(|(_, b)| b).collect();
    got.sort();
    got
}

fn sorted(mut v: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    v.sort();
    v
}

async fn follows(app: &TestApp, token: &str) -> Vec<Value> {
    let r = app.get(token, "/api/v1/follows").await;
    assert_eq!(r.status(), StatusCode::OK);
    r.json::<Value>().await.unwrap()["items"].as_array().unwrap().clone()
}

async fn listed_ids(app: &TestApp, token: &str, follow: &str) -> Vec<String> {
    let r = app
        .get(token, &format!("/api/v1/follows/{follow}/programs?limit=100"))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect()
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_handed_to_the_agent_is_fetched_once_each_and_grows_by_the_next_poll() {
    let app = TestApp::spawn().await;
    let tn = app.station("thai-nguyen", "provincial").await;
    let cb = app.station("cao-bang", "provincial").await;
    add_person(&app, "cao-bang", "binh", "Lê Văn Bình", "editor", PASSWORD);
    let masters: Vec<Vec<u8>> = (0..3).map(|n| bytes(200_000 + n * 1000, 40 + n as u32)).collect();
    let mut ids = Vec::new();
    for (n, m) in masters.iter().enumerate() {
        let p = app
            .publish_with_master(&tn, &program(&format!("Phóng sự số {n}")), m.clone())
            .await;
        ids.push(id(&p).to_owned());
    }
    let gone = app
        .publish_with_master(&tn, &program("Sẽ thu hồi"), bytes(5000, 50))
        .await;
    let mut closed = program("Đã hết hạn khai thác");
    closed["rights"] = json!({"available_until": "2020-01-01T00:00:00Z"});
    let closed = app.publish_with_master(&tn, &closed, bytes(6000, 51)).await;

    let mut b = Browser::new(&app);
    b.sign_in("binh", PASSWORD).await;
    let csrf = b.session_csrf().await;
    for p in [&ids[0], &ids[1], &id(&gone).to_owned(), &id(&closed).to_owned()] {
        let r = b.post("/list/add", &[("csrf", &csrf), ("id", p)]).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
    }
    let page = b.text("/list").await;
    assert!(page.contains("action=\"/list/hand\""), "{page}");
    assert!(!page.contains("id=\"hand-state\""), "not handed yet: {page}");

    // Handed once, however often the button is pressed.
    for _ in 0..2 {
        let r = b.post("/list/hand", &[("csrf", &csrf)]).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(r.headers()["location"], "/list?done=handed#hand");
    }
    let page = b.text("/list?done=handed").await;
    assert!(
        page.contains("Đã giao danh sách tải cho trình nhận tự động của đài."),
        "{page}"
    );
    assert!(
        page.contains("id=\"hand-state\"") && page.contains("action=\"/list/stop\""),
        "{page}"
    );
    let all = follows(&app, &cb).await;
    assert_eq!(all.len(), 1, "{all:?}");
    let follow = all[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        (&all[0]["kind"], &all[0]["value"], &all[0]["deliver"]),
        (&json!("list"), &json!("binh"), &json!(true))
    );
    // Withdrawn, or out of its window: not delivered.
    let r = app
        .post(
            &tn,
            &format!("/api/v1/programs/{}/withdraw", id(&gone)),
            &json!({"reason": "sai"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(listed_ids(&app, &cb, &follow).await, [ids[0].clone(), ids[1].clone()]);
    // Another station's follow is not found.
    let r = app.get(&tn, &format!("/api/v1/follows/{follow}/programs")).await;
    assert_problem(r, StatusCode::NOT_FOUND, "not_found").await;

    // The agent fetches exactly what is on the list, byte for byte.
    let dir = tempfile::tempdir().unwrap();
    let into = dir.path().join("playout");
    let o = output(pull(&app.address, &cb, &into, &[])).await;
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(delivered(&into), sorted(masters[..2].to_vec()), "{}", stderr(&o));

    // Kept running, it gets what is put on the list later at its next poll,
    // and fetches nothing twice.
    let sent = app.metric("pxhub_bytes_sent_total").await;
    let child = pull(&app.address, &cb, &into, &["--follow", "--interval", "1"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let r = b.post("/list/add", &[("csrf", &csrf), ("id", &ids[2])]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    wait_until("the program put on the list arrives", || delivered(&into).len() == 3).await;
    // SAFETY: a signal to the child this test started.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    let o = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(delivered(&into), sorted(masters.clone()));
    assert_eq!(stderr(&o).matches("delivered: ").count(), 1, "{}", stderr(&o));
    assert_eq!(
        app.metric("pxhub_bytes_sent_total").await - sent,
        masters[2].len() as u64,
        "only the new program's bytes crossed"
    );
    let o = output(pull(&app.address, &cb, &into, &[])).await;
    assert!(
        o.status.success() && !stderr(&o).contains("delivered: "),
        "{}",
        stderr(&o)
    );

    // A program of the list withdrawn after delivery is moved aside (the
    // station's feed carries what is on its lists).
    let r = app
        .post(
            &tn,
            &format!("/api/v1/programs/{}/withdraw", ids[0]),
            &json!({"reason": "sai"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let o = output(pull(&app.address, &cb, &into, &[])).await;
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(delivered(&into), sorted(masters[1..].to_vec()), "{}", stderr(&o));
    assert!(stderr(&o).contains("withdrawn: "), "{}", stderr(&o));

    // Stopped on the page: the follow goes, what was delivered stays.
    let r = b.post("/list/stop", &[("csrf", &csrf)]).await;
    assert_eq!(r.headers()["location"], "/list?done=stopped#hand");
    let page = b.text("/list?done=stopped").await;
    assert!(page.contains("Đã thôi giao danh sách tải"), "{page}");
    assert!(page.contains("action=\"/list/hand\""), "{page}");
    assert!(follows(&app, &cb).await.is_empty());
    let _ = (ids, closed);
}

#[tokio::test]
async fn a_list_follow_names_a_person_of_the_station_and_is_never_pushed() {
    let app = TestApp::spawn().await;
    let tn = app.station("thai-nguyen", "provincial").await;
    let cb = app.station("cao-bang", "provincial").await;
    add_person(&app, "cao-bang", "binh", "Lê Văn Bình", "editor", PASSWORD);
    add_person(&app, "cao-bang", "khoa", "Khoa", "viewer", PASSWORD);
    add_person(&app, "thai-nguyen", "hoa", "Nguyễn Thị Hoa", "editor", PASSWORD);

    // Another station's person reads as nobody: the same answer.
    let mut said = Vec::new();
    for login in ["hoa", "nobody"] {
        let r = app
            .post(&cb, "/api/v1/follows", &json!({"kind": "list", "value": login}))
            .await;
        let p = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(fields(&p), ["value"], "{p}");
        said.push(p["errors"].clone());
    }
    assert_eq!(said[0], said[1]);
    assert!(
        said[0].to_string().contains("no person of the station has this login"),
        "{}",
        said[0]
    );
    for (body, field) in [
        (json!({"kind": "list", "value": "lê văn bình"}), "value"),
        (json!({"kind": "list", "value": "b"}), "value"),
        (json!({"kind": "list", "value": ""}), "value"),
        (
            json!({"kind": "list", "value": "binh", "deliver": true, "target": "t1"}),
            "target",
        ),
    ] {
        let r = app.post(&cb, "/api/v1/follows", &body).await;
        let p = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(fields(&p), [field], "{body}");
        if field == "target" {
            assert!(
                p.to_string().contains("a list is handed to the station's pull agent"),
                "{p}"
            );
        }
    }
    // The operator follows nothing.
    let r = app
        .post(&app.admin, "/api/v1/follows", &json!({"kind": "list", "value": "binh"}))
        .await;
    assert_problem(r, StatusCode::FORBIDDEN, "forbidden").await;
    assert!(follows(&app, &cb).await.is_empty(), "nothing changed");

    // A login once, whichever way it is written.
    let r = app
        .post(&cb, "/api/v1/follows", &json!({"kind": "list", "value": "binh"}))
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = app
        .post(&cb, "/api/v1/follows", &json!({"kind": "list", "value": " BINH "}))
        .await;
    assert_problem(r, StatusCode::CONFLICT, "already_following").await;
    let r = app
        .post(&tn, "/api/v1/follows", &json!({"kind": "list", "value": "hoa"}))
        .await;
    assert_eq!(r.status(), StatusCode::CREATED, "each station its own people");

    // A viewer is not offered the hand-over, and may not do it.
    let mut k = Browser::new(&app);
    k.sign_in("khoa", PASSWORD).await;
    let page = k.text("/list").await;
    assert!(!page.contains("/list/hand") && !page.contains("id=\"hand\""), "{page}");
    let csrf = k.session_csrf().await;
    for path in ["/list/hand", "/list/stop"] {
        let r = k.post(path, &[("csrf", &csrf)]).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
    }
    // Without the form's token, nothing.
    let mut b = Browser::new(&app);
    b.sign_in("binh", PASSWORD).await;
    let r = b.post("/list/stop", &[]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(follows(&app, &cb).await.len(), 1, "nothing changed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_is_named_by_the_stations_template_and_the_follows_cut_id() {
    let app = TestApp::spawn().await;
    let tn = app.station("thai-nguyen", "provincial").await;
    let cb = app.station("cao-bang", "provincial").await;
    add_person(&app, "cao-bang", "binh", "Lê Văn Bình", "editor", PASSWORD);
    let master = bytes(70_000, 60);
    let p = app
        .publish_with_master(&tn, &program("Phóng sự Mẫu Sơn"), master.clone())
        .await;
    let mut b = Browser::new(&app);
    b.sign_in("binh", PASSWORD).await;
    let csrf = b.session_csrf().await;
    let r = b.post("/list/add", &[("csrf", &csrf), ("id", id(&p))]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = app
        .post(
            &cb,
            "/api/v1/follows",
            &json!({"kind": "list", "value": "binh", "deliver": true, "cut_id": "4501"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
    // The page says the list is handed (the API made the follow).
    assert!(b.text("/list").await.contains("id=\"hand-state\""));

    let dir = tempfile::tempdir().unwrap();
    let into = dir.path().join("playout");
    let o = output(pull(
        &app.address,
        &cb,
        &into,
        &["--template", "{cut_id}/{title}.{ext}"],
    ))
    .await;
    assert!(o.status.success(), "{}", stderr(&o));
    let folder = into.join("4501");
    let got: Vec<PathBuf> = media(&into).into_iter().map(|(path, _)| path).collect();
    assert_eq!(got, [folder.join("Phóng sự Mẫu Sơn.mp3")], "{}", stderr(&o));
    assert!(std::fs::read(folder.join("Phóng sự Mẫu Sơn.mp3")).unwrap() == master);
    let sidecar: Value =
        serde_json::from_slice(&std::fs::read(folder.join("Phóng sự Mẫu Sơn.program.json")).unwrap()).unwrap();
    assert_eq!(sidecar["id"], p["id"]);
}
