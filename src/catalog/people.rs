//! People, their sessions, failed sign-ins and their actions, as the catalog
//! keeps them: a password only as its Argon2id hash, a session only as the
//! SHA-256 of its id. How they are checked is `exchange::people`'s business.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::stations::bad_column;
use super::{from_micros, to_micros};
use crate::domain::{Action, ActionKind, Login, Person, PersonId, PersonRole, StationId};

/// A person and their password hash.
#[derive(Debug, Clone)]
pub struct PersonRow {
    pub person: Person,
    pub password_hash: String,
}

const COLUMNS: &str =
    "id, login, name, station_id, role, language, password_hash, disabled_at IS NOT NULL, in_charge = 1";

fn from_row(r: &Row<'_>) -> rusqlite::Result<PersonRow> {
    let id: String = r.get(0)?;
    let login: String = r.get(1)?;
    let station: Option<String> = r.get(3)?;
    let role: String = r.get(4)?;
    Ok(PersonRow {
        person: Person {
            id: PersonId::parse(&id).ok_or_else(|| bad_column(0, id))?,
            login: Login::parse(&login).map_err(|e| bad_column(1, e.into()))?,
            name: r.get(2)?,
            station: station
                .map(|s| StationId::parse(&s).map_err(|e| bad_column(3, e)))
                .transpose()?,
            role: PersonRole::parse(&role).ok_or_else(|| bad_column(4, role))?,
            language: r.get(5)?,
            disabled: r.get(7)?,
            in_charge: r.get(8)?,
        },
        password_hash: r.get(6)?,
    })
}

/// Inserts a person; `Ok(false)` when the login is taken.
pub fn insert(conn: &Connection, p: &Person, password_hash: &str, now: DateTime<Utc>) -> rusqlite::Result<bool> {
    let r = conn.execute(
        "INSERT INTO people (id, login, name, station_id, role, password_hash, language, created_at, password_changed_at,
             in_charge)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9)",
        params![
            p.id.as_str(),
            p.login.as_str(),
            p.name,
            p.station.as_ref().map(StationId::as_str),
            p.role.as_str(),
            password_hash,
            p.language,
            to_micros(now),
            p.in_charge
        ],
    );
    match r {
        Ok(_) => Ok(true),
        Err(e) if super::is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e),
    }
}

pub fn by_login(conn: &Connection, login: &Login) -> rusqlite::Result<Option<PersonRow>> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM people WHERE login = ?1"))?
        .query_row([login.as_str()], from_row)
        .optional()
}

pub fn by_id(conn: &Connection, id: &PersonId) -> rusqlite::Result<Option<PersonRow>> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM people WHERE id = ?1"))?
        .query_row([id.as_str()], from_row)
        .optional()
}

/// The people of `station` (every person when `None`), by login.
pub fn list(conn: &Connection, station: Option<&StationId>) -> rusqlite::Result<Vec<Person>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM people WHERE (?1 IS NULL OR station_id = ?1) AND removed_at IS NULL ORDER BY login"
    ))?;
    let rows = stmt.query_map([station.map(StationId::as_str)], |r| from_row(r).map(|p| p.person))?;
    rows.collect()
}

pub fn set_password(conn: &Connection, id: &PersonId, hash: &str, now: DateTime<Utc>) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE people SET password_hash = ?2, password_changed_at = ?3 WHERE id = ?1",
        params![id.as_str(), hash, to_micros(now)],
    )?;
    Ok(())
}

/// Disables (`Some(now)`) or enables (`None`) a person.
pub fn set_disabled(conn: &Connection, id: &PersonId, at: Option<DateTime<Utc>>) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE people SET disabled_at = ?2 WHERE id = ?1",
        params![id.as_str(), at.map(to_micros)],
    )?;
    Ok(())
}

/// A station person's role, and whether they are its editor in charge.
pub fn set_role(conn: &Connection, id: &PersonId, role: PersonRole, in_charge: bool) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE people SET role = ?2, in_charge = ?3 WHERE id = ?1",
        params![id.as_str(), role.as_str(), in_charge],
    )?;
    Ok(())
}

