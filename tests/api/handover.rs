//! The yearly hand-over: the hub moves from one station's machine (Thái
//! Nguyên) to another's (Cao Bằng) with nothing lost, by the sequence of
//! existing commands the README gives (Garage's, Litestream's, the hub's).
//!
//! Three Garage nodes, one per province, and the old hub under Litestream,
//! its media through Thái Nguyên's node. The new machine's Garage node joins
//! in Cao Bằng and Thái Nguyên's leaves the layout; uploads go on while the
//! cluster moves the data. Cut-over: the old hub stops, the new machine
//! restores the catalog from the replica and runs the hub (under Litestream,
//! through its own node) at a new address; once the layout is settled and
//! the new node holds every block, the old node is stopped. Then every
//! station, token, person, program, file (byte-exact) and take is on the
//! new hub, including an upload acknowledged just before the cut-over.

use std::path::Path;
use std::time::{Duration, Instant};

use pxhub::config::StorageSettings;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::cluster::{garage_bin, Cluster};
use crate::helpers::{bytes, id, program, PART};
use crate::procs::{admin_token, download_master, free_port, pxhub_cli, serve_env, takers, tus_upload, HubProcess};
use crate::restore::{litestream, litestream_cmd, litestream_config, restore};

/// The catalog's rows that a hand-over must carry, table by table, as text.
fn rows(db: &Path) -> Vec<(String, Vec<String>)> {
    let c = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    [
        "stations",
        "tokens",
        "people",
        "programs",
        "program_files",
        "media_objects",
        "takes",
        "hub_settings",
    ]
    .into_iter()
    .map(|t| {
        let cols: Vec<String> = c
            .prepare(&format!("SELECT name FROM pragma_table_info('{t}')"))
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let q: Vec<String> = cols.iter().map(|c| format!("quote(\"{c}\")")).collect();
        let mut all: Vec<String> = c
            .prepare(&format!("SELECT {} FROM {t}", q.join(" || ',' || ")))
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        all.sort();
        (t.to_owned(), all)
    })
    .collect()
}

