//! Issue 24: the page staff use all day says every refusal and every bad
//! field in its own words (never the API's or the parser's English), and
//! says what to fix when a broken master cannot be published.

use actix_web::body::to_bytes;
use actix_web::ResponseError;
use pxhub::exchange::ExchangeError;
use pxhub::web::i18n::Lang;
use pxhub::web::WebError;
use reqwest::StatusCode;

use crate::analysis::{analysed_app, analysis_of, ffmpeg_or_skip, upload};
use crate::helpers::program;
use crate::web::{add_person, Browser};

const PASSWORD: &str = "mật khẩu đủ dài 1";

/// Words that give away English (the use-cases' and the parser's own text)
/// where a Vietnamese page should be.
const ENGLISH: &[&str] = &[
    "must",
    "expected",
    "unknown",
    "variant",
    "invalid",
    "should",
    "empty",
    "between",
    "characters",
    "not found",
    "conflict",
    "error",
    "request",
    "station `",
    "Content-Type",
];

fn english_in(text: &str) -> Vec<&'static str> {
    let lower = text.to_lowercase();
    ENGLISH
        .iter()
        .copied()
        .filter(|w| lower.contains(&w.to_lowercase()))
        .collect()
}

/// The text of the page's alert (`<p class="error" role="alert">…</p>`).
fn alert(page: &str) -> String {
    let at = page.find("role=\"alert\">").expect("an alert") + 13;
    let text = page[at..].split('<').next().unwrap();
    text.replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&#x2f;", "/")
        .replace("&amp;", "&")
}

/// Every message of the Vietnamese catalog, and of the English one.
fn catalog_messages(lang: Lang) -> Vec<String> {
    let source = match lang {
        Lang::Vi => include_str!("../../src/web/i18n/vi.ftl"),
        Lang::En => include_str!("../../src/web/i18n/en.ftl"),
    };
    pxhub::web::i18n::ids(source)
        .iter()
        .map(|id| pxhub::web::i18n::Tr::new(lang).get(id))
        .collect()
}

async fn vietnamese_page_of(e: ExchangeError) -> String {
    let res = WebError::from_exchange(e, Lang::Vi).error_response();
    String::from_utf8(to_bytes(res.into_body()).await.unwrap().to_vec()).unwrap()
}

#[actix_web::test]
async fn every_refusal_reads_in_vietnamese_on_the_pages() {
    let (vi, en) = (catalog_messages(Lang::Vi), catalog_messages(Lang::En));
    let conflicts = [
        "master_not_media",
        "master_required",
        "not_a_draft",
        "invalid_status",
        "login_taken",
        "station_exists",
        "already_following",
        "too_many_follows",
        "index_full",
        "analysis_pending",
    ];
    let mut all = crate::errors::every_variant();
    all.extend(
        conflicts
            .iter()
            .map(|c| ExchangeError::conflict(c, "the use-case's own English words")),
    );
    for e in all {
        let name = format!("{e:?}");
        let page = vietnamese_page_of(e).await;
        assert!(page.contains("<html lang=\"vi\">"), "{name}");
        let said = alert(&page);
        assert!(vi.contains(&said), "{name}: {said:?} is not a message of vi.ftl");
        assert!(!en.contains(&said), "{name}: {said:?} is English");
        assert!(english_in(&said).is_empty(), "{name}: {said:?}");
    }
    // A code with words of its own says more than "not in a fitting state".
    let general = vietnamese_page_of(ExchangeError::conflict("no_such_code", "x")).await;
    for c in ["master_not_media", "not_a_draft", "login_taken"] {
        let page = vietnamese_page_of(ExchangeError::conflict(c, "x")).await;
        assert_ne!(alert(&page), alert(&general), "{c}");
    }
    assert_ne!(
        alert(&vietnamese_page_of(ExchangeError::PreconditionFailed).await),
        alert(&general),
        "someone changed it first"
    );
}

