//! Delivery profiles, and the rendition queue: one job per (content,
//! profile), claimed with a lease as analyses are.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};

use super::stations::bad_column;
use super::{now, to_micros};
use crate::domain::profile::Profile;
use crate::domain::{AnalysisState, Loudness, Sha256, StationId};

fn profile_of(spec: String) -> rusqlite::Result<Profile> {
    serde_json::from_str(&spec).map_err(|e| bad_column(0, e.to_string()))
}

/// Inserts `p`; `false` when a profile has its id.
pub fn insert_profile(conn: &Connection, p: &Profile) -> rusqlite::Result<bool> {
    let spec = serde_json::to_string(p).map_err(|e| bad_column(0, e.to_string()))?;
    Ok(conn
        .prepare_cached(
            "INSERT INTO profiles (id, name, spec, created_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (id) DO NOTHING",
        )?
        .execute(params![p.id, p.name, spec, to_micros(now())])?
        == 1)
}

/// Every profile, by id.
pub fn profiles(conn: &Connection) -> rusqlite::Result<Vec<Profile>> {
    conn.prepare_cached("SELECT spec FROM profiles ORDER BY id")?
        .query_map([], |r| r.get(0))?
        .map(|s| s.and_then(profile_of))
        .collect()
}

pub fn profile(conn: &Connection, id: &str) -> rusqlite::Result<Option<Profile>> {
    conn.prepare_cached("SELECT spec FROM profiles WHERE id = ?1")?
        .query_row([id], |r| r.get(0))
        .optional()?
        .map(profile_of)
        .transpose()
}

/// Whether a follow, a station's default or a push target names profile
/// `id`.
pub fn profile_in_use(conn: &Connection, id: &str) -> rusqlite::Result<bool> {
    conn.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM follows WHERE profile = ?1)
             OR EXISTS (SELECT 1 FROM stations WHERE default_profile = ?1)
             OR EXISTS (SELECT 1 FROM push_targets WHERE profile = ?1 AND deleted_at IS NULL)",
    )?
    .query_row([id], |r| r.get(0))
}

/// Removes profile `id` and its renditions' rows (the sweep removes their
/// objects); the keys of what was made, and whether there was one.
pub fn delete_profile(conn: &Connection, id: &str) -> rusqlite::Result<(bool, Vec<String>)> {
    let keys: Vec<String> = conn
        .prepare_cached("DELETE FROM renditions WHERE profile_id = ?1 RETURNING key")?
        .query_map([id], |r| r.get::<_, Option<String>>(0))?
        .filter_map(Result::transpose)
        .collect::<Result<_, _>>()?;
    let gone = conn
        .prepare_cached("DELETE FROM profiles WHERE id = ?1")?
        .execute([id])?
        == 1;
    Ok((gone, keys))
}

/// Sets (or clears) `station`'s default profile; whether the station exists.
pub fn set_default_profile(conn: &Connection, station: &StationId, profile: Option<&str>) -> rusqlite::Result<bool> {
    Ok(conn
        .prepare_cached("UPDATE stations SET default_profile = ?2 WHERE id = ?1")?
        .execute(params![station.as_str(), profile])?
        == 1)
}

pub fn default_profile(conn: &Connection, station: &StationId) -> rusqlite::Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT default_profile FROM stations WHERE id = ?1")?
        .query_row([station.as_str()], |r| r.get(0))
        .optional()?
        .flatten())
}

/// A rendition as a request finds it.
#[derive(Debug, Clone, PartialEq)]
pub enum Found {
    /// Queued or being made.
    Waiting(AnalysisState),
    Failed(String),
    Done(Made),
}

/// What a finished rendition is.
#[derive(Debug, Clone, PartialEq)]
pub struct Made {
    pub key: String,
    pub media_type: String,
    /// The object's size.
    pub size: u64,
    /// The SHA-256 state after the object's bytes (`media::sha256`).
    pub head: Vec<u8>,
    pub loudness: Option<Loudness>,
}

