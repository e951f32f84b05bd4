//! For the national broadcasters: the change feed, Atom, webhooks, EBUCore.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use hmac::{Hmac, Mac};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::helpers::{assert_problem, fields, id, program, TestApp};

async fn published(app: &TestApp, token: &str, body: &Value) -> Value {
    app.published(token, body).await
}

/// Reads the whole feed from `cursor` on; returns the events and the cursor.
async fn drain(app: &TestApp, token: &str, mut cursor: Option<String>, limit: usize) -> (Vec<Value>, Option<String>) {
    let mut events = Vec::new();
    loop {
        let after = cursor.as_deref().map(|c| format!("&after={c}")).unwrap_or_default();
        let r = app.get(token, &format!("/api/v1/feed?limit={limit}{after}")).await;
        assert_eq!(r.status(), StatusCode::OK);
        let page: Value = r.json().await.unwrap();
        let items = page["items"].as_array().unwrap().clone();
        let next = page["next_cursor"].as_str().unwrap().to_owned();
        let done = items.is_empty();
        events.extend(items);
        cursor = Some(next);
        if done {
            return (events, cursor);
        }
    }
}

#[tokio::test]
async fn the_feed_gives_every_event_once_in_order_while_stations_write() {
    let app = TestApp::spawn().await;
    let tn = app.station("thai-nguyen", "provincial").await;
    let cb = app.station("cao-bang", "provincial").await;
    let vtv = app.station("vtv", "national").await;

    // Writers: two stations publishing, editing and withdrawing.
    let writers: Vec<_> = [tn.clone(), cb.clone()]
        .into_iter()
        .map(|token| {
            let app = TestApp {
                address: app.address.clone(),
                client: app.client.clone(),
                admin: app.admin.clone(),
                dir: tempfile::tempdir().unwrap(),
                settings: app.settings.clone(),
            };
            tokio::spawn(async move {
                for i in 0..6 {
                    let p = app.published(&token, &program(&format!("Tin {i}"))).await;
                    let path = format!("/api/v1/programs/{}", id(&p));
                    assert_eq!(
                        app.patch(&token, &path, &json!({"summary": format!("sửa {i}")}))
                            .await
                            .status(),
                        StatusCode::OK
                    );
                    if i % 3 == 0 {
                        assert_eq!(
                            app.post(&token, &format!("{path}/withdraw"), &json!({"reason": "rút"}))
                                .await
                                .status(),
                            StatusCode::OK
                        );
                    }
                }
            })
        })
        .collect();
    // A reader following the feed meanwhile.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    while !writers.iter().all(|w| w.is_finished()) {
        let (events, next) = drain(&app, &vtv, cursor.clone(), 3).await;
        seen.extend(events);
        cursor = next;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for w in writers {
        w.await.unwrap();
    }
    let (rest, _) = drain(&app, &vtv, cursor, 3).await;
    seen.extend(rest);

    let seqs: Vec<i64> = seen.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    // 2 stations × 6 programs: published + updated each (+ master file events
    // do not count: attached before publication), and 2 withdrawals each.
    assert_eq!(seqs.len(), 2 * (6 * 2 + 2), "{seqs:?}");
    assert_eq!(
        seqs,
        (seqs[0]..seqs[0] + seqs.len() as i64).collect::<Vec<_>>(),
        "in order, no gaps, no repeats"
    );
    let kinds: BTreeSet<&str> = seen.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["program.published", "program.updated", "program.withdrawn"].into()
    );
    for e in &seen {
        assert_eq!(e["program"]["id"], e["program_id"]);
        assert!(e["at"].is_string());
    }
}