/// Each rule of the metadata, broken through the offer form: each field
/// says it in Vietnamese, next to itself, and the list names it.
#[tokio::test]
async fn every_bad_field_of_the_offer_form_is_named_in_vietnamese() {
    let app = crate::helpers::TestApp::spawn().await;
    app.station("thai-nguyen", "provincial").await;
    add_person(&app, "thai-nguyen", "hoa", "Nguyễn Thị Hoa", "editor", PASSWORD);
    let mut hoa = Browser::new(&app);
    hoa.sign_in("hoa", PASSWORD).await;
    let token = hoa.csrf("/offer").await;
    let long = "Đ".repeat(301);
    // Each: the form's fields, and the fields that must be flagged.
    type Case<'a> = (Vec<(&'a str, &'a str)>, &'a [&'a str]);
    let cases: Vec<Case> = vec![
        // Nothing typed, nothing chosen: the title, the genre, the languages.
        (vec![("kind", "radio"), ("genre", "")], &["title", "genre", "languages"]),
        (
            vec![
                ("title", &long),
                ("kind", "cassette"),
                ("genre", "news"),
                ("languages", "vi"),
                ("other_languages", "xx-not-a-tag"),
                ("episode", "0"),
                ("duration_minutes", "abc"),
            ],
            &["title", "kind", "languages", "episode", "duration_seconds"],
        ),
        (
            vec![
                ("title", "Bản tin\u{202e}"),
                ("kind", "tv"),
                ("genre", "sports"),
                ("languages", "vi"),
                ("audience", "stations"),
                ("available_from", "2026-12-31"),
                ("available_until", "2026-01-01"),
                ("first_aired_at", "hôm qua"),
            ],
            &["title", "rights_stations", "available_until", "first_aired_at"],
        ),
        (
            vec![
                ("title", "Bản tin"),
                ("kind", "tv"),
                ("genre", "sports"),
                ("languages", "vi"),
                ("audience", "stations"),
                ("rights_stations", "khong-co-dai-nay"),
            ],
            &["rights_stations"],
        ),
    ];
    for (fields, bad) in cases {
        let mut form = vec![("csrf", token.as_str())];
        form.extend(fields.iter().copied());
        let r = hoa.post("/offer", &form).await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{fields:?}");
        let page = r.text().await.unwrap();
        for field in bad {
            let at = page
                .find(&format!("id=\"{field}-error\">"))
                .unwrap_or_else(|| panic!("{field} is not flagged for {fields:?}: {page}"));
            let said = page[at..].split('>').nth(1).unwrap().split('<').next().unwrap();
            assert!(!said.is_empty(), "{field}");
            assert!(english_in(said).is_empty(), "{field}: {said}");
        }
        let summary = page.split("id=\"form-errors\"").nth(1).expect("the list of bad fields");
        let summary = summary.split("</div>").next().unwrap();
        assert!(
            summary.contains("Tên chương trình") || !bad.contains(&"title"),
            "{summary}"
        );
        let visible: String = page.split("<form").nth(1).unwrap().to_owned();
        let errors: Vec<&str> = visible
            .split("class=\"field-error\"")
            .skip(1)
            .map(|s| s.split('>').nth(1).unwrap().split('<').next().unwrap())
            .collect();
        for e in &errors {
            assert!(english_in(e).is_empty(), "{e}");
        }
    }
}

/// A master whose analysis found no media: publishing on the page says
/// what is wrong and what to do, next to the button, with the analysis.
#[tokio::test]
async fn publishing_a_broken_master_says_what_to_fix() {
    if !ffmpeg_or_skip() {
        return;
    }
    let app = analysed_app(|_| {}).await;
    let owner = app.station("thai-nguyen", "provincial").await;
    add_person(&app, "thai-nguyen", "hoa", "Nguyễn Thị Hoa", "editor", PASSWORD);
    let noise: Vec<u8> = (0..1_000_000u32).map(|_| rand::random::<u8>()).collect();
    let p = upload(&app, &owner, &program("Tiếng ồn"), "audio/mpeg", "noise.mp3", noise).await;
    analysis_of(&app, &owner, &p, "master").await;
    let mut hoa = Browser::new(&app);
    hoa.sign_in("hoa", PASSWORD).await;
    let token = hoa.session_csrf().await;
    let r = hoa.post(&format!("/programs/{p}/publish"), &[("csrf", &token)]).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let page = r.text().await.unwrap();
    assert!(page.contains("id=\"publish-error\""), "{page}");
    assert!(page.contains("bản gốc không phải tệp âm thanh hay video"), "{page}");
    assert!(page.contains("Hãy tải lên lại bản gốc"), "{page}");
    assert!(!page.contains("Thao tác không phù hợp"), "{page}");
    // What the technical check found reads in Vietnamese too.
    let reasons = page.split("class=\"qc-reasons\"").nth(1).expect("the check's findings");
    let reasons = reasons.split("</ul>").next().unwrap();
    assert!(reasons.contains("<li>") && english_in(reasons).is_empty(), "{reasons}");
    assert!(
        !reasons.contains("the file") && !reasons.contains("the audio"),
        "{reasons}"
    );
    // The page still shows the program, its analysis and the way to a new master.
    assert!(page.contains("<h1>Tiếng ồn</h1>") && page.contains("qc-fail"), "{page}");
    assert!(page.contains(&format!("href=\"/programs/{p}/upload\"")));
    // The upload page's list says the master must be uploaded again.
    let part = hoa
        .api(reqwest::Method::GET, &format!("/programs/{p}/files"))
        .header("HX-Request", "true")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        part.contains("id=\"fix-master\"") && part.contains("tải lên lại tệp đúng"),
        "{part}"
    );
}

