//! The search index: what search filters, counts and sorts on, for every
//! program, in memory. SQLite's full-text index finds the words; this answers
//! "which of those may this viewer see, how many per facet, which come
//! first" in microseconds per thousand programs, where row lookups in SQLite
//! cost a microsecond each (see BENCHMARKS.md, "Search").
//!
//! It is loaded from the catalog at start and refreshed, program by program,
//! after every write that changes a searchable field.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use rusqlite::{Connection, OptionalExtension};

use super::bits;

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
    /// Every program's place, in the order of its listing (`listed_at`,
    /// then place): a search sorted by newest walks it from the end and
    /// stops at its page, instead of ranking every match.
    pub listed: Vec<u32>,
    /// While loading: [`Tables::listed`] is put in order once, at the end.
    loading: bool,
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
    /// Every value's places as bits, for the searches answered by them.
    pub values: ValueBits,
    pub stations: Names,
    pub languages: Names,
}

/// Languages (by number) that have bits in [`ValueBits::language`]; a
/// catalog with programs in a language numbered past them is searched by
/// the pass over its matches instead. Real catalogs use a few dozen; the
/// cap bounds the memory (32 MB at a million programs).
pub const LANGUAGE_BITS: usize = 256;

/// For each value a program can be searched by, the places of the programs
/// that have it, one bit a place (see [`super::bits`]): a search then
/// counts its facets and applies its filters and the rights rule by and-ing
/// and counting words of 64 places, instead of reading the row of every
/// program it matched. Kept by every write with the rows.
#[derive(Debug, Default)]
pub struct ValueBits {
    pub status: [Vec<u64>; ProgramStatus::ALL.len()],
    pub kind: [Vec<u64>; ProgramKind::ALL.len()],
    pub genre: [Vec<u64>; Genre::ALL.len()],
    pub audience: [Vec<u64>; Audience::ALL.len()],
    /// By station number: the programs it owns.
    pub station: Vec<Vec<u64>>,
    /// By language number, below [`LANGUAGE_BITS`]: every language of the
    /// program, not only the two of its hot row.
    pub language: Vec<Vec<u64>>,
    /// How many programs have a language numbered past [`LANGUAGE_BITS`].
    pub languages_past: usize,
    /// Programs with an availability window (the others are always open).
    pub windowed: Vec<u64>,
    /// By station number: how many of its programs are mirrored.
    pub mirrored_count: Vec<u32>,
    /// Which windowed programs are open, as of an instant (see [`ValueBits::open_at`]).
    open: Mutex<Option<OpenAt>>,
}

/// The windowed programs open at `at`, and the first instant after `at`
/// at which one of them opens or closes.
#[derive(Debug, Clone)]
struct OpenAt {
    at: i64,
    until: i64,
    bits: Arc<Vec<u64>>,
}

/// Whether the hot row has an availability window.
fn windowed(h: &Hot) -> bool {
    h.from != i64::MIN || h.until != i64::MAX
}

impl ValueBits {
    /// Moves place `i` from `was` to `is` (either may be no program).
    fn update(&mut self, i: usize, was: Option<(&Entry, &Hot)>, is: Option<(&Entry, &Hot)>) {
        for (on, p) in [(false, was), (true, is)] {
            let Some((e, h)) = p else { continue };
            bits::put(&mut self.status[e.status as usize], i, on);
            bits::put(&mut self.kind[e.kind as usize], i, on);
            bits::put(&mut self.genre[e.genre as usize], i, on);
            bits::put(&mut self.audience[e.audience as usize], i, on);
            let s = e.station as usize;
            if self.station.len() <= s {
                self.station.resize(s + 1, Vec::new());
                self.mirrored_count.resize(s + 1, 0);
            }
            bits::put(&mut self.station[s], i, on);
            if e.mirrored {
                let n = &mut self.mirrored_count[s];
                *n = if on { n.saturating_add(1) } else { n.saturating_sub(1) };
            }
            let mut past = false;
            for &l in e.languages.iter() {
                let l = l as usize;
                if l >= LANGUAGE_BITS {
                    past = true;
                    continue;
                }
                if self.language.len() <= l {
                    self.language.resize(l + 1, Vec::new());
                }
                bits::put(&mut self.language[l], i, on);
            }
            if past {
                self.languages_past = if on {
                    self.languages_past + 1
                } else {
                    self.languages_past.saturating_sub(1)
                };
            }
            bits::put(&mut self.windowed, i, on && windowed(h));
        }
        // The open set of an instant, kept right for the new row.
        if let Some(o) = self.open.get_mut().unwrap_or_else(|e| e.into_inner()) {
            let h = is.map(|(_, h)| h).filter(|h| windowed(h));
            bits::put(
                Arc::make_mut(&mut o.bits),
                i,
                h.is_some_and(|h| h.from <= o.at && o.at < h.until),
            );
            if let Some(h) = h {
                o.until = o.until.min(next_change(h, o.at));
            }
        }
    }

