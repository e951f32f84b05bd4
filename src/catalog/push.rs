//! Push targets (stations' own servers) and the files pushed to them.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::media::sha256_at;
use super::stations::bad_column;
use super::{from_micros, to_micros};
use crate::domain::{FileRole, ProgramId, PushDelivery, PushState, PushTarget, Secret, StationId, TargetKind};

fn target(r: &Row<'_>) -> rusqlite::Result<PushTarget> {
    let (station, kind): (String, String) = (r.get(1)?, r.get(2)?);
    Ok(PushTarget {
        id: r.get(0)?,
        station: StationId::parse(&station).map_err(|e| bad_column(1, e))?,
        kind: TargetKind::parse(&kind).ok_or_else(|| bad_column(2, kind))?,
        url: r.get(3)?,
        username: r.get(4)?,
        secret: Secret::new(r.get::<_, String>(5)?),
        path: r.get(6)?,
        profile: r.get(7)?,
        host_key: r.get(8)?,
        created_at: from_micros(r.get(9)?),
        template: r.get(10)?,
    })
}

const TARGET: &str =
    "SELECT id, station_id, kind, url, username, secret, path, profile, host_key, created_at, template FROM push_targets";

pub fn insert_target(conn: &Connection, t: &PushTarget) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO push_targets (id, station_id, kind, url, username, secret, path, profile, host_key, created_at,
             template)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![
            t.id,
            t.station.as_str(),
            t.kind.as_str(),
            t.url,
            t.username,
            t.secret.expose(),
            t.path,
            t.profile,
            t.host_key,
            to_micros(t.created_at),
            t.template,
        ],
    )?;
    Ok(())
}

/// `station`'s live targets, oldest first.
pub fn targets(conn: &Connection, station: &StationId) -> rusqlite::Result<Vec<PushTarget>> {
    conn.prepare_cached(&format!(
        "{TARGET} WHERE station_id = ?1 AND deleted_at IS NULL ORDER BY created_at, id"
    ))?
    .query_map([station.as_str()], target)?
    .collect()
}

pub fn count_targets(conn: &Connection, station: &StationId) -> rusqlite::Result<usize> {
    conn.prepare_cached("SELECT count(*) FROM push_targets WHERE station_id = ?1 AND deleted_at IS NULL")?
        .query_row([station.as_str()], |r| r.get(0))
}

/// Live target `id`; of `station` when one is given.
pub fn target_of(conn: &Connection, station: Option<&StationId>, id: &str) -> rusqlite::Result<Option<PushTarget>> {
    conn.prepare_cached(&format!(
        "{TARGET} WHERE id = ?1 AND deleted_at IS NULL AND (?2 IS NULL OR station_id = ?2)"
    ))?
    .query_row(params![id, station.map(StationId::as_str)], target)
    .optional()
}

/// Removes target `id` of `station`: its deliveries not done stop, and the
/// follows that pushed there push no more. Whether there was one.
pub fn delete_target(conn: &Connection, station: &StationId, id: &str, now: DateTime<Utc>) -> rusqlite::Result<bool> {
    let n = conn.execute(
        "UPDATE push_targets SET deleted_at = ?3 WHERE id = ?1 AND station_id = ?2 AND deleted_at IS NULL",
        params![id, station.as_str(), to_micros(now)],
    )?;
    if n == 1 {
        conn.execute("UPDATE follows SET target_id = NULL WHERE target_id = ?1", [id])?;
        conn.execute(
            "UPDATE push_deliveries SET state = 'failed', error = 'the target was removed', updated_at = ?2
             WHERE target_id = ?1 AND state IN ('pending', 'sending', 'waiting_window')",
            params![id, to_micros(now)],
        )?;
    }
    Ok(n == 1)
}

/// Records the SFTP host key seen at a target's first connection.
pub fn learn_host_key(conn: &Connection, id: &str, key: &str) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE push_targets SET host_key = ?2 WHERE id = ?1 AND host_key IS NULL",
        [id, key],
    )?;
    Ok(())
}

/// Each live delivering follow with a live target: (station, follow id,
/// target id).
pub fn delivering_follows(conn: &Connection) -> rusqlite::Result<Vec<(StationId, String, String)>> {
    conn.prepare_cached(
        "SELECT f.station_id, f.id, f.target_id FROM follows f JOIN push_targets t ON t.id = f.target_id
         WHERE f.deliver = 1 AND t.deleted_at IS NULL ORDER BY f.station_id, f.created_at, f.id",
    )?
    .query_map([], |r| {
        let s: String = r.get(0)?;
        Ok((
            StationId::parse(&s).map_err(|e| bad_column(0, e))?,
            r.get(1)?,
            r.get(2)?,
        ))
    })?
    .collect()
}

