//! The search index: what search filters, counts and sorts on, for every
//! program, in memory. SQLite's full-text index finds the words; this answers
//! "which of those may this viewer see, how many per facet, which come
//! first" in microseconds per thousand programs, where row lookups in SQLite
//! cost a microsecond each (see BENCHMARKS.md, "Search").
//!
//! It is loaded from the catalog at start and refreshed, program by program,
//! after every write that changes a searchable field.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, RwLock};

use rusqlite::{Connection, OptionalExtension};

use crate::domain::{Audience, Genre, ProgramKind, ProgramStatus};

/// Never-aired programs sort last under `aired`.
pub const NEVER_AIRED: i64 = i64::MIN;

/// One program, as search sees it.
#[derive(Debug, Clone)]
pub struct Entry {
    pub status: ProgramStatus,
    pub station: NameId,
    pub kind: ProgramKind,
    pub genre: Genre,
    pub languages: Box<[NameId]>,
    pub audience: Audience,
    /// The stations that may take it, when the audience is `stations`.
    pub audience_stations: Box<[NameId]>,
    pub available_from: Option<i64>,
    pub available_until: Option<i64>,
    pub listed_at: i64,
    /// First aired, or [`NEVER_AIRED`].
    pub aired: i64,
    /// Seconds: the master's measured duration once analysed, else the
    /// declared one.
    pub duration: Option<u32>,
    pub title_key: Box<str>,
    /// Whether the analysed master has moving pictures.
    pub has_video: bool,
    /// The codecs of the analysed master's streams.
    pub codecs: Box<[Box<str>]>,
    /// Mirrored from a peer hub (its station is the peer's).
    pub mirrored: bool,
}

/// What every search reads of a program, packed in 48 bytes: a pass over a
/// million programs streams 48 MB, not the whole entries (about 140 bytes
/// each, and their titles and lists elsewhere on the heap). The rest is
/// read from the [`Entry`] only for the programs and filters that need it.
#[derive(Debug, Clone, Copy)]
pub struct Hot {
    pub listed_at: i64,
    /// The availability window: from (`i64::MIN`: always) until (`i64::MAX`: ever).
    pub from: i64,
    pub until: i64,
    pub station: NameId,
    /// The first two languages, [`NO_LANGUAGE`] where there is none.
    pub languages: [NameId; 2],
    pub status: ProgramStatus,
    pub kind: ProgramKind,
    pub genre: Genre,
    pub audience: Audience,
    /// [`MORE_LANGUAGES`].
    pub flags: u8,
}

/// An empty place of [`Hot::languages`].
pub const NO_LANGUAGE: NameId = NameId::MAX;
/// The program has more than two languages (the entry lists them).
pub const MORE_LANGUAGES: u8 = 1;
/// The program is mirrored from a peer hub.
pub const MIRRORED: u8 = 2;

impl Hot {
    fn of(e: &Entry) -> Self {
        Self {
            listed_at: e.listed_at,
            from: e.available_from.unwrap_or(i64::MIN),
            until: e.available_until.unwrap_or(i64::MAX),
            station: e.station,
            languages: [0, 1].map(|i| e.languages.get(i).copied().unwrap_or(NO_LANGUAGE)),
            status: e.status,
            kind: e.kind,
            genre: e.genre,
            audience: e.audience,
            flags: if e.languages.len() > 2 { MORE_LANGUAGES } else { 0 } | if e.mirrored { MIRRORED } else { 0 },
        }
    }
}

/// A name's number in [`Names`].
pub type NameId = u32;

/// The index cannot number another name of this kind. Clients only ever
/// meet it as a refusal of the write that would have added the name.
#[derive(Debug, thiserror::Error)]
#[error("the search index holds as many distinct {kind} as it can number ({cap})")]
pub struct TooManyNames {
    pub kind: NameKind,
    pub cap: usize,
}

/// What a [`Names`] table numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    Stations,
    Languages,
}

impl std::fmt::Display for NameKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Stations => "station ids",
            Self::Languages => "language tags",
        })
    }
}

