use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::{json, Value};
use unicode_normalization::UnicodeNormalization;

use crate::helpers::{assert_problem, fields, id, program, TestApp};

/// Every letter of the Vietnamese alphabet with every tone mark, lower case.
const LETTERS: &str = "aàáảãạăằắẳẵặâầấẩẫậbcdđeèéẻẽẹêềếểễệghiìíỉĩịklmnoòóỏõọôồốổỗộơờớởỡợpqrstuùúủũụưừứửữựvxyỳýỷỹỵ";

fn base(c: char) -> char {
    let s: String = c.to_string().nfd().take(1).collect();
    match s.chars().next().unwrap() {
        'đ' | 'Đ' => 'd',
        b => b.to_ascii_lowercase(),
    }
}

#[tokio::test]
async fn full_text_ignores_case_and_every_vietnamese_mark_both_ways() {
    let app = TestApp::spawn().await;
    let tn = app.station("thai-nguyen", "provincial").await;
    // One program per letter form (lower and upper case), titled "K<letter>M".
    let mut by_base: std::collections::BTreeMap<char, BTreeSet<String>> = Default::default();
    let mut programs = Vec::new();
    for c in LETTERS.chars().chain(LETTERS.to_uppercase().chars()) {
        let p = app.published(&tn, &program(&format!("K{c}M tiết mục"))).await;
        by_base.entry(base(c)).or_default().insert(id(&p).to_owned());
        programs.push((c, id(&p).to_owned()));
    }
    assert_eq!(programs.len(), 2 * 89);
    for (c, _) in &programs {
        // Marked query: finds every form of the same base letter, the plain one
        // included; and the plain query finds the marked forms.
        let expected = &by_base[&base(*c)];
        for q in [format!("k{c}m"), format!("k{}m", base(*c))] {
            let found: BTreeSet<String> = app
                .find(&tn, &format!("q={}", urlencode(&q)))
                .await
                .into_iter()
                .collect();
            assert_eq!(&found, expected, "query {q}");
        }
    }
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn words_and_prefixes_match_across_every_text_field() {
    let app = TestApp::spawn().await;
    let tn = app.station("thai-nguyen", "provincial").await;
    let title = app.published(&tn, &program("Thời sự tối 12/3")).await;
    let plain = app.published(&tn, &program("thoi su sang")).await;
    let mut rich = program("Chương trình tổng hợp");
    rich["summary"] = json!("Phóng sự về mùa lúa");
    rich["description"] = json!("Bà con Định Hóa thu hoạch chè Tân Cương");
    rich["tags"] = json!(["nông nghiệp", "Lạng Sơn"]);
    rich["series"] = json!("Bản tin tiếng Tày");
    rich["credits"] = json!([{"role": "reporter", "name": "Đặng Thị Hương"}]);
    let rich = app.published(&tn, &rich).await;

    let cases: &[(&str, Vec<&str>)] = &[
        ("thoi su", vec![id(&title), id(&plain)]),
        ("Thời sự", vec![id(&title), id(&plain)]),
        ("THỜI SỰ TỐI", vec![id(&title)]),
        ("phong", vec![id(&rich)]),
        ("phóng sự", vec![id(&rich)]),
        ("chè tân cương", vec![id(&rich)]),
        ("nong nghiep", vec![id(&rich)]),
        ("lang son", vec![id(&rich)]),
        ("tieng tay", vec![id(&rich)]),
        ("dang huong", vec![id(&rich)]),
        ("Đặng", vec![id(&rich)]),
        ("12", vec![id(&title)]),
        ("khong co gi", vec![]),
        ("\"NEAR( OR *", vec![]),
    ];
    for (q, expected) in cases {
        let found: BTreeSet<String> = app
            .find(&tn, &format!("q={}", urlencode(q)))
            .await
            .into_iter()
            .collect();
        let expected: BTreeSet<String> = expected.iter().map(|s| s.to_string()).collect();
        assert_eq!(found, expected, "q={q}");
    }
    let r = app.get(&tn, "/api/v1/programs?q=%21%21%21").await;
    let p = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(fields(&p), ["q"]);
}

#[tokio::test]
async fn relevance_ranks_title_matches_first() {
    let app = TestApp::spawn().await;
    let tn = app.station("thai-nguyen", "provincial").await;
    let mut in_description = program("Bản tin chiều");
    in_description["description"] =
        json!("Có nhắc đến lễ hội Lồng Tồng ở cuối bản tin, cùng nhiều tin tức khác trong ngày");
    let in_description = app.published(&tn, &in_description).await;
    let in_title = app.published(&tn, &program("Lễ hội Lồng Tồng")).await;
    assert_eq!(app.find(&tn, "q=long+tong").await, [id(&in_title), id(&in_description)]);
}

async fn seed(app: &TestApp) -> (String, String, Vec<Value>) {
    let tn = app.station("thai-nguyen", "provincial").await;
    let cb = app.station("cao-bang", "provincial").await;
    let specs = [
        (
            &tn,
            "Bản tin sáng",
            "radio",
            "news",
            json!(["vi"]),
            "2024-01-10T00:00:00Z",
            600,
        ),
        (
            &tn,
            "Ấm áp mùa đông",
            "tv",
            "documentary",
            json!(["vi", "tyz"]),
            "2024-02-10T00:00:00Z",
            1800,
        ),
        (
            &cb,
            "Chợ phiên Cao Bằng",
            "tv",
            "culture",
            json!(["nut"]),
            "2024-03-10T00:00:00Z",
            2400,
        ),
        (
            &cb,
            "Zô khoan",
            "radio",
            "culture",
            json!(["vi", "nut"]),
            "2023-12-31T00:00:00Z",
            300,
        ),
        (
            &cb,
            "Bản tin tối",
            "radio",
            "news",
            json!(["vi"]),
            "2024-04-01T12:00:00Z",
            900,
        ),
    ];
    let mut published = Vec::new();
    for (token, title, kind, genre, langs, aired, dur) in specs {
        let p = json!({"title": title, "kind": kind, "genre": genre, "languages": langs,
                       "first_aired_at": aired, "duration_seconds": dur});
        published.push(app.published(token, &p).await);
    }
    (tn, cb, published)
}

#[tokio::test]
async fn filters_narrow_the_match_and_facets_count_it() {
    let app = TestApp::spawn().await;
    let (tn, cb, p) = seed(&app).await;
    app.create_program(&cb, &program("Bản nháp của Cao Bằng")).await;
    let ids = |v: &[usize]| -> BTreeSet<String> { v.iter().map(|i| id(&p[*i]).to_owned()).collect() };
    let cases: &[(&str, &[usize])] = &[
        ("", &[0, 1, 2, 3, 4]),
        ("station=cao-bang", &[2, 3, 4]),
        ("station=cao-bang&station=thai-nguyen", &[0, 1, 2, 3, 4]),
        ("kind=tv", &[1, 2]),
        ("genre=culture&genre=documentary", &[1, 2, 3]),
        ("language=nut", &[2, 3]),
        ("language=tyz&language=nut", &[1, 2, 3]),
        ("aired_from=2024-02-10&aired_to=2024-03-10", &[1, 2]),
        ("aired_to=2024-04-01", &[0, 1, 2, 3, 4]),
        ("aired_to=2024-04-01T11:59:59Z", &[0, 1, 2, 3]),
        ("min_duration=900", &[1, 2, 4]),
        ("max_duration=900", &[0, 3, 4]),
        ("min_duration=600&max_duration=1800&kind=radio", &[0, 4]),
        ("q=ban+tin&station=cao-bang", &[4]),
    ];
    for (query, expected) in cases {
        let found: BTreeSet<String> = app.find(&tn, query).await.into_iter().collect();
        assert_eq!(found, ids(expected), "{query}");
    }
    let body = app.search(&tn, "q=ban+tin").await;
    assert_eq!(body["total"], 2);
    assert_eq!(
        body["facets"],
        json!({"station": {"thai-nguyen": 1, "cao-bang": 1}, "kind": {"radio": 2}, "genre": {"news": 2}, "language": {"vi": 2}, "origin": {"local": 2}})
    );
    let body = app.search(&tn, "").await;
    assert_eq!(body["total"], 5);
    assert_eq!(
        body["facets"],
        json!({
            "station": {"thai-nguyen": 2, "cao-bang": 3},
            "kind": {"radio": 3, "tv": 2},
            "genre": {"news": 2, "documentary": 1, "culture": 2},
            "language": {"vi": 4, "tyz": 1, "nut": 2},
            "origin": {"local": 5}
        })
    );
}

#[tokio::test]
async fn sorts_order_the_results() {
    let app = TestApp::spawn().await;
    let (tn, _, p) = seed(&app).await;
    let order = |v: &[usize]| -> Vec<String> { v.iter().map(|i| id(&p[*i]).to_owned()).collect() };
    assert_eq!(app.find(&tn, "").await, order(&[4, 3, 2, 1, 0]), "newest by default");
    assert_eq!(app.find(&tn, "sort=newest").await, order(&[4, 3, 2, 1, 0]));
    assert_eq!(app.find(&tn, "sort=aired").await, order(&[4, 2, 1, 0, 3]));
    // Vietnamese titles sort by their letters, marks aside: Ấm, Bản tin sáng, Bản tin tối, Chợ, Zô.
    assert_eq!(app.find(&tn, "sort=title").await, order(&[1, 0, 4, 2, 3]));
}

#[tokio::test]
async fn cursors_page_through_every_sort_without_gaps_or_repeats() {
    let app = TestApp::spawn().await;
    let (tn, _, _) = seed(&app).await;
    for query in ["sort=newest", "sort=aired", "sort=title", "q=b", "q=b&sort=title"] {
        let everything = app.find(&tn, query).await;
        let mut paged = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let c = cursor.as_deref().map(|c| format!("&cursor={c}")).unwrap_or_default();
            let r = app.get(&tn, &format!("/api/v1/programs?{query}&limit=2{c}")).await;
            assert_eq!(r.status(), StatusCode::OK);
            let body: Value = r.json().await.unwrap();
            assert_eq!(body["total"].as_u64().unwrap() as usize, everything.len());
            paged.extend(body["items"].as_array().unwrap().iter().map(|p| id(p).to_owned()));
            match body["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
        }
        assert_eq!(paged, everything, "{query}");
    }
}

#[tokio::test]
async fn bad_search_parameters_are_named() {
    let app = TestApp::spawn().await;
    let (tn, _, _) = seed(&app).await;
    let body: Value = app.get(&tn, "/api/v1/programs?limit=1").await.json().await.unwrap();
    let cursor = body["next_cursor"].as_str().unwrap().to_owned();
    let (payload, _) = cursor.split_once('.').unwrap();
    let cases = [
        ("limit=101".to_owned(), "limit"),
        ("limit=0".to_owned(), "limit"),
        ("limit=-1".to_owned(), "limit"),
        ("genre=opera".to_owned(), "genre"),
        ("kind=podcast".to_owned(), "kind"),
        ("language=vi_VN".to_owned(), "language"),
        ("station=Thai".to_owned(), "station"),
        ("status=deleted".to_owned(), "status"),
        ("sort=random".to_owned(), "sort"),
        ("available=tomorrow".to_owned(), "available"),
        ("aired_from=last+week".to_owned(), "aired_from"),
        ("min_duration=-3".to_owned(), "min_duration"),
        ("colour=red".to_owned(), "colour"),
        ("q=a&q=b".to_owned(), "q"),
        ("cursor=forged".to_owned(), "cursor"),
        (format!("cursor={payload}.AAAAAAAAAAAAAAAAAAAAAA"), "cursor"),
        // A real cursor, but for another search.
        (format!("cursor={cursor}&genre=news"), "cursor"),
    ];
    for (query, field) in cases {
        let r = app.get(&tn, &format!("/api/v1/programs?{query}")).await;
        let p = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(fields(&p), [field], "{query}");
    }
    let r = app.get(&tn, &format!("/api/v1/programs?limit=1&cursor={cursor}")).await;
    assert_eq!(r.status(), StatusCode::OK);
    // Empty values (a form's unchosen lists) ask for nothing.
    let all: Value = app.get(&tn, "/api/v1/programs").await.json().await.unwrap();
    let r = app.get(&tn, "/api/v1/programs?language=&codec=&station=&cursor=").await;
    assert_eq!(r.status(), StatusCode::OK);
    let same: Value = r.json().await.unwrap();
    assert_eq!(same["items"], all["items"]);
}

/// A cursor whose body says `body`, with a one-byte tag: each of the 256
/// such cursors is a guess at the first byte of the hub's signature.
fn one_byte_guesses(body: &Value) -> Vec<String> {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(body).unwrap());
    (0..=255u8)
        .map(|b| format!("{body}.{}", URL_SAFE_NO_PAD.encode([b])))
        .collect()
}

