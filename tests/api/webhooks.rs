//! Webhooks: where they may go, how many a subscriber may have, who may
//! manage them. (Signing, retries and restarts: `feed.rs`.)

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, App, HttpResponse, HttpServer};
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};
use tokio::sync::Semaphore;

use crate::feed::{start_receiver, Receiver};
use crate::helpers::{assert_problem, fields, program, TestApp};

/// Asks, as `token`, for a webhook to `url` on publications.
async fn ask_for_webhook(app: &TestApp, token: &str, url: &str) -> Response {
    app.post(
        token,
        "/api/v1/webhooks",
        &json!({"url": url, "events": ["program.published"]}),
    )
    .await
}

/// Asks for a webhook to `url` as `token`, and checks it is refused for its
/// url (422 `validation_failed` naming `url`); returns the problem.
pub async fn refused_webhook(app: &TestApp, token: &str, url: &str) -> Value {
    let r = ask_for_webhook(app, token, url).await;
    let p = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(fields(&p), ["url"], "{url}");
    p
}

/// The default policy: no allow list.
async fn strict_app() -> TestApp {
    TestApp::spawn_with(|s| {
        s.webhook_allow = String::new();
        s.webhook_retry_ms = 100;
    })
    .await
}

#[tokio::test]
async fn webhooks_to_the_hubs_own_machine_or_networks_are_refused() {
    let app = strict_app().await;
    let vtv = app.station("vtv", "national").await;
    for url in [
        "http://127.0.0.1:1/",
        "http://localhost:1/",
        "http://2130706433/",
        "http://0x7f.1/",
        "http://0177.0.0.1/",
        "http://[::1]:1/",
        "http://[::ffff:127.0.0.1]:1/",
        "http://0.0.0.0/",
    ] {
        // Loopback forms only: private, link-local and other ranges are
        // judged as addresses and through a stub resolver in
        // exchange::webhooks::guard's tests, never sent anywhere.
        let p = refused_webhook(&app, &vtv, url).await;
        assert!(
            p["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("must be a public address"),
            "{url}: {p}"
        );
    }
    let list: Value = app.get(&vtv, "/api/v1/webhooks").await.json().await.unwrap();
    assert_eq!(list["items"], json!([]));
}

/// Stores a subscription as if the policy had allowed it when it was made.
fn stored_webhook(app: &TestApp, station: &str, url: &str) -> String {
    let catalog = pxhub::catalog::Catalog::open(&app.catalog_path()).unwrap();
    let hook = pxhub::domain::Webhook {
        id: uuid::Uuid::new_v4().to_string(),
        station: Some(pxhub::domain::StationId::parse(station).unwrap()),
        url: url.to_owned(),
        events: vec![pxhub::domain::EventType::Published],
        secret: pxhub::domain::Secret::new("a secret long enough"),
        created_at: chrono::Utc::now(),
        token_id: None,
    };
    let id = hook.id.clone();
    catalog
        .write_blocking(move |tx| pxhub::catalog::webhooks::insert(tx, &hook))
        .unwrap();
    id
}

/// A secret is 16 to 256 characters without control characters, as the
/// OpenAPI document says: characters, not bytes.
#[tokio::test]
async fn a_webhook_secret_is_counted_in_characters() {
    let app = TestApp::spawn().await;
    let vtv = app.station("vtv", "national").await;
    let ask =
        |secret: String| json!({"url": "http://127.0.0.1:9/hook", "events": ["program.published"], "secret": secret});
    // 256 letters of two bytes each.
    let r = app.post(&vtv, "/api/v1/webhooks", &ask("đ".repeat(256))).await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
    for bad in [
        "đ".repeat(257),
        "a".repeat(15),
        format!("{}\u{7}", "a".repeat(20)),
        format!("{}\u{85}", "a".repeat(20)),
    ] {
        let r = app.post(&vtv, "/api/v1/webhooks", &ask(bad.clone())).await;
        let p = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(fields(&p), ["secret"], "{bad:?}");
    }
}

#[tokio::test]
async fn a_webhook_the_policy_no_longer_allows_is_not_delivered() {
    let app = strict_app().await;
    let tn = app.station("thai-nguyen", "provincial").await;
    let vtv = app.station("vtv", "national").await;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let receiver = Receiver::default();
    start_receiver(listener, receiver.clone());
    // An IP literal (judged before connecting) and a name (judged by the
    // delivery client's resolver), both on the receiver.
    let hooks = [
        stored_webhook(&app, "vtv", &format!("http://127.0.0.1:{port}/hook")),
        stored_webhook(&app, "vtv", &format!("http://localhost:{port}/hook")),
    ];
    app.published(&tn, &program("Không tới được")).await;
    for hook in hooks {
        let path = format!("/api/v1/webhooks/{hook}");
        let mut detail = Value::Null;
        for _ in 0..200 {
            detail = app.get(&vtv, &path).await.json().await.unwrap();
            if detail["deliveries"][0]["attempts"].as_u64().unwrap_or(0) >= 1 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let d = &detail["deliveries"][0];
        assert_eq!(d["state"], "failed", "{detail}");
        assert_eq!(d["attempts"], 1, "{detail}");
        assert_eq!(d["last_status"], Value::Null, "{detail}");
        assert_eq!(
            d["last_error"], "refused: the address is not one webhooks may reach",
            "{detail}"
        );
    }
    assert!(receiver.got.lock().unwrap().is_empty(), "the receiver was reached");
}

/// Subscribes `url` to publications; returns the subscription.
async fn subscribe(app: &TestApp, token: &str, url: &str) -> Value {
    let r = ask_for_webhook(app, token, url).await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
    r.json().await.unwrap()
}

fn ids(list: &Value) -> Vec<&str> {
    let mut ids: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_str().unwrap())
        .collect();
    ids.sort();
    ids
}

fn sorted(mut v: Vec<&str>) -> Vec<&str> {
    v.sort();
    v
}

/// Issues another token for `station`; returns its text and id.
async fn second_token(app: &TestApp, station: &str) -> (String, String) {
    let r = app
        .post(
            &app.admin,
            &format!("/api/v1/stations/{station}/tokens"),
            &json!({"label": "second"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let t: Value = r.json().await.unwrap();
    (
        t["token"].as_str().unwrap().to_owned(),
        t["id"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn revoking_a_token_ends_the_webhooks_it_made() {
    let app = TestApp::spawn().await;
    let tn = app.station("thai-nguyen", "provincial").await;
    let vtv = app.station("vtv", "national").await;
    let (other, other_id) = second_token(&app, "vtv").await;
    let kept = subscribe(&app, &vtv, "http://127.0.0.1:9/kept").await;
    let ended = subscribe(&app, &other, "http://127.0.0.1:9/ended").await;
    let r = app
        .delete(&app.admin, &format!("/api/v1/stations/vtv/tokens/{other_id}"))
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);

    let list: Value = app.get(&vtv, "/api/v1/webhooks").await.json().await.unwrap();
    assert_eq!(ids(&list), [kept["id"].as_str().unwrap()]);
    let r = app
        .get(
            &app.admin,
            &format!("/api/v1/webhooks/{}", ended["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // Nothing is queued for it any more.
    app.published(&tn, &program("Sau khi thu hồi")).await;
    assert_eq!(app.count("deliveries"), 1);
}

#[tokio::test]
async fn the_operator_lists_and_ends_any_stations_webhooks() {
    let app = TestApp::spawn().await;
    let vtv = app.station("vtv", "national").await;
    let vov = app.station("vov", "national").await;
    let a = subscribe(&app, &vtv, "http://127.0.0.1:9/vtv").await;
    let b = subscribe(&app, &vov, "http://127.0.0.1:9/vov").await;
    let c = subscribe(&app, &app.admin, "http://127.0.0.1:9/operator").await;
    let (a, b, c) = (id_of(&a), id_of(&b), id_of(&c));

    let all: Value = app.get(&app.admin, "/api/v1/webhooks").await.json().await.unwrap();
    assert_eq!(ids(&all), sorted(vec![a.as_str(), b.as_str(), c.as_str()]));
    let stations: Vec<&Value> = all["items"].as_array().unwrap().iter().map(|h| &h["station"]).collect();
    assert!(stations.contains(&&json!("vtv")) && stations.contains(&&Value::Null));
    let one: Value = app
        .get(&app.admin, "/api/v1/webhooks?station=vtv")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ids(&one), [a.as_str()]);
    assert_eq!(one["items"][0]["station"], "vtv");

    // A station sees its own only, and may not ask for another's.
    let own: Value = app.get(&vtv, "/api/v1/webhooks").await.json().await.unwrap();
    assert_eq!(ids(&own), [a.as_str()]);
    let own: Value = app
        .get(&vtv, "/api/v1/webhooks?station=vtv")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ids(&own), [a.as_str()]);
    assert_problem(
        app.get(&vtv, "/api/v1/webhooks?station=vov").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    for (query, field) in [("station=Not%20a%20slug", "station"), ("stations=vtv", "stations")] {
        let r = app.get(&app.admin, &format!("/api/v1/webhooks?{query}")).await;
        let p = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(fields(&p), [field]);
    }
    let path = format!("/api/v1/webhooks/{a}");
    assert_eq!(app.get(&vov, &path).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.delete(&vov, &path).await.status(), StatusCode::NOT_FOUND);

    // The operator sees any one's log, and ends it.
    let detail: Value = app.get(&app.admin, &path).await.json().await.unwrap();
    assert_eq!(detail["station"], "vtv");
    assert_eq!(app.delete(&app.admin, &path).await.status(), StatusCode::NO_CONTENT);
    let own: Value = app.get(&vtv, "/api/v1/webhooks").await.json().await.unwrap();
    assert_eq!(own["items"], json!([]));
}

fn id_of(hook: &Value) -> String {
    hook["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_subscriber_may_have_ten_webhooks() {
    let app = TestApp::spawn().await;
    let vtv = app.station("vtv", "national").await;
    let vov = app.station("vov", "national").await;
    let mut made = Vec::new();
    for i in 0..10 {
        made.push(id_of(&subscribe(&app, &vtv, &format!("http://127.0.0.1:9/{i}")).await));
    }
    let r = app
        .post(
            &vtv,
            "/api/v1/webhooks",
            &json!({"url": "http://127.0.0.1:9/10", "events": ["program.published"]}),
        )
        .await;
    let p = assert_problem(r, StatusCode::CONFLICT, "too_many_webhooks").await;
    assert!(p["detail"].as_str().unwrap().contains("10"), "{p}");
    // Others are counted apart, and a deletion makes room.
    subscribe(&app, &vov, "http://127.0.0.1:9/vov").await;
    subscribe(&app, &app.admin, "http://127.0.0.1:9/operator").await;
    let r = app.delete(&vtv, &format!("/api/v1/webhooks/{}", made[0])).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    subscribe(&app, &vtv, "http://127.0.0.1:9/again").await;
}

#[tokio::test]
async fn the_cap_is_the_operators_choice() {
    let app = TestApp::spawn_with(|s| s.max_webhooks_per_subscriber = 1).await;
    let vtv = app.station("vtv", "national").await;
    subscribe(&app, &vtv, "http://127.0.0.1:9/1").await;
    let r = app
        .post(
            &vtv,
            "/api/v1/webhooks",
            &json!({"url": "http://127.0.0.1:9/2", "events": ["program.published"]}),
        )
        .await;
    assert_problem(r, StatusCode::CONFLICT, "too_many_webhooks").await;
}

/// What the receivers saw, in the order they saw it: (who, event seq).
type Seen = Arc<Mutex<Vec<(&'static str, i64)>>>;

struct Gated {
    name: &'static str,
    /// Closed: requests wait for the test to open it.
    gate: Arc<Semaphore>,
    seen: Seen,
}

async fn gated(body: web::Bytes, state: web::Data<Gated>) -> HttpResponse {
    let _pass = state.gate.acquire().await.unwrap();
    let body: Value = serde_json::from_slice(&body).unwrap();
    let seq = body["event"]["seq"].as_i64().unwrap();
    state.seen.lock().unwrap().push((state.name, seq));
    HttpResponse::Ok().finish()
}

/// A receiver on loopback that answers once `gate` lets it; returns its URL.
fn start_gated(name: &'static str, gate: Arc<Semaphore>, seen: Seen) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let data = web::Data::new(Gated { name, gate, seen });
    let server = HttpServer::new(move || App::new().app_data(data.clone()).default_service(web::to(gated)))
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
    tokio::spawn(server);
    url
}

#[tokio::test]
async fn a_slow_subscriber_does_not_delay_the_others() {
    let app = TestApp::spawn().await;
    let tn = app.station("thai-nguyen", "provincial").await;
    let vtv = app.station("vtv", "national").await;
    let vov = app.station("vov", "national").await;
    let seen = Seen::default();
    // VTV's receiver hangs until the test lets it answer; VOV's answers at once.
    let slow_gate = Arc::new(Semaphore::new(0));
    let slow = start_gated("vtv", slow_gate.clone(), seen.clone());
    let fast = start_gated("vov", Arc::new(Semaphore::new(1000)), seen.clone());
    for _ in 0..8 {
        subscribe(&app, &vtv, &slow).await;
    }
    subscribe(&app, &vov, &fast).await;
    for i in 0..3 {
        app.published(&tn, &program(&format!("Bản tin {i}"))).await;
    }
    // Every VOV delivery arrives while VTV's receiver still hangs (a hub that
    // sent VTV's batch before VOV's next would keep them until its 10 s
    // timeout).
    for _ in 0..160 {
        if seen.lock().unwrap().len() == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    {
        let seen = seen.lock().unwrap();
        assert_eq!(seen.iter().map(|s| s.0).collect::<Vec<_>>(), ["vov"; 3], "{seen:?}");
    }
    // Let VTV's receiver answer: its 24 deliveries come one after another,
    // in the order of the events.
    slow_gate.add_permits(1);
    for _ in 0..400 {
        if seen.lock().unwrap().len() == 3 + 24 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let seen = seen.lock().unwrap();
    let vtv_seqs: Vec<i64> = seen.iter().filter(|s| s.0 == "vtv").map(|s| s.1).collect();
    assert_eq!(vtv_seqs.len(), 24, "{seen:?}");
    assert!(vtv_seqs.windows(2).all(|w| w[0] <= w[1]), "{vtv_seqs:?}");
}

async fn redirect(state: web::Data<String>) -> HttpResponse {
    HttpResponse::TemporaryRedirect()
        .insert_header(("Location", state.get_ref().clone()))
        .finish()
}

#[tokio::test]
async fn deliveries_do_not_follow_redirects() {
    // A receiver that sends the hub elsewhere: a redirect could lead a
    // delivery anywhere, past the check of the subscribed URL.
    let app = TestApp::spawn_with(|s| s.webhook_retry_ms = 60_000).await;
    let tn = app.station("thai-nguyen", "provincial").await;
    let vtv = app.station("vtv", "national").await;
    let target = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let elsewhere = format!("http://{}/elsewhere", target.local_addr().unwrap());
    let reached = Receiver::default();
    start_receiver(target, reached.clone());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let data = web::Data::new(elsewhere);
    let server = HttpServer::new(move || App::new().app_data(data.clone()).default_service(web::to(redirect)))
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
    tokio::spawn(server);
    let hook = subscribe(&app, &vtv, &url).await;
    app.published(&tn, &program("Chuyển hướng")).await;
    let path = format!("/api/v1/webhooks/{}", id_of(&hook));
    let mut detail = Value::Null;
    for _ in 0..200 {
        detail = app.get(&vtv, &path).await.json().await.unwrap();
        if detail["deliveries"][0]["attempts"].as_u64().unwrap_or(0) >= 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let d = &detail["deliveries"][0];
    assert_eq!(d["last_status"], 307, "{detail}");
    assert_eq!(d["state"], "pending", "a redirect is a failed attempt: {detail}");
    assert_eq!(d["last_error"], "answered 307 Temporary Redirect", "{detail}");
    assert!(reached.got.lock().unwrap().is_empty(), "the redirect was followed");
}

/// The webhook channel reads the event log from its own cursor: events a
/// crash left between their change and the channel are taken when the hub
/// starts again, and a hub that never ran the channel starts it at the end
/// of the log (what came before was carried out by the hub that wrote it).
#[tokio::test]
async fn the_webhook_channel_takes_what_a_crash_left_from_its_cursor() {
    let mut app = TestApp::spawn().await;
    let tn = app.station("thai-nguyen", "provincial").await;
    let vtv = app.station("vtv", "national").await;
    subscribe(&app, &vtv, "http://127.0.0.1:9/hook").await;
    app.published(&tn, &program("Trước khi sập")).await;
    assert_eq!(app.count("deliveries"), 1, "taken when the change answers");

    // As if the hub died after the change and before the channel took it.
    let path = app.catalog_path();
    let cursor = || {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.query_row(
            "SELECT value FROM hub_settings WHERE key = 'cursor.webhooks'",
            [],
            |r| r.get::<_, Vec<u8>>(0),
        )
        .unwrap()
    };
    let taken = cursor();
    {
        let c = rusqlite::Connection::open(app.catalog_path()).unwrap();
        c.execute("DELETE FROM deliveries", []).unwrap();
        c.execute(
            "UPDATE hub_settings SET value = ?1 WHERE key = 'cursor.webhooks'",
            [&0i64.to_be_bytes()[..]],
        )
        .unwrap();
    }
    app.restart().await;
    let mut waited = 0;
    while app.count("deliveries") == 0 && waited < 100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += 1;
    }
    assert_eq!(app.count("deliveries"), 1, "taken again, once, after the restart");
    assert_eq!(cursor(), taken);

    // A hub whose channel never ran (one from before the channel had a
    // cursor) starts at the end: nothing old is sent twice.
    {
        let c = rusqlite::Connection::open(app.catalog_path()).unwrap();
        c.execute("DELETE FROM hub_settings WHERE key = 'cursor.webhooks'", [])
            .unwrap();
    }
    app.restart().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.count("deliveries"), 1);
    assert_eq!(cursor(), taken);
    app.published(&tn, &program("Sau khi dậy")).await;
    assert_eq!(app.count("deliveries"), 2);
}
