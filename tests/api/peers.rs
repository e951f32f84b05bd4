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

/// An address rule that lets 127.0.0.1 and ::1 through but no other
/// loopback address: what tests refuse instead of a private or public one.
pub const NARROW_ALLOW: &str = "127.0.0.1/32, ::1";

/// A hub that reads its peers' feeds every 100 ms.
async fn following_hub() -> TestApp {
    TestApp::spawn_with(|s| s.peer_poll_ms = 100).await
}

/// `hub` follows `origin` as peer `id`, with a token `origin` issued for a
/// station of kind peer named `as_station`.
async fn follow(hub: &TestApp, id: &str, name: &str, origin: &TestApp, as_station: &str) -> String {
    let token = origin.station(as_station, "peer").await;
    add_peer(hub, id, name, &origin.address, &token, json!({})).await;
    token
}

/// `hub`'s operator adds peer `id` named `name` at `url` with `token`, and
/// `extra`'s fields besides: 201, and the peer as answered.
async fn add_peer(hub: &TestApp, id: &str, name: &str, url: &str, token: &str, extra: Value) -> Value {
    let mut body = json!({"id": id, "name": name, "url": url, "token": token});
    if let (Some(fields), Value::Object(more)) = (body.as_object_mut(), extra) {
        fields.extend(more);
    }
    let r = hub.post(&hub.admin, "/api/v1/peers", &body).await;
    let status = r.status();
    let text = r.text().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{text}");
    serde_json::from_str(&text).unwrap()
}

/// A link to the hub at `address`, `rate` bytes/s, each connection cut
/// `cut` after it opened.
async fn link_to(address: &str, rate: f64, cut: std::time::Duration) -> crate::link::Link {
    let upstream: std::net::SocketAddr = address.trim_start_matches("http://").parse().unwrap();
    crate::link::start_link(upstream, rate, cut).await
}

