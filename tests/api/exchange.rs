//! The exchange: one rights rule through every endpoint, the ledger, the report.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{Datelike, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{assert_problem, fields, id, program, TestApp};

async fn publish_with_master(app: &TestApp, token: &str, body: &Value, bytes: Vec<u8>) -> Value {
    app.publish_with_master(token, body, bytes).await
}

#[tokio::test]
async fn one_rights_rule_decides_every_endpoint() {
    let app = TestApp::spawn().await;
    let owner = app.station("thai-nguyen", "provincial").await;
    let listed = app.station("cao-bang", "provincial").await;
    let other = app.station("bac-kan", "provincial").await;
    let national = app.station("vtv", "national").await;
    let peer = app.station("cum-3", "peer").await;
    let viewers = [
        ("peer", &peer),
        ("owner", &owner),
        ("listed", &listed),
        ("other", &other),
        ("national", &national),
        ("admin", &app.admin),
    ];

    let audiences = [
        ("cluster", json!({"audience": "cluster"})),
        ("national", json!({"audience": "national"})),
        ("stations", json!({"audience": "stations", "stations": ["cao-bang"]})),
        ("all", json!({"audience": "all"})),
    ];
    let windows = [
        ("inside", json!({"available_from": "2020-01-01T00:00:00Z"}), None),
        (
            "before",
            json!({"available_from": "2999-01-01T00:00:00Z"}),
            Some("not_yet_available"),
        ),
        (
            "after",
            json!({"available_from": "2020-01-01T00:00:00Z", "available_until": "2021-01-01T00:00:00Z"}),
            Some("no_longer_available"),
        ),
    ];
    let mut n = 0;
    for (audience, a) in &audiences {
        for (window, w, reason) in &windows {
            n += 1;
            let word = format!("quyen{n}");
            let mut rights = a.clone();
            rights.as_object_mut().unwrap().extend(w.as_object().unwrap().clone());
            let mut body = program(&format!("Chương trình {word}"));
            body["rights"] = rights;
            let p = publish_with_master(&app, &owner, &body, b"abc".to_vec()).await;
            for (who, token) in &viewers {
                // A peer hub sees `all` alone; every station of the hub sees it too.
                let sees = match (*who, *audience) {
                    ("peer", a) => a == "all",
                    ("owner" | "admin", _)
                    | (_, "cluster" | "all")
                    | ("national", "national")
                    | ("listed", "stations") => true,
                    _ => false,
                };
                let takes = sees && (matches!(*who, "owner" | "admin") || *window == "inside");
                let case = format!("{who} on {audience}/{window}");

                let r = app.get(token, &format!("/api/v1/programs/{}", id(&p))).await;
                if sees {
                    let got: Value = r.json().await.unwrap();
                    assert_eq!(got["can_download"], takes, "{case}");
                    let expected_reason = if takes { None } else { *reason };
                    assert_eq!(got["unavailable_reason"], json!(expected_reason), "{case}");
                } else {
                    assert_problem(r, StatusCode::NOT_FOUND, "not_found").await;
                }
                let found = !app.find(token, &format!("q={word}")).await.is_empty();
                assert_eq!(found, sees, "search: {case}");
                let available = !app.find(token, &format!("q={word}&available=now")).await.is_empty();
                assert_eq!(available, takes, "available=now: {case}");

                for method in [Method::GET, Method::HEAD] {
                    let r = app
                        .request(
                            method.clone(),
                            Some(token),
                            &format!("/api/v1/programs/{}/files/master", id(&p)),
                        )
                        .send()
                        .await
                        .unwrap();
                    let expected = match (sees, takes) {
                        (true, true) => StatusCode::OK,
                        (true, false) => StatusCode::FORBIDDEN,
                        _ => StatusCode::NOT_FOUND,
                    };
                    assert_eq!(r.status(), expected, "{method} file: {case}");
                    if method == Method::GET && expected == StatusCode::FORBIDDEN {
                        assert_problem(r, expected, "rights_window_closed").await;
                    }
                }
            }
        }
    }
}

