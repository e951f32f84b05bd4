//! The layers of the crate, written once and checked on every run: data flows
//! api/cli → exchange → catalog | media → domain, and a module that reaches
//! across (or up) fails this test with the file and the line. So does an
//! import the reader here could not follow (a nested `use` group,
//! `super::super::super::`), a re-export from lib.rs, and `rusqlite` or
//! `object_store` named outside the module that owns it.

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

/// `code` without the attributes before its item (`#[allow(..)] use ..`).
fn after_attributes(code: &str) -> &str {
    let mut rest = code.trim_start();
    while let Some(attr) = rest.strip_prefix("#[") {
        match attr.find(']') {
            Some(end) => rest = attr[end + 1..].trim_start(),
            None => break,
        }
    }
    rest
}

/// Whether a line starts a `use` item.
fn is_use(code: &str) -> bool {
    let item = after_attributes(code);
    ["use ", "pub use ", "pub(crate) use "]
        .iter()
        .any(|p| item.starts_with(p))
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
            None if is_use(code) => {
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

/// The code of a line: without its comment and its string literals.
fn code_only(line: &str) -> String {
    let code = line.split("//").next().unwrap_or("");
    let mut out = String::new();
    let mut in_string = false;
    let mut escaped = false;
    for c in code.chars() {
        match (in_string, c) {
            (true, '\\') if !escaped => escaped = true,
            (true, '"') if !escaped => in_string = false,
            (true, _) => escaped = false,
            (false, '"') => in_string = true,
            (false, c) => out.push(c),
        }
    }
    out
}

/// Whether `word` stands as a name of its own in `code` (`rusqlite::x`,
/// not `my_rusqlite`).
fn names(code: &str, word: &str) -> bool {
    code.match_indices(word).any(|(at, _)| {
        let before = code[..at].chars().last();
        let after = code[at + word.len()..].chars().next();
        let part = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
        !part(before) && !part(after)
    })
}

/// Outside crates only some modules may name: the catalog's database, the
/// media's object store. `app` (the composition root) opens both.
const CONFINED: &[(&str, &[&str])] = &[("rusqlite", &["catalog", "app"]), ("object_store", &["media"])];

/// What a joined statement breaks of the house rules that are not about
/// layers, each said in words.
fn house_rules(module: &str, statement: &str) -> Vec<String> {
    let code = code_only(statement);
    let trimmed = after_attributes(&code);
    let mut out = Vec::new();
    if is_use(&code) {
        let mut depth = 0;
        for c in code.chars() {
            match c {
                '{' => {
                    depth += 1;
                    if depth > 1 {
                        out.push("a nested `use` group: write one `use` per module".to_owned());
                        break;
                    }
                }
                '}' => depth -= 1,
                _ => {}
            }
        }
    }
    if code.contains("super::super::super::") {
        out.push("`super::super::super::`: name it from `crate::`".to_owned());
    }
    if module == "lib" && (trimmed.starts_with("pub use ") || trimmed.starts_with("pub(crate) use ")) {
        out.push("a re-export from lib.rs: name the module it lives in".to_owned());
    }
    for (krate, may) in CONFINED {
        if names(&code, krate) && !may.contains(&module) {
            out.push(format!("`{krate}` named outside {}", may.join(" and ")));
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
            for broken in house_rules(&module, line) {
                wrong.push(format!("{}:{}: {broken}: {}", file.display(), n + 1, line.trim()));
            }
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

#[test]
fn the_house_rules_see_what_they_refuse() {
    let rules = |m: &str, l: &str| house_rules(m, &statements(l)[0].1);
    assert_eq!(rules("api", "use crate::{catalog::{A, B}, media};").len(), 1);
    assert_eq!(rules("api", "#[allow(unused)] use crate::{a::{A, B}, b};").len(), 1);
    assert!(rules("api", "use crate::{exchange::A, domain::B};").is_empty());
    assert_eq!(rules("exchange", "use super::super::super::x;").len(), 1);
    assert!(rules("exchange", "use super::super::x;").is_empty());
    assert_eq!(rules("lib", "pub use app::Application;").len(), 1);
    assert!(rules("lib", "pub mod app;").is_empty());
    assert_eq!(rules("exchange", "fn f(c: &rusqlite::Connection) {}").len(), 1);
    assert!(rules("catalog", "use rusqlite::Connection;").is_empty());
    assert!(rules("exchange", "let f = \"rusqlite\"; // rusqlite").is_empty());
    assert!(rules("exchange", "use my_rusqlite::X;").is_empty());
    assert_eq!(rules("api", "use object_store::path::Path;").len(), 1);
    assert!(rules("media", "use object_store::path::Path;").is_empty());
    let wrapped = "use crate::{\n    catalog::{\n        A,\n    },\n};";
    assert_eq!(rules("api", wrapped).len(), 1);
}