/// Polls `check` on `token`'s search of `hub` for `query` until it holds (10 s).
async fn search_until(hub: &TestApp, token: &str, query: &str, check: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..200 {
        let found = hub.search(token, query).await;
        if check(&found) {
            return found;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{query}: never matched: {}", hub.search(token, query).await);
}

fn items(found: &Value) -> &Vec<Value> {
    found["items"].as_array().unwrap()
}

#[tokio::test]
async fn the_operator_adds_lists_and_removes_peers_and_never_sees_their_token() {
    // Loopback but 127.0.0.1 is outside the address rule here: a refused
    // address that sends nothing off the machine.
    let b = TestApp::spawn_with(|s| s.webhook_allow = NARROW_ALLOW.into()).await;
    let station = b.station("thai-nguyen", "provincial").await;
    let good = json!({"id": "cum-2", "name": "Cụm 2 — Đông Bắc", "url": "http://127.0.0.1:9/", "token": "pxh_0123456789abcdef_sEcReT"});
    assert_problem(
        b.post(&station, "/api/v1/peers", &good).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_problem(
        b.get(&station, "/api/v1/peers").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;

    let r = b.post(&b.admin, "/api/v1/peers", &good).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(r.headers()["location"], "/api/v1/peers/cum-2");
    let text = r.text().await.unwrap();
    assert!(!text.contains("sEcReT"), "{text}");
    let listed = b.get(&b.admin, "/api/v1/peers").await.text().await.unwrap();
    assert!(!listed.contains("sEcReT"), "{listed}");
    let listed: Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(listed["items"][0]["id"], "cum-2");
    assert_eq!(listed["items"][0]["name"], "Cụm 2 — Đông Bắc");
    // The peer's station row owns its programs here.
    let stations = b.get(&b.admin, "/api/v1/stations").await.text().await.unwrap();
    assert!(stations.contains("\"kind\":\"peer\""), "{stations}");

    assert_problem(
        b.post(&b.admin, "/api/v1/peers", &good).await,
        StatusCode::CONFLICT,
        "station_exists",
    )
    .await;
    let mut local = good.clone();
    local["id"] = json!("thai-nguyen");
    assert_problem(
        b.post(&b.admin, "/api/v1/peers", &local).await,
        StatusCode::CONFLICT,
        "station_exists",
    )
    .await;
    for (field, value) in [
        ("id", json!("local")),
        ("id", json!("Cụm 2")),
        ("name", json!("")),
        ("url", json!("ftp://127.0.0.1/")),
        ("url", json!("http://127.0.0.2/")),
        ("url", json!("http://:pw@127.0.0.1/")),
        ("token", json!("")),
        ("token", json!("two words")),
    ] {
        let mut bad = good.clone();
        bad["id"] = json!("cum-9");
        bad[field] = value.clone();
        let p = assert_problem(
            b.post(&b.admin, "/api/v1/peers", &bad).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(crate::helpers::fields(&p), [field], "{field} = {value}");
    }
    // A name refused for what hides in it says so.
    let mut bad = good.clone();
    bad["id"] = json!("cum-9");
    bad["name"] = json!("Cụm\u{200B}2");
    let p = assert_problem(
        b.post(&b.admin, "/api/v1/peers", &bad).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert!(p["errors"][0]["message"].as_str().unwrap().contains("invisible"), "{p}");
    assert_eq!(b.count("peers"), 1, "nothing stored from bad input");

    assert_eq!(
        b.delete(&station, "/api/v1/peers/cum-2").await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        b.delete(&b.admin, "/api/v1/peers/cum-2").await.status(),
        StatusCode::NO_CONTENT
    );
    assert_problem(
        b.delete(&b.admin, "/api/v1/peers/cum-2").await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_eq!(b.count("peers"), 0);
}

#[tokio::test]
async fn programs_for_all_clusters_cross_to_the_following_hub_and_no_further() {
    let a = TestApp::spawn().await;
    let b = following_hub().await;
    let c = following_hub().await;
    let cao_bang = a.station("cao-bang", "provincial").await;
    let lang_son = b.station("lang-son", "provincial").await;
    let vov = b.station("vov", "national").await;

    let shared = with_rights(&a, &cao_bang, "Then Tày mọi cụm", json!({"audience": "all"}), b"then").await;
    let cluster = with_rights(
        &a,
        &cao_bang,
        "Then Tày trong cụm",
        json!({"audience": "cluster"}),
        b"x",
    )
    .await;
    follow(&b, "cum-2", "Cụm 2", &a, "cum-3").await;
    follow(&c, "cum-3", "Cụm 3 — Tây Bắc", &b, "cum-4").await;

    // B's station finds A's program, marked with its origin.
    let found = search_until(&b, &lang_son, "q=then+tay", |f| !items(f).is_empty()).await;
    assert_eq!(items(&found).len(), 1, "{found}");
    let mirror = &items(&found)[0];
    assert_eq!(
        mirror["origin"],
        json!({"peer": "cum-2", "station": "cao-bang", "station_name": "Đài cao-bang", "program_id": id(&shared)})
    );
    assert_eq!(mirror["station"], "cum-2");
    assert_eq!(mirror["title"], "Then Tày mọi cụm");
    assert_eq!(mirror["files"][0]["sha256"], shared["files"][0]["sha256"]);
    assert_eq!(mirror["rights"]["audience"], "all");
    assert_ne!(mirror["id"], shared["id"], "a mirror has its own id here");
    // Listed and published when its origin published it, not when B came
    // to mirror it.
    assert_eq!(mirror["published_at"], shared["published_at"]);
    assert_eq!(found["facets"]["origin"], json!({"cum-2": 1}));
    assert_eq!(b.find(&lang_son, "q=then+tay&origin=cum-2").await, [id(mirror)]);
    assert!(b.find(&lang_son, "q=then+tay&origin=local").await.is_empty());
    assert!(b.find(&lang_son, "q=then+tay&origin=cum-9").await.is_empty());
    assert_problem(
        b.get(&lang_son, "/api/v1/programs?origin=C%E1%BB%A5m").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    // B's national broadcaster reads it in B's feed.
    assert!(program_ids(&feed_events(&b, &vov).await).contains(id(mirror)));
    // Nobody here changes it.
    let path = format!("/api/v1/programs/{}", id(mirror));
    assert_eq!(
        b.patch(&lang_son, &path, &json!({"title": "x"})).await.status(),
        StatusCode::FORBIDDEN
    );

    // A's change reaches B within a poll.
    let r = a
        .patch(
            &cao_bang,
            &format!("/api/v1/programs/{}", id(&shared)),
            &json!({"title": "Hát then mọi cụm"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    search_until(&b, &lang_son, "q=hat+then", |f| items(f).len() == 1).await;
    assert!(
        b.find(&lang_son, "q=then+tay").await.is_empty(),
        "the old title is gone"
    );

    // B's pages say where it comes from.
    crate::web::add_person(&b, "lang-son", "mai", "Hoàng Thị Mai", "editor", "mật khẩu thật dài");
    let mut browser = crate::web::Browser::new(&b);
    browser.sign_in("mai", "mật khẩu thật dài").await;
    for page in [format!("/programs/{}", id(mirror)), "/?q=hat+then".to_owned()] {
        let html = browser.text(&page).await;
        assert!(html.contains("Cụm 2 — Đài cao-bang"), "{page}: {html}");
    }

    // C follows B: B's own programs for all reach it, A's never.
    let b_own = b.station("bac-giang", "provincial").await;
    let own = with_rights(&b, &b_own, "Quan họ mọi cụm", json!({"audience": "all"}), b"quan ho").await;
    let c_station = c.station("son-la", "provincial").await;
    let at_c = search_until(&c, &c_station, "q=quan+ho", |f| items(f).len() == 1).await;
    assert_eq!(items(&at_c)[0]["origin"]["program_id"], id(&own));
    assert!(c.find(&c_station, "").await.len() == 1, "C holds B's own program alone");
    assert!(c.find(&c_station, "q=then").await.is_empty());

    // The cluster-only program never reached B, at any door.
    assert!(b.find(&b.admin, "q=trong+cum").await.is_empty());
    assert!(!program_ids(&feed_events(&b, &vov).await).contains(id(&cluster)));
    assert_eq!(b.count("programs"), 2, "A's shared one and B's own");

    // Withdrawn on A: withdrawn on B within a poll, its file gone.
    let r = a
        .post(
            &cao_bang,
            &format!("/api/v1/programs/{}/withdraw", id(&shared)),
            &json!({"reason": "sai"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    search_until(&b, &lang_son, "q=hat+then", |f| items(f).is_empty()).await;
    let got: Value = b.get(&lang_son, &path).await.json().await.unwrap();
    assert_eq!(got["status"], "withdrawn");
    assert_eq!(got["can_download"], false);
    assert!(program_ids(&feed_events(&b, &vov).await).contains(id(mirror)));
    let withdrawn = feed_events(&b, &vov).await;
    assert!(withdrawn
        .iter()
        .any(|e| e["type"] == "program.withdrawn" && e["program_id"] == id(mirror)));

    // Removing the peer withdraws what was mirrored from it.
    let on_c = id(&items(&at_c)[0]).to_owned();
    assert_eq!(
        c.delete(&c.admin, "/api/v1/peers/cum-3").await.status(),
        StatusCode::NO_CONTENT
    );
    let got: Value = c
        .get(&c_station, &format!("/api/v1/programs/{on_c}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got["status"], "withdrawn");
}

/// A made-up peer hub: its feed's pages by cursor (none: page 0), each
/// pointing at the next; past the last, an empty page.
#[derive(Clone, Default)]
struct FakePeer {
    pages: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    /// What it sends for any program's master.
    file: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
}

async fn fake_peer_answer(
    req: actix_web::HttpRequest,
    state: actix_web::web::Data<FakePeer>,
) -> actix_web::HttpResponse {
    if req.path() == "/api/v1/stations" {
        return actix_web::HttpResponse::Ok()
            .json(json!({"items": [{"id": "ha-giang", "name": "Đài Hà Giang"}], "next_cursor": null}));
    }
    if req.path().ends_with("/files/master") {
        let body = state.file.lock().unwrap().clone();
        return actix_web::HttpResponse::Ok().content_type("audio/mpeg").body(body);
    }
    let page: usize = url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == "after")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let pages = state.pages.lock().unwrap();
    let body = pages
        .get(page)
        .cloned()
        .unwrap_or_else(|| json!({"items": [], "next_cursor": page.to_string()}).to_string());
    actix_web::HttpResponse::Ok()
        .content_type("application/json")
        .body(body)
}

fn remote_program(id: &str, title: &str, rights: Value, origin: Value) -> Value {
    json!({
        "id": id, "station": "ha-giang", "status": "published", "title": title, "summary": null,
        "description": null, "tags": [], "kind": "radio", "genre": "culture", "languages": ["vi"],
        "series": null, "episode": null, "first_aired_at": null, "duration_seconds": 60, "credits": [],
        "rights": rights, "origin": origin, "withdrawal_reason": null,
        "files": [{"role": "master", "filename": "a.mp3", "media_type": "audio/mpeg", "size": 3,
                   "sha256": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"}]
    })
}

fn page(events: Vec<(&str, Value)>, next: usize) -> String {
    let items: Vec<Value> = events
        .into_iter()
        .enumerate()
        .map(|(i, (program_id, program))| {
            json!({"seq": i + 1, "type": "program.published", "at": "2026-01-01T00:00:00Z",
                   "program_id": program_id, "program": program, "follows": []})
        })
        .collect();
    json!({"items": items, "next_cursor": next.to_string()}).to_string()
}

async fn peer_state(hub: &TestApp) -> Value {
    hub.get(&hub.admin, "/api/v1/peers")
        .await
        .json::<Value>()
        .await
        .unwrap()["items"][0]
        .clone()
}

#[tokio::test]
async fn nonsense_from_a_peer_stores_nothing_and_says_why() {
    let fake = FakePeer::default();
    fake.pages.lock().unwrap().push("{\"items\": [tru".into());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let data = actix_web::web::Data::new(fake.clone());
    let server = actix_web::HttpServer::new(move || {
        actix_web::App::new()
            .app_data(data.clone())
            .default_service(actix_web::web::to(fake_peer_answer))
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);

    let b = following_hub().await;
    let station = b.station("lang-son", "provincial").await;
    add_peer(&b, "cum-5", "Cụm 5", &url, "pxh_x", json!({})).await;

    // Bad JSON: nothing stored, the reason kept, the cursor where it was.
    for _ in 0..200 {
        if peer_state(&b).await["last_error"].as_str().is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let state = peer_state(&b).await;
    assert!(state["last_error"].as_str().unwrap().contains("bad JSON"), "{state}");
    assert_eq!(b.count("programs"), 0);

    // Events for what a peer may not show: refused one by one; the one it
    // may show is kept.
    let all = json!({"audience": "all"});
    let ok_id = "0b0e5c8e-0000-4000-8000-000000000003";
    *fake.pages.lock().unwrap() = vec![
        page(
            vec![
                (
                    "0b0e5c8e-0000-4000-8000-000000000001",
                    remote_program(
                        "0b0e5c8e-0000-4000-8000-000000000001",
                        "Trong cụm",
                        json!({"audience": "cluster"}),
                        Value::Null,
                    ),
                ),
                (
                    "0b0e5c8e-0000-4000-8000-000000000002",
                    remote_program(
                        "0b0e5c8e-0000-4000-8000-000000000002",
                        "Của cụm khác",
                        all.clone(),
                        json!({"peer": "cum-1", "station": "x", "station_name": "x", "program_id": "y"}),
                    ),
                ),
                (
                    "0b0e5c8e-0000-4000-8000-000000000009",
                    remote_program(
                        "0b0e5c8e-0000-4000-8000-000000000004",
                        "Lệch mã",
                        all.clone(),
                        Value::Null,
                    ),
                ),
                (
                    "0b0e5c8e-0000-4000-8000-000000000005",
                    remote_program("0b0e5c8e-0000-4000-8000-000000000005", "", all.clone(), Value::Null),
                ),
            ],
            1,
        ),
        page(
            vec![(ok_id, remote_program(ok_id, "Khèn Mông", all.clone(), Value::Null))],
            2,
        ),
    ];
    let found = search_until(&b, &station, "", |f| !items(f).is_empty()).await;
    assert_eq!(items(&found).len(), 1, "{found}");
    assert_eq!(items(&found)[0]["title"], "Khèn Mông");
    assert_eq!(items(&found)[0]["origin"]["station_name"], "Đài Hà Giang");
    assert_eq!(b.count("programs"), 1, "nothing of the refused events is stored");
    assert_eq!(b.count("program_files"), 1);
    for _ in 0..100 {
        if peer_state(&b).await["last_error"].is_null() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(peer_state(&b).await["last_error"].is_null());
}

#[tokio::test]
async fn a_mirrored_file_is_fetched_from_its_origin_once_whoever_takes_it() {
    let a = TestApp::spawn().await;
    let b = following_hub().await;
    let cao_bang = a.station("cao-bang", "provincial").await;
    let takers = [
        b.station("lang-son", "provincial").await,
        b.station("bac-giang", "provincial").await,
        b.station("ha-nam", "provincial").await,
    ];
    let master = crate::helpers::bytes(3 * 1024 * 1024 + 17, 26);
    let shared = with_rights(&a, &cao_bang, "Chợ phiên mọi cụm", json!({"audience": "all"}), &master).await;
    follow(&b, "cum-2", "Cụm 2", &a, "cum-3").await;
    let found = search_until(&b, &takers[0], "q=cho+phien", |f| items(f).len() == 1).await;
    let file = format!("/api/v1/programs/{}/files/master", id(&items(&found)[0]));
    assert!(b.stored_keys().await.is_empty(), "metadata only until a take");
    let sent_before = a.metric("pxhub_bytes_sent_total").await;

    // Three stations of B take it at once: A sends its bytes once.
    let gets = takers.iter().map(|t| async {
        let r = b.get(t, &file).await;
        assert_eq!(r.status(), StatusCode::OK);
        r.bytes().await.unwrap()
    });
    for got in futures_util::future::join_all(gets).await {
        assert!(got[..] == master[..], "byte-exact");
    }
    assert_eq!(
        a.metric("pxhub_bytes_sent_total").await - sent_before,
        master.len() as u64
    );
    // Later takes, and ranges, are served from B's store.
    let r = b
        .request(Method::GET, Some(&takers[1]), &file)
        .header("Range", "bytes=100-199")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert!(r.bytes().await.unwrap()[..] == master[100..200]);
    assert_eq!(
        a.metric("pxhub_bytes_sent_total").await - sent_before,
        master.len() as u64
    );
    assert_eq!(b.stored_keys().await.len(), 1);
    // A peer download is no take at A; B's ledger has its stations' takes.
    let at_a: Value = a
        .get(&cao_bang, &format!("/api/v1/programs/{}/takes", id(&shared)))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(at_a["takes"], json!([]), "{at_a}");
}

#[tokio::test]
async fn a_file_that_is_not_what_its_origin_declared_is_not_stored() {
    let fake = FakePeer::default();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let data = actix_web::web::Data::new(fake.clone());
    let server = actix_web::HttpServer::new(move || {
        actix_web::App::new()
            .app_data(data.clone())
            .default_service(actix_web::web::to(fake_peer_answer))
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    // It declares "abc" (3 bytes, its SHA-256).
    let remote = "0b0e5c8e-0000-4000-8000-000000000007";
    fake.pages.lock().unwrap().push(page(
        vec![(
            remote,
            remote_program(remote, "Sli Nùng", json!({"audience": "all"}), Value::Null),
        )],
        1,
    ));
    let b = following_hub().await;
    let station = b.station("lang-son", "provincial").await;
    add_peer(&b, "cum-5", "Cụm 5", &url, "pxh_x", json!({})).await;
    let found = search_until(&b, &station, "q=sli", |f| items(f).len() == 1).await;
    let file = format!("/api/v1/programs/{}/files/master", id(&items(&found)[0]));

    for (sent, why) in [(&b"abd"[..], "other bytes"), (b"abcd", "larger"), (b"ab", "shorter")] {
        *fake.file.lock().unwrap() = sent.to_vec();
        assert_problem(
            b.get(&station, &file).await,
            StatusCode::SERVICE_UNAVAILABLE,
            "origin_unavailable",
        )
        .await;
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        assert!(b.stored_keys().await.is_empty(), "{why}: nothing stored");
        assert_eq!(b.count("media_objects"), 0, "{why}");
    }
    *fake.file.lock().unwrap() = b"abc".to_vec();
    let r = b.get(&station, &file).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(&r.bytes().await.unwrap()[..], b"abc");
    assert_eq!(b.count("media_objects"), 1);
}

/// The takes of a program as its owner sees them, once `check` holds (10 s).
async fn takes_until(app: &TestApp, token: &str, program: &Value, check: impl Fn(&Value) -> bool) -> Value {
    let path = format!("/api/v1/programs/{}/takes", id(program));
    for _ in 0..200 {
        let t: Value = app.get(token, &path).await.json().await.unwrap();
        if check(&t) {
            return t;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("never matched: {}", app.get(token, &path).await.text().await.unwrap());
}

#[tokio::test]
async fn takes_and_rebroadcasts_in_another_cluster_reach_the_origins_ledger_once() {
    let a = TestApp::spawn().await;
    let b = following_hub().await;
    let cao_bang = a.station("cao-bang", "provincial").await;
    let lang_son = b.station("lang-son", "provincial").await;
    let shared = with_rights(&a, &cao_bang, "Lượn Tày mọi cụm", json!({"audience": "all"}), b"luon").await;
    let peer_token = follow(&b, "cum-2", "Cụm 2", &a, "cum-3").await;
    let found = search_until(&b, &lang_son, "q=luon", |f| items(f).len() == 1).await;
    let mirror = id(&items(&found)[0]).to_owned();

    // A take and a rebroadcast on B.
    let r = b
        .get(&lang_son, &format!("/api/v1/programs/{mirror}/files/master"))
        .await;
    assert_eq!(&r.bytes().await.unwrap()[..], b"luon");
    takes_until(&b, &b.admin, &json!({"id": mirror}), |t| {
        t["takes"].as_array().unwrap().len() == 1
    })
    .await;
    let r = b
        .post(
            &lang_son,
            &format!("/api/v1/programs/{mirror}/rebroadcasts"),
            &json!({"aired_at": "2026-11-30T12:00:00Z", "channel": "LSTV1"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());

    // A's ledger has both, naming B's station, once.
    let t = takes_until(&a, &cao_bang, &shared, |t| {
        t["other_clusters"].as_array().unwrap().len() == 2
    })
    .await;
    let uses = t["other_clusters"].as_array().unwrap();
    assert_eq!(t["takes"], json!([]), "B's fetch is not a take at A");
    assert!(uses
        .iter()
        .all(|u| u["peer"] == "cum-3" && u["station"] == "lang-son" && u["station_name"] == "Đài lang-son"));
    assert!(uses.iter().any(|u| u["kind"] == "take" && u["role"] == "master"));
    assert!(uses
        .iter()
        .any(|u| u["kind"] == "rebroadcast" && u["channel"] == "LSTV1"));
    let report: Value = a.get(&a.admin, "/api/v1/reports/exchange").await.json().await.unwrap();
    assert_eq!(
        report["other_clusters"],
        json!([{"peer": "cum-3", "station": "lang-son", "station_name": "Đài lang-son", "takes": 1, "rebroadcasts": 1}])
    );

    // A report sent again (its key) counts nothing more.
    let takes = format!("/api/v1/programs/{}/takes", id(&shared));
    let again =
        json!({"station": "lang-son", "station_name": "Đài lang-son", "role": "master", "idempotency_key": "k-1"});
    assert_eq!(a.post(&peer_token, &takes, &again).await.status(), StatusCode::CREATED);
    assert_eq!(a.post(&peer_token, &takes, &again).await.status(), StatusCode::OK);
    let t: Value = a.get(&cao_bang, &takes).await.json().await.unwrap();
    assert_eq!(t["other_clusters"].as_array().unwrap().len(), 3);
    // Only a peer token reports takes; a report names a station.
    assert_problem(
        a.post(&cao_bang, &takes, &again).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let mut bad = again.clone();
    bad["station_name"] = json!("");
    bad["idempotency_key"] = json!("k-2");
    assert_problem(
        a.post(&peer_token, &takes, &bad).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let hidden = with_rights(&a, &cao_bang, "Trong cụm", json!({"audience": "cluster"}), b"x").await;
    assert_problem(
        a.post(&peer_token, &format!("/api/v1/programs/{}/takes", id(&hidden)), &again)
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_eq!(a.count("peer_uses"), 3);
}

#[tokio::test]
async fn a_national_pull_agent_on_the_following_hub_gets_the_origins_programs_once() {
    let a = TestApp::spawn().await;
    let b = following_hub().await;
    let cao_bang = a.station("cao-bang", "provincial").await;
    let vov = b.station("vov", "national").await;
    let first = crate::helpers::bytes(400_000, 7);
    let second = crate::helpers::bytes(250_000, 8);
    with_rights(&a, &cao_bang, "Hát lượn một", json!({"audience": "all"}), &first).await;
    with_rights(&a, &cao_bang, "Hát lượn hai", json!({"audience": "all"}), &second).await;
    with_rights(
        &a,
        &cao_bang,
        "Hát lượn trong cụm",
        json!({"audience": "cluster"}),
        b"x",
    )
    .await;
    follow(&b, "cum-2", "Cụm 2", &a, "cum-3").await;
    let found = search_until(&b, &vov, "q=hat+luon", |f| items(f).len() == 2).await;

    let dir = tempfile::tempdir().unwrap();
    let pull = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_pxhub"))
            .args(["pull", "--hub", &b.address, "--into"])
            .arg(dir.path())
            .env("PXHUB_TOKEN", &vov)
            .output()
            .unwrap()
    };
    let o = pull();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for p in items(&found) {
        let want = if p["title"] == "Hát lượn một" {
            &first
        } else {
            &second
        };
        let got = std::fs::read(dir.path().join("cum-2").join(id(p)).join("bản tin.mp3")).unwrap();
        assert!(got == *want, "{} byte-exact", p["title"]);
    }
    let folders = std::fs::read_dir(dir.path().join("cum-2")).unwrap().count();
    assert_eq!(folders, 2, "the cluster-only program is not there");
    let sent = (first.len() + second.len()) as u64;
    assert_eq!(a.metric("pxhub_bytes_sent_total").await, sent, "A sent each once");
    // Again: nothing new, nothing sent by either hub.
    let at_b = b.metric("pxhub_bytes_sent_total").await;
    assert!(pull().status.success());
    assert_eq!(a.metric("pxhub_bytes_sent_total").await, sent);
    assert_eq!(b.metric("pxhub_bytes_sent_total").await, at_b);
}

#[tokio::test]
async fn windows_previews_and_a_revoked_token_hold_on_the_following_hub() {
    let a = TestApp::spawn().await;
    let b = following_hub().await;
    let cao_bang = a.station("cao-bang", "provincial").await;
    let lang_son = b.station("lang-son", "provincial").await;
    let later = with_rights(
        &a,
        &cao_bang,
        "Sắp phát mọi cụm",
        json!({"audience": "all", "available_from": "2999-01-01T00:00:00Z"}),
        b"later",
    )
    .await;
    let now = with_rights(
        &a,
        &cao_bang,
        "Nghe thử mọi cụm",
        json!({"audience": "all"}),
        b"preview me",
    )
    .await;
    follow(&b, "cum-2", "Cụm 2", &a, "cum-3").await;
    let found = search_until(&b, &lang_son, "q=moi+cum", |f| items(f).len() == 2).await;
    let mirror_of = |p: &Value| {
        items(&found)
            .iter()
            .find(|m| m["origin"]["program_id"] == p["id"])
            .unwrap()
            .clone()
    };

    // A closed window on A is closed on B: seen, not taken, nothing fetched.
    let closed = mirror_of(&later);
    assert_eq!(closed["can_download"], false);
    assert_eq!(closed["unavailable_reason"], "not_yet_available");
    let r = b
        .get(&lang_son, &format!("/api/v1/programs/{}/files/master", id(&closed)))
        .await;
    assert_problem(r, StatusCode::FORBIDDEN, "rights_window_closed").await;
    assert!(b.find(&lang_son, "q=moi+cum&available=now").await.len() == 1);
    assert_eq!(a.metric("pxhub_bytes_sent_total").await, 0);

    // Asking for a preview fetches the master, to be looked into here.
    let open = mirror_of(&now);
    let r = b
        .get(
            &lang_son,
            &format!("/api/v1/programs/{}/files/master/preview", id(&open)),
        )
        .await;
    assert_problem(r, StatusCode::NOT_FOUND, "preview_not_ready").await;
    for _ in 0..200 {
        if b.count("media_objects") == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(b.count("media_objects"), 1);
    assert_eq!(a.metric("pxhub_bytes_sent_total").await, b"preview me".len() as u64);

    // A revokes B's token: B says so, once, and keeps what it has.
    let peer_token_id: String = rusqlite::Connection::open(a.catalog_path())
        .unwrap()
        .query_row("SELECT id FROM tokens WHERE station_id = 'cum-3'", [], |r| r.get(0))
        .unwrap();
    let r = a
        .delete(&a.admin, &format!("/api/v1/stations/cum-3/tokens/{peer_token_id}"))
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    for _ in 0..200 {
        if peer_state(&b).await["last_error"].is_string() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let state = peer_state(&b).await;
    assert!(
        state["last_error"]
            .as_str()
            .unwrap()
            .contains("refused this hub's token (401)"),
        "{state}"
    );
    let r = b
        .get(&lang_son, &format!("/api/v1/programs/{}/files/master", id(&open)))
        .await;
    assert_eq!(&r.bytes().await.unwrap()[..], b"preview me", "B serves what it has");
}

/// B as a process of its own on `data`, following nothing yet (its poll
/// every 100 ms; loopback peers allowed).
async fn hub_process(data: &std::path::Path, log: &std::path::Path) -> crate::procs::HubProcess {
    let storage = pxhub::config::StorageSettings::Local { path: None };
    let port = crate::procs::free_port();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_pxhub"));
    cmd.arg("serve")
        .envs(crate::procs::serve_env(data, port, &storage))
        .env("PXHUB_PEER_POLL_MS", "100")
        .env("PXHUB_WEBHOOK_ALLOW", "127.0.0.0/8");
    crate::procs::HubProcess::start(cmd, port, log).await
}

/// A column of B's catalog, read beside the running hub.
fn outbox(data: &std::path::Path) -> (i64, i64) {
    rusqlite::Connection::open(data.join("catalog.db"))
        .unwrap()
        .query_row(
            "SELECT count(*), coalesce(sum(attempts), 0) FROM peer_outbox WHERE sent_at IS NULL",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
}

#[tokio::test]
async fn a_take_killed_before_its_report_is_reported_once_after_a_restart() {
    let a = TestApp::spawn().await;
    let cao_bang = a.station("cao-bang", "provincial").await;
    let shared = with_rights(
        &a,
        &cao_bang,
        "Đàn tính mọi cụm",
        json!({"audience": "all"}),
        b"dan tinh",
    )
    .await;
    let peer_token = a.station("cum-3", "peer").await;
    let upstream: std::net::SocketAddr = a.address.trim_start_matches("http://").parse().unwrap();
    let proxy = crate::fault_proxy::FaultProxy::start(upstream, 26).await;

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("b");
    let storage = pxhub::config::StorageSettings::Local { path: None };
    let admin = crate::procs::admin_token(&data, &storage);
    let mut b = hub_process(&data, &dir.path().join("b1.log")).await;
    let app = b.app(&admin, &data, &storage);
    let lang_son = app.station("lang-son", "provincial").await;
    add_peer(&app, "cum-2", "Cụm 2", &proxy.endpoint(), &peer_token, json!({})).await;
    let found = search_until(&app, &lang_son, "q=dan+tinh", |f| items(f).len() == 1).await;
    let file = format!("/api/v1/programs/{}/files/master", id(&items(&found)[0]));

    // The take's file is fetched; then A cannot be reached, so the take is
    // recorded on B and its report waits.
    let r = app.get(&lang_son, &file).await;
    assert_eq!(r.status(), StatusCode::OK);
    proxy.set(crate::fault_proxy::Mode::Down).await;
    assert_eq!(&r.bytes().await.unwrap()[..], b"dan tinh");
    for _ in 0..200 {
        if outbox(&data).1 > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(outbox(&data).0, 1, "the report waits in B's outbox");
    assert!(outbox(&data).1 > 0, "and was tried");

    // B dies; A comes back; B starts again and reports it, once.
    b.kill();
    proxy.set(crate::fault_proxy::Mode::Pass).await;
    let _b = hub_process(&data, &dir.path().join("b2.log")).await;
    let t = takes_until(&a, &cao_bang, &shared, |t| {
        !t["other_clusters"].as_array().unwrap().is_empty()
    })
    .await;
    assert_eq!(t["other_clusters"].as_array().unwrap().len(), 1, "{t}");
    assert_eq!(t["other_clusters"][0]["station"], "lang-son");
    for _ in 0..100 {
        if outbox(&data).0 == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(outbox(&data).0, 0, "acknowledged");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(a.count("peer_uses"), 1, "never twice");
    // The peer's token is never in B's log.
    for log in ["b1.log", "b2.log"] {
        let text = std::fs::read_to_string(dir.path().join(log)).unwrap();
        assert!(!text.contains(&peer_token), "{log}");
    }
}

/// `pxhub ARGS…` on `data`, with `stdin` as its standard input.
fn cli(data: &std::path::Path, args: &[&str], stdin: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_pxhub"))
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn the_operators_commands_add_list_and_remove_peers() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    // On the hub that shares: a station of kind peer (no province) and its token.
    let o = cli(
        data,
        &["station", "add", "--id", "cum-3", "--name", "Cụm 3", "--kind", "peer"],
        "",
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = cli(data, &["token", "issue", "--station", "cum-3"], "");
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("role peer"));
    let o = cli(data, &["station", "add", "--id", "lang-son", "--name", "Lạng Sơn"], "");
    assert!(!o.status.success(), "a provincial station names its province");

    // On the hub that follows.
    let secret = "pxh_0123456789abcdef_tOkEnFrOmCuM2";
    let add = [
        "peer",
        "add",
        "--id",
        "cum-2",
        "--name",
        "Cụm 2",
        "--url",
        "http://127.0.0.1:9/",
        "--token-stdin",
    ];
    let o = cli(data, &add, &format!("{secret}\n"));
    // The command line has no webhook_allow: loopback is refused…
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("url"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // …unless the operator allows it.
    let ok = |args: &[&str], stdin: &str| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_pxhub"));
        cmd.arg("--data-dir")
            .arg(data)
            .args(args)
            .env("PXHUB_WEBHOOK_ALLOW", "127.0.0.0/8");
        let mut child = cmd
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), stdin.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    };
    let o = ok(&add, &format!("{secret}\n"));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!said.contains(secret), "{said}");
    let o = ok(&add[..add.len() - 1], "");
    assert!(!o.status.success(), "--token-stdin is required");
    let o = ok(&add, "");
    assert!(!o.status.success(), "an empty standard input is no token");
    let o = ok(&["peer", "list"], "");
    let listed = String::from_utf8_lossy(&o.stdout).to_string();
    assert_eq!(listed, "cum-2\tCụm 2\thttp://127.0.0.1:9/\tok\teager none\n");
    assert!(!listed.contains(secret));
    // Eager mirroring, with its limit; a mode that is none of the three is
    // refused and stores nothing.
    let mut eager: Vec<&str> = add.to_vec();
    eager[3] = "cum-5";
    eager.extend(["--eager", "sometimes"]);
    let o = ok(&eager, &format!("{secret}\n"));
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("eager"));
    eager.truncate(eager.len() - 1);
    eager.extend(["followed", "--eager-max-mib", "500"]);
    let o = ok(&eager, &format!("{secret}\n"));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let listed = String::from_utf8_lossy(&ok(&["peer", "list"], "").stdout).to_string();
    assert!(
        listed.ends_with("cum-5\tCụm 2\thttp://127.0.0.1:9/\tok\teager followed, at most 500 MiB\n"),
        "{listed}"
    );
    assert!(ok(&["peer", "remove", "cum-5"], "").status.success());
    let o = ok(&["peer", "remove", "cum-2"], "");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(String::from_utf8_lossy(&ok(&["peer", "list"], "").stdout), "");
    assert!(!ok(&["peer", "remove", "cum-2"], "").status.success());
}

#[tokio::test]
async fn a_program_no_longer_shared_with_other_clusters_leaves_the_following_hub() {
    let a = TestApp::spawn().await;
    let b = following_hub().await;
    let cao_bang = a.station("cao-bang", "provincial").await;
    let lang_son = b.station("lang-son", "provincial").await;
    let p = with_rights(&a, &cao_bang, "Sli mọi cụm", json!({"audience": "all"}), b"sli").await;
    with_rights(&a, &cao_bang, "Chỉ cụm từ đầu", json!({"audience": "cluster"}), b"x").await;
    follow(&b, "cum-2", "Cụm 2", &a, "cum-3").await;
    let found = search_until(&b, &lang_son, "q=sli", |f| items(f).len() == 1).await;
    let mirror = id(&items(&found)[0]).to_owned();

    let path = format!("/api/v1/programs/{}", id(&p));
    let r = a
        .patch(&cao_bang, &path, &json!({"rights": {"audience": "cluster"}}))
        .await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    search_until(&b, &lang_son, "q=sli", |f| items(f).is_empty()).await;
    let got: Value = b
        .get(&lang_son, &format!("/api/v1/programs/{mirror}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got["status"], "withdrawn");
    // What was never shared is still never heard of.
    assert!(b.find(&b.admin, "q=tu+dau").await.is_empty());
    // A's peers hear of the narrowed program by its id and audience alone:
    // its words stay in its cluster.
    let peer = a.station("cum-9", "peer").await;
    let feed = a.get(&peer, "/api/v1/feed").await.text().await.unwrap();
    assert!(feed.contains(id(&p)), "{feed}");
    assert!(feed.contains("\"audience\":\"cluster\""), "{feed}");
    assert!(!feed.contains("Sli"), "{feed}");
    let atom = a.get(&peer, "/api/v1/feed.atom").await.text().await.unwrap();
    assert!(!atom.contains("Sli"), "{atom}");
}

#[tokio::test]
async fn a_fetch_from_the_origin_resumes_over_a_link_that_cuts() {
    let a = TestApp::spawn().await;
    let b = following_hub().await;
    let cao_bang = a.station("cao-bang", "provincial").await;
    let lang_son = b.station("lang-son", "provincial").await;
    let master = crate::helpers::bytes(3 * 1024 * 1024, 31);
    with_rights(&a, &cao_bang, "Qua đèo mọi cụm", json!({"audience": "all"}), &master).await;
    // 2 MB/s, every connection reset 700 ms after it opened.
    let link = link_to(&a.address, 2e6, std::time::Duration::from_millis(700)).await;
    let token = a.station("cum-3", "peer").await;
    let url = format!("http://{}", link.addr);
    add_peer(&b, "cum-2", "Cụm 2", &url, &token, json!({})).await;
    let found = search_until(&b, &lang_son, "q=qua+deo", |f| items(f).len() == 1).await;
    let cuts_before = link.cuts.load(std::sync::atomic::Ordering::Relaxed);
    let r = b
        .get(
            &lang_son,
            &format!("/api/v1/programs/{}/files/master", id(&items(&found)[0])),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.bytes().await.unwrap()[..] == master[..], "byte-exact after resuming");
    assert!(
        link.cuts.load(std::sync::atomic::Ordering::Relaxed) > cuts_before,
        "the link cut the fetch"
    );
    assert_eq!(b.count("media_objects"), 1);
}

const PASSWORD: &str = "mật khẩu thật dài";

/// Posts `form` as `b`'s browser.
async fn post(b: &mut crate::web::Browser, path: &str, form: Vec<(&str, String)>) -> reqwest::Response {
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    b.post(path, &pairs).await
}

/// `/admin` with the peers' table for `b`'s operator, once `check` holds (10 s).
async fn admin_until(op: &mut crate::web::Browser, check: impl Fn(&str) -> bool) -> String {
    for _ in 0..200 {
        let page = op.text("/admin").await;
        if check(&page) {
            return page;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("never matched: {}", op.text("/admin").await);
}

/// The operator follows hubs on `/admin` (the token taken once, never shown
/// back), sees each with when it was last read, how it went and how many of
/// its programs came here, and stops following one; a refused address, a
/// taken id or an unknown peer is said in Vietnamese and changes nothing;
/// only the operator, only with the CSRF token.
#[tokio::test]
async fn the_operator_follows_and_unfollows_hubs_on_the_admin_page() {
    let a = TestApp::spawn().await;
    let b = TestApp::spawn_with(|s| {
        s.peer_poll_ms = 100;
        s.webhook_allow = NARROW_ALLOW.into();
    })
    .await;
    let cao_bang = a.station("cao-bang", "provincial").await;
    with_rights(&a, &cao_bang, "Lượn mọi cụm", json!({"audience": "all"}), b"luon").await;
    with_rights(&a, &cao_bang, "Phong slư mọi cụm", json!({"audience": "all"}), b"slu").await;
    with_rights(&a, &cao_bang, "Chỉ trong cụm", json!({"audience": "cluster"}), b"x").await;
    let token = a.station("cum-3", "peer").await;
    let lang_son = b.station("lang-son", "provincial").await;
    let (ok, out, err) = crate::web::person_add(&b, &["--operator", "--login", "admin", "--name", "Quản trị"], None);
    assert!(ok, "{err}");
    let mut op = crate::web::Browser::new(&b);
    op.sign_in("admin", out.trim()).await;
    let page = op.text("/admin").await;
    assert!(page.contains("Hub cụm khác mà hub này theo dõi (0)"), "{page}");
    assert!(page.contains("action=\"/admin/peers\""));
    let stations_before = b.count("stations");
    let good = |csrf: String| {
        vec![
            ("csrf", csrf),
            ("id", "cum-2".to_owned()),
            ("name", "Cụm 2 — Đông Bắc".to_owned()),
            ("url", a.address.clone()),
            ("token", token.clone()),
        ]
    };

    // Without the CSRF token, or as a station's editor: refused, nothing stored.
    let mut no_csrf = good(String::new());
    no_csrf.remove(0);
    let r = post(&mut op, "/admin/peers", no_csrf).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    crate::web::add_person(&b, "lang-son", "mai", "Hoàng Thị Mai", "editor", PASSWORD);
    let mut mai = crate::web::Browser::new(&b);
    mai.sign_in("mai", PASSWORD).await;
    let csrf = mai.session_csrf().await;
    let r = post(&mut mai, "/admin/peers", good(csrf)).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(b.count("peers"), 0);

    // An address the guard refuses: said in Vietnamese, nothing stored.
    let csrf = op.session_csrf().await;
    for (field, value) in [
        ("url", "http://127.0.0.2/"),
        ("url", "ftp://127.0.0.1/"),
        ("id", "Cụm 2"),
    ] {
        let mut bad = good(csrf.clone());
        bad.iter_mut().find(|(k, _)| *k == field).unwrap().1 = value.to_owned();
        let r = post(&mut op, "/admin/peers", bad).await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{field} = {value}");
        let html = r.text().await.unwrap();
        let said = match field {
            "url" => "Địa chỉ hub không được phép",
            _ => "Mã hub phải viết thường",
        };
        assert!(html.contains(said), "{field} = {value}: {html}");
        assert!(!html.contains(&token), "the token is never shown back");
    }
    assert_eq!(b.count("peers"), 0, "nothing stored from bad input");
    assert_eq!(b.count("stations"), stations_before);

    // Followed: said, listed, never its token.
    let r = post(&mut op, "/admin/peers", good(csrf.clone())).await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(html.contains("Đã theo dõi hub Cụm 2 — Đông Bắc."), "{html}");
    assert!(!html.contains(&token));
    // A taken id (the same peer again, or a station of this hub): said,
    // nothing changed.
    for (id, url) in [("cum-2", "http://127.0.0.1:9/"), ("lang-son", "http://127.0.0.1:9/")] {
        let mut dup = good(csrf.clone());
        dup[1].1 = id.to_owned();
        dup[3].1 = url.to_owned();
        let r = post(&mut op, "/admin/peers", dup).await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{id}");
        let html = r.text().await.unwrap();
        assert!(
            html.contains("Mã này đã dùng cho một đài hoặc một hub đang theo dõi"),
            "{html}"
        );
    }
    let listed: Value = b.get(&b.admin, "/api/v1/peers").await.json().await.unwrap();
    assert_eq!(items(&listed).len(), 1, "{listed}");
    assert_eq!(listed["items"][0]["url"], format!("{}/", a.address), "unchanged");
    assert_eq!(b.count("stations"), stations_before + 1);

    // A hub nobody answers for, beside it, its files to come ahead of need.
    let mut down = good(csrf.clone());
    down[1].1 = "cum-5".to_owned();
    down[2].1 = "Cụm 5 — Tây Nguyên".to_owned();
    down[3].1 = "http://127.0.0.1:9/".to_owned();
    down.push(("eager", "followed".to_owned()));
    let mut too_much = down.clone();
    too_much.push(("eager_max_mib", "nhiều".to_owned()));
    let r = post(&mut op, "/admin/peers", too_much).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("Cách đưa tệp về trước hoặc dung lượng tối đa không hợp lệ."));
    assert_eq!(b.count("peers"), 1);
    down.push(("eager_max_mib", "100".to_owned()));
    assert_eq!(post(&mut op, "/admin/peers", down).await.status(), StatusCode::OK);

    // Each with when it was read, how it went, how many programs came.
    let page = admin_until(&mut op, |p| {
        p.contains("<td class=\"peer-mirrored\">2</td>") && p.contains("Không kết nối được tới hub kia.")
    })
    .await;
    let row = |id: &str| -> String {
        let start = page.find(&format!("<tr id=\"peer-row-{id}\">")).unwrap();
        page[start..].split("</tr>").next().unwrap().to_owned()
    };
    let (cum2, cum5) = (row("cum-2"), row("cum-5"));
    assert!(cum2.contains("Cụm 2 — Đông Bắc") && cum2.contains(&a.address), "{cum2}");
    assert!(cum2.contains("<td class=\"peer-state\">Bình thường</td>"), "{cum2}");
    assert!(!cum2.contains("Chưa đọc lần nào"), "{cum2}");
    let today = chrono::Utc::now()
        .with_timezone(&chrono::FixedOffset::east_opt(7 * 3600).unwrap())
        .format("%Y")
        .to_string();
    assert!(cum2.contains(&format!("/{today} ")), "the last read's date: {cum2}");
    assert!(cum5.contains("<td class=\"peer-mirrored\">0</td>"), "{cum5}");
    assert!(
        cum5.contains("<td class=\"peer-eager\">Chương trình các đài ở đây theo dõi (tối đa 104,9 MB)</td>"),
        "{cum5}"
    );
    assert!(
        cum2.contains("<td class=\"peer-eager\">Không: lấy tệp khi có người cần</td>"),
        "{cum2}"
    );
    assert!(!page.contains(&token));
    assert!(b.count("stations") == stations_before + 2);

    // Unfollowed: said; what came from it is withdrawn.
    let csrf = op.session_csrf().await;
    let remove = |id: &str| vec![("csrf", csrf.clone()), ("peer_id", id.to_owned())];
    let r = post(&mut op, "/admin/peers/remove", remove("cum-2")).await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(html.contains("Đã thôi theo dõi hub cum-2"), "{html}");
    assert!(!html.contains("<tr id=\"peer-row-cum-2\">"));
    assert!(b.find(&lang_son, "q=moi+cum").await.is_empty());
    // An unknown one: said, nothing changed.
    let r = post(&mut op, "/admin/peers/remove", remove("cum-2")).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("Hub này không có trong danh sách theo dõi."));
    assert_eq!(b.count("peers"), 1);
    let r = post(&mut mai, "/admin/peers/remove", remove("cum-5")).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(b.count("peers"), 1);
}

/// A as a process of its own on `data` and `port`, to stop, kill and start
/// again on the same address.
async fn origin_process(data: &std::path::Path, port: u16, log: &std::path::Path) -> crate::procs::HubProcess {
    let storage = pxhub::config::StorageSettings::Local { path: None };
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_pxhub"));
    cmd.arg("serve").envs(crate::procs::serve_env(data, port, &storage));
    crate::procs::HubProcess::start(cmd, port, log).await
}

/// The peers `hub` follows, once `check` holds of them (10 s).
async fn peers_until(hub: &TestApp, check: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..200 {
        let listed: Value = hub.get(&hub.admin, "/api/v1/peers").await.json().await.unwrap();
        if check(&listed) {
            return listed;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("never matched");
}

/// The date and time the page gives after `label` (`dd/mm/yyyy HH:MM`,
/// station time), as UTC.
fn time_after(page: &str, label: &str) -> chrono::DateTime<chrono::Utc> {
    let at = page.split(label).nth(1).unwrap_or_else(|| panic!("no {label}: {page}"));
    let local = chrono::NaiveDateTime::parse_from_str(&at[..16], "%d/%m/%Y %H:%M").unwrap();
    (local - chrono::Duration::hours(7)).and_utc()
}

/// The origin hub stops: a mirror's page says it waits for its origin, and
/// when the origin was last tried, instead of offering a download that
/// would fail (the API answers 503 and stores nothing); once the origin is
/// back, the download is offered again and gives the bytes.
#[tokio::test]
async fn a_mirror_whose_origin_hub_is_stopped_says_it_waits_for_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("a");
    let storage = pxhub::config::StorageSettings::Local { path: None };
    let admin = crate::procs::admin_token(&data, &storage);
    let port = crate::procs::free_port();
    let mut origin = origin_process(&data, port, &dir.path().join("a1.log")).await;
    let a = origin.app(&admin, &data, &storage);
    let b = following_hub().await;
    let cao_bang = a.station("cao-bang", "provincial").await;
    let master = crate::helpers::bytes(64 * 1024 + 5, 44);
    with_rights(&a, &cao_bang, "Khắp mọi cụm", json!({"audience": "all"}), &master).await;
    follow(&b, "cum-2", "Cụm 2 — Đông Bắc", &a, "cum-3").await;
    let lang_son = b.station("lang-son", "provincial").await;
    let found = search_until(&b, &lang_son, "q=khap", |f| items(f).len() == 1).await;
    let mirror = id(&items(&found)[0]).to_owned();
    let (page, file) = (
        format!("/programs/{mirror}"),
        format!("/api/v1/programs/{mirror}/files/master"),
    );
    let download = format!("href=\"{file}\"");
    crate::web::add_person(&b, "lang-son", "mai", "Hoàng Thị Mai", "editor", PASSWORD);
    let mut mai = crate::web::Browser::new(&b);
    mai.sign_in("mai", PASSWORD).await;
    let html = mai.text(&page).await;
    assert!(html.contains(&download), "{html}");
    assert!(!html.contains("Đang chờ hub gốc"));

    // A stops: the page says the program waits for it.
    origin.stop();
    let stopped = chrono::Utc::now();
    peers_until(&b, |l| !l["items"][0]["last_error"].is_null()).await;
    let html = mai.text(&page).await;
    assert!(
        html.contains("Đang chờ hub gốc: chưa lấy được tệp từ Cụm 2 — Đông Bắc. Lần thử gần nhất: "),
        "{html}"
    );
    assert!(!html.contains(&download), "no download that would fail: {html}");
    // A take tries, fails, stores nothing; the page gives that try's time.
    assert_problem(
        b.get(&lang_son, &file).await,
        StatusCode::SERVICE_UNAVAILABLE,
        "origin_unavailable",
    )
    .await;
    assert!(b.stored_keys().await.is_empty());
    assert_eq!(b.count("media_objects"), 0);
    assert_eq!(b.count("peer_waits"), 1);
    let html = mai.text(&page).await;
    let tried = time_after(&html, "Lần thử gần nhất: ");
    let minute = chrono::Duration::minutes(1);
    assert!(
        tried > stopped - minute * 2 && tried <= chrono::Utc::now(),
        "{tried} vs {stopped}"
    );
    assert!(!html.contains(&download));
    // In English too.
    let en = mai.text(&format!("{page}?lang=en")).await;
    assert!(en.contains("Waiting for the originating hub"), "{en}");

    // A comes back: the download is offered again, and gives the bytes.
    let _origin = origin_process(&data, port, &dir.path().join("a2.log")).await;
    peers_until(&b, |l| l["items"][0]["last_error"].is_null()).await;
    let html = mai.text(&page).await;
    assert!(html.contains(&download), "{html}");
    assert!(!html.contains("Đang chờ hub gốc"));
    let r = b.get(&lang_son, &file).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.bytes().await.unwrap()[..] == master[..]);
    assert_eq!(b.count("peer_waits"), 0, "fetched: it waits no more");
}

/// A is killed in the middle of sending a large master to B, and started
/// again seconds later: B's fetch goes on from where it broke (a Range), the taker gets
/// the exact bytes, and A sent little more than the file once.
#[tokio::test]
async fn a_fetch_goes_on_after_the_origin_is_killed_and_started_again() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("a");
    let storage = pxhub::config::StorageSettings::Local { path: None };
    let admin = crate::procs::admin_token(&data, &storage);
    let port = crate::procs::free_port();
    let mut origin = origin_process(&data, port, &dir.path().join("a1.log")).await;
    let a = origin.app(&admin, &data, &storage);
    let b = following_hub().await;
    let cao_bang = a.station("cao-bang", "provincial").await;
    let master = crate::helpers::bytes(12 * 1024 * 1024 + 3, 45);
    with_rights(&a, &cao_bang, "Sông Gâm mọi cụm", json!({"audience": "all"}), &master).await;
    // 4 MB/s, never cut by the link itself.
    let link = link_to(&format!("127.0.0.1:{port}"), 4e6, std::time::Duration::from_secs(3600)).await;
    let token = a.station("cum-3", "peer").await;
    add_peer(
        &b,
        "cum-2",
        "Cụm 2",
        &format!("http://{}", link.addr),
        &token,
        json!({}),
    )
    .await;
    let lang_son = b.station("lang-son", "provincial").await;
    let found = search_until(&b, &lang_son, "q=song+gam", |f| items(f).len() == 1).await;
    let file = format!("{}/api/v1/programs/{}/files/master", b.address, id(&items(&found)[0]));

    use std::sync::atomic::Ordering::Relaxed;
    let before = link.returned.load(Relaxed);
    let take = tokio::spawn({
        let (client, token) = (reqwest::Client::new(), lang_son.clone());
        async move {
            let r = client.get(file).bearer_auth(token).send().await.unwrap();
            (r.status(), r.bytes().await.unwrap())
        }
    });
    // A dies with about a third of the file sent, and starts again.
    let third = master.len() as u64 / 3;
    for _ in 0..1000 {
        if link.returned.load(Relaxed) - before >= third {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    origin.kill();
    let at_kill = link.returned.load(Relaxed) - before;
    assert!(at_kill >= third && at_kill < master.len() as u64, "{at_kill}");
    // Down for a while, as a machine that restarts is.
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    let _origin = origin_process(&data, port, &dir.path().join("a2.log")).await;

    let (status, got) = take.await.unwrap();
    assert_eq!(status, StatusCode::OK);
    assert!(got[..] == master[..], "byte-exact");
    // What A sent (the feed's polls included): the file once, give or take
    // 5 %; a fetch started again from the start would have sent 1.33×.
    let sent = link.returned.load(Relaxed) - before;
    assert!(
        sent as f64 <= 1.05 * master.len() as f64,
        "A sent {sent} for {} bytes",
        master.len()
    );
    assert_eq!(b.count("media_objects"), 1);
    assert_eq!(b.stored_keys().await.len(), 1, "nothing half-stored beside it");
}

/// A withdraws a program while B is fetching its master for a taker: B's
/// mirror is withdrawn within a poll, the fetch stops, the taker and every
/// later one get 410, and nothing of it stays in B's store.
#[tokio::test]
async fn a_withdrawal_at_the_origin_stops_a_fetch_under_way() {
    let a = TestApp::spawn().await;
    let b = following_hub().await;
    let cao_bang = a.station("cao-bang", "provincial").await;
    let master = crate::helpers::bytes(8 * 1024 * 1024, 46);
    let p = with_rights(
        &a,
        &cao_bang,
        "Thác Bản Giốc mọi cụm",
        json!({"audience": "all"}),
        &master,
    )
    .await;
    // 2 MB/s: the whole file would take 4 s.
    let link = link_to(&a.address, 2e6, std::time::Duration::from_secs(3600)).await;
    let token = a.station("cum-3", "peer").await;
    let url = format!("http://{}", link.addr);
    add_peer(&b, "cum-2", "Cụm 2", &url, &token, json!({})).await;
    let lang_son = b.station("lang-son", "provincial").await;
    let found = search_until(&b, &lang_son, "q=ban+gioc", |f| items(f).len() == 1).await;
    let mirror = id(&items(&found)[0]).to_owned();
    let file = format!("/api/v1/programs/{mirror}/files/master");

    use std::sync::atomic::Ordering::Relaxed;
    let before = link.returned.load(Relaxed);
    let take = tokio::spawn({
        let (client, token, url) = (reqwest::Client::new(), lang_son.clone(), format!("{}{file}", b.address));
        async move {
            let r = client.get(url).bearer_auth(token).send().await.unwrap();
            (r.status(), r.bytes().await.unwrap())
        }
    });
    for _ in 0..1000 {
        if link.returned.load(Relaxed) - before >= 1024 * 1024 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let r = a
        .post(
            &cao_bang,
            &format!("/api/v1/programs/{}/withdraw", id(&p)),
            &json!({"reason": "sai bản quyền"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);

    let (status, _) = take.await.unwrap();
    assert_eq!(status, StatusCode::GONE, "the taker gets nothing");
    let got: Value = b
        .get(&lang_son, &format!("/api/v1/programs/{mirror}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got["status"], "withdrawn");
    assert_eq!(b.get(&lang_son, &file).await.status(), StatusCode::GONE);
    // The fetch stopped: A did not send the rest, and B kept nothing of it.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let sent = link.returned.load(Relaxed) - before;
    assert!(sent < master.len() as u64 * 3 / 4, "the fetch went on: {sent}");
    for _ in 0..100 {
        if b.stored_keys().await.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(b.stored_keys().await.is_empty(), "{:?}", b.stored_keys().await);
    assert_eq!(b.count("media_objects"), 0);
    assert_eq!(b.count("peer_waits"), 0, "a withdrawn program waits for nothing");
}

/// One value of B's catalog, read beside the running hub.
fn catalog_value<T: rusqlite::types::FromSql>(hub: &TestApp, sql: &str) -> T {
    rusqlite::Connection::open(hub.catalog_path())
        .unwrap()
        .query_row(sql, [], |r| r.get(0))
        .unwrap()
}

/// A's webhooks wake B at once: B reads A's feed once a minute only, yet a
/// program published or withdrawn on A shows on B within seconds. B
/// subscribed on A as its peer station (A sends it only what a peer may
/// see); a delivery not signed with the secret B gave is refused, a signed
/// one makes B read now; removing the peer ends the subscription on A.
#[tokio::test]
async fn the_origins_webhooks_wake_the_following_hub() {
    let a = TestApp::spawn().await;
    let b = TestApp::spawn_with(|s| s.peer_poll_ms = 60_000).await;
    let cao_bang = a.station("cao-bang", "provincial").await;
    let lang_son = b.station("lang-son", "provincial").await;
    follow(&b, "cum-2", "Cụm 2", &a, "cum-3").await;
    let hooks = {
        let mut hooks = Value::Null;
        for _ in 0..200 {
            hooks = a.get(&a.admin, "/api/v1/webhooks").await.json().await.unwrap();
            let polled: Option<i64> = catalog_value(&b, "SELECT polled_at FROM peers");
            if items(&hooks).len() == 1 && polled.is_some() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        hooks
    };
    assert_eq!(items(&hooks).len(), 1, "{hooks}");
    assert_eq!(hooks["items"][0]["station"], "cum-3", "B's peer station subscribed");
    assert_eq!(
        hooks["items"][0]["url"],
        format!("{}/api/v1/peers/cum-2/wake", b.address)
    );
    // B's worker has read A once and sleeps for a minute now.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    with_rights(&a, &cao_bang, "Chỉ trong cụm", json!({"audience": "cluster"}), b"x").await;
    let shared = with_rights(&a, &cao_bang, "Khèn mọi cụm", json!({"audience": "all"}), b"khen").await;
    search_until(&b, &lang_son, "q=khen", |f| items(f).len() == 1).await;
    // A sent B's hook nothing of the cluster's own program.
    let about: Vec<String> = rusqlite::Connection::open(a.catalog_path())
        .unwrap()
        .prepare(
            "SELECT DISTINCT p.id FROM deliveries d JOIN events e ON e.seq = d.event_seq
               JOIN programs p ON p.seq = e.program_seq",
        )
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(about, [id(&shared).to_owned()]);
    let r = a
        .post(
            &cao_bang,
            &format!("/api/v1/programs/{}/withdraw", id(&shared)),
            &json!({"reason": "sai"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    search_until(&b, &lang_son, "q=khen", |f| items(f).is_empty()).await;

    // Only a delivery signed with B's secret wakes B.
    let wake = format!("{}/api/v1/peers/cum-2/wake", b.address);
    let body = br#"{"delivery":"x"}"#;
    let secret: String = catalog_value(&b, "SELECT wake_secret FROM peers");
    let signed = |secret: &str| {
        use hmac::Mac;
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(body);
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    };
    let client = reqwest::Client::new();
    for (path, signature) in [
        (wake.clone(), None),
        (wake.clone(), Some(signed("not the secret B gave"))),
        (wake.clone(), Some("sha256=zz".to_owned())),
        (wake.replace("cum-2", "cum-9"), Some(signed(&secret))),
    ] {
        let mut req = client.post(&path).body(&body[..]);
        if let Some(s) = &signature {
            req = req.header("X-Hub-Signature-256", s);
        }
        assert_problem(req.send().await.unwrap(), StatusCode::UNAUTHORIZED, "unauthorized").await;
    }
    let before: i64 = catalog_value(&b, "SELECT polled_at FROM peers");
    let r = client
        .post(&wake)
        .header("X-Hub-Signature-256", signed(&secret))
        .body(&body[..])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let mut after = before;
    for _ in 0..100 {
        after = catalog_value(&b, "SELECT polled_at FROM peers");
        if after > before {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(after > before, "a signed delivery makes B read A now");

    // Unfollowed: B's subscription on A ends.
    assert_eq!(
        b.delete(&b.admin, "/api/v1/peers/cum-2").await.status(),
        StatusCode::NO_CONTENT
    );
    let hooks: Value = a.get(&a.admin, "/api/v1/webhooks").await.json().await.unwrap();
    assert!(items(&hooks).is_empty(), "{hooks}");
}

/// B follows A through a proxy that can take A away, with this eager mode
/// and limit; returns the proxy.
async fn follow_eagerly(
    b: &TestApp,
    a: &TestApp,
    eager: &str,
    max: u64,
) -> std::sync::Arc<crate::fault_proxy::FaultProxy> {
    let upstream: std::net::SocketAddr = a.address.trim_start_matches("http://").parse().unwrap();
    let proxy = crate::fault_proxy::FaultProxy::start(upstream, 47).await;
    let token = a.station("cum-3", "peer").await;
    let extra = json!({"eager": eager, "eager_max_bytes": max});
    let made = add_peer(b, "cum-2", "Cụm 2", &proxy.endpoint(), &token, extra).await;
    assert_eq!(
        (made["eager"].as_str(), made["eager_max_bytes"].as_u64()),
        (Some(eager), Some(max))
    );
    proxy
}

/// The SHA-256s of B's stored objects, once there are `n` of them (10 s),
/// and still `n` a moment later.
async fn stored_until(b: &TestApp, n: i64) -> BTreeSet<String> {
    for _ in 0..200 {
        if b.count("media_objects") >= n {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    assert_eq!(b.count("media_objects"), n);
    rusqlite::Connection::open(b.catalog_path())
        .unwrap()
        .prepare("SELECT sha256 FROM media_objects")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// A peer mirrored eagerly: its programs' files come to B before anyone
/// asks, newest first, within its size limit (no take at A or B), and B
/// serves them while A is down; what did not fit waits for its origin.
#[tokio::test]
async fn a_peer_mirrored_eagerly_is_served_while_it_is_down_within_its_limit() {
    let a = TestApp::spawn().await;
    let b = following_hub().await;
    let cao_bang = a.station("cao-bang", "provincial").await;
    let lang_son = b.station("lang-son", "provincial").await;
    let (old, new) = (crate::helpers::bytes(80_000, 48), crate::helpers::bytes(90_000, 49));
    let p_old = with_rights(&a, &cao_bang, "Hội Lồng Tồng cũ", json!({"audience": "all"}), &old).await;
    let p_new = with_rights(&a, &cao_bang, "Hội Lồng Tồng mới", json!({"audience": "all"}), &new).await;
    with_rights(
        &a,
        &cao_bang,
        "Lồng Tồng trong cụm",
        json!({"audience": "cluster"}),
        b"x",
    )
    .await;
    // Room for one of the two.
    let proxy = follow_eagerly(&b, &a, "all", 100_000).await;
    let stored = stored_until(&b, 1).await;
    assert_eq!(
        stored,
        BTreeSet::from([p_new["files"][0]["sha256"].as_str().unwrap().to_owned()])
    );
    assert_eq!(a.count("peer_uses"), 0, "no take at A");
    assert_eq!(b.count("takes"), 0, "nor at B");

    // A goes away: B serves what it holds; the other waits for its origin.
    proxy.set(crate::fault_proxy::Mode::Down).await;
    let found = search_until(&b, &lang_son, "q=long+tong", |f| items(f).len() == 2).await;
    let mirror = |title: &str| {
        items(&found)
            .iter()
            .find(|p| p["title"] == title)
            .map(|p| id(p).to_owned())
            .unwrap()
    };
    let file = |m: String| format!("/api/v1/programs/{m}/files/master");
    let r = b.get(&lang_son, &file(mirror("Hội Lồng Tồng mới"))).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.bytes().await.unwrap()[..] == new[..]);
    assert_problem(
        b.get(&lang_son, &file(mirror("Hội Lồng Tồng cũ"))).await,
        StatusCode::SERVICE_UNAVAILABLE,
        "origin_unavailable",
    )
    .await;
    let _ = p_old;
}

/// `followed`: only what a station of B follows comes ahead of need; a
/// bad mode is refused and stores nothing.
#[tokio::test]
async fn a_peer_mirrored_eagerly_for_what_is_followed_brings_only_that() {
    let a = TestApp::spawn().await;
    let b = following_hub().await;
    let cao_bang = a.station("cao-bang", "provincial").await;
    let lang_son = b.station("lang-son", "provincial").await;
    let r = b
        .post(
            &lang_son,
            "/api/v1/follows",
            &json!({"kind": "series", "value": "Sli lượn"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
    let mut body = program("Sli lượn số 1");
    body["series"] = json!("Sli lượn");
    body["rights"] = json!({"audience": "all"});
    let followed = a.publish_with_master(&cao_bang, &body, b"sli luon".to_vec()).await;
    with_rights(
        &a,
        &cao_bang,
        "Chợ tình mọi cụm",
        json!({"audience": "all"}),
        b"cho tinh",
    )
    .await;

    let bad = json!({"id": "cum-2", "name": "Cụm 2", "url": a.address, "token": "pxh_x_y", "eager": "some"});
    let p = assert_problem(
        b.post(&b.admin, "/api/v1/peers", &bad).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(crate::helpers::fields(&p), ["eager"]);
    assert_eq!(b.count("peers"), 0);

    let _proxy = follow_eagerly(&b, &a, "followed", 0).await;
    search_until(&b, &lang_son, "q=cho+tinh", |f| items(f).len() == 1).await;
    let stored = stored_until(&b, 1).await;
    assert_eq!(
        stored,
        BTreeSet::from([followed["files"][0]["sha256"].as_str().unwrap().to_owned()])
    );
}

/// An eager fetch under way holds up nothing: a program A publishes
/// meanwhile reaches B at its next read, and A's withdrawal of the program
/// being fetched stops the fetch, leaving nothing of it.
#[tokio::test]
async fn an_eager_fetch_under_way_holds_up_neither_reads_nor_withdrawals() {
    let a = TestApp::spawn().await;
    let b = following_hub().await;
    let cao_bang = a.station("cao-bang", "provincial").await;
    let lang_son = b.station("lang-son", "provincial").await;
    let master = crate::helpers::bytes(8 * 1024 * 1024, 50);
    let big = with_rights(
        &a,
        &cao_bang,
        "Phóng sự dài mọi cụm",
        json!({"audience": "all"}),
        &master,
    )
    .await;
    // 2 MB/s: the eager fetch takes 4 s.
    let link = link_to(&a.address, 2e6, std::time::Duration::from_secs(3600)).await;
    let token = a.station("cum-3", "peer").await;
    let url = format!("http://{}", link.addr);
    add_peer(&b, "cum-2", "Cụm 2", &url, &token, json!({"eager": "all"})).await;
    use std::sync::atomic::Ordering::Relaxed;
    for _ in 0..1000 {
        if link.returned.load(Relaxed) >= 1024 * 1024 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert!(link.returned.load(Relaxed) >= 1024 * 1024, "the eager fetch started");

    with_rights(&a, &cao_bang, "Tin nhanh mọi cụm", json!({"audience": "all"}), b"tin").await;
    search_until(&b, &lang_son, "q=tin+nhanh", |f| items(f).len() == 1).await;
    assert_eq!(b.count("media_objects"), 0, "found while the eager fetch goes on");

    let r = a
        .post(
            &cao_bang,
            &format!("/api/v1/programs/{}/withdraw", id(&big)),
            &json!({"reason": "sai"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    search_until(&b, &lang_son, "q=phong+su+dai", |f| items(f).is_empty()).await;
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    let carried = link.returned.load(Relaxed);
    assert!(carried < master.len() as u64, "the fetch stopped: {carried}");
    let stored = stored_until(&b, 1).await;
    assert!(
        !stored.contains(big["files"][0]["sha256"].as_str().unwrap()),
        "nothing of the withdrawn program is kept"
    );
}
