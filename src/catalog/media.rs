//! Media objects (content-addressed) and the uploads writing them.

use rusqlite::{params, Connection, OptionalExtension};

use super::stations::bad_column;
use super::{now, to_micros};
use crate::domain::Sha256;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaObject {
    pub sha256: Sha256,
    pub key: String,
    pub size: u64,
}

/// Column `i`, a SHA-256 in hex.
pub(crate) fn sha256_at(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Sha256> {
    let text: String = r.get(i)?;
    Sha256::parse_hex(&text).ok_or_else(|| bad_column(i, text))
}

pub fn object(conn: &Connection, sha256: &Sha256) -> rusqlite::Result<Option<MediaObject>> {
    conn.prepare_cached("SELECT sha256, key, size FROM media_objects WHERE sha256 = ?1")?
        .query_row([sha256.hex()], |r| {
            Ok(MediaObject {
                sha256: sha256_at(r, 0)?,
                key: r.get(1)?,
                size: r.get(2)?,
            })
        })
        .optional()
}

pub fn insert_object(conn: &Connection, o: &MediaObject) -> rusqlite::Result<()> {
    conn.prepare_cached("INSERT INTO media_objects (sha256, key, size, created_at) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![o.sha256.hex(), o.key, o.size, to_micros(now())])?;
    Ok(())
}

/// Forgets the object `sha256` if no program file refers to it any more, with
/// its analysis, and returns the keys of the object and its previews so the
/// caller can remove them from the store after commit.
pub fn release(conn: &Connection, sha256: &Sha256) -> rusqlite::Result<Vec<String>> {
    let sha256 = sha256.hex();
    let used: bool = conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM program_files WHERE sha256 = ?1)")?
        .query_row([&sha256], |r| r.get(0))?;
    if used {
        return Ok(Vec::new());
    }
    let mut keys: Vec<String> = conn
        .prepare_cached("DELETE FROM media_objects WHERE sha256 = ?1 RETURNING key")?
        .query_row([&sha256], |r| r.get(0))
        .optional()?
        .into_iter()
        .collect();
    let previews: Option<(Option<String>, Option<String>, Option<String>)> = conn
        .prepare_cached("DELETE FROM analysis_jobs WHERE sha256 = ?1 RETURNING preview_key, poster_key, waveform_key")?
        .query_row([&sha256], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    if let Some((a, b, c)) = previews {
        keys.extend([a, b, c].into_iter().flatten());
    }
    // Its renditions go with it.
    let made: Vec<Option<String>> = conn
        .prepare_cached("DELETE FROM renditions WHERE sha256 = ?1 RETURNING key")?
        .query_map([&sha256], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    keys.extend(made.into_iter().flatten());
    Ok(keys)
}

/// Every object, in key order (for `pxhub scrub`).
pub fn all_objects(conn: &Connection) -> rusqlite::Result<Vec<MediaObject>> {
    conn.prepare("SELECT sha256, key, size FROM media_objects ORDER BY key")?
        .query_map([], |r| {
            Ok(MediaObject {
                sha256: sha256_at(r, 0)?,
                key: r.get(1)?,
                size: r.get(2)?,
            })
        })?
        .collect()
}

/// Whether a record, an upload in progress or a resumable upload owns `key`.
pub fn is_known_key(conn: &Connection, key: &str) -> rusqlite::Result<bool> {
    conn.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM media_objects WHERE key = ?1)
             OR EXISTS (SELECT 1 FROM media_uploads WHERE key = ?1)
             OR EXISTS (SELECT 1 FROM tus_uploads WHERE json_extract(sink, '$.key') = ?1)",
    )?
    .query_row([key], |r| r.get(0))
}

pub fn begin_upload(conn: &Connection, key: &str) -> rusqlite::Result<()> {
    conn.prepare_cached("INSERT INTO media_uploads (key, started_at) VALUES (?1, ?2)")?
        .execute(params![key, to_micros(now())])?;
    Ok(())
}

/// Remembers the S3 multipart upload writing `key`.
pub fn set_multipart_id(conn: &Connection, key: &str, id: &str) -> rusqlite::Result<()> {
    conn.prepare_cached("UPDATE media_uploads SET multipart_id = ?2 WHERE key = ?1")?
        .execute([key, id])?;
    Ok(())
}

pub fn end_upload(conn: &Connection, key: &str) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM media_uploads WHERE key = ?1")?
        .execute([key])?;
    Ok(())
}

/// Uploads in progress: key and S3 multipart upload id.
pub fn uploads(conn: &Connection) -> rusqlite::Result<Vec<(String, Option<String>)>> {
    conn.prepare("SELECT key, multipart_id FROM media_uploads ORDER BY key")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect()
}

/// Whether an upload in progress or a resumable upload names the S3
/// multipart upload `id`.
pub fn is_known_multipart(conn: &Connection, id: &str) -> rusqlite::Result<bool> {
    conn.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM media_uploads WHERE multipart_id = ?1)
             OR EXISTS (SELECT 1 FROM tus_uploads WHERE json_extract(sink, '$.multipart_id') = ?1)",
    )?
    .query_row([id], |r| r.get(0))
}
