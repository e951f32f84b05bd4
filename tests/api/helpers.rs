use std::path::PathBuf;

use pxhub::app::Application;
use pxhub::config::Settings;
use pxhub::config::{Secret, StorageSettings};
use pxhub::exchange::Caller;
use pxhub::media::MediaStore;
use pxhub::media::S3Bucket;
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{json, Value};
use tempfile::TempDir;

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub admin: String,
    pub dir: TempDir,
    pub settings: Settings,
}

/// Whether every suite must run (the test command and CI say so): then a
/// missing S3 server or tus client fails the tests instead of skipping them.
pub fn strict() -> bool {
    std::env::var_os("PXHUB_TEST_STRICT").is_some() || std::env::var_os("CI").is_some()
}

/// The Garage (or other S3) the test command started, from `PXHUB_TEST_S3_*`.
/// Without it the S3 tests skip, unless [`strict`].
pub fn s3_storage() -> Option<StorageSettings> {
    let var = |name: &str| std::env::var(format!("PXHUB_TEST_S3_{name}")).ok();
    match (
        var("ENDPOINT"),
        var("BUCKET"),
        var("ACCESS_KEY_ID"),
        var("SECRET_ACCESS_KEY"),
    ) {
        (Some(endpoint), Some(bucket), Some(access_key_id), Some(secret)) => {
            Some(StorageSettings::S3(S3Bucket {
                endpoint,
                bucket,
                region: var("REGION").unwrap_or_else(|| "garage".into()),
                access_key_id,
                secret_access_key: Secret::new(secret),
                // Each test app in its own corner of the bucket.
                prefix: format!("test-{}", uuid::Uuid::new_v4().simple()),
            }))
        }
        _ => {
            assert!(
                !strict(),
                "the S3 suite must run here: start Garage with scripts/test.sh"
            );
            eprintln!("PXHUB_TEST_S3_* not set: skipping an S3 test (scripts/test.sh runs them)");
            None
        }
    }
}