fn delivery(r: &Row<'_>) -> rusqlite::Result<PushDelivery> {
    let (station, program, role, state): (String, String, String, String) =
        (r.get(1)?, r.get(3)?, r.get(4)?, r.get(8)?);
    Ok(PushDelivery {
        id: r.get(0)?,
        station: StationId::parse(&station).map_err(|e| bad_column(1, e))?,
        target_id: r.get(2)?,
        program_id: ProgramId::parse(&program).ok_or_else(|| bad_column(3, program))?,
        role: FileRole::parse(&role).ok_or_else(|| bad_column(4, role))?,
        sha256: sha256_at(r, 5)?,
        size: r.get(6)?,
        name: r.get(7)?,
        state: PushState::parse(&state).ok_or_else(|| bad_column(8, state))?,
        bytes: r.get(9)?,
        attempts: r.get(10)?,
        error: r.get(11)?,
        next_attempt_at: from_micros(r.get(12)?),
        created_at: from_micros(r.get(13)?),
        updated_at: from_micros(r.get(14)?),
        stalls: r.get(15)?,
        master_sha256: sha256_at(r, 16)?,
        profile: r.get(17)?,
        resume: r.get(18)?,
    })
}

const DELIVERY: &str = "SELECT id, station_id, target_id, program_id, role, sha256, size, name, state, bytes, attempts,
    error, next_attempt_at, created_at, updated_at, stalls, master_sha256, profile, resume FROM push_deliveries";

pub fn insert_delivery(conn: &Connection, d: &PushDelivery) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO push_deliveries (id, station_id, target_id, program_id, role, sha256, size, name, state, bytes,
             attempts, error, next_attempt_at, created_at, updated_at, master_sha256, profile)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
    )?
    .execute(params![
        d.id,
        d.station.as_str(),
        d.target_id,
        d.program_id.to_string(),
        d.role.as_str(),
        d.sha256.hex(),
        d.size,
        d.name,
        d.state.as_str(),
        d.bytes,
        d.attempts,
        d.error,
        to_micros(d.next_attempt_at),
        to_micros(d.created_at),
        to_micros(d.updated_at),
        d.master_sha256.hex(),
        d.profile,
    ])?;
    Ok(())
}

/// What push `id` sends, once known (a rendition's content and size): a
/// different content starts again from its first byte.
pub fn set_content(conn: &Connection, id: &str, sha256: &str, size: u64) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE push_deliveries SET bytes = CASE WHEN sha256 = ?2 THEN bytes ELSE 0 END,
             resume = CASE WHEN sha256 = ?2 THEN resume END, sha256 = ?2, size = ?3
         WHERE id = ?1",
    )?
    .execute(params![id, sha256, size])?;
    Ok(())
}

/// Keeps what push `id`'s next attempt resumes from (`None`: nothing).
pub fn set_resume(conn: &Connection, id: &str, resume: Option<&str>) -> rusqlite::Result<()> {
    conn.prepare_cached("UPDATE push_deliveries SET resume = ?2 WHERE id = ?1")?
        .execute(params![id, resume])?;
    Ok(())
}

/// Whether the same content of the same file goes, or went, to the target
/// already (anything but a failed or stopped push); `sha256`: the file's
/// content as uploaded.
pub fn already(
    conn: &Connection,
    target: &str,
    program: ProgramId,
    role: FileRole,
    sha256: &str,
) -> rusqlite::Result<bool> {
    conn.prepare_cached(
        "SELECT 1 FROM push_deliveries WHERE target_id = ?1 AND program_id = ?2 AND role = ?3 AND master_sha256 = ?4
         AND state != 'failed' LIMIT 1",
    )?
    .query_row(params![target, program.to_string(), role.as_str(), sha256], |_| Ok(()))
    .optional()
    .map(|f| f.is_some())
}

/// Stops the program's pushes not done yet, saying `why`; a transfer under
/// way sees it before it gives the file its name.
pub fn stop_program(conn: &Connection, program: ProgramId, why: &str, now: DateTime<Utc>) -> rusqlite::Result<usize> {
    conn.prepare_cached(
        "UPDATE push_deliveries SET state = 'failed', error = ?2, lease_until = NULL, updated_at = ?3
         WHERE program_id = ?1 AND state IN ('pending', 'sending', 'waiting_window')",
    )?
    .execute(params![program.to_string(), why, to_micros(now)])
}

