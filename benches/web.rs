//! The web page's figures, each as a ratio against a baseline measured in
//! the same run: the catalog page's server time against the API search of
//! the same query (target: the page at most 1.5× the API's p95, i.e. API ÷
//! page ≥ 0.67), and the bytes a browser fetches for the catalog page on a
//! first visit (page + assets, gzipped) and on a later one (assets cached),
//! against the budgets of 120 KB and 20 KB.
//!
//! `cargo bench --bench web` (5,000 programs, 300 timed pairs);
//! `-- --quick` (300 programs, 60 pairs). The catalog is built through the
//! API, so it is smaller than the search bench's 100k.

mod common;

use std::time::Instant;

use common::{print_problems, print_table, pxhub, Hub, Row};

const PASSWORD: &str = "mật khẩu cho bench";

fn p95(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    v[((v.len() as f64 * 0.95).ceil() as usize)
        .saturating_sub(1)
        .min(v.len() - 1)]
}

fn cookie_of(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| {
            c.strip_prefix(&format!("{name}="))?
                .split(';')
                .next()
                .map(str::to_owned)
        })
}

async fn sign_in(client: &reqwest::Client, base: &str) -> String {
    let r = client
        .get(format!("{base}/sign-in"))
        .send()
        .await
        .expect("sign-in page");
    let pre = cookie_of(&r, "pxhub_pre").expect("a pre-session cookie");
    let page = r.text().await.expect("the page");
    let at = page.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
    let csrf = page[at..].split('"').next().expect("a token").to_owned();
    let r = client
        .post(format!("{base}/sign-in"))
        .header("Cookie", format!("pxhub_pre={pre}"))
        .form(&[
            ("login", "bench"),
            ("password", PASSWORD),
            ("csrf", &csrf),
            ("next", "/"),
        ])
        .send()
        .await
        .expect("sign in");
    assert_eq!(r.status().as_u16(), 303, "signing in");
    cookie_of(&r, "pxhub_session").expect("a session cookie")
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let (programs, pairs) = if quick { (300, 60) } else { (5_000, 300) };
    common::main_with("bench-web", false, |root, rt| {
        let mut problems = Vec::new();
        let hub = Hub::start(&root.join("hub"));
        let mut cmd = pxhub(&hub.dir);
        cmd.args([
            "person",
            "add",
            "--station",
            "bench",
            "--login",
            "bench",
            "--name",
            "Bench",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
        let mut child = cmd.spawn().expect("pxhub person add");
        std::io::Write::write_all(
            &mut child.stdin.take().expect("stdin"),
            format!("{PASSWORD}\n").as_bytes(),
        )
        .expect("the password");
        assert!(child.wait().expect("person add").success(), "person add");
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_gzip()
            .build()
            .expect("client");
        eprintln!("making {programs} programs through the API…");
        rt.block_on(async {
            let words = [
                "Thời sự",
                "Phóng sự",
                "Nông nghiệp",
                "Định Hóa",
                "Văn hóa Tày",
                "Bản tin",
            ];
            for i in 0..programs {
                let title = format!("{} số {i} {}", words[i % words.len()], words[(i / 7) % words.len()]);
                let id = hub.new_program(&client, &title, &["bench"]).await;
                hub.publish_small(&client, &id).await;
            }
        });
        let session = rt.block_on(sign_in(&client, &hub.base));
        let cookie = format!("pxhub_session={session}");
        let query = "q=thoi+su&sort=newest";
        let (mut page_ms, mut api_ms) = (Vec::new(), Vec::new());
        rt.block_on(async {
            for i in 0..pairs + 10 {
                let t = Instant::now();
                let r = client
                    .get(format!("{}/?{query}", hub.base))
                    .header("Cookie", &cookie)
                    .send()
                    .await
                    .expect("the page");
                let ok = r.status().as_u16() == 200 && r.bytes().await.expect("its body").len() > 1000;
                let page = t.elapsed().as_secs_f64() * 1e3;
                let t = Instant::now();
                let r = client
                    .get(format!("{}/api/v1/programs?{query}", hub.base))
                    .header("Authorization", hub.auth())
                    .send()
                    .await
                    .expect("the API");
                let ok = ok && r.status().as_u16() == 200 && !r.bytes().await.expect("its body").is_empty();
                let api = t.elapsed().as_secs_f64() * 1e3;
                if !ok {
                    problems.push("the catalog page or the API search did not answer 200 with a body".to_owned());
                    break;
                }
                if i >= 10 {
                    page_ms.push(page);
                    api_ms.push(api);
                }
            }
        });
        let mut rows = Vec::new();
        if !page_ms.is_empty() {
            let (page, api) = (p95(page_ms), p95(api_ms));
            rows.push(Row::ratio(
                format!(
                    "catalog page `/?{query}` vs API search, p95 over {pairs} pairs, {programs} programs (API ÷ page)"
                ),
                format!("{page:.2} ms"),
                format!("{api:.2} ms"),
                api / page,
                1.0 / 1.5,
            ));
        }
        // Bytes on the wire: the page (as served) and its assets (gzip).
        let (first, later) = rt.block_on(async {
            let r = client
                .get(format!("{}/?{query}", hub.base))
                .header("Cookie", &cookie)
                .header("Accept-Encoding", "gzip")
                .send()
                .await
                .expect("the page");
            let head: usize = r.headers().iter().map(|(k, v)| k.as_str().len() + v.len() + 4).sum();
            let html = r.text().await.expect("the page");
            let page_bytes = head + html.len();
            let mut assets = 0;
            let mut rest = html.as_str();
            while let Some(at) = rest.find("\"/assets/") {
                let url = rest[at + 1..].split('"').next().expect("a URL").to_owned();
                rest = &rest[at + 1 + url.len()..];
                let r = client
                    .get(format!("{}{url}", hub.base))
                    .header("Accept-Encoding", "gzip")
                    .send()
                    .await
                    .expect("an asset");
                let head: usize = r.headers().iter().map(|(k, v)| k.as_str().len() + v.len() + 4).sum();
                assets += head + r.bytes().await.expect("its body").len();
            }
            (page_bytes + assets, page_bytes)
        });
        rows.push(Row::ratio(
            "catalog page, first visit: page + assets (gzip) (budget ÷ bytes)".into(),
            format!("{:.1} KB", first as f64 / 1e3),
            "120 KB".into(),
            120e3 / first as f64,
            1.0,
        ));
        rows.push(Row::ratio(
            "catalog page, later visit: assets cached (immutable) (budget ÷ bytes)".into(),
            format!("{:.1} KB", later as f64 / 1e3),
            "20 KB".into(),
            20e3 / later as f64,
            1.0,
        ));
        print_table("The web page", &rows);
        print_problems(&problems);
        problems
    });
}
