//! Issue 24's "Mới từ lần trước", the results list, follows on the page and
//! the first run, spoken to as a browser would (tests/browser has the same
//! in Chromium).

use reqwest::StatusCode;
use serde_json::json;

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
        .post(&cb, "/api/v1/follows", &json!({"kind": "series", "value": "Nông nghiệp xanh"}))
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
    assert!(again.contains("Các chương trình đăng từ"), "{again}");
    assert!(again.contains(id(&followed)) && again.contains(id(&other)), "{again}");
    assert!(!again.contains(id(&before)), "seen on the previous visit: {again}");
    let mine = between(&again, "id=\"news-followed\"", "</section>");
    assert!(mine.contains(id(&followed)) && !mine.contains(id(&other)), "{mine}");
    assert!(again.contains("Mọi chương trình mới (2)"), "{again}");
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
    assert!(feed.contains("Nông nghiệp xanh số 12") && !feed.contains("Thời sự chiều"), "{feed}");
    // A key made up for a person is no key.
    let forged = href.replace("key=person:", "key=person:0");
    let r = reqwest::get(format!("{}{forged}", app.address)).await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // Signed out, the count is nothing (no sign-in page inside the header).
    let mut out = Browser::new(&app);
    assert_eq!(out.text("/news/count").await, "<span id=\"news-count\"></span>");
    assert_eq!(out.get("/news").await.status(), StatusCode::SEE_OTHER);
}
