//! The web page: people, sessions, CSRF, lockout, and the pages, spoken to
//! as a browser would (form posts, cookies, no redirects followed).

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};

use base64::Engine;
use reqwest::header::{HeaderMap, COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Response, StatusCode};
use serde_json::json;

use crate::helpers::{id, program, TestApp};

/// Runs `pxhub person add …` on the app's data folder with `stdin` (None:
/// an empty, closed input); returns (success, stdout, stderr).
pub fn person_add(app: &TestApp, args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pxhub"))
        .arg("--data-dir")
        .arg(app.dir.path().join("data"))
        .args(["person", "add"])
        .args(args)
        .env_remove("PXHUB_DATA_DIR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("pxhub runs");
    {
        let mut input = child.stdin.take().unwrap();
        if let Some(s) = stdin {
            input.write_all(s.as_bytes()).unwrap();
        }
    }
    let o = child.wait_with_output().unwrap();
    (
        o.status.success(),
        String::from_utf8(o.stdout).unwrap(),
        String::from_utf8(o.stderr).unwrap(),
    )
}

/// Adds a person with `password`.
pub fn add_person(app: &TestApp, station: &str, login: &str, name: &str, role: &str, password: &str) {
    let (ok, out, err) = person_add(
        app,
        &["--station", station, "--login", login, "--name", name, "--role", role],
        Some(&format!("{password}\n")),
    );
    assert!(ok, "{err}");
    assert_eq!(out, "", "a password from stdin is not printed");
}

/// A browser: its cookies, no redirects followed.
pub struct Browser {
    pub base: String,
    client: reqwest::Client,
    pub cookies: BTreeMap<String, String>,
}

impl Browser {
    pub fn new(app: &TestApp) -> Self {
        Self {
            base: app.address.clone(),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: BTreeMap::new(),
        }
    }

    fn keep(&mut self, headers: &HeaderMap) {
        for v in headers.get_all(SET_COOKIE) {
            let v = v.to_str().unwrap();
            let (pair, attrs) = v.split_once(';').unwrap_or((v, ""));
            let (name, value) = pair.split_once('=').unwrap();
            let removed = attrs.to_ascii_lowercase().contains("max-age=0") || value.is_empty();
            if removed {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub async fn get(&mut self, path: &str) -> Response {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .header(COOKIE, self.cookie_header())
            .send()
            .await
            .unwrap();
        self.keep(r.headers());
        r
    }

    pub async fn text(&mut self, path: &str) -> String {
        let r = self.get(path).await;
        assert_eq!(r.status(), StatusCode::OK, "GET {path}");
        r.text().await.unwrap()
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Response {
        let body: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let r = self
            .client
            .post(format!("{}{path}", self.base))
            .header(COOKIE, self.cookie_header())
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        self.keep(r.headers());
        r
    }

    /// A request through the API with the session cookie (as the page's
    /// scripts and links send it).
    pub fn api(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.base))
            .header(COOKIE, self.cookie_header())
    }

    /// The CSRF token of the page at `path` (its first form's).
    pub async fn csrf(&mut self, path: &str) -> String {
        let page = self.text(path).await;
        csrf_of(&page)
    }

    /// Signs in; the answer to the form's post.
    pub async fn try_sign_in(&mut self, login: &str, password: &str) -> Response {
        let token = self.csrf("/sign-in").await;
        self.post(
            "/sign-in",
            &[
                ("login", login),
                ("password", password),
                ("csrf", &token),
                ("next", "/"),
            ],
        )
        .await
    }

    pub async fn sign_in(&mut self, login: &str, password: &str) {
        let r = self.try_sign_in(login, password).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", r.text().await.unwrap());
    }

    /// The CSRF token of the signed-in session (from any page).
    pub async fn session_csrf(&mut self) -> String {
        let page = self.text("/account").await;
        meta_csrf(&page)
    }
}

pub fn csrf_of(page: &str) -> String {
    let at = page.find("name=\"csrf\" value=\"").expect("a form with a CSRF field") + 19;
    page[at..].split('"').next().unwrap().to_owned()
}

pub fn meta_csrf(page: &str) -> String {
    let at = page.find("name=\"csrf-token\" content=\"").expect("the CSRF meta") + 27;
    page[at..].split('"').next().unwrap().to_owned()
}

const PASSWORD: &str = "mật khẩu thật dài";

async fn two_stations() -> (TestApp, String, String) {
    let app = TestApp::spawn().await;
    let tn = app.station("thai-nguyen", "provincial").await;
    let cb = app.station("cao-bang", "provincial").await;
    add_person(&app, "thai-nguyen", "hoa", "Nguyễn Thị Hoa", "editor", PASSWORD);
    add_person(&app, "cao-bang", "binh", "Lê Văn Bình", "editor", PASSWORD);
    (app, tn, cb)
}

#[tokio::test]
async fn person_add_reads_a_password_from_stdin_or_prints_one_it_made() {
    let app = TestApp::spawn().await;
    app.station("thai-nguyen", "provincial").await;
    // From standard input: nothing printed, and it signs in.
    add_person(&app, "thai-nguyen", "hoa", "Nguyễn Thị Hoa", "editor", PASSWORD);
    let mut b = Browser::new(&app);
    b.sign_in("hoa", PASSWORD).await;
    // Nothing on standard input: one is made up and printed alone.
    let (ok, out, err) = person_add(
        &app,
        &[
            "--station",
            "thai-nguyen",
            "--login",
            "lan",
            "--name",
            "Lan",
            "--role",
            "viewer",
        ],
        None,
    );
    assert!(ok, "{err}");
    let made = out.strip_suffix('\n').unwrap();
    assert!(made.len() >= 16 && !made.contains(char::is_whitespace), "{out:?}");
    let mut b = Browser::new(&app);
    b.sign_in("lan", made).await;
    // An operator has no station.
    let (ok, out, err) = person_add(&app, &["--operator", "--login", "admin", "--name", "Quản trị"], None);
    assert!(ok, "{err}");
    let mut b = Browser::new(&app);
    b.sign_in("admin", out.trim()).await;
    assert!(b.text("/admin").await.contains("thai-nguyen"));
    // Refusals: a login taken, no such station, a short password, an empty line.
    let (ok, _, err) = person_add(
        &app,
        &["--station", "thai-nguyen", "--login", "HOA", "--name", "X"],
        Some("another long password\n"),
    );
    assert!(!ok && err.contains("login"), "{err}");
    let (ok, _, err) = person_add(&app, &["--station", "ha-noi", "--login", "x1x", "--name", "X"], None);
    assert!(!ok && err.contains("station"), "{err}");
    let (ok, _, err) = person_add(
        &app,
        &["--station", "thai-nguyen", "--login", "x2x", "--name", "X"],
        Some("short\n"),
    );
    assert!(!ok && err.contains("password"), "{err}");
    let (ok, _, _) = person_add(
        &app,
        &["--station", "thai-nguyen", "--login", "x3x", "--name", "X"],
        Some("\n"),
    );
    assert!(!ok);
    let (ok, _, _) = person_add(&app, &["--login", "x4x", "--name", "X"], None);
    assert!(!ok, "--station or --operator is needed");
}

#[tokio::test]
async fn signing_in_sets_a_session_cookie_and_goes_to_the_page_asked_for() {
    let (app, _, _) = two_stations().await;
    let mut b = Browser::new(&app);
    let r = b.get("/station?lang=en").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let to = r.headers()[LOCATION].to_str().unwrap().to_owned();
    assert_eq!(to, "/sign-in?next=%2Fstation%3Flang%3Den");
    let page = b.text(&to).await;
    assert!(page.contains("<html lang=\"vi\">"), "Vietnamese by default");
    assert!(page.contains("Đăng nhập"));
    let token = csrf_of(&page);
    let next = page
        .split("name=\"next\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    assert_eq!(next, "/station?lang=en");
    let r = b
        .post(
            "/sign-in",
            &[
                ("login", "Hoa"),
                ("password", PASSWORD),
                ("csrf", &token),
                ("next", "/station?lang=en"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()[LOCATION], "/station?lang=en");
    let cookie = r
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("pxhub_session="))
        .expect("a session cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(!cookie.contains("Secure"), "{cookie}");
    assert!(cookie.contains("Path=/"), "{cookie}");
    let page = b.text("/station?lang=en").await;
    assert!(page.contains("<html lang=\"en\">"), "English with ?lang=en");
    assert!(page.contains("Đài thai-nguyen"));
    // Already signed in: the sign-in page sends on.
    assert_eq!(b.get("/sign-in?next=/report").await.headers()[LOCATION], "/report");
    // A `next` elsewhere goes home.
    let mut c = Browser::new(&app);
    let token = c.csrf("/sign-in").await;
    let r = c
        .post(
            "/sign-in",
            &[
                ("login", "hoa"),
                ("password", PASSWORD),
                ("csrf", &token),
                ("next", "//evil.example/"),
            ],
        )
        .await;
    assert_eq!(r.headers()[LOCATION], "/");
}

#[tokio::test]
async fn behind_tls_the_session_cookie_is_secure() {
    let app = TestApp::spawn_with(|s| s.behind_tls = true).await;
    app.station("thai-nguyen", "provincial").await;
    add_person(&app, "thai-nguyen", "hoa", "Hoa", "editor", PASSWORD);
    let mut b = Browser::new(&app);
    let r = b.try_sign_in("hoa", PASSWORD).await;
    let cookies: Vec<String> = r
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with("pxhub_session=") && c.contains("Secure")),
        "{cookies:?}"
    );
}

#[tokio::test]
async fn signed_out_visitors_reach_only_the_sign_in_page() {
    let (app, tn, _) = two_stations().await;
    let p = app.published(&tn, &program("Thời sự")).await;
    let mut b = Browser::new(&app);
    for path in [
        "/".to_owned(),
        "/?q=thoi+su".to_owned(),
        format!("/programs/{}", id(&p)),
        format!("/programs/{}/upload", id(&p)),
        "/offer".to_owned(),
        "/station".to_owned(),
        "/report".to_owned(),
        "/report.csv?year=2026".to_owned(),
        "/admin".to_owned(),
        "/account".to_owned(),
    ] {
        let r = b.get(&path).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{path}");
        assert!(
            r.headers()[LOCATION].to_str().unwrap().starts_with("/sign-in?next="),
            "{path}"
        );
    }
    for path in [
        format!("/programs/{}/publish", id(&p)),
        "/offer".into(),
        "/admin/stations".into(),
    ] {
        let r = b.post(&path, &[("csrf", "x")]).await;
        assert!(
            r.status() == StatusCode::SEE_OTHER || r.status() == StatusCode::FORBIDDEN,
            "{path}: {}",
            r.status()
        );
    }
    // The API's files need a token or a session.
    let r = b
        .api(
            reqwest::Method::GET,
            &format!("/api/v1/programs/{}/files/master", id(&p)),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(b.get("/sign-in").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn forms_without_their_csrf_token_are_refused() {
    let (app, tn, _) = two_stations().await;
    let mut b = Browser::new(&app);
    // Sign-in itself: without the token, or with another browser's.
    b.csrf("/sign-in").await;
    let r = b.post("/sign-in", &[("login", "hoa"), ("password", PASSWORD)]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let mut other = Browser::new(&app);
    let theirs = other.csrf("/sign-in").await;
    let r = b
        .post(
            "/sign-in",
            &[("login", "hoa"), ("password", PASSWORD), ("csrf", &theirs)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(!b.cookies.contains_key("pxhub_session"));

    b.sign_in("hoa", PASSWORD).await;
    let draft = app.create_program(&tn, &program("Bản nháp")).await;
    let path = format!("/programs/{}/publish", id(&draft));
    // Publishing, signing out, offering: refused without the token.
    for (path, form) in [
        (path.as_str(), vec![]),
        ("/sign-out", vec![("csrf", "forged")]),
        (
            "/offer",
            vec![
                ("title", "X"),
                ("kind", "radio"),
                ("genre", "news"),
                ("languages", "vi"),
            ],
        ),
        (
            "/account/password",
            vec![
                ("current_password", PASSWORD),
                ("new_password", "0123456789x"),
                ("confirm_password", "0123456789x"),
            ],
        ),
    ] {
        let r = b.post(path, &form).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
        assert!(r.text().await.unwrap().contains("Biểu mẫu đã hết hạn"));
    }
    // Nothing changed: still signed in, still a draft, no new program.
    assert_eq!(b.get("/account").await.status(), StatusCode::OK);
    assert_eq!(app.program_json(&tn, &draft).await["status"], "draft");
    assert_eq!(app.count("programs"), 1);
    // The API through the session: reads without the header, writes only with it.
    let r = b
        .api(reqwest::Method::POST, "/api/v1/programs")
        .json(&program("Qua API"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["code"], "csrf_refused");
    let token = b.session_csrf().await;
    let r = b
        .api(reqwest::Method::POST, "/api/v1/programs")
        .header("X-CSRF-Token", &token)
        .json(&program("Qua API"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    // With the token, the form works.
    let r = b.post(&path, &[("csrf", &token)]).await;
    assert_eq!(r.status(), StatusCode::CONFLICT, "no master yet: refused in words");
    assert!(r.text().await.unwrap().contains("Cần tải lên bản gốc"));
}

/// The page of a failed sign-in, without what differs on every page (the
/// CSRF token).
async fn failed_page(b: &mut Browser, login: &str, password: &str) -> (StatusCode, String) {
    let r = b.try_sign_in(login, password).await;
    let status = r.status();
    let page = r.text().await.unwrap();
    let token = csrf_of(&page);
    (status, page.replace(&token, "TOKEN").replace(login, "LOGIN"))
}

#[tokio::test]
async fn an_unknown_login_gets_the_same_answer_as_a_wrong_password() {
    let (app, _, _) = two_stations().await;
    let mut b = Browser::new(&app);
    let known = failed_page(&mut b, "hoa", "not the password").await;
    let unknown = failed_page(&mut b, "nobody", "not the password").await;
    assert_eq!(known.0, StatusCode::UNAUTHORIZED);
    assert_eq!(known, unknown);
    assert!(known.1.contains("Tên đăng nhập hoặc mật khẩu không đúng"));
}

#[tokio::test]
async fn repeated_failures_lock_a_login_whether_or_not_it_exists() {
    let app = TestApp::spawn_with(|s| s.sign_in_lock_after = 3).await;
    app.station("thai-nguyen", "provincial").await;
    add_person(&app, "thai-nguyen", "hoa", "Hoa", "editor", PASSWORD);
    add_person(&app, "thai-nguyen", "lan", "Lan", "editor", PASSWORD);
    let mut b = Browser::new(&app);
    for login in ["hoa", "nobody"] {
        for _ in 0..2 {
            assert_eq!(failed_page(&mut b, login, "wrong").await.0, StatusCode::UNAUTHORIZED);
        }
        let third = failed_page(&mut b, login, "wrong").await;
        assert_eq!(third.0, StatusCode::TOO_MANY_REQUESTS, "{login}");
        assert!(third.1.contains("Đăng nhập sai quá nhiều lần"));
    }
    // Locked: even the right password is refused, with the same words.
    let locked = failed_page(&mut b, "hoa", PASSWORD).await;
    assert_eq!(locked, failed_page(&mut b, "nobody", PASSWORD).await);
    assert_eq!(locked.0, StatusCode::TOO_MANY_REQUESTS);
    assert!(!b.cookies.contains_key("pxhub_session"));
    // Another login is not locked.
    b.sign_in("lan", PASSWORD).await;
}

#[tokio::test]
async fn signing_out_and_changing_the_password_end_sessions() {
    let (app, _, _) = two_stations().await;
    let (mut one, mut two) = (Browser::new(&app), Browser::new(&app));
    one.sign_in("hoa", PASSWORD).await;
    two.sign_in("hoa", PASSWORD).await;
    let token = one.session_csrf().await;
    // Wrong current password, or two different new ones: refused.
    let r = one
        .post(
            "/account/password",
            &[
                ("csrf", &token),
                ("current_password", "wrong one!"),
                ("new_password", "một mật khẩu mới"),
                ("confirm_password", "một mật khẩu mới"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("Mật khẩu hiện tại không đúng"));
    let r = one
        .post(
            "/account/password",
            &[
                ("csrf", &token),
                ("current_password", PASSWORD),
                ("new_password", "short"),
                ("confirm_password", "short"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = one
        .post(
            "/account/password",
            &[
                ("csrf", &token),
                ("current_password", PASSWORD),
                ("new_password", "một mật khẩu mới"),
                ("confirm_password", "một mật khẩu mới"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    // This browser stays in (a new session); the other is out.
    assert_eq!(one.get("/account").await.status(), StatusCode::OK);
    assert_eq!(two.get("/account").await.status(), StatusCode::SEE_OTHER);
    let mut three = Browser::new(&app);
    assert_eq!(
        three.try_sign_in("hoa", PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    three.sign_in("hoa", "một mật khẩu mới").await;
    // Signing out ends the session on the server, not only in the browser.
    let kept = one.cookies["pxhub_session"].clone();
    let token = one.session_csrf().await;
    let r = one.post("/sign-out", &[("csrf", &token)]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(!one.cookies.contains_key("pxhub_session"));
    one.cookies.insert("pxhub_session".into(), kept);
    assert_eq!(one.get("/account").await.status(), StatusCode::SEE_OTHER);
    assert_eq!(three.get("/account").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_idle_session_ends() {
    let app = TestApp::spawn_with(|s| s.session_idle_secs = 1).await;
    app.station("thai-nguyen", "provincial").await;
    add_person(&app, "thai-nguyen", "hoa", "Hoa", "editor", PASSWORD);
    let mut b = Browser::new(&app);
    b.sign_in("hoa", PASSWORD).await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_eq!(b.get("/account").await.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn the_session_id_is_stored_only_hashed() {
    let (app, _, _) = two_stations().await;
    let mut b = Browser::new(&app);
    b.sign_in("hoa", PASSWORD).await;
    let id = b.cookies["pxhub_session"].clone();
    let conn = rusqlite::Connection::open(app.catalog_path()).unwrap();
    let stored: Vec<u8> = conn
        .query_row("SELECT id_sha256 FROM sessions", [], |r| r.get(0))
        .unwrap();
    use sha2::Digest;
    assert_eq!(stored, sha2::Sha256::digest(id.as_bytes()).to_vec());
    let hash: String = conn
        .query_row("SELECT password_hash FROM people WHERE login = 'hoa'", [], |r| r.get(0))
        .unwrap();
    assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
}

/// Thái Nguyên's published "Thời sự" (its master: `abc`), and a viewer of
/// Cao Bằng signed in.
async fn a_viewer_of_cao_bang() -> (TestApp, serde_json::Value, Browser) {
    let (app, tn, _) = two_stations().await;
    add_person(&app, "cao-bang", "xem", "Người xem", "viewer", PASSWORD);
    let p = app.published(&tn, &program("Thời sự")).await;
    let mut b = Browser::new(&app);
    b.sign_in("xem", PASSWORD).await;
    (app, p, b)
}

#[tokio::test]
async fn a_viewer_finds_and_takes_but_does_not_offer() {
    let (app, p, mut b) = a_viewer_of_cao_bang().await;
    let home = b.text("/").await;
    assert!(home.contains("Thời sự"));
    assert!(!home.contains("href=\"/offer\""));
    assert_eq!(b.get("/offer").await.status(), StatusCode::FORBIDDEN);
    let token = b.session_csrf().await;
    let r = b
        .post(
            "/offer",
            &[
                ("csrf", &token),
                ("title", "X"),
                ("kind", "radio"),
                ("genre", "news"),
                ("languages", "vi"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = b
        .api(reqwest::Method::POST, "/api/v1/programs")
        .header("X-CSRF-Token", &token)
        .json(&program("X"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.count("programs"), 1);
    let r = b
        .api(
            reqwest::Method::GET,
            &format!("/api/v1/programs/{}/files/master", id(&p)),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.bytes().await.unwrap(), &b"abc"[..]);
}

/// A link on another site to a download (a top-level GET, which
/// `SameSite=Lax` lets the session cookie ride along with) does not act as
/// the signed-in person: no take is recorded for them. From the hub's own
/// page, or typed into the address bar, the same link works.
#[tokio::test]
async fn a_link_on_another_site_cannot_make_a_person_take_a_program() {
    let (app, p, b) = a_viewer_of_cao_bang().await;
    let master = format!("/api/v1/programs/{}/files/master", id(&p));
    let takes = |app: &TestApp| app.count("takes");
    for site in ["cross-site", "same-site", "Cross-Site"] {
        let r = b
            .api(reqwest::Method::GET, &master)
            .header("Sec-Fetch-Site", site)
            .header("Sec-Fetch-Mode", "navigate")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{site}");
        assert_eq!(takes(&app), 0, "{site}");
    }
    for site in ["same-origin", "none"] {
        let r = b
            .api(reqwest::Method::GET, &master)
            .header("Sec-Fetch-Site", site)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{site}");
        assert_eq!(r.bytes().await.unwrap(), &b"abc"[..]);
    }
    assert_eq!(takes(&app), 1);
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// The whole journey through the pages and the API with a session: offer
/// with Vietnamese metadata, upload (tus, session + CSRF header), publish;
/// another station finds it without marks, downloads it, reports a
/// rebroadcast; the owner's page shows who did what when.
#[tokio::test]
async fn offer_upload_publish_take_and_rebroadcast_through_the_pages() {
    let (app, _, _) = two_stations().await;
    let mut hoa = Browser::new(&app);
    hoa.sign_in("hoa", PASSWORD).await;
    let offer = hoa.text("/offer").await;
    for lang in ["Tày", "Nùng", "Mông", "Dao", "Thái", "(tyz)", "(hnj)"] {
        assert!(offer.contains(lang), "{lang}");
    }
    let token = csrf_of(&offer);
    // Errors from the API's validation, next to their fields.
    let r = hoa
        .post(
            "/offer",
            &[
                ("csrf", &token),
                ("title", "  "),
                ("kind", "radio"),
                ("genre", "news"),
                ("languages", "vi"),
                ("available_from", "2026-12-31"),
                ("available_until", "2026-01-01"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = r.text().await.unwrap();
    assert!(page.contains("id=\"title-error\""), "{page}");
    assert!(page.contains("aria-invalid=\"true\" aria-describedby=\"title-error\""));
    assert!(page.contains("id=\"available_until-error\""), "{page}");
    let r = hoa
        .post(
            "/offer",
            &[
                ("csrf", &token),
                ("title", "Phóng sự: Đường lên Định Hóa"),
                ("summary", "Về miền ATK"),
                ("tags", "Định Hóa, ATK"),
                ("kind", "radio"),
                ("genre", "report"),
                ("languages", "vi"),
                ("languages", "tyz"),
                ("duration_minutes", "25"),
                ("duration_seconds", "30"),
                ("producer", "Nguyễn Văn A"),
                ("audience", "cluster"),
                ("credit_required", "on"),
                ("terms", "Ghi rõ nguồn"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", r.text().await.unwrap());
    let upload_page = r.headers()[LOCATION].to_str().unwrap().to_owned();
    let program_id = upload_page.split('/').nth(2).unwrap().to_owned();
    assert!(hoa
        .text(&upload_page)
        .await
        .contains(&format!("data-program=\"{program_id}\"")));
    // The tus endpoint with the session: refused without X-CSRF-Token.
    let body = crate::helpers::bytes(300_000, 7);
    let meta = format!(
        "program {},role {},filename {},filetype {}",
        b64(&program_id),
        b64("master"),
        b64("Đường lên Định Hóa.mp3"),
        b64("audio/mpeg")
    );
    let create = |h: &Browser| {
        h.api(reqwest::Method::POST, "/api/v1/uploads")
            .header("Tus-Resumable", "1.0.0")
            .header("Upload-Length", body.len().to_string())
            .header("Upload-Metadata", meta.clone())
    };
    let r = create(&hoa).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let token = hoa.session_csrf().await;
    let r = create(&hoa).header("X-CSRF-Token", &token).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let location = r.headers()[LOCATION].to_str().unwrap().to_owned();
    let path = location.trim_start_matches(&app.address).to_owned();
    let r = hoa
        .api(reqwest::Method::PATCH, &path)
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Offset", "0")
        .header("Content-Type", "application/offset+octet-stream")
        .header("X-CSRF-Token", &token)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT, "{}", r.text().await.unwrap());
    let r = hoa
        .post(&format!("/programs/{program_id}/publish"), &[("csrf", &token)])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);

    // Cao Bằng finds it without marks, opens it, downloads it.
    let mut binh = Browser::new(&app);
    binh.sign_in("binh", PASSWORD).await;
    let found = binh.text("/?q=duong+len+dinh+hoa").await;
    assert!(found.contains("Phóng sự: Đường lên Định Hóa"), "{found}");
    assert!(found.contains("Cả cụm"));
    assert!(!found.contains("Đài đã khai thác"));
    // htmx asks for the results only.
    let r = binh
        .api(reqwest::Method::GET, "/?q=duong+len")
        .header("HX-Request", "true")
        .send()
        .await
        .unwrap();
    let part = r.text().await.unwrap();
    assert!(
        part.starts_with("<div id=\"results\"") && !part.contains("<html"),
        "{part}"
    );
    let page = binh.text(&format!("/programs/{program_id}")).await;
    assert!(page.contains("Tày") && page.contains("25 phút 30 giây") && page.contains("Ghi rõ nguồn"));
    assert!(page.contains(&format!("href=\"/api/v1/programs/{program_id}/files/master\" download")));
    // No analysis here, so no preview: no player streams the master.
    assert!(!page.contains("<audio") && page.contains("Chưa có bản nghe thử"));
    assert!(
        !page.contains(&format!("action=\"/programs/{program_id}/rebroadcasts\"")),
        "not taken yet"
    );
    let r = binh
        .api(
            reqwest::Method::GET,
            &format!("/api/v1/programs/{program_id}/files/master"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.bytes().await.unwrap(), body);
    // The take is recorded as the last bytes leave; the form follows it.
    let form = format!("action=\"/programs/{program_id}/rebroadcasts\"");
    let mut page = String::new();
    for _ in 0..100 {
        page = binh.text(&format!("/programs/{program_id}")).await;
        if page.contains(&form) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(page.contains(&form), "the taker gets the rebroadcast form");
    assert!(binh.text("/?q=duong+len").await.contains("Đài đã khai thác"));
    let token = meta_csrf(&page);
    let r = binh
        .post(
            &format!("/programs/{program_id}/rebroadcasts"),
            &[
                ("csrf", &token),
                ("aired_at", "2026-01-02T19:00"),
                ("channel", "CBTV1"),
                ("note", ""),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", r.text().await.unwrap());
    // The report is confirmed on the page it leads back to.
    let back = r.headers()[LOCATION].to_str().unwrap().to_owned();
    assert_eq!(back, format!("/programs/{program_id}?done=rebroadcast#rebroadcast"));
    let page = binh.text(back.split('#').next().unwrap()).await;
    assert!(page.contains("id=\"notice\">Đã ghi nhận báo cáo phát lại"), "{page}");

    // Thái Nguyên's page: the take, the rebroadcast, who did what when.
    let page = hoa.text(&format!("/programs/{program_id}")).await;
    assert!(page.contains("Đài cao-bang"));
    assert!(page.contains("CBTV1") && page.contains("02/01/2026 19:00"), "{page}");
    for what in ["Tạo bản nháp", "Tải lên", "Đăng", "Khai thác", "Báo cáo phát lại"] {
        assert!(page.contains(&format!("<td>{what}</td>")), "{what}");
    }
    assert!(page.contains("Nguyễn Thị Hoa (Đài thai-nguyen)") && page.contains("Lê Văn Bình (Đài cao-bang)"));
    let station = hoa.text("/station").await;
    assert!(station.contains("Phóng sự: Đường lên Định Hóa"));
    assert!(station.contains("id=\"given\"") && station.contains("Đài cao-bang"));
    // The report counts it, as a table, a chart and CSV.
    let year = chrono::Utc::now().format("%Y").to_string();
    let report = hoa.text(&format!("/report?year={year}")).await;
    assert!(report.contains("<svg class=\"chart\"") && report.contains("Đài thai-nguyen"));
    let r = hoa.get(&format!("/report.csv?year={year}")).await;
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = r.text().await.unwrap();
    assert!(csv.contains("thai-nguyen"));
    // The page's download says its columns in the page's words.
    assert!(
        csv.starts_with("\u{feff}Mã đài,Tên đài,Chương trình đã chia sẻ,"),
        "{csv}"
    );
    assert!(csv.contains("\r\nTỔNG,") && !csv.contains("taken_by_others"), "{csv}");
    // Withdrawing with a reason; the taker then sees why, and no download.
    let token = hoa.session_csrf().await;
    let r = hoa
        .post(
            &format!("/programs/{program_id}/withdraw"),
            &[("csrf", &token), ("reason", "Sai số liệu")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let page = binh.text(&format!("/programs/{program_id}")).await;
    assert!(page.contains("Chương trình đã bị thu hồi: Sai số liệu"));
    assert!(!page.contains(" download>"));
    assert!(hoa
        .text(&format!("/programs/{program_id}"))
        .await
        .contains("<td>Thu hồi</td>"));
}

#[tokio::test]
async fn the_catalog_keeps_rights_and_escapes_what_people_typed() {
    let (app, tn, _) = two_stations().await;
    app.published(&tn, &program("<script>alert(\"x\")</script> & 'quotes'"))
        .await;
    let mut national = program("Chỉ cho đài quốc gia");
    national["rights"] = json!({"audience": "national"});
    app.published(&tn, &national).await;
    let mut closed = program("Đã hết hạn khai thác");
    closed["rights"] = json!({"available_until": "2020-01-01T00:00:00Z"});
    let closed = app.published(&tn, &closed).await;
    let mut soon = program("Sắp hết hạn");
    soon["rights"] =
        json!({"available_until": (chrono::Utc::now() + chrono::Duration::hours(5 * 24 + 12)).to_rfc3339()});
    app.published(&tn, &soon).await;

    let mut binh = Browser::new(&app);
    binh.sign_in("binh", PASSWORD).await;
    let r = binh.get("/").await;
    let csp = r.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-inline"));
    assert_eq!(r.headers()["x-frame-options"], "DENY");
    let home = r.text().await.unwrap();
    assert!(!home.contains("<script>alert"), "escaped");
    assert!(
        home.contains("&#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62; &#38; &#39;quotes&#39;")
            || home.contains("&lt;script&gt;"),
        "{home}"
    );
    assert!(
        !home.contains("Chỉ cho đài quốc gia"),
        "national only: not for Cao Bằng"
    );
    assert!(home.contains("Hết hạn") && home.contains("Còn 5 ngày"));
    // Scripts only from the hub's own files.
    for tag in home.split("<script").skip(1) {
        assert!(tag.trim_start().starts_with("src=\"/assets/"), "{tag}");
    }
    let page = binh.text(&format!("/programs/{}", id(&closed))).await;
    assert!(page.contains("Hết thời gian khai thác từ ngày 01/01/2020"), "{page}");
    assert!(!page.contains(" download>"));
    // Facets as filters, with counts; Back works because the URL holds it all.
    assert!(home.contains("href=\"/?kind=radio\""), "{home}");
    let filtered = binh.text("/?genre=news&sort=title").await;
    assert!(filtered.contains("aria-current=\"true\""));
    // English.
    let en = binh.text("/?lang=en").await;
    assert!(en.contains("<html lang=\"en\">") && en.contains("Expired") && en.contains("5 days left"));
    // A national person finds the national-only program.
    app.station("vtv", "national").await;
    add_person(&app, "vtv", "vtv1", "Biên tập VTV", "viewer", PASSWORD);
    let mut v = Browser::new(&app);
    v.sign_in("vtv1", PASSWORD).await;
    assert!(v.text("/").await.contains("Chỉ cho đài quốc gia"));
}

#[tokio::test]
async fn assets_are_cached_for_a_year_and_gzipped() {
    let (app, _, _) = two_stations().await;
    let mut b = Browser::new(&app);
    let page = b.text("/sign-in").await;
    let htmx = page
        .split("src=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    assert!(
        htmx.starts_with("/assets/htmx-2.0.11.") && htmx.ends_with(".js"),
        "{htmx}"
    );
    let client = reqwest::Client::builder().no_gzip().build().unwrap();
    let r = client
        .get(format!("{}{htmx}", app.address))
        .header("Accept-Encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["cache-control"], "public, max-age=31536000, immutable");
    assert_eq!(r.headers()["content-encoding"], "gzip");
    let gz = r.bytes().await.unwrap();
    let r = client.get(format!("{}{htmx}", app.address)).send().await.unwrap();
    assert!(r.headers().get("content-encoding").is_none());
    let plain = r.bytes().await.unwrap();
    assert!(gz.len() * 2 < plain.len());
    let r = client
        .get(format!("{}/assets/htmx-2.0.11.000000.js", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let css = page
        .split("rel=\"stylesheet\" href=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    assert!(b.text(css).await.contains("--accent"));
}

#[tokio::test]
async fn the_operator_manages_stations_people_and_tokens_on_the_page() {
    let app = TestApp::spawn().await;
    let (ok, out, err) = person_add(&app, &["--operator", "--login", "admin", "--name", "Quản trị"], None);
    assert!(ok, "{err}");
    let mut b = Browser::new(&app);
    b.sign_in("admin", out.trim()).await;
    let token = b.session_csrf().await;
    let r = b
        .post(
            "/admin/stations",
            &[
                ("csrf", &token),
                ("id", "bac-kan"),
                ("name", "Đài PT-TH Bắc Kạn"),
                ("province", "Bắc Kạn"),
                ("kind", "provincial"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("Đài PT-TH Bắc Kạn"));
    let r = b
        .post(
            "/admin/people",
            &[
                ("csrf", &token),
                ("station", "bac-kan"),
                ("login", "mai"),
                ("name", "Mai"),
                ("role", "editor"),
            ],
        )
        .await;
    let page = r.text().await.unwrap();
    let password = page
        .split("<code id=\"secret\">")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap();
    let mut mai = Browser::new(&app);
    mai.sign_in("mai", password).await;
    let r = b
        .post(
            "/admin/tokens",
            &[("csrf", &token), ("station", "bac-kan"), ("label", "playout")],
        )
        .await;
    let page = r.text().await.unwrap();
    let issued = page
        .split("<code id=\"secret\">")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(app.get(&issued, "/api/v1/me").await.status(), StatusCode::OK);
    let token_id = issued.split('_').nth(1).unwrap();
    // The station's people see its tokens (never their secrets); others do not.
    let account = mai.text("/account").await;
    assert!(account.contains(token_id) && account.contains("playout") && !account.contains(&issued));
    assert!(b.text("/admin").await.contains(token_id));
    app.station("cao-bang", "provincial").await;
    add_person(&app, "cao-bang", "binh", "Bình", "editor", PASSWORD);
    let mut binh = Browser::new(&app);
    binh.sign_in("binh", PASSWORD).await;
    assert!(!binh.text("/account").await.contains(token_id));
    let r = b
        .post("/admin/tokens/revoke", &[("csrf", &token), ("token_id", token_id)])
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(app.get(&issued, "/api/v1/me").await.status(), StatusCode::UNAUTHORIZED);
    // A station's person is no operator.
    assert_eq!(mai.get("/admin").await.status(), StatusCode::FORBIDDEN);
    let t = mai.session_csrf().await;
    assert_eq!(
        mai.post("/admin/stations", &[("csrf", &t), ("id", "x-y")])
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn the_catalog_pages_with_a_cursor_in_the_url() {
    let (app, tn, _) = two_stations().await;
    for i in 0..23 {
        let mut p = program(&format!("Bản tin số {i:02}"));
        p["genre"] = json!(if i % 2 == 0 { "news" } else { "culture" });
        app.published(&tn, &p).await;
    }
    let mut b = Browser::new(&app);
    b.sign_in("binh", PASSWORD).await;
    let first = b.text("/?sort=title&q=ban+tin").await;
    assert!(first.contains("23 chương trình"), "{first}");
    assert!(first.contains("Bản tin số 00") && !first.contains("Bản tin số 22"));
    let next = first
        .split("rel=\"next\"")
        .next()
        .unwrap()
        .rsplit("href=\"")
        .next()
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .replace("&#38;", "&");
    assert_eq!(next, "/?q=ban+tin&sort=title&page=2");
    let second = b.text(&next).await;
    assert!(second.contains("Bản tin số 22") && !second.contains("Bản tin số 00"));
    assert!(!second.contains("rel=\"next\""), "the last page");
    assert!(second.contains("Trang trước"));
    // Facet links keep the search, drop the cursor, and never carry empty values.
    let facets = b.text("/?q=ban+tin&sort=&available=").await;
    let facets = facets.replace("&#38;", "&");
    assert!(facets.contains("href=\"/?q=ban+tin&genre=news\""), "{facets}");
    let aside = facets.split("<aside").nth(1).unwrap().split("</aside>").next().unwrap();
    assert!(
        !aside.contains("sort=") && !aside.contains("available=&") && !aside.contains("available=\""),
        "{aside}"
    );
    // The "available now" facet adds the filter to the search, with nothing empty.
    assert!(aside.contains("href=\"/?q=ban+tin&available=now\""), "{aside}");
    let news = b.text("/?q=ban+tin&genre=news").await;
    assert!(news.contains("12 chương trình"), "{news}");
    // A forged cursor falls back to the first page.
    assert!(b.text("/?q=ban+tin&cursor=forged").await.contains("Bản tin số"));
}

/// "Theo dõi chương trình này": from a program's page a station's person
/// follows its series (or its station when it has none) through the follows
/// use-case; "My station" lists the follow and stops it; without the CSRF
/// token nothing changes.
#[tokio::test]
async fn a_program_page_follows_its_series_and_my_station_unfollows() {
    let (app, tn, cb) = two_stations().await;
    let mut body = program("Nông nghiệp xanh số 12");
    body["series"] = json!("Nông nghiệp xanh");
    let p = app.published(&tn, &body).await;
    let lone = app.published(&tn, &program("Thời sự sáng")).await;
    let mut b = Browser::new(&app);
    b.sign_in("binh", PASSWORD).await;
    let path = format!("/programs/{}", id(&p));
    let page = b.text(&path).await;
    assert!(page.contains("Theo dõi chương trình này"), "{page}");
    assert!(page.contains("Nông nghiệp xanh"));
    assert!(!page.contains("id=\"following\""));
    let follow = format!("{path}/follow");

    // Without the token (or with a forged one): refused, nothing followed.
    for form in [vec![], vec![("csrf", "forged")]] {
        let r = b.post(&follow, &form).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
    }
    assert_eq!(app.count("follows"), 0);

    let token = b.session_csrf().await;
    let r = b.post(&follow, &[("csrf", &token)]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    // Twice is still one follow.
    let r = b.post(&follow, &[("csrf", &token)]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let page = b.text(&path).await;
    assert!(page.contains("id=\"following\""));
    assert!(page.contains("Đang theo dõi"));
    assert!(!page.contains("Theo dõi chương trình này"));

    // The API sees it, for Cao Bằng's token and not Thái Nguyên's.
    let r = app.get(&cb, "/api/v1/follows").await;
    assert_eq!(r.status(), StatusCode::OK);
    let list: serde_json::Value = r.json().await.unwrap();
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{list}");
    assert_eq!(items[0]["kind"], "series");
    assert_eq!(items[0]["value"], "Nông nghiệp xanh");
    assert_eq!(items[0]["deliver"], false);
    assert_eq!(items[0]["roles"], json!(["master"]));
    let follow_id = items[0]["id"].as_str().unwrap().to_owned();
    let theirs: serde_json::Value = app.get(&tn, "/api/v1/follows").await.json().await.unwrap();
    assert_eq!(theirs["items"].as_array().unwrap().len(), 0);

    // A program without a series offers its station.
    let lone_path = format!("/programs/{}", id(&lone));
    let r = b.post(&format!("{lone_path}/follow"), &[("csrf", &token)]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let list: serde_json::Value = app.get(&cb, "/api/v1/follows").await.json().await.unwrap();
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[1]["kind"], "station");
    assert_eq!(items[1]["value"], "thai-nguyen");

    // My station lists both, in words.
    let station = b.text("/station").await;
    assert!(station.contains("Chuyên mục"), "{station}");
    assert!(station.contains("Nông nghiệp xanh"));
    assert!(station.contains("Bản gốc"), "{station}");
    assert!(station.contains(&format!("value=\"{follow_id}\"")));

    // Unfollowing: without the token refused and nothing changes.
    let r = b.post("/station/unfollow", &[("id", &follow_id)]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.count("follows"), 2);
    // Someone else's id (or none): not found, nothing changes.
    let r = b.post("/station/unfollow", &[("csrf", &token), ("id", "nope")]).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.count("follows"), 2);
    let r = b
        .post("/station/unfollow", &[("csrf", &token), ("id", &follow_id)])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let list: serde_json::Value = app.get(&cb, "/api/v1/follows").await.json().await.unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["items"][0]["kind"], "station");
    let station = b.text("/station").await;
    assert!(!station.contains(&format!("value=\"{follow_id}\"")));
    let page = b.text(&path).await;
    assert!(page.contains("Theo dõi chương trình này"));

    // The owner's own page offers no follow.
    let mut owner = Browser::new(&app);
    owner.sign_in("hoa", PASSWORD).await;
    let page = owner.text(&path).await;
    assert!(!page.contains("Theo dõi chương trình này"));
}

/// Without analysis (no workers) a file shows "pending" in words and no
/// player: the page never streams a master (that would be a take).
#[tokio::test]
async fn a_file_waiting_for_analysis_shows_pending_and_no_player() {
    let (app, tn, _) = two_stations().await;
    let p = app.published(&tn, &program("Chưa phân tích")).await;
    let mut b = Browser::new(&app);
    b.sign_in("binh", PASSWORD).await;
    let page = b.text(&format!("/programs/{}", id(&p))).await;
    assert!(page.contains("Phân tích: đang chờ phân tích"), "{page}");
    assert!(page.contains("Chưa có bản nghe thử"));
    assert!(!page.contains("<audio") && !page.contains("<video"), "{page}");
    // The download stays (a take, when the person asks for it).
    let master = format!("/api/v1/programs/{}/files/master", id(&p));
    assert!(page.contains(&format!("href=\"{master}\" download")));
    let page = b.text(&format!("/programs/{}?lang=en", id(&p))).await;
    assert!(page.contains("Analysis: pending analysis"), "{page}");
}

/// Once analysed, the player plays the preview (never the master's download,
/// so hearing is no take), and the analysis shows in words: state, duration,
/// codec, loudness in LUFS, LU and dBTP, the QC verdict.
#[tokio::test]
async fn the_program_page_plays_the_preview_and_tells_the_analysis() {
    if !crate::analysis::ffmpeg_or_skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let app = crate::analysis::analysed_app(|_| {}).await;
    let tn = app.station("thai-nguyen", "provincial").await;
    app.station("cao-bang", "provincial").await;
    add_person(&app, "cao-bang", "binh", "Lê Văn Bình", "editor", PASSWORD);
    let p = crate::analysis::upload(
        &app,
        &tn,
        &program("Bản tin có tiếng"),
        "audio/wav",
        "tin.wav",
        crate::analysis::wav(dir.path()),
    )
    .await;
    let a = crate::analysis::analysis_of(&app, &tn, &p, "master").await;
    assert_eq!(a["state"], "done", "{a}");
    let r = app
        .post(&tn, &format!("/api/v1/programs/{p}/publish"), &json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let preview = format!("/api/v1/programs/{p}/files/master/preview");
    let mut ready = false;
    for _ in 0..600 {
        if app.get(&tn, &preview).await.status() == StatusCode::OK {
            ready = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(ready, "the preview was not made");

    let mut b = Browser::new(&app);
    b.sign_in("binh", PASSWORD).await;
    let page = b.text(&format!("/programs/{p}")).await;
    assert!(
        page.contains(&format!("<audio controls preload=\"none\" src=\"{preview}\"")),
        "{page}"
    );
    let master = format!("/api/v1/programs/{p}/files/master");
    assert!(
        !page.contains(&format!("src=\"{master}\"")),
        "the master is never streamed"
    );
    assert!(!page.contains("Chưa có bản nghe thử"));
    assert!(page.contains("Phân tích: đã phân tích"), "{page}");
    assert!(page.contains("pcm_s16le"));
    assert!(page.contains("48.000 Hz"), "{page}");
    assert!(page.contains("2 kênh"));
    assert!(page.contains("6 giây"), "{page}");
    assert!(page.contains("-23,0 LUFS") || page.contains("−23,0 LUFS"), "{page}");
    assert!(page.contains(" LU ·") && page.contains("dBTP"));
    assert!(page.contains("Kiểm tra kỹ thuật: đạt"), "{page}");
    // Hearing the preview from the page is no take.
    let r = b.api(reqwest::Method::GET, &preview).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.bytes().await.unwrap();
    let takes: serde_json::Value = app
        .get(&tn, &format!("/api/v1/programs/{p}/takes"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(takes["takes"].as_array().map(Vec::len), Some(0), "{takes}");
}

/// The administration page lists every webhook (subscriber, URL, events,
/// state) and removes one through the webhook use-case; only operators, and
/// only with the CSRF token.
#[tokio::test]
async fn the_operator_sees_and_removes_webhooks_on_the_page() {
    let (app, tn, _) = two_stations().await;
    let url = "http://127.0.0.1:9/pxhub-hook";
    let r = app
        .post(
            &tn,
            "/api/v1/webhooks",
            &json!({"url": url, "events": ["program.published"]}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
    let hook: serde_json::Value = r.json().await.unwrap();
    let hook_id = hook["id"].as_str().unwrap().to_owned();
    let live = || async {
        let list: serde_json::Value = app.get(&tn, "/api/v1/webhooks").await.json().await.unwrap();
        list["items"].as_array().unwrap().len()
    };

    // A station's editor: no administration, and the form is refused.
    let mut editor = Browser::new(&app);
    editor.sign_in("hoa", PASSWORD).await;
    assert_eq!(editor.get("/admin").await.status(), StatusCode::FORBIDDEN);
    let token = editor.session_csrf().await;
    let r = editor
        .post("/admin/webhooks/remove", &[("csrf", &token), ("webhook_id", &hook_id)])
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(live().await, 1);

    let (ok, out, err) = person_add(&app, &["--operator", "--login", "admin", "--name", "Quản trị"], None);
    assert!(ok, "{err}");
    let mut b = Browser::new(&app);
    b.sign_in("admin", out.trim()).await;
    let page = b.text("/admin").await;
    assert!(page.contains(url), "{page}");
    assert!(page.contains("program.published"));
    assert!(
        page.contains("Đang hoạt động; lần gửi cuối: chưa gửi lần nào"),
        "{page}"
    );
    assert!(page.contains(&format!("value=\"{hook_id}\"")));
    // Without the token: refused, nothing removed.
    let r = b.post("/admin/webhooks/remove", &[("webhook_id", &hook_id)]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(live().await, 1);
    // An unknown subscription: said on the page, nothing removed.
    let token = b.session_csrf().await;
    let r = b
        .post("/admin/webhooks/remove", &[("csrf", &token), ("webhook_id", "nope")])
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(live().await, 1);
    let r = b
        .post("/admin/webhooks/remove", &[("csrf", &token), ("webhook_id", &hook_id)])
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.unwrap();
    assert!(page.contains(&format!("Đã gỡ webhook {hook_id}")), "{page}");
    assert!(!page.contains(url));
    assert_eq!(live().await, 0);
}

/// The "available now" filter shows its count like the other facets: what
/// the viewer may take now (not a program whose window opens later), and it
/// toggles the filter.
#[tokio::test]
async fn the_available_now_filter_shows_its_count() {
    let (app, tn, _) = two_stations().await;
    app.published(&tn, &program("Mở ngay")).await;
    app.published(&tn, &program("Cũng mở")).await;
    let mut later = program("Mở tuần sau");
    later["rights"] = json!({
        "audience": "cluster",
        "available_from": (chrono::Utc::now() + chrono::Duration::days(7)).to_rfc3339(),
    });
    app.published(&tn, &later).await;
    let mut b = Browser::new(&app);
    b.sign_in("binh", PASSWORD).await;
    let page = b.text("/").await;
    assert!(page.contains("Mở tuần sau"));
    assert!(
        page.contains("<a href=\"/?available=now\" >Khai thác được ngay <span class=\"count\">(2)</span></a>"),
        "{page}"
    );
    let page = b.text("/?available=now").await;
    assert!(!page.contains("Mở tuần sau"));
    assert!(
        page.contains("✓ Khai thác được ngay <span class=\"count\">(2)</span>"),
        "{page}"
    );
    // The owner may take its own at any time: all three count.
    let mut owner = Browser::new(&app);
    owner.sign_in("hoa", PASSWORD).await;
    let page = owner.text("/").await;
    assert!(
        page.contains("Khai thác được ngay <span class=\"count\">(3)</span>"),
        "{page}"
    );
}

/// `/admin/profiles`: the operator lists, adds and removes the delivery
/// profiles in Vietnamese; what FFmpeg cannot make is refused field by
/// field in the page's words and changes nothing; a profile in use stays;
/// a station's people may not come in.
#[tokio::test]
async fn the_operator_keeps_the_delivery_profiles_on_the_page() {
    let (app, tn, _) = two_stations().await;
    let (ok, out, err) = person_add(&app, &["--operator", "--login", "admin", "--name", "Quản trị"], None);
    assert!(ok, "{err}");
    let mut b = Browser::new(&app);
    b.sign_in("admin", out.trim()).await;
    let page = b.text("/admin").await;
    assert!(page.contains("href=\"/admin/profiles\""), "linked from /admin");
    let page = b.text("/admin/profiles").await;
    assert!(
        page.contains("Định dạng nhận") && page.contains("WAV phát sóng"),
        "{page}"
    );
    let token = b.session_csrf().await;
    let good = [
        ("csrf", token.as_str()),
        ("id", "bwf-mp2-r128"),
        ("name", "MP2 phát sóng R128"),
        ("container", "bwf"),
        ("audio_codec", "mp2"),
        ("sample_rate", ""),
        ("bit_depth", ""),
        ("channels", ""),
        ("loudness", "target"),
        ("target_lufs", "−23"),
        ("max_true_peak_dbtp", "-1"),
    ];
    let r = b.post("/admin/profiles", &good).await;
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.unwrap();
    assert!(page.contains("Đã thêm định dạng nhận “MP2 phát sóng R128”"), "{page}");
    assert!(
        page.contains("MPEG-1 Layer II 48000 Hz, hai kênh") && page.contains("−23,0 LUFS, đỉnh thực ≤ −1,0 dBTP"),
        "{page}"
    );
    let listed: serde_json::Value = app.get(&tn, "/api/v1/profiles").await.json().await.unwrap();
    assert_eq!(
        listed["items"][0]["loudness"],
        json!({"target_lufs": -23.0, "max_true_peak_dbtp": -1.0})
    );

    // What FFmpeg cannot make: each said in the page's words, nothing kept.
    let with = |changes: &[(&'static str, &'static str)]| {
        let mut f: Vec<(&str, &str)> = good.to_vec();
        for (k, v) in changes {
            f.iter_mut().find(|(name, _)| name == k).unwrap().1 = v;
        }
        f
    };
    for (changes, says) in [
        (
            vec![("id", "x1"), ("sample_rate", "96000")],
            "Tần số lấy mẫu (Hz): chỉ nhận 8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000.",
        ),
        (
            vec![("id", "x2"), ("bit_depth", "16")],
            "Số bit (PCM): chỉ PCM mới có số bit",
        ),
        (
            vec![("id", "x3"), ("container", "keep")],
            "Giữ nguyên tệp gốc thì không chọn mã hóa",
        ),
        (
            vec![("id", "x4"), ("audio_codec", "aac")],
            "Mã hóa âm thanh: chỉ nhận pcm / mp2.",
        ),
        (vec![("id", "x5"), ("target_lufs", "to")], "Độ lớn đích (LUFS): "),
        (vec![("id", "X 6")], "Mã định dạng: phải là chữ thường không dấu"),
    ] {
        let r = b.post("/admin/profiles", &with(&changes)).await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{changes:?}");
        let page = r.text().await.unwrap();
        assert!(page.contains(says), "{changes:?}: {page}");
    }
    assert_eq!(app.count("profiles"), 1);
    let r = b.post("/admin/profiles", &good).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(r.text().await.unwrap().contains("Đã có định dạng nhận mang mã này."));

    // In use as a station's default: it stays until unset there.
    let r = app
        .patch(
            &app.admin,
            "/api/v1/stations/thai-nguyen",
            &json!({"default_profile": "bwf-mp2-r128"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let remove = [("csrf", token.as_str()), ("id", "bwf-mp2-r128")];
    let r = b.post("/admin/profiles/remove", &remove).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(r.text().await.unwrap().contains("Định dạng này đang được dùng"));
    assert_eq!(app.count("profiles"), 1);
    let r = app
        .patch(
            &app.admin,
            "/api/v1/stations/thai-nguyen",
            &json!({"default_profile": null}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = b.post("/admin/profiles/remove", &remove).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("Đã xóa định dạng nhận bwf-mp2-r128."));
    assert_eq!(app.count("profiles"), 0);

    // A station's editor may not come in.
    let mut hoa = Browser::new(&app);
    hoa.sign_in("hoa", PASSWORD).await;
    assert_eq!(hoa.get("/admin/profiles").await.status(), StatusCode::FORBIDDEN);
    let t = hoa.session_csrf().await;
    let r = hoa
        .post(
            "/admin/profiles",
            &[("csrf", &t), ("id", "x"), ("name", "x"), ("container", "mp3")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.count("profiles"), 0);
}