/// The rendition of `sha256` to `profile`, queued when there is none yet.
pub fn find_or_queue(conn: &Connection, sha256: &Sha256, profile: &str) -> rusqlite::Result<Found> {
    let at = to_micros(now());
    conn.prepare_cached(
        "INSERT INTO renditions (sha256, profile_id, state, next_attempt_at, created_at, updated_at)
         VALUES (?1, ?2, 'pending', ?3, ?3, ?3) ON CONFLICT DO NOTHING",
    )?
    .execute(params![sha256.hex(), profile, at])?;
    find(conn, sha256, profile)?.ok_or(rusqlite::Error::QueryReturnedNoRows)
}

/// The rendition of `sha256` to `profile`, if one was asked for.
pub fn find(conn: &Connection, sha256: &Sha256, profile: &str) -> rusqlite::Result<Option<Found>> {
    conn.prepare_cached(
        "SELECT state, error, key, media_type, size, head, loudness FROM renditions
         WHERE sha256 = ?1 AND profile_id = ?2",
    )?
    .query_row(params![sha256.hex(), profile], |r| {
        let state: String = r.get(0)?;
        Ok(
            match AnalysisState::parse(&state).ok_or_else(|| bad_column(0, state))? {
                AnalysisState::Done => Found::Done(Made {
                    key: r.get(2)?,
                    media_type: r.get(3)?,
                    size: r.get(4)?,
                    head: r.get(5)?,
                    loudness: r
                        .get::<_, Option<String>>(6)?
                        .map(|j| serde_json::from_str(&j).map_err(|e| bad_column(6, e.to_string())))
                        .transpose()?,
                }),
                AnalysisState::Failed => Found::Failed(r.get::<_, Option<String>>(1)?.unwrap_or_default()),
                s => Found::Waiting(s),
            },
        )
    })
    .optional()
}

/// A rendition job a worker holds.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub sha256: Sha256,
    pub profile: Profile,
    pub attempt: i64,
    /// Where the content is in the media store.
    pub key: String,
    /// How long the content lasts, when its analysis said.
    pub findings: Option<crate::domain::Findings>,
}