    /// The windowed programs open at `at`, as bits: kept from one search to
    /// the next until a window opens or closes (writes keep it right).
    pub fn open_at(&self, hot: &[Option<Hot>], at: i64) -> Arc<Vec<u64>> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(o) = open.as_ref().filter(|o| o.at <= at && at < o.until) {
            return o.bits.clone();
        }
        let mut bits = vec![0u64; self.windowed.len()];
        let mut until = i64::MAX;
        for i in bits::descending(&self.windowed) {
            if let Some(Some(h)) = hot.get(i) {
                if h.from <= at && at < h.until {
                    bits[i / 64] |= 1 << (i % 64);
                }
                until = until.min(next_change(h, at));
            }
        }
        let bits = Arc::new(bits);
        *open = Some(OpenAt {
            at,
            until,
            bits: bits.clone(),
        });
        bits
    }
}

/// The first instant after `at` at which the window of `h` opens or closes.
fn next_change(h: &Hot, at: i64) -> i64 {
    let mut t = i64::MAX;
    if h.from > at {
        t = t.min(h.from);
    }
    if h.until > at {
        t = t.min(h.until);
    }
    t
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
            listed: Vec::new(),
            loading: false,
            mirrored: Vec::new(),
            named: Vec::new(),
            values: ValueBits::default(),
            stations: Names::new(NameKind::Stations),
            languages: Names::new(NameKind::Languages),
        }
    }
}

impl Tables {
    /// Puts `entry` (or its absence) at `seq`.
    pub(crate) fn set(&mut self, seq: i64, entry: Option<Entry>) -> Result<(), IndexError> {
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
        let hot = entry.as_ref().map(Hot::of);
        let (was, is) = (self.hot[i].map(|h| h.listed_at), hot.map(|h| h.listed_at));
        if self.loading {
            if was.is_none() && is.is_some() {
                self.listed.push(place);
            }
        } else if was != is {
            let hot = &self.hot;
            let key = |p: &u32| (hot[*p as usize].map_or(i64::MIN, |h| h.listed_at), *p);
            if let Some(l) = was {
                if let Ok(at) = self.listed.binary_search_by(|p| key(p).cmp(&(l, place))) {
                    self.listed.remove(at);
                }
            }
            if let Some(l) = is {
                // New programs are listed last: a push, nearly always.
                let at = self.listed.partition_point(|p| key(p) < (l, place));
                self.listed.insert(at, place);
            }
        }
        bits::put(&mut self.mirrored, i, entry.as_ref().is_some_and(|e| e.mirrored));
        for &s in self.entries[i].iter().flat_map(|e| e.audience_stations.iter()) {
            if let Some(named) = self.named.get_mut(s as usize) {
                bits::put(named, i, false);
            }
        }
        for &s in entry.iter().flat_map(|e| e.audience_stations.iter()) {
            let s = s as usize;
            if self.named.len() <= s {
                self.named.resize(s + 1, Vec::new());
            }
            bits::put(&mut self.named[s], i, true);
        }
        let was = self.entries[i].as_ref().zip(self.hot[i].as_ref());
        self.values.update(i, was, entry.as_ref().zip(hot.as_ref()));
        self.hot[i] = hot;
        self.entries[i] = entry;
        Ok(())
    }

