//! Programs, their languages, audience, files and full-text entry.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::stations::bad_column;
use super::{from_micros, to_micros};
use crate::domain::text::{fold, fold_for_index};
use crate::domain::{
    Audience, Credit, FileRecord, FileRole, Genre, LanguageTag, Origin, Program, ProgramId, ProgramKind,
    ProgramMetadata, ProgramStatus, Rights, StationId,
};

/// A program with its rowid, which the index and child tables refer to.
#[derive(Debug, Clone)]
pub struct Stored {
    pub seq: i64,
    pub program: Program,
}

/// The columns [`from_row`] reads, in its order.
pub const COLUMNS: &str = "p.seq, p.id, p.station_id, p.status, p.title, p.summary,
    p.description, p.tags, p.kind, p.genre, p.series, p.episode, p.first_aired_at,
    p.duration_seconds, p.credits, p.audience, p.available_from, p.available_until,
    p.credit_required, p.terms, p.created_at, p.updated_at, p.published_at,
    p.withdrawn_at, p.withdrawal_reason, p.version,
    (SELECT json_group_array(lang) FROM (SELECT lang FROM program_languages
        WHERE program_seq = p.seq ORDER BY position)),
    (SELECT json_group_array(station_id) FROM (SELECT station_id FROM program_audience
        WHERE program_seq = p.seq ORDER BY station_id)),
    p.origin_peer, p.origin_station, p.origin_station_name, p.origin_program_id";

fn json<T: serde::de::DeserializeOwned>(r: &Row<'_>, i: usize) -> rusqlite::Result<T> {
    let s: String = r.get(i)?;
    serde_json::from_str(&s).map_err(|e| bad_column(i, e.to_string()))
}

fn parsed<T>(r: &Row<'_>, i: usize, parse: impl FnOnce(&str) -> Option<T>) -> rusqlite::Result<T> {
    let s: String = r.get(i)?;
    parse(&s).ok_or_else(|| bad_column(i, s))
}

fn time(r: &Row<'_>, i: usize) -> rusqlite::Result<Option<DateTime<Utc>>> {
    Ok(r.get::<_, Option<i64>>(i)?.map(from_micros))
}

/// Reads a program (without its files) from a row selected with [`COLUMNS`].
pub fn from_row(r: &Row<'_>) -> rusqlite::Result<Stored> {
    let languages: Vec<String> = json(r, 26)?;
    let stations: Vec<String> = json(r, 27)?;
    let meta = ProgramMetadata {
        title: r.get(4)?,
        summary: r.get(5)?,
        description: r.get(6)?,
        tags: json(r, 7)?,
        kind: parsed(r, 8, ProgramKind::parse)?,
        genre: parsed(r, 9, Genre::parse)?,
        languages: languages
            .iter()
            .map(|l| LanguageTag::from_stored(l).map_err(|e| bad_column(26, e)))
            .collect::<Result<_, _>>()?,
        series: r.get(10)?,
        episode: r.get(11)?,
        first_aired_at: time(r, 12)?,
        duration_seconds: r.get(13)?,
        credits: json::<Vec<Credit>>(r, 14)?,
        rights: Rights {
            audience: parsed(r, 15, Audience::parse)?,
            stations: stations
                .iter()
                .map(|s| StationId::parse(s).map_err(|e| bad_column(27, e)))
                .collect::<Result<_, _>>()?,
            available_from: time(r, 16)?,
            available_until: time(r, 17)?,
            credit_required: r.get(18)?,
            terms: r.get(19)?,
        },
    };
    Ok(Stored {
        seq: r.get(0)?,
        program: Program {
            id: parsed(r, 1, ProgramId::parse)?,
            station: parsed(r, 2, |s| StationId::parse(s).ok())?,
            status: parsed(r, 3, ProgramStatus::parse)?,
            meta,
            created_at: from_micros(r.get(20)?),
            updated_at: from_micros(r.get(21)?),
            published_at: time(r, 22)?,
            withdrawn_at: time(r, 23)?,
            withdrawal_reason: r.get(24)?,
            version: r.get(25)?,
            files: Vec::new(),
            origin: origin(r)?,
        },
    })
}

/// The origin of a mirrored program (columns 28..=31), `None` for this hub's own.
fn origin(r: &Row<'_>) -> rusqlite::Result<Option<Origin>> {
    let Some(peer) = r.get::<_, Option<String>>(28)? else {
        return Ok(None);
    };
    Ok(Some(Origin {
        peer: StationId::parse(&peer).map_err(|e| bad_column(28, e))?,
        station: r.get(29)?,
        station_name: r.get(30)?,
        program_id: r.get(31)?,
    }))
}

