//! The store goes away, hangs, slows down or fails a share of requests (a
//! fault proxy between the hub and Garage), and the local disk fills up:
//! the client gets `503 storage_unavailable` with `Retry-After` (or `507
//! storage_full`), never a 500 or a hang; nothing is recorded; `/readyz`
//! says not ready; and once the store is back, a resumable upload completes
//! byte-exact and the sweeper removes what the outage left.

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use object_store::multipart::MultipartStore;
use pxhub::config::StorageSettings;
use pxhub::media::{MediaStore, S3Bucket};
use reqwest::{Method, Response, StatusCode};
use serde_json::Value;

use crate::fault_proxy::{FaultProxy, Mode};
use crate::helpers::{assert_problem, bytes, id, program, s3_storage, strict, TestApp, PART};

/// However the store fails, an answer comes within this (a hang is a bug).
const NO_HANG: Duration = Duration::from_secs(60);

async fn bounded<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    let started = Instant::now();
    let out = tokio::time::timeout(NO_HANG, f)
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer within {NO_HANG:?}"));
    eprintln!("{what}: answered in {:.2?}", started.elapsed());
    out
}

/// A single-request master upload of `length` bytes to `program`, whose body
/// is what the test sends down the returned channel, when it likes.
fn trickling_master(
    app: &TestApp,
    token: &str,
    program: &str,
    length: usize,
) -> (
    tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
    tokio::task::JoinHandle<reqwest::Result<Response>>,
) {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let stream = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) });
    let request = app
        .request(
            Method::PUT,
            Some(token),
            &format!("/api/v1/programs/{program}/files/master"),
        )
        .header("Content-Type", "audio/mpeg")
        .header("Content-Disposition", "attachment; filename=a.mp3")
        .header("Content-Length", length.to_string())
        .body(reqwest::Body::wrap_stream(stream))
        .send();
    (tx, tokio::spawn(request))
}

struct Proxied {
    app: TestApp,
    proxy: Arc<FaultProxy>,
    /// The bucket as the hub sees it, but reached directly (not through the proxy).
    direct: S3Bucket,
}

/// An app on the test command's Garage, through a fault proxy.
async fn proxied(seed: u64, configure: impl FnOnce(&mut pxhub::config::Settings)) -> Option<Proxied> {
    let Some(StorageSettings::S3(direct)) = s3_storage() else {
        return None;
    };
    let url = url::Url::parse(&direct.endpoint).unwrap();
    let upstream: SocketAddr = (url.host_str().unwrap(), url.port_or_known_default().unwrap())
        .to_socket_addrs()
        .unwrap()
        .find(|a| a.ip().is_loopback())
        .expect("the test store is on loopback");
    let proxy = FaultProxy::start(upstream, seed).await;
    let mut bucket = direct.clone();
    bucket.endpoint = proxy.endpoint();
    let app = TestApp::spawn_with(|s| {
        s.storage = StorageSettings::S3(bucket);
        s.part_size = PART;
        s.max_upload_bytes = 64 * 1024 * 1024;
        s.sweep_grace_secs = 0;
        s.sweep_interval_secs = 1;
        s.storage_timeout_secs = 3;
        s.storage_retries = 1;
        configure(s);
    })
    .await;
    Some(Proxied { app, proxy, direct })
}

impl Proxied {
    /// The bucket, reached directly: what is really there.
    fn direct_store(&self) -> object_store::aws::AmazonS3 {
        object_store::aws::AmazonS3Builder::new()
            .with_endpoint(&self.direct.endpoint)
            .with_allow_http(true)
            .with_bucket_name(&self.direct.bucket)
            .with_region(&self.direct.region)
            .with_access_key_id(&self.direct.access_key_id)
            .with_secret_access_key(self.direct.secret_access_key.expose())
            .build()
            .unwrap()
    }

    fn direct_media(&self) -> MediaStore {
        let mut s = self.app.settings.clone();
        s.storage = StorageSettings::S3(self.direct.clone());
        MediaStore::open(&s.media()).unwrap()
    }

    /// Whether the S3 multipart upload `upload_id` of `key` still takes parts.
    async fn multipart_alive(&self, key: &str, upload_id: &str) -> bool {
        let path = object_store::path::Path::from(format!("{}/{key}", self.direct.prefix));
        let part = self
            .direct_store()
            .put_part(&path, &upload_id.to_owned(), 0, Bytes::from_static(b"probe").into())
            .await;
        match part {
            Ok(_) => true,
            Err(object_store::Error::NotFound { .. }) => false,
            Err(e) => panic!("asking Garage about a multipart upload: {e}"),
        }
    }
}

