//! Hubs that follow each other (issue 26): what a peer hub's token sees at
//! every door of the hub that shares.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{assert_problem, id, program, TestApp};

/// A program with these rights, published with `master` by `token`.
async fn with_rights(app: &TestApp, token: &str, title: &str, rights: Value, master: &[u8]) -> Value {
    let mut body = program(title);
    body["rights"] = rights;
    app.publish_with_master(token, &body, master.to_vec()).await
}

/// Every event of the feed `token` reads, from the start.
async fn feed_events(app: &TestApp, token: &str) -> Vec<Value> {
    let mut events = Vec::new();
    let mut after = String::new();
    loop {
        let r = app.get(token, &format!("/api/v1/feed?limit=100{after}")).await;
        assert_eq!(r.status(), StatusCode::OK);
        let page: Value = r.json().await.unwrap();
        let items = page["items"].as_array().unwrap().clone();
        if items.is_empty() {
            return events;
        }
        events.extend(items);
        after = format!("&after={}", page["next_cursor"].as_str().unwrap());
    }
}

fn program_ids(events: &[Value]) -> BTreeSet<String> {
    events
        .iter()
        .map(|e| e["program_id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_peer_token_sees_exactly_the_programs_for_all_clusters_at_every_door() {
    let app = TestApp::spawn().await;
    let tn = app.station("thai-nguyen", "provincial").await;
    let peer = app.station("cum-3", "peer").await;

    let shared = with_rights(&app, &tn, "Chia sẻ mọi cụm", json!({"audience": "all"}), b"shared").await;
    let closed = with_rights(
        &app,
        &tn,
        "Chia sẻ sau này",
        json!({"audience": "all", "available_from": "2999-01-01T00:00:00Z"}),
        b"later",
    )
    .await;
    let cluster = with_rights(&app, &tn, "Chỉ trong cụm", json!({"audience": "cluster"}), b"cluster").await;
    let national = with_rights(&app, &tn, "Chỉ đài quốc gia", json!({"audience": "national"}), b"vtv").await;
    let mut draft = program("Bản nháp mọi cụm");
    draft["rights"] = json!({"audience": "all"});
    let draft = app.create_program(&tn, &draft).await;
    let hidden = [&cluster, &national, &draft];

    // Search: `all` alone; "available now" drops the closed window.
    let found: BTreeSet<String> = app.find(&peer, "").await.into_iter().collect();
    assert_eq!(found, BTreeSet::from([id(&shared).to_owned(), id(&closed).to_owned()]));
    assert_eq!(app.find(&peer, "available=now").await, [id(&shared)]);
    assert_eq!(app.find(&peer, "status=draft").await, Vec::<String>::new());
    // The hub's own station sees `all` too.
    assert!(app.find(&tn, "").await.contains(&id(&shared).to_owned()));

    // The feed and Atom: only the shared programs' events.
    let events = feed_events(&app, &peer).await;
    assert_eq!(
        program_ids(&events),
        BTreeSet::from([id(&shared).to_owned(), id(&closed).to_owned()])
    );
    let atom = app.get(&peer, "/api/v1/feed.atom").await.text().await.unwrap();
    assert!(atom.contains(id(&shared)), "{atom}");
    for p in hidden {
        assert!(!atom.contains(id(p)), "Atom shows {}", id(p));
    }

    // The program, its file, EBUCore and previews: 404 for what it may not see.
    for p in hidden {
        for path in [
            format!("/api/v1/programs/{}", id(p)),
            format!("/api/v1/programs/{}/files/master", id(p)),
            format!("/api/v1/programs/{}/ebucore.xml", id(p)),
            format!("/api/v1/programs/{}/files/master/preview", id(p)),
            format!("/api/v1/programs/{}/files/master/waveform.json", id(p)),
        ] {
            assert_problem(app.get(&peer, &path).await, StatusCode::NOT_FOUND, "not_found").await;
        }
    }
    let got: Value = app.program_json(&peer, &shared).await;
    assert_eq!(got["can_download"], true);
    assert_eq!(got["origin"], Value::Null);
    let r = app
        .get(&peer, &format!("/api/v1/programs/{}/files/master", id(&shared)))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(&r.bytes().await.unwrap()[..], b"shared");
    let r = app
        .get(&peer, &format!("/api/v1/programs/{}/ebucore.xml", id(&shared)))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("Chia sẻ mọi cụm"));
    assert_problem(
        app.get(&peer, &format!("/api/v1/programs/{}/files/master/preview", id(&shared)))
            .await,
        StatusCode::NOT_FOUND,
        "preview_not_ready",
    )
    .await;
    // The window holds.
    assert_problem(
        app.get(&peer, &format!("/api/v1/programs/{}/files/master", id(&closed)))
            .await,
        StatusCode::FORBIDDEN,
        "rights_window_closed",
    )
    .await;
    // A peer's download is not a take: its stations' takes are reported.
    let takes: Value = app
        .get(&tn, &format!("/api/v1/programs/{}/takes", id(&shared)))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(takes["takes"], json!([]), "{takes}");

    // Withdrawal: the peer reads it in the feed, the file answers 410.
    let r = app
        .post(
            &tn,
            &format!("/api/v1/programs/{}/withdraw", id(&shared)),
            &json!({"reason": "sai"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let events = feed_events(&app, &peer).await;
    assert!(events
        .iter()
        .any(|e| e["type"] == "program.withdrawn" && e["program_id"] == id(&shared)));
    let r = app
        .get(&peer, &format!("/api/v1/programs/{}/files/master", id(&shared)))
        .await;
    assert_eq!(r.status(), StatusCode::GONE);
    assert!(app.find(&peer, "").await.iter().all(|p| p != id(&shared)));
}

#[tokio::test]
async fn a_peer_hub_offers_nothing_and_holds_peer_tokens_only() {
    let app = TestApp::spawn().await;
    let tn = app.station("thai-nguyen", "provincial").await;
    let peer = app.station("cum-3", "peer").await;
    let me: Value = app.get(&peer, "/api/v1/me").await.json().await.unwrap();
    assert_eq!(me["role"], "peer", "{me}");

    assert_problem(
        app.post(&peer, "/api/v1/programs", &program("Của cụm khác")).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    // A program it may see is still not its to change.
    let shared = with_rights(&app, &tn, "Mọi cụm", json!({"audience": "all"}), b"x").await;
    let path = format!("/api/v1/programs/{}", id(&shared));
    assert_problem(
        app.patch(&peer, &path, &json!({"title": "Đổi"})).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_problem(
        app.post(&peer, &format!("{path}/withdraw"), &json!({"reason": "x"}))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let r = app
        .request(Method::PUT, Some(&peer), &format!("{path}/files/script"))
        .header("Content-Type", "text/plain")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // Its feed is every event it may see; it follows nothing.
    assert_problem(
        app.get(&peer, "/api/v1/feed?scope=follows").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;

    // A peer station's tokens are peer tokens; no other station holds one.
    for (station, role) in [("cum-3", "station"), ("cum-3", "national"), ("thai-nguyen", "peer")] {
        let r = app
            .post(
                &app.admin,
                &format!("/api/v1/stations/{station}/tokens"),
                &json!({"label": "x", "role": role}),
            )
            .await;
        assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    }
    // `all` takes no list of stations.
    let mut bad = program("Sai");
    bad["rights"] = json!({"audience": "all", "stations": ["cao-bang"]});
    assert_problem(
        app.post(&tn, "/api/v1/programs", &bad).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
}
