//! Webhooks: where they may go, how many a subscriber may have, who may
//! manage them. (Signing, retries and restarts: `feed.rs`.)

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::feed::{start_receiver, Receiver};
use crate::helpers::{assert_problem, fields, program, TestApp};

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
        "http://10.0.0.1/",
        "http://192.168.1.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.64.0.1/",
        "http://[fd00::1]/",
        "http://[fe80::1]/",
        "http://224.0.0.1/",
        "http://255.255.255.255/",
    ] {
        let r = app
            .post(
                &vtv,
                "/api/v1/webhooks",
                &json!({"url": url, "events": ["program.published"]}),
            )
            .await;
        let p = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(fields(&p), ["url"], "{url}");
        assert!(
            p["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("hub's own machine"),
            "{url}: {p}"
        );
    }
    let list: Value = app.get(&vtv, "/api/v1/webhooks").await.json().await.unwrap();
    assert_eq!(list["items"], json!([]));
}

/// Stores a subscription as if the policy had allowed it when it was made.
fn stored_webhook(app: &TestApp, station: &str, url: &str) -> String {
    let catalog = pxhub::catalog::Catalog::open(&app.catalog_path()).unwrap();
    let hook = pxhub::catalog::webhooks::Webhook {
        id: uuid::Uuid::new_v4().to_string(),
        station: Some(station.to_owned()),
        url: url.to_owned(),
        events: vec!["program.published".into()],
        secret: "a secret long enough".into(),
        created_at: chrono::Utc::now(),
        token_id: None,
    };
    let id = hook.id.clone();
    catalog
        .write_blocking(move |tx| pxhub::catalog::webhooks::insert(tx, &hook))
        .unwrap();
    id
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
    let r = app
        .post(
            token,
            "/api/v1/webhooks",
            &json!({"url": url, "events": ["program.published"]}),
        )
        .await;
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