/// What refreshing or loading the index can fail with.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error(transparent)]
    TooManyNames(#[from] TooManyNames),
    #[error("catalog")]
    Catalog(#[from] rusqlite::Error),
}

/// Names (station ids, language tags) as small numbers. Which names there
/// are is up to the stations' data, so numbering one more can fail but
/// never panics.
#[derive(Debug)]
pub struct Names {
    kind: NameKind,
    cap: usize,
    ids: HashMap<String, NameId>,
    names: Vec<String>,
}

impl Names {
    pub fn new(kind: NameKind) -> Self {
        Self::with_cap(kind, NameId::MAX as usize)
    }

    /// A table that numbers at most `cap` names (tests use small ones).
    pub fn with_cap(kind: NameKind, cap: usize) -> Self {
        Self {
            kind,
            cap: cap.min(NameId::MAX as usize),
            ids: HashMap::new(),
            names: Vec::new(),
        }
    }

    /// The number of `name`, numbering it if it is new.
    pub fn id(&mut self, name: &str) -> Result<NameId, TooManyNames> {
        if let Some(id) = self.ids.get(name) {
            return Ok(*id);
        }
        let full = TooManyNames {
            kind: self.kind,
            cap: self.cap,
        };
        if self.names.len() >= self.cap {
            return Err(full);
        }
        let id = NameId::try_from(self.names.len()).map_err(|_| full)?;
        self.ids.insert(name.to_owned(), id);
        self.names.push(name.to_owned());
        Ok(id)
    }

    /// How many names are numbered.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    pub fn get(&self, name: &str) -> Option<NameId> {
        self.ids.get(name).copied()
    }

    /// The name numbered `id` (empty for a number this table never gave).
    pub fn name(&self, id: NameId) -> &str {
        usize::try_from(id)
            .ok()
            .and_then(|i| self.names.get(i))
            .map_or("", String::as_str)
    }
}

#[derive(Debug)]
pub struct Tables {
    /// By `programs.seq`; `None` where there is no program.
    pub entries: Vec<Option<Entry>>,
    /// The same programs' [`Hot`] parts, at the same places.
    pub hot: Vec<Option<Hot>>,
    /// The places of each genre's programs (by `Genre as usize`), ascending:
    /// a search filtered by genre visits only these.
    pub by_genre: Vec<Vec<u32>>,
    /// One bit a place, set where the program is mirrored from a peer (as
    /// [`MIRRORED`] in its hot row): a search that keeps only one origin's
    /// programs, or a peer's (which never sees mirrored ones), turns the
    /// others away without reading their rows.
    pub mirrored: Vec<u64>,
    /// For each station (by its number), one bit a place, set where the
    /// program's audience names that station: the rights rule answers for
    /// programs shown to named stations without reading their entries (at
    /// a million programs, two cache misses each, a third of a browse).
    pub named: Vec<Vec<u64>>,
    pub stations: Names,
    pub languages: Names,
}

/// Distinct language tags the index numbers at most. Real catalogs use a
/// few dozen; a tag is `language[-script][-region]`, and a station making
/// up combinations by the million must not grow the hub's memory without
/// bound (the table only shrinks at a restart, from the tags still in use).
pub const MAX_LANGUAGE_TAGS: usize = 20_000;

impl Default for Tables {
    fn default() -> Self {
        Self {
            entries: Vec::new(),
            hot: Vec::new(),
            by_genre: vec![Vec::new(); Genre::ALL.len()],
            mirrored: Vec::new(),
            named: Vec::new(),
            stations: Names::new(NameKind::Stations),
            languages: Names::new(NameKind::Languages),
        }
    }
}

