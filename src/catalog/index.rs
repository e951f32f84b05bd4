//! The search index: what search filters, counts and sorts on, for every
//! program, in memory. SQLite's full-text index finds the words; this answers
//! "which of those may this viewer see, how many per facet, which come
//! first" in microseconds per thousand programs, where row lookups in SQLite
//! cost a microsecond each (see BENCHMARKS.md, "Search").
//!
//! It is loaded from the catalog at start and refreshed, program by program,
//! after every write that changes a searchable field.

use std::collections::HashMap;
use std::sync::RwLock;

use rusqlite::{Connection, OptionalExtension};

use crate::domain::{Audience, Genre, ProgramKind, ProgramStatus};

/// Never-aired programs sort last under `aired`.
pub const NEVER_AIRED: i64 = i64::MIN;

/// One program, as search sees it.
#[derive(Debug, Clone)]
pub struct Entry {
    pub status: ProgramStatus,
    pub station: u16,
    pub kind: ProgramKind,
    pub genre: Genre,
    pub languages: Box<[u16]>,
    pub audience: Audience,
    /// The stations that may take it, when the audience is `stations`.
    pub audience_stations: Box<[u16]>,
    pub available_from: Option<i64>,
    pub available_until: Option<i64>,
    pub listed_at: i64,
    /// First aired, or [`NEVER_AIRED`].
    pub aired: i64,
    pub duration: Option<u32>,
    pub title_key: Box<str>,
}

/// Names (station ids, language tags) as small numbers.
#[derive(Debug, Default)]
pub struct Names {
    ids: HashMap<String, u16>,
    names: Vec<String>,
}

impl Names {
    pub fn id(&mut self, name: &str) -> u16 {
        if let Some(id) = self.ids.get(name) {
            return *id;
        }
        let id = u16::try_from(self.names.len()).expect("fewer than 65,536 stations and languages");
        self.ids.insert(name.to_owned(), id);
        self.names.push(name.to_owned());
        id
    }

    pub fn get(&self, name: &str) -> Option<u16> {
        self.ids.get(name).copied()
    }

    pub fn name(&self, id: u16) -> &str {
        &self.names[id as usize]
    }
}

#[derive(Debug, Default)]
pub struct Tables {
    /// By `programs.seq`; `None` where there is no program.
    pub entries: Vec<Option<Entry>>,
    pub stations: Names,
    pub languages: Names,
}

#[derive(Debug, Default)]
pub struct SearchIndex {
    tables: RwLock<Tables>,
}

const SELECT: &str = "SELECT p.seq, p.status, p.station_id, p.kind, p.genre, p.audience, p.available_from,
    p.available_until, p.listed_at, p.first_aired_at, p.duration_seconds, p.title_key,
    (SELECT group_concat(lang, ' ') FROM program_languages WHERE program_seq = p.seq),
    (SELECT group_concat(station_id, ' ') FROM program_audience WHERE program_seq = p.seq)
    FROM programs p";

fn read(r: &rusqlite::Row<'_>, t: &mut Tables) -> rusqlite::Result<(i64, Entry)> {
    let bad = |i: usize, v: String| super::stations::bad_column(i, v);
    let status: String = r.get(1)?;
    let kind: String = r.get(3)?;
    let genre: String = r.get(4)?;
    let audience: String = r.get(5)?;
    let station: String = r.get(2)?;
    let langs: Option<String> = r.get(12)?;
    let listed: Option<String> = r.get(13)?;
    let entry = Entry {
        status: ProgramStatus::parse(&status).ok_or_else(|| bad(1, status.clone()))?,
        station: t.stations.id(&station),
        kind: ProgramKind::parse(&kind).ok_or_else(|| bad(3, kind.clone()))?,
        genre: Genre::parse(&genre).ok_or_else(|| bad(4, genre.clone()))?,
        languages: langs
            .unwrap_or_default()
            .split_whitespace()
            .map(|l| t.languages.id(l))
            .collect(),
        audience: Audience::parse(&audience).ok_or_else(|| bad(5, audience.clone()))?,
        audience_stations: listed
            .unwrap_or_default()
            .split_whitespace()
            .map(|s| t.stations.id(s))
            .collect(),
        available_from: r.get(6)?,
        available_until: r.get(7)?,
        listed_at: r.get(8)?,
        aired: r.get::<_, Option<i64>>(9)?.unwrap_or(NEVER_AIRED),
        duration: r.get(10)?,
        title_key: r.get::<_, String>(11)?.into_boxed_str(),
    };
    Ok((r.get(0)?, entry))
}

impl SearchIndex {
    /// Every program of the catalog.
    pub fn load(conn: &Connection) -> rusqlite::Result<Self> {
        let mut t = Tables::default();
        let mut stmt = conn.prepare(SELECT)?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let (seq, entry) = read(r, &mut t)?;
            let i = seq as usize;
            if t.entries.len() <= i {
                t.entries.resize(i + 1, None);
            }
            t.entries[i] = Some(entry);
        }
        Ok(Self { tables: RwLock::new(t) })
    }

    /// Re-reads program `seq` (gone from the index if gone from the catalog).
    pub fn refresh(&self, conn: &Connection, seq: i64) -> rusqlite::Result<()> {
        let mut t = self.tables.write().unwrap_or_else(|e| e.into_inner());
        let t = &mut *t;
        let entry = conn
            .prepare_cached(&format!("{SELECT} WHERE p.seq = ?1"))?
            .query_row([seq], |r| read(r, t))
            .optional()?
            .map(|(_, e)| e);
        let i = seq as usize;
        if t.entries.len() <= i {
            t.entries.resize(i + 1, None);
        }
        t.entries[i] = entry;
        Ok(())
    }

    /// Reads the tables under the lock.
    pub fn with<R>(&self, f: impl FnOnce(&Tables) -> R) -> R {
        f(&self.tables.read().unwrap_or_else(|e| e.into_inner()))
    }
}