#[tokio::test]
async fn the_feed_is_for_national_readers_and_follows_the_rights() {
    let app = TestApp::spawn().await;
    let tn = app.station("thai-nguyen", "provincial").await;
    let vtv = app.station("vtv", "national").await;
    app.station("cao-bang", "provincial").await;
    // A station's feed is what it follows; the whole feed is the broadcasters'.
    assert_problem(
        app.get(&tn, "/api/v1/feed?scope=all").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    for (query, field) in [("after=forged", "after"), ("limit=101", "limit"), ("since=1", "since")] {
        let r = app.get(&vtv, &format!("/api/v1/feed?{query}")).await;
        let p = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(fields(&p), [field]);
    }
    let mut hidden = program("Chỉ Cao Bằng");
    hidden["rights"] = json!({"audience": "stations", "stations": ["cao-bang"]});
    published(&app, &tn, &hidden).await;
    let open = published(&app, &tn, &program("Cho mọi đài")).await;
    let (events, cursor) = drain(&app, &vtv, None, 20).await;
    assert_eq!(
        events
            .iter()
            .map(|e| e["program_id"].as_str().unwrap())
            .collect::<Vec<_>>(),
        [id(&open)]
    );
    // The admin sees both; an empty page keeps the cursor moving.
    let (all, _) = drain(&app, &app.admin, None, 20).await;
    assert_eq!(all.len(), 2);
    let page: Value = app
        .get(&vtv, &format!("/api/v1/feed?after={}", cursor.clone().unwrap()))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"], json!([]));
    assert_eq!(page["next_cursor"].as_str(), cursor.as_deref());
    // A replaced file is an event too.
    let r = app
        .request(
            Method::PUT,
            Some(&tn),
            &format!("/api/v1/programs/{}/files/master?filename=b.mp3", id(&open)),
        )
        .header("Content-Type", "audio/mpeg")
        .body("new bytes")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let (events, _) = drain(&app, &vtv, cursor, 20).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["type"], "file.replaced");
    assert_eq!(events[0]["program"]["files"][0]["filename"], "b.mp3");
}

