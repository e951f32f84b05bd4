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