/// The hub's language is the page's, whatever the browser asks, until the
/// person chooses another; the setting makes it English for a whole hub.
#[tokio::test]
async fn the_pages_speak_the_hubs_language_not_the_browsers() {
    for (setting, expected) in [(None, "vi"), (Some("en"), "en")] {
        let app = crate::helpers::TestApp::spawn_with(|s| {
            if let Some(l) = setting {
                s.web_default_language = l.into();
            }
        })
        .await;
        let page = |lang: Option<&'static str>, query: &'static str| {
            let mut r = reqwest::Client::new().get(format!("{}/sign-in{query}", app.address));
            if let Some(l) = lang {
                r = r.header("Accept-Language", l);
            }
            async move { r.send().await.unwrap().text().await.unwrap() }
        };
        for accept in [None, Some("en-US,en;q=0.9"), Some("vi-VN")] {
            let p = page(accept, "").await;
            assert!(
                p.contains(&format!("<html lang=\"{expected}\">")),
                "{setting:?} {accept:?}"
            );
        }
        // The person's choice wins.
        assert!(page(Some("vi"), "?lang=en").await.contains("<html lang=\"en\">"));
        assert!(page(Some("en"), "?lang=vi").await.contains("<html lang=\"vi\">"));
    }
}

/// Facets list their values in the order of their Vietnamese words, not
/// of their codes; the languages and roles read as the glossary says.
#[tokio::test]
async fn facets_follow_the_vietnamese_words_and_names_read_as_the_glossary_says() {
    let app = crate::helpers::TestApp::spawn().await;
    let tn = app.station("thai-nguyen", "provincial").await;
    add_person(&app, "thai-nguyen", "hoa", "Nguyễn Thị Hoa", "editor", PASSWORD);
    add_person(&app, "thai-nguyen", "xem", "Người xem", "viewer", PASSWORD);
    // By code: agriculture, culture, news, report; by word: Nông nghiệp,
    // Phóng sự, Thời sự, Văn hóa.
    for (title, genre) in [
        ("Một", "news"),
        ("Hai", "culture"),
        ("Ba", "agriculture"),
        ("Bốn", "report"),
    ] {
        let mut p = program(title);
        p["genre"] = serde_json::json!(genre);
        p["languages"] = serde_json::json!(["tyz", "hnj"]);
        app.published(&tn, &p).await;
    }
    let mut hoa = Browser::new(&app);
    hoa.sign_in("hoa", PASSWORD).await;
    let page = hoa.text("/").await;
    let at = |w: &str| {
        page.find(&format!(">{w} <span class=\"count\">"))
            .unwrap_or_else(|| panic!("{w}: {page}"))
    };
    let genres = ["Nông nghiệp", "Phóng sự", "Thời sự", "Văn hóa"].map(at);
    assert!(genres.windows(2).all(|w| w[0] < w[1]), "{genres:?}");
    assert!(at("Tiếng Mông") < at("Tiếng Tày"));
    let p = hoa
        .text(&format!("/programs/{}", app.find(&tn, "q=mot").await[0]))
        .await;
    assert!(p.contains("Tiếng Tày, Tiếng Mông"), "{p}");
    let mut xem = Browser::new(&app);
    xem.sign_in("xem", PASSWORD).await;
    assert!(xem.text("/account").await.contains("<dd>Chỉ xem và tải</dd>"));
}