#[tokio::test]
async fn a_cursor_cannot_be_forged_by_guessing_a_short_signature() {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let app = TestApp::spawn().await;
    let (tn, _, _) = seed(&app).await;
    // A relevance search pages by offset; its cursor's body is plain JSON.
    let query = "q=ban+tin&limit=1";
    let body: Value = app
        .get(&tn, &format!("/api/v1/programs?{query}"))
        .await
        .json()
        .await
        .unwrap();
    let cursor = body["next_cursor"].as_str().unwrap().to_owned();
    let (payload, _) = cursor.split_once('.').unwrap();
    let mut forged: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    assert_eq!(forged["p"]["t"], "offset", "{forged}");
    // An offset at the end of u64 used to overflow the page arithmetic.
    forged["p"]["n"] = json!(u64::MAX);
    for guess in one_byte_guesses(&forged) {
        let r = app.get(&tn, &format!("/api/v1/programs?{query}&cursor={guess}")).await;
        let p = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(fields(&p), ["cursor"]);
    }
}

#[tokio::test]
async fn drafts_show_only_to_their_owner() {
    let app = TestApp::spawn().await;
    let tn = app.station("thai-nguyen", "provincial").await;
    let cb = app.station("cao-bang", "provincial").await;
    let mine = app.create_program(&tn, &program("Bản nháp Thái Nguyên")).await;
    let theirs = app.create_program(&cb, &program("Bản nháp Cao Bằng")).await;
    assert!(
        app.find(&tn, "q=ban+nhap").await.is_empty(),
        "drafts are not listed by default"
    );
    assert_eq!(app.find(&tn, "q=ban+nhap&status=draft").await, [id(&mine)]);
    assert_eq!(app.find(&cb, "status=draft").await, [id(&theirs)]);
    let all: BTreeSet<String> = app.find(&app.admin, "status=draft").await.into_iter().collect();
    assert_eq!(all.len(), 2);
}

#[tokio::test]
async fn available_now_follows_the_rights_window() {
    let app = TestApp::spawn().await;
    let tn = app.station("thai-nguyen", "provincial").await;
    let cb = app.station("cao-bang", "provincial").await;
    let window = |from: &str, until: Option<&str>| {
        let mut p = program("Cửa sổ phát lại");
        p["rights"] = json!({"available_from": from, "available_until": until});
        p
    };
    let open = app.published(&tn, &window("2020-01-01T00:00:00Z", None)).await;
    let closed = app
        .published(&tn, &window("2020-01-01T00:00:00Z", Some("2021-01-01T00:00:00Z")))
        .await;
    let future = app.published(&tn, &window("2999-01-01T00:00:00Z", None)).await;
    assert_eq!(app.find(&cb, "q=cua+so").await.len(), 3);
    assert_eq!(app.find(&cb, "q=cua+so&available=now").await, [id(&open)]);
    // The owner may always take its own.
    assert_eq!(app.find(&tn, "q=cua+so&available=now").await.len(), 3);
    let _ = (closed, future);
}