/// Claims the next due rendition whose content's analysis has ended (or
/// one whose worker's lease ran out) until `lease_until`; `video` says
/// whether a video rendition may be claimed, `audio` an audio one.
pub fn claim(
    conn: &Connection,
    at: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    audio: bool,
    video: bool,
) -> rusqlite::Result<Option<Claimed>> {
    loop {
        let claimed: Option<(String, String, i64)> = conn
            .prepare_cached(
                "UPDATE renditions SET state = 'running', attempts = attempts + 1, lease_until = ?2, updated_at = ?1
                 WHERE rowid = (SELECT r.rowid FROM renditions r JOIN profiles p ON p.id = r.profile_id
                     WHERE ((r.state = 'pending' AND r.next_attempt_at <= ?1) OR (r.state = 'running' AND r.lease_until < ?1))
                       AND EXISTS (SELECT 1 FROM analysis_jobs a WHERE a.sha256 = r.sha256 AND a.state IN ('done', 'failed'))
                       AND CASE WHEN p.spec ->> '$.container' IN ('mp4', 'mxf') THEN ?4 ELSE ?3 END
                     ORDER BY r.next_attempt_at LIMIT 1)
                 RETURNING sha256, profile_id, attempts",
            )?
            .query_row(params![to_micros(at), to_micros(lease_until), audio, video], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()?;
        let Some((hex, profile_id, attempt)) = claimed else {
            return Ok(None);
        };
        let sha256 = Sha256::parse_hex(&hex).ok_or_else(|| bad_column(0, hex.clone()))?;
        let key: Option<String> = conn
            .prepare_cached(
                "SELECT o.key FROM media_objects o WHERE o.sha256 = ?1
                   AND EXISTS (SELECT 1 FROM program_files f WHERE f.sha256 = o.sha256)",
            )?
            .query_row([&hex], |r| r.get(0))
            .optional()?;
        let (Some(key), Some(profile)) = (key, profile(conn, &profile_id)?) else {
            // No file has these bytes any more: nothing to make.
            conn.prepare_cached("DELETE FROM renditions WHERE sha256 = ?1 AND profile_id = ?2")?
                .execute([&hex, &profile_id])?;
            continue;
        };
        return Ok(Some(Claimed {
            findings: super::analysis::findings(conn, &sha256)?,
            sha256,
            profile,
            attempt,
            key,
        }));
    }
}

/// Extends the lease of a job this worker holds; `false` if it lost it.
pub fn renew(conn: &Connection, job: &Claimed, lease_until: DateTime<Utc>) -> rusqlite::Result<bool> {
    Ok(conn
        .prepare_cached(
            "UPDATE renditions SET lease_until = ?4
             WHERE sha256 = ?1 AND profile_id = ?2 AND state = 'running' AND attempts = ?3",
        )?
        .execute(params![
            job.sha256.hex(),
            job.profile.id,
            job.attempt,
            to_micros(lease_until)
        ])?
        > 0)
}

/// Records a finished rendition; `false` if the job was no longer this
/// worker's (then nothing is recorded).
pub fn finish(conn: &Connection, job: &Claimed, made: &Made) -> rusqlite::Result<bool> {
    let loudness = made
        .loudness
        .as_ref()
        .map(|l| serde_json::to_string(l).map_err(|e| bad_column(0, e.to_string())))
        .transpose()?;
    Ok(conn
        .prepare_cached(
            "UPDATE renditions SET state = 'done', lease_until = NULL, error = NULL, key = ?4, media_type = ?5,
                 size = ?6, head = ?7, loudness = ?8, updated_at = ?9
             WHERE sha256 = ?1 AND profile_id = ?2 AND state = 'running' AND attempts = ?3",
        )?
        .execute(params![
            job.sha256.hex(),
            job.profile.id,
            job.attempt,
            made.key,
            made.media_type,
            made.size,
            made.head,
            loudness,
            to_micros(now()),
        ])?
        > 0)
}

/// Gives a job back: tried again at `retry_at`, or failed for good when `None`.
/// Queues the failed renditions of content `sha256` again (`pxhub
/// analyze`, once what made them fail is mended).
pub fn requeue_failed(conn: &Connection, sha256: &Sha256) -> rusqlite::Result<usize> {
    conn.prepare_cached(
        "UPDATE renditions SET state = 'pending', attempts = 0, error = NULL, next_attempt_at = ?2, updated_at = ?2
         WHERE sha256 = ?1 AND state = 'failed'",
    )?
    .execute(params![sha256.hex(), to_micros(now())])
}

pub fn give_back(
    conn: &Connection,
    job: &Claimed,
    error: &str,
    retry_at: Option<DateTime<Utc>>,
) -> rusqlite::Result<()> {
    let state = if retry_at.is_some() { "pending" } else { "failed" };
    conn.prepare_cached(
        "UPDATE renditions SET state = ?4, error = ?5, lease_until = NULL, next_attempt_at = ?6, updated_at = ?7
         WHERE sha256 = ?1 AND profile_id = ?2 AND state = 'running' AND attempts = ?3",
    )?
    .execute(params![
        job.sha256.hex(),
        job.profile.id,
        job.attempt,
        state,
        error,
        retry_at.map_or(0, to_micros),
        to_micros(now()),
    ])?;
    Ok(())
}

/// Whether a rendition of content `sha256` names object `key`, or waits or
/// runs (and may be writing it now).
pub fn owns(conn: &Connection, sha256: &Sha256, key: &str) -> rusqlite::Result<bool> {
    conn.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM renditions WHERE sha256 = ?1 AND (state IN ('pending', 'running') OR key = ?2))",
    )?
    .query_row(params![sha256.hex(), key], |r| r.get(0))
}

/// How many renditions were made (or are waiting) of content `sha256`.
pub fn count(conn: &Connection, sha256: &Sha256) -> rusqlite::Result<usize> {
    conn.prepare_cached("SELECT count(*) FROM renditions WHERE sha256 = ?1")?
        .query_row([sha256.hex()], |r| r.get(0))
}