/// "hmong" finds "H'Mông": the index keeps a word written with an
/// apostrophe whole as well as in its parts.
#[tokio::test]
async fn a_search_without_the_apostrophe_finds_hmong() {
    let app = crate::helpers::TestApp::spawn().await;
    let tn = app.station("thai-nguyen", "provincial").await;
    let p = app.published(&tn, &program("Dân ca H'Mông mùa xuân")).await;
    let k = app.published(&tn, &program("Tiếng K\u{2019}Ho trên sóng")).await;
    for q in ["hmong", "H'Mông", "h mong", "dan+ca+hmong"] {
        assert_eq!(app.find(&tn, &format!("q={q}")).await, [crate::helpers::id(&p)], "{q}");
    }
    assert_eq!(app.find(&tn, "q=kho").await, [crate::helpers::id(&k)]);
    assert_eq!(app.find(&tn, "q=K%27Ho").await, [crate::helpers::id(&k)]);
}

/// The owner edits a program's metadata and rights on the page: the form
/// shows it as it is, saving changes it (credits the form has no field for
/// stay), the history says who changed what; a change made by someone else
/// in between is said and kept, never overwritten.
#[tokio::test]
async fn the_owner_edits_a_program_and_a_change_made_first_is_kept() {
    let app = crate::helpers::TestApp::spawn().await;
    let tn = app.station("thai-nguyen", "provincial").await;
    let cb = app.station("cao-bang", "provincial").await;
    add_person(&app, "thai-nguyen", "hoa", "Nguyễn Thị Hoa", "editor", PASSWORD);
    add_person(&app, "cao-bang", "binh", "Lê Văn Bình", "editor", PASSWORD);
    let mut body = program("Bản tin sáng");
    body["languages"] = serde_json::json!(["vi", "tyz", "fr"]);
    body["credits"] = serde_json::json!([
        {"role": "producer", "name": "Nguyễn Văn A"},
        {"role": "producer", "name": "Trần B"},
        {"role": "camera", "name": "Lò Văn C"}
    ]);
    body["rights"] = serde_json::json!({"audience": "stations", "stations": ["cao-bang"], "terms": "Ghi nguồn"});
    let p = app.published(&tn, &body).await;
    let id = crate::helpers::id(&p).to_owned();
    let mut hoa = Browser::new(&app);
    hoa.sign_in("hoa", PASSWORD).await;
    let form = hoa.text(&format!("/programs/{id}/edit")).await;
    assert!(form.contains("value=\"Bản tin sáng\""), "{form}");
    assert!(form.contains("value=\"Nguyễn Văn A; Trần B\""), "{form}");
    assert!(form.contains("value=\"fr\""), "other languages kept: {form}");
    assert!(form.contains("value=\"cao-bang\" checked"), "{form}");
    let token = crate::web::csrf_of(&form);
    let version = {
        let at = form.find("name=\"version\" value=\"").unwrap() + 22;
        form[at..]
            .split('"')
            .next()
            .unwrap()
            .replace("&#34;", "\"")
            .replace("&quot;", "\"")
    };
    let fields = |title: &'static str, version: String, token: String| {
        vec![
            ("csrf", token),
            ("version", version),
            ("title", title.to_owned()),
            ("kind", "radio".to_owned()),
            ("genre", "news".to_owned()),
            ("languages", "vi".to_owned()),
            ("languages", "tyz".to_owned()),
            ("other_languages", "fr".to_owned()),
            ("producer", "Nguyễn Văn A; Trần B".to_owned()),
            ("audience", "stations".to_owned()),
            ("rights_stations", "cao-bang".to_owned()),
            ("terms", "Ghi nguồn: Đài Thái Nguyên".to_owned()),
        ]
    };
    let path = format!("/programs/{id}/edit");
    let r = post_owned(
        &mut hoa,
        &path,
        fields("Bản tin sáng thứ Hai", version.clone(), token.clone()),
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", r.text().await.unwrap());
    let back = r.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(back, format!("/programs/{id}?done=edited"));
    let page = hoa.text(&back).await;
    assert!(page.contains("<h1>Bản tin sáng thứ Hai</h1>") && page.contains("Đã lưu các thay đổi."));
    assert!(
        page.contains("<td>Sửa thông tin</td><td>Quyền khai thác, Tên chương trình</td>"),
        "{page}"
    );
    let now: serde_json::Value = app
        .get(&tn, &format!("/api/v1/programs/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(now["rights"]["terms"], "Ghi nguồn: Đài Thái Nguyên");
    assert_eq!(now["languages"], serde_json::json!(["vi", "tyz", "fr"]));
    let credits: Vec<&str> = now["credits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(credits, ["Nguyễn Văn A", "Trần B", "Lò Văn C"], "{now}");

    // The same old form again: someone changed it first (this very edit).
    let r = post_owned(&mut hoa, &path, fields("Bản tin đè lên", version, token)).await;
    assert_eq!(r.status(), StatusCode::PRECONDITION_FAILED);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("id=\"stale\"") && page.contains("Người khác vừa sửa"),
        "{page}"
    );
    assert!(
        page.contains("value=\"Bản tin đè lên\""),
        "what was typed stays in the form"
    );
    let now: serde_json::Value = app
        .get(&tn, &format!("/api/v1/programs/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(now["title"], "Bản tin sáng thứ Hai", "nothing overwritten");

    // Another station's person may see it but not edit it.
    let mut binh = Browser::new(&app);
    binh.sign_in("binh", PASSWORD).await;
    assert_eq!(
        binh.get(&format!("/programs/{id}/edit")).await.status(),
        StatusCode::FORBIDDEN
    );
    let token = binh.session_csrf().await;
    let mut theirs = fields("Của đài khác", "*".into(), token);
    theirs.truncate(12);
    let r = post_owned(&mut binh, &path, theirs).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let _ = cb;
}

/// "Xóa bản nháp": a draft goes, with the version it showed; a published
/// program is not a draft.
#[tokio::test]
async fn the_owner_deletes_a_draft_on_the_page() {
    let app = crate::helpers::TestApp::spawn().await;
    let tn = app.station("thai-nguyen", "provincial").await;
    add_person(&app, "thai-nguyen", "hoa", "Nguyễn Thị Hoa", "editor", PASSWORD);
    let draft = app.create_program(&tn, &program("Bản nháp bỏ đi")).await;
    let id = crate::helpers::id(&draft).to_owned();
    let mut hoa = Browser::new(&app);
    hoa.sign_in("hoa", PASSWORD).await;
    let page = hoa.text(&format!("/programs/{id}")).await;
    assert!(page.contains(&format!("action=\"/programs/{id}/delete\"")), "{page}");
    let token = crate::web::meta_csrf(&page);
    // A stale version is refused in words; the draft stays.
    let r = hoa
        .post(
            &format!("/programs/{id}/delete"),
            &[("csrf", &token), ("version", "\"0\"")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::PRECONDITION_FAILED);
    assert!(r.text().await.unwrap().contains("Người khác vừa sửa"));
    let r = app.get(&tn, &format!("/api/v1/programs/{id}")).await;
    let etag = r.headers()["etag"].to_str().unwrap().to_owned();
    let r = hoa
        .post(
            &format!("/programs/{id}/delete"),
            &[("csrf", &token), ("version", &etag)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", r.text().await.unwrap());
    assert_eq!(r.headers()["location"], "/station?done=deleted");
    assert!(hoa.text("/station?done=deleted").await.contains("Đã xóa bản nháp."));
    assert_eq!(
        app.get(&tn, &format!("/api/v1/programs/{id}")).await.status(),
        StatusCode::NOT_FOUND
    );
    // A published program offers no delete, and refuses one in words.
    let p = app.published(&tn, &program("Đã đăng")).await;
    let pid = crate::helpers::id(&p);
    let page = hoa.text(&format!("/programs/{pid}")).await;
    assert!(!page.contains("/delete\""), "{page}");
    let r = hoa
        .post(
            &format!("/programs/{pid}/delete"),
            &[("csrf", &token), ("version", "*")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(r.text().await.unwrap().contains("Chỉ xóa được bản nháp"));
}

async fn post_owned(b: &mut Browser, path: &str, pairs: Vec<(&'static str, String)>) -> reqwest::Response {
    let refs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    b.post(path, &refs).await
}

/// The upload page lists the program's files with their analysis, and
/// htmx asks for the list again every 2 s while an analysis waits or runs;
/// once done, the verdict and what the check found show in Vietnamese
/// (−3,0 LUFS: a real minus sign, a decimal comma) and the asking stops.
#[tokio::test]
async fn the_upload_page_shows_the_analysis_as_it_goes() {
    if !ffmpeg_or_skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("to.wav");
    let made = std::process::Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg("sine=frequency=1000:duration=3,volume=8")
        .arg(&wav)
        .status()
        .unwrap();
    assert!(made.success());
    let loud = std::fs::read(&wav).unwrap();
    for workers in [0, 1] {
        let app = crate::helpers::TestApp::spawn_with(|s| s.analysis_workers = workers).await;
        let tn = app.station("thai-nguyen", "provincial").await;
        add_person(&app, "thai-nguyen", "hoa", "Nguyễn Thị Hoa", "editor", PASSWORD);
        let p = upload(&app, &tn, &program("Quá to"), "audio/wav", "qua-to.wav", loud.clone()).await;
        let mut hoa = Browser::new(&app);
        hoa.sign_in("hoa", PASSWORD).await;
        let page = hoa.text(&format!("/programs/{p}/upload")).await;
        assert!(
            page.contains("<section id=\"files\"") && page.contains("qua-to.wav"),
            "{page}"
        );
        let part = || async {
            let r = hoa
                .api(reqwest::Method::GET, &format!("/programs/{p}/files"))
                .header("HX-Request", "true")
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            r.text().await.unwrap()
        };
        if workers == 0 {
            // Never analysed here: it keeps asking, and says it is waiting.
            assert!(page.contains("hx-trigger=\"every 2s, refresh\""), "{page}");
            let part = part().await;
            assert!(
                part.starts_with("<section id=\"files\"") && !part.contains("<html"),
                "{part}"
            );
            assert!(
                part.contains("đang chờ phân tích") && part.contains("every 2s"),
                "{part}"
            );
            continue;
        }
        analysis_of(&app, &tn, &p, "master").await;
        let done = part().await;
        assert!(done.contains("hx-trigger=\"refresh\""), "the asking stops: {done}");
        assert!(done.contains("Kiểm tra kỹ thuật: cần lưu ý"), "{done}");
        assert!(done.contains("ngoài mức chuẩn \u{2212}23,0 ±1,0 LU"), "{done}");
        assert!(english_in(&done).is_empty(), "{done}");
        assert!(!done.contains("id=\"fix-master\""), "a loud master is usable");
        // A new master replaces it; the list shows the new one.
        let r = app
            .put_file(&tn, &p, "master", "audio/wav", "ban-moi.wav", loud.clone())
            .await;
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
        let part = part().await;
        assert!(part.contains("ban-moi.wav") && !part.contains("qua-to.wav"), "{part}");
    }
}

/// Runs `pxhub person …` on the app's data folder; (success, stdout, stderr).
fn person(app: &crate::helpers::TestApp, args: &[&str]) -> (bool, String, String) {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_pxhub"))
        .arg("--data-dir")
        .arg(app.dir.path().join("data"))
        .arg("person")
        .args(args)
        .env_remove("PXHUB_DATA_DIR")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    (
        o.status.success(),
        String::from_utf8(o.stdout).unwrap(),
        String::from_utf8(o.stderr).unwrap(),
    )
}

/// `pxhub person disable|enable|reset-password|role|remove`: a disabled
/// person cannot sign in and their session ends; a reset gives a one-time
/// password printed alone; a viewer may not offer; the last operator who
/// can sign in cannot be disabled or removed.
#[tokio::test]
async fn the_command_line_manages_people_and_keeps_an_operator() {
    let app = crate::helpers::TestApp::spawn().await;
    app.station("thai-nguyen", "provincial").await;
    add_person(&app, "thai-nguyen", "hoa", "Nguyễn Thị Hoa", "editor", PASSWORD);
    let (ok, _, err) = crate::web::person_add(&app, &["--operator", "--login", "admin", "--name", "Quản trị"], None);
    assert!(ok, "{err}");
    let mut hoa = Browser::new(&app);
    hoa.sign_in("hoa", PASSWORD).await;
    let (ok, out, err) = person(&app, &["disable", "--login", "hoa"]);
    assert!(ok && out.is_empty(), "{err}");
    assert_eq!(
        hoa.get("/station").await.status(),
        StatusCode::SEE_OTHER,
        "the session ended"
    );
    let r = Browser::new(&app).try_sign_in("hoa", PASSWORD).await;
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "a disabled person is refused like a wrong password"
    );
    assert!(person(&app, &["enable", "--login", "hoa"]).0);
    hoa.sign_in("hoa", PASSWORD).await;
    let (ok, out, err) = person(&app, &["reset-password", "--login", "hoa"]);
    assert!(ok, "{err}");
    let one_time = out.trim();
    assert!(
        out.ends_with('\n') && out.lines().count() == 1 && one_time.len() >= 12,
        "{out:?}"
    );
    assert_eq!(
        hoa.get("/station").await.status(),
        StatusCode::SEE_OTHER,
        "a reset ends the sessions"
    );
    assert_eq!(
        Browser::new(&app).try_sign_in("hoa", PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    hoa.sign_in("hoa", one_time).await;
    assert!(person(&app, &["role", "--login", "hoa", "--role", "viewer"]).0);
    assert_eq!(
        hoa.get("/offer").await.status(),
        StatusCode::FORBIDDEN,
        "a viewer offers nothing"
    );
    let (ok, _, err) = person(&app, &["role", "--login", "admin", "--role", "viewer"]);
    assert!(!ok && err.contains("validation_failed"), "{err}");
    // The last operator stays.
    for what in ["disable", "remove"] {
        let (ok, _, err) = person(&app, &[what, "--login", "admin"]);
        assert!(!ok && err.contains("409 last_operator"), "{what}: {err}");
    }
    let (ok, _, err) = crate::web::person_add(&app, &["--operator", "--login", "admin2", "--name", "Quản trị 2"], None);
    assert!(ok, "{err}");
    assert!(person(&app, &["disable", "--login", "admin"]).0);
    let (ok, _, err) = person(&app, &["remove", "--login", "admin2"]);
    assert!(
        !ok && err.contains("last_operator"),
        "the disabled one does not count: {err}"
    );
    // Removing frees the login; what the person did stays in the history.
    assert!(person(&app, &["remove", "--login", "hoa"]).0);
    assert_eq!(
        Browser::new(&app).try_sign_in("hoa", one_time).await.status(),
        StatusCode::UNAUTHORIZED
    );
    add_person(&app, "thai-nguyen", "hoa", "Hoa mới", "editor", PASSWORD);
    let (ok, _, err) = person(&app, &["disable", "--login", "khong-co-ai"]);
    assert!(!ok && err.contains("404"), "{err}");
}

/// On the page: the operator resets a password (shown once) and disables
/// people on /admin; a station's editor in charge manages the station's
/// own people on "Đài của tôi", and no one else's.
#[tokio::test]
async fn people_are_managed_on_the_page_by_the_operator_and_the_editor_in_charge() {
    let app = crate::helpers::TestApp::spawn().await;
    app.station("thai-nguyen", "provincial").await;
    app.station("cao-bang", "provincial").await;
    add_person(&app, "thai-nguyen", "hoa", "Nguyễn Thị Hoa", "editor", PASSWORD);
    add_person(&app, "thai-nguyen", "lan", "Hà Thị Lan", "viewer", PASSWORD);
    add_person(&app, "cao-bang", "binh", "Lê Văn Bình", "editor", PASSWORD);
    let (ok, admin_pw, err) =
        crate::web::person_add(&app, &["--operator", "--login", "admin", "--name", "Quản trị"], None);
    assert!(ok, "{err}");
    let mut admin = Browser::new(&app);
    admin.sign_in("admin", admin_pw.trim()).await;
    let page = admin.text("/admin").await;
    assert!(
        page.contains("id=\"person-binh\"") && page.contains("Khóa tài khoản"),
        "{page}"
    );
    let token = crate::web::meta_csrf(&page);
    let manage = |login: &'static str, action: &'static str, token: String| {
        vec![
            ("csrf", token),
            ("login", login.to_owned()),
            ("action", action.to_owned()),
        ]
    };
    let r = post_owned(&mut admin, "/people/manage", manage("binh", "reset", token.clone())).await;
    assert_eq!(r.status(), StatusCode::OK);
    let done = r.text().await.unwrap();
    let at = done.find("id=\"one-time\"").expect("the one-time password");
    let one_time = done[at..]
        .split("<code>")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .to_owned();
    Browser::new(&app).sign_in("binh", &one_time).await;
    assert!(!admin.text("/admin").await.contains(&one_time), "shown once");
    let r = post_owned(&mut admin, "/people/manage", manage("binh", "disable", token.clone())).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("Đã khóa tài khoản binh"));
    assert_eq!(
        Browser::new(&app).try_sign_in("binh", &one_time).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert!(admin.text("/admin").await.contains("Đã khóa"));
    // Oneself: no buttons; the last operator: refused in words.
    let r = post_owned(&mut admin, "/people/manage", manage("admin", "disable", token.clone())).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(r.text().await.unwrap().contains("Quản trị cuối cùng"));
    // Hoa becomes Thái Nguyên's editor in charge.
    let mut form = manage("hoa", "role", token.clone());
    form.extend([("role", "editor".to_owned()), ("in_charge", "on".to_owned())]);
    assert_eq!(
        post_owned(&mut admin, "/people/manage", form).await.status(),
        StatusCode::OK
    );
    let mut hoa = Browser::new(&app);
    hoa.sign_in("hoa", PASSWORD).await;
    let station = hoa.text("/station").await;
    assert!(
        station.contains("id=\"person-lan\"") && !station.contains("id=\"person-binh\""),
        "{station}"
    );
    let token = crate::web::meta_csrf(&station);
    let r = post_owned(&mut hoa, "/people/manage", manage("lan", "disable", token.clone())).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(hoa.text("/station").await.contains("Đã khóa"));
    for other in ["binh", "admin", "hoa"] {
        let r = post_owned(&mut hoa, "/people/manage", manage(other, "reset", token.clone())).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{other}");
    }
    // Lan, not in charge, manages no one and sees no list.
    post_owned(&mut hoa, "/people/manage", manage("lan", "enable", token)).await;
    let mut lan = Browser::new(&app);
    lan.sign_in("lan", PASSWORD).await;
    assert!(!lan.text("/station").await.contains("id=\"people\""));
    let token = lan.session_csrf().await;
    let r = post_owned(&mut lan, "/people/manage", manage("hoa", "disable", token)).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

/// A new hub: the sign-in page says how to make the first operator, until
/// there is one who can sign in. The hub's name and icon come from the
/// settings.
#[tokio::test]
async fn a_new_hub_says_how_to_make_its_first_operator_and_wears_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let icon = dir.path().join("icon.png");
    let png = b"\x89PNG\r\n\x1a\n not really a picture".to_vec();
    std::fs::write(&icon, &png).unwrap();
    let app = crate::helpers::TestApp::spawn_with(|s| {
        s.hub_name = "Kho chương trình cụm Đông Bắc".into();
        s.favicon = icon.clone();
    })
    .await;
    let mut b = Browser::new(&app);
    let page = b.text("/sign-in").await;
    assert!(page.contains("id=\"first-run\""), "{page}");
    assert!(page.contains("pxhub person add --operator --login admin"), "{page}");
    assert!(
        page.contains("<title>Đăng nhập · Kho chương trình cụm Đông Bắc</title>"),
        "{page}"
    );
    assert!(
        page.contains("class=\"brand\" href=\"/\">Kho chương trình cụm Đông Bắc<"),
        "{page}"
    );
    assert!(page.contains("<link rel=\"icon\" href=\"/favicon.ico\">"));
    let r = b.get("/favicon.ico").await;
    assert_eq!(r.headers()["content-type"], "image/png");
    assert_eq!(r.bytes().await.unwrap().to_vec(), png);
    // An operator who cannot sign in does not count; one who can does.
    let (ok, _, err) = crate::web::person_add(&app, &["--operator", "--login", "admin", "--name", "Quản trị"], None);
    assert!(ok, "{err}");
    assert!(!b.text("/sign-in").await.contains("id=\"first-run\""));
    // Without the settings: the catalogs' name and the built-in icon.
    let plain = crate::helpers::TestApp::spawn().await;
    let mut b = Browser::new(&plain);
    assert!(b
        .text("/sign-in")
        .await
        .contains("<title>Đăng nhập · Kho trao đổi chương trình</title>"));
    let r = b.get("/favicon.ico").await;
    assert_eq!(r.headers()["content-type"], "image/svg+xml");
    // A favicon that is not a picture file is refused at start.
    let mut s = pxhub::config::Settings {
        favicon: dir.path().join("icon.exe"),
        ..Default::default()
    };
    assert!(format!("{:#}", s.favicon().unwrap_err()).contains(".ico, .png or .svg"));
    s.favicon = dir.path().join("missing.png");
    assert!(s.favicon().is_err());
}
