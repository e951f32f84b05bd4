//! `pxhub serve`'s log lines as a log file or a collector gets them: no
//! terminal, so no colour codes; `--log-format json` one object a line.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

/// Starts `pxhub serve` with `extra` arguments, stderr piped (not a
/// terminal), and returns its log lines up to the one that says it listens.
fn lines_until_listening(extra: &[&str]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_pxhub"))
        .arg("--data-dir")
        .arg(dir.path())
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--analysis-workers",
            "0",
            "--log",
            "info",
        ])
        .args(extra)
        .env_remove("RUST_LOG")
        .env_remove("PXHUB_LOG_FORMAT")
        .env_remove("PXHUB_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = Vec::new();
    for line in BufReader::new(child.stderr.take().unwrap()).lines() {
        let line = line.unwrap();
        let done = line.contains("pxhub listening");
        lines.push(line);
        if done {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        lines.last().is_some_and(|l| l.contains("pxhub listening")),
        "the hub never said it listens: {lines:?}"
    );
    lines
}

#[test]
fn text_logs_have_no_colour_codes_off_a_terminal() {
    let lines = lines_until_listening(&[]);
    for line in &lines {
        assert!(!line.contains('\u{1b}'), "escape sequence in {line:?}");
        assert!(serde_json::from_str::<serde_json::Value>(line).is_err(), "{line:?}");
    }
    assert!(lines.last().unwrap().contains(" INFO "), "{lines:?}");
    // The same when asked by name.
    let named = lines_until_listening(&["--log-format", "text"]);
    assert!(named.iter().all(|l| !l.contains('\u{1b}')), "{named:?}");
}

#[test]
fn json_logs_are_one_object_a_line() {
    let lines = lines_until_listening(&["--log-format", "json"]);
    for line in &lines {
        assert!(!line.contains('\u{1b}'), "escape sequence in {line:?}");
        let v: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{line:?}: {e}"));
        assert!(v["level"].is_string() && v["timestamp"].is_string(), "{line}");
    }
    let last: serde_json::Value = serde_json::from_str(lines.last().unwrap()).unwrap();
    assert_eq!(last["message"], "pxhub listening");
    assert_eq!(last["level"], "INFO");
    assert!(last["address"].as_str().unwrap().starts_with("127.0.0.1:"), "{last}");
}

#[test]
fn an_unknown_log_format_is_refused_before_anything_starts() {
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_pxhub"))
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .args(["serve", "--listen", "127.0.0.1:0", "--log-format", "xml"])
        .env_remove("PXHUB_LOG_FORMAT")
        .env_remove("PXHUB_CONFIG")
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("log_format must be `text` or `json`"), "{err}");
    assert!(!dir.path().join("data").exists(), "nothing is created");
}