    /// Ends a load: puts [`Tables::listed`] in order, which every write
    /// after keeps.
    pub(crate) fn loaded(&mut self) {
        let hot = &self.hot;
        self.listed
            .sort_unstable_by_key(|p| (hot[*p as usize].map_or(i64::MIN, |h| h.listed_at), *p));
        self.loading = false;
    }

    /// The places whose audience names `station`, as bits (see
    /// [`Tables::named`]).
    pub fn named_bits(&self, station: NameId) -> &[u64] {
        self.named.get(station as usize).map_or(&[], |bits| &bits[..])
    }

    /// Whether the program at `at` is mirrored from a peer.
    pub fn is_mirrored(&self, at: usize) -> bool {
        bits::has(&self.mirrored, at)
    }
}

#[derive(Debug, Default)]
pub struct SearchIndex {
    tables: RwLock<Tables>,
    matches: Mutex<MatchCache>,
    /// The catalog's count of finished writes, once [`SearchIndex::follow`]
    /// gave it: match sets are then mended after writes instead of dropped.
    writes_done: OnceLock<Arc<AtomicU64>>,
    /// Match sets read whole from the full-text index (not from the cache,
    /// nor mended).
    whole_reads: AtomicU64,
}

/// The rowids an FTS5 expression matched, ascending (see [`MatchSet`]).
pub type Matched = Arc<MatchSet>;

/// The rowids an FTS5 expression matched, ascending, and, when they are
/// more than one place in 32 (where bits take no more room than the
/// rowids), the same as bits.
/// As `u32`: the index's places are (see [`Tables::set`]), and a match set of
/// a common word at a million programs is 800 KB instead of 1.6 MB (and
/// 125 KB more as bits).
#[derive(Debug, PartialEq, Eq)]
pub struct MatchSet {
    ids: Box<[u32]>,
    bits: Option<Box<[u64]>>,
}

impl MatchSet {
    /// The places, as bits (a word past the end has none): kept for a
    /// dense set, made for a sparse one.
    pub fn bits(&self) -> std::borrow::Cow<'_, [u64]> {
        match &self.bits {
            Some(b) => std::borrow::Cow::Borrowed(b),
            None => std::borrow::Cow::Owned(bits::of_ids(&self.ids).into_vec()),
        }
    }

    /// What the set holds, in units of 4 bytes.
    fn size(&self) -> usize {
        self.ids.len() + 2 * self.bits.as_ref().map_or(0, |b| b.len())
    }
}

impl std::ops::Deref for MatchSet {
    type Target = [u32];
    fn deref(&self) -> &[u32] {
        &self.ids
    }
}

/// A match set of ascending `ids`.
pub fn matched(ids: Vec<u32>) -> Matched {
    let dense = ids
        .last()
        .is_some_and(|&last| ids.len().saturating_mul(32) > last as usize);
    Arc::new(MatchSet {
        bits: dense.then(|| bits::of_ids(&ids)),
        ids: ids.into_boxed_slice(),
    })
}

/// Full-text queries whose match sets are kept.
const CACHED_QUERIES: usize = 64;
/// Rowids kept over all of them, with their bits (in units of 4 bytes:
/// 8 MiB), so a few common words of a large catalog cannot grow memory
/// without bound.
const CACHED_ROWIDS: usize = 2 << 20;
/// Programs written that a kept set can be mended for; a set further
/// behind is read again whole. Mending costs one full-text lookup per
/// program, a few microseconds: far less than reading a common word's
/// hundreds of thousands of rowids again.
const WRITE_LOG: usize = 4096;