impl Tables {
    /// Puts `entry` (or its absence) at `seq`.
    fn set(&mut self, seq: i64, entry: Option<Entry>) -> Result<(), IndexError> {
        // Program seqs are SQLite rowids, positive; anything else is a broken row.
        let i =
            usize::try_from(seq).map_err(|_| IndexError::Catalog(super::stations::bad_column(0, seq.to_string())))?;
        // Places are u32: the hot row's names are, and four billion
        // programs is past any catalog.
        let place =
            u32::try_from(i).map_err(|_| IndexError::Catalog(super::stations::bad_column(0, seq.to_string())))?;
        if self.entries.len() <= i {
            self.entries.resize(i + 1, None);
            self.hot.resize(i + 1, None);
        }
        let (was, is) = (self.hot[i].map(|h| h.genre), entry.as_ref().map(|e| e.genre));
        if was != is {
            if let Some(g) = was {
                let list = &mut self.by_genre[g as usize];
                if let Ok(at) = list.binary_search(&place) {
                    list.remove(at);
                }
            }
            if let Some(g) = is {
                let list = &mut self.by_genre[g as usize];
                // New programs come last: a push, nearly always.
                if let Err(at) = list.binary_search(&place) {
                    list.insert(at, place);
                }
            }
        }
        let (word, bit) = (i / 64, 1u64 << (i % 64));
        if self.mirrored.len() <= word {
            self.mirrored.resize(word + 1, 0);
        }
        if entry.as_ref().is_some_and(|e| e.mirrored) {
            self.mirrored[word] |= bit;
        } else {
            self.mirrored[word] &= !bit;
        }
        for &s in self.entries[i].iter().flat_map(|e| e.audience_stations.iter()) {
            if let Some(w) = self.named.get_mut(s as usize).and_then(|bits| bits.get_mut(word)) {
                *w &= !bit;
            }
        }
        for &s in entry.iter().flat_map(|e| e.audience_stations.iter()) {
            let s = s as usize;
            if self.named.len() <= s {
                self.named.resize(s + 1, Vec::new());
            }
            let bits = &mut self.named[s];
            if bits.len() <= word {
                bits.resize(word + 1, 0);
            }
            bits[word] |= bit;
        }
        self.hot[i] = entry.as_ref().map(Hot::of);
        self.entries[i] = entry;
        Ok(())
    }

    /// The places whose audience names `station`, as bits (see
    /// [`Tables::named`]).
    pub fn named_bits(&self, station: NameId) -> &[u64] {
        self.named.get(station as usize).map_or(&[], |bits| &bits[..])
    }

    /// Whether the program at `at` is mirrored from a peer.
    pub fn is_mirrored(&self, at: usize) -> bool {
        self.mirrored.get(at / 64).is_some_and(|w| w >> (at % 64) & 1 != 0)
    }
}

#[derive(Debug, Default)]
pub struct SearchIndex {
    tables: RwLock<Tables>,
    matches: Mutex<MatchCache>,
}

/// The rowids an FTS5 expression matched, ascending.
/// As `u32`: the index's places are (see [`Tables::set`]), and a match set of
/// a common word at a million programs is 800 KB instead of 1.6 MB.
pub type Matched = Arc<[u32]>;

/// Full-text queries whose match sets are kept.
const CACHED_QUERIES: usize = 64;
/// Rowids kept over all of them (4 bytes each: 8 MiB), so a few common
/// words of a large catalog cannot grow memory without bound.
const CACHED_ROWIDS: usize = 2 << 20;

/// The match sets of the last full-text queries, each with the version of
/// the full-text index it was read from (FTS5's structure record, rewritten
/// by every transaction that changes the index): a set is only ever handed
/// out for the very index it came from, so a write anywhere in the catalog's
/// text simply makes the old sets unreachable (they age out).
#[derive(Debug, Default)]
pub struct MatchCache {
    /// Newest last: (expression, index version, rowids).
    sets: VecDeque<(Box<str>, Box<[u8]>, Matched)>,
    rowids: usize,
}

impl MatchCache {
    /// The set `expr` matched in the index at `version`, if kept.
    fn get(&mut self, expr: &str, version: &[u8]) -> Option<Matched> {
        let i = self.sets.iter().position(|(e, v, _)| &**e == expr && &**v == version)?;
        let hit = self.sets.remove(i)?;
        let ids = hit.2.clone();
        self.sets.push_back(hit);
        Some(ids)
    }

    fn put(&mut self, expr: &str, version: &[u8], ids: Matched) {
        if ids.len() > CACHED_ROWIDS / 4 {
            return;
        }
        // A set of another version of the index is never read again.
        self.sets.retain(|(e, v, _)| &**e != expr && &**v == version);
        self.rowids = self.sets.iter().map(|(_, _, ids)| ids.len()).sum();
        while self.sets.len() >= CACHED_QUERIES || self.rowids + ids.len() > CACHED_ROWIDS {
            let Some((_, _, old)) = self.sets.pop_front() else {
                break;
            };
            self.rowids -= old.len();
        }
        self.rowids += ids.len();
        self.sets.push_back((expr.into(), version.into(), ids));
    }
}

/// The version of the full-text index as this connection sees it.
fn fts_version(conn: &Connection) -> rusqlite::Result<Vec<u8>> {
    // FTS5 keeps its structure record (segments, tombstones and a write
    // counter) at id 10 of its data table.
    Ok(conn
        .prepare_cached("SELECT block FROM program_fts_data WHERE id = 10")?
        .query_row([], |r| r.get::<_, Vec<u8>>(0))
        .optional()?
        .unwrap_or_default())
}

