use std::process::{Command, Output};

use pxhub::app::Application;
use pxhub::config::Settings;
use reqwest::StatusCode;
use serde_json::Value;

fn pxhub(data_dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pxhub"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("PXHUB_DATA_DIR")
        .output()
        .expect("pxhub runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

#[tokio::test]
async fn a_fresh_install_is_bootstrapped_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let o = pxhub(
        &data,
        &[
            "station",
            "add",
            "--id",
            "thai-nguyen",
            "--name",
            "Đài PT-TH Thái Nguyên",
            "--province",
            "Thái Nguyên",
        ],
    );
    assert!(o.status.success(), "{o:?}");
    let o = pxhub(
        &data,
        &[
            "station",
            "add",
            "--id",
            "vtv",
            "--name",
            "VTV",
            "--province",
            "Hà Nội",
            "--kind",
            "national",
        ],
    );
    assert!(o.status.success(), "{o:?}");

    let o = pxhub(
        &data,
        &["token", "issue", "--station", "thai-nguyen", "--label", "playout"],
    );
    assert!(o.status.success(), "{o:?}");
    let token = stdout(&o);
    assert_eq!(token.lines().count(), 1, "only the token goes to stdout: {token}");
    let token = token.trim().to_owned();
    let stderr = String::from_utf8(o.stderr).unwrap();
    let token_id = stderr.split_whitespace().nth(2).unwrap().to_owned();
    assert!(token.contains(&token_id), "stderr names the token id: {stderr}");

    let national = pxhub(&data, &["token", "issue", "--station", "vtv"]);
    let national = stdout(&national).trim().to_owned();
    let admin = pxhub(&data, &["token", "issue", "--role", "admin"]);
    assert!(admin.status.success());
    let admin = stdout(&admin).trim().to_owned();

    let app = Application::build(Settings {
        listen: "127.0.0.1:0".into(),
        data_dir: data.clone(),
        ..Settings::default()
    })
    .await
    .unwrap();
    let base = format!("http://{}", app.address());
    tokio::spawn(app.run());
    let client = reqwest::Client::new();
    let me = |t: String| {
        let client = client.clone();
        let url = format!("{base}/api/v1/me");
        async move { client.get(url).bearer_auth(t).send().await.unwrap() }
    };
    let r: Value = me(token.clone()).await.json().await.unwrap();
    assert_eq!(r["station"]["name"], "Đài PT-TH Thái Nguyên");
    assert_eq!(r["role"], "station");
    let r: Value = me(national).await.json().await.unwrap();
    assert_eq!(r["role"], "national");
    let r: Value = me(admin).await.json().await.unwrap();
    assert_eq!(r["role"], "admin");

    let o = pxhub(&data, &["token", "revoke", &token_id]);
    assert!(o.status.success(), "{o:?}");
    assert_eq!(me(token).await.status(), StatusCode::UNAUTHORIZED);
}

#[test]
fn operator_mistakes_fail_with_a_message_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    assert!(pxhub(
        &data,
        &[
            "station",
            "add",
            "--id",
            "cao-bang",
            "--name",
            "Cao Bằng",
            "--province",
            "Cao Bằng"
        ]
    )
    .status
    .success());
    for args in [
        &[
            "station",
            "add",
            "--id",
            "cao-bang",
            "--name",
            "again",
            "--province",
            "x",
        ][..],
        &["station", "add", "--id", "Cao Bang", "--name", "x", "--province", "x"],
        &[
            "station",
            "add",
            "--id",
            "ok",
            "--name",
            "x",
            "--province",
            "x",
            "--kind",
            "regional",
        ],
        &["token", "issue"],
        &["token", "issue", "--station", "nowhere"],
        &["token", "issue", "--station", "cao-bang", "--role", "national"],
        &["token", "issue", "--station", "cao-bang", "--role", "admin"],
        &["token", "revoke", "0000000000000000"],
    ] {
        let o = pxhub(&data, args);
        assert!(!o.status.success(), "{args:?} should fail");
        assert!(o.stdout.is_empty(), "{args:?} printed {}", stdout(&o));
        assert!(!o.stderr.is_empty(), "{args:?} explains itself");
    }
    let conn = rusqlite::Connection::open(data.join("catalog.db")).unwrap();
    let stations: i64 = conn
        .query_row("SELECT count(*) FROM stations", [], |r| r.get(0))
        .unwrap();
    let tokens: i64 = conn.query_row("SELECT count(*) FROM tokens", [], |r| r.get(0)).unwrap();
    assert_eq!((stations, tokens), (1, 0));
}

