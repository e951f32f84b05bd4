//! Downloads behind Debian's nginx with `accel_redirect`: the hub checks the
//! rights and records the take, nginx sends the bytes from its internal
//! location (README, "Behind nginx"). The test command installs nginx;
//! without it these tests skip, unless strict.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

/// nginx in front of the hub, as the README configures it, in its own folder.
struct Nginx {
    child: Child,
    base: String,
    dir: PathBuf,
}

impl Drop for Nginx {
    /// SIGTERM, not SIGKILL: nginx's master then stops its worker, which a
    /// killed master would leave running.
    fn drop(&mut self) {
        if let Ok(pid) = i32::try_from(self.child.id()) {
            // SAFETY: kill(2) on our own child's pid has no memory effects.
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
        let _ = self.child.wait();
    }
}

impl Nginx {
    /// Requests that reached the internal location (each logged with its
    /// status: a direct request is logged there too, with 404).
    fn reached(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.join("objects.log"))
            .map_or(Vec::new(), |s| s.lines().map(str::to_owned).collect())
    }

    /// Of those, the ones nginx sent bytes for.
    fn served_objects(&self) -> usize {
        self.reached()
            .iter()
            .filter(|l| l.starts_with("200 ") || l.starts_with("206 "))
            .count()
    }
}

fn nginx_bin() -> Option<&'static str> {
    let bin = ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .find(|p| Path::new(p).exists());
    if bin.is_none() {
        assert!(!strict(), "nginx must be installed here: scripts/test.sh installs it");
        eprintln!("nginx is not installed: skipping (scripts/test.sh installs it)");
    }
    bin
}

/// The README's configuration, with the test's folders and ports.
fn config(dir: &Path, port: u16, hub: &str, media: &Path) -> String {
    let d = dir.display();
    let root = std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
    });
    format!(
        "{user}worker_processes 1;\ndaemon off;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
         events {{ worker_connections 64; }}\n\
         http {{\n  access_log {d}/access.log;\n  log_format objects '$status $uri';\n  sendfile on;\n  tcp_nopush on;\n\
         \x20 client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n\
         \x20 uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
         \x20 server {{\n    listen 127.0.0.1:{port};\n    client_max_body_size 0;\n\
         \x20   location / {{\n      proxy_pass http://{hub};\n      proxy_set_header Host $host;\n\
         \x20     proxy_request_buffering off;\n    }}\n\
         \x20   location /_objects/ {{\n      internal;\n      alias {media}/;\n      access_log {d}/objects.log objects;\n\
         \x20     etag off;\n      if_modified_since off;\n      add_header ETag $upstream_http_etag;\n\
         \x20     add_header Repr-Digest $upstream_http_repr_digest;\n    }}\n  }}\n}}\n",
        user = if root { "user root;\n" } else { "" },
        media = media.display(),
    )
}

async fn start_nginx(app: &TestApp) -> Option<Nginx> {
    let bin = nginx_bin()?;
    let dir = app.dir.path().join("nginx");
    std::fs::create_dir_all(&dir).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let hub = app.address.trim_start_matches("http://");
    let media = app.settings.media_path().expect("a local store");
    std::fs::write(dir.join("nginx.conf"), config(&dir, port, hub, &media)).unwrap();
    let child = Command::new(bin)
        .arg("-p")
        .arg(&dir)
        .arg("-e")
        .arg(dir.join("error.log"))
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nginx starts");
    let nginx = Nginx {
        child,
        base: format!("http://127.0.0.1:{port}"),
        dir,
    };
    for _ in 0..200 {
        if app.client.get(format!("{}/healthz", nginx.base)).send().await.is_ok() {
            return Some(nginx);
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!(
        "nginx did not answer: {}",
        std::fs::read_to_string(nginx.dir.join("error.log")).unwrap_or_default()
    );
}

async fn accel_app() -> TestApp {
    TestApp::spawn_with(|s| s.accel_redirect = "/_objects/".into()).await
}

/// A published program with a 1 MiB master, its bytes and its file's path.
async fn program_with_master(app: &TestApp, owner: &str, body: Value) -> (String, Vec<u8>, String) {
    let master = bytes(1 << 20, 27);
    let p = app.publish_with_master(owner, &body, master.clone()).await;
    let id = p["id"].as_str().unwrap().to_owned();
    (id.clone(), master, format!("/api/v1/programs/{id}/files/master"))
}

#[tokio::test]
async fn nginx_sends_permitted_downloads_byte_exact_with_ranges_and_304() {
    let app = accel_app().await;
    let Some(nginx) = start_nginx(&app).await else { return };
    let (owner, taker) = (
        app.station("thai-nguyen", "provincial").await,
        app.station("cao-bang", "provincial").await,
    );
    let (id, master, path) = program_with_master(&app, &owner, program("Bản tin")).await;
    let url = format!("{}{path}", nginx.base);
    let get = || app.client.get(&url).bearer_auth(&taker);

    // The hub alone answers with the redirect and no bytes.
    let r = app.get(&taker, &path).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()["x-accel-redirect"].to_str().unwrap().split('/').nth(1),
        Some("_objects")
    );
    assert!(r.bytes().await.unwrap().is_empty());

    let r = get().send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers().get("x-accel-redirect").is_none(),
        "nginx keeps the redirect to itself"
    );
    let etag = r.headers()["etag"].to_str().unwrap().to_owned();
    let digest = sha2_hex(&master);
    assert_eq!(etag, format!("\"{digest}\""));
    assert!(r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("attachment"));
    assert!(r.headers()["repr-digest"].to_str().unwrap().starts_with("sha-256=:"));
    assert_eq!(r.bytes().await.unwrap().as_ref(), master.as_slice(), "byte-exact");
    assert_eq!(nginx.served_objects(), 1, "nginx's internal location sent it");

    let r = get().header("Range", "bytes=1000-70999").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        r.headers()["content-range"],
        format!("bytes 1000-70999/{}", master.len()).as_str()
    );
    assert_eq!(r.bytes().await.unwrap().as_ref(), &master[1000..71_000]);
    let r = get().header("Range", "bytes=-10").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.bytes().await.unwrap().as_ref(), &master[master.len() - 10..]);

    let served = nginx.served_objects();
    let r = get().header("If-None-Match", &etag).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    assert!(r.bytes().await.unwrap().is_empty());
    assert_eq!(nginx.served_objects(), served, "the hub answers 304 itself");

    // The take was recorded when the hub handed the download to nginx.
    let takes: Value = app
        .get(&owner, &format!("/api/v1/programs/{id}/takes"))
        .await
        .json()
        .await
        .unwrap();
    let stations: Vec<&str> = takes["takes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["station"].as_str())
        .collect();
    assert_eq!(stations, ["cao-bang"], "{takes}");
}

