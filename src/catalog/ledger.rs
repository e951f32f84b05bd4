//! The ledger: takes, partial downloads, rebroadcasts, and the numbers of
//! the exchange report.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection};

use super::stations::bad_column;
use super::{from_micros, to_micros};
use crate::domain::{FileRecord, FileRole, ProgramId, Rebroadcast, StationId, StationNumbers, Take};

/// Column `i` of `r`, parsed by `parse`; a value the schema should have
/// prevented is an error.
fn parsed<T, E: ToString>(
    r: &rusqlite::Row<'_>,
    i: usize,
    parse: impl Fn(&str) -> Result<T, E>,
) -> rusqlite::Result<T> {
    let text: String = r.get(i)?;
    parse(&text).map_err(|e| bad_column(i, format!("{text}: {}", e.to_string())))
}

/// Records that `station` received `first..last` of `file`; returns true
/// when that completes the file and a take was recorded now.
pub fn receive(
    conn: &Connection,
    station: &StationId,
    seq: i64,
    file: &FileRecord,
    first: u64,
    last: u64,
    now: DateTime<Utc>,
) -> rusqlite::Result<bool> {
    let sha256 = file.sha256.hex();
    let key = params![station.as_str(), seq, file.role.as_str(), sha256];
    let taken: bool = conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM takes WHERE station_id = ?1 AND program_seq = ?2 AND role = ?3 AND sha256 = ?4)",
        )?
        .query_row(key, |r| r.get(0))?;
    if taken || first >= last {
        return Ok(false);
    }
    conn.prepare_cached(
        "INSERT INTO download_ranges (station_id, program_seq, role, sha256, first, last) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![station.as_str(), seq, file.role.as_str(), sha256, first, last])?;
    let mut ranges: Vec<(u64, u64)> = conn
        .prepare_cached(
            "SELECT first, last FROM download_ranges
             WHERE station_id = ?1 AND program_seq = ?2 AND role = ?3 AND sha256 = ?4 ORDER BY first",
        )?
        .query_map(key, |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    ranges.sort_unstable();
    let mut merged: Vec<(u64, u64)> = Vec::new();
    for (a, b) in ranges {
        match merged.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    conn.prepare_cached(
        "DELETE FROM download_ranges WHERE station_id = ?1 AND program_seq = ?2 AND role = ?3 AND sha256 = ?4",
    )?
    .execute(key)?;
    if !matches!(merged.as_slice(), [(0, end)] if *end >= file.size) {
        // Not all of it yet: keep what was received, merged.
        let mut add = conn.prepare_cached(
            "INSERT INTO download_ranges (station_id, program_seq, role, sha256, first, last) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        for (a, b) in merged {
            add.execute(params![station.as_str(), seq, file.role.as_str(), sha256, a, b])?;
        }
        return Ok(false);
    }
    conn.prepare_cached(
        "INSERT INTO takes (station_id, program_seq, role, sha256, size, taken_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        station.as_str(),
        seq,
        file.role.as_str(),
        sha256,
        file.size,
        to_micros(now)
    ])?;
    Ok(true)
}

/// Whether `station` has taken any file of the program.
pub fn has_taken(conn: &Connection, station: &StationId, seq: i64) -> rusqlite::Result<bool> {
    conn.prepare_cached("SELECT EXISTS (SELECT 1 FROM takes WHERE station_id = ?1 AND program_seq = ?2)")?
        .query_row(params![station.as_str(), seq], |r| r.get(0))
}

pub fn takes(conn: &Connection, seq: i64) -> rusqlite::Result<Vec<Take>> {
    conn.prepare_cached(
        "SELECT station_id, role, sha256, size, taken_at FROM takes WHERE program_seq = ?1 ORDER BY taken_at, station_id",
    )?
    .query_map([seq], |r| {
        Ok(Take {
            station: parsed(r, 0, StationId::parse)?,
            role: parsed(r, 1, |s| FileRole::parse(s).ok_or("not a file role"))?,
            sha256: super::media::sha256_at(r, 2)?,
            size: r.get(3)?,
            taken_at: from_micros(r.get(4)?),
        })
    })?
    .collect()
}

pub fn insert_rebroadcast(conn: &Connection, seq: i64, r: &Rebroadcast) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO rebroadcasts (id, station_id, program_seq, aired_at, channel, note, reported_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        r.id,
        r.station.as_str(),
        seq,
        to_micros(r.aired_at),
        r.channel,
        r.note,
        to_micros(r.reported_at)
    ])?;
    Ok(())
}

pub fn rebroadcasts(conn: &Connection, seq: i64) -> rusqlite::Result<Vec<Rebroadcast>> {
    conn.prepare_cached(
        "SELECT r.id, r.station_id, p.id, r.aired_at, r.channel, r.note, r.reported_at
         FROM rebroadcasts r JOIN programs p ON p.seq = r.program_seq
         WHERE r.program_seq = ?1 ORDER BY r.aired_at, r.id",
    )?
    .query_map([seq], |r| {
        Ok(Rebroadcast {
            id: r.get(0)?,
            station: parsed(r, 1, StationId::parse)?,
            program_id: parsed(r, 2, |s| ProgramId::parse(s).ok_or("not a program id"))?,
            aired_at: from_micros(r.get(3)?),
            channel: r.get(4)?,
            note: r.get(5)?,
            reported_at: from_micros(r.get(6)?),
        })
    })?
    .collect()
}