/// The match sets of the last full-text queries, each with the version of
/// the full-text index it was read from (FTS5's structure record, rewritten
/// by every transaction that changes the index).
///
/// Without the catalog's write count ([`SearchIndex::follow`]), a set is only
/// ever handed out for the very index it came from: a write anywhere in the
/// catalog's text makes the old sets unreachable (they age out). With it,
/// every program the index is refreshed at goes into a log, tagged with the
/// write under way; a set read before a write is mended by asking the
/// full-text index again about only the programs logged since (see
/// [`SearchIndex::matching`]). On a hub that writes every few seconds, a
/// common word then stays as cheap as when nothing writes.
#[derive(Debug, Default)]
pub struct MatchCache {
    /// Newest last.
    sets: VecDeque<Kept>,
    rowids: usize,
    /// The programs refreshed, oldest first, each with the number of writes
    /// done when its write began (its write is the next one).
    log: VecDeque<(u32, u64)>,
    /// The position (counted since start) of the log's first item.
    log_start: u64,
    /// The tag of the last item dropped from the log's front, if any.
    dropped_began: Option<u64>,
}

#[derive(Debug)]
struct Kept {
    expr: Box<str>,
    /// The full-text index's version when the set was last read or mended.
    version: Box<[u8]>,
    /// The first position of the log not yet known to be in the set (every
    /// position from here on is asked again when the version moves).
    at: u64,
    ids: Matched,
}

/// What [`MatchCache::get`] found.
enum Found {
    Hit(Matched),
    /// A set to mend: the programs logged from position `from` to `end`,
    /// when `done` writes were finished.
    Stale {
        ids: Matched,
        written: Vec<u32>,
        from: u64,
        end: u64,
        done: u64,
    },
    Miss,
}

impl MatchCache {
    /// The set `expr` matched in the index at `version`, if kept; else,
    /// following the catalog's writes (`done` of them finished), what
    /// mending it takes.
    fn get(&mut self, expr: &str, version: &[u8], done: Option<u64>) -> Found {
        let Some(k) = self
            .sets
            .iter()
            .position(|k| &*k.expr == expr)
            .and_then(|i| self.sets.remove(i))
        else {
            return Found::Miss;
        };
        if &*k.version == version {
            let ids = k.ids.clone();
            self.sets.push_back(k);
            return Found::Hit(ids);
        }
        let mut written: Vec<u32> = match done {
            Some(_) if k.at >= self.log_start => self
                .log
                .range((k.at - self.log_start) as usize..)
                .map(|w| w.0)
                .collect(),
            _ => Vec::new(),
        };
        // The text changed, yet no program was logged: written by another
        // process (the command line), which only a whole read sees.
        let (Some(done), false) = (done, written.is_empty()) else {
            self.rowids -= k.ids.size();
            return Found::Miss;
        };
        written.sort_unstable();
        written.dedup();
        let (ids, from, end) = (k.ids.clone(), k.at, self.log_end());
        self.sets.push_back(k);
        Found::Stale {
            ids,
            written,
            from,
            end,
            done,
        }
    }

    fn log_end(&self) -> u64 {
        self.log_start + self.log.len() as u64
    }

    /// The first position of the log from `from` on whose write was not
    /// yet done when `done` writes were, or `end` if none is before it.
    /// `from` itself when the log no longer holds it (so that the set it
    /// is for is read again whole).
    fn first_pending(&self, from: u64, end: u64, done: u64) -> u64 {
        if from < self.log_start {
            return from;
        }
        let skip = (from - self.log_start) as usize;
        self.log
            .range(skip.min(self.log.len())..)
            .position(|&(_, began)| began >= done)
            .map_or(end, |p| from + p as u64)
            .min(end)
    }