#[tokio::test]
async fn the_atom_feed_parses_and_answers_304() {
    let app = TestApp::spawn().await;
    let tn = app.station("thai-nguyen", "provincial").await;
    let vtv = app.station("vtv", "national").await;
    let mut body = program("Phóng sự <Mẫu Sơn> & mùa đào");
    body["summary"] = json!("Hoa đào nở sớm");
    let p = published(&app, &tn, &body).await;
    let r = app.get(&vtv, "/api/v1/feed.atom").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/atom+xml"));
    let etag = r.headers()["etag"].to_str().unwrap().to_owned();
    let text = r.text().await.unwrap();
    let feed = atom_syndication::Feed::read_from(text.as_bytes()).expect("valid Atom");
    assert_eq!(feed.entries().len(), 1);
    let entry = &feed.entries()[0];
    assert_eq!(entry.title().as_str(), "Phóng sự <Mẫu Sơn> & mùa đào");
    assert_eq!(entry.summary().map(|s| s.as_str()), Some("Hoa đào nở sớm"));
    let enclosure = entry
        .links()
        .iter()
        .find(|l| l.rel() == "enclosure")
        .expect("an enclosure");
    assert!(enclosure
        .href()
        .ends_with(&format!("/api/v1/programs/{}/files/master", id(&p))));
    assert_eq!(enclosure.length(), Some(p["files"][0]["size"].to_string().as_str()));
    assert_eq!(enclosure.mime_type(), Some("audio/mpeg"));
    let r = app
        .request(Method::GET, Some(&vtv), "/api/v1/feed.atom")
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    // Newer first after a second publication; the ETag changes.
    published(&app, &tn, &program("Bản tin mới")).await;
    let r = app
        .request(Method::GET, Some(&vtv), "/api/v1/feed.atom")
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let feed = atom_syndication::Feed::read_from(r.text().await.unwrap().as_bytes()).unwrap();
    assert_eq!(feed.entries()[0].title().as_str(), "Bản tin mới");

    // A feed reader without headers uses the URL /me gives.
    let me: Value = app.get(&vtv, "/api/v1/me").await.json().await.unwrap();
    let url = me["feed_url"].as_str().unwrap();
    let r = app.client.get(format!("{}{url}", app.address)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let tn_me: Value = app.get(&tn, "/api/v1/me").await.json().await.unwrap();
    assert!(tn_me["feed_url"]
        .as_str()
        .unwrap()
        .starts_with("/api/v1/feed.atom?key="));
    let forged = format!("{}x", &url[..url.len() - 1]);
    let r = app.client.get(format!("{}{forged}", app.address)).send().await.unwrap();
    assert_problem(r, StatusCode::UNAUTHORIZED, "unauthorized").await;
    assert_problem(
        app.get(&tn, "/api/v1/feed.atom?scope=all").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    // The key dies with its token.
    let token_id = me["token_id"].as_str().unwrap();
    app.delete(&app.admin, &format!("/api/v1/stations/vtv/tokens/{token_id}"))
        .await;
    let r = app.client.get(format!("{}{url}", app.address)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

/// What a receiver got: signature, delivery id, event type, body.
pub(crate) type Received = (String, String, String, Vec<u8>);

/// A webhook receiver: records what it gets, and fails the first `fail` times.
#[derive(Clone, Default)]
pub(crate) struct Receiver {
    pub got: Arc<Mutex<Vec<Received>>>,
    pub fail: Arc<Mutex<usize>>,
}

async fn receive(req: HttpRequest, body: web::Bytes, state: web::Data<Receiver>) -> HttpResponse {
    let h = |n: &str| {
        req.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    {
        let mut fail = state.fail.lock().unwrap();
        if *fail > 0 {
            *fail -= 1;
            return HttpResponse::ServiceUnavailable().finish();
        }
    }
    state.got.lock().unwrap().push((
        h("x-hub-signature-256"),
        h("x-hub-delivery"),
        h("x-hub-event"),
        body.to_vec(),
    ));
    HttpResponse::Ok().finish()
}

pub(crate) fn start_receiver(listener: std::net::TcpListener, state: Receiver) {
    let data = web::Data::new(state);
    let server = HttpServer::new(move || App::new().app_data(data.clone()).default_service(web::to(receive)))
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
    tokio::spawn(server);
}

pub(crate) async fn wait_for(mut check: impl FnMut() -> bool) {
    for _ in 0..200 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("never happened");
}

#[tokio::test]
async fn webhooks_are_signed_retried_and_survive_a_restart() {
    let mut app = TestApp::spawn_with(|s| s.webhook_retry_ms = 100).await;
    let tn = app.station("thai-nguyen", "provincial").await;
    let vtv = app.station("vtv", "national").await;
    let secret = "bí mật của VTV, đủ dài";

    for (body, field) in [
        (
            json!({"url": "ftp://localhost/", "events": ["program.published"]}),
            "url",
        ),
        (json!({"url": "http://127.0.0.1:9/", "events": []}), "events"),
        (
            json!({"url": "http://127.0.0.1:9/", "events": ["program.deleted"]}),
            "events[0]",
        ),
        (
            json!({"url": "http://127.0.0.1:9/", "events": ["program.published"], "secret": "short"}),
            "secret",
        ),
    ] {
        let r = app.post(&vtv, "/api/v1/webhooks", &body).await;
        let p = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(fields(&p), [field], "{body}");
    }

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let receiver = Receiver::default();
    *receiver.fail.lock().unwrap() = 2;
    start_receiver(listener, receiver.clone());
    let r = app
        .post(
            &vtv,
            "/api/v1/webhooks",
            &json!({"url": url, "events": ["program.published", "program.withdrawn"], "secret": secret}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let hook: Value = r.json().await.unwrap();
    assert_eq!(
        hook["secret"],
        Value::Null,
        "a secret the subscriber chose is not echoed"
    );

    let p = published(&app, &tn, &program("Gửi đi")).await;
    wait_for(|| receiver.got.lock().unwrap().len() == 1).await;
    let (signature, delivery, kind, body) = receiver.got.lock().unwrap()[0].clone();
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(&body);
    assert_eq!(
        signature,
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    );
    assert_eq!(kind, "program.published");
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["delivery"], delivery);
    assert_eq!(body["event"]["program"]["id"], p["id"]);
    let detail: Value = app
        .get(&vtv, &format!("/api/v1/webhooks/{}", hook["id"].as_str().unwrap()))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(detail["deliveries"][0]["state"], "delivered");
    assert_eq!(detail["deliveries"][0]["attempts"], 3, "two failures, then delivered");
    assert_eq!(detail["deliveries"][0]["last_status"], 200);

    // A receiver that is down: the delivery waits in the catalog, and a
    // restarted hub delivers it once the receiver is back.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let down = listener.local_addr().unwrap();
    drop(listener);
    let r = app
        .post(
            &vtv,
            "/api/v1/webhooks",
            &json!({"url": format!("http://{down}/hook"), "events": ["program.withdrawn"]}),
        )
        .await;
    let late: Value = r.json().await.unwrap();
    assert_eq!(
        late["secret"].as_str().unwrap().len(),
        64,
        "the hub made a secret and shows it once"
    );
    app.post(
        &tn,
        &format!("/api/v1/programs/{}/withdraw", id(&p)),
        &json!({"reason": "hết hạn"}),
    )
    .await;
    let path = format!("/api/v1/webhooks/{}", late["id"].as_str().unwrap());
    wait_for_attempts(&app, &vtv, &path).await;
    app.restart().await;
    let back = Receiver::default();
    start_receiver(std::net::TcpListener::bind(down).unwrap(), back.clone());
    for _ in 0..200 {
        if back.got.lock().unwrap().len() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let d: Value = app.get(&vtv, &path).await.json().await.unwrap();
    assert_eq!(back.got.lock().unwrap().len(), 1, "{d}");
    assert_eq!(back.got.lock().unwrap()[0].2, "program.withdrawn");

    // Deleting a subscription stops it (who else may: `webhooks.rs`).
    assert_eq!(app.delete(&vtv, &path).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.delete(&vtv, &path).await.status(), StatusCode::NOT_FOUND);
    let list: Value = app.get(&vtv, "/api/v1/webhooks").await.json().await.unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
}

async fn wait_for_attempts(app: &TestApp, token: &str, path: &str) {
    for _ in 0..200 {
        let d: Value = app.get(token, path).await.json().await.unwrap();
        if d["deliveries"][0]["attempts"].as_u64().unwrap_or(0) >= 1 {
            assert_eq!(d["deliveries"][0]["state"], "pending");
            assert!(d["deliveries"][0]["last_error"].is_string());
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no attempt was made");
}

#[tokio::test]
async fn the_ebucore_sidecar_describes_the_program() {
    let app = TestApp::spawn().await;
    let tn = app.station("thai-nguyen", "provincial").await;
    let cb = app.station("cao-bang", "provincial").await;
    let mut body = program("Thời sự tối 12/3");
    body["series"] = json!("Bản tin tiếng Tày");
    body["summary"] = json!("Tin tức <trong> tỉnh & khu vực");
    body["languages"] = json!(["vi", "tyz"]);
    body["duration_seconds"] = json!(1500);
    body["credits"] = json!([{"role": "producer", "name": "Nguyễn Văn A"}]);
    let p = published(&app, &tn, &body).await;
    let r = app.get(&cb, &format!("/api/v1/programs/{}/ebucore.xml", id(&p))).await;
    assert_eq!(r.status(), StatusCode::OK);
    let xml = r.text().await.unwrap();
    crate::probes::assert_valid_ebucore(&xml);
    let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
    let ns = "urn:ebu:metadata-schema:ebucore";
    let root = doc.root_element();
    assert_eq!(
        (root.tag_name().namespace(), root.tag_name().name()),
        (Some(ns), "ebuCoreMain")
    );
    let text = |name: &str| -> Vec<String> {
        doc.descendants()
            .filter(|n| n.tag_name().name() == name)
            .filter_map(|n| n.text().map(str::to_owned))
            .collect()
    };
    assert_eq!(text("title"), ["Thời sự tối 12/3", "Bản tin tiếng Tày"]);
    assert_eq!(text("description"), ["Tin tức <trong> tỉnh & khu vực"]);
    assert_eq!(text("language"), ["vi", "tyz"]);
    assert_eq!(text("name"), ["Nguyễn Văn A"]);
    assert_eq!(text("organisationName"), ["Đài thai-nguyen"]);
    assert_eq!(text("hashValue"), [p["files"][0]["sha256"].as_str().unwrap()]);
    assert_eq!(text("fileSize"), [p["files"][0]["size"].to_string()]);
    assert_eq!(text("normalPlayTime"), ["PT0H25M0S"]);
    let core: Vec<&str> = root
        .first_element_child()
        .unwrap()
        .children()
        .filter(|n| n.is_element())
        .map(|n| n.tag_name().name())
        .collect();
    // EBUCore's coreMetadata is a sequence: its elements come in this order.
    let order = [
        "title",
        "alternativeTitle",
        "creator",
        "subject",
        "description",
        "publisher",
        "date",
        "type",
        "format",
        "identifier",
        "language",
        "rights",
    ];
    let positions: Vec<usize> = core
        .iter()
        .map(|n| order.iter().position(|o| o == n).expect(n))
        .collect();
    assert!(positions.windows(2).all(|w| w[0] <= w[1]), "{core:?}");
    let draft = app.create_program(&tn, &program("Nháp")).await;
    assert_problem(
        app.get(&cb, &format!("/api/v1/programs/{}/ebucore.xml", id(&draft)))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}
