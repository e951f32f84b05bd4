use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::TestApp;

#[test]
fn the_committed_openapi_document_is_what_the_code_generates() {
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json"))
        .expect("openapi/openapi.json is committed");
    assert!(
        committed == pxhub::api::openapi_json(),
        "openapi/openapi.json is stale: run `cargo run -- openapi > openapi/openapi.json`"
    );
}

#[tokio::test]
async fn the_document_and_its_page_are_served_without_a_token() {
    let app = TestApp::spawn().await;
    let r = app
        .client
        .get(format!("{}/openapi.json", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let served: Value = r.json().await.unwrap();
    let generated: Value = serde_json::from_str(&pxhub::api::openapi_json()).unwrap();
    assert_eq!(served, generated);
    assert_eq!(served["openapi"], "3.1.0");
    for path in [
        "/api/v1/programs",
        "/api/v1/programs/{id}",
        "/api/v1/stations",
        "/api/v1/me",
    ] {
        assert!(served["paths"][path].is_object(), "{path}");
    }

    let r = app.client.get(format!("{}/docs", app.address)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "/docs redirects to the page");
    let page = r.text().await.unwrap();
    assert!(page.contains("swagger-ui"), "{page}");
    // Works offline: everything the page loads comes from the hub.
    for tag in ["src=\"http", "href=\"http", "src=\"//", "href=\"//"] {
        assert!(!page.contains(tag), "the page loads {tag}…");
    }
    let r = app
        .client
        .get(format!("{}/docs/swagger-ui-bundle.js", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn health_and_readiness_answer() {
    let app = TestApp::spawn().await;
    for (path, status) in [("/healthz", "ok"), ("/readyz", "ready")] {
        let r = app.client.get(format!("{}{path}", app.address)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.json::<Value>().await.unwrap()["status"], status);
    }
    let r = app
        .client
        .get(format!("{}/no/such/thing", app.address))
        .send()
        .await
        .unwrap();
    crate::helpers::assert_problem(r, StatusCode::NOT_FOUND, "not_found").await;
}