/// The `PXHUB_STORAGE_…` variables that point a `pxhub` process at the
/// same store (none for the local store, which follows `--data-dir`).
pub fn storage_env(storage: &StorageSettings) -> Vec<(&'static str, String)> {
    match storage {
        StorageSettings::Local { .. } => Vec::new(),
        StorageSettings::S3(b) => vec![
            ("PXHUB_STORAGE", "s3".into()),
            ("PXHUB_STORAGE_ENDPOINT", b.endpoint.clone()),
            ("PXHUB_STORAGE_BUCKET", b.bucket.clone()),
            ("PXHUB_STORAGE_REGION", b.region.clone()),
            ("PXHUB_STORAGE_ACCESS_KEY_ID", b.access_key_id.clone()),
            (
                "PXHUB_STORAGE_SECRET_ACCESS_KEY",
                b.secret_access_key.expose().to_owned(),
            ),
            ("PXHUB_STORAGE_PREFIX", b.prefix.clone()),
        ],
    }
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(configure: impl FnOnce(&mut Settings)) -> Self {
        if std::env::var_os("TEST_LOG").is_some() {
            pxhub::init_tracing("info");
        }
        let dir = tempfile::tempdir().unwrap();
        let mut settings = Settings {
            listen: "127.0.0.1:0".into(),
            data_dir: dir.path().join("data"),
            workers: 2,
            // The tests' webhook receivers listen on loopback.
            webhook_allow: "127.0.0.0/8, ::1".into(),
            // Most tests store a few made-up bytes as masters: no analysis
            // unless a test asks for it (tests/api/analysis.rs).
            analysis_workers: 0,
            ..Settings::default()
        };
        configure(&mut settings);
        let app = Application::build(settings.clone())
            .await
            .expect("the application starts");
        let address = format!("http://{}", app.address());
        tokio::spawn(app.run());
        // The operator's first token, as `pxhub token issue --admin` makes it.
        let admin = pxhub::app::open_hub(&settings)
            .unwrap()
            .issue_token(&Caller::operator(), None, None, "test operator".into())
            .await
            .unwrap()
            .token;
        Self {
            address,
            // Idle connections are dropped before the server's keep-alive (5 s) closes
            // them, so a request never races a closing connection.
            client: reqwest::Client::builder()
                .pool_idle_timeout(std::time::Duration::from_secs(2))
                .build()
                .unwrap(),
            admin,
            dir,
            settings,
        }
    }

    /// The same hub, started again on the same data and store (the old
    /// server keeps running; tests use the new address).
    pub async fn restart(&mut self) {
        let app = Application::build(self.settings.clone())
            .await
            .expect("the application restarts");
        self.address = format!("http://{}", app.address());
        tokio::spawn(app.run());
    }

    /// The media store the app writes to, for looking behind its back.
    pub fn media(&self) -> MediaStore {
        MediaStore::open(&self.settings.media()).unwrap()
    }

    /// Keys of every object in the store.
    pub async fn stored_keys(&self) -> Vec<String> {
        self.media().keys().await.unwrap().into_iter().map(|(k, _)| k).collect()
    }

    /// Rows in a catalog table.
    pub fn count(&self, table: &str) -> i64 {
        let conn = rusqlite::Connection::open(self.catalog_path()).unwrap();
        conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .unwrap()
    }

    pub fn catalog_path(&self) -> PathBuf {
        self.dir.path().join("data/catalog.db")
    }

    pub fn request(&self, method: Method, token: Option<&str>, path: &str) -> RequestBuilder {
        let r = self.client.request(method, format!("{}{}", self.address, path));
        match token {
            Some(t) => r.bearer_auth(t),
            None => r,
        }
    }

    /// The body of an unauthenticated GET of `path`, as text.
    pub async fn text(&self, path: &str) -> String {
        self.client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Waits (a few seconds at most) until metric `name` reads `value`.
    pub async fn wait_for_metric(&self, name: &str, value: u64) {
        for _ in 0..500 {
            if self.metric(name).await == value {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("{name} never reached {value}");
    }

    /// A counter or gauge of `/metrics`, by its name.
    pub async fn metric(&self, name: &str) -> u64 {
        let text = self.text("/metrics").await;
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
            .unwrap_or_else(|| panic!("{name} is not in /metrics"))
            .parse()
            .unwrap()
    }

    pub async fn get(&self, token: &str, path: &str) -> Response {
        self.request(Method::GET, Some(token), path).send().await.unwrap()
    }

    pub async fn delete(&self, token: &str, path: &str) -> Response {
        self.request(Method::DELETE, Some(token), path).send().await.unwrap()
    }

    pub async fn send_json(&self, method: Method, token: &str, path: &str, body: &Value) -> Response {
        self.request(method, Some(token), path).json(body).send().await.unwrap()
    }

    pub async fn post(&self, token: &str, path: &str, body: &Value) -> Response {
        self.send_json(Method::POST, token, path, body).await
    }

    pub async fn patch(&self, token: &str, path: &str, body: &Value) -> Response {
        self.request(Method::PATCH, Some(token), path)
            .header("Content-Type", "application/merge-patch+json")
            .body(body.to_string())
            .send()
            .await
            .unwrap()
    }

    /// Adds a station through the API and returns a token for it.
    pub async fn station(&self, id: &str, kind: &str) -> String {
        let r = self
            .post(
                &self.admin,
                "/api/v1/stations",
                &json!({"id": id, "name": format!("Đài {id}"), "province": id, "kind": kind}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
        let r = self
            .post(
                &self.admin,
                &format!("/api/v1/stations/{id}/tokens"),
                &json!({"label": "tests"}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
        r.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned()
    }

    /// Creates a draft and returns it.
    pub async fn create_program(&self, token: &str, body: &Value) -> Value {
        let r = self.post(token, "/api/v1/programs", body).await;
        assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
        r.json().await.unwrap()
    }

    /// Uploads `body` as the program's `role` file (single request), its
    /// name in `Content-Disposition` (`filename*`, UTF-8).
    pub async fn put_file(
        &self,
        token: &str,
        program_id: &str,
        role: &str,
        media_type: &str,
        filename: &str,
        body: Vec<u8>,
    ) -> Response {
        let encoded: String = url::form_urlencoded::byte_serialize(filename.as_bytes())
            .collect::<String>()
            .replace('+', "%20");
        self.request(
            Method::PUT,
            Some(token),
            &format!("/api/v1/programs/{program_id}/files/{role}"),
        )
        .header("Content-Type", media_type)
        .header("Content-Disposition", format!("attachment; filename*=UTF-8''{encoded}"))
        .body(body)
        .send()
        .await
        .unwrap()
    }

    /// Uploads `body` as the program's master (single request).
    pub async fn put_master(&self, token: &str, program_id: &str, filename: &str, body: Vec<u8>) -> Response {
        self.put_file(token, program_id, "master", "audio/mpeg", filename, body)
            .await
    }

    /// The program as `token` sees it (`GET /api/v1/programs/{id}`).
    pub async fn program_json(&self, token: &str, program: &Value) -> Value {
        let id = program["id"].as_str().expect("a program's id");
        self.get(token, &format!("/api/v1/programs/{id}"))
            .await
            .json()
            .await
            .unwrap()
    }

    /// Creates a program, uploads `master` as its master and publishes it.
    pub async fn publish_with_master(&self, token: &str, body: &Value, master: Vec<u8>) -> Value {
        let p = self.create_program(token, body).await;
        let r = self
            .put_master(token, p["id"].as_str().unwrap(), "bản tin.mp3", master)
            .await;
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
        let r = self
            .post(
                token,
                &format!("/api/v1/programs/{}/publish", p["id"].as_str().unwrap()),
                &json!({}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
        r.json().await.unwrap()
    }

    /// Creates a program with a small master and publishes it.
    pub async fn published(&self, token: &str, body: &Value) -> Value {
        self.publish_with_master(token, body, b"abc".to_vec()).await
    }

    /// The ids of what `token` finds with `query` (one page of up to 100).
    pub async fn find(&self, token: &str, query: &str) -> Vec<String> {
        let body = self.search(token, query).await;
        body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_str().unwrap().to_owned())
            .collect()
    }

    pub async fn search(&self, token: &str, query: &str) -> Value {
        let sep = if query.is_empty() { "" } else { "&" };
        let r = self
            .get(token, &format!("/api/v1/programs?limit=100{sep}{query}"))
            .await;
        assert_eq!(r.status(), StatusCode::OK, "{query}: {}", r.text().await.unwrap());
        r.json().await.unwrap()
    }
}

/// Deterministic bytes that do not compress or repeat in short runs.
pub fn bytes(n: usize, seed: u32) -> Vec<u8> {
    let mut x: u32 = 0x9e37_79b9 ^ seed.wrapping_mul(0x85eb_ca6b);
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 7) as u8
        })
        .collect()
}

/// A minimal valid program.
pub fn program(title: &str) -> Value {
    json!({"title": title, "kind": "radio", "genre": "news", "languages": ["vi"]})
}

/// Asserts a problem+json answer with `status` and `code`, and returns it.
pub async fn assert_problem(r: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(r.status(), status, "expected {status} {code}");
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status.as_u16());
    assert!(
        body["type"].is_string() && body["title"].is_string() && body["detail"].is_string(),
        "{body}"
    );
    body
}

/// The fields a 422 names.
pub fn fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect()
}

pub fn id(p: &Value) -> &str {
    p["id"].as_str().unwrap()
}

/// Parts as small as S3 allows, so that test files span several.
pub const PART: usize = 5 * 1024 * 1024;

/// An app on the local store, with small parts and an eager sweeper.
pub async fn local_app() -> Option<TestApp> {
    Some(
        TestApp::spawn_with(|s| {
            s.part_size = PART;
            s.max_upload_bytes = 64 * 1024 * 1024;
            s.sweep_grace_secs = 0;
        })
        .await,
    )
}

/// The same on the S3 server the test command started.
pub async fn s3_app() -> Option<TestApp> {
    let storage = s3_storage()?;
    Some(
        TestApp::spawn_with(|s| {
            s.storage = storage;
            s.part_size = PART;
            s.max_upload_bytes = 64 * 1024 * 1024;
            s.sweep_grace_secs = 0;
        })
        .await,
    )
}

/// Runs each named test (an `async fn(TestApp)` of the calling module)
/// against the local store and against S3.
macro_rules! storage_suite {
    ($($name:ident),* $(,)?) => {
        mod local {
            $(#[tokio::test] async fn $name() {
                if let Some(app) = crate::helpers::local_app().await { super::$name(app).await }
            })*
        }
        mod s3 {
            $(#[tokio::test] async fn $name() {
                if let Some(app) = crate::helpers::s3_app().await { super::$name(app).await }
            })*
        }
    };
}
