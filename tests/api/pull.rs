//! `pxhub pull` against a live hub.

use std::process::{Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::helpers::{bytes, id, program, TestApp};

fn pull(app: &TestApp, token: &str, into: &std::path::Path, extra: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pxhub"));
    cmd.args(["pull", "--hub", &app.address, "--into"])
        .arg(into)
        .args(extra)
        .env("PXHUB_TOKEN", token);
    cmd
}

async fn upload(app: &TestApp, token: &str, program_id: &str, name: &str, body: Vec<u8>) {
    let r = app.put_master(token, program_id, name, body).await;
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
}

#[tokio::test]
async fn the_pull_agent_takes_replaces_and_withdraws() {
    let app = TestApp::spawn().await;
    let tn = app.station("thai-nguyen", "provincial").await;
    let vtv = app.station("vtv", "national").await;
    let dir = tempfile::tempdir().unwrap();
    let into = dir.path().join("ingest");

    let a = app.create_program(&tn, &program("Thời sự tối")).await;
    let first = bytes(300_000, 1);
    upload(&app, &tn, id(&a), "Thời sự tối.mp4", first.clone()).await;
    app.post(&tn, &format!("/api/v1/programs/{}/publish", id(&a)), &json!({}))
        .await;
    let mut closed = program("Chưa tới giờ");
    closed["rights"] = json!({"available_from": "2999-01-01T00:00:00Z"});
    let b = app.create_program(&tn, &closed).await;
    upload(&app, &tn, id(&b), "sau.mp4", bytes(1000, 2)).await;
    app.post(&tn, &format!("/api/v1/programs/{}/publish", id(&b)), &json!({}))
        .await;

    let o = pull(&app, &vtv, &into, &[]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let home = into.join("thai-nguyen").join(id(&a));
    assert!(std::fs::read(home.join("Thời sự tối.mp4")).unwrap() == first);
    let sidecar: Value = serde_json::from_slice(&std::fs::read(home.join("program.json")).unwrap()).unwrap();
    assert_eq!(sidecar["id"], a["id"]);
    let ebucore = std::fs::read_to_string(home.join("ebucore.xml")).unwrap();
    assert!(ebucore.contains("Thời sự tối"));
    crate::probes::assert_valid_ebucore(&ebucore);
    assert!(
        !into.join("thai-nguyen").join(id(&b)).join("sau.mp4").exists(),
        "outside its window: not taken"
    );

    // Nothing new: nothing downloaded again.
    let before = app.metric("pxhub_bytes_sent_total").await;
    assert!(pull(&app, &vtv, &into, &[]).status().unwrap().success());
    assert_eq!(app.metric("pxhub_bytes_sent_total").await, before);

    // A replaced master replaces the file; a withdrawal moves the folder.
    let second = bytes(200_000, 3);
    upload(&app, &tn, id(&a), "Thời sự tối (sửa).mp4", second.clone()).await;
    assert!(pull(&app, &vtv, &into, &[]).status().unwrap().success());
    assert!(std::fs::read(home.join("Thời sự tối (sửa).mp4")).unwrap() == second);
    assert!(!home.join("Thời sự tối.mp4").exists());
    app.post(
        &tn,
        &format!("/api/v1/programs/{}/withdraw", id(&a)),
        &json!({"reason": "sai"}),
    )
    .await;
    assert!(pull(&app, &vtv, &into, &[]).status().unwrap().success());
    assert!(!home.exists());
    assert!(into
        .join("withdrawn/thai-nguyen")
        .join(id(&a))
        .join("Thời sự tối (sửa).mp4")
        .exists());

    // A station's agent delivers what it follows: nothing, here.
    let other = dir.path().join("other");
    let o = pull(&app, &tn, &other, &[]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let entries: Vec<_> = std::fs::read_dir(&other)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(entries, [std::ffi::OsString::from(".pxhub")]);
}

#[tokio::test]
async fn a_killed_pull_resumes_its_download_and_finishes() {
    let app = TestApp::spawn().await;
    let tn = app.station("thai-nguyen", "provincial").await;
    let vtv = app.station("vtv", "national").await;
    let dir = tempfile::tempdir().unwrap();
    let into = dir.path().join("ingest");
    let p = app.create_program(&tn, &program("Phim tài liệu dài")).await;
    let body = bytes(6 * 1024 * 1024, 4);
    upload(&app, &tn, id(&p), "phim.mp4", body.clone()).await;
    let p: Value = app
        .post(&tn, &format!("/api/v1/programs/{}/publish", id(&p)), &json!({}))
        .await
        .json()
        .await
        .unwrap();

    // Slowed to 2 MB/s and killed after a second: a partial download is left.
    let mut child = pull(&app, &vtv, &into, &["--limit-rate", "2000000"])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    child.kill().unwrap();
    child.wait().unwrap();
    let partial = into
        .join(".pxhub/partial")
        .join(p["files"][0]["sha256"].as_str().unwrap());
    let got = std::fs::metadata(&partial).map(|m| m.len()).unwrap_or(0);
    assert!(got > 0 && got < body.len() as u64, "killed mid-way with {got} bytes");

    let sent = || app.metric("pxhub_bytes_sent_total");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = sent().await;

    let o = pull(&app, &vtv, &into, &[]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let file = into.join("thai-nguyen").join(id(&p)).join("phim.mp4");
    let taken = std::fs::read(&file).unwrap();
    assert_eq!(
        hex::encode(Sha256::digest(&taken)),
        p["files"][0]["sha256"].as_str().unwrap()
    );
    assert!(taken == body);
    // It resumed: the second run asked only for what was missing.
    assert_eq!(sent().await - before, body.len() as u64 - got);
    // And the ledger counts one take.
    let t: Value = app
        .get(&tn, &format!("/api/v1/programs/{}/takes", id(&p)))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(t["takes"].as_array().unwrap().len(), 1);
    let r = app.get(&vtv, "/api/v1/feed").await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_master_named_like_a_sidecar_keeps_its_bytes() {
    let app = TestApp::spawn().await;
    let tn = app.station("thai-nguyen", "provincial").await;
    let vtv = app.station("vtv", "national").await;
    let dir = tempfile::tempdir().unwrap();
    let into = dir.path().join("ingest");
    let mut homes = Vec::new();
    for (i, name) in ["program.json", "ebucore.xml", "Program.JSON"].into_iter().enumerate() {
        let p = app.create_program(&tn, &program(&format!("Tên trùng {i}"))).await;
        let body = bytes(50_000, 40 + i as u32);
        upload(&app, &tn, id(&p), name, body.clone()).await;
        app.post(&tn, &format!("/api/v1/programs/{}/publish", id(&p)), &json!({}))
            .await;
        homes.push((into.join("thai-nguyen").join(id(&p)), name, body, p));
    }
    let o = pull(&app, &vtv, &into, &[]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for (home, name, body, p) in homes {
        assert_eq!(
            std::fs::read(home.join(format!("media-{name}"))).unwrap(),
            body,
            "{name}"
        );
        let sidecar: Value = serde_json::from_slice(&std::fs::read(home.join("program.json")).unwrap()).unwrap();
        assert_eq!(sidecar["id"], p["id"]);
        assert!(std::fs::read_to_string(home.join("ebucore.xml"))
            .unwrap()
            .contains("Tên trùng"));
    }
}