#[tokio::test]
async fn refused_downloads_never_reach_nginx_and_its_location_is_internal() {
    let app = accel_app().await;
    let Some(nginx) = start_nginx(&app).await else { return };
    let owner = app.station("thai-nguyen", "provincial").await;
    let outsider = app.station("cao-bang", "provincial").await;
    app.station("bac-kan", "provincial").await;
    let only_bac_kan = json!({
        "title": "Chỉ cho Bắc Kạn", "kind": "radio", "genre": "news", "languages": ["vi"],
        "rights": {"audience": "stations", "stations": ["bac-kan"]}
    });
    let (_, _, hidden) = program_with_master(&app, &owner, only_bac_kan).await;
    let later = json!({
        "title": "Chưa đến giờ", "kind": "radio", "genre": "news", "languages": ["vi"],
        "rights": {"audience": "cluster", "available_from": "2099-01-01T00:00:00Z"}
    });
    let (_, _, closed) = program_with_master(&app, &owner, later).await;
    let draft = app.create_program(&owner, &program("Bản nháp")).await;
    let draft_path = format!("/api/v1/programs/{}/files/master", id(&draft));
    assert!(app
        .put_master(&owner, id(&draft), "a.mp3", bytes(4096, 1))
        .await
        .status()
        .is_success());

    for (token, path, status) in [
        (Some(&outsider), &closed, StatusCode::FORBIDDEN),
        (Some(&outsider), &hidden, StatusCode::NOT_FOUND),
        (Some(&outsider), &draft_path, StatusCode::NOT_FOUND),
        (None, &closed, StatusCode::UNAUTHORIZED),
    ] {
        let mut req = app.client.get(format!("{}{path}", nginx.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), status, "{path}");
        assert!(
            r.text().await.unwrap().contains("\"code\""),
            "the hub's problem, not a file"
        );
    }
    assert_eq!(
        nginx.served_objects(),
        0,
        "a refused download never reached the internal location"
    );

    // The objects themselves, asked for directly, are not there.
    let keys = app.stored_keys().await;
    assert!(!keys.is_empty());
    for key in keys {
        for path in [
            format!("/_objects/{key}"),
            format!("/_objects/../_objects/{key}"),
            format!("/%5Fobjects/{key}"),
        ] {
            let r = app.client.get(format!("{}{path}", nginx.base)).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
            let body = r.bytes().await.unwrap();
            assert!(body.len() < 4096, "{path} gave {} bytes", body.len());
        }
    }
    assert_eq!(nginx.served_objects(), 0);

    // The owner's own download goes through, so the log above could fill.
    let r = app
        .client
        .get(format!("{}{draft_path}", nginx.base))
        .bearer_auth(&owner)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.bytes().await.unwrap().as_ref(), bytes(4096, 1).as_slice());
    assert_eq!(nginx.served_objects(), 1);
}

fn sha2_hex(b: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(b))
}

#[test]
fn accel_redirect_wants_the_local_store_and_a_plain_prefix() {
    use pxhub::config::{Secret, StorageSettings};
    let with = |prefix: &str| pxhub::config::Settings {
        accel_redirect: prefix.into(),
        ..pxhub::config::Settings::default()
    };
    assert!(with("/_objects/").check().is_ok());
    assert!(with("").check().is_ok(), "empty: off");
    for bad in ["_objects/", "/_objects", "/", "//", "/a/../b/", "/a b/", "/a?x/", "/ä/"] {
        assert!(with(bad).check().is_err(), "{bad:?}");
    }
    let s3 = pxhub::config::Settings {
        storage: StorageSettings::S3(pxhub::media::S3Bucket {
            endpoint: "http://127.0.0.1:3900".into(),
            bucket: "media".into(),
            region: "garage".into(),
            access_key_id: "GK1".into(),
            secret_access_key: Secret::new(String::from("s")),
            prefix: String::new(),
        }),
        ..with("/_objects/")
    };
    let err = s3.check().unwrap_err().to_string();
    assert!(err.contains("accel_redirect"), "{err}");
}