/// Removes a person: gone when they did nothing; otherwise kept for the
/// history of what they did only (hidden, disabled, their login free).
pub fn remove(conn: &Connection, id: &PersonId, now: DateTime<Utc>) -> rusqlite::Result<()> {
    delete_sessions_of(conn, id)?;
    let acted: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM program_actions WHERE person_id = ?1)",
        [id.as_str()],
        |r| r.get(0),
    )?;
    if acted {
        conn.execute(
            "UPDATE people SET removed_at = ?2, disabled_at = coalesce(disabled_at, ?2), in_charge = 0,
                 login = 'removed.' || id WHERE id = ?1",
            params![id.as_str(), to_micros(now)],
        )?;
    } else {
        conn.execute("DELETE FROM people WHERE id = ?1", [id.as_str()])?;
    }
    Ok(())
}

/// How many operators may sign in.
pub fn active_operators(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row(
        "SELECT count(*) FROM people WHERE role = 'operator' AND disabled_at IS NULL AND removed_at IS NULL",
        [],
        |r| r.get(0),
    )
}

pub fn set_language(conn: &Connection, id: &PersonId, language: Option<&str>) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE people SET language = ?2 WHERE id = ?1",
        params![id.as_str(), language],
    )?;
    Ok(())
}

// Sessions.

pub fn insert_session(
    conn: &Connection,
    id_sha256: &[u8],
    person: &PersonId,
    now: DateTime<Utc>,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO sessions (id_sha256, person_id, created_at, last_seen_at) VALUES (?1, ?2, ?3, ?3)",
        params![id_sha256, person.as_str(), to_micros(now)],
    )?;
    Ok(())
}

/// A live session as kept: its person, when it was last used and made.
pub struct SessionRow {
    pub person: PersonRow,
    pub last_seen: DateTime<Utc>,
    pub created: DateTime<Utc>,
    /// When the person was last seen on the pages (any session).
    pub person_seen: Option<DateTime<Utc>>,
    /// When the person's previous visit ended.
    pub previous_visit: Option<DateTime<Utc>>,
}

/// The session's person, when it was last used and when it was made.
pub fn session(conn: &Connection, id_sha256: &[u8]) -> rusqlite::Result<Option<SessionRow>> {
    conn.prepare_cached(
        "SELECT p.id, p.login, p.name, p.station_id, p.role, p.language, p.password_hash,
             p.disabled_at IS NOT NULL, p.in_charge = 1, s.last_seen_at, s.created_at, p.seen_at,
             p.previous_visit_at
         FROM sessions s JOIN people p ON p.id = s.person_id WHERE s.id_sha256 = ?1",
    )?
    .query_row([id_sha256], |r| {
        Ok(SessionRow {
            person: from_row(r)?,
            last_seen: from_micros(r.get(9)?),
            created: from_micros(r.get(10)?),
            person_seen: r.get::<_, Option<i64>>(11)?.map(from_micros),
            previous_visit: r.get::<_, Option<i64>>(12)?.map(from_micros),
        })
    })
    .optional()
}

pub fn touch_session(conn: &Connection, id_sha256: &[u8], now: DateTime<Utc>) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE sessions SET last_seen_at = ?2 WHERE id_sha256 = ?1",
        params![id_sha256, to_micros(now)],
    )?;
    Ok(())
}

/// Notes that `person` was seen at `now`, and that their previous visit
/// ended at `previous` (unchanged within a visit).
pub fn note_seen(
    conn: &Connection,
    person: &PersonId,
    now: DateTime<Utc>,
    previous: Option<DateTime<Utc>>,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE people SET seen_at = ?2, previous_visit_at = ?3 WHERE id = ?1",
        params![person.as_str(), to_micros(now), previous.map(to_micros)],
    )?;
    Ok(())
}

