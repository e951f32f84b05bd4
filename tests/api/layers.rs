//! The layers of the crate, written once and checked on every run: data flows
//! api/cli → exchange → catalog | media → domain, and a module that reaches
//! across (or up) fails this test with the file and the line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Each top-level module, and the modules of the crate it may name.
const MAY_USE: &[(&str, &[&str])] = &[
    // The nouns: nothing below them.
    ("domain", &[]),
    ("metrics", &[]),
    // Siblings over the nouns; neither knows the other, nor the settings.
    ("catalog", &["domain"]),
    ("media", &["domain"]),
    ("analysis", &["domain"]),
    // The use-cases combine them; they read no settings file.
    ("exchange", &["catalog", "media", "analysis", "domain", "metrics"]),
    // The doors: HTTP and the command line call the use-cases only.
    ("error", &["exchange", "domain"]),
    ("api", &["exchange", "domain", "error", "metrics"]),
    // The pages: a door like the API, to the same use-cases.
    ("web", &["exchange", "domain", "metrics"]),
    ("cli", &["exchange", "domain", "config", "app", "api", "pull"]),
    // The pull agent is a client of the HTTP API, not of the catalog.
    ("pull", &["domain"]),
    // Settings make each subsystem's own small settings struct.
    ("config", &["domain", "media", "analysis", "exchange"]),
    // The wiring: opens the catalog and the store, hands them to the hub.
    (
        "app",
        &[
            "api", "web", "exchange", "catalog", "media", "analysis", "config", "metrics",
        ],
    ),
    (
        "lib",
        &[
            "analysis", "app", "config", "api", "catalog", "cli", "domain", "error", "exchange", "media", "metrics",
            "pull", "web",
        ],
    ),
    ("main", &[]),
];

/// Modules whose types must not leave through another module's `pub use`.
const SEALED: &[&str] = &["catalog", "media"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file belongs to: `src/api/feed.rs` → `api`.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy()
        .into_owned();
    first.trim_end_matches(".rs").to_owned()
}

/// Every `crate::name` in a line, outside comments.
fn crate_paths(line: &str) -> Vec<String> {
    let code = line.split("//").next().unwrap_or("");
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().last();
        rest = &rest[at + "crate::".len()..];
        // `pxhub_crate::` or `some_crate::` are not this crate.
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        if name.is_empty() {
            // `use crate::{a, b}`
            if let Some(group) = rest.strip_prefix('{') {
                let inner = group.split('}').next().unwrap_or("");
                out.extend(
                    inner
                        .split(',')
                        .map(|p| p.trim().split("::").next().unwrap_or("").trim().to_owned())
                        .filter(|p| !p.is_empty()),
                );
            }
        } else {
            out.push(name);
        }
    }
    out
}

/// The lines of `text`, numbered, with each `use` statement joined into one
/// line however rustfmt wrapped it.
fn statements(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut open: Option<(usize, String)> = None;
    for (n, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        match open.take() {
            Some((start, mut joined)) => {
                joined.push_str(code.trim());
                if code.contains(';') {
                    out.push((start, joined));
                } else {
                    open = Some((start, joined));
                }
            }
            None if code.trim_start().starts_with("use ") || code.trim_start().starts_with("pub use ") => {
                if code.contains(';') {
                    out.push((n, line.to_owned()));
                } else {
                    open = Some((n, code.to_owned()));
                }
            }
            None => out.push((n, line.to_owned())),
        }
    }
    out
}

#[test]
fn modules_use_only_the_layers_below_them() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let rules: BTreeMap<&str, &[&str]> = MAY_USE.iter().copied().collect();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    assert!(
        files.len() > 30,
        "found only {} files under {}",
        files.len(),
        src.display()
    );
    let mut wrong = Vec::new();
    for file in &files {
        let module = module_of(&src, file);
        let Some(allowed) = rules.get(module.as_str()) else {
            wrong.push(format!("{}: module `{module}` has no rule in MAY_USE", file.display()));
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in statements(&text) {
            let line = line.as_str();
            // `super::super::catalog` from a nested module is `crate::catalog`.
            let code = line.split("//").next().unwrap_or("");
            for (at, _) in code.match_indices("super::super::") {
                let name: String = code[at + "super::super::".len()..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if name != module && rules.contains_key(name.as_str()) && !allowed.contains(&name.as_str()) {
                    wrong.push(format!(
                        "{}:{}: `{module}` reaches `{name}` by super: {}",
                        file.display(),
                        n + 1,
                        line.trim()
                    ));
                }
            }
            for used in crate_paths(line) {
                if used != module && !allowed.contains(&used.as_str()) && rules.contains_key(used.as_str()) {
                    wrong.push(format!(
                        "{}:{}: `{module}` uses `{used}`: {}",
                        file.display(),
                        n + 1,
                        line.trim()
                    ));
                }
            }
            let code = line.split("//").next().unwrap_or("").trim_start();
            if code.starts_with("pub use crate::") {
                for used in crate_paths(line) {
                    if SEALED.contains(&used.as_str()) && used != module {
                        wrong.push(format!(
                            "{}:{}: `{module}` hands on `{used}`'s types: {}",
                            file.display(),
                            n + 1,
                            line.trim()
                        ));
                    }
                }
            }
        }
    }
    assert!(wrong.is_empty(), "layers crossed:\n{}", wrong.join("\n"));
}

#[test]
fn the_path_reader_sees_groups_and_ignores_comments() {
    assert_eq!(crate_paths("use crate::catalog::Catalog;"), ["catalog"]);
    assert_eq!(crate_paths("use crate::{api, media::X};"), ["api", "media"]);
    assert_eq!(crate_paths("let x = 1; // crate::catalog"), Vec::<String>::new());
    assert_eq!(
        crate_paths("fn f() -> crate::media::A { crate::domain::b() }"),
        ["media", "domain"]
    );
    assert_eq!(crate_paths("use other_crate::x;"), Vec::<String>::new());
    let wrapped = statements("use crate::{\n    api,\n    catalog::X,\n};\nlet a = 1;");
    assert_eq!(wrapped[0], (0, "use crate::{api,catalog::X,};".to_owned()));
    assert_eq!(crate_paths(&wrapped[0].1), ["api", "catalog"]);
}
