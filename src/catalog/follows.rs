//! What stations follow.

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::stations::bad_column;
use super::{from_micros, to_micros};
use crate::domain::{FileRole, Follow, FollowKind, StationId};

fn follow(r: &Row<'_>) -> rusqlite::Result<Follow> {
    let (station, kind, roles): (String, String, String) = (r.get(1)?, r.get(2)?, r.get(5)?);
    let roles: Vec<String> = serde_json::from_str(&roles).map_err(|e| bad_column(5, e.to_string()))?;
    Ok(Follow {
        id: r.get(0)?,
        station: StationId::parse(&station).map_err(|e| bad_column(1, e))?,
        kind: FollowKind::parse(&kind).ok_or_else(|| bad_column(2, kind))?,
        value: r.get(3)?,
        deliver: r.get(4)?,
        roles: roles
            .iter()
            .map(|s| FileRole::parse(s).ok_or_else(|| bad_column(5, s.clone())))
            .collect::<Result<_, _>>()?,
        backfill: r.get(6)?,
        created_at: from_micros(r.get(7)?),
        profile: r.get(8)?,
        cut_id: r.get(9)?,
        target: r.get(10)?,
    })
}

const FOLLOW: &str =
    "SELECT id, station_id, kind, value, deliver, roles, backfill, created_at, profile, cut_id, target_id FROM follows";

/// Inserts `f`; `Ok(false)` when the station follows the same thing already.
pub fn insert(conn: &Connection, f: &Follow, match_key: &str) -> rusqlite::Result<bool> {
    let roles: Vec<&str> = f.roles.iter().map(|r| r.as_str()).collect();
    let n = conn.execute(
        "INSERT INTO follows (id, station_id, kind, value, match_key, deliver, roles, backfill, created_at, profile, cut_id,
             target_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) ON CONFLICT (station_id, kind, match_key) DO NOTHING",
        params![
            f.id,
            f.station.as_str(),
            f.kind.as_str(),
            f.value,
            match_key,
            f.deliver,
            serde_json::to_string(&roles).expect("strings"),
            f.backfill,
            to_micros(f.created_at),
            f.profile,
            f.cut_id,
            f.target,
        ],
    )?;
    Ok(n == 1)
}

/// `station`'s follows, oldest first.
pub fn of_station(conn: &Connection, station: &StationId) -> rusqlite::Result<Vec<Follow>> {
    conn.prepare_cached(&format!("{FOLLOW} WHERE station_id = ?1 ORDER BY created_at, id"))?
        .query_map([station.as_str()], follow)?
        .collect()
}

pub fn count(conn: &Connection, station: &StationId) -> rusqlite::Result<usize> {
    conn.prepare_cached("SELECT count(*) FROM follows WHERE station_id = ?1")?
        .query_row([station.as_str()], |r| r.get(0))
}

/// Follow `id`, if it is `station`'s.
pub fn get(conn: &Connection, station: &StationId, id: &str) -> rusqlite::Result<Option<Follow>> {
    conn.prepare_cached(&format!("{FOLLOW} WHERE station_id = ?1 AND id = ?2"))?
        .query_row([station.as_str(), id], follow)
        .optional()
}

/// Removes follow `id` of `station`; whether there was one.
pub fn delete(conn: &Connection, station: &StationId, id: &str) -> rusqlite::Result<bool> {
    Ok(conn.execute(
        "DELETE FROM follows WHERE station_id = ?1 AND id = ?2",
        [station.as_str(), id],
    )? == 1)
}

/// Sets whether follow `id` of `station` delivers, and with which profile;
/// whether there was one.
pub fn set_delivery(
    conn: &Connection,
    station: &StationId,
    id: &str,
    deliver: bool,
    profile: Option<&str>,
) -> rusqlite::Result<bool> {
    Ok(conn.execute(
        "UPDATE follows SET deliver = ?3, profile = ?4 WHERE station_id = ?1 AND id = ?2",
        params![station.as_str(), id, deliver, profile],
    )? == 1)
}
