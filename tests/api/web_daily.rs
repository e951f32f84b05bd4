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
    let cases: Vec<(Vec<(&str, &str)>, &[&str])> = vec![
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
