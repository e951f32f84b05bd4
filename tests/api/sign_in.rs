//! Signing in under load and under attack: a burst of sign-ins neither
//! exhausts the hub's memory nor verifies more passwords than the lockout
//! allows.

use futures_util::future::join_all;
use reqwest::header::{COOKIE, RETRY_AFTER, SET_COOKIE};
use reqwest::StatusCode;

use crate::helpers::TestApp;
use crate::web::{add_person, csrf_of};

/// A pre-session (its cookie header) and the sign-in form's CSRF token.
pub async fn pre_session(client: &reqwest::Client, base: &str) -> (String, String) {
    let r = client.get(format!("{base}/sign-in")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let cookie = r.headers()[SET_COOKIE].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let page = r.text().await.unwrap();
    (cookie, csrf_of(&page))
}

/// Posts the sign-in form; the status and `Retry-After` of the answer.
pub async fn post_sign_in(
    client: &reqwest::Client,
    base: &str,
    pre: &(String, String),
    login: &str,
    password: &str,
) -> (StatusCode, Option<u64>, String) {
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("login", login),
            ("password", password),
            ("csrf", &pre.1),
            ("next", "/"),
        ])
        .finish();
    let r = client
        .post(format!("{base}/sign-in"))
        .header(COOKIE, &pre.0)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let retry = r
        .headers()
        .get(RETRY_AFTER)
        .map(|v| v.to_str().unwrap().parse().unwrap());
    (status, retry, r.text().await.unwrap())
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// `VmHWM` (peak) and `VmRSS` (now) of process `pid`, in KiB.
fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| -> u64 {
        let line = status.lines().find(|l| l.starts_with(name)).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    (field("VmHWM:"), field("VmRSS:"))
}