/// The program with `id`, with its files.
pub fn get(conn: &Connection, id: ProgramId) -> rusqlite::Result<Option<Stored>> {
    let sql = format!("SELECT {COLUMNS} FROM programs p WHERE p.id = ?1");
    let stored = conn
        .prepare_cached(&sql)?
        .query_row([id.to_string()], from_row)
        .optional()?;
    stored
        .map(|mut s| {
            attach_files(conn, &mut s)?;
            Ok(s)
        })
        .transpose()
}

/// Reads the program's files, and holds its master's measured duration
/// against the declared one.
fn attach_files(conn: &Connection, s: &mut Stored) -> rusqlite::Result<()> {
    s.program.files = files(conn, s.seq)?;
    let declared = s.program.meta.duration_seconds;
    for f in &mut s.program.files {
        if let (FileRole::Master, Some(a)) = (f.role, f.analysis.as_mut()) {
            a.check_declared_duration(declared);
        }
    }
    Ok(())
}

pub fn files(conn: &Connection, seq: i64) -> rusqlite::Result<Vec<FileRecord>> {
    conn.prepare_cached(
        "SELECT f.role, f.filename, f.media_type, f.size, f.sha256, j.state, j.error, j.result
         FROM program_files f LEFT JOIN analysis_jobs j ON j.sha256 = f.sha256 AND j.kind = 'analyze'
         WHERE f.program_seq = ?1 ORDER BY f.role",
    )?
    .query_map([seq], |r| {
        let analysis = match r.get_ref(5)? {
            rusqlite::types::ValueRef::Null => None,
            _ => Some(super::analysis::from_row(r, 5)?),
        };
        Ok(FileRecord {
            role: parsed(r, 0, FileRole::parse)?,
            filename: r.get(1)?,
            media_type: r.get(2)?,
            size: r.get(3)?,
            sha256: super::media::sha256_at(r, 4)?,
            analysis,
        })
    })?
    .collect()
}

/// Records `file` as the program's file of its role, replacing any earlier one.
pub fn put_file(conn: &Connection, seq: i64, file: &FileRecord) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT OR REPLACE INTO program_files (program_seq, role, filename, media_type, size, sha256, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            seq,
            file.role.as_str(),
            file.filename,
            file.media_type,
            file.size,
            file.sha256.hex(),
            to_micros(super::now())
        ],
    )?;
    // Every stored file is looked into, once per content.
    super::analysis::enqueue(conn, &file.sha256)?;
    Ok(())
}

/// Inserts a new draft and returns its rowid.
pub fn insert(
    conn: &Connection,
    id: ProgramId,
    station: &StationId,
    meta: &ProgramMetadata,
    now: DateTime<Utc>,
) -> rusqlite::Result<i64> {
    let now = to_micros(now);
    conn.prepare_cached(
        "INSERT INTO programs (id, station_id, status, title, title_key, tags, kind, genre, credits,
             audience, credit_required, created_at, updated_at, listed_at, version)
         VALUES (?1, ?2, 'draft', '', '', '[]', '', '', '[]', 'cluster', 1, ?3, ?3, ?3, 0)",
    )?
    .execute(params![id.to_string(), station.as_str(), now])?;
    let seq = conn.last_insert_rowid();
    write_metadata(conn, seq, meta, now)?;
    Ok(seq)
}

/// Replaces the program's metadata (and its index entry), bumping its version.
pub fn update_metadata(
    conn: &Connection,
    seq: i64,
    meta: &ProgramMetadata,
    now: DateTime<Utc>,
) -> rusqlite::Result<()> {
    write_metadata(conn, seq, meta, to_micros(now))
}

fn write_metadata(conn: &Connection, seq: i64, m: &ProgramMetadata, now: i64) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE programs SET title = ?2, title_key = ?3, summary = ?4, description = ?5, tags = ?6,
             kind = ?7, genre = ?8, series = ?9, episode = ?10, first_aired_at = ?11,
             duration_seconds = ?12, credits = ?13, audience = ?14, available_from = ?15,
             available_until = ?16, credit_required = ?17, terms = ?18, updated_at = ?19,
             version = version + 1
         WHERE seq = ?1",
    )?
    .execute(params![
        seq,
        m.title,
        fold(&m.title),
        m.summary,
        m.description,
        to_json(&m.tags),
        m.kind.as_str(),
        m.genre.as_str(),
        m.series,
        m.episode,
        m.first_aired_at.map(to_micros),
        m.duration_seconds,
        to_json(&m.credits),
        m.rights.audience.as_str(),
        m.rights.available_from.map(to_micros),
        m.rights.available_until.map(to_micros),
        m.rights.credit_required,
        m.rights.terms,
        now,
    ])?;

    conn.prepare_cached("DELETE FROM program_languages WHERE program_seq = ?1")?
        .execute([seq])?;
    let mut add_lang =
        conn.prepare_cached("INSERT INTO program_languages (lang, program_seq, position) VALUES (?1, ?2, ?3)")?;
    for (i, l) in m.languages.iter().enumerate() {
        add_lang.execute(params![l.as_str(), seq, i as i64])?;
    }

    conn.prepare_cached("DELETE FROM program_audience WHERE program_seq = ?1")?
        .execute([seq])?;
    let mut add_station =
        conn.prepare_cached("INSERT INTO program_audience (program_seq, station_id) VALUES (?1, ?2)")?;
    for s in &m.rights.stations {
        add_station.execute(params![seq, s.as_str()])?;
    }

    conn.prepare_cached("DELETE FROM program_fts WHERE rowid = ?1")?
        .execute([seq])?;
    let names: Vec<&str> = m.credits.iter().map(|c| c.name.as_str()).collect();
    conn.prepare_cached(
        "INSERT INTO program_fts (rowid, title, summary, description, tags, series, credits)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        seq,
        fold_for_index(&m.title),
        fold_for_index(m.summary.as_deref().unwrap_or("")),
        fold_for_index(m.description.as_deref().unwrap_or("")),
        fold_for_index(&m.tags.join(" \u{1f} ")),
        fold_for_index(m.series.as_deref().unwrap_or("")),
        fold_for_index(&names.join(" \u{1f} ")),
    ])?;
    Ok(())
}

