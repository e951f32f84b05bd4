//! Each person's download list: the programs they picked to take.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};

use super::to_micros;
use crate::domain::{Login, PersonId, ProgramId, StationId};

/// Adds program `seq` to `person`'s list; `Ok(false)` when it is there.
pub fn add(conn: &Connection, person: &PersonId, seq: i64, now: DateTime<Utc>) -> rusqlite::Result<bool> {
    Ok(conn.execute(
        "INSERT INTO download_lists (person_id, program_seq, added_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (person_id, program_seq) DO NOTHING",
        params![person.as_str(), seq, to_micros(now)],
    )? == 1)
}

/// Takes program `seq` off `person`'s list; whether it was on it.
pub fn remove(conn: &Connection, person: &PersonId, seq: i64) -> rusqlite::Result<bool> {
    Ok(conn.execute(
        "DELETE FROM download_lists WHERE person_id = ?1 AND program_seq = ?2",
        params![person.as_str(), seq],
    )? == 1)
}

pub fn count(conn: &Connection, person: &PersonId) -> rusqlite::Result<usize> {
    conn.prepare_cached("SELECT count(*) FROM download_lists WHERE person_id = ?1")?
        .query_row([person.as_str()], |r| r.get(0))
}

/// The programs on `person`'s list, in the order they were added.
pub fn list(conn: &Connection, person: &PersonId) -> rusqlite::Result<Vec<ProgramId>> {
    conn.prepare_cached(
        "SELECT p.id FROM download_lists d JOIN programs p ON p.seq = d.program_seq
         WHERE d.person_id = ?1 ORDER BY d.added_at, d.program_seq",
    )?
    .query_map([person.as_str()], |r| {
        let id: String = r.get(0)?;
        ProgramId::parse(&id).ok_or_else(|| super::stations::bad_column(0, id))
    })?
    .collect()
}

/// The person of `station` (not removed) whose login is `login`: whose
/// list a station's `list` follow names.
pub fn owner(conn: &Connection, station: &StationId, login: &Login) -> rusqlite::Result<Option<PersonId>> {
    conn.prepare_cached("SELECT id FROM people WHERE station_id = ?1 AND login = ?2 AND removed_at IS NULL")?
        .query_row([station.as_str(), login.as_str()], |r| r.get::<_, String>(0))
        .optional()?
        .map(|id| PersonId::parse(&id).ok_or_else(|| super::stations::bad_column(0, id)))
        .transpose()
}

/// The programs on the list of `station`'s person `login`, in the order
/// they were added; none when no such person is there.
pub fn of_login(conn: &Connection, station: &StationId, login: &Login) -> rusqlite::Result<Vec<ProgramId>> {
    match owner(conn, station, login)? {
        Some(person) => list(conn, &person),
        None => Ok(Vec::new()),
    }
}