#[tokio::test]
async fn the_operator_deletes_a_stations_drafts_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    for id in ["thai-nguyen", "cao-bang"] {
        let o = pxhub(&data, &["station", "add", "--id", id, "--name", id, "--province", id]);
        assert!(o.status.success(), "{o:?}");
    }
    let token = |station: &str| {
        stdout(&pxhub(&data, &["token", "issue", "--station", station]))
            .trim()
            .to_owned()
    };
    let (tn, cb) = (token("thai-nguyen"), token("cao-bang"));
    let settings = Settings {
        listen: "127.0.0.1:0".into(),
        data_dir: data.clone(),
        ..Settings::default()
    };
    let app = Application::build(settings).await.unwrap();
    let base = format!("http://{}/api/v1", app.address());
    let server = tokio::spawn(app.run());
    let client = reqwest::Client::new();
    let create = |token: &str, title: &str| {
        let req = client
            .post(format!("{base}/programs"))
            .bearer_auth(token)
            .json(&serde_json::json!({"title": title, "kind": "radio", "genre": "news", "languages": ["vi"]}));
        async move {
            let r = req.send().await.unwrap();
            assert_eq!(r.status(), StatusCode::CREATED);
            r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned()
        }
    };
    let junk = [create(&tn, "rác 1").await, create(&tn, "rác 2").await];
    let kept = create(&cb, "của Cao Bằng").await;
    let file = client
        .put(format!("{base}/programs/{}/files/master", junk[0]))
        .bearer_auth(&tn)
        .header("Content-Type", "audio/mpeg")
        .query(&[("filename", "a.mp3")])
        .body(vec![7u8; 5000])
        .send()
        .await
        .unwrap();
    assert!(file.status().is_success());
    server.abort();

    // Nothing is old enough yet.
    let o = pxhub(
        &data,
        &[
            "program",
            "delete-drafts",
            "--station",
            "thai-nguyen",
            "--older-than-days",
            "1",
        ],
    );
    assert!(o.status.success(), "{o:?}");
    let o = pxhub(&data, &["program", "delete-drafts", "--station", "thai-nguyen"]);
    assert!(o.status.success(), "{o:?}");
    assert!(String::from_utf8(o.stderr).unwrap().contains("deleted 2 draft(s)"));
    let o = pxhub(&data, &["program", "delete-drafts", "--station", "Thai Nguyen"]);
    assert!(!o.status.success());

    let conn = rusqlite::Connection::open(data.join("catalog.db")).unwrap();
    let ids: Vec<String> = conn
        .prepare("SELECT id FROM programs")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(ids, [kept]);
    let objects: i64 = conn
        .query_row("SELECT count(*) FROM media_objects", [], |r| r.get(0))
        .unwrap();
    assert_eq!(objects, 0, "the deleted draft's file went too");
    let media = std::fs::read_dir(data.join("media/blobs")).map_or(0, |d| d.count());
    assert_eq!(media, 0);
}

#[test]
fn openapi_prints_the_committed_document() {
    let dir = tempfile::tempdir().unwrap();
    let o = pxhub(dir.path(), &["openapi"]);
    assert!(o.status.success());
    assert_eq!(stdout(&o), pxhub::api::openapi_json());
}

#[test]
fn help_documents_every_setting() {
    let dir = tempfile::tempdir().unwrap();
    let o = pxhub(dir.path(), &["serve", "--help"]);
    let help = stdout(&o);
    for env in [
        "PXHUB_LISTEN",
        "PXHUB_CONFIG",
        "PXHUB_DATA_DIR",
        "PXHUB_MAX_JSON_BYTES",
        "PXHUB_WORKERS",
        "PXHUB_LOG",
    ] {
        assert!(help.contains(env), "{env} missing from:\n{help}");
    }
}