/// The few list columns kept as JSON.
fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("lists of strings serialise")
}

/// Publishes a draft: visible to others from now, listed as new now, and
/// available from now unless its rights say otherwise.
pub fn publish(conn: &Connection, seq: i64, now: DateTime<Utc>) -> rusqlite::Result<()> {
    let now = to_micros(now);
    conn.execute(
        "UPDATE programs SET status = 'published', published_at = ?2, listed_at = ?2, updated_at = ?2,
             available_from = coalesce(available_from, ?2), version = version + 1
         WHERE seq = ?1",
        params![seq, now],
    )?;
    Ok(())
}

pub fn withdraw(conn: &Connection, seq: i64, reason: &str, now: DateTime<Utc>) -> rusqlite::Result<()> {
    let now = to_micros(now);
    conn.execute(
        "UPDATE programs SET status = 'withdrawn', withdrawn_at = ?2, withdrawal_reason = ?3,
             updated_at = ?2, version = version + 1
         WHERE seq = ?1",
        params![seq, now, reason],
    )?;
    Ok(())
}

/// Deletes the program and everything hanging off it.
pub fn delete(conn: &Connection, seq: i64) -> rusqlite::Result<()> {
    conn.execute("DELETE FROM program_fts WHERE rowid = ?1", [seq])?;
    conn.execute("DELETE FROM programs WHERE seq = ?1", [seq])?;
    Ok(())
}

pub fn delete_file(conn: &Connection, seq: i64, role: FileRole) -> rusqlite::Result<()> {
    conn.execute(
        "DELETE FROM program_files WHERE program_seq = ?1 AND role = ?2",
        params![seq, role.as_str()],
    )?;
    Ok(())
}

/// The ids of `station`'s drafts created before `before` (all of them
/// when `None`), oldest first.
pub fn drafts_of(
    conn: &Connection,
    station: &StationId,
    before: Option<DateTime<Utc>>,
) -> rusqlite::Result<Vec<ProgramId>> {
    let ids: Vec<String> = conn
        .prepare_cached(
            "SELECT id FROM programs WHERE station_id = ?1 AND status = 'draft' AND created_at < ?2 ORDER BY seq",
        )?
        .query_map(params![station.as_str(), before.map_or(i64::MAX, to_micros)], |r| {
            r.get(0)
        })?
        .collect::<Result<_, _>>()?;
    Ok(ids.iter().filter_map(|id| ProgramId::parse(id)).collect())
}

/// The id of the program with rowid `seq`.
pub fn id_of(conn: &Connection, seq: i64) -> rusqlite::Result<Option<ProgramId>> {
    conn.prepare_cached("SELECT id FROM programs WHERE seq = ?1")?
        .query_row([seq], |r| parsed(r, 0, ProgramId::parse))
        .optional()
}

/// The rowid of program `id`.
pub fn seq(conn: &Connection, id: ProgramId) -> rusqlite::Result<Option<i64>> {
    conn.prepare_cached("SELECT seq FROM programs WHERE id = ?1")?
        .query_row([id.to_string()], |r| r.get(0))
        .optional()
}

/// The programs `seqs`, in that order, with their files.
pub fn get_many(conn: &Connection, seqs: &[i64]) -> rusqlite::Result<Vec<Stored>> {
    let sql = format!("SELECT {COLUMNS} FROM programs p WHERE p.seq = ?1");
    let mut stmt = conn.prepare_cached(&sql)?;
    seqs.iter()
        .filter_map(|seq| stmt.query_row([seq], from_row).optional().transpose())
        .map(|stored| {
            let mut s = stored?;
            attach_files(conn, &mut s)?;
            Ok(s)
        })
        .collect()
}