/// A `503 storage_unavailable` with a `Retry-After` of a few seconds.
async fn assert_unavailable(r: Response) -> Value {
    let retry_after: u64 = r
        .headers()
        .get("retry-after")
        .unwrap_or_else(|| panic!("{} without Retry-After", r.status()))
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "Retry-After: {retry_after}");
    assert_problem(r, StatusCode::SERVICE_UNAVAILABLE, "storage_unavailable").await
}

fn b64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

async fn tus_create(app: &TestApp, token: &str, program: &str, length: usize) -> Response {
    app.tus(Method::POST, token, "/api/v1/uploads")
        .header("Upload-Length", length.to_string())
        .header(
            "Upload-Metadata",
            format!(
                "program {},role {},filename {}",
                b64(program),
                b64("master"),
                b64("tin.mp4")
            ),
        )
        .send()
        .await
        .unwrap()
}

async fn tus_offset(app: &TestApp, token: &str, upload: &str) -> usize {
    let r = app.tus(Method::HEAD, token, upload).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.headers()["upload-offset"].to_str().unwrap().parse().unwrap()
}

async fn master(app: &TestApp, token: &str, program: &str) -> Response {
    app.get(token, &format!("/api/v1/programs/{program}/files/master"))
        .await
}

async fn ready(app: &TestApp) -> StatusCode {
    app.client
        .get(format!("{}/readyz", app.address))
        .send()
        .await
        .unwrap()
        .status()
}

