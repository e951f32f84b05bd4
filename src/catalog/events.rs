//! The change feed's events.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection};

use super::stations::bad_column;
use super::{from_micros, to_micros};
use crate::domain::{Event, EventType, ProgramId};

pub fn append(conn: &Connection, kind: EventType, program_seq: i64, at: DateTime<Utc>) -> rusqlite::Result<i64> {
    conn.prepare_cached("INSERT INTO events (type, program_seq, at) VALUES (?1, ?2, ?3)")?
        .execute(params![kind.as_str(), program_seq, to_micros(at)])?;
    Ok(conn.last_insert_rowid())
}

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Event> {
    let (kind, program): (String, String) = (r.get(1)?, r.get(2)?);
    Ok(Event {
        seq: r.get(0)?,
        kind: EventType::parse(&kind).ok_or_else(|| bad_column(1, kind))?,
        program_id: ProgramId::parse(&program).ok_or_else(|| bad_column(2, program))?,
        at: from_micros(r.get(3)?),
    })
}

/// Events after `seq`, oldest first.
pub fn after(conn: &Connection, seq: i64, limit: usize) -> rusqlite::Result<Vec<Event>> {
    conn.prepare_cached(
        "SELECT e.seq, e.type, p.id, e.at FROM events e JOIN programs p ON p.seq = e.program_seq
         WHERE e.seq > ?1 ORDER BY e.seq LIMIT ?2",
    )?
    .query_map(params![seq, limit as i64], from_row)?
    .collect()
}

/// Events before `seq` (all when `None`), newest first.
pub fn before(conn: &Connection, seq: Option<i64>, limit: usize) -> rusqlite::Result<Vec<Event>> {
    conn.prepare_cached(
        "SELECT e.seq, e.type, p.id, e.at FROM events e JOIN programs p ON p.seq = e.program_seq
         WHERE e.seq < ?1 ORDER BY e.seq DESC LIMIT ?2",
    )?
    .query_map(params![seq.unwrap_or(i64::MAX), limit as i64], from_row)?
    .collect()
}

pub fn get(conn: &Connection, seq: i64) -> rusqlite::Result<Option<Event>> {
    use rusqlite::OptionalExtension;
    conn.prepare_cached(
        "SELECT e.seq, e.type, p.id, e.at FROM events e JOIN programs p ON p.seq = e.program_seq WHERE e.seq = ?1",
    )?
    .query_row([seq], from_row)
    .optional()
}

/// Where a channel that carries events out has read the log to; `None`
/// before it was ever set.
pub fn cursor(conn: &Connection, channel: &str) -> rusqlite::Result<Option<i64>> {
    use rusqlite::OptionalExtension;
    let key = format!("cursor.{channel}");
    let raw: Option<Vec<u8>> = conn
        .prepare_cached("SELECT value FROM hub_settings WHERE key = ?1")?
        .query_row([&key], |r| r.get(0))
        .optional()?;
    Ok(raw.and_then(|b| <[u8; 8]>::try_from(b).ok()).map(i64::from_be_bytes))
}

pub fn set_cursor(conn: &Connection, channel: &str, seq: i64) -> rusqlite::Result<()> {
    conn.prepare_cached("INSERT OR REPLACE INTO hub_settings (key, value) VALUES (?1, ?2)")?
        .execute(params![format!("cursor.{channel}"), &seq.to_be_bytes()[..]])?;
    Ok(())
}

/// The newest event's position; 0 when there is none.
pub fn last(conn: &Connection) -> rusqlite::Result<i64> {
    conn.prepare_cached("SELECT COALESCE(MAX(seq), 0) FROM events")?
        .query_row([], |r| r.get(0))
}