pub fn delete_session(conn: &Connection, id_sha256: &[u8]) -> rusqlite::Result<()> {
    conn.execute("DELETE FROM sessions WHERE id_sha256 = ?1", [id_sha256])?;
    Ok(())
}

/// Ends every session of `person`.
pub fn delete_sessions_of(conn: &Connection, person: &PersonId) -> rusqlite::Result<()> {
    conn.execute("DELETE FROM sessions WHERE person_id = ?1", [person.as_str()])?;
    Ok(())
}

/// Forgets sessions unused since `before`.
pub fn delete_sessions_idle_since(conn: &Connection, before: DateTime<Utc>) -> rusqlite::Result<usize> {
    conn.execute("DELETE FROM sessions WHERE last_seen_at < ?1", [to_micros(before)])
}

// Failed sign-ins.

/// Failures so far for `login`: how many, the last one, locked until when.
#[derive(Debug, Clone, Copy, Default)]
pub struct Failures {
    pub count: u32,
    pub last: Option<DateTime<Utc>>,
    pub locked_until: Option<DateTime<Utc>>,
}

pub fn failures(conn: &Connection, login: &str) -> rusqlite::Result<Failures> {
    Ok(conn
        .prepare_cached("SELECT failures, last_failed_at, locked_until FROM sign_in_failures WHERE login = ?1")?
        .query_row([login], |r| {
            Ok(Failures {
                count: r.get(0)?,
                last: Some(from_micros(r.get(1)?)),
                locked_until: r.get::<_, Option<i64>>(2)?.map(from_micros),
            })
        })
        .optional()?
        .unwrap_or_default())
}

pub fn set_failures(conn: &Connection, login: &str, f: &Failures) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO sign_in_failures (login, failures, last_failed_at, locked_until) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (login) DO UPDATE SET failures = ?2, last_failed_at = ?3, locked_until = ?4",
        params![
            login,
            f.count,
            to_micros(f.last.unwrap_or_else(super::now)),
            f.locked_until.map(to_micros)
        ],
    )?;
    Ok(())
}

pub fn clear_failures(conn: &Connection, login: &str) -> rusqlite::Result<()> {
    conn.execute("DELETE FROM sign_in_failures WHERE login = ?1", [login])?;
    Ok(())
}

/// Forgets failures older than `before` that hold no lock past it, so the
/// table does not grow with every login ever tried.
pub fn prune_failures(conn: &Connection, before: DateTime<Utc>) -> rusqlite::Result<()> {
    conn.execute(
        "DELETE FROM sign_in_failures WHERE last_failed_at < ?1 AND (locked_until IS NULL OR locked_until < ?1)",
        [to_micros(before)],
    )?;
    Ok(())
}

// Actions.

pub fn record_action(
    conn: &Connection,
    program_seq: i64,
    person: &PersonId,
    kind: ActionKind,
    detail: Option<&str>,
    now: DateTime<Utc>,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO program_actions (program_seq, person_id, action, detail, at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![program_seq, person.as_str(), kind.as_str(), detail, to_micros(now)],
    )?;
    Ok(())
}

/// What people did to a program, oldest first.
pub fn actions(conn: &Connection, program_seq: i64) -> rusqlite::Result<Vec<Action>> {
    let mut stmt = conn.prepare_cached(
        "SELECT a.action, p.name, p.station_id, a.detail, a.at
         FROM program_actions a JOIN people p ON p.id = a.person_id
         WHERE a.program_seq = ?1 ORDER BY a.at, a.rowid",
    )?;
    let rows = stmt.query_map([program_seq], |r| {
        let kind: String = r.get(0)?;
        let station: Option<String> = r.get(2)?;
        Ok(Action {
            kind: ActionKind::parse(&kind).ok_or_else(|| bad_column(0, kind))?,
            person_name: r.get(1)?,
            station: station
                .map(|s| StationId::parse(&s).map_err(|e| bad_column(2, e)))
                .transpose()?,
            detail: r.get(3)?,
            at: from_micros(r.get(4)?),
        })
    })?;
    rows.collect()
}
