//! The analysis job queue: one job per stored content (SHA-256) and kind,
//! claimed with a lease.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};

use super::stations::bad_column;
use super::{now, to_micros};
use crate::domain::analysis::PreviewKind;
use crate::domain::{AnalysisState, FileAnalysis, Findings, Sha256};

const KIND: &str = "analyze";

/// A job a worker holds.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub sha256: Sha256,
    /// Which attempt this is; also the lease's token.
    pub attempt: i64,
    /// Where the content is in the media store.
    pub key: String,
    pub size: u64,
    /// The type its uploader declared (a master's first).
    pub media_type: String,
    /// Whether a file with this content was declared as video (its previews
    /// take the machine's cores; the hub runs fewer of those at once).
    pub video: bool,
}

/// Which jobs a worker may claim now: audio (everything not declared as
/// video), video, or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Classes {
    pub audio: bool,
    pub video: bool,
}

/// A preview object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviewObject {
    pub key: String,
    pub media_type: String,
    pub sha256: Sha256,
}

/// The previews an analysis made.
#[derive(Debug, Clone, Default)]
pub struct Previews {
    pub preview: Option<PreviewObject>,
    pub poster: Option<PreviewObject>,
    pub waveform: Option<PreviewObject>,
}

/// Queues content for analysis, unless it has a job already.
pub fn enqueue(conn: &Connection, sha256: &Sha256) -> rusqlite::Result<bool> {
    let at = to_micros(now());
    Ok(conn
        .prepare_cached(
            "INSERT OR IGNORE INTO analysis_jobs (sha256, kind, state, next_attempt_at, created_at, updated_at)
             VALUES (?1, ?2, 'pending', ?3, ?3, ?3)",
        )?
        .execute(params![sha256.hex(), KIND, at])?
        > 0)
}

/// Queues content again (`pxhub analyze`), unless a worker holds it now.
pub fn requeue(conn: &Connection, sha256: &Sha256) -> rusqlite::Result<()> {
    enqueue(conn, sha256)?;
    conn.prepare_cached(
        "UPDATE analysis_jobs SET state = 'pending', attempts = 0, next_attempt_at = ?3, error = NULL, updated_at = ?3
         WHERE sha256 = ?1 AND kind = ?2 AND state <> 'running'",
    )?
    .execute(params![sha256.hex(), KIND, to_micros(now())])?;
    Ok(())
}

/// Whether a file with this content was declared as video (SQL, on `j`).
const IS_VIDEO: &str =
    "EXISTS (SELECT 1 FROM program_files f WHERE f.sha256 = j.sha256 AND f.media_type LIKE 'video/%')";

