use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{assert_problem, fields, id, program, TestApp};

fn full_program() -> Value {
    json!({
        "title": "Thời sự tối 12/3",
        "summary": "Tin tức trong tỉnh và khu vực",
        "description": "Bản tin tổng hợp các sự kiện nổi bật trong ngày.\nPhát sóng lúc 19 giờ.",
        "tags": ["nông nghiệp", "Định Hóa"],
        "kind": "radio",
        "genre": "news",
        "languages": ["vi", "tyz"],
        "series": "Bản tin tiếng Tày",
        "episode": 12,
        "first_aired_at": "2024-03-12T18:30:00+07:00",
        "duration_seconds": 1500,
        "credits": [{"role": "producer", "name": "Nguyễn Văn A"}, {"role": "reporter", "name": "Hoàng Thị Bình"}],
        "rights": {
            "audience": "cluster",
            "stations": [],
            "available_from": "2024-03-12T00:00:00Z",
            "available_until": null,
            "credit_required": true,
            "terms": "Ghi rõ nguồn khi phát lại"
        }
    })
}

#[tokio::test]
async fn a_station_creates_and_reads_a_program_with_every_field() {
    let app = TestApp::spawn().await;
    let tn = app.station("thai-nguyen", "provincial").await;
    let r = app.post(&tn, "/api/v1/programs", &full_program()).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let etag = r.headers()["etag"].to_str().unwrap().to_owned();
    let created: Value = r.json().await.unwrap();
    assert_eq!(location, format!("/api/v1/programs/{}", id(&created)));
    assert!(uuid::Uuid::parse_str(id(&created)).is_ok());

    let r = app.get(&tn, &location).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["etag"].to_str().unwrap(), etag);
    let got: Value = r.json().await.unwrap();
    assert_eq!(got, created);

    let mut expected = full_program();
    // Times come back in UTC.
    expected["first_aired_at"] = json!("2024-03-12T11:30:00Z");
    for (k, v) in expected.as_object().unwrap() {
        assert_eq!(&got[k], v, "{k}");
    }
    assert_eq!(got["station"], "thai-nguyen");
    assert_eq!(got["status"], "draft");
    assert_eq!(got["files"], json!([]));
    assert_eq!(got["published_at"], Value::Null);
    assert!(got["created_at"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn rights_have_sensible_defaults() {
    let app = TestApp::spawn().await;
    let tn = app.station("thai-nguyen", "provincial").await;
    let p = app.create_program(&tn, &program("Chào buổi sáng")).await;
    assert_eq!(
        p["rights"],
        json!({"audience": "cluster", "stations": [], "available_from": null, "available_until": null,
               "credit_required": true, "terms": null})
    );
    // Published: available from publication.
    let p = app.published(&tn, &program("Chào buổi sáng")).await;
    assert_eq!(p["rights"]["available_from"], p["published_at"]);
}

#[tokio::test]
async fn bad_programs_get_a_clear_error_naming_each_field_and_change_nothing() {
    let app = TestApp::spawn().await;
    let tn = app.station("thai-nguyen", "provincial").await;
    app.station("cao-bang", "provincial").await;
    let with = |patch: Value| {
        let mut p = program("Tiêu đề");
        for (k, v) in patch.as_object().unwrap() {
            p[k] = v.clone();
        }
        p
    };
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (with(json!({"title": ""})), vec!["title"]),
        (with(json!({"title": "   "})), vec!["title"]),
        (with(json!({"title": "x".repeat(301)})), vec!["title"]),
        (with(json!({"title": 42})), vec!["title"]),
        (with(json!({"genre": "opera"})), vec!["genre"]),
        (with(json!({"kind": "podcast"})), vec!["kind"]),
        (with(json!({"languages": ["vietnamese"]})), vec!["languages[0]"]),
        // Shaped like tags, but no such language.
        (
            with(json!({"languages": ["vi", "qq", "zzz-Latn"]})),
            vec!["languages[1]", "languages[2]"],
        ),
        (with(json!({"languages": []})), vec!["languages"]),
        (with(json!({"duration_seconds": -5})), vec!["duration_seconds"]),
        (with(json!({"duration_seconds": "long"})), vec!["duration_seconds"]),
        (with(json!({"episode": 0})), vec!["episode"]),
        (with(json!({"first_aired_at": "yesterday"})), vec!["first_aired_at"]),
        (with(json!({"colour": "red"})), vec!["colour"]),
        (
            with(json!({"rights": {"audience": "everyone"}})),
            vec!["rights.audience"],
        ),
        (with(json!({"rights": {"licence": "cc"}})), vec!["rights.licence"]),
        (
            with(
                json!({"rights": {"available_from": "2024-03-12T00:00:00Z", "available_until": "2024-03-01T00:00:00Z"}}),
            ),
            vec!["rights.available_until"],
        ),
        (
            with(json!({"rights": {"audience": "stations"}})),
            vec!["rights.stations"],
        ),
        (
            with(json!({"rights": {"audience": "stations", "stations": ["cao-bang", "nowhere"]}})),
            vec!["rights.stations[1]"],
        ),
        (
            with(json!({"rights": {"audience": "stations", "stations": ["Cao Bang"]}})),
            vec!["rights.stations[0]"],
        ),
        (
            with(json!({"rights": {"audience": "cluster", "stations": ["cao-bang"]}})),
            vec!["rights.stations"],
        ),
        (with(json!({"credits": [{"role": "producer"}]})), vec!["credits[0]"]),
        (
            with(json!({"tags": ["ok", ""], "summary": "x".repeat(1001)})),
            vec!["summary", "tags[1]"],
        ),
        (json!({"kind": "tv", "genre": "news", "languages": ["vi"]}), vec![""]),
        (json!([1, 2]), vec!["[0]"]),
    ];
    for (body, expected) in cases {
        let r = app.post(&tn, "/api/v1/programs", &body).await;
        let p = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(fields(&p), expected, "{body}");
    }
    for raw in ["{\"title\": ", "not json", ""] {
        let r = app
            .request(Method::POST, Some(&tn), "/api/v1/programs")
            .header("Content-Type", "application/json")
            .body(raw)
            .send()
            .await
            .unwrap();
        assert_problem(r, StatusCode::BAD_REQUEST, "malformed_json").await;
    }
    let r = app
        .request(Method::POST, Some(&tn), "/api/v1/programs")
        .body(program("x").to_string())
        .send()
        .await
        .unwrap();
    assert_problem(r, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type").await;
    let mut huge = program("x");
    huge["description"] = json!("y".repeat(2 * 1024 * 1024));
    let r = app.post(&tn, "/api/v1/programs", &huge).await;
    assert_problem(r, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;

    let all = app.search(&tn, "status=draft&status=published").await;
    assert_eq!(all["total"], 0);
}

#[tokio::test]
async fn the_admin_owns_no_programs() {
    let app = TestApp::spawn().await;
    let r = app.post(&app.admin, "/api/v1/programs", &program("x")).await;
    assert_problem(r, StatusCode::FORBIDDEN, "forbidden").await;
}

#[tokio::test]
async fn others_drafts_are_not_found_and_bad_ids_name_nothing() {
    let app = TestApp::spawn().await;
    let tn = app.station("thai-nguyen", "provincial").await;
    let cb = app.station("cao-bang", "provincial").await;
    let draft = app.create_program(&tn, &program("Bản nháp")).await;
    let path = format!("/api/v1/programs/{}", id(&draft));
    assert_problem(app.get(&cb, &path).await, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(app.get(&app.admin, &path).await.status(), StatusCode::OK);
    for bad in [
        "nope",
        "6F9619FF-8B86-4011-B42D-00C04FC964FF",
        "6f9619ff-8b86-4011-b42d-00c04fc964ff",
        "..%2F..%2Fetc",
    ] {
        assert_problem(
            app.get(&tn, &format!("/api/v1/programs/{bad}")).await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
    }
    // Other stations cannot change what they cannot see: 404, not 403.
    let r = app.patch(&cb, &path, &json!({"title": "mine now"})).await;
    assert_problem(r, StatusCode::NOT_FOUND, "not_found").await;
    let r = app.delete(&cb, &path).await;
    assert_problem(r, StatusCode::NOT_FOUND, "not_found").await;
    let r = app.post(&cb, &format!("{path}/publish"), &json!({})).await;
    assert_problem(r, StatusCode::NOT_FOUND, "not_found").await;
    let got: Value = app.get(&tn, &path).await.json().await.unwrap();
    assert_eq!(got, draft);
}

#[tokio::test]
async fn merge_patch_changes_metadata_and_honours_if_match() {
    let app = TestApp::spawn().await;
    let tn = app.station("thai-nguyen", "provincial").await;
    let p = app.create_program(&tn, &full_program()).await;
    let path = format!("/api/v1/programs/{}", id(&p));
    let etag0 = app.get(&tn, &path).await.headers()["etag"].to_str().unwrap().to_owned();

    let r = app
        .patch(
            &tn,
            &path,
            &json!({"title": "Thời sự sáng 13/3", "summary": null, "rights": {"terms": "Tự do"}}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let etag1 = r.headers()["etag"].to_str().unwrap().to_owned();
    assert_ne!(etag0, etag1);
    let patched: Value = r.json().await.unwrap();
    assert_eq!(patched["title"], "Thời sự sáng 13/3");
    assert_eq!(patched["summary"], Value::Null);
    assert_eq!(patched["rights"]["terms"], "Tự do");
    assert_eq!(patched["rights"]["credit_required"], true);
    assert_eq!(patched["tags"], p["tags"]);
    assert_eq!(patched["created_at"], p["created_at"]);

    // A stale If-Match changes nothing.
    let r = app
        .request(Method::PATCH, Some(&tn), &path)
        .header("Content-Type", "application/merge-patch+json")
        .header("If-Match", &etag0)
        .body(json!({"title": "lost update"}).to_string())
        .send()
        .await
        .unwrap();
    assert_problem(r, StatusCode::PRECONDITION_FAILED, "precondition_failed").await;
    let r = app
        .request(Method::PATCH, Some(&tn), &path)
        .header("Content-Type", "application/merge-patch+json")
        .header("If-Match", &etag1)
        .body(json!({"episode": 13}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["episode"], 13);

    // Invalid patches change nothing and name the field.
    let before: Value = app.get(&tn, &path).await.json().await.unwrap();
    for (patch, field) in [
        (json!({"title": ""}), "title"),
        (json!({"id": "someone-else"}), "id"),
        (json!({"status": "published"}), "status"),
        (json!({"genre": "opera"}), "genre"),
        (json!({"languages": null}), ""),
        (
            json!({"rights": {"available_until": "2024-01-01T00:00:00Z"}}),
            "rights.available_until",
        ),
        (json!("title"), ""),
    ] {
        let r = app.patch(&tn, &path, &patch).await;
        let prob = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(fields(&prob), [field], "{patch}");
    }
    let r = app
        .request(Method::PATCH, Some(&tn), &path)
        .header("Content-Type", "application/merge-patch+json")
        .body("{oops")
        .send()
        .await
        .unwrap();
    assert_problem(r, StatusCode::BAD_REQUEST, "malformed_json").await;
    let after: Value = app.get(&tn, &path).await.json().await.unwrap();
    assert_eq!(after, before);
}

/// JSON Schema's `integer` is any number without a fractional part: `6.0`
/// and `1.5e3` are integers the hub takes, `6.5` is none.
#[tokio::test]
async fn integral_numbers_written_with_a_fraction_are_integers() {
    let app = TestApp::spawn().await;
    let tn = app.station("thai-nguyen", "provincial").await;
    let mut p = program("Tập 6");
    p["episode"] = json!(6.0);
    p["duration_seconds"] = json!(1.5e3);
    let r = app.post(&tn, "/api/v1/programs", &p).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let created: Value = r.json().await.unwrap();
    assert_eq!(created["episode"], json!(6));
    assert_eq!(created["duration_seconds"], json!(1500));
    let path = format!("/api/v1/programs/{}", id(&created));
    let r = app.patch(&tn, &path, &json!({"episode": 7.0})).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["episode"], json!(7));

    for (field, value) in [("episode", json!(6.5)), ("duration_seconds", json!(1e300))] {
        let mut p = program("Tập 6,5");
        p[field] = value;
        let r = app.post(&tn, "/api/v1/programs", &p).await;
        let problem = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(fields(&problem), [field]);
    }
    let r = app.patch(&tn, &path, &json!({"episode": 7.5})).await;
    assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
}

#[tokio::test]
async fn only_the_owner_changes_a_visible_program() {
    let app = TestApp::spawn().await;
    let tn = app.station("thai-nguyen", "provincial").await;
    let cb = app.station("cao-bang", "provincial").await;
    let p = app.published(&tn, &program("Phóng sự")).await;
    let path = format!("/api/v1/programs/{}", id(&p));
    assert_eq!(app.get(&cb, &path).await.status(), StatusCode::OK);
    let r = app.patch(&cb, &path, &json!({"title": "mine"})).await;
    assert_problem(r, StatusCode::FORBIDDEN, "forbidden").await;
    let r = app.delete(&cb, &path).await;
    assert_problem(r, StatusCode::FORBIDDEN, "forbidden").await;
    let r = app
        .post(&cb, &format!("{path}/withdraw"), &json!({"reason": "x"}))
        .await;
    assert_problem(r, StatusCode::FORBIDDEN, "forbidden").await;
    let r = app.patch(&app.admin, &path, &json!({"title": "admin's"})).await;
    assert_problem(r, StatusCode::FORBIDDEN, "forbidden").await;
    let got: Value = app.get(&tn, &path).await.json().await.unwrap();
    assert_eq!(got["title"], "Phóng sự");
}

#[tokio::test]
async fn only_drafts_are_deleted() {
    let app = TestApp::spawn().await;
    let tn = app.station("thai-nguyen", "provincial").await;
    let published = app.published(&tn, &program("Đã phát hành")).await;
    let path = format!("/api/v1/programs/{}", id(&published));
    let r = app.delete(&tn, &path).await;
    assert_problem(r, StatusCode::CONFLICT, "not_a_draft").await;
    assert_eq!(app.get(&tn, &path).await.status(), StatusCode::OK);

    let draft = app.create_program(&tn, &program("Bản nháp xoá")).await;
    let path = format!("/api/v1/programs/{}", id(&draft));
    let r = app
        .request(Method::DELETE, Some(&tn), &path)
        .header("If-Match", "\"999\"")
        .send()
        .await
        .unwrap();
    assert_problem(r, StatusCode::PRECONDITION_FAILED, "precondition_failed").await;
    let r = app.delete(&tn, &path).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_problem(app.get(&tn, &path).await, StatusCode::NOT_FOUND, "not_found").await;
    assert!(app.find(&tn, "q=xoa&status=draft").await.is_empty());
}

#[tokio::test]
async fn the_admin_may_delete_any_draft_but_nothing_published() {
    let app = TestApp::spawn().await;
    let tn = app.station("thai-nguyen", "provincial").await;
    let draft = app.create_program(&tn, &program("Bản nháp rác")).await;
    let path = format!("/api/v1/programs/{}", id(&draft));
    let r = app.delete(&app.admin, &path).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_problem(app.get(&tn, &path).await, StatusCode::NOT_FOUND, "not_found").await;
    assert!(app.find(&tn, "q=rac&status=draft").await.is_empty());

    let published = app.published(&tn, &program("Đã phát hành")).await;
    let path = format!("/api/v1/programs/{}", id(&published));
    assert_problem(app.delete(&app.admin, &path).await, StatusCode::CONFLICT, "not_a_draft").await;
}

#[tokio::test]
async fn language_tags_are_canonical_and_name_real_languages() {
    let app = TestApp::spawn().await;
    let tn = app.station("thai-nguyen", "provincial").await;
    let mut p = program("Bản tin đa ngữ");
    p["languages"] = json!(["VI", "tyz", "hmn", "en-us", "zh-hant", "vie"]);
    let created = app.create_program(&tn, &p).await;
    assert_eq!(created["languages"], json!(["vi", "tyz", "hmn", "en-US", "zh-Hant"]));
    let r = app.get(&tn, "/api/v1/programs?language=xx").await;
    let problem = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(fields(&problem), ["language"]);
}

#[tokio::test]
async fn publishing_needs_a_master_file() {
    let app = TestApp::spawn().await;
    let tn = app.station("thai-nguyen", "provincial").await;
    let cb = app.station("cao-bang", "provincial").await;
    let p = app.create_program(&tn, &program("Chương trình mới")).await;
    let path = format!("/api/v1/programs/{}", id(&p));
    let r = app.post(&tn, &format!("{path}/publish"), &json!({})).await;
    assert_problem(r, StatusCode::CONFLICT, "master_required").await;
    assert_problem(app.get(&cb, &path).await, StatusCode::NOT_FOUND, "not_found").await;

    let r = app.put_master(&tn, id(&p), "bản tin.mp3", b"abc".to_vec()).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = app.post(&tn, &format!("{path}/publish"), &json!({})).await;
    assert_eq!(r.status(), StatusCode::OK);
    let published: Value = r.json().await.unwrap();
    assert_eq!(published["status"], "published");
    assert!(published["published_at"].is_string());
    assert_eq!(published["files"][0]["role"], "master");
    assert_eq!(published["files"][0]["filename"], "bản tin.mp3");
    // Now others see it; publishing again is harmless.
    assert_eq!(app.get(&cb, &path).await.status(), StatusCode::OK);
    let again: Value = app
        .post(&tn, &format!("{path}/publish"), &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again, published);
}

#[tokio::test]
async fn withdrawal_hides_a_program_from_others_search() {
    let app = TestApp::spawn().await;
    let tn = app.station("thai-nguyen", "provincial").await;
    let cb = app.station("cao-bang", "provincial").await;
    let draft = app.create_program(&tn, &program("Chưa phát")).await;
    let r = app
        .post(
            &tn,
            &format!("/api/v1/programs/{}/withdraw", id(&draft)),
            &json!({"reason": "x"}),
        )
        .await;
    assert_problem(r, StatusCode::CONFLICT, "invalid_status").await;

    let p = app.published(&tn, &program("Sai thông tin")).await;
    let path = format!("/api/v1/programs/{}", id(&p));
    assert_eq!(app.find(&cb, "q=sai").await, [id(&p)]);
    for body in [json!({}), json!({"reason": ""}), json!({"reason": "x", "why": "y"})] {
        let r = app.post(&tn, &format!("{path}/withdraw"), &body).await;
        assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    }
    let r = app
        .post(&tn, &format!("{path}/withdraw"), &json!({"reason": "Sai số liệu"}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let w: Value = r.json().await.unwrap();
    assert_eq!(w["status"], "withdrawn");
    assert_eq!(w["withdrawal_reason"], "Sai số liệu");
    assert!(app.find(&cb, "q=sai").await.is_empty());
    assert_eq!(app.find(&tn, "q=sai&status=withdrawn").await, [id(&p)]);
    assert!(app.find(&cb, "q=sai&status=withdrawn").await.is_empty());
    // Still there for those who could take it: its downloads will answer 410.
    let seen: Value = app.get(&cb, &path).await.json().await.unwrap();
    assert_eq!(seen["status"], "withdrawn");
    // Once withdrawn, not published again.
    let r = app.post(&tn, &format!("{path}/publish"), &json!({})).await;
    assert_problem(r, StatusCode::CONFLICT, "invalid_status").await;
}

#[tokio::test]
async fn the_admin_may_withdraw_any_program() {
    let app = TestApp::spawn().await;
    let tn = app.station("thai-nguyen", "provincial").await;
    let p = app.published(&tn, &program("Vi phạm")).await;
    let r = app
        .post(
            &app.admin,
            &format!("/api/v1/programs/{}/withdraw", id(&p)),
            &json!({"reason": "Khiếu nại bản quyền"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "withdrawn");
}

#[tokio::test]
async fn the_audience_decides_who_sees_a_program() {
    let app = TestApp::spawn().await;
    let tn = app.station("thai-nguyen", "provincial").await;
    let cb = app.station("cao-bang", "provincial").await;
    let bk = app.station("bac-kan", "provincial").await;
    let vtv = app.station("vtv", "national").await;
    let mut national = program("Chỉ cho đài quốc gia");
    national["rights"] = json!({"audience": "national"});
    let national = app.published(&tn, &national).await;
    let mut listed = program("Chỉ cho Cao Bằng");
    listed["rights"] = json!({"audience": "stations", "stations": ["cao-bang"]});
    let listed = app.published(&tn, &listed).await;

    let sees = |token: &str, p: &Value| {
        let path = format!("/api/v1/programs/{}", id(p));
        let token = token.to_owned();
        let app = &app;
        async move { app.get(&token, &path).await.status() == StatusCode::OK }
    };
    assert!(sees(&vtv, &national).await);
    assert!(!sees(&cb, &national).await);
    assert!(sees(&tn, &national).await);
    assert!(sees(&cb, &listed).await);
    assert!(!sees(&bk, &listed).await);
    assert!(!sees(&vtv, &listed).await);
    assert!(sees(&app.admin, &listed).await);

    assert_eq!(app.find(&vtv, "q=chi").await, [id(&national)]);
    assert_eq!(app.find(&cb, "q=chi").await, [id(&listed)]);
    assert!(app.find(&bk, "q=chi").await.is_empty());
    assert_eq!(app.find(&tn, "q=chi").await.len(), 2);
}

#[tokio::test]
async fn publish_and_withdraw_honour_if_match() {
    let app = TestApp::spawn().await;
    let tn = app.station("thai-nguyen", "provincial").await;
    let p = app.create_program(&tn, &program("Điều kiện")).await;
    let r = app.put_master(&tn, id(&p), "a.mp3", b"abc".to_vec()).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let path = format!("/api/v1/programs/{}", id(&p));
    let post = |action: &str, if_match: &str, body: Value| {
        app.request(Method::POST, Some(&tn), &format!("{path}/{action}"))
            .header("If-Match", if_match)
            .json(&body)
            .send()
    };
    let status = || async { app.get(&tn, &path).await.json::<Value>().await.unwrap()["status"].clone() };

    let r = post("publish", "\"0\"", json!({})).await.unwrap();
    assert_problem(r, StatusCode::PRECONDITION_FAILED, "precondition_failed").await;
    assert_eq!(status().await, "draft");
    let etag = app.get(&tn, &path).await.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(
        post("publish", &etag, json!({})).await.unwrap().status(),
        StatusCode::OK
    );

    let r = post("withdraw", &etag, json!({"reason": "x"})).await.unwrap();
    assert_problem(r, StatusCode::PRECONDITION_FAILED, "precondition_failed").await;
    assert_eq!(status().await, "published");
}