/// The rowids of the programs whose folded text matches `expr`.
fn fts_rowids(conn: &Connection, expr: &str) -> rusqlite::Result<Matched> {
    let mut ids: Vec<u32> = Vec::new();
    let mut stmt = conn.prepare_cached("SELECT rowid FROM program_fts WHERE program_fts MATCH ?1")?;
    let mut rows = stmt.query([expr])?;
    while let Some(r) = rows.next()? {
        // A rowid past u32 has no place in the index (its write was refused).
        if let Ok(id) = u32::try_from(r.get::<_, i64>(0)?) {
            ids.push(id);
        }
    }
    ids.sort_unstable();
    Ok(ids.into())
}

const SELECT: &str = "SELECT p.seq, p.status, p.station_id, p.kind, p.genre, p.audience, p.available_from,
    p.available_until, p.listed_at, p.first_aired_at, p.duration_seconds, p.title_key,
    (SELECT group_concat(lang, ' ') FROM program_languages WHERE program_seq = p.seq),
    (SELECT group_concat(station_id, ' ') FROM program_audience WHERE program_seq = p.seq),
    json_extract(mj.result, '$.duration_seconds'),
    (SELECT group_concat(json_extract(s.value, '$.kind') || ':' || coalesce(json_extract(s.value, '$.codec'), '')
        || ':' || coalesce(json_extract(s.value, '$.attached_picture'), 0), ' ')
     FROM json_each(mj.result, '$.streams') s),
    p.origin_peer IS NOT NULL
    FROM programs p
    LEFT JOIN program_files mf ON mf.program_seq = p.seq AND mf.role = 'master'
    LEFT JOIN analysis_jobs mj ON mj.sha256 = mf.sha256 AND mj.kind = 'analyze' AND mj.state = 'done'";

/// A row as an entry, numbering its names; `Err(Err(_))` when a name
/// cannot be numbered.
fn read(r: &rusqlite::Row<'_>, t: &mut Tables) -> rusqlite::Result<Result<(i64, Entry), TooManyNames>> {
    let bad = |i: usize, v: String| super::stations::bad_column(i, v);
    let status: String = r.get(1)?;
    let kind: String = r.get(3)?;
    let genre: String = r.get(4)?;
    let audience: String = r.get(5)?;
    let station: String = r.get(2)?;
    let langs: Option<String> = r.get(12)?;
    let listed: Option<String> = r.get(13)?;
    let named = || -> Result<_, TooManyNames> {
        Ok((
            t.stations.id(&station)?,
            langs
                .unwrap_or_default()
                .split_whitespace()
                .map(|l| t.languages.id(l))
                .collect::<Result<Box<[NameId]>, _>>()?,
            listed
                .unwrap_or_default()
                .split_whitespace()
                .map(|s| t.stations.id(s))
                .collect::<Result<Box<[NameId]>, _>>()?,
        ))
    };
    let (station, languages, audience_stations) = match named() {
        Ok(ids) => ids,
        Err(e) => return Ok(Err(e)),
    };
    let measured: Option<f64> = r.get(14)?;
    let streams: Option<String> = r.get(15)?;
    let mut has_video = false;
    let mut codecs: Vec<Box<str>> = Vec::new();
    for s in streams.as_deref().unwrap_or("").split_whitespace() {
        let mut parts = s.split(':');
        let (kind, codec, picture) = (parts.next(), parts.next().unwrap_or(""), parts.next());
        has_video |= kind == Some("video") && picture != Some("1");
        if !codec.is_empty() && !codecs.iter().any(|c| &**c == codec) {
            codecs.push(codec.into());
        }
    }
    let declared: Option<u32> = r.get(10)?;
    let entry = Entry {
        status: ProgramStatus::parse(&status).ok_or_else(|| bad(1, status.clone()))?,
        station,
        kind: ProgramKind::parse(&kind).ok_or_else(|| bad(3, kind.clone()))?,
        genre: Genre::parse(&genre).ok_or_else(|| bad(4, genre.clone()))?,
        languages,
        audience: Audience::parse(&audience).ok_or_else(|| bad(5, audience.clone()))?,
        audience_stations,
        available_from: r.get(6)?,
        available_until: r.get(7)?,
        listed_at: r.get(8)?,
        aired: r.get::<_, Option<i64>>(9)?.unwrap_or(NEVER_AIRED),
        duration: measured
            .filter(|d| d.is_finite() && *d >= 0.0)
            .map(|d| d.round().min(f64::from(u32::MAX)) as u32)
            .or(declared),
        title_key: r.get::<_, String>(11)?.into_boxed_str(),
        has_video,
        codecs: codecs.into_boxed_slice(),
        mirrored: r.get(16)?,
    };
    Ok(Ok((r.get(0)?, entry)))
}

