//! The hubs this hub follows, and the programs it mirrors from them.

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::programs::{self, Stored};
use super::stations::bad_column;
use super::{from_micros, to_micros};
use crate::domain::{
    EagerMirror, FileRecord, FileRole, Origin, Peer, PeerUse, ProgramId, ProgramMetadata, Secret, Sha256, StationId,
};

const COLUMNS: &str =
    "id, name, url, token, cursor, last_error, created_at, polled_at, wake_secret, wake_hook, eager, eager_max_bytes";

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
        polled_at: r.get::<_, Option<i64>>(7)?.map(from_micros),
        wake_secret: r.get::<_, Option<String>>(8)?.map(Secret::new),
        wake_hook: r.get(9)?,
        eager: EagerMirror::parse(&r.get::<_, String>(10)?)
            .ok_or_else(|| bad_column(10, "not an eager mode".into()))?,
        eager_max_bytes: r.get::<_, i64>(11)?.max(0) as u64,
    })
}

/// Inserts `p`; `Ok(false)` when a peer with that id exists already.
pub fn insert(conn: &Connection, p: &Peer) -> rusqlite::Result<bool> {
    let r = conn.execute(
        "INSERT INTO peers (id, name, url, token, cursor, last_error, created_at, eager, eager_max_bytes)
         VALUES (?1, ?2, ?3, ?4, NULL, NULL, ?5, ?6, ?7)",
        params![
            p.id.as_str(),
            p.name,
            p.url,
            p.token.expose(),
            to_micros(p.created_at),
            p.eager.as_str(),
            i64::try_from(p.eager_max_bytes).unwrap_or(i64::MAX)
        ],
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

/// The peer's feed was read (or tried) `at`; `error` says what went wrong
/// (`None`: it went well).
pub fn polled(
    conn: &Connection,
    id: &StationId,
    error: Option<&str>,
    at: chrono::DateTime<chrono::Utc>,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE peers SET last_error = ?2, polled_at = ?3 WHERE id = ?1",
        params![id.as_str(), error, to_micros(at)],
    )?;
    Ok(())
}

/// The secret the peer's webhooks are signed with here, and the id of the
/// subscription there (`None`: not subscribed yet).
pub fn set_wake(conn: &Connection, id: &StationId, secret: &Secret, hook: Option<&str>) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE peers SET wake_secret = ?2, wake_hook = ?3 WHERE id = ?1",
        params![id.as_str(), secret.expose(), hook],
    )?;
    Ok(())
}

/// The bytes stored here of the files of programs mirrored from `peer`
/// (each content once).
pub fn stored_bytes(conn: &Connection, peer: &StationId) -> rusqlite::Result<u64> {
    conn.prepare_cached(
        "SELECT coalesce(sum(m.size), 0) FROM media_objects m
          WHERE m.sha256 IN (SELECT f.sha256 FROM program_files f JOIN programs p ON p.seq = f.program_seq
                              WHERE p.origin_peer = ?1)",
    )?
    .query_row([peer.as_str()], |r| r.get::<_, i64>(0))
    .map(|n| n.max(0) as u64)
}

/// Files of published programs mirrored from `peer` not stored here yet,
/// newest program first (at most `limit`): the program's id here, the
/// file's role and size and SHA-256.
pub fn unfetched(
    conn: &Connection,
    peer: &StationId,
    limit: usize,
) -> rusqlite::Result<Vec<(ProgramId, FileRole, u64, Sha256)>> {
    conn.prepare_cached(
        "SELECT p.id, f.role, f.size, f.sha256 FROM programs p JOIN program_files f ON f.program_seq = p.seq
          WHERE p.origin_peer = ?1 AND p.status = 'published'
            AND NOT EXISTS (SELECT 1 FROM media_objects m WHERE m.sha256 = f.sha256)
          ORDER BY p.published_at DESC, p.seq DESC, f.role LIMIT ?2",
    )?
    .query_map(params![peer.as_str(), limit as i64], |r| {
        let id: String = r.get(0)?;
        let role: String = r.get(1)?;
        let sha: String = r.get(3)?;
        Ok((
            ProgramId::parse(&id).ok_or_else(|| bad_column(0, "not a program id".into()))?,
            FileRole::parse(&role).ok_or_else(|| bad_column(1, "not a file role".into()))?,
            r.get::<_, i64>(2)?.max(0) as u64,
            Sha256::parse_hex(&sha).ok_or_else(|| bad_column(3, "not a SHA-256".into()))?,
        ))
    })?
    .collect()
}