    fn put(&mut self, expr: &str, version: &[u8], at: u64, ids: Matched) {
        self.sets.retain(|k| &*k.expr != expr);
        self.rowids = self.sets.iter().map(|k| k.ids.size()).sum();
        if ids.size() > CACHED_ROWIDS / 4 {
            return;
        }
        while self.sets.len() >= CACHED_QUERIES || self.rowids + ids.size() > CACHED_ROWIDS {
            let Some(old) = self.sets.pop_front() else {
                break;
            };
            self.rowids -= old.ids.size();
        }
        self.rowids += ids.size();
        self.sets.push_back(Kept {
            expr: expr.into(),
            version: version.into(),
            at,
            ids,
        });
    }

    /// Logs that program `seq` was refreshed by the write that began after
    /// `done` writes.
    fn written(&mut self, seq: u32, done: u64) {
        self.log.push_back((seq, done));
        while self.log.len() > WRITE_LOG {
            if let Some((_, began)) = self.log.pop_front() {
                self.dropped_began = Some(began);
            }
            self.log_start += 1;
        }
    }

    /// Where a set read whole after `done` writes were done starts in the
    /// log: at its first program written by a write not yet done then. When
    /// such a program may already have left the log (a write of thousands
    /// of programs while the set was read), below the log's start, so that
    /// the set is read whole again once the text moves.
    fn whole_read_at(&self, done: u64) -> u64 {
        // Tags never decrease: the last one dropped is the largest dropped.
        if self.dropped_began.is_some_and(|began| began >= done) {
            return self.log_start - 1;
        }
        self.first_pending(self.log_start, self.log_end(), done)
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
    Ok(matched(ids))
}

/// `ids` with each of `written` (ascending) in or out as the full-text index
/// now says it matches `expr`.
fn mend(conn: &Connection, expr: &str, ids: &[u32], written: &[u32]) -> rusqlite::Result<Matched> {
    let mut stmt = conn.prepare_cached("SELECT 1 FROM program_fts WHERE program_fts MATCH ?1 AND rowid = ?2")?;
    let mut now_in = Vec::with_capacity(written.len());
    for &seq in written {
        if stmt.exists(rusqlite::params![expr, seq])? {
            now_in.push(seq);
        }
    }
    // Merge: the kept ids but the written ones, and the written ones that match.
    let mut out = Vec::with_capacity(ids.len() + now_in.len());
    let (mut w, mut n) = (written.iter().peekable(), now_in.iter().peekable());
    for &id in ids {
        while let Some(&&x) = n.peek() {
            if x >= id {
                break;
            }
            out.push(x);
            n.next();
        }
        while w.next_if(|&&x| x < id).is_some() {}
        if w.peek() != Some(&&id) {
            out.push(id);
        }
    }
    out.extend(n);
    out.dedup();
    Ok(matched(out))
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
        let mut t = Tables {
            loading: true,
            ..Tables::default()
        };
        let mut stmt = conn.prepare(SELECT)?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let (seq, entry) = read(r, &mut t)?.map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
            t.set(seq, Some(entry)).map_err(|e| match e {
                IndexError::Catalog(e) => e,
                IndexError::TooManyNames(e) => rusqlite::Error::ToSqlConversionFailure(Box::new(e)),
            })?;
        }
        t.loaded();
        // What the catalog holds is always loaded; past the cap, only new
        // tags are refused.
        t.languages.cap = t.languages.cap.min(MAX_LANGUAGE_TAGS);
        Ok(Self {
            tables: RwLock::new(t),
            matches: Mutex::default(),
            writes_done: OnceLock::new(),
            whole_reads: AtomicU64::new(0),
        })
    }

    /// Has the index mend its kept match sets after writes to `catalog`
    /// instead of dropping them (see [`MatchCache`]): every write to the
    /// catalog's text must then be followed, in its own transaction, by
    /// [`SearchIndex::refresh`] at the programs it changed, as every write
    /// of the hub's is.
    pub fn follow(&self, catalog: &super::Catalog) {
        let _ = self.writes_done.set(catalog.writes_done());
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
        t.set(seq, entry)?;
        if let (Some(done), Ok(seq)) = (self.writes_done.get(), u32::try_from(seq)) {
            // Under way: the write after the `done`th.
            let done = done.load(Ordering::Acquire);
            self.matches
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .written(seq, done);
        }
        Ok(())
    }

    /// The rowids of the programs whose folded text matches the FTS5
    /// expression `expr`, ascending: from the cache while the full-text index
    /// is the one they were read from (or, following the catalog's writes,
    /// mended for the programs written since), else from SQLite.
    pub fn matching(&self, conn: &Connection, expr: &str) -> rusqlite::Result<Matched> {
        // Inside a transaction, FTS5 answers with its pending changes while
        // the structure record still names the last commit: no caching there.
        if !conn.is_autocommit() {
            return fts_rowids(conn, expr);
        }
        let cache = || self.matches.lock().unwrap_or_else(|e| e.into_inner());
        // In this order: the version, then the writes done, then the log,
        // then the full-text index. A write that changes the text after the
        // version was read moves the version again, so the set is looked
        // at again next time; a write done before the count was read is
        // seen by the statements below; one still under way stays in the
        // log, to be asked about again.
        let version = fts_version(conn)?;
        let done = self.writes_done.get().map(|d| d.load(Ordering::Acquire));
        let found = cache().get(expr, &version, done);
        match found {
            Found::Hit(ids) => Ok(ids),
            Found::Stale {
                ids,
                written,
                from,
                end,
                done,
            } => {
                let ids = mend(conn, expr, &ids, &written)?;
                let mut c = cache();
                // Written by a write not yet done: asked about again.
                let at = c.first_pending(from, end, done);
                c.put(expr, &version, at, ids.clone());
                Ok(ids)
            }
            Found::Miss => {
                self.whole_reads.fetch_add(1, Ordering::Relaxed);
                let ids = fts_rowids(conn, expr)?;
                match done {
                    Some(done) => {
                        // Whatever was logged by a write done before the count
                        // was read is in `ids`; what a write still under way
                        // logged (before or since) may not be.
                        let mut c = cache();
                        let at = c.whole_read_at(done);
                        c.put(expr, &version, at, ids.clone());
                    }
                    // Each statement reads the latest commit: the set belongs to
                    // `version` only if no commit came between the two reads (the
                    // structure record never returns to an earlier state).
                    None => {
                        if fts_version(conn)? == version {
                            cache().put(expr, &version, 0, ids.clone());
                        }
                    }
                }
                Ok(ids)
            }
        }
    }

    /// How many match sets were read whole from the full-text index.
    pub fn whole_reads(&self) -> u64 {
        self.whole_reads.load(Ordering::Relaxed)
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

    mod mending {
        use super::*;
        use crate::catalog::{programs, stations, Catalog};
        use crate::domain::{ProgramId, ProgramMetadata, Station, StationId, StationKind};
        use rand::{Rng, SeedableRng};

        const WORDS: [&str; 6] = ["Bản tin", "Thời sự", "Bản làng", "Tin sáng", "Sáng tác", "Làng nghề"];
        const EXPRS: [&str; 6] = [
            "\"ban\"*",
            "\"tin\"*",
            "\"sang\"*",
            "\"ban\"* \"tin\"*",
            "title : (\"lang\"*)",
            "\"thoi\" \"su\"",
        ];

        fn meta(title: &str) -> ProgramMetadata {
            let input = serde_json::json!({"title": title, "kind": "radio", "genre": "news", "languages": ["vi"],
                "summary": "Chương trình phát thanh"});
            ProgramMetadata::parse(serde_json::from_value(input).unwrap()).unwrap()
        }

        fn station() -> StationId {
            StationId::parse("thai-nguyen").unwrap()
        }

        /// A catalog of `n` programs titled from [`WORDS`], its index
        /// following its writes, and the catalog's file.
        fn catalog(dir: &std::path::Path, n: usize) -> (Catalog, SearchIndex, std::path::PathBuf) {
            let path = dir.join("c.db");
            let c = Catalog::open(&path).unwrap();
            let index = c
                .write_blocking(|tx| {
                    let s = Station {
                        id: station(),
                        name: "Thái Nguyên".into(),
                        province: "Thái Nguyên".into(),
                        kind: StationKind::Provincial,
                    };
                    stations::insert(tx, &s)?;
                    for i in 0..n {
                        let m = meta(WORDS[i % WORDS.len()]);
                        programs::insert(tx, ProgramId::generate(), &station(), &m, crate::catalog::now())?;
                    }
                    SearchIndex::load(tx)
                })
                .unwrap();
            index.follow(&c);
            (c, index, path)
        }

        fn reader(path: &std::path::Path) -> Connection {
            Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap()
        }

        /// Each expression's set, as the index answers and as a whole read does.
        fn both(index: &SearchIndex, conn: &Connection) -> Vec<(Matched, Matched)> {
            EXPRS
                .iter()
                .map(|e| (index.matching(conn, e).unwrap(), fts_rowids(conn, e).unwrap()))
                .collect()
        }

        /// Writes in one transaction: `edits` programs inserted, retitled or
        /// deleted at random, each refreshed.
        fn write(c: &Catalog, index: &SearchIndex, rng: &mut rand::rngs::StdRng, edits: usize) {
            c.write_blocking(|tx| {
                for _ in 0..edits {
                    let seqs: Vec<i64> = tx
                        .prepare("SELECT seq FROM programs")?
                        .query_map([], |r| r.get(0))?
                        .collect::<Result<_, _>>()?;
                    let seq = seqs[rng.gen_range(0..seqs.len())];
                    let m = meta(WORDS[rng.gen_range(0..WORDS.len())]);
                    let seq = match rng.gen_range(0..4) {
                        0 => programs::insert(tx, ProgramId::generate(), &station(), &m, crate::catalog::now())?,
                        1 => {
                            programs::delete(tx, seq)?;
                            seq
                        }
                        _ => {
                            programs::update_metadata(tx, seq, &m, crate::catalog::now())?;
                            seq
                        }
                    };
                    index.refresh(tx, seq).map_err(|_| rusqlite::Error::InvalidQuery)?;
                }
                Ok::<_, rusqlite::Error>(())
            })
            .unwrap();
        }

        #[test]
        fn kept_sets_are_mended_after_writes_and_answer_as_a_whole_read() {
            let dir = tempfile::tempdir().unwrap();
            let (c, index, path) = catalog(dir.path(), 60);
            let conn = reader(&path);
            let mut rng = rand::rngs::StdRng::seed_from_u64(27);
            for (got, whole) in both(&index, &conn) {
                assert_eq!(got, whole);
                assert!(!got.is_empty());
            }
            assert_eq!(index.whole_reads(), EXPRS.len() as u64);
            for round in 0..150 {
                let edits = rng.gen_range(1..4);
                write(&c, &index, &mut rng, edits);
                for (i, (got, whole)) in both(&index, &conn).into_iter().enumerate() {
                    assert_eq!(got, whole, "{} after write {round}", EXPRS[i]);
                }
            }
            assert_eq!(
                index.whole_reads(),
                EXPRS.len() as u64,
                "every set was mended, none read again"
            );

            // Further behind than the log holds: read whole again, and right.
            for _ in 0..WRITE_LOG / 4 + 1 {
                write(&c, &index, &mut rng, 4);
            }
            for (got, whole) in both(&index, &conn) {
                assert_eq!(got, whole);
            }
            assert_eq!(index.whole_reads(), 2 * EXPRS.len() as u64);
        }

        #[test]
        fn a_write_still_under_way_is_asked_about_again() {
            let dir = tempfile::tempdir().unwrap();
            let (c, index, path) = catalog(dir.path(), 12);
            let conn = reader(&path);
            let ban = "\"ban\"*";
            let before = index.matching(&conn, ban).unwrap();
            let insert = |tx: &rusqlite::Transaction<'_>| {
                let seq = programs::insert(
                    tx,
                    ProgramId::generate(),
                    &station(),
                    &meta("Bản tin"),
                    crate::catalog::now(),
                )?;
                index.refresh(tx, seq).map_err(|_| rusqlite::Error::InvalidQuery)?;
                Ok::<_, rusqlite::Error>(seq)
            };
            // A committed write, then one under way when the set is mended:
            // the mend sees the first, not the second.
            let first = c.write_blocking(insert).unwrap();
            let (second, during) = c
                .write_blocking(|tx| {
                    let seq = insert(tx)?;
                    Ok::<_, rusqlite::Error>((seq, index.matching(&conn, ban).unwrap()))
                })
                .unwrap();
            assert!(during.contains(&(first as u32)) && !during.contains(&(second as u32)));
            assert_eq!(during.len(), before.len() + 1);
            let after = index.matching(&conn, ban).unwrap();
            assert!(after.contains(&(second as u32)), "the second write, done since, is in");
            assert_eq!(after, fts_rowids(&conn, ban).unwrap());

            // The same for a set first read while a write is under way.
            let tin = "\"tin\"*";
            let (third, during) = c
                .write_blocking(|tx| {
                    let seq = insert(tx)?;
                    Ok::<_, rusqlite::Error>((seq, index.matching(&conn, tin).unwrap()))
                })
                .unwrap();
            assert!(!during.contains(&(third as u32)));
            let after = index.matching(&conn, tin).unwrap();
            assert!(after.contains(&(third as u32)));
            assert_eq!(after, fts_rowids(&conn, tin).unwrap());
            assert_eq!(index.whole_reads(), 2, "both sets were mended after their first read");

            // A write rolled back is asked about and found absent.
            let err = c.write_blocking(|tx| {
                insert(tx)?;
                Err::<(), _>(rusqlite::Error::InvalidQuery)
            });
            assert!(err.is_err());
            let _ = c.write_blocking(insert).unwrap();
            assert_eq!(index.matching(&conn, ban).unwrap(), fts_rowids(&conn, ban).unwrap());
        }

        #[test]
        fn a_write_under_way_that_left_the_log_has_its_sets_read_whole() {
            let mut c = MatchCache::default();
            // Write 1 (begun after 0 done) logs a program; then write 2 logs
            // more than the log holds while a set is being read.
            c.written(7, 0);
            assert_eq!(
                c.whole_read_at(0),
                0,
                "write 1 is under way: its program is asked about again"
            );
            assert_eq!(c.whole_read_at(1), 1, "write 1 is done: nothing is pending");
            for seq in 0..=WRITE_LOG as u32 {
                c.written(seq, 1);
            }
            // Write 1's program and write 2's first are gone from the log.
            assert_eq!(c.log_start, 2);
            // Read while write 2 was under way (1 done): its dropped program
            // may be missing from the set, which is read whole next time.
            assert!(c.whole_read_at(1) < c.log_start);
            // Read once it was done: nothing pending.
            assert_eq!(c.whole_read_at(2), c.log_end());
            let ids: Matched = matched(vec![1, 2]);
            c.put("x", b"v1", c.whole_read_at(1), ids.clone());
            assert!(matches!(c.get("x", b"v2", Some(2)), Found::Miss));
        }

        #[test]
        fn text_written_by_another_process_is_read_whole() {
            let dir = tempfile::tempdir().unwrap();
            let (_catalog, index, path) = catalog(dir.path(), 12);
            let conn = reader(&path);
            let ban = "\"ban\"*";
            let before = index.matching(&conn, ban).unwrap();
            // Another process's write: the catalog's text changes, and this
            // index is never refreshed.
            let other = Catalog::open(&path).unwrap();
            other
                .write_blocking(|tx| {
                    programs::update_metadata(tx, i64::from(before[0]), &meta("Thời sự"), crate::catalog::now())
                })
                .unwrap();
            let after = index.matching(&conn, ban).unwrap();
            assert_eq!(after.len(), before.len() - 1);
            assert_eq!(index.whole_reads(), 2);
        }
    }
}
