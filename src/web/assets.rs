//! The pages' static files, embedded in the binary: the vendored htmx and
//! tus-js-client (see `assets/vendor/VENDORED.md`) and the hub's own style
//! sheet and upload script. Each is served at a URL that holds a hash of its
//! bytes, so it can be cached for a year (`immutable`), gzipped once.

use std::io::Write;
use std::sync::OnceLock;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use sha2::{Digest, Sha256};

/// One embedded file.
pub struct Asset {
    /// `htmx`, `tus`, `app`, `upload`, `results`.
    pub name: &'static str,
    pub ext: &'static str,
    pub content_type: &'static str,
    pub bytes: &'static [u8],
}

const ASSETS: &[Asset] = &[
    Asset {
        name: "htmx-2.0.11",
        ext: "js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("assets/vendor/htmx-2.0.11.min.js"),
    },
    Asset {
        name: "tus-js-client-4.3.1",
        ext: "js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("assets/vendor/tus-js-client-4.3.1.min.js"),
    },
    Asset {
        name: "app",
        ext: "css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("assets/app.css"),
    },
    Asset {
        name: "results",
        ext: "js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("assets/results.js"),
    },
    Asset {
        name: "upload",
        ext: "js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("assets/upload.js"),
    },
];

struct Served {
    asset: &'static Asset,
    /// `/assets/<name>.<hash>.<ext>`
    url: String,
    gzip: Vec<u8>,
}

fn served() -> &'static [Served] {
    static SERVED: OnceLock<Vec<Served>> = OnceLock::new();
    SERVED.get_or_init(|| {
        ASSETS
            .iter()
            .map(|a| {
                let hash = hex::encode(&Sha256::digest(a.bytes)[..6]);
                let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
                gz.write_all(a.bytes).expect("gzip into memory");
                Served {
                    asset: a,
                    url: format!("/assets/{}.{hash}.{}", a.name, a.ext),
                    gzip: gz.finish().expect("gzip into memory"),
                }
            })
            .collect()
    })
}

/// The URL of asset `name` (as in [`ASSETS`]).
pub fn url(name: &str) -> &'static str {
    served()
        .iter()
        .find(|s| s.asset.name == name)
        .map(|s| s.url.as_str())
        .unwrap_or("/assets/missing")
}

/// The URLs the layout links to.
#[derive(Debug, Clone, Copy)]
pub struct Urls {
    pub css: &'static str,
    pub htmx: &'static str,
    pub tus: &'static str,
    pub upload: &'static str,
    pub results: &'static str,
}

pub fn urls() -> Urls {
    Urls {
        css: url("app"),
        htmx: url("htmx-2.0.11"),
        tus: url("tus-js-client-4.3.1"),
        upload: url("upload"),
        results: url("results"),
    }
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/assets/{file}", web::get().to(serve));
}

async fn serve(req: HttpRequest, file: web::Path<String>) -> HttpResponse {
    let path = format!("/assets/{file}");
    let Some(s) = served().iter().find(|s| s.url == path) else {
        return HttpResponse::NotFound()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .content_type("text/plain; charset=utf-8")
            .body("no such file");
    };
    let gzip = req
        .headers()
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.split(';').next().unwrap_or("").trim() == "gzip"));
    let mut res = HttpResponse::Ok();
    res.insert_header((header::CONTENT_TYPE, s.asset.content_type))
        .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
        .insert_header((header::VARY, "Accept-Encoding"));
    if gzip {
        res.insert_header((header::CONTENT_ENCODING, "gzip"))
            .body(s.gzip.clone())
    } else {
        res.body(s.asset.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The SHA-256s that `assets/vendor/VENDORED.md` records.
    const RECORDED: &[(&str, &str)] = &[
        (
            "htmx-2.0.11",
            "d6fdc75f204e6bdefa99b69bf1e6d4ac69b8a364f77929f45c13476b4000f717",
        ),
        (
            "tus-js-client-4.3.1",
            "8cbb1b63fccc3bba0ae73ad1deb160ce046c3750851d0c3e94921ae3ef070eb8",
        ),
    ];

    #[test]
    fn vendored_files_are_the_recorded_ones() {
        let doc = include_str!("assets/vendor/VENDORED.md");
        for (name, sha) in RECORDED {
            let a = ASSETS.iter().find(|a| a.name == *name).unwrap();
            assert_eq!(hex::encode(Sha256::digest(a.bytes)), *sha, "{name}");
            assert!(doc.contains(sha), "VENDORED.md records {name}'s {sha}");
        }
        for (file, bytes) in [
            (
                "htmx-LICENSE.txt",
                &include_bytes!("assets/vendor/htmx-LICENSE.txt")[..],
            ),
            (
                "tus-js-client-LICENSE.txt",
                &include_bytes!("assets/vendor/tus-js-client-LICENSE.txt")[..],
            ),
        ] {
            let sha = hex::encode(Sha256::digest(bytes));
            assert!(doc.contains(&sha), "VENDORED.md records {file}'s {sha}");
        }
    }

    #[test]
    fn urls_change_with_the_bytes() {
        let u = url("htmx-2.0.11");
        assert!(u.starts_with("/assets/htmx-2.0.11.") && u.ends_with(".js"), "{u}");
        assert_ne!(url("app"), url("upload"));
        // Gzip really shrinks the scripts.
        let s = served().iter().find(|s| s.asset.name == "htmx-2.0.11").unwrap();
        assert!(s.gzip.len() * 2 < s.asset.bytes.len());
    }
}
