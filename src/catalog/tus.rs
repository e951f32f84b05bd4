//! Resumable uploads' state. Where an upload's bytes wait (its "sink") is
//! the media store's business: the catalog keeps it as an opaque value `S`
//! (JSON in its column), and knows of it only that it names its object's
//! `key`, for the sweeper.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::stations::bad_column;
use super::{from_micros, to_micros};
use crate::domain::{FileRole, ProgramId, StationId};

#[derive(Debug, Clone)]
pub struct TusRow<S> {
    pub id: String,
    pub station: StationId,
    pub program_id: ProgramId,
    pub role: FileRole,
    pub filename: String,
    pub media_type: String,
    pub metadata: String,
    pub length: Option<u64>,
    pub received: u64,
    pub sink: S,
    pub sha256_state: Vec<u8>,
    pub expires_at: DateTime<Utc>,
    pub completed: bool,
}

const COLUMNS: &str = "id, station_id, program_id, role, filename, media_type, metadata, length, received, sink,
    sha256_state, expires_at, completed_at IS NOT NULL";

fn from_row<S: DeserializeOwned>(r: &Row<'_>) -> rusqlite::Result<TusRow<S>> {
    let sink: String = r.get(9)?;
    Ok(TusRow {
        id: r.get(0)?,
        station: {
            let s: String = r.get(1)?;
            StationId::parse(&s).map_err(|e| bad_column(1, e))?
        },
        program_id: {
            let s: String = r.get(2)?;
            ProgramId::parse(&s).ok_or_else(|| bad_column(2, s))?
        },
        role: {
            let s: String = r.get(3)?;
            FileRole::parse(&s).ok_or_else(|| bad_column(3, s))?
        },
        filename: r.get(4)?,
        media_type: r.get(5)?,
        metadata: r.get(6)?,
        length: r.get(7)?,
        received: r.get(8)?,
        sink: serde_json::from_str(&sink).map_err(|e| bad_column(9, e.to_string()))?,
        sha256_state: r.get(10)?,
        expires_at: from_micros(r.get(11)?),
        completed: r.get(12)?,
    })
}

pub fn insert<S: Serialize>(conn: &Connection, t: &TusRow<S>) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO tus_uploads (id, station_id, program_id, role, filename, media_type, metadata, length, received,
             sink, sha256_state, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        params![
            t.id,
            t.station.as_str(),
            t.program_id.to_string(),
            t.role.as_str(),
            t.filename,
            t.media_type,
            t.metadata,
            t.length,
            t.received,
            serde_json::to_string(&t.sink).expect("sink state serialises"),
            t.sha256_state,
            to_micros(super::now()),
            to_micros(t.expires_at)
        ],
    )?;
    Ok(())
}

pub fn get<S: DeserializeOwned>(conn: &Connection, id: &str) -> rusqlite::Result<Option<TusRow<S>>> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM tus_uploads WHERE id = ?1"))?
        .query_row([id], from_row)
        .optional()
}

/// Records progress: what was received, where it is, the hash so far.
pub fn advance<S: Serialize>(conn: &Connection, t: &TusRow<S>, completed: bool) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE tus_uploads SET length = ?2, received = ?3, sink = ?4, sha256_state = ?5, expires_at = ?6,
             completed_at = CASE WHEN ?7 THEN ?8 ELSE completed_at END
         WHERE id = ?1",
    )?
    .execute(params![
        t.id,
        t.length,
        t.received,
        serde_json::to_string(&t.sink).expect("sink state serialises"),
        t.sha256_state,
        to_micros(t.expires_at),
        completed,
        to_micros(super::now())
    ])?;
    Ok(())
}

pub fn delete(conn: &Connection, id: &str) -> rusqlite::Result<()> {
    conn.execute("DELETE FROM tus_uploads WHERE id = ?1", [id])?;
    Ok(())
}

/// Uploads past their expiry.
pub fn expired<S: DeserializeOwned>(conn: &Connection, now: DateTime<Utc>) -> rusqlite::Result<Vec<TusRow<S>>> {
    conn.prepare(&format!("SELECT {COLUMNS} FROM tus_uploads WHERE expires_at <= ?1"))?
        .query_map([to_micros(now)], from_row)?
        .collect()
}

/// How many unfinished, unexpired uploads `station` holds.
pub fn open_count(conn: &Connection, station: &StationId, now: DateTime<Utc>) -> rusqlite::Result<u64> {
    conn.prepare_cached(
        "SELECT count(*) FROM tus_uploads WHERE station_id = ?1 AND completed_at IS NULL AND expires_at > ?2",
    )?
    .query_row(params![station.as_str(), to_micros(now)], |r| r.get(0))
}

pub fn exists(conn: &Connection, id: &str) -> rusqlite::Result<bool> {
    conn.prepare_cached("SELECT EXISTS (SELECT 1 FROM tus_uploads WHERE id = ?1)")?
        .query_row([id], |r| r.get(0))
}