impl SearchIndex {
    /// Every program of the catalog.
    /// Fails (without panicking) only on a catalog that holds more names
    /// than ids can number, which no write lets it come to.
    pub fn load(conn: &Connection) -> rusqlite::Result<Self> {
        let mut t = Tables::default();
        let mut stmt = conn.prepare(SELECT)?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let (seq, entry) = read(r, &mut t)?.map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
            t.set(seq, Some(entry)).map_err(|e| match e {
                IndexError::Catalog(e) => e,
                IndexError::TooManyNames(e) => rusqlite::Error::ToSqlConversionFailure(Box::new(e)),
            })?;
        }
        // What the catalog holds is always loaded; past the cap, only new
        // tags are refused.
        t.languages.cap = t.languages.cap.min(MAX_LANGUAGE_TAGS);
        Ok(Self {
            tables: RwLock::new(t),
            matches: Mutex::default(),
        })
    }

    /// Re-reads program `seq` (gone from the index if gone from the catalog).
    /// When one of its names cannot be numbered, the index is left as it was
    /// and the caller is expected to roll its write back.
    pub fn refresh(&self, conn: &Connection, seq: i64) -> Result<(), IndexError> {
        let mut t = self.tables.write().unwrap_or_else(|e| e.into_inner());
        let t = &mut *t;
        let entry = conn
            .prepare_cached(&format!("{SELECT} WHERE p.seq = ?1"))?
            .query_row([seq], |r| read(r, t))
            .optional()?
            .transpose()?
            .map(|(_, e)| e);
        t.set(seq, entry)
    }

    /// The rowids of the programs whose folded text matches the FTS5
    /// expression `expr`, ascending: from the cache while the full-text index
    /// is the one they were read from, else from SQLite.
    pub fn matching(&self, conn: &Connection, expr: &str) -> rusqlite::Result<Matched> {
        // Inside a transaction, FTS5 answers with its pending changes while
        // the structure record still names the last commit: no caching there.
        if !conn.is_autocommit() {
            return fts_rowids(conn, expr);
        }
        let cache = || self.matches.lock().unwrap_or_else(|e| e.into_inner());
        let version = fts_version(conn)?;
        if let Some(ids) = cache().get(expr, &version) {
            return Ok(ids);
        }
        let ids = fts_rowids(conn, expr)?;
        // Each statement reads the latest commit: the set belongs to
        // `version` only if no commit came between the two reads (the
        // structure record never returns to an earlier state).
        if fts_version(conn)? == version {
            cache().put(expr, &version, ids.clone());
        }
        Ok(ids)
    }

    /// Reads the tables under the lock.
    pub fn with<R>(&self, f: impl FnOnce(&Tables) -> R) -> R {
        f(&self.tables.read().unwrap_or_else(|e| e.into_inner()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_refuse_past_their_cap_instead_of_panicking() {
        let mut names = Names::with_cap(NameKind::Languages, 2);
        assert_eq!(names.id("vi").unwrap(), 0);
        assert_eq!(names.id("tyz").unwrap(), 1);
        assert_eq!(names.id("vi").unwrap(), 0, "a known name keeps its number");
        let err = names.id("nut").unwrap_err();
        assert_eq!(err.kind, NameKind::Languages);
        assert_eq!(names.get("nut"), None);
        assert_eq!(names.name(1), "tyz");
        assert_eq!(names.name(7), "", "an unknown number names nothing");
    }

    #[test]
    fn more_than_65536_languages_are_numbered() {
        // The 65,537th distinct tag used to panic ("fewer than 65,536 ...").
        let mut names = Names::new(NameKind::Languages);
        for i in 0..70_000u32 {
            assert_eq!(names.id(&format!("l{i}")).unwrap(), i);
        }
        assert_eq!(names.name(65_536), "l65536");
    }
}