/// Claims the next due job of the `classes` asked for (or one whose
/// worker's lease ran out) until `lease_until`.
pub fn claim(
    conn: &Connection,
    at: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    classes: Classes,
) -> rusqlite::Result<Option<Claimed>> {
    if !classes.audio && !classes.video {
        return Ok(None);
    }
    loop {
        let claimed: Option<(String, i64)> = conn
            .prepare_cached(&format!(
                "UPDATE analysis_jobs SET state = 'running', attempts = attempts + 1, lease_until = ?2, updated_at = ?1
                 WHERE rowid = (SELECT j.rowid FROM analysis_jobs j
                     WHERE ((j.state = 'pending' AND j.next_attempt_at <= ?1) OR (j.state = 'running' AND j.lease_until < ?1))
                       AND CASE WHEN {IS_VIDEO} THEN ?4 ELSE ?3 END
                     ORDER BY j.next_attempt_at LIMIT 1)
                 RETURNING sha256, attempts"
            ))?
            .query_row(
                params![to_micros(at), to_micros(lease_until), classes.audio, classes.video],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((hex, attempt)) = claimed else {
            return Ok(None);
        };
        let sha256 = Sha256::parse_hex(&hex).ok_or_else(|| bad_column(0, hex.clone()))?;
        let found: Option<(String, u64, String, bool)> = conn
            .prepare_cached(&format!(
                "SELECT o.key, o.size, f.media_type, (SELECT {IS_VIDEO} FROM (SELECT ?1 AS sha256) j)
                 FROM media_objects o
                 JOIN program_files f ON f.sha256 = o.sha256
                 WHERE o.sha256 = ?1 ORDER BY f.role = 'master' DESC LIMIT 1"
            ))?
            .query_row([&hex], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .optional()?;
        match found {
            Some((key, size, media_type, video)) => {
                return Ok(Some(Claimed {
                    sha256,
                    attempt,
                    key,
                    size,
                    media_type,
                    video,
                }))
            }
            // No file has these bytes any more: nothing to analyse.
            None => {
                conn.prepare_cached("DELETE FROM analysis_jobs WHERE sha256 = ?1 AND kind = ?2")?
                    .execute([&hex, KIND])?;
            }
        }
    }
}

/// Extends the lease of a job this worker holds; `false` if it lost it.
pub fn renew(conn: &Connection, job: &Claimed, lease_until: DateTime<Utc>) -> rusqlite::Result<bool> {
    Ok(conn
        .prepare_cached(
            "UPDATE analysis_jobs SET lease_until = ?3
             WHERE sha256 = ?1 AND kind = 'analyze' AND state = 'running' AND attempts = ?2",
        )?
        .execute(params![job.sha256.hex(), job.attempt, to_micros(lease_until)])?
        > 0)
}

/// Records a finished analysis; `false` if the job was no longer this
/// worker's (then nothing is recorded).
pub fn finish(conn: &Connection, job: &Claimed, findings: &Findings, previews: &Previews) -> rusqlite::Result<bool> {
    let result = serde_json::to_string(findings).map_err(|e| bad_column(0, e.to_string()))?;
    let key = |p: &Option<PreviewObject>| p.as_ref().map(|p| p.key.clone());
    let sha = |p: &Option<PreviewObject>| p.as_ref().map(|p| p.sha256.hex());
    Ok(conn
        .prepare_cached(
            "UPDATE analysis_jobs SET state = 'done', lease_until = NULL, error = NULL, result = ?3,
                 preview_key = ?4, preview_type = ?5, preview_sha256 = ?6, poster_key = ?7, poster_sha256 = ?8,
                 waveform_key = ?9, waveform_sha256 = ?10, updated_at = ?11
             WHERE sha256 = ?1 AND kind = 'analyze' AND state = 'running' AND attempts = ?2",
        )?
        .execute(params![
            job.sha256.hex(),
            job.attempt,
            result,
            key(&previews.preview),
            previews.preview.as_ref().map(|p| p.media_type.clone()),
            sha(&previews.preview),
            key(&previews.poster),
            sha(&previews.poster),
            key(&previews.waveform),
            sha(&previews.waveform),
            to_micros(now()),
        ])?
        > 0)
}

/// Gives a job back: tried again at `retry_at`, or given up when `None`.
pub fn give_back(
    conn: &Connection,
    job: &Claimed,
    error: &str,
    retry_at: Option<DateTime<Utc>>,
    count_attempt: bool,
) -> rusqlite::Result<()> {
    let state = if retry_at.is_some() { "pending" } else { "failed" };
    conn.prepare_cached(
        "UPDATE analysis_jobs SET state = ?3, error = ?4, lease_until = NULL, next_attempt_at = ?5,
             attempts = attempts - ?6, updated_at = ?7
         WHERE sha256 = ?1 AND kind = 'analyze' AND state = 'running' AND attempts = ?2",
    )?
    .execute(params![
        job.sha256.hex(),
        job.attempt,
        state,
        error,
        retry_at.map_or(0, to_micros),
        i64::from(!count_attempt),
        to_micros(now()),
    ])?;
    Ok(())
}

/// Says why waiting jobs wait (FFmpeg missing), or clears that (`None`).
pub fn set_waiting_reason(conn: &Connection, reason: Option<&str>) -> rusqlite::Result<()> {
    match reason {
        Some(r) => conn
            .prepare_cached("UPDATE analysis_jobs SET error = ?1 WHERE state = 'pending' AND error IS NOT ?1")?
            .execute([r])?,
        None => conn
            .prepare_cached("UPDATE analysis_jobs SET error = NULL WHERE state = 'pending' AND error IS NOT NULL")?
            .execute([])?,
    };
    Ok(())
}

/// The analysis of content `sha256` as programs show it.
pub fn of(conn: &Connection, sha256: &Sha256) -> rusqlite::Result<Option<FileAnalysis>> {
    conn.prepare_cached("SELECT state, error, result FROM analysis_jobs WHERE sha256 = ?1 AND kind = 'analyze'")?
        .query_row([sha256.hex()], |r| from_row(r, 0))
        .optional()
}

/// Reads the columns `state, error, result` that start at `base`.
pub fn from_row(r: &rusqlite::Row<'_>, base: usize) -> rusqlite::Result<FileAnalysis> {
    let state: String = r.get(base)?;
    let state = AnalysisState::parse(&state).ok_or_else(|| bad_column(base, state))?;
    let findings = r
        .get::<_, Option<String>>(base + 2)?
        .map(|j| serde_json::from_str::<Findings>(&j).map_err(|e| bad_column(base + 2, e.to_string())))
        .transpose()?;
    Ok(FileAnalysis::new(state, r.get(base + 1)?, findings))
}

/// The findings of content `sha256`, when its analysis is done.
pub fn findings(conn: &Connection, sha256: &Sha256) -> rusqlite::Result<Option<Findings>> {
    conn.prepare_cached("SELECT result FROM analysis_jobs WHERE sha256 = ?1 AND kind = 'analyze' AND state = 'done'")?
        .query_row([sha256.hex()], |r| r.get::<_, Option<String>>(0))
        .optional()?
        .flatten()
        .map(|j| serde_json::from_str(&j).map_err(|e| bad_column(0, e.to_string())))
        .transpose()
}

/// The preview `kind` of content `sha256`, once made.
pub fn preview(conn: &Connection, sha256: &Sha256, kind: PreviewKind) -> rusqlite::Result<Option<PreviewObject>> {
    let (key, media_type, sha) = match kind {
        PreviewKind::Media => ("preview_key", "preview_type", "preview_sha256"),
        PreviewKind::Poster => ("poster_key", "'image/jpeg'", "poster_sha256"),
        PreviewKind::Waveform => ("waveform_key", "'application/json'", "waveform_sha256"),
    };
    let sql = format!(
        "SELECT {key}, {media_type}, {sha} FROM analysis_jobs
         WHERE sha256 = ?1 AND kind = 'analyze' AND state = 'done' AND {key} IS NOT NULL"
    );
    conn.prepare_cached(&sql)?
        .query_row([sha256.hex()], |r| {
            Ok(PreviewObject {
                key: r.get(0)?,
                media_type: r.get(1)?,
                sha256: super::media::sha256_at(r, 2)?,
            })
        })
        .optional()
}

/// What the analysis made of one content: the preview's media type (when
/// it made one), and whether it made a poster and a waveform.
pub type Made = (Option<String>, bool, bool);

/// What the analysis made of each of `shas` (hex) that it is done with.
/// One query for a page of results.
pub fn made_previews(conn: &Connection, shas: &[String]) -> rusqlite::Result<std::collections::HashMap<String, Made>> {
    if shas.is_empty() {
        return Ok(Default::default());
    }
    let marks = vec!["?"; shas.len()].join(", ");
    let sql = format!(
        "SELECT sha256, CASE WHEN preview_key IS NULL THEN NULL ELSE preview_type END, poster_key IS NOT NULL,
             waveform_key IS NOT NULL
         FROM analysis_jobs WHERE kind = 'analyze' AND state = 'done' AND sha256 IN ({marks})"
    );
    conn.prepare(&sql)?
        .query_map(rusqlite::params_from_iter(shas), |r| {
            Ok((r.get(0)?, (r.get(1)?, r.get(2)?, r.get(3)?)))
        })?
        .collect()
}

/// The ids of published programs with a file of content `sha256`.
pub fn published_programs_with(conn: &Connection, sha256: &Sha256) -> rusqlite::Result<Vec<i64>> {
    conn.prepare_cached(
        "SELECT DISTINCT p.seq FROM programs p JOIN program_files f ON f.program_seq = p.seq
         WHERE f.sha256 = ?1 AND p.status = 'published' ORDER BY p.seq",
    )?
    .query_map([sha256.hex()], |r| r.get(0))?
    .collect()
}

/// The rowids of programs whose master has content `sha256`.
pub fn programs_with_master(conn: &Connection, sha256: &Sha256) -> rusqlite::Result<Vec<i64>> {
    conn.prepare_cached("SELECT program_seq FROM program_files WHERE sha256 = ?1 AND role = 'master'")?
        .query_map([sha256.hex()], |r| r.get(0))?
        .collect()
}

/// Gives programs whose master has content `sha256` and whose uploader
/// named no duration the measured one; returns their rowids.
pub fn fill_durations(conn: &Connection, sha256: &Sha256, seconds: u32) -> rusqlite::Result<Vec<i64>> {
    // (`version` and `updated_at` stay: the program's metadata did not
    // change hands, the hub filled in a blank.)
    conn.prepare_cached(
        "UPDATE programs SET duration_seconds = ?2
         WHERE duration_seconds IS NULL
           AND seq IN (SELECT program_seq FROM program_files WHERE sha256 = ?1 AND role = 'master')
         RETURNING seq",
    )?
    .query_map(params![sha256.hex(), seconds], |r| r.get(0))?
    .collect()
}

/// How many jobs are in each state (for `/metrics`).
pub fn counts(conn: &Connection) -> rusqlite::Result<Vec<(String, i64)>> {
    conn.prepare_cached("SELECT state, count(*) FROM analysis_jobs GROUP BY state ORDER BY state")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect()
}

/// Whether a job of content `sha256` exists (in any state).
pub fn exists(conn: &Connection, sha256: &Sha256) -> rusqlite::Result<bool> {
    conn.prepare_cached("SELECT EXISTS (SELECT 1 FROM analysis_jobs WHERE sha256 = ?1 AND kind = 'analyze')")?
        .query_row([sha256.hex()], |r| r.get(0))
}

/// Whether the preview object `key` (`previews/<sha256>/…`) is owned: a
/// finished analysis names it, or a job of its content waits or runs (and
/// may be writing it now).
pub fn owns_preview(conn: &Connection, key: &str) -> rusqlite::Result<bool> {
    let Some(sha) = key
        .strip_prefix("previews/")
        .and_then(|rest| rest.split('/').next())
        .and_then(Sha256::parse_hex)
    else {
        return Ok(false);
    };
    let previews: bool = conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM analysis_jobs WHERE sha256 = ?1 AND kind = 'analyze'
             AND (state IN ('pending', 'running') OR ?2 IN (preview_key, poster_key, waveform_key)))",
        )?
        .query_row(params![sha.hex(), key], |r| r.get(0))?;
    // Renditions are kept beside the previews.
    Ok(previews || super::renditions::owns(conn, &sha, key)?)
}