/// `station`'s pushes, newest first; after `before` (the `created_at` and id
/// of the last one of the page before), when given.
pub fn of_station(
    conn: &Connection,
    station: &StationId,
    before: Option<(DateTime<Utc>, &str)>,
    limit: usize,
) -> rusqlite::Result<Vec<PushDelivery>> {
    let (at, id) = before.map_or((i64::MAX, ""), |(at, id)| (to_micros(at), id));
    conn.prepare_cached(&format!(
        "{DELIVERY} WHERE station_id = ?1 AND (created_at < ?2 OR (created_at = ?2 AND id < ?3))
         ORDER BY created_at DESC, id DESC LIMIT ?4"
    ))?
    .query_map(params![station.as_str(), at, id, limit as i64], delivery)?
    .collect()
}

pub fn get(conn: &Connection, id: &str) -> rusqlite::Result<Option<PushDelivery>> {
    conn.prepare_cached(&format!("{DELIVERY} WHERE id = ?1"))?
        .query_row([id], delivery)
        .optional()
}

/// Pushes whose time has come (and those a crashed sender left), soonest
/// first; and when the next one after them is due.
pub fn due(
    conn: &Connection,
    now: DateTime<Utc>,
    limit: usize,
) -> rusqlite::Result<(Vec<PushDelivery>, Option<DateTime<Utc>>)> {
    let now = to_micros(now);
    let due = conn
        .prepare_cached(&format!(
            "{DELIVERY} WHERE (state IN ('pending', 'waiting_window') AND next_attempt_at <= ?1)
                OR (state = 'sending' AND lease_until < ?1)
             ORDER BY next_attempt_at, id LIMIT ?2"
        ))?
        .query_map(params![now, limit as i64], delivery)?
        .collect::<Result<_, _>>()?;
    let next: Option<i64> = conn
        .prepare_cached(
            "SELECT min(next_attempt_at) FROM push_deliveries WHERE state IN ('pending', 'waiting_window') AND next_attempt_at > ?1",
        )?
        .query_row([now], |r| r.get(0))?;
    Ok((due, next.map(from_micros)))
}

/// Takes push `id` for one attempt, until `lease`; false when another took
/// it or it is no longer due.
pub fn claim(conn: &Connection, id: &str, now: DateTime<Utc>, lease: DateTime<Utc>) -> rusqlite::Result<bool> {
    let n = conn
        .prepare_cached(
            "UPDATE push_deliveries SET state = 'sending', attempts = attempts + 1, lease_until = ?3, updated_at = ?2
             WHERE id = ?1 AND ((state IN ('pending', 'waiting_window') AND next_attempt_at <= ?2)
                OR (state = 'sending' AND lease_until < ?2))",
        )?
        .execute(params![id, to_micros(now), to_micros(lease)])?;
    Ok(n == 1)
}

/// Records the bytes on the target, and keeps the lease; false when the
/// push was stopped meanwhile.
pub fn progress(
    conn: &Connection,
    id: &str,
    bytes: u64,
    now: DateTime<Utc>,
    lease: DateTime<Utc>,
) -> rusqlite::Result<bool> {
    let n = conn
        .prepare_cached(
            "UPDATE push_deliveries SET bytes = ?2, lease_until = ?4, updated_at = ?3 WHERE id = ?1 AND state = 'sending'",
        )?
        .execute(params![id, bytes, to_micros(now), to_micros(lease)])?;
    Ok(n == 1)
}

/// How an attempt ended.
pub struct Attempt<'a> {
    pub state: PushState,
    pub error: Option<&'a str>,
    /// When to try again.
    pub next: DateTime<Utc>,
    /// Attempts in a row without progress, this one counted.
    pub stalls: u32,
}

/// Ends an attempt, unless the push was stopped meanwhile.
pub fn attempted(conn: &Connection, id: &str, a: &Attempt<'_>, now: DateTime<Utc>) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE push_deliveries SET state = ?2, error = ?3, next_attempt_at = ?4, stalls = ?5, lease_until = NULL,
             updated_at = ?6
         WHERE id = ?1 AND state = 'sending'",
    )?
    .execute(params![
        id,
        a.state.as_str(),
        a.error,
        to_micros(a.next),
        a.stalls,
        to_micros(now)
    ])?;
    Ok(())
}

/// Puts `station`'s push `id` back in the queue from its first byte's
/// attempt count (the bytes already on the target are kept and resumed
/// from); not while it is being sent. Whether it was requeued.
pub fn redeliver(conn: &Connection, station: &StationId, id: &str, now: DateTime<Utc>) -> rusqlite::Result<bool> {
    let n = conn
        .prepare_cached(
            "UPDATE push_deliveries SET state = 'pending', attempts = 0, stalls = 0, error = NULL, next_attempt_at = ?3,
                 lease_until = NULL, updated_at = ?3
             WHERE id = ?1 AND station_id = ?2 AND state != 'sending'",
        )?
        .execute(params![id, station.as_str(), to_micros(now)])?;
    Ok(n == 1)
}
