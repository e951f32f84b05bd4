//! The hubs this hub follows, and the programs it mirrors from them.

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::programs::{self, Stored};
use super::stations::bad_column;
use super::{from_micros, to_micros};
use crate::domain::{FileRecord, Origin, Peer, ProgramId, ProgramMetadata, Secret, StationId};

const COLUMNS: &str = "id, name, url, token, cursor, last_error, created_at";

fn from_row(r: &Row<'_>) -> rusqlite::Result<Peer> {
    let id: String = r.get(0)?;
    Ok(Peer {
        id: StationId::parse(&id).map_err(|e| bad_column(0, e))?,
        name: r.get(1)?,
        url: r.get(2)?,
        token: Secret::new(r.get::<_, String>(3)?),
        cursor: r.get(4)?,
        last_error: r.get(5)?,
        created_at: from_micros(r.get(6)?),
    })
}

/// Inserts `p`; `Ok(false)` when a peer with that id exists already.
pub fn insert(conn: &Connection, p: &Peer) -> rusqlite::Result<bool> {
    let r = conn.execute(
        "INSERT INTO peers (id, name, url, token, cursor, last_error, created_at)
         VALUES (?1, ?2, ?3, ?4, NULL, NULL, ?5)",
        params![p.id.as_str(), p.name, p.url, p.token.expose(), to_micros(p.created_at)],
    );
    match r {
        Ok(_) => Ok(true),
        Err(e) if super::is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e),
    }
}

pub fn get(conn: &Connection, id: &StationId) -> rusqlite::Result<Option<Peer>> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM peers WHERE id = ?1"))?
        .query_row([id.as_str()], from_row)
        .optional()
}

pub fn list(conn: &Connection) -> rusqlite::Result<Vec<Peer>> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM peers ORDER BY id"))?
        .query_map([], from_row)?
        .collect()
}

/// Removes the peer; `Ok(false)` when there was none.
pub fn delete(conn: &Connection, id: &StationId) -> rusqlite::Result<bool> {
    Ok(conn.execute("DELETE FROM peers WHERE id = ?1", [id.as_str()])? > 0)
}

/// Where the peer's feed is read from next.
pub fn set_cursor(conn: &Connection, id: &StationId, cursor: &str) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE peers SET cursor = ?2 WHERE id = ?1",
        params![id.as_str(), cursor],
    )?;
    Ok(())
}

/// What went wrong at the last read (`None`: it went well).
pub fn set_error(conn: &Connection, id: &StationId, error: Option<&str>) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE peers SET last_error = ?2 WHERE id = ?1",
        params![id.as_str(), error],
    )?;
    Ok(())
}

/// The program mirrored from `peer` whose id there is `remote_id`.
pub fn mirror(conn: &Connection, peer: &StationId, remote_id: &str) -> rusqlite::Result<Option<Stored>> {
    let seq: Option<i64> = conn
        .prepare_cached("SELECT seq FROM programs WHERE origin_peer = ?1 AND origin_program_id = ?2")?
        .query_row(params![peer.as_str(), remote_id], |r| r.get(0))
        .optional()?;
    match seq {
        Some(seq) => Ok(programs::id_of(conn, seq)?
            .map(|id| programs::get(conn, id))
            .transpose()?
            .flatten()),
        None => Ok(None),
    }
}

/// The published programs mirrored from `peer`, by rowid.
pub fn published_mirrors(conn: &Connection, peer: &StationId) -> rusqlite::Result<Vec<i64>> {
    conn.prepare_cached("SELECT seq FROM programs WHERE origin_peer = ?1 AND status = 'published'")?
        .query_map([peer.as_str()], |r| r.get(0))?
        .collect()
}

/// A new mirror (a draft, as every program starts) of the peer's program;
/// returns its rowid.
pub fn insert_mirror(
    conn: &Connection,
    id: ProgramId,
    origin: &Origin,
    meta: &ProgramMetadata,
    now: chrono::DateTime<chrono::Utc>,
) -> rusqlite::Result<i64> {
    let seq = programs::insert(conn, id, &origin.peer, meta, now)?;
    conn.execute(
        "UPDATE programs SET origin_peer = ?2, origin_station = ?3, origin_station_name = ?4,
             origin_program_id = ?5
         WHERE seq = ?1",
        params![
            seq,
            origin.peer.as_str(),
            origin.station,
            origin.station_name,
            origin.program_id
        ],
    )?;
    Ok(seq)
}

/// The origin station's name, as the peer now gives it.
pub fn rename_origin(conn: &Connection, seq: i64, station: &str, name: &str) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE programs SET origin_station = ?2, origin_station_name = ?3 WHERE seq = ?1",
        params![seq, station, name],
    )?;
    Ok(())
}

/// The mirror's files are the peer's records: what they are, not (yet)
/// stored here; no analysis is queued for them.
pub fn replace_files(conn: &Connection, seq: i64, files: &[FileRecord]) -> rusqlite::Result<()> {
    conn.execute("DELETE FROM program_files WHERE program_seq = ?1", [seq])?;
    let mut add = conn.prepare_cached(
        "INSERT INTO program_files (program_seq, role, filename, media_type, size, sha256, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for f in files {
        add.execute(params![
            seq,
            f.role.as_str(),
            f.filename,
            f.media_type,
            f.size,
            f.sha256.hex(),
            to_micros(super::now())
        ])?;
    }
    Ok(())
}
