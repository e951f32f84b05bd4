//! Previews that no file owns any more do not stay in the store: a job
//! whose file is removed while it runs stores nothing (or removes what it
//! stored), the sweeper removes preview objects, staging files and S3
//! multipart uploads that no analysis owns (what a `kill -9` between storing
//! and recording leaves), and a killed preview write does not stop the next
//! attempt of the same job.

use std::path::Path;
use std::time::Duration;

use pxhub::config::StorageSettings;
use reqwest::StatusCode;
use serde_json::Value;

use crate::analysis::{analysed_app, analysis_of, ffmpeg_or_skip, upload, wav};
use crate::helpers::{program, TestApp};

storage_suite!(
    a_file_removed_while_its_analysis_runs_leaves_no_preview,
    the_sweeper_removes_previews_no_analysis_owns,
);

/// The suite's store, in a corner of its own (an S3 prefix no other app
/// sweeps; the local store is the new app's own folder anyway).
fn own_store(app: &TestApp) -> StorageSettings {
    match &app.settings.storage {
        StorageSettings::S3(b) => {
            let mut b = b.clone();
            b.prefix = format!("test-{}", uuid::Uuid::new_v4().simple());
            StorageSettings::S3(b)
        }
        other => other.clone(),
    }
}

/// An `ffmpeg` (or `ffprobe`) that opens its input, then waits until `gate` exists before
/// it works on it (its version is told at once, so the hub finds it at
/// start). Holding the input open keeps a local store's object readable
/// after its file is removed, as a job already under way would.
fn gated(dir: &Path, gate: &Path, program: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let script = dir.join(format!("{program}-gated"));
    std::fs::write(
        &script,
        format!(
            r#"#!/bin/bash
if [ "$1" = -version ]; then exec {program} "$@"; fi
args=(); prev=
for a in "$@"; do
  if [ "$prev" = -i ]; then exec 3<"${{a#file:}}"; a="file:/proc/$$/fd/3"; fi
  args+=("$a"); prev=$a
done
while [ ! -e '{gate}' ]; do sleep 0.05; done
exec {program} "${{args[@]}}"
"#,
            gate = gate.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}

async fn program_json(app: &TestApp, token: &str, p: &str) -> Value {
    app.get(token, &format!("/api/v1/programs/{p}"))
        .await
        .json()
        .await
        .unwrap()
}

async fn preview_keys(app: &TestApp) -> Vec<String> {
    let mut keys: Vec<String> = app
        .media()
        .preview_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    keys.sort();
    keys
}

/// Files of the local store's `previews/` folder (staging files included).
fn local_preview_files(app: &TestApp) -> Vec<String> {
    let Some(root) = app.settings.media_path() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for dir in std::fs::read_dir(root.join("previews")).into_iter().flatten().flatten() {
        for f in std::fs::read_dir(dir.path()).into_iter().flatten().flatten() {
            out.push(f.path().display().to_string());
        }
    }
    out
}

async fn a_file_removed_while_its_analysis_runs_leaves_no_preview(app: TestApp) {
    if !ffmpeg_or_skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let gate = dir.path().join("go");
    let (ffmpeg, ffprobe) = (gated(dir.path(), &gate, "ffmpeg"), gated(dir.path(), &gate, "ffprobe"));
    let app = analysed_app(|s| {
        s.storage = own_store(&app);
        s.part_size = app.settings.part_size;
        s.max_upload_bytes = app.settings.max_upload_bytes;
        s.ffmpeg = ffmpeg;
        s.ffprobe = ffprobe;
        // The job's own doing is tested here, not the sweeper's.
        s.sweep_grace_secs = 3600;
    })
    .await;
    let owner = app.station("thai-nguyen", "provincial").await;
    for removal in ["file", "draft"] {
        let _ = std::fs::remove_file(&gate);
        let p = upload(
            &app,
            &owner,
            &program("Bản nháp"),
            "audio/wav",
            "nhap.wav",
            wav(dir.path()),
        )
        .await;
        // The job is claimed (FFmpeg waits at the gate).
        let mut running = false;
        for _ in 0..600 {
            let shown = program_json(&app, &owner, &p).await;
            if shown["files"][0]["analysis"]["state"] == "running" {
                running = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(running, "the job was not seen running");
        let path = match removal {
            "file" => format!("/api/v1/programs/{p}/files/master"),
            _ => format!("/api/v1/programs/{p}"),
        };
        assert_eq!(app.delete(&owner, &path).await.status(), StatusCode::NO_CONTENT);
        std::fs::write(&gate, b"").unwrap();
        let mut ended = false;
        for _ in 0..1200 {
            if app.metric("pxhub_analyses_running").await == 0 {
                ended = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(ended, "the job did not end");
        assert_eq!(app.count("analysis_jobs"), 0, "the job went with its file");
        assert_eq!(
            preview_keys(&app).await,
            Vec::<String>::new(),
            "no preview of the removed {removal} is left"
        );
        assert_eq!(local_preview_files(&app), Vec::<String>::new());
        assert_eq!(app.stored_keys().await, Vec::<String>::new());
    }
    assert!(app.media().pending_multiparts().await.unwrap().is_empty());
}

async fn the_sweeper_removes_previews_no_analysis_owns(app: TestApp) {
    if !ffmpeg_or_skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut app = analysed_app(|s| {
        s.storage = own_store(&app);
        s.part_size = app.settings.part_size;
        s.max_upload_bytes = app.settings.max_upload_bytes;
        s.sweep_grace_secs = 0;
    })
    .await;
    let owner = app.station("thai-nguyen", "provincial").await;
    let master = wav(dir.path());
    let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&master));
    let p = upload(&app, &owner, &program("Còn giữ"), "audio/wav", "giu.wav", master).await;
    assert_eq!(analysis_of(&app, &owner, &p, "master").await["state"], "done");
    let owned = preview_keys(&app).await;
    assert_eq!(
        owned,
        [format!("previews/{sha}/media"), format!("previews/{sha}/waveform")],
        "an audio file's preview and waveform"
    );

    // What a job killed after storing leaves, its file removed since: the
    // previews of content no file has; a poster no analysis names beside
    // previews that stay; a half-written preview.
    let media = app.media();
    let gone_sha = hex::encode([7u8; 32]);
    let leftovers = [
        format!("previews/{gone_sha}/media"),
        format!("previews/{gone_sha}/waveform"),
        format!("previews/{sha}/poster"),
    ];
    for key in &leftovers {
        let mut w = media.writer(key).await.unwrap();
        w.write(bytes::Bytes::from_static(b"left behind")).await.unwrap();
        w.finish().await.unwrap();
    }
    let half = format!("previews/{}/media", hex::encode([8u8; 32]));
    match app.settings.media_path() {
        Some(root) => {
            let staging = root.join(format!("{half}#1"));
            std::fs::create_dir_all(staging.parent().unwrap()).unwrap();
            std::fs::write(&staging, b"half").unwrap();
        }
        // An S3 multipart upload begun and never completed.
        None => std::mem::forget(media.writer(&half).await.unwrap()),
    }
    assert_eq!(preview_keys(&app).await.len(), 5);
    assert_eq!(
        media.pending_multiparts().await.unwrap().len(),
        usize::from(!media.is_local())
    );

    // The start-up sweep (no grace here).
    app.restart().await;
    let mut left = Vec::new();
    for _ in 0..200 {
        left = preview_keys(&app).await;
        let files = local_preview_files(&app);
        let pending = media.pending_multiparts().await.unwrap();
        if left == owned && files.len() == owned.len() * usize::from(media.is_local()) && pending.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(left, owned, "only the previews an analysis names stay");
    assert_eq!(
        local_preview_files(&app).len(),
        owned.len() * usize::from(media.is_local())
    );
    assert!(media.pending_multiparts().await.unwrap().is_empty());
    if let Some(root) = app.settings.media_path() {
        assert!(
            !root.join(format!("previews/{gone_sha}")).exists(),
            "the emptied preview folder goes"
        );
    }
    // What stays is still served.
    let r = app
        .get(&owner, &format!("/api/v1/programs/{p}/files/master/preview"))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(!r.bytes().await.unwrap().is_empty());
}

/// A worker killed while writing a preview on the local store leaves its
/// staging file; the next attempt of the job replaces it and finishes
/// (it used to fail on it at every attempt until given up).
#[tokio::test]
async fn a_preview_write_cut_by_a_kill_does_not_stop_the_next_attempt() {
    if !ffmpeg_or_skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // The default grace: the sweeper leaves the young staging files alone.
    let app = analysed_app(|_| {}).await;
    let owner = app.station("thai-nguyen", "provincial").await;
    let master = wav(dir.path());
    let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&master));
    let root = app.settings.media_path().unwrap();
    for name in ["media", "waveform"] {
        let staging = root.join(format!("previews/{sha}/{name}#1"));
        std::fs::create_dir_all(staging.parent().unwrap()).unwrap();
        std::fs::write(&staging, b"cut").unwrap();
    }
    let p = upload(&app, &owner, &program("Lần sau"), "audio/wav", "sau.wav", master).await;
    let a = analysis_of(&app, &owner, &p, "master").await;
    assert_eq!(a["state"], "done", "{a}");
    let r = app
        .get(&owner, &format!("/api/v1/programs/{p}/files/master/preview"))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        local_preview_files(&app).len(),
        2,
        "no staging file is left: {:?}",
        local_preview_files(&app)
    );
}