/// How many published programs are mirrored from each peer, by peer id.
pub fn mirror_counts(conn: &Connection) -> rusqlite::Result<std::collections::HashMap<String, u64>> {
    conn.prepare_cached(
        "SELECT origin_peer, count(*) FROM programs
          WHERE origin_peer IS NOT NULL AND status = 'published' GROUP BY origin_peer",
    )?
    .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
    .collect()
}

/// A mirrored file could not be fetched from `peer` `at`: it waits for
/// its origin.
pub fn set_wait(
    conn: &Connection,
    sha256: &Sha256,
    peer: &StationId,
    at: chrono::DateTime<chrono::Utc>,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO peer_waits (sha256, peer, tried_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (sha256) DO UPDATE SET peer = excluded.peer, tried_at = excluded.tried_at",
        params![sha256.hex(), peer.as_str(), to_micros(at)],
    )?;
    Ok(())
}

/// The file is here now (or no longer wanted): it waits no more.
pub fn clear_wait(conn: &Connection, sha256: &Sha256) -> rusqlite::Result<()> {
    conn.execute("DELETE FROM peer_waits WHERE sha256 = ?1", [sha256.hex()])?;
    Ok(())
}

/// When a fetch of the file from its origin last failed, if it waits.
pub fn wait_of(conn: &Connection, sha256: &Sha256) -> rusqlite::Result<Option<chrono::DateTime<chrono::Utc>>> {
    conn.prepare_cached("SELECT tried_at FROM peer_waits WHERE sha256 = ?1")?
        .query_row([sha256.hex()], |r| r.get::<_, i64>(0))
        .optional()
        .map(|t| t.map(from_micros))
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

/// A mirror's publication (and listing) time: its origin's.
pub fn published_at(conn: &Connection, seq: i64, at: chrono::DateTime<chrono::Utc>) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE programs SET published_at = ?2, listed_at = ?2 WHERE seq = ?1",
        params![seq, to_micros(at)],
    )?;
    Ok(())
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

/// Marks program `seq` as no longer shared with other clusters (`true`),
/// or shared again (`false`).
pub fn set_unshared(conn: &Connection, seq: i64, unshared: bool) -> rusqlite::Result<()> {
    if unshared {
        conn.prepare_cached("INSERT OR REPLACE INTO unshared (program_seq, at) VALUES (?1, ?2)")?
            .execute(params![seq, to_micros(super::now())])?;
    } else {
        conn.prepare_cached("DELETE FROM unshared WHERE program_seq = ?1")?
            .execute([seq])?;
    }
    Ok(())
}

/// Whether program `seq` was shared with other clusters and is no more.
pub fn is_unshared(conn: &Connection, seq: i64) -> rusqlite::Result<bool> {
    conn.prepare_cached("SELECT 1 FROM unshared WHERE program_seq = ?1")?
        .query_row([seq], |_| Ok(()))
        .optional()
        .map(|r| r.is_some())
}

/// A report to a peer waiting in the outbox.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub id: String,
    pub peer: StationId,
    pub program_id: String,
    pub kind: String,
    pub body: String,
}

/// Queues a report to `peer` (in the transaction of what it reports).
pub fn queue_report(conn: &Connection, r: &Outgoing) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO peer_outbox (id, peer, program_id, kind, body, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        r.id,
        r.peer.as_str(),
        r.program_id,
        r.kind,
        r.body,
        to_micros(super::now())
    ])?;
    Ok(())
}

