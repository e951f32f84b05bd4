use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::helpers::{assert_problem, fields, TestApp};

#[tokio::test]
async fn every_api_path_needs_a_known_token() {
    let app = TestApp::spawn().await;
    for (method, path) in [
        (Method::GET, "/api/v1/stations"),
        (Method::POST, "/api/v1/stations"),
        (Method::GET, "/api/v1/me"),
        (Method::GET, "/api/v1/programs"),
        (Method::POST, "/api/v1/programs"),
        (Method::GET, "/api/v1/programs/6f9619ff-8b86-4011-b42d-00c04fc964ff"),
    ] {
        let r = app.request(method.clone(), None, path).send().await.unwrap();
        assert_eq!(r.headers()["www-authenticate"], "Bearer realm=\"pxhub\"");
        assert_problem(r, StatusCode::UNAUTHORIZED, "unauthorized").await;
        for bad in ["nope", "pxh_0123456789abcdef_forged", ""] {
            let r = app.request(method.clone(), Some(bad), path).send().await.unwrap();
            assert_problem(r, StatusCode::UNAUTHORIZED, "unauthorized").await;
        }
        let r = app
            .request(method.clone(), None, path)
            .header("Authorization", format!("Basic {}", app.admin))
            .send()
            .await
            .unwrap();
        assert_problem(r, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }
}

#[tokio::test]
async fn a_token_with_a_right_id_but_wrong_secret_is_refused() {
    let app = TestApp::spawn().await;
    let (prefix, _) = app.admin.rsplit_once('_').unwrap();
    let forged = format!("{prefix}_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    let r = app.get(&forged, "/api/v1/me").await;
    assert_problem(r, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

#[tokio::test]
async fn the_admin_adds_stations_and_anyone_lists_them() {
    let app = TestApp::spawn().await;
    let tn = app.station("thai-nguyen", "provincial").await;
    app.station("vtv", "national").await;
    let r = app.get(&tn, "/api/v1/stations").await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["items"],
        json!([
            {"id": "thai-nguyen", "name": "Đài thai-nguyen", "province": "thai-nguyen", "kind": "provincial"},
            {"id": "vtv", "name": "Đài vtv", "province": "vtv", "kind": "national"},
        ])
    );
    assert_eq!(body["next_cursor"], Value::Null);
}

#[tokio::test]
async fn station_lists_are_paged_by_cursor() {
    let app = TestApp::spawn().await;
    for id in ["bac-kan", "cao-bang", "ha-giang", "lang-son", "phu-tho"] {
        app.station(id, "provincial").await;
    }
    let mut seen = Vec::new();
    let mut path = "/api/v1/stations?limit=2".to_owned();
    loop {
        let body: Value = app.get(&app.admin, &path).await.json().await.unwrap();
        let items = body["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(items.iter().map(|s| s["id"].as_str().unwrap().to_owned()));
        match body["next_cursor"].as_str() {
            Some(c) => path = format!("/api/v1/stations?limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, ["bac-kan", "cao-bang", "ha-giang", "lang-son", "phu-tho"]);

    for (query, field) in [
        ("limit=101", "limit"),
        ("limit=0", "limit"),
        ("limit=x", "limit"),
        ("cursor=forged!", "cursor"),
        ("colour=red", "colour"),
    ] {
        let r = app.get(&app.admin, &format!("/api/v1/stations?{query}")).await;
        let p = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(fields(&p), [field], "{query}");
    }
}

#[tokio::test]
async fn bad_stations_are_refused_and_nothing_is_added() {
    let app = TestApp::spawn().await;
    let tn = app.station("thai-nguyen", "provincial").await;
    let cases = [
        (json!({"id": "Thai Nguyen", "name": "x", "province": "y"}), vec!["id"]),
        (json!({"id": "../../etc", "name": "x", "province": "y"}), vec!["id"]),
        (
            json!({"id": "ok-id", "name": "", "province": "   "}),
            vec!["name", "province"],
        ),
        (
            json!({"id": "ok-id", "name": "x", "province": "y", "kind": "regional"}),
            vec!["kind"],
        ),
        (
            json!({"id": "ok-id", "name": "x", "province": "y", "colour": "red"}),
            vec!["colour"],
        ),
        (json!({"id": "ok-id", "name": 5, "province": "y"}), vec!["name"]),
        (json!({"name": "x", "province": "y"}), vec![""]),
    ];
    for (body, expected) in cases {
        let r = app.post(&app.admin, "/api/v1/stations", &body).await;
        let p = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(fields(&p), expected, "{body}");
    }
    let r = app
        .post(
            &app.admin,
            "/api/v1/stations",
            &json!({"id": "thai-nguyen", "name": "again", "province": "y"}),
        )
        .await;
    assert_problem(r, StatusCode::CONFLICT, "station_exists").await;
    let r = app
        .request(Method::POST, Some(&app.admin), "/api/v1/stations")
        .header("Content-Type", "application/json")
        .body("{\"id\": \"x\",")
        .send()
        .await
        .unwrap();
    assert_problem(r, StatusCode::BAD_REQUEST, "malformed_json").await;
    let r = app
        .request(Method::POST, Some(&app.admin), "/api/v1/stations")
        .header("Content-Type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_problem(r, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type").await;
    // A station may not add stations.
    let r = app
        .post(
            &tn,
            "/api/v1/stations",
            &json!({"id": "ok-id", "name": "x", "province": "y"}),
        )
        .await;
    assert_problem(r, StatusCode::FORBIDDEN, "forbidden").await;

    let body: Value = app.get(&app.admin, "/api/v1/stations").await.json().await.unwrap();
    let items = body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["name"], "Đài thai-nguyen");
}

#[tokio::test]
async fn tokens_are_issued_once_stored_hashed_and_revocable() {
    let app = TestApp::spawn().await;
    app.station("cao-bang", "provincial").await;
    let r = app
        .post(
            &app.admin,
            "/api/v1/stations/cao-bang/tokens",
            &json!({"label": "playout"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let issued: Value = r.json().await.unwrap();
    assert_eq!(issued["role"], "station");
    assert_eq!(issued["station"], "cao-bang");
    let token = issued["token"].as_str().unwrap();
    let token_id = issued["id"].as_str().unwrap();

    let me: Value = app.get(token, "/api/v1/me").await.json().await.unwrap();
    assert_eq!(me["station"]["id"], "cao-bang");
    assert_eq!(me["role"], "station");
    assert_eq!(me["token_id"], token_id);

    // Only the SHA-256 of the secret is in the catalog, never the token.
    let secret = token.rsplit_once(&format!("{token_id}_")).unwrap().1;
    let conn = rusqlite::Connection::open(app.catalog_path()).unwrap();
    let stored: Vec<u8> = conn
        .query_row("SELECT secret_sha256 FROM tokens WHERE id = ?1", [token_id], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(stored, Sha256::digest(secret.as_bytes()).to_vec());
    let dump: String = conn
        .query_row(
            "SELECT group_concat(id || label || hex(secret_sha256)) FROM tokens",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(!dump.contains(secret));

    // A station cannot revoke; a wrong station or unknown id is not found.
    let r = app
        .delete(token, &format!("/api/v1/stations/cao-bang/tokens/{token_id}"))
        .await;
    assert_problem(r, StatusCode::FORBIDDEN, "forbidden").await;
    app.station("bac-kan", "provincial").await;
    let r = app
        .delete(&app.admin, &format!("/api/v1/stations/bac-kan/tokens/{token_id}"))
        .await;
    assert_problem(r, StatusCode::NOT_FOUND, "not_found").await;
    let r = app
        .delete(&app.admin, "/api/v1/stations/cao-bang/tokens/0000000000000000")
        .await;
    assert_problem(r, StatusCode::NOT_FOUND, "not_found").await;

    let r = app
        .delete(&app.admin, &format!("/api/v1/stations/cao-bang/tokens/{token_id}"))
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_problem(
        app.get(token, "/api/v1/me").await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
}

#[tokio::test]
async fn token_roles_follow_the_station_kind() {
    let app = TestApp::spawn().await;
    app.station("vov", "national").await;
    let tn = app.station("thai-nguyen", "provincial").await;
    let issued: Value = app
        .post(&app.admin, "/api/v1/stations/vov/tokens", &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(issued["role"], "national");
    let me: Value = app
        .get(issued["token"].as_str().unwrap(), "/api/v1/me")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["role"], "national");
    assert_eq!(me["station"]["kind"], "national");

    for (station, role) in [("thai-nguyen", "national"), ("thai-nguyen", "admin"), ("vov", "admin")] {
        let r = app
            .post(
                &app.admin,
                &format!("/api/v1/stations/{station}/tokens"),
                &json!({"role": role}),
            )
            .await;
        let p = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(fields(&p), ["role"]);
    }
    let r = app
        .post(
            &app.admin,
            "/api/v1/stations/thai-nguyen/tokens",
            &json!({"role": "emperor"}),
        )
        .await;
    let p = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(fields(&p), ["role"]);
    let r = app
        .post(&app.admin, "/api/v1/stations/nowhere/tokens", &json!({}))
        .await;
    assert_problem(r, StatusCode::NOT_FOUND, "not_found").await;
    let r = app.post(&tn, "/api/v1/stations/thai-nguyen/tokens", &json!({})).await;
    assert_problem(r, StatusCode::FORBIDDEN, "forbidden").await;
}

#[tokio::test]
async fn the_admin_has_no_station() {
    let app = TestApp::spawn().await;
    let me: Value = app.get(&app.admin, "/api/v1/me").await.json().await.unwrap();
    assert_eq!(me["role"], "admin");
    assert_eq!(me["station"], Value::Null);
}

#[tokio::test]
async fn oversized_json_bodies_get_413() {
    let app = TestApp::spawn_with(|s| s.max_json_bytes = 4096).await;
    let big = json!({"id": "big", "name": "x".repeat(10_000), "province": "y"});
    let r = app.post(&app.admin, "/api/v1/stations", &big).await;
    assert_problem(r, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    // Also when the length is not announced up front.
    let chunks = futures_util::stream::iter(vec![Ok::<_, std::io::Error>(big.to_string().into_bytes())]);
    let r = app
        .request(Method::POST, Some(&app.admin), "/api/v1/stations")
        .header("Content-Type", "application/json")
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_problem(r, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    let body: Value = app.get(&app.admin, "/api/v1/stations").await.json().await.unwrap();
    assert_eq!(body["items"], json!([]));
}

/// An empty cursor (`cursor=`, as an empty form field sends it) is the first
/// page, in every paged list; a cursor the hub never wrote is still refused.
#[tokio::test]
async fn an_empty_cursor_is_the_first_page() {
    let app = TestApp::spawn().await;
    let vtv = app.station("vtv", "national").await;
    for (path, empty) in [
        ("/api/v1/stations", "/api/v1/stations?cursor="),
        ("/api/v1/programs", "/api/v1/programs?cursor="),
        ("/api/v1/feed", "/api/v1/feed?after="),
    ] {
        let first: Value = app.get(&vtv, path).await.json().await.unwrap();
        let r = app.get(&vtv, empty).await;
        assert_eq!(r.status(), StatusCode::OK, "{empty}");
        let again: Value = r.json().await.unwrap();
        assert_eq!(again["items"], first["items"], "{empty}");
    }
    let r = app.get(&vtv, "/api/v1/stations?cursor=%21%21").await;
    assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let r = app.get(&vtv, "/api/v1/feed?after=nope").await;
    assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
}
