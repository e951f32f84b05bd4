//! Stations as rows: insert, read, list. Also `bad_column`, the error for a
//! value the schema should have prevented. No rule about who may add a
//! station lives here.

use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::domain::{Station, StationId, StationKind};

fn from_row(r: &Row<'_>) -> rusqlite::Result<Station> {
    let id: String = r.get(0)?;
    let kind: String = r.get(3)?;
    Ok(Station {
        id: StationId::parse(&id).map_err(|e| bad_column(0, e))?,
        name: r.get(1)?,
        province: r.get(2)?,
        kind: StationKind::parse(&kind).ok_or_else(|| bad_column(3, kind))?,
    })
}

/// A value the schema should have prevented.
pub(crate) fn bad_column(i: usize, what: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, what.into())
}

/// Inserts `s`; `Ok(false)` when a station with that id exists already.
pub fn insert(conn: &Connection, s: &Station) -> rusqlite::Result<bool> {
    let r = conn.execute(
        "INSERT INTO stations (id, name, province, kind, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            s.id.as_str(),
            s.name,
            s.province,
            s.kind.as_str(),
            super::to_micros(super::now())
        ],
    );
    match r {
        Ok(_) => Ok(true),
        Err(e) if super::is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e),
    }
}

pub fn get(conn: &Connection, id: &StationId) -> rusqlite::Result<Option<Station>> {
    conn.prepare_cached("SELECT id, name, province, kind FROM stations WHERE id = ?1")?
        .query_row([id.as_str()], from_row)
        .optional()
}

/// Stations in id order, after `after` (keyset pagination).
pub fn list(conn: &Connection, after: Option<&str>, limit: usize) -> rusqlite::Result<Vec<Station>> {
    conn.prepare_cached("SELECT id, name, province, kind FROM stations WHERE id > ?1 ORDER BY id LIMIT ?2")?
        .query_map(params![after.unwrap_or(""), limit as i64], from_row)?
        .collect()
}

/// Which of `ids` are not stations.
pub fn missing(conn: &Connection, ids: &[StationId]) -> rusqlite::Result<Vec<StationId>> {
    let mut stmt = conn.prepare_cached("SELECT 1 FROM stations WHERE id = ?1")?;
    let mut out = Vec::new();
    for id in ids {
        if !stmt.exists([id.as_str()])? {
            out.push(id.clone());
        }
    }
    Ok(out)
}

/// Every station's name, by id (for reports).
pub fn names(conn: &Connection) -> rusqlite::Result<std::collections::BTreeMap<StationId, String>> {
    conn.prepare_cached("SELECT id, name FROM stations")?
        .query_map([], |r| {
            let id: String = r.get(0)?;
            Ok((StationId::parse(&id).map_err(|e| bad_column(0, e))?, r.get(1)?))
        })?
        .collect()
}