/// Reports not acknowledged yet, oldest first.
pub fn unsent_reports(conn: &Connection, limit: usize) -> rusqlite::Result<Vec<Outgoing>> {
    conn.prepare_cached(
        "SELECT id, peer, program_id, kind, body FROM peer_outbox WHERE sent_at IS NULL
         ORDER BY created_at LIMIT ?1",
    )?
    .query_map([limit as i64], |r| {
        let peer: String = r.get(1)?;
        Ok(Outgoing {
            id: r.get(0)?,
            peer: StationId::parse(&peer).map_err(|e| bad_column(1, e))?,
            program_id: r.get(2)?,
            kind: r.get(3)?,
            body: r.get(4)?,
        })
    })?
    .collect()
}

/// The peer acknowledged the report (`error: None`), or did not.
pub fn report_tried(conn: &Connection, id: &str, error: Option<&str>) -> rusqlite::Result<()> {
    match error {
        None => conn.execute(
            "UPDATE peer_outbox SET sent_at = ?2, attempts = attempts + 1, last_error = NULL WHERE id = ?1",
            params![id, to_micros(super::now())],
        )?,
        Some(e) => conn.execute(
            "UPDATE peer_outbox SET attempts = attempts + 1, last_error = ?2 WHERE id = ?1",
            params![id, e],
        )?,
    };
    Ok(())
}

/// Records a peer's report of a use of program `seq`; `Ok(false)` when
/// its key was recorded before.
pub fn record_use(conn: &Connection, seq: i64, u: &PeerUse) -> rusqlite::Result<bool> {
    let n = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO peer_uses
                 (peer, key, program_seq, kind, station, station_name, role, aired_at, channel, at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?
        .execute(params![
            u.peer.as_str(),
            u.key,
            seq,
            u.kind,
            u.station,
            u.station_name,
            u.role,
            u.aired_at.map(to_micros),
            u.channel,
            to_micros(u.at)
        ])?;
    Ok(n > 0)
}

fn use_from_row(r: &Row<'_>) -> rusqlite::Result<PeerUse> {
    let peer: String = r.get(0)?;
    let kind: String = r.get(2)?;
    Ok(PeerUse {
        peer: StationId::parse(&peer).map_err(|e| bad_column(0, e))?,
        key: r.get(1)?,
        kind: if kind == "take" { "take" } else { "rebroadcast" },
        station: r.get(3)?,
        station_name: r.get(4)?,
        role: r.get(5)?,
        aired_at: r.get::<_, Option<i64>>(6)?.map(from_micros),
        channel: r.get(7)?,
        at: from_micros(r.get(8)?),
    })
}

/// The uses of program `seq` by peers' stations, oldest first.
pub fn uses_of(conn: &Connection, seq: i64) -> rusqlite::Result<Vec<PeerUse>> {
    conn.prepare_cached(
        "SELECT peer, key, kind, station, station_name, role, aired_at, channel, at FROM peer_uses
         WHERE program_seq = ?1 ORDER BY at, key",
    )?
    .query_map([seq], use_from_row)?
    .collect()
}

/// A peer, a station there, its name there, its takes and rebroadcasts.
pub type UsesRow = (String, String, String, u64, u64);

/// Per peer and station there: takes and rebroadcasts of the programs of
/// `owner` (every station's when `None`) within `[from, to)`.
pub fn uses_report(
    conn: &Connection,
    owner: Option<&StationId>,
    from: chrono::DateTime<chrono::Utc>,
    to: chrono::DateTime<chrono::Utc>,
) -> rusqlite::Result<Vec<UsesRow>> {
    conn.prepare_cached(
        "SELECT u.peer, u.station, max(u.station_name),
                sum(u.kind = 'take'), sum(u.kind = 'rebroadcast')
         FROM peer_uses u JOIN programs p ON p.seq = u.program_seq
         WHERE u.at >= ?1 AND u.at < ?2 AND (?3 IS NULL OR p.station_id = ?3)
         GROUP BY u.peer, u.station ORDER BY u.peer, u.station",
    )?
    .query_map(
        params![to_micros(from), to_micros(to), owner.map(StationId::as_str)],
        |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get::<_, i64>(3)? as u64,
                r.get::<_, i64>(4)? as u64,
            ))
        },
    )?
    .collect()
}