#[tokio::test]
async fn the_hub_moves_to_another_station_with_nothing_lost() {
    let Some(garage) = garage_bin() else { return };
    let Some(lite) = litestream() else { return };
    let mut cluster = tokio::task::spawn_blocking(move || Cluster::start(garage))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = (dir.path().join("thai-nguyen"), dir.path().join("cao-bang"));
    std::fs::create_dir_all(&old).unwrap();
    std::fs::create_dir_all(&new).unwrap();

    let under_litestream = |data: &Path, config: &Path, storage: &StorageSettings, log: &str| {
        let port = free_port();
        let mut cmd = litestream_cmd(
            &lite,
            &[
                "replicate",
                "-config",
                config.to_str().unwrap(),
                "-exec",
                &format!("{} serve", env!("CARGO_BIN_EXE_pxhub")),
            ],
        );
        cmd.envs(serve_env(data, port, storage))
            .env("PXHUB_CATALOG_AUTOCHECKPOINT", "0");
        let log = dir.path().join(log);
        async move { HubProcess::start(cmd, port, &log).await }
    };

    // The old machine: the hub under Litestream, through Thái Nguyên's node.
    let old_storage = cluster.storage(0);
    let StorageSettings::S3(bucket) = &old_storage else {
        unreachable!()
    };
    let old_config = dir.path().join("old-litestream.yml");
    std::fs::write(
        &old_config,
        litestream_config(&old.join("catalog.db"), bucket, "catalog"),
    )
    .unwrap();
    let admin = admin_token(&old, &old_storage);
    let mut machine = under_litestream(&old, &old_config, &old_storage, "old.log").await;
    let app = machine.app(&admin, &old, &old_storage);
    let tn = app.station("thai-nguyen", "provincial").await;
    let cb = app.station("cao-bang", "provincial").await;
    let vtv = app.station("vtv", "national").await;
    let password = pxhub_cli(
        &old,
        &old_storage,
        &[
            "person",
            "add",
            "--station",
            "cao-bang",
            "--login",
            "hoa",
            "--name",
            "Nguyễn Thị Hoa",
        ],
    );
    assert!(!password.is_empty());
    // (People, like stations and tokens, are rows of the catalog: the
    // restored one must hold the same rows, password hashes included.)

    // A year of exchange: programs with files (in one request, in parts,
    // resumable) and takes.
    let mut kept: Vec<(String, Vec<u8>)> = Vec::new();
    for (i, (title, size, by_tus)) in [
        ("Thời sự tối", 200_000, false),
        ("Phóng sự Mẫu Sơn", 2 * PART + 333, false),
        ("Dân ca Tày", PART + 4_444, true),
    ]
    .into_iter()
    .enumerate()
    {
        let p = app.create_program(&tn, &program(title)).await;
        let master = bytes(size, 500 + i as u32);
        if by_tus {
            tus_upload(&app, &tn, id(&p), &master, PART, None).await;
        } else {
            let r = app.put_master(&tn, id(&p), "bản tin.mp3", master.clone()).await;
            assert!(r.status().is_success(), "{}", r.text().await.unwrap());
        }
        let r = app
            .post(&tn, &format!("/api/v1/programs/{}/publish", id(&p)), &json!({}))
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        for taker in [&cb, &vtv] {
            assert!(download_master(&app, taker, id(&p)).await == master);
        }
        kept.push((id(&p).to_owned(), master));
    }
    for (program, _) in &kept {
        let deadline = Instant::now() + Duration::from_secs(10);
        while takers(&app, &tn, program).await.0 != ["cao-bang", "vtv"] {
            assert!(Instant::now() < deadline, "takes of {program} never appeared");
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
    }

    // 1. The new machine's Garage node joins in Cao Bằng; Thái Nguyên's
    //    leaves the layout (it keeps serving until the data have moved).
    let (cluster, new_node) = tokio::task::spawn_blocking(move || {
        let k = cluster.add_node("cao-bang-2");
        let full = cluster.garage(k, &["node", "id", "-q"]).trim().to_owned();
        cluster.retry(0, &["node", "connect", &full]);
        let joining = full.split('@').next().unwrap().to_owned();
        let leaving = cluster.garage(0, &["node", "id", "-q"]).trim().to_owned();
        let leaving = leaving.split('@').next().unwrap();
        cluster.garage(0, &["layout", "assign", "-z", "cao-bang", "-c", "1G", &joining]);
        cluster.garage(0, &["layout", "remove", leaving]);
        cluster.garage(0, &["layout", "apply", "--version", "2"]);
        (cluster, k)
    })
    .await
    .unwrap();

    // 2. Work goes on meanwhile; the last upload is acknowledged just
    //    before the cut-over.
    let last_body = bytes(PART + 999, 600);
    let last = app.create_program(&tn, &program("Gửi ngay trước khi chuyển")).await;
    let r = app.put_master(&tn, id(&last), "cuối.mp3", last_body.clone()).await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
    let r = app
        .post(&tn, &format!("/api/v1/programs/{}/publish", id(&last)), &json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    kept.push((id(&last).to_owned(), last_body));

    // 3. Cut-over: the old hub stops (systemctl stop: SIGTERM to Litestream,
    //    which stops the hub and ships what is left).
    machine.stop();
    let old_rows = rows(&old.join("catalog.db"));

    // 4. The new machine: the catalog from the replica, then the hub under
    //    Litestream, through its own node, at its own address.
    let new_storage = cluster.storage(new_node);
    let StorageSettings::S3(new_bucket) = &new_storage else {
        unreachable!()
    };
    let new_config = dir.path().join("new-litestream.yml");
    std::fs::write(
        &new_config,
        litestream_config(&new.join("catalog.db"), new_bucket, "catalog"),
    )
    .unwrap();
    restore(
        &lite,
        &new_config,
        &new.join("catalog.db"),
        &new.join("catalog.db"),
        true,
    );
    assert_eq!(rows(&new.join("catalog.db")), old_rows, "the restored catalog differs");
    let mut machine = under_litestream(&new, &new_config, &new_storage, "new.log").await;
    let app = machine.app(&admin, &new, &new_storage);

    // 5. Once the layout is settled and the new node holds every block the
    //    old one held, the old node stops for good.
    let cluster = tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let mut asked = None::<Instant>;
        loop {
            let history = cluster.garage(1, &["layout", "history"]);
            let settled = history.contains("single live layout version");
            let (leaving, joined) = (cluster.blocks(0), cluster.blocks(new_node));
            if settled && !leaving.is_empty() && leaving.is_subset(&joined) {
                break;
            }
            if asked.is_none_or(|t| t.elapsed() > Duration::from_secs(5)) {
                cluster.retry(1, &["repair", "--all-nodes", "--yes", "tables"]);
                cluster.retry(new_node, &["repair", "--yes", "clear-resync-queue"]);
                cluster.retry(new_node, &["repair", "--yes", "blocks"]);
                asked = Some(Instant::now());
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "not drained: the new node holds {} of {} blocks; layout history:\n{history}",
                joined.intersection(&leaving).count(),
                leaving.len()
            );
            std::thread::sleep(Duration::from_millis(500));
        }
        eprintln!("drained in {:.1} s", started.elapsed().as_secs_f64());
        let mut cluster = cluster;
        cluster.kill_node(0);
        cluster
    })
    .await
    .unwrap();

    // Everything is there: the stations' tokens work, every program and
    // file (byte-exact, with Thái Nguyên's node gone), every take.
    for (program, body) in &kept {
        let got: Value = app
            .get(&tn, &format!("/api/v1/programs/{program}"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(got["files"][0]["sha256"], hex::encode(Sha256::digest(body)), "{got}");
        assert!(
            download_master(&app, &cb, program).await == *body,
            "{program} byte-exact"
        );
    }
    for (program, _) in &kept[..3] {
        let (who, _) = takers(&app, &tn, program).await;
        assert_eq!(who, ["cao-bang", "vtv"], "takes of {program}");
    }
    let r = app.get(&vtv, "/api/v1/me").await;
    assert_eq!(r.status(), StatusCode::OK);
    // Every object the catalog names is in the store, whole.
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_pxhub"))
        .arg("--data-dir")
        .arg(&new)
        .arg("scrub")
        .envs(crate::helpers::storage_env(&new_storage))
        .output()
        .unwrap();
    assert!(o.status.success(), "scrub: {}", String::from_utf8_lossy(&o.stderr));
    machine.stop();
    drop(cluster);
}