/// Polls the takes of a program until `check` holds (ledger writes land just
/// after a download ends).
async fn takes_until(app: &TestApp, token: &str, program_id: &str, check: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..100 {
        let t: Value = app
            .get(token, &format!("/api/v1/programs/{program_id}/takes"))
            .await
            .json()
            .await
            .unwrap();
        if check(&t) {
            return t;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    panic!(
        "takes never matched: {}",
        app.get(token, &format!("/api/v1/programs/{program_id}/takes"))
            .await
            .text()
            .await
            .unwrap()
    );
}

fn takers(t: &Value) -> Vec<String> {
    t["takes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["station"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_ledger_counts_a_take_once_when_every_byte_arrived() {
    let app = TestApp::spawn().await;
    let tn = app.station("thai-nguyen", "provincial").await;
    let cb = app.station("cao-bang", "provincial").await;
    let bk = app.station("bac-kan", "provincial").await;
    let vtv = app.station("vtv", "national").await;
    let body: Vec<u8> = (0..32 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let size = body.len();
    let p = publish_with_master(&app, &tn, &program("Sổ ghi"), body.clone()).await;
    let file = format!("/api/v1/programs/{}/files/master", id(&p));
    let get = |token: &str, range: Option<String>| {
        let mut r = app.request(Method::GET, Some(token), &file);
        if let Some(range) = range {
            r = r.header("Range", range);
        }
        r.send()
    };

    // The owner's, the admin's, a HEAD and a 304 are not takes.
    assert!(get(&tn, None).await.unwrap().bytes().await.unwrap() == body);
    assert_eq!(get(&app.admin, None).await.unwrap().bytes().await.unwrap().len(), size);
    app.request(Method::HEAD, Some(&cb), &file).send().await.unwrap();
    let etag = format!("\"{}\"", p["files"][0]["sha256"].as_str().unwrap());
    let r = app
        .request(Method::GET, Some(&cb), &file)
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);

    // Whole, twice: one take.
    for _ in 0..2 {
        assert!(get(&cb, None).await.unwrap().bytes().await.unwrap() == body);
    }
    takes_until(&app, &tn, id(&p), |t| takers(t) == ["cao-bang"]).await;

    // In three ranges: a take only once the last arrives.
    let third = size / 3;
    get(&bk, Some(format!("bytes=0-{}", third - 1)))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    get(&bk, Some(format!("bytes={third}-{}", 2 * third - 1)))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let t: Value = app
        .get(&tn, &format!("/api/v1/programs/{}/takes", id(&p)))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(takers(&t), ["cao-bang"], "two thirds is not a take");
    get(&bk, Some(format!("bytes={}-", 2 * third)))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    takes_until(&app, &tn, id(&p), |t| takers(t).len() == 2).await;

    // Broken off after the first chunk, then resumed from what arrived.
    let mut r = get(&vtv, None).await.unwrap();
    let first = r.chunk().await.unwrap().unwrap();
    drop(r);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let t: Value = app
        .get(&tn, &format!("/api/v1/programs/{}/takes", id(&p)))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(takers(&t).len(), 2, "a broken download is not a take");
    let rest = get(&vtv, Some(format!("bytes={}-", first.len())))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!([&first[..], &rest[..]].concat() == body);
    let t = takes_until(&app, &tn, id(&p), |t| takers(t).len() == 3).await;
    let set: BTreeSet<String> = takers(&t).into_iter().collect();
    assert_eq!(set, ["bac-kan", "cao-bang", "vtv"].map(String::from).into());
    for take in t["takes"].as_array().unwrap() {
        assert_eq!(take["role"], "master");
        assert_eq!(take["size"], size);
    }
}

#[tokio::test]
async fn rebroadcasts_come_from_stations_that_took_the_program() {
    let app = TestApp::spawn().await;
    let tn = app.station("thai-nguyen", "provincial").await;
    let cb = app.station("cao-bang", "provincial").await;
    let bk = app.station("bac-kan", "provincial").await;
    let p = publish_with_master(&app, &tn, &program("Phát lại"), b"abcdef".to_vec()).await;
    let path = format!("/api/v1/programs/{}/rebroadcasts", id(&p));
    let aired = json!({"aired_at": "2026-03-01T12:00:00Z", "channel": "CBTV1", "note": "Ghi nguồn: Đài Thái Nguyên"});

    let r = app.post(&cb, &path, &aired).await;
    assert_problem(r, StatusCode::FORBIDDEN, "forbidden").await;
    app.get(&cb, &format!("/api/v1/programs/{}/files/master", id(&p)))
        .await
        .bytes()
        .await
        .unwrap();
    takes_until(&app, &tn, id(&p), |t| takers(t) == ["cao-bang"]).await;

    let r = app.post(&cb, &path, &aired).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let made: Value = r.json().await.unwrap();
    assert_eq!(made["station"], "cao-bang");
    assert_eq!(made["channel"], "CBTV1");
    assert_eq!(made["aired_at"], "2026-03-01T12:00:00Z");
    for (body, field) in [
        (json!({"aired_at": "2026-03-01T12:00:00Z", "channel": ""}), "channel"),
        (
            json!({"aired_at": "2999-03-01T12:00:00Z", "channel": "CBTV1"}),
            "aired_at",
        ),
        (json!({"aired_at": "yesterday", "channel": "CBTV1"}), "aired_at"),
        (json!({"channel": "CBTV1"}), ""),
        (
            json!({"aired_at": "2026-03-01T12:00:00Z", "channel": "CBTV1", "viewers": 5}),
            "viewers",
        ),
    ] {
        let r = app.post(&cb, &path, &body).await;
        let prob = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(fields(&prob), [field], "{body}");
    }
    for token in [&bk, &tn, &app.admin] {
        assert_problem(app.post(token, &path, &aired).await, StatusCode::FORBIDDEN, "forbidden").await;
    }
    assert_problem(
        app.post(
            &cb,
            "/api/v1/programs/6f9619ff-8b86-4011-b42d-00c04fc964ff/rebroadcasts",
            &aired,
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    // The origin and the admin see takes and rebroadcasts; others may not.
    for token in [&tn, &app.admin] {
        let t: Value = app
            .get(token, &format!("/api/v1/programs/{}/takes", id(&p)))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(t["rebroadcasts"], json!([made]));
        assert_eq!(takers(&t), ["cao-bang"]);
    }
    assert_problem(
        app.get(&cb, &format!("/api/v1/programs/{}/takes", id(&p))).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;

    // Withdrawal keeps the history.
    app.post(
        &tn,
        &format!("/api/v1/programs/{}/withdraw", id(&p)),
        &json!({"reason": "hết hạn"}),
    )
    .await;
    let t: Value = app
        .get(&tn, &format!("/api/v1/programs/{}/takes", id(&p)))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(t["rebroadcasts"].as_array().unwrap().len(), 1);
    assert_eq!(takers(&t), ["cao-bang"]);
}

#[tokio::test]
async fn the_exchange_report_counts_a_seeded_year() {
    let app = TestApp::spawn().await;
    let tn = app.station("thai-nguyen", "provincial").await;
    let r = app
        .post(
            &app.admin,
            "/api/v1/stations",
            &json!({"id": "cao-bang", "name": "Đài PT-TH \"Cao Bằng\", tỉnh Cao Bằng", "province": "Cao Bằng"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = app
        .post(&app.admin, "/api/v1/stations/cao-bang/tokens", &json!({}))
        .await;
    let cb = r.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned();
    let bk = app.station("bac-kan", "provincial").await;
    let vtv = app.station("vtv", "national").await;

    let p1 = publish_with_master(&app, &tn, &program("Một"), b"one".to_vec()).await;
    let p2 = publish_with_master(&app, &tn, &program("Hai"), b"two".to_vec()).await;
    let p3 = publish_with_master(&app, &cb, &program("Ba"), b"three".to_vec()).await;
    app.create_program(&bk, &program("Nháp")).await;
    let take = |token: String, p: &Value| {
        let path = format!("/api/v1/programs/{}/files/master", id(p));
        let app = &app;
        async move { app.get(&token, &path).await.bytes().await.unwrap() }
    };
    take(cb.clone(), &p1).await;
    take(cb.clone(), &p1).await;
    take(cb.clone(), &p2).await;
    take(vtv.clone(), &p1).await;
    take(tn.clone(), &p3).await;
    takes_until(&app, &tn, id(&p1), |t| takers(t).len() == 2).await;
    takes_until(&app, &tn, id(&p2), |t| takers(t).len() == 1).await;
    takes_until(&app, &cb, id(&p3), |t| takers(t).len() == 1).await;
    let now = Utc::now().to_rfc3339();
    for (token, p) in [(&cb, &p1), (&cb, &p1), (&cb, &p2), (&tn, &p3)] {
        let r = app
            .post(
                token,
                &format!("/api/v1/programs/{}/rebroadcasts", id(p)),
                &json!({"aired_at": now, "channel": "K1"}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
    }

    let year = Utc::now().year();
    let period = format!("from={year}-01-01&to={}-01-01", year + 1);
    let report: Value = app
        .get(&app.admin, &format!("/api/v1/reports/exchange?{period}"))
        .await
        .json()
        .await
        .unwrap();
    let row = |station: &str| -> Vec<u64> {
        let r = report["stations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["station"] == station)
            .unwrap();
        [
            "contributed",
            "published",
            "taken_by_others",
            "taken_from_others",
            "rebroadcasts_of_its_programs",
            "rebroadcasts_made",
        ]
        .iter()
        .map(|k| r[*k].as_u64().unwrap())
        .collect()
    };
    assert_eq!(row("thai-nguyen"), [2, 2, 3, 1, 3, 1]);
    assert_eq!(row("cao-bang"), [1, 1, 1, 2, 1, 3]);
    assert_eq!(row("bac-kan"), [1, 0, 0, 0, 0, 0]);
    assert_eq!(row("vtv"), [0, 0, 0, 1, 0, 0]);
    assert_eq!(
        report["totals"],
        json!({"contributed": 4, "published": 3, "taken_by_others": 4, "taken_from_others": 4,
               "rebroadcasts_of_its_programs": 4, "rebroadcasts_made": 4})
    );
    assert_eq!(
        report["matrix"],
        json!([
            {"origin": "cao-bang", "taker": "thai-nguyen", "programs": 1},
            {"origin": "thai-nguyen", "taker": "cao-bang", "programs": 2},
            {"origin": "thai-nguyen", "taker": "vtv", "programs": 1},
        ])
    );

    // A station sees its own row, the totals, and the cells it is in.
    let mine: Value = app
        .get(&cb, &format!("/api/v1/reports/exchange?{period}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine["stations"].as_array().unwrap().len(), 1);
    assert_eq!(mine["stations"][0]["station"], "cao-bang");
    assert_eq!(mine["totals"], report["totals"]);
    assert_eq!(mine["matrix"].as_array().unwrap().len(), 2);

    // Another year is empty.
    let old: Value = app
        .get(&app.admin, "/api/v1/reports/exchange?from=2020-01-01&to=2021-01-01")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(old["totals"]["contributed"], 0);
    assert_eq!(old["matrix"], json!([]));

    // CSV: UTF-8 with BOM, quoted as RFC 4180 says, read back by a CSV library.
    let r = app
        .get(&app.admin, &format!("/api/v1/reports/exchange?{period}&format=csv"))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    let text = r.text().await.unwrap();
    assert!(text.starts_with('\u{feff}'));
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(&records[0][0], "station");
    let cb_row = records.iter().find(|r| &r[0] == "cao-bang").unwrap();
    assert_eq!(&cb_row[1], "Đài PT-TH \"Cao Bằng\", tỉnh Cao Bằng");
    assert_eq!(
        cb_row.iter().skip(2).collect::<Vec<_>>(),
        ["1", "1", "1", "2", "1", "3"]
    );
    let total = records.iter().find(|r| &r[0] == "TOTAL").unwrap();
    assert_eq!(total.iter().skip(2).collect::<Vec<_>>(), ["4", "3", "4", "4", "4", "4"]);
    let header = records.iter().position(|r| &r[0] == "origin \\ taker").unwrap();
    assert_eq!(
        records[header].iter().collect::<Vec<_>>(),
        ["origin \\ taker", "cao-bang", "thai-nguyen", "vtv"]
    );
    let tn_row = records[header + 1..].iter().find(|r| &r[0] == "thai-nguyen").unwrap();
    assert_eq!(tn_row.iter().collect::<Vec<_>>(), ["thai-nguyen", "2", "0", "1"]);

    // The same report on the command line.
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_pxhub"))
        .arg("--data-dir")
        .arg(&app.settings.data_dir)
        .args(["report", "exchange", "--year", &year.to_string(), "--format", "csv"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(String::from_utf8(o.stdout).unwrap(), text);

    for (query, field) in [
        ("from=someday", "from"),
        ("format=xlsx", "format"),
        ("from=2025-01-01&to=2024-01-01", "to"),
    ] {
        let r = app.get(&app.admin, &format!("/api/v1/reports/exchange?{query}")).await;
        let prob = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(fields(&prob), [field], "{query}");
    }
}

#[tokio::test]
async fn the_csv_report_never_holds_a_formula() {
    let app = TestApp::spawn().await;
    let r = app
        .post(
            &app.admin,
            "/api/v1/stations",
            &json!({"id": "cao-bang", "name": "=HYPERLINK(\"http://127.0.0.1/\",\"Cao Bằng\")", "province": "@Cao Bằng"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let year = Utc::now().year();
    let r = app
        .get(
            &app.admin,
            &format!(
                "/api/v1/reports/exchange?from={year}-01-01&to={}-01-01&format=csv",
                year + 1
            ),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let text = r.text().await.unwrap();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let row = records.iter().find(|r| &r[0] == "cao-bang").unwrap();
    assert_eq!(&row[1], "'=HYPERLINK(\"http://127.0.0.1/\",\"Cao Bằng\")");
    for cell in records.iter().flat_map(|r| r.iter()) {
        assert!(!cell.starts_with(['=', '+', '-', '@']), "{cell}");
    }
}