#[tokio::test]
async fn a_hundred_sign_ins_at_once_keep_memory_bounded_and_the_rest_are_told_to_retry() {
    use crate::procs::{free_port, serve_env, HubProcess};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let storage = pxhub::config::StorageSettings::Local { path: None };
    let port = free_port();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_pxhub"));
    cmd.arg("serve").envs(serve_env(&data, port, &storage));
    let hub = HubProcess::start(cmd, port, &dir.path().join("hub.log")).await;
    let client = no_redirects();
    let pre = pre_session(&client, &hub.address).await;

    let answers = join_all((0..100).map(|i| {
        let (client, base, pre) = (&client, &hub.address, &pre);
        async move { post_sign_in(client, base, pre, &format!("nobody-{i}"), "not a password at all").await }
    }))
    .await;
    let (peak, now) = memory_kib(hub.pid());
    eprintln!(
        "100 sign-ins at once: peak RSS {} MiB, {} MiB after",
        peak / 1024,
        now / 1024
    );
    let refused: Vec<_> = answers
        .iter()
        .filter(|a| a.0 == StatusCode::TOO_MANY_REQUESTS)
        .collect();
    for (status, retry, _) in &answers {
        assert!(
            *status == StatusCode::UNAUTHORIZED || *status == StatusCode::TOO_MANY_REQUESTS,
            "{status}"
        );
        assert_eq!(retry.is_some(), *status == StatusCode::TOO_MANY_REQUESTS);
    }
    assert!(!refused.is_empty(), "beyond the queue, sign-ins are refused");
    assert!(refused
        .iter()
        .all(|a| a.1.unwrap() >= 1 && a.2.contains("nhiều người đăng nhập")));
    assert!(answers.len() - refused.len() >= 2, "those in the queue are checked");
    assert!(peak < 300 * 1024, "peak RSS {} MiB", peak / 1024);

    // Told to retry, they get in once the burst is over.
    let (status, _, _) = post_sign_in(&client, &hub.address, &pre, "nobody-again", "wrong").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn sign_ins_at_once_verify_no_more_passwords_than_the_lockout_allows() {
    let app = TestApp::spawn_with(|s| s.sign_in_lock_after = 3).await;
    app.station("thai-nguyen", "provincial").await;
    add_person(&app, "thai-nguyen", "hoa", "Hoa", "editor", "mật khẩu thật dài");
    let client = no_redirects();
    let pre = pre_session(&client, &app.address).await;
    // Eleven wrong passwords at once, and the right one a moment after,
    // while they are being checked: once three are counted, no more is
    // checked, the right one neither.
    let wrong = join_all((0..11).map(|i| {
        let (client, base, pre) = (&client, &app.address, &pre);
        async move { post_sign_in(client, base, pre, "hoa", &format!("wrong password {i}")).await }
    }));
    let right = async {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        post_sign_in(&client, &app.address, &pre, "hoa", "mật khẩu thật dài").await
    };
    let (answers, right) = tokio::join!(wrong, right);
    assert_eq!(
        right.0,
        StatusCode::TOO_MANY_REQUESTS,
        "the right password came after the limit"
    );
    assert!(right.1.is_some());
    let unauthorized = answers.iter().filter(|a| a.0 == StatusCode::UNAUTHORIZED).count();
    let locked = answers
        .iter()
        .filter(|a| a.0 == StatusCode::TOO_MANY_REQUESTS && a.2.contains("sai quá nhiều lần"))
        .count();
    // The first two fail, the third locks; none past it is checked.
    assert_eq!(unauthorized, 2, "{:?}", answers.iter().map(|a| a.0).collect::<Vec<_>>());
    assert_eq!(unauthorized + locked, answers.len());
    assert!(answers
        .iter()
        .all(|a| a.0 != StatusCode::TOO_MANY_REQUESTS || a.1.is_some()));
    // Locked: even the right password.
    let (status, retry, _) = post_sign_in(&client, &app.address, &pre, "hoa", "mật khẩu thật dài").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(retry.unwrap() > 60);
}

#[tokio::test]
async fn next_with_control_characters_goes_home_not_off_site_or_to_a_500() {
    use crate::web::Browser;
    let app = TestApp::spawn().await;
    app.station("thai-nguyen", "provincial").await;
    add_person(&app, "thai-nguyen", "hoa", "Hoa", "editor", "mật khẩu thật dài");
    let client = no_redirects();
    let pre = pre_session(&client, &app.address).await;
    for (i, next) in [
        "/\t/evil.example",
        "/\n/evil.example",
        "/\u{7f}x",
        "/\u{b}",
        "/\\evil.example",
    ]
    .into_iter()
    .enumerate()
    {
        let login = format!("nobody-{i}");
        let body: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("login", login.as_str()),
                ("password", "wrong"),
                ("csrf", &pre.1),
                ("next", next),
            ])
            .finish();
        let r = client
            .post(format!("{}/sign-in", app.address))
            .header(COOKIE, &pre.0)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{next:?}");
        let page = r.text().await.unwrap();
        assert!(page.contains(r#"name="next" value="/""#), "{next:?}");
    }
    let mut b = Browser::new(&app);
    b.sign_in("hoa", "mật khẩu thật dài").await;
    for (next, to) in [
        ("/%09/evil.example", "/"),
        ("/%0A/evil.example", "/"),
        ("/%0D/x", "/"),
        ("/%0B/x", "/"),
        ("/%7F/x", "/"),
        ("/programs/Th%E1%BB%9Di", "/programs/Th%E1%BB%9Di"),
        ("/station%3Flang%3Den", "/station?lang=en"),
    ] {
        let r = b.get(&format!("/sign-in?next={next}")).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{next}");
        assert_eq!(r.headers()["location"], to, "{next}");
    }
}

#[tokio::test]
async fn a_session_ends_after_its_lifetime_however_much_it_is_used() {
    use crate::web::Browser;
    let app = TestApp::spawn_with(|s| s.session_max_secs = 2).await;
    app.station("thai-nguyen", "provincial").await;
    add_person(&app, "thai-nguyen", "hoa", "Hoa", "editor", "mật khẩu thật dài");
    let mut b = Browser::new(&app);
    b.sign_in("hoa", "mật khẩu thật dài").await;
    // Used all along (never idle), it still ends.
    let mut ended = false;
    for _ in 0..40 {
        match b.get("/account").await.status() {
            StatusCode::OK => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
            StatusCode::SEE_OTHER => {
                ended = true;
                break;
            }
            other => panic!("{other}"),
        }
    }
    assert!(ended, "the session outlived session_max_secs");
}

#[tokio::test]
async fn answers_that_carry_secrets_are_not_cached() {
    let app = TestApp::spawn().await;
    let tn = app.station("thai-nguyen", "provincial").await;
    let r = app.get(&tn, "/api/v1/me").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let r = app
        .post(
            &app.admin,
            "/api/v1/stations/thai-nguyen/tokens",
            &serde_json::json!({"role": "station", "label": "máy kéo"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
    assert_eq!(r.headers()["cache-control"], "no-store");
}

/// Locks `login` with three wrong passwords (sign_in_lock_after = 3).
async fn lock(client: &reqwest::Client, app: &TestApp, pre: &(String, String), login: &str) {
    for _ in 0..3 {
        post_sign_in(client, &app.address, pre, login, "wrong password").await;
    }
    let (status, _, _) = post_sign_in(client, &app.address, pre, login, "mật khẩu thật dài").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{login} is locked");
}

#[tokio::test]
async fn the_operator_unlocks_a_login_on_the_admin_page_and_the_command_line() {
    use crate::web::{person_add, Browser};
    let app = TestApp::spawn_with(|s| s.sign_in_lock_after = 3).await;
    app.station("thai-nguyen", "provincial").await;
    add_person(&app, "thai-nguyen", "hoa", "Hoa", "editor", "mật khẩu thật dài");
    let (ok, _, err) = person_add(
        &app,
        &["--operator", "--login", "mai", "--name", "Mai"],
        Some("mật khẩu của mai\n"),
    );
    assert!(ok, "{err}");
    let client = no_redirects();
    let pre = pre_session(&client, &app.address).await;

    lock(&client, &app, &pre, "hoa").await;
    let mut mai = Browser::new(&app);
    mai.sign_in("mai", "mật khẩu của mai").await;
    let token = mai.session_csrf().await;
    let r = mai
        .post("/admin/people/unlock", &[("csrf", token.as_str()), ("login", "Hoa")])
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("Hoa có thể đăng nhập lại"));
    let (status, _, _) = post_sign_in(&client, &app.address, &pre, "hoa", "mật khẩu thật dài").await;
    assert_eq!(status, StatusCode::SEE_OTHER, "unlocked on the page");
    // Only the operator may.
    let mut hoa = Browser::new(&app);
    hoa.sign_in("hoa", "mật khẩu thật dài").await;
    let token = hoa.session_csrf().await;
    let r = hoa
        .post("/admin/people/unlock", &[("csrf", token.as_str()), ("login", "hoa")])
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    lock(&client, &app, &pre, "hoa").await;
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_pxhub"))
        .arg("--data-dir")
        .arg(app.dir.path().join("data"))
        .args(["person", "unlock", "--login", "hoa"])
        .env_remove("PXHUB_DATA_DIR")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("unlocked hoa"));
    let (status, _, _) = post_sign_in(&client, &app.address, &pre, "hoa", "mật khẩu thật dài").await;
    assert_eq!(status, StatusCode::SEE_OTHER, "unlocked on the command line");
}

#[tokio::test]
async fn one_address_trying_many_logins_is_refused_after_its_limit() {
    let app = TestApp::spawn_with(|s| {
        s.sign_in_lock_after = 5;
        s.sign_in_address_limit = 4;
    })
    .await;
    app.station("thai-nguyen", "provincial").await;
    add_person(&app, "thai-nguyen", "hoa", "Hoa", "editor", "mật khẩu thật dài");
    let client = no_redirects();
    let pre = pre_session(&client, &app.address).await;
    // One try each at four logins: no login locks, the address does.
    for login in ["an", "binh", "chi", "dung"] {
        let (status, _, _) = post_sign_in(&client, &app.address, &pre, login, "1234567890").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{login}");
    }
    let (status, retry, page) = post_sign_in(&client, &app.address, &pre, "hoa", "mật khẩu thật dài").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(retry.unwrap() > 60);
    assert!(page.contains("sai quá nhiều lần"));
}
