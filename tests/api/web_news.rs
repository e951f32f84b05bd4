//! Issue 24's "Mới từ lần trước", the results list, follows on the page and
//! the first run, spoken to as a browser would (tests/browser has the same
//! in Chromium).

use reqwest::StatusCode;
use serde_json::json;

use crate::analysis::mp4;
use crate::helpers::{id, program, TestApp};
use crate::web::{add_person, Browser};

const PASSWORD: &str = "mật khẩu thật dài";

/// The text between `from` and the next `to` in `page`.
fn between<'p>(page: &'p str, from: &str, to: &str) -> &'p str {
    let at = page.find(from).unwrap_or_else(|| panic!("{from} not in {page}"));
    let rest = &page[at..];
    &rest[..rest.find(to).unwrap_or(rest.len())]
}

#[tokio::test]
async fn what_is_new_counts_from_the_end_of_the_previous_visit() {
    let app = TestApp::spawn_with(|s| s.visit_gap_secs = 1).await;
    let tn = app.station("thai-nguyen", "provincial").await;
    let cb = app.station("cao-bang", "provincial").await;
    add_person(&app, "cao-bang", "binh", "Lê Văn Bình", "editor", PASSWORD);
    let before = app.published(&tn, &program("Phát trước lần đầu")).await;
    let mut national = program("Chỉ cho đài quốc gia");
    national["rights"] = json!({"audience": "national"});
    app.published(&tn, &national).await;
    let r = app
        .post(
            &cb,
            "/api/v1/follows",
            &json!({"kind": "series", "value": "Nông nghiệp xanh"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());

    // The first visit: the last days, what the rights let Cao Bằng see.
    let mut b = Browser::new(&app);
    b.sign_in("binh", PASSWORD).await;
    let page = b.text("/").await;
    assert!(page.contains("href=\"/news\""), "the header links to what is new");
    assert!(page.contains("hx-get=\"/news/count\""), "{page}");
    let first = b.text("/news").await;
    assert!(first.contains("Lần đầu bạn vào trang"), "{first}");
    assert!(first.contains(id(&before)), "{first}");
    assert!(!first.contains("Chỉ cho đài quốc gia"), "the rights rule decides");
    assert!(b.text("/news/count").await.contains("(1)"));

    // Away longer than the gap; meanwhile two programs come, one of a
    // followed series.
    tokio::time::sleep(std::time::Duration::from_millis(1600)).await;
    let mut followed = program("Nông nghiệp xanh số 12");
    followed["series"] = json!("Nông nghiệp xanh");
    let followed = app.published(&tn, &followed).await;
    let other = app.published(&tn, &program("Thời sự chiều")).await;
    let again = b.text("/news").await;
    let since = between(&again, "id=\"news-since\"", "</p>");
    assert!(since.contains("Các chương trình đăng từ"), "{again}");
    // The date and time of the previous visit's end, in words (no
    // placeholder left).
    assert!(
        since.contains(':') && since.contains('/') && !since.contains('{'),
        "{since}"
    );
    assert!(again.contains(id(&followed)) && again.contains(id(&other)), "{again}");
    assert!(!again.contains(id(&before)), "seen on the previous visit: {again}");
    let mine = between(&again, "id=\"news-followed\"", "</section>");
    assert!(mine.contains(id(&followed)) && !mine.contains(id(&other)), "{mine}");
    assert!(again.contains("Mọi chương trình mới (2)"), "{again}");
    // Masters not analysed (no analysis here): no player, no waveform.
    assert!(!again.contains("<audio") && !again.contains("data-waveform"), "{again}");
    assert_eq!(
        b.text("/news/count").await,
        "<span id=\"news-count\" class=\"count-badge\">(2)</span>"
    );
    // Within the visit it stays "since the previous visit".
    assert!(b.text("/news").await.contains(id(&other)));

    // The Atom link works without the session (a feed reader's), and is
    // the station's feed: what it follows.
    let href = between(&again, "/api/v1/feed.atom?key=", "\"").replace("&#38;", "&");
    assert!(href.starts_with("/api/v1/feed.atom?key=person:"), "{href}");
    let r = reqwest::get(format!("{}{href}", app.address)).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let feed = r.text().await.unwrap();
    assert!(
        feed.contains("Nông nghiệp xanh số 12") && !feed.contains("Thời sự chiều"),
        "{feed}"
    );
    // A key made up for a person is no key.
    let forged = href.replace("key=person:", "key=person:0");
    let r = reqwest::get(format!("{}{forged}", app.address)).await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // Signed out, the count is nothing (no sign-in page inside the header).
    let mut out = Browser::new(&app);
    assert_eq!(out.text("/news/count").await, "<span id=\"news-count\"></span>");
    assert_eq!(out.get("/news").await.status(), StatusCode::SEE_OTHER);
}

/// Uploads `bytes` as the master of a new program of `token`'s, waits for
/// its analysis and its preview, and publishes it.
pub(crate) async fn analysed_and_published(
    app: &TestApp,
    token: &str,
    body: serde_json::Value,
    kind: &str,
    bytes: Vec<u8>,
) -> String {
    let (media_type, name) = match kind {
        "video" => ("video/mp4", "v.mp4"),
        _ => ("audio/wav", "tin.wav"),
    };
    let p = crate::analysis::upload(app, token, &body, media_type, name, bytes).await;
    let a = crate::analysis::analysis_of(app, token, &p, "master").await;
    assert_eq!(a["state"], "done", "{a}");
    let preview = format!("/api/v1/programs/{p}/files/master/preview");
    let mut ready = false;
    for _ in 0..600 {
        if app.get(token, &preview).await.status() == StatusCode::OK {
            ready = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(ready, "the preview was not made");
    let r = app
        .post(token, &format!("/api/v1/programs/{p}/publish"), &json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    p
}

#[tokio::test]
async fn each_result_plays_its_preview_in_place_with_its_waveform_or_poster() {
    if !crate::analysis::ffmpeg_or_skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let app = crate::analysis::analysed_app(|_| {}).await;
    let tn = app.station("thai-nguyen", "provincial").await;
    app.station("cao-bang", "provincial").await;
    add_person(&app, "cao-bang", "binh", "Lê Văn Bình", "editor", PASSWORD);
    add_person(&app, "thai-nguyen", "hoa", "Nguyễn Thị Hoa", "editor", PASSWORD);
    let wav = crate::analysis::wav(dir.path());
    let mut body = program("A: bản tin có tiếng");
    body["series"] = json!("Nông nghiệp xanh");
    // Declared ten minutes; the master lasts six seconds.
    body["duration_seconds"] = json!(600);
    let audio = analysed_and_published(&app, &tn, body, "audio", wav.clone()).await;
    let video = analysed_and_published(&app, &tn, program("B: phóng sự có hình"), "video", mp4(dir.path())).await;
    let mut closed = program("C: đã hết hạn khai thác");
    closed["rights"] = json!({"available_until": "2020-01-01T00:00:00Z"});
    let closed = analysed_and_published(&app, &tn, closed, "audio", wav).await;
    let withdrawn = analysed_and_published(
        &app,
        &tn,
        program("D: đã thu hồi"),
        "audio",
        crate::analysis::wav(dir.path()),
    )
    .await;
    let r = app
        .post(
            &tn,
            &format!("/api/v1/programs/{withdrawn}/withdraw"),
            &json!({"reason": "Sai"}),
        )
        .await;
    assert!(r.status().is_success());

    let mut b = Browser::new(&app);
    b.sign_in("binh", PASSWORD).await;
    let page = b.text("/?sort=title").await;
    let item = |p: &str| between(&page, &format!("href=\"/programs/{p}\""), "</li>").to_owned();
    let a = item(&audio);
    assert!(
        a.contains(&format!(
            "<audio controls preload=\"none\" src=\"/api/v1/programs/{audio}/files/master/preview\""
        )),
        "{a}"
    );
    assert!(
        a.contains(&format!(
            "data-waveform=\"/api/v1/programs/{audio}/files/master/waveform.json\""
        )),
        "{a}"
    );
    assert!(a.contains("Chuyên mục: Nông nghiệp xanh"), "{a}");
    assert!(
        a.contains("6 giây") && !a.contains("10 phút"),
        "the measured duration: {a}"
    );
    let v = item(&video);
    assert!(
        v.contains(&format!(
            "<video controls preload=\"none\" src=\"/api/v1/programs/{video}/files/master/preview\" \
             poster=\"/api/v1/programs/{video}/files/master/poster.jpg\""
        )),
        "{v}"
    );
    assert!(!v.contains("data-waveform"), "{v}");
    // Past its window Cao Bằng may no longer hear it (as the preview
    // itself answers).
    let c = item(&closed);
    assert!(!c.contains("<audio") && !c.contains("preview"), "{c}");
    let r = b
        .api(
            reqwest::Method::GET,
            &format!("/api/v1/programs/{closed}/files/master/preview"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(!page.contains(&withdrawn), "withdrawn: not found");
    // The waveform the script draws is the caller's to fetch.
    let r = b
        .api(
            reqwest::Method::GET,
            &format!("/api/v1/programs/{audio}/files/master/waveform.json"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let w: serde_json::Value = r.json().await.unwrap();
    assert!(w["peaks"].as_array().is_some_and(|p| !p.is_empty()), "{w}");
    // The owner still hears what has closed.
    let mut owner = Browser::new(&app);
    owner.sign_in("hoa", PASSWORD).await;
    let mine = owner.text("/?sort=title").await;
    assert!(mine.contains(&format!("src=\"/api/v1/programs/{closed}/files/master/preview\"")));
    // The page of what is new lists the same way.
    let news = b.text("/news").await;
    assert!(news.contains(&format!(
        "data-waveform=\"/api/v1/programs/{audio}/files/master/waveform.json\""
    )));
}

#[tokio::test]
async fn the_catalog_numbers_its_pages_and_goes_back() {
    let app = TestApp::spawn().await;
    let tn = app.station("thai-nguyen", "provincial").await;
    app.station("cao-bang", "provincial").await;
    add_person(&app, "cao-bang", "binh", "Lê Văn Bình", "editor", PASSWORD);
    for i in 0..45 {
        app.published(&tn, &program(&format!("Bản tin số {i:02}"))).await;
    }
    let mut b = Browser::new(&app);
    b.sign_in("binh", PASSWORD).await;
    let links = |page: &str| -> Vec<String> {
        between(page, "class=\"page-numbers\"", "</ul>")
            .split("href=\"")
            .skip(1)
            .map(|h| h.split('"').next().unwrap().replace("&#38;", "&"))
            .collect()
    };
    let first = b.text("/?q=ban+tin&sort=title").await;
    assert!(first.contains("Bản tin số 00") && !first.contains("Bản tin số 20"));
    assert_eq!(
        links(&first),
        [
            "/?q=ban+tin&sort=title",
            "/?q=ban+tin&sort=title&page=2",
            "/?q=ban+tin&sort=title&page=3"
        ]
    );
    assert!(first.contains("aria-current=\"page\">1<"), "{first}");
    assert!(!first.contains("rel=\"prev\""), "no page before the first");
    assert!(
        first.contains("href=\"/?q=ban+tin&#38;sort=title&#38;page=2\" rel=\"next\""),
        "{first}"
    );
    let third = b.text("/?q=ban+tin&sort=title&page=3").await;
    assert!(third.contains("Bản tin số 40") && third.contains("Bản tin số 44") && !third.contains("Bản tin số 39"));
    assert!(!third.contains("rel=\"next\""), "the last page");
    assert!(third.contains("aria-current=\"page\">3<"));
    assert!(
        third.contains("href=\"/?q=ban+tin&#38;sort=title&#38;page=2\" rel=\"prev\""),
        "{third}"
    );
    let second = b.text("/?q=ban+tin&sort=title&page=2").await;
    assert!(second.contains("Bản tin số 20") && second.contains("Bản tin số 39"));
    assert!(
        second.contains("href=\"/?q=ban+tin&#38;sort=title\" rel=\"prev\""),
        "{second}"
    );
    // Every sort numbers its pages: the newest first.
    let newest = b.text("/?page=2").await;
    assert!(
        newest.contains("Bản tin số 24") && newest.contains("Bản tin số 05"),
        "{newest}"
    );
    assert!(!newest.contains("Bản tin số 25") && !newest.contains("Bản tin số 04"));
    // Words out of range: the first page; far past the end: nothing, and
    // the way back.
    assert!(b
        .text("/?q=ban+tin&sort=title&page=abc")
        .await
        .contains("Bản tin số 00"));
    let far = b.text("/?q=ban+tin&sort=title&page=999999").await;
    assert!(!far.contains("Bản tin số") && far.contains("rel=\"prev\""), "{far}");
    // A cursor (the API's) still pages on, by cursor.
    let api: serde_json::Value = app
        .get(&tn, "/api/v1/programs?q=ban+tin&sort=title&limit=20")
        .await
        .json()
        .await
        .unwrap();
    let cursor = api["next_cursor"].as_str().unwrap();
    let by_cursor = b
        .text(&format!("/?q=ban+tin&sort=title&cursor={}", urlencoding(cursor)))
        .await;
    assert!(by_cursor.contains("Bản tin số 20") && by_cursor.contains("Trang đầu"));
}

fn urlencoding(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Cao Bằng's follows as the API lists them: id → (deliver, profile).
async fn follows_of(app: &TestApp, token: &str) -> Vec<(String, bool, serde_json::Value)> {
    let list: serde_json::Value = app.get(token, "/api/v1/follows").await.json().await.unwrap();
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["id"].as_str().unwrap().to_owned(),
                f["deliver"].as_bool().unwrap(),
                f["profile"].clone(),
            )
        })
        .collect()
}

#[tokio::test]
async fn an_editor_switches_a_follows_delivery_and_its_profile_on_the_page() {
    let app = TestApp::spawn().await;
    let tn = app.station("thai-nguyen", "provincial").await;
    let cb = app.station("cao-bang", "provincial").await;
    add_person(&app, "cao-bang", "binh", "Lê Văn Bình", "editor", PASSWORD);
    add_person(&app, "cao-bang", "khoa", "Khoa", "viewer", PASSWORD);
    let r = app
        .post(
            &app.admin,
            "/api/v1/profiles",
            &json!({"id": "bwf-mp2-r128", "name": "BWF MP2 (R128)", "container": "bwf", "audio_codec": "mp2",
                "loudness": {"target_lufs": -23, "max_true_peak_dbtp": -1}}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
    let r = app
        .post(
            &cb,
            "/api/v1/follows",
            &json!({"kind": "series", "value": "Nông nghiệp xanh"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = app
        .post(&tn, "/api/v1/follows", &json!({"kind": "genre", "value": "news"}))
        .await;
    let theirs: serde_json::Value = r.json().await.unwrap();
    let theirs = id(&theirs).to_owned();
    let mine = follows_of(&app, &cb).await[0].0.clone();

    let mut b = Browser::new(&app);
    b.sign_in("binh", PASSWORD).await;
    let page = b.text("/station").await;
    let row = between(&page, &format!("id=\"follow-{mine}\""), "</tr>").to_owned();
    assert!(
        row.contains("name=\"deliver\" value=\"on\" >") || row.contains("name=\"deliver\" value=\"on\"> "),
        "{row}"
    );
    assert!(!row.contains("checked"), "{row}");
    assert!(
        row.contains("<option value=\"bwf-mp2-r128\">BWF MP2 (R128)</option>"),
        "{row}"
    );
    let csrf = crate::web::csrf_of(&row);
    // On, with the profile.
    let r = b
        .post(
            "/station/follows/delivery",
            &[
                ("csrf", &csrf),
                ("id", &mine),
                ("deliver", "on"),
                ("profile", "bwf-mp2-r128"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/station?done=follow#follows");
    assert_eq!(
        follows_of(&app, &cb).await,
        [(mine.clone(), true, json!("bwf-mp2-r128"))]
    );
    let page = b.text("/station?done=follow").await;
    assert!(page.contains("Đã lưu cách nhận."));
    let row = between(&page, &format!("id=\"follow-{mine}\""), "</tr>").to_owned();
    assert!(
        row.contains("checked") && row.contains("value=\"bwf-mp2-r128\" selected"),
        "{row}"
    );
    // Refusals change nothing: a profile the hub has not, no CSRF token,
    // another station's follow.
    for (form, status) in [
        (
            vec![("csrf", csrf.as_str()), ("id", mine.as_str()), ("profile", "no-such")],
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (vec![("id", mine.as_str()), ("profile", "")], StatusCode::FORBIDDEN),
        (
            vec![("csrf", csrf.as_str()), ("id", theirs.as_str()), ("profile", "")],
            StatusCode::NOT_FOUND,
        ),
    ] {
        let r = b.post("/station/follows/delivery", &form).await;
        assert_eq!(r.status(), status, "{form:?}");
        let text = r.text().await.unwrap();
        assert!(text.contains("<html lang=\"vi\">"), "a page in words: {text}");
    }
    assert_eq!(
        follows_of(&app, &cb).await,
        [(mine.clone(), true, json!("bwf-mp2-r128"))]
    );
    let (_, deliver, _) = follows_of(&app, &tn).await[0].clone();
    assert!(!deliver, "Thái Nguyên's follow is untouched");
    // Off, back to the station's default.
    let r = b
        .post(
            "/station/follows/delivery",
            &[("csrf", &csrf), ("id", &mine), ("profile", "")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        follows_of(&app, &cb).await,
        [(mine.clone(), false, serde_json::Value::Null)]
    );

    // A viewer reads how it delivers, and may not change it.
    let mut viewer = Browser::new(&app);
    viewer.sign_in("khoa", PASSWORD).await;
    let page = viewer.text("/station").await;
    let row = between(&page, &format!("id=\"follow-{mine}\""), "</tr>").to_owned();
    assert!(
        !row.contains("/station/follows/delivery") && row.contains("Không · Mặc định của đài"),
        "{row}"
    );
    let csrf = viewer.session_csrf().await;
    let r = viewer
        .post(
            "/station/follows/delivery",
            &[("csrf", &csrf), ("id", &mine), ("deliver", "on"), ("profile", "")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(follows_of(&app, &cb).await, [(mine, false, serde_json::Value::Null)]);
}

#[tokio::test]
async fn a_person_keeps_a_download_list_and_sees_what_lacks_a_rebroadcast_report() {
    let app = TestApp::spawn().await;
    let tn = app.station("thai-nguyen", "provincial").await;
    app.station("cao-bang", "provincial").await;
    add_person(&app, "cao-bang", "binh", "Lê Văn Bình", "editor", PASSWORD);
    add_person(&app, "cao-bang", "khoa", "Khoa", "viewer", PASSWORD);
    let first = app.published(&tn, &program("Thời sự sáng")).await;
    let second = app.published(&tn, &program("Phóng sự chiều")).await;
    let mut national = program("Chỉ cho đài quốc gia");
    national["rights"] = json!({"audience": "national"});
    let national = app.published(&tn, &national).await;
    let (first, second, national) = (id(&first).to_owned(), id(&second).to_owned(), id(&national).to_owned());

    let mut b = Browser::new(&app);
    b.sign_in("binh", PASSWORD).await;
    assert!(b.text("/list").await.contains("id=\"list-empty\""));
    let results = b.text("/").await;
    assert!(
        results.contains("<form id=\"list\" method=\"post\" action=\"/list/add\""),
        "{results}"
    );
    assert!(
        results.contains(&format!("form=\"list\" name=\"id\" value=\"{first}\"")),
        "each result can go on the list: {results}"
    );
    let csrf = b.session_csrf().await;
    for p in [&first, &second, &first] {
        let r = b.post("/list/add", &[("csrf", &csrf), ("id", p)]).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(r.headers()["location"], "/list?done=added");
    }
    // What the rights hide cannot go on it, nor can anything without the token.
    let r = b.post("/list/add", &[("csrf", &csrf), ("id", &national)]).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = b.post("/list/add", &[("id", &second)]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // From a results list (htmx) the button becomes a note.
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([("csrf", csrf.as_str()), ("id", second.as_str())])
        .finish();
    let r = b
        .api(reqwest::Method::POST, "/list/add")
        .header("HX-Request", "true")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.text().await.unwrap(),
        "<p class=\"badge badge-ok\" role=\"status\">Đã có trong danh sách tải</p>"
    );

    let page = b.text("/list?done=added").await;
    assert!(page.contains("Đã thêm vào danh sách tải."));
    assert!(page.contains("2 chương trình"), "each program once: {page}");
    let (a, bb) = (
        page.find(&format!("listed-{first}")).unwrap(),
        page.find(&format!("listed-{second}")).unwrap(),
    );
    assert!(a < bb, "in the order they were added");
    assert!(!page.contains(&national));
    let row = between(&page, &format!("id=\"listed-{first}\""), "</tr>").to_owned();
    assert!(
        row.contains(&format!("href=\"/api/v1/programs/{first}/files/master\" download")),
        "{row}"
    );
    assert!(row.contains("Chưa khai thác"), "{row}");

    // Taken (the download from the list), then reported.
    let r = b
        .api(reqwest::Method::GET, &format!("/api/v1/programs/{first}/files/master"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.bytes().await.unwrap();
    let page = b.text("/list").await;
    let row = between(&page, &format!("id=\"listed-{first}\""), "</tr>").to_owned();
    assert!(
        row.contains(&format!("href=\"/programs/{first}#rebroadcast\"")) && row.contains("chưa báo phát lại"),
        "{row}"
    );
    let page_csrf = crate::web::csrf_of(&b.text(&format!("/programs/{first}")).await);
    let r = b
        .post(
            &format!("/programs/{first}/rebroadcasts"),
            &[
                ("csrf", &page_csrf),
                ("aired_at", "2026-12-02T19:00"),
                ("channel", "CBTV"),
                ("note", ""),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", r.text().await.unwrap());
    let page = b.text("/list").await;
    let row = between(&page, &format!("id=\"listed-{first}\""), "</tr>").to_owned();
    assert!(row.contains("Đã khai thác và báo phát lại"), "{row}");

    // The list is the person's own: a colleague's is empty.
    let mut other = Browser::new(&app);
    other.sign_in("khoa", PASSWORD).await;
    assert!(other.text("/list").await.contains("id=\"list-empty\""));
    let other_csrf = other.session_csrf().await;
    let r = other
        .post("/list/remove", &[("csrf", &other_csrf), ("id", &first)])
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // Removed.
    let r = b.post("/list/remove", &[("csrf", &csrf), ("id", &first)]).await;
    assert_eq!(r.headers()["location"], "/list?done=removed");
    let page = b.text("/list?done=removed").await;
    assert!(page.contains("Đã bỏ khỏi danh sách tải.") && !page.contains(&format!("listed-{first}")));
    assert!(page.contains("1 chương trình"));
}