/// Waits (bounded) until the sweeper has removed every upload row.
async fn swept(app: &TestApp) {
    for _ in 0..200 {
        if app.count("media_uploads") == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the sweeper left {} upload rows", app.count("media_uploads"));
}

#[tokio::test]
async fn a_store_that_is_down_answers_503_and_records_nothing() {
    let Some(t) = proxied(1, |_| {}).await else { return };
    let app = &t.app;
    let tn = app.station("thai-nguyen", "provincial").await;
    let kept = app.create_program(&tn, &program("Có trước")).await;
    let old = bytes(PART + 1000, 1);
    let r = app.put_master(&tn, id(&kept), "a.mp3", old.clone()).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(ready(app).await, StatusCode::OK);

    t.proxy.set(Mode::Down).await;
    let p = app.create_program(&tn, &program("Trong lúc mất")).await;
    let r = bounded("single PUT", app.put_master(&tn, id(&p), "b.mp3", bytes(2 * PART, 2))).await;
    assert_unavailable(r).await;
    let r = bounded("tus POST", tus_create(app, &tn, id(&p), 1000)).await;
    assert_unavailable(r).await;
    let r = bounded("GET", master(app, &tn, id(&kept))).await;
    assert_unavailable(r).await;
    let r = bounded("readyz", async {
        app.client.get(format!("{}/readyz", app.address)).send().await.unwrap()
    })
    .await;
    assert_problem(r, StatusCode::SERVICE_UNAVAILABLE, "not_ready").await;
    // Nothing recorded: the program has no file, no object row, no upload.
    assert!(app.program_json(&tn, &p).await["files"].as_array().unwrap().is_empty());
    assert_eq!(app.count("media_objects"), 1);
    assert_eq!(app.count("tus_uploads"), 0);
    // Reads of the catalog keep working.
    assert_eq!(app.program_json(&tn, &kept).await["files"].as_array().unwrap().len(), 1);

    t.proxy.set(Mode::Pass).await;
    swept(app).await;
    assert_eq!(ready(app).await, StatusCode::OK);
    let new = bytes(2 * PART, 3);
    let r = app.put_master(&tn, id(&p), "b.mp3", new.clone()).await;
    assert_eq!(r.status(), StatusCode::CREATED, "uploads work again");
    assert!(master(app, &tn, id(&p)).await.bytes().await.unwrap() == new);
    assert!(master(app, &tn, id(&kept)).await.bytes().await.unwrap() == old);
    // Only the two objects the catalog names are in the store.
    let mut keys = t.direct_media().keys().await.unwrap();
    keys.sort();
    assert_eq!(keys.len(), 2, "{keys:?}");
}

#[tokio::test]
async fn a_store_that_hangs_answers_503_within_its_timeout() {
    let Some(t) = proxied(2, |s| s.storage_retries = 0).await else {
        return;
    };
    let app = &t.app;
    let tn = app.station("thai-nguyen", "provincial").await;
    let p = app.create_program(&tn, &program("Treo")).await;
    t.proxy.set(Mode::Hang).await;
    let r = bounded(
        "PUT to a hanging store",
        app.put_master(&tn, id(&p), "a.mp3", bytes(1000, 1)),
    )
    .await;
    assert_unavailable(r).await;
    assert_eq!(bounded("readyz", ready(app)).await, StatusCode::SERVICE_UNAVAILABLE);
    t.proxy.set(Mode::Pass).await;
    assert_eq!(
        app.put_master(&tn, id(&p), "a.mp3", bytes(1000, 1)).await.status(),
        StatusCode::CREATED
    );
}

/// A single upload cut by the outage after its first part: 503 (or a
/// broken connection, when the hub answers before the client has sent
/// everything), nothing recorded, and the S3 multipart upload it had begun
/// is aborted once the store is back: its catalog row kept the id.
#[tokio::test]
async fn an_upload_cut_by_the_outage_leaves_no_multipart_upload() {
    let Some(t) = proxied(3, |_| {}).await else { return };
    let app = &t.app;
    let tn = app.station("thai-nguyen", "provincial").await;
    let p = app.create_program(&tn, &program("Đứt giữa chừng")).await;
    let body = bytes(4 * PART, 4);
    let (tx, sending) = trickling_master(app, &tn, id(&p), body.len());
    let first = 2 * PART;
    for c in body[..first].chunks(256 * 1024) {
        tx.send(Ok(Bytes::copy_from_slice(c))).await.unwrap();
    }
    // The first part is in the store, so a multipart upload is under way.
    let mut upload = None;
    for _ in 0..200 {
        let conn = rusqlite::Connection::open(app.catalog_path()).unwrap();
        upload = conn
            .query_row(
                "SELECT key, multipart_id FROM media_uploads WHERE multipart_id IS NOT NULL",
                [],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
            )
            .ok();
        if upload.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (key, upload_id) = upload.expect("the upload's row names its multipart upload");
    tokio::time::sleep(Duration::from_millis(300)).await;
    t.proxy.set(Mode::Down).await;
    let rest = body[first..].to_vec();
    let feeder = tokio::spawn(async move {
        for c in rest.chunks(256 * 1024) {
            if tx.send(Ok(Bytes::copy_from_slice(c))).await.is_err() {
                break;
            }
        }
    });
    match bounded("the cut upload", sending).await.unwrap() {
        Ok(r) => {
            assert_unavailable(r).await;
        }
        // The hub answered and closed while the client was still sending.
        Err(e) => eprintln!("the client saw the connection end: {e}"),
    }
    feeder.abort();
    // While the store is away, the row stays with its multipart upload.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(app.count("media_uploads"), 1, "the row waits for the store");
    assert!(app.program_json(&tn, &p).await["files"].as_array().unwrap().is_empty());
    assert_eq!(app.count("media_objects"), 0);

    t.proxy.set(Mode::Pass).await;
    swept(app).await;
    assert!(
        !t.multipart_alive(&key, &upload_id).await,
        "the sweeper aborted the multipart upload"
    );
    assert!(t.direct_media().keys().await.unwrap().is_empty());
}

/// A resumable upload whose last chunk meets the outage stays where it
/// was; once the store is back the client sends the chunk again and the
/// file is whole. The same for a chunk in the middle.
#[tokio::test]
async fn a_resumable_upload_survives_the_outage_and_completes() {
    let Some(t) = proxied(4, |_| {}).await else { return };
    let app = &t.app;
    let tn = app.station("thai-nguyen", "provincial").await;
    let p = app.create_program(&tn, &program("Tiếp tục")).await;
    let body = bytes(2 * PART + 5000, 5);
    let r = tus_create(app, &tn, id(&p), body.len()).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let upload = r.headers()["location"].to_str().unwrap().to_owned();
    let cut = [PART + 100, 2 * PART + 7];
    let r = app.tus_patch(&tn, &upload, 0, body[..cut[0]].to_vec()).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);

    // A middle chunk that crosses a part boundary meets the outage.
    t.proxy.set(Mode::Down).await;
    let r = bounded(
        "middle PATCH",
        app.tus_patch(&tn, &upload, cut[0], body[cut[0]..cut[1]].to_vec()),
    )
    .await;
    assert_unavailable(r).await;
    assert_eq!(
        tus_offset(app, &tn, &upload).await,
        cut[0],
        "HEAD answers while the store is away"
    );
    t.proxy.set(Mode::Pass).await;
    let r = app.tus_patch(&tn, &upload, cut[0], body[cut[0]..cut[1]].to_vec()).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);

    // The last chunk (shorter than a part: the store is first needed to
    // finish the object) meets the outage.
    let last = body[cut[1]..].to_vec();
    t.proxy.set(Mode::Down).await;
    let r = bounded("last PATCH", app.tus_patch(&tn, &upload, cut[1], last.clone())).await;
    assert_unavailable(r).await;
    assert!(app.program_json(&tn, &p).await["files"].as_array().unwrap().is_empty());
    // Every byte is recorded; finishing needs the store: HEAD says so.
    let r = bounded("HEAD while down", app.tus(Method::HEAD, &tn, &upload).send())
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.headers().contains_key("retry-after"));
    assert_eq!(app.count("tus_uploads"), 1, "not deleted");

    // The store is back: the client's HEAD (how tus clients resume) finds
    // the upload complete, and the file is there, byte-exact.
    t.proxy.set(Mode::Pass).await;
    assert_eq!(tus_offset(app, &tn, &upload).await, body.len());
    assert!(
        master(app, &tn, id(&p)).await.bytes().await.unwrap() == body,
        "byte-exact"
    );
    let r = app.tus_patch(&tn, &upload, body.len(), last).await;
    assert_problem(r, StatusCode::CONFLICT, "offset_mismatch").await;
    swept(app).await;
    assert_eq!(t.direct_media().keys().await.unwrap().len(), 1);
}

