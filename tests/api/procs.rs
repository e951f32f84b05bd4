//! `pxhub serve` as a process of its own (alone or under another program,
//! such as `litestream replicate -exec`), for the tests that kill machines
//! and start new ones: the restore drill and the store cluster.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use pxhub::config::Settings;
use pxhub::config::StorageSettings;
use serde_json::Value;

use crate::helpers::{storage_env, TestApp};

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs `pxhub --data-dir DATA ARGS…` (the command line, as the operator)
/// and returns what it printed on standard output.
pub fn pxhub_cli(data: &Path, storage: &StorageSettings, args: &[&str]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_pxhub"))
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .envs(storage_env(storage))
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "pxhub {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap().trim().to_owned()
}

/// The variables that make `pxhub serve` (with no arguments) serve `data`
/// on `port` with `storage`.
pub fn serve_env(data: &Path, port: u16, storage: &StorageSettings) -> Vec<(&'static str, String)> {
    let mut env = vec![
        ("PXHUB_DATA_DIR", data.display().to_string()),
        ("PXHUB_LISTEN", format!("127.0.0.1:{port}")),
        ("PXHUB_PART_SIZE", crate::helpers::PART.to_string()),
        ("PXHUB_MAX_UPLOAD_BYTES", (64 << 20).to_string()),
        ("PXHUB_LOG", "warn".into()),
        ("PXHUB_WORKERS", "2".into()),
        // No analysis: these hubs keep made-up bytes as masters and publish
        // them at once, which a hub that analyses refuses until the
        // analysis has ended (tests/api/analysis.rs turns it on).
        ("PXHUB_ANALYSIS_WORKERS", "0".into()),
    ];
    env.extend(storage_env(storage));
    env
}

/// A running process group with a hub in it, answering on `port`.
pub struct HubProcess {
    child: Child,
    pub address: String,
    log: PathBuf,
}

impl HubProcess {
    /// Starts `cmd` in a process group of its own (so that killing it kills
    /// whatever it started), its standard error to `log`, and waits until
    /// the hub answers `/healthz` on `port`.
    pub async fn start(mut cmd: Command, port: u16, log: &Path) -> Self {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(log).unwrap())
            .process_group(0);
        let mut hub = Self {
            child: cmd.spawn().expect("the hub's process starts"),
            address: format!("http://127.0.0.1:{port}"),
            log: log.to_owned(),
        };
        for _ in 0..400 {
            if reqwest::get(format!("{}/healthz", hub.address))
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return hub;
            }
            if let Ok(Some(status)) = hub.child.try_wait() {
                panic!("the hub's process ended ({status}): {}", hub.log_text());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        hub.kill();
        panic!("the hub did not answer: {}", hub.log_text());
    }

    /// The process id of the group's leader.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Kills the whole group at once (SIGKILL), as a power cut would.
    pub fn kill(&mut self) {
        // SAFETY: kill(2) with a negative pid signals the group whose id is
        // the child's pid (process_group(0) made it its leader); no memory
        // is touched.
        unsafe {
            libc::kill(-(self.child.id() as libc::pid_t), libc::SIGKILL);
        }
        let _ = self.child.wait();
    }

    /// Asks the group to stop (SIGTERM to the leader) and waits.
    pub fn stop(&mut self) {
        // SAFETY: as in `kill`, a signal to one process.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let _ = self.child.wait();
    }

    /// A [`TestApp`] speaking to this hub with `admin`, so that the
    /// helpers (`station`, `create_program`, `put_master`…) work on it.
    pub fn app(&self, admin: &str, data: &Path, storage: &StorageSettings) -> TestApp {
        TestApp {
            address: self.address.clone(),
            client: reqwest::Client::builder()
                .pool_idle_timeout(Duration::from_secs(2))
                .build()
                .unwrap(),
            admin: admin.to_owned(),
            dir: tempfile::tempdir().unwrap(),
            settings: Settings {
                data_dir: data.to_owned(),
                storage: storage.clone(),
                ..Settings::default()
            },
        }
    }
}

impl Drop for HubProcess {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = self.log_text();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            eprintln!("--- the end of {}:", self.log.display());
            for line in tail.iter().rev() {
                eprintln!("{line}");
            }
        }
        if let Ok(None) = self.child.try_wait() {
            self.kill();
        }
    }
}

/// An admin token issued on the command line for the catalog in `data`.
pub fn admin_token(data: &Path, storage: &StorageSettings) -> String {
    pxhub_cli(
        data,
        storage,
        &["token", "issue", "--role", "admin", "--label", "operator"],
    )
}

/// Uploads `body` as the program's master with tus, in chunks of `chunk`
/// bytes; stops after `stop_after` bytes if given, and returns the upload's
/// path.
pub async fn tus_upload(
    app: &TestApp,
    token: &str,
    program: &str,
    body: &[u8],
    chunk: usize,
    stop_after: Option<usize>,
) -> String {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    let meta = format!(
        "program {},role {},filename {}",
        STANDARD.encode(program),
        STANDARD.encode("master"),
        STANDARD.encode("Thời sự tối.mp4")
    );
    let r = app
        .request(reqwest::Method::POST, Some(token), "/api/v1/uploads")
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Length", body.len().to_string())
        .header("Upload-Metadata", meta)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::CREATED, "{}", r.text().await.unwrap());
    let upload = r.headers()["location"].to_str().unwrap().to_owned();
    tus_resume(app, token, &upload, body, chunk, stop_after).await;
    upload
}

/// Sends the rest of `body` to the tus upload at `upload`, from the offset
/// the hub reports, up to `stop_after` bytes if given.
pub async fn tus_resume(
    app: &TestApp,
    token: &str,
    upload: &str,
    body: &[u8],
    chunk: usize,
    stop_after: Option<usize>,
) {
    let r = app
        .request(reqwest::Method::HEAD, Some(token), upload)
        .header("Tus-Resumable", "1.0.0")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::OK, "HEAD {upload}");
    let mut offset: usize = r.headers()["upload-offset"].to_str().unwrap().parse().unwrap();
    let end = stop_after.unwrap_or(body.len());
    while offset < end {
        let next = (offset + chunk).min(end);
        let r = app
            .request(reqwest::Method::PATCH, Some(token), upload)
            .header("Tus-Resumable", "1.0.0")
            .header("Upload-Offset", offset.to_string())
            .header("Content-Type", "application/offset+octet-stream")
            .body(body[offset..next].to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            reqwest::StatusCode::NO_CONTENT,
            "{}",
            r.text().await.unwrap()
        );
        offset = next;
    }
}

/// The program's master as `token` downloads it, all of it.
pub async fn download_master(app: &TestApp, token: &str, program: &str) -> Vec<u8> {
    let r = app
        .get(token, &format!("/api/v1/programs/{program}/files/master"))
        .await;
    assert_eq!(r.status(), reqwest::StatusCode::OK, "download of {program}");
    r.bytes().await.unwrap().to_vec()
}

/// The stations that took `program`, as its owner sees them.
pub async fn takers(app: &TestApp, owner: &str, program: &str) -> (Vec<String>, Value) {
    let t: Value = app
        .get(owner, &format!("/api/v1/programs/{program}/takes"))
        .await
        .json()
        .await
        .unwrap();
    let mut who: Vec<String> = t["takes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["station"].as_str().unwrap().to_owned())
        .collect();
    who.sort();
    (who, t)
}
