//! The catalog survives its machine: the restore drill. The hub runs under
//! `litestream replicate -exec`, which streams the catalog's changes into
//! the S3 store (Garage) the media live in; the machine is killed, its data
//! folder destroyed, the catalog restored into a new folder with
//! `litestream restore`, and a new hub there, on the same media bucket,
//! must know everything that was acknowledged before the replication
//! interval, with the media byte-exact.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use pxhub::config::StorageSettings;
use pxhub::media::S3Bucket;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::helpers::{assert_problem, bytes, id, program, s3_storage, strict, PART};
use crate::procs::{admin_token, download_master, free_port, serve_env, takers, tus_resume, tus_upload, HubProcess};

/// The Litestream binary: `PXHUB_TEST_LITESTREAM` (scripts/test.sh installs
/// a pinned one into target/pyenv) or `litestream` on the PATH. Without it
/// the drill skips, unless the suite must run ([`strict`]).
pub fn litestream() -> Option<PathBuf> {
    let candidate = std::env::var_os("PXHUB_TEST_LITESTREAM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("litestream"));
    let works = Command::new(&candidate)
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if works {
        return Some(candidate);
    }
    assert!(
        !strict(),
        "the restore drill must run here: scripts/test.sh installs Litestream (PXHUB_TEST_LITESTREAM)"
    );
    eprintln!("litestream not found: skipping the restore drill (scripts/test.sh runs it)");
    None
}

/// How often Litestream ships the catalog's changes in the drill.
const SYNC_INTERVAL: &str = "1s";

/// A `litestream.yml` that replicates the catalog at `db` into `path`
/// of the media bucket (beside the hub's `blobs/`, which the sweeper alone
/// looks at).
pub(crate) fn litestream_config(db: &Path, bucket: &S3Bucket, path: &str) -> String {
    format!(
        "dbs:
  - path: {db}
    replicas:
      - type: s3
        endpoint: {endpoint}
        bucket: {bucket}
        path: {path}
        region: {region}
        force-path-style: true
        access-key-id: {key}
        secret-access-key: {secret}
        sync-interval: {SYNC_INTERVAL}
",
        db = db.display(),
        endpoint = bucket.endpoint,
        bucket = bucket.bucket,
        region = bucket.region,
        key = bucket.access_key_id,
        secret = bucket.secret_access_key.expose(),
    )
}

/// `litestream ARGS…` (never with the CA bundle variable some machines
/// set for other tools: Litestream would refuse a file it cannot parse).
pub(crate) fn litestream_cmd(bin: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(bin);
    cmd.args(args).env_remove("AWS_CA_BUNDLE");
    cmd
}

/// `litestream restore -config CONFIG -o OUT DB`: the replica's latest state.
pub(crate) fn restore(bin: &Path, config: &Path, db: &Path, out: &Path, check: bool) {
    let mut args = vec![
        "restore",
        "-config",
        config.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ];
    if check {
        args.extend(["-integrity-check", "full"]);
    }
    args.push(db.to_str().unwrap());
    let o = litestream_cmd(bin, &args).output().unwrap();
    assert!(
        o.status.success(),
        "litestream restore: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Whether the replica holds program `program` yet: restores it into a
/// scratch file and looks.
fn replica_has(bin: &Path, config: &Path, db: &Path, scratch: &Path, program: &str) -> bool {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", scratch.display()));
    }
    let o = litestream_cmd(
        bin,
        &[
            "restore",
            "-config",
            config.to_str().unwrap(),
            "-o",
            scratch.to_str().unwrap(),
            db.to_str().unwrap(),
        ],
    )
    .output()
    .unwrap();
    if !o.status.success() {
        return false;
    }
    let c = rusqlite::Connection::open(scratch).unwrap();
    c.query_row("SELECT count(*) FROM programs WHERE id = ?1", [program], |r| {
        r.get::<_, i64>(0)
    })
    .unwrap_or(0)
        == 1
}

/// How long after `since` the replica holds `program` (polled every 100 ms;
/// each look restores the replica, so the figure is an upper bound).
fn time_to_replica(bin: &Path, config: &Path, db: &Path, scratch: &Path, program: &str, since: Instant) -> Duration {
    while since.elapsed() < Duration::from_secs(60) {
        if replica_has(bin, config, db, scratch, program) {
            return since.elapsed();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("program {program} never reached the replica");
}

/// What the first machine acknowledged, to be found again.
struct Acknowledged {
    id: String,
    title: String,
    status: &'static str,
    master: Vec<u8>,
    takers: Vec<String>,
    rebroadcasts: usize,
}

#[tokio::test]
async fn the_catalog_is_restored_on_a_new_machine() {
    let Some(bin) = litestream() else { return };
    let Some(storage) = s3_storage() else { return };
    let StorageSettings::S3(bucket) = &storage else {
        unreachable!()
    };
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("old-machine");
    let new = dir.path().join("new-machine");
    let replica = format!("{}/catalog", bucket.prefix);
    let old_config = dir.path().join("old-litestream.yml");
    std::fs::write(
        &old_config,
        litestream_config(&old.join("catalog.db"), bucket, &replica),
    )
    .unwrap();

    // The first machine: stations and tokens on the command line, then the
    // hub under Litestream.
    std::fs::create_dir_all(&old).unwrap();
    let admin = admin_token(&old, &storage);
    let under_litestream = |data: &Path, config: &Path, log: &str| {
        let port = free_port();
        let mut cmd = litestream_cmd(
            &bin,
            &[
                "replicate",
                "-config",
                config.to_str().unwrap(),
                "-exec",
                &format!("{} serve", env!("CARGO_BIN_EXE_pxhub")),
            ],
        );
        cmd.envs(serve_env(data, port, &storage))
            .env("PXHUB_CATALOG_AUTOCHECKPOINT", "0");
        let log = dir.path().join(log);
        async move { HubProcess::start(cmd, port, &log).await }
    };
    let mut machine = under_litestream(&old, &old_config, "old.log").await;
    let app = machine.app(&admin, &old, &storage);
    let tn = app.station("thai-nguyen", "provincial").await;
    let cb = app.station("cao-bang", "provincial").await;
    let bk = app.station("bac-kan", "provincial").await;
    let vtv = app.station("vtv", "national").await;

    // Programs in every state, files single and resumable, small and in
    // several parts, takes and a rebroadcast.
    let mut written: Vec<Acknowledged> = Vec::new();
    for (i, (title, size, status, by_tus)) in [
        ("Thời sự sáng", 300_000, "published", false),
        ("Phóng sự Mẫu Sơn", PART + 777_777, "published", false),
        ("Dân ca Tày", 2 * PART + 10, "published", true),
        ("Bản nháp chưa phát", 50_000, "draft", false),
        ("Tin đã rút", 120_000, "withdrawn", false),
    ]
    .into_iter()
    .enumerate()
    {
        let p = app.create_program(&tn, &program(title)).await;
        let master = bytes(size, 100 + i as u32);
        if by_tus {
            tus_upload(&app, &tn, id(&p), &master, PART, None).await;
        } else {
            let r = app.put_master(&tn, id(&p), "bản tin.mp3", master.clone()).await;
            assert!(r.status().is_success(), "{}", r.text().await.unwrap());
        }
        if status != "draft" {
            let r = app
                .post(&tn, &format!("/api/v1/programs/{}/publish", id(&p)), &json!({}))
                .await;
            assert_eq!(r.status(), StatusCode::OK);
        }
        written.push(Acknowledged {
            id: id(&p).to_owned(),
            title: title.to_owned(),
            status,
            master,
            takers: Vec::new(),
            rebroadcasts: 0,
        });
    }
    for (w, stations) in written.iter_mut().zip([
        vec![("cao-bang", &cb), ("bac-kan", &bk)],
        vec![("cao-bang", &cb)],
        vec![("bac-kan", &bk)],
        vec![],
        vec![("cao-bang", &cb)],
    ]) {
        for (name, token) in stations {
            assert!(download_master(&app, token, &w.id).await == w.master);
            w.takers.push(name.to_owned());
        }
        w.takers.sort();
        // A take is acknowledged once the owner can see it.
        let deadline = Instant::now() + Duration::from_secs(10);
        while takers(&app, &tn, &w.id).await.0 != w.takers {
            assert!(Instant::now() < deadline, "takes of {} never appeared", w.title);
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
    }
    let r = app
        .post(
            &cb,
            &format!("/api/v1/programs/{}/rebroadcasts", written[0].id),
            &json!({"aired_at": "2026-03-01T12:00:00Z", "channel": "CBTV1"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    written[0].rebroadcasts = 1;
    let r = app
        .post(
            &tn,
            &format!("/api/v1/programs/{}/withdraw", written[4].id),
            &json!({"reason": "hết hạn"}),
        )
        .await;
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());

    // What the keys kept in the catalog sign: a search cursor, the change
    // feed and its Atom link.
    let first_page: Value = app.get(&cb, "/api/v1/programs?limit=1").await.json().await.unwrap();
    let cursor = first_page["next_cursor"].as_str().expect("a next page").to_owned();
    let feed: Value = app.get(&vtv, "/api/v1/feed").await.json().await.unwrap();
    let me: Value = app.get(&vtv, "/api/v1/me").await.json().await.unwrap();
    let feed_url = me["feed_url"].as_str().expect("a feed_url");
    let atom = feed_url[feed_url.find("/api/v1/").unwrap()..].to_owned();

    // A resumable upload left half-way, at a part boundary: its parts are
    // in the store, its state in the catalog.
    let pending = app.create_program(&tn, &program("Đang tải lên")).await;
    let pending_body = bytes(PART + 4321, 200);
    let pending_upload = tus_upload(&app, &tn, id(&pending), &pending_body, PART, Some(PART)).await;
    // Another, past a part boundary: its last 1000 bytes wait in the
    // machine's spool folder, not in the store.
    let tailed = app.create_program(&tn, &program("Đuôi trên đĩa cũ")).await;
    let tailed_body = bytes(PART + 5000, 201);
    let tailed_upload = tus_upload(&app, &tn, id(&tailed), &tailed_body, PART, Some(PART + 1000)).await;

    // The recovery point: how long after an acknowledged write the replica
    // holds it (a new program each time; the replica is restored to look).
    let scratch = dir.path().join("probe.db");
    let old_db = old.join("catalog.db");
    let mut rpo = Vec::new();
    for i in 0..5 {
        let p = app.create_program(&tn, &program(&format!("Đo RPO {i}"))).await;
        let written_at = Instant::now();
        let (b, c, d, s) = (bin.clone(), old_config.clone(), old_db.clone(), scratch.clone());
        let probe = id(&p).to_owned();
        rpo.push(
            tokio::task::spawn_blocking(move || time_to_replica(&b, &c, &d, &s, &probe, written_at))
                .await
                .unwrap(),
        );
        tokio::time::sleep(Duration::from_millis(300 * i)).await;
    }
    rpo.sort();
    eprintln!(
        "RPO (write acknowledged → in the replica, sync-interval {SYNC_INTERVAL}, {} samples): median {:.2} s, max {:.2} s",
        rpo.len(),
        rpo[rpo.len() / 2].as_secs_f64(),
        rpo[rpo.len() - 1].as_secs_f64()
    );
    // Everything above is now older than the replication interval; this
    // one, written a moment before the crash, may be lost.
    let last = app.create_program(&tn, &program("Viết ngay trước sự cố")).await;

    // The machine dies: hub and Litestream killed at once, its disk gone.
    machine.kill();
    std::fs::remove_dir_all(&old).unwrap();

    // A new machine: the same litestream.yml but for the folder, restore,
    // then the hub, again under Litestream, on the same media bucket.
    let new_config = dir.path().join("new-litestream.yml");
    std::fs::write(
        &new_config,
        litestream_config(&new.join("catalog.db"), bucket, &replica),
    )
    .unwrap();
    std::fs::create_dir_all(&new).unwrap();
    restore(
        &bin,
        &new_config,
        &new.join("catalog.db"),
        &new.join("catalog.db"),
        true,
    );
    let mut machine = under_litestream(&new, &new_config, "new.log").await;
    let app = machine.app(&admin, &new, &storage);

    for w in &written {
        let got: Value = app
            .get(&tn, &format!("/api/v1/programs/{}", w.id))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(got["title"], w.title.as_str(), "{got}");
        assert_eq!(got["status"], w.status, "{got}");
        assert_eq!(got["files"][0]["sha256"], hex::encode(Sha256::digest(&w.master)));
        let (who, t) = takers(&app, &tn, &w.id).await;
        assert_eq!(who, w.takers, "takes of {}", w.title);
        assert_eq!(t["rebroadcasts"].as_array().unwrap().len(), w.rebroadcasts);
        assert!(
            download_master(&app, &tn, &w.id).await == w.master,
            "{} byte-exact",
            w.title
        );
        if w.status == "withdrawn" {
            let r = app.get(&cb, &format!("/api/v1/programs/{}/files/master", w.id)).await;
            assert_eq!(r.status(), StatusCode::GONE, "withdrawn for the partners");
        }
    }
    // The cursor, the feed and the Atom link of before still work.
    let second_page: Value = app
        .get(&cb, &format!("/api/v1/programs?limit=1&cursor={cursor}"))
        .await
        .json()
        .await
        .unwrap();
    let second = second_page["items"][0]["id"].as_str().expect("the second page");
    assert_ne!(second, first_page["items"][0]["id"].as_str().unwrap());
    // Every event of before, once and in order, at the head of the feed
    // (the new machine's analysis may add `file.analyzed` events after them,
    // and each event carries its program as it is now).
    let feed_again: Value = app.get(&vtv, "/api/v1/feed").await.json().await.unwrap();
    let events = |feed: &Value| -> Vec<(Value, Value, Value, Value)> {
        feed["items"]
            .as_array()
            .expect("feed items")
            .iter()
            .map(|e| {
                (
                    e["seq"].clone(),
                    e["type"].clone(),
                    e["program_id"].clone(),
                    e["at"].clone(),
                )
            })
            .collect()
    };
    let (before, after) = (events(&feed), events(&feed_again));
    assert!(!before.is_empty(), "the feed had events before the crash");
    assert!(
        after.starts_with(&before),
        "the feed of before, at the head of the new machine's: {before:?} / {after:?}"
    );
    let r = app.client.get(format!("{}{atom}", app.address)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "the Atom feed with its key");
    // Partners find the published ones (the search index is rebuilt).
    let found = app.find(&cb, "q=phong+su").await;
    assert_eq!(found, [written[1].id.clone()]);
    // The half-done upload resumes where it stopped and completes.
    tus_resume(&app, &tn, &pending_upload, &pending_body, PART, None).await;
    assert!(download_master(&app, &tn, id(&pending)).await == pending_body);
    // The other cannot go on (its tail was on the old disk): it is dropped
    // with 410, and a new upload of the file completes.
    let r = app
        .request(reqwest::Method::PATCH, Some(&tn), &tailed_upload)
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Offset", (PART + 1000).to_string())
        .header("Content-Type", "application/offset+octet-stream")
        .body(tailed_body[PART + 1000..].to_vec())
        .send()
        .await
        .unwrap();
    assert_problem(r, StatusCode::GONE, "upload_expired").await;
    let r = app
        .request(reqwest::Method::HEAD, Some(&tn), &tailed_upload)
        .header("Tus-Resumable", "1.0.0")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    tus_upload(&app, &tn, id(&tailed), &tailed_body, PART, None).await;
    assert!(download_master(&app, &tn, id(&tailed)).await == tailed_body);
    let lost_last = app.get(&tn, &format!("/api/v1/programs/{}", id(&last))).await.status() == StatusCode::NOT_FOUND;
    eprintln!(
        "the write made just before the crash was {}",
        if lost_last {
            "lost (younger than the replication)"
        } else {
            "kept"
        }
    );

    // Every object the restored catalog names is there and whole.
    let o = Command::new(env!("CARGO_BIN_EXE_pxhub"))
        .arg("--data-dir")
        .arg(&new)
        .arg("scrub")
        .envs(crate::helpers::storage_env(&storage))
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "scrub: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );

    // The new machine works and replicates in turn: a new program reaches
    // the replica, and a further restore finds it.
    let after = app.create_program(&tn, &program("Sau khi khôi phục")).await;
    let r = app.put_master(&tn, id(&after), "mới.mp3", bytes(70_000, 300)).await;
    assert!(r.status().is_success());
    let (b, c, d, s) = (bin.clone(), new_config.clone(), new.join("catalog.db"), scratch.clone());
    let probe = id(&after).to_owned();
    tokio::task::spawn_blocking(move || time_to_replica(&b, &c, &d, &s, &probe, Instant::now()))
        .await
        .unwrap();
    machine.stop();
    // Neither Litestream (`level=ERROR`) nor the hub logged an error.
    let log = machine.log_text();
    assert!(!log.contains("ERROR"), "the new machine's log: {log}");
}