/// A download cut by the outage ends short (its headers are out); one
/// asked for during the outage is a 503; once the store is back a Range
/// request resumes it. A scrub during the outage fails as unavailable,
/// reporting no object as missing.
#[tokio::test]
async fn a_download_and_a_scrub_meet_the_outage() {
    let Some(t) = proxied(5, |_| {}).await else { return };
    let app = &t.app;
    let tn = app.station("thai-nguyen", "provincial").await;
    let hn = app.station("ha-noi", "provincial").await;
    // Larger than what the sockets between Garage and the client buffer.
    let body = bytes(48 * 1024 * 1024, 6);
    let p = app.publish_with_master(&tn, &program("Tải về"), body.clone()).await;

    let mut r = master(app, &hn, id(&p)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let mut got = Vec::new();
    while got.len() < 1024 * 1024 {
        got.extend_from_slice(&r.chunk().await.unwrap().unwrap());
    }
    t.proxy.set(Mode::Down).await;
    let ended = bounded("the rest of the cut download", async {
        loop {
            match r.chunk().await {
                Ok(Some(c)) => got.extend_from_slice(&c),
                Ok(None) => break "ended",
                Err(_) => break "broken",
            }
        }
    })
    .await;
    assert!(
        got.len() < body.len(),
        "the download was cut ({ended} at {})",
        got.len()
    );
    assert!(got[..] == body[..got.len()], "what arrived is right");

    let r = bounded("GET while down", master(app, &hn, id(&p))).await;
    assert_unavailable(r).await;
    let hub = pxhub::app::open_hub(&app.settings).unwrap();
    let scrub = bounded("scrub", hub.scrub(&pxhub::exchange::Caller::operator())).await;
    assert!(
        matches!(scrub, Err(pxhub::exchange::ExchangeError::StorageUnavailable(_))),
        "{scrub:?}"
    );

    t.proxy.set(Mode::Pass).await;
    let r = app
        .request(
            Method::GET,
            Some(&hn),
            &format!("/api/v1/programs/{}/files/master", id(&p)),
        )
        .header("Range", format!("bytes={}-", got.len()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    got.extend_from_slice(&r.bytes().await.unwrap());
    assert!(got == body, "resumed byte-exact");
    let report = hub.scrub(&pxhub::exchange::Caller::operator()).await.unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
}

/// A slow store (latency on every answer) serves uploads, resumable
/// uploads and downloads byte-exact; a download that takes longer than
/// one store request may (`storage_timeout_secs`) goes on from where each
/// request stopped.
#[tokio::test]
async fn a_slow_store_still_serves() {
    let Some(t) = proxied(6, |s| {
        s.storage_timeout_secs = 2;
        s.storage_retries = 0;
    })
    .await
    else {
        return;
    };
    let app = &t.app;
    let tn = app.station("thai-nguyen", "provincial").await;
    t.proxy.set(Mode::Slow(Duration::from_millis(40))).await;
    let p = app.create_program(&tn, &program("Chậm")).await;
    let body = bytes(PART + 4321, 7);
    let r = bounded("slow PUT", app.put_master(&tn, id(&p), "a.mp3", body.clone())).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert!(
        bounded("slow GET", async {
            master(app, &tn, id(&p)).await.bytes().await.unwrap()
        })
        .await
            == body
    );
    let q = app.create_program(&tn, &program("Chậm 2")).await;
    let r = tus_create(app, &tn, id(&q), body.len()).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let upload = r.headers()["location"].to_str().unwrap().to_owned();
    let r = bounded("slow PATCH", app.tus_patch(&tn, &upload, 0, body.clone())).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert!(master(app, &tn, id(&q)).await.bytes().await.unwrap() == body);
    assert_eq!(ready(app).await, StatusCode::OK);
}

/// A store that fails one request in ten (503, seeded): every answer is a
/// success or a `503` with `Retry-After`, never a 500; every success reads
/// back byte-exact; a failed upload records nothing; a resumable upload
/// retried on 503 completes.
#[tokio::test]
async fn a_flaky_store_answers_success_or_503_never_500() {
    // No retries in the hub, so the store's failures reach the client.
    let Some(t) = proxied(7, |s| s.storage_retries = 0).await else {
        return;
    };
    let app = &t.app;
    let tn = app.station("thai-nguyen", "provincial").await;
    t.proxy.set(Mode::Flaky(100)).await;
    let (mut ok, mut unavailable) = (Vec::new(), 0);
    for i in 0..12u32 {
        let p = app.create_program(&tn, &program(&format!("Chập chờn {i}"))).await;
        let body = bytes(PART + 1000 * i as usize + 1, 100 + i);
        let r = bounded("flaky PUT", app.put_master(&tn, id(&p), "a.mp3", body.clone())).await;
        match r.status() {
            StatusCode::CREATED => ok.push((p, body)),
            StatusCode::SERVICE_UNAVAILABLE => {
                assert_unavailable(r).await;
                assert!(app.program_json(&tn, &p).await["files"].as_array().unwrap().is_empty());
                unavailable += 1;
            }
            other => panic!("a flaky store answered {other}: {:?}", r.text().await),
        }
    }
    // A resumable upload, in chunks, each resent on 503 from the offset the
    // hub gives.
    let q = app.create_program(&tn, &program("Chập chờn tus")).await;
    let body = bytes(3 * PART + 99, 200);
    let upload = loop {
        let r = tus_create(app, &tn, id(&q), body.len()).await;
        match r.status() {
            StatusCode::CREATED => break r.headers()["location"].to_str().unwrap().to_owned(),
            StatusCode::SERVICE_UNAVAILABLE => {
                assert_unavailable(r).await;
                unavailable += 1;
            }
            other => panic!("tus POST answered {other}"),
        }
    };
    let mut tries = 0;
    loop {
        tries += 1;
        assert!(tries < 50, "the resumable upload never completed");
        // A HEAD finishes an upload whose finishing met the store's failure,
        // so it too may meet one: 503, then ask again.
        let r = app.tus(Method::HEAD, &tn, &upload).send().await.unwrap();
        let offset: usize = match r.status() {
            StatusCode::OK => r.headers()["upload-offset"].to_str().unwrap().parse().unwrap(),
            StatusCode::SERVICE_UNAVAILABLE => {
                // A HEAD answer has no body: its Retry-After says it all.
                assert!(r.headers().contains_key("retry-after"), "503 without Retry-After");
                unavailable += 1;
                continue;
            }
            other => panic!("HEAD answered {other}"),
        };
        if offset == body.len() {
            break;
        }
        let end = (offset + PART + PART / 3).min(body.len());
        let r = bounded(
            "flaky PATCH",
            app.tus_patch(&tn, &upload, offset, body[offset..end].to_vec()),
        )
        .await;
        match r.status() {
            StatusCode::NO_CONTENT => {}
            StatusCode::SERVICE_UNAVAILABLE => {
                assert_unavailable(r).await;
                unavailable += 1;
            }
            other => panic!("PATCH answered {other}: {:?}", r.text().await),
        }
    }
    eprintln!(
        "flaky store: {} uploads stored, {unavailable} answers 503, {} requests failed by the proxy",
        ok.len(),
        t.proxy.failed()
    );
    assert!(
        t.proxy.failed() > 0,
        "the proxy failed no request: the test tested nothing"
    );
    t.proxy.set(Mode::Pass).await;
    for (p, body) in &ok {
        assert!(master(app, &tn, id(p)).await.bytes().await.unwrap() == *body);
    }
    assert!(master(app, &tn, id(&q)).await.bytes().await.unwrap() == body);
    swept(app).await;
    assert_eq!(
        t.direct_media().keys().await.unwrap().len(),
        ok.len() + 1,
        "no object but those the catalog names"
    );
}

/// The local store on a small file system (a tmpfs mounted for the test)
/// fills up mid-upload: `507 storage_full`, nothing half-stored, reads keep
/// working, and uploads work again once room is made.
#[tokio::test]
async fn a_full_disk_answers_507_and_recovers() {
    let Some(mount) = SmallDisk::mount(12) else { return };
    // 12 MiB: a 5 MiB file fits, then 16 MiB do not; a 10 MiB resumable
    // upload fits only once the first file is gone.
    let app = TestApp::spawn_with(|s| {
        s.storage = StorageSettings::Local {
            path: Some(mount.path.clone()),
        };
        s.part_size = PART;
        s.max_upload_bytes = 64 * 1024 * 1024;
    })
    .await;
    let tn = app.station("thai-nguyen", "provincial").await;
    let small = bytes(5 * 1024 * 1024, 1);
    let a = app.create_program(&tn, &program("Còn chỗ")).await;
    assert_eq!(
        app.put_master(&tn, id(&a), "a.mp3", small.clone()).await.status(),
        StatusCode::CREATED
    );

    // 16 MiB do not fit in the 7 MiB left.
    let b = app.create_program(&tn, &program("Hết chỗ")).await;
    let r = bounded(
        "PUT on a full disk",
        app.put_master(&tn, id(&b), "b.mp3", bytes(16 << 20, 2)),
    )
    .await;
    assert_problem(r, StatusCode::INSUFFICIENT_STORAGE, "storage_full").await;
    assert!(app.program_json(&tn, &b).await["files"].as_array().unwrap().is_empty());
    assert_eq!(app.count("media_objects"), 1);
    // Nothing half-stored: only the first object's bytes are on the disk.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(mount.used_files(), vec![small.len() as u64], "no staging file left");

    // A resumable upload fills the disk: 507, its offset stays, the
    // chunk's bytes are cut from its spool.
    let r = tus_create(&app, &tn, id(&b), 10 << 20).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let upload = r.headers()["location"].to_str().unwrap().to_owned();
    let big = bytes(10 << 20, 3);
    let r = app.tus_patch(&tn, &upload, 0, big[..4 << 20].to_vec()).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = bounded(
        "PATCH on a full disk",
        app.tus_patch(&tn, &upload, 4 << 20, big[4 << 20..].to_vec()),
    )
    .await;
    assert_problem(r, StatusCode::INSUFFICIENT_STORAGE, "storage_full").await;
    assert_eq!(tus_offset(&app, &tn, &upload).await, 4 << 20);
    let mut used = mount.used_files();
    used.sort();
    assert_eq!(
        used,
        vec![4 << 20, small.len() as u64],
        "the spool holds what was recorded"
    );

    // Reads keep working.
    assert!(master(&app, &tn, id(&a)).await.bytes().await.unwrap() == small);

    // Room is made (the operator removes the first program's file).
    assert_eq!(
        app.delete(&tn, &format!("/api/v1/programs/{}/files/master", id(&a)))
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    let r = app.tus_patch(&tn, &upload, 4 << 20, big[4 << 20..].to_vec()).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT, "{:?}", r.text().await);
    assert!(master(&app, &tn, id(&b)).await.bytes().await.unwrap() == big);
    drop(app);
}

/// A tmpfs of a few MiB mounted on a temporary folder for one test; gone
/// with it.
struct SmallDisk {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
}

impl SmallDisk {
    /// `None` (the test skips, saying why) where the machine does not let
    /// this process mount; under `PXHUB_TEST_STRICT` that fails instead.
    fn mount(mib: u64) -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("media");
        std::fs::create_dir(&path).unwrap();
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m,mode=0700"), "tmpfs"])
            .arg(&path)
            .output();
        match out {
            Ok(o) if o.status.success() => Some(Self { _dir: dir, path }),
            other => {
                let why = match other {
                    Ok(o) => String::from_utf8_lossy(&o.stderr).trim().to_owned(),
                    Err(e) => e.to_string(),
                };
                let message = format!("SKIP a_full_disk_answers_507_and_recovers: cannot mount a small tmpfs here ({why}); it needs root or CAP_SYS_ADMIN");
                assert!(
                    !strict() || std::env::var_os("PXHUB_TEST_NO_MOUNT").is_some(),
                    "{message} (set PXHUB_TEST_NO_MOUNT=1 to allow the skip under PXHUB_TEST_STRICT)"
                );
                eprintln!("{message}");
                None
            }
        }
    }

    /// Sizes of the files on the disk, anywhere under it.
    fn used_files(&self) -> Vec<u64> {
        fn walk(dir: &std::path::Path, out: &mut Vec<u64>) {
            for e in std::fs::read_dir(dir).unwrap() {
                let e = e.unwrap();
                let m = e.metadata().unwrap();
                if m.is_dir() {
                    walk(&e.path(), out);
                } else if m.len() > 0 {
                    out.push(m.len());
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.path, &mut out);
        out
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

/// A multipart upload that no row names (a process killed between beginning
/// it and recording its id) is found in the store's listing and aborted by
/// the sweeper once older than the grace; one a row names is left to it.
#[tokio::test]
async fn the_sweeper_aborts_multipart_uploads_no_row_names() {
    let Some(t) = proxied(8, |_| {}).await else { return };
    let store = t.direct_store();
    let key = "blobs/0123456789abcdef0123456789abcdef";
    let path = object_store::path::Path::from(format!("{}/{key}", t.direct.prefix));
    let upload_id = store.create_multipart(&path).await.unwrap();
    assert!(t.multipart_alive(key, &upload_id).await);
    let pending = t.direct_media().pending_multiparts().await.unwrap();
    assert!(
        pending.iter().any(|m| m.upload_id == upload_id && m.key == key),
        "{pending:?}"
    );
    let mut gone = false;
    for _ in 0..100 {
        if !t.multipart_alive(key, &upload_id).await {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(gone, "the sweeper aborted the unnamed multipart upload");
    assert!(t.direct_media().pending_multiparts().await.unwrap().is_empty());
}

/// A Garage of a test's own (scripts/garage.sh, in a folder and on ports of
/// its own), which the test may stop and start again on the same data.
struct OwnGarage {
    dir: tempfile::TempDir,
    storage: S3Bucket,
    pid: Option<u32>,
    /// The node started again by [`OwnGarage::restart`].
    child: Option<std::process::Child>,
}

impl OwnGarage {
    /// `None` where Garage is not installed (and not [`strict`]).
    fn start(ports: (u16, u16, u16)) -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let out = std::process::Command::new("bash")
            .args([
                "-c",
                "source scripts/garage.sh && [ -x \"$(garage_bin)\" ] && garage_start >&2 && env | grep '^PXHUB_TEST_S3_'",
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("GARAGE_DIR", dir.path())
            .env("GARAGE_S3_PORT", ports.0.to_string())
            .env("GARAGE_RPC_PORT", ports.1.to_string())
            .env("GARAGE_ADMIN_PORT", ports.2.to_string())
            .output()
            .unwrap();
        let pid = std::fs::read_to_string(dir.path().join("pid"))
            .ok()
            .and_then(|p| p.trim().parse().ok());
        if !out.status.success() {
            let mut g = Self {
                dir,
                storage: S3Bucket {
                    endpoint: String::new(),
                    bucket: String::new(),
                    region: String::new(),
                    access_key_id: String::new(),
                    secret_access_key: pxhub::config::Secret::default(),
                    prefix: String::new(),
                },
                pid,
                child: None,
            };
            g.stop();
            assert!(
                !strict(),
                "a Garage of the test's own did not start: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            eprintln!("Garage is not installed: skipping (scripts/test.sh installs it)");
            return None;
        }
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let var = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("PXHUB_TEST_S3_{name}=")))
                .unwrap()
                .to_owned()
        };
        Some(Self {
            storage: S3Bucket {
                endpoint: var("ENDPOINT"),
                bucket: var("BUCKET"),
                region: var("REGION"),
                access_key_id: var("ACCESS_KEY_ID"),
                secret_access_key: pxhub::config::Secret::new(var("SECRET_ACCESS_KEY")),
                prefix: "own".into(),
            },
            dir,
            pid,
            child: None,
        })
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = std::process::Command::new("kill").arg(child.id().to_string()).status();
            let _ = child.wait();
            self.pid = None;
        }
        if let Some(pid) = self.pid.take() {
            let _ = std::process::Command::new("kill").arg(pid.to_string()).status();
            for _ in 0..100 {
                if !std::path::Path::new(&format!("/proc/{pid}")).exists()
                    || std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.contains(") Z"))
                {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    /// Starts the same node again, on its data; waits until S3 answers.
    async fn restart(&mut self) {
        let bin = std::env::var_os("PATH")
            .and_then(|p| {
                std::env::split_paths(&p)
                    .map(|d| d.join("garage"))
                    .find(|b| b.is_file())
            })
            .unwrap_or_else(|| {
                let cargo = std::env::var_os("CARGO_HOME")
                    .map(std::path::PathBuf::from)
                    .unwrap_or_else(|| std::path::PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cargo"));
                cargo.join("bin/garage")
            });
        let log = std::fs::File::options()
            .append(true)
            .create(true)
            .open(self.dir.path().join("garage.log"))
            .unwrap();
        let child = std::process::Command::new(bin)
            .arg("-c")
            .arg(self.dir.path().join("garage.toml"))
            .arg("server")
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let addr = self.storage.endpoint.trim_start_matches("http://").to_owned();
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(&addr).await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("Garage did not come back");
    }
}

impl Drop for OwnGarage {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Garage itself stopped (a test's own node) in the middle of a single
/// upload and of a resumable one: 503 with Retry-After, not ready, nothing
/// recorded; started again on its data, the resumable upload completes
/// byte-exact and the sweeper removes what the cut upload left.
#[tokio::test]
async fn garage_stopped_and_started_again() {
    let Some(mut garage) = OwnGarage::start((29970, 29971, 29973)) else {
        return;
    };
    let app = TestApp::spawn_with(|s| {
        s.storage = StorageSettings::S3(garage.storage.clone());
        s.part_size = PART;
        s.max_upload_bytes = 64 * 1024 * 1024;
        s.sweep_grace_secs = 0;
        s.sweep_interval_secs = 1;
        s.storage_timeout_secs = 3;
        s.storage_retries = 1;
    })
    .await;
    let tn = app.station("thai-nguyen", "provincial").await;
    let kept = app.create_program(&tn, &program("Có trước")).await;
    let old = bytes(1000, 9);
    assert_eq!(
        app.put_master(&tn, id(&kept), "a.mp3", old.clone()).await.status(),
        StatusCode::CREATED
    );
    let p = app.create_program(&tn, &program("Tiếp tục sau khi dừng")).await;
    let body = bytes(2 * PART + 5000, 10);
    let r = tus_create(&app, &tn, id(&p), body.len()).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let upload = r.headers()["location"].to_str().unwrap().to_owned();
    let cut = PART + 100;
    assert_eq!(
        app.tus_patch(&tn, &upload, 0, body[..cut].to_vec()).await.status(),
        StatusCode::NO_CONTENT
    );

    garage.stop();
    let q = app.create_program(&tn, &program("Trong lúc dừng")).await;
    let r = bounded(
        "PUT, Garage stopped",
        app.put_master(&tn, id(&q), "b.mp3", bytes(2 * PART, 11)),
    )
    .await;
    assert_unavailable(r).await;
    let r = bounded(
        "PATCH, Garage stopped",
        app.tus_patch(&tn, &upload, cut, body[cut..].to_vec()),
    )
    .await;
    assert_unavailable(r).await;
    assert_eq!(tus_offset(&app, &tn, &upload).await, cut);
    let r = bounded("GET, Garage stopped", master(&app, &tn, id(&kept))).await;
    assert_unavailable(r).await;
    assert_eq!(bounded("readyz", ready(&app)).await, StatusCode::SERVICE_UNAVAILABLE);
    let hub = pxhub::app::open_hub(&app.settings).unwrap();
    let scrub = bounded("scrub", hub.scrub(&pxhub::exchange::Caller::operator())).await;
    assert!(
        matches!(scrub, Err(pxhub::exchange::ExchangeError::StorageUnavailable(_))),
        "{scrub:?}"
    );
    assert!(app.program_json(&tn, &q).await["files"].as_array().unwrap().is_empty());
    assert!(app.program_json(&tn, &p).await["files"].as_array().unwrap().is_empty());

    garage.restart().await;
    let mut up = false;
    for _ in 0..100 {
        if ready(&app).await == StatusCode::OK {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "ready again once Garage is back");
    let offset = tus_offset(&app, &tn, &upload).await;
    let r = app.tus_patch(&tn, &upload, offset, body[offset..].to_vec()).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT, "{:?}", r.text().await);
    assert!(
        master(&app, &tn, id(&p)).await.bytes().await.unwrap() == body,
        "byte-exact"
    );
    assert!(master(&app, &tn, id(&kept)).await.bytes().await.unwrap() == old);
    swept(&app).await;
    let report = hub.scrub(&pxhub::exchange::Caller::operator()).await.unwrap();
    assert!(report.problems.is_empty() && report.checked == 2, "{report:?}");
}

/// The sweeper, even with no grace, leaves alone the staging file of an
/// upload this process is still writing: the upload completes.
#[tokio::test]
async fn the_sweeper_leaves_uploads_in_progress_alone() {
    let app = TestApp::spawn_with(|s| {
        s.part_size = PART;
        s.sweep_grace_secs = 0;
        s.sweep_interval_secs = 1;
    })
    .await;
    let tn = app.station("thai-nguyen", "provincial").await;
    let p = app.create_program(&tn, &program("Chậm mà chắc")).await;
    let body = bytes(3 * 1024 * 1024 + 17, 12);
    let (tx, sending) = trickling_master(&app, &tn, id(&p), body.len());
    let half = body.len() / 2;
    tx.send(Ok(Bytes::copy_from_slice(&body[..half]))).await.unwrap();
    // Two sweeps or more run while the upload waits for its second half.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    tx.send(Ok(Bytes::copy_from_slice(&body[half..]))).await.unwrap();
    drop(tx);
    let r = bounded("the slow upload", sending).await.unwrap().unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "{:?}", r.text().await);
    assert!(master(&app, &tn, id(&p)).await.bytes().await.unwrap() == body);
}