/// `(origin, taker) → programs taken`.
pub type Matrix = BTreeMap<(StationId, StationId), u64>;

/// The numbers of every station, and the matrix of takes.
pub fn report(
    conn: &Connection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> rusqlite::Result<(BTreeMap<StationId, StationNumbers>, Matrix)> {
    let (from, to) = (to_micros(from), to_micros(to));
    let mut numbers: BTreeMap<StationId, StationNumbers> = conn
        .prepare("SELECT id FROM stations ORDER BY id")?
        .query_map([], |r| parsed(r, 0, StationId::parse))?
        .map(|id| id.map(|id| (id, StationNumbers::default())))
        .collect::<Result<_, _>>()?;
    let mut count = |sql: &str, set: fn(&mut StationNumbers, u64)| -> rusqlite::Result<()> {
        let mut stmt = conn.prepare(sql)?;
        let mut rows = stmt.query(params![from, to])?;
        while let Some(r) = rows.next()? {
            set(numbers.entry(parsed(r, 0, StationId::parse)?).or_default(), r.get(1)?);
        }
        Ok(())
    };
    count(
        "SELECT station_id, count(*) FROM programs WHERE created_at >= ?1 AND created_at < ?2 GROUP BY 1",
        |n, v| n.contributed = v,
    )?;
    count(
        "SELECT station_id, count(*) FROM programs WHERE published_at >= ?1 AND published_at < ?2 GROUP BY 1",
        |n, v| n.published = v,
    )?;
    // A take in the period: the first completed download of any file of the
    // program by that station falls in it.
    const FIRST_TAKES: &str =
        "SELECT t.station_id AS taker, p.station_id AS origin, t.program_seq AS seq, min(t.taken_at) AS at
         FROM takes t JOIN programs p ON p.seq = t.program_seq
         WHERE t.station_id <> p.station_id GROUP BY 1, 2, 3";
    count(
        &format!("SELECT origin, count(*) FROM ({FIRST_TAKES}) WHERE at >= ?1 AND at < ?2 GROUP BY 1"),
        |n, v| n.taken_by_others = v,
    )?;
    count(
        &format!("SELECT taker, count(*) FROM ({FIRST_TAKES}) WHERE at >= ?1 AND at < ?2 GROUP BY 1"),
        |n, v| n.taken_from_others = v,
    )?;
    count(
        "SELECT p.station_id, count(*) FROM rebroadcasts r JOIN programs p ON p.seq = r.program_seq
         WHERE r.aired_at >= ?1 AND r.aired_at < ?2 AND r.station_id <> p.station_id GROUP BY 1",
        |n, v| n.rebroadcasts_of_its_programs = v,
    )?;
    count(
        "SELECT station_id, count(*) FROM rebroadcasts WHERE aired_at >= ?1 AND aired_at < ?2 GROUP BY 1",
        |n, v| n.rebroadcasts_made = v,
    )?;
    let mut matrix = BTreeMap::new();
    let mut stmt = conn.prepare(&format!(
        "SELECT origin, taker, count(*) FROM ({FIRST_TAKES}) WHERE at >= ?1 AND at < ?2 GROUP BY 1, 2"
    ))?;
    let mut rows = stmt.query(params![from, to])?;
    while let Some(r) = rows.next()? {
        matrix.insert(
            (parsed(r, 0, StationId::parse)?, parsed(r, 1, StationId::parse)?),
            r.get(2)?,
        );
    }
    Ok((numbers, matrix))
}

/// A take seen from one station: the program, its title, the other
/// station (the taker of ours, or the owner of what we took), when.
pub type TakeLine = (ProgramId, String, StationId, DateTime<Utc>);

/// The latest `limit` takes of `station`'s programs by others (`of_ours`),
/// or by `station` of others' programs.
pub fn station_takes(
    conn: &Connection,
    station: &StationId,
    of_ours: bool,
    limit: usize,
) -> rusqlite::Result<Vec<TakeLine>> {
    let sql = if of_ours {
        "SELECT p.id, p.title, t.station_id, max(t.taken_at) FROM takes t JOIN programs p ON p.seq = t.program_seq
         WHERE p.station_id = ?1 AND t.station_id <> ?1
         GROUP BY t.program_seq, t.station_id ORDER BY 4 DESC LIMIT ?2"
    } else {
        "SELECT p.id, p.title, p.station_id, max(t.taken_at) FROM takes t JOIN programs p ON p.seq = t.program_seq
         WHERE t.station_id = ?1 AND p.station_id <> ?1
         GROUP BY t.program_seq ORDER BY 4 DESC LIMIT ?2"
    };
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(params![station.as_str(), limit as i64], |r| {
        let id: String = r.get(0)?;
        let other: String = r.get(2)?;
        Ok((
            ProgramId::parse(&id).ok_or_else(|| bad_column(0, id))?,
            r.get(1)?,
            StationId::parse(&other).map_err(|e| bad_column(2, e))?,
            from_micros(r.get(3)?),
        ))
    })?;
    rows.collect()
}
