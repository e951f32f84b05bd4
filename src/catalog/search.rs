//! The catalog search. SQLite's full-text index finds the programs that
//! have the words; the in-memory [`SearchIndex`] decides which of them the
//! viewer may see and the filters keep, counts the facets and picks the
//! page; SQLite then reads just the page's programs. Many matches are
//! answered by bits ([`by_bits`]: a cost that follows the catalog's size in
//! words); few, or filters and sorts only the full entries answer, by one
//! pass over the matches ([`visit`]). Both give the same answer.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rusqlite::Connection;

mod by_bits;

use super::bits;
use super::index::{Entry, Hot, Matched, NameId, Names, SearchIndex, Tables, MIRRORED, MORE_LANGUAGES, NO_LANGUAGE};
use super::programs::{self, Stored};
use super::to_micros;
use crate::domain::{Audience, Facets, Genre, OriginFilter, ProgramKind, ProgramStatus, SearchFilter, Sort, Viewer};

#[derive(Debug, Clone, Default)]
pub struct Filters {
    /// An FTS5 expression over folded words (see exchange::search).
    pub matching: Option<String>,
    pub filter: SearchFilter,
    /// Only what the viewer may download at this instant.
    pub available_at: Option<DateTime<Utc>>,
    /// Which statuses to list; others' programs only ever show when published.
    pub statuses: Vec<ProgramStatus>,
    /// Only what was listed (published) after this instant.
    pub published_after: Option<DateTime<Utc>>,
}

/// Where a page starts: after a row of the previous page (keyset), or, for
/// relevance, after a number of rows.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum Position {
    Offset { n: u64 },
    AfterInt { key: i64, seq: i64 },
    AfterText { key: String, seq: i64 },
}

#[derive(Debug)]
pub struct Page {
    pub items: Vec<Stored>,
    pub next: Option<Position>,
    pub total: u64,
    pub facets: Facets,
}

/// A station looking: its number in the index, whether it is a national
/// broadcaster, whether it is a peer hub.
#[derive(Clone, Copy)]
struct Me {
    station: Option<NameId>,
    national: bool,
    peer: bool,
}

/// The origin filter: any, this hub's own, or one peer's (`None`: a peer
/// the index has never seen, so nothing).
#[derive(Clone, Copy)]
enum OriginIs {
    Any,
    Local,
    Peer(Option<NameId>),
}

/// The filters, as ids of the index.
struct Resolved<'a> {
    f: &'a Filters,
    me: Option<Me>,
    origin: OriginIs,
    statuses: Vec<ProgramStatus>,
    stations: Option<Vec<NameId>>,
    languages: Option<Vec<NameId>>,
    available_at: Option<i64>,
    /// The instant "available now" counts at.
    now: i64,
    aired_from: Option<i64>,
    aired_to: Option<i64>,
    listed_after: Option<i64>,
    /// Whether a filter reads what only the entry holds.
    cold_filters: bool,
    /// The places whose audience names the viewer's station, as bits.
    named: &'a [u64],
}

impl<'a> Resolved<'a> {
    fn new(t: &'a Tables, viewer: &Viewer, f: &'a Filters) -> Self {
        let ids = |names: &mut dyn Iterator<Item = Option<NameId>>| names.flatten().collect::<Vec<NameId>>();
        let station = match viewer {
            Viewer::Admin => None,
            Viewer::Station { id, .. } | Viewer::Peer { id } => t.stations.get(id.as_str()),
        };
        Self {
            named: station.map_or(&[], |s| t.named_bits(s)),
            f,
            me: match viewer {
                Viewer::Admin => None,
                Viewer::Station { national, .. } => Some(Me {
                    station,
                    national: *national,
                    peer: false,
                }),
                Viewer::Peer { .. } => Some(Me {
                    station,
                    national: false,
                    peer: true,
                }),
            },
            origin: match &f.filter.origin {
                None => OriginIs::Any,
                Some(OriginFilter::Local) => OriginIs::Local,
                Some(OriginFilter::Peer(p)) => OriginIs::Peer(t.stations.get(p.as_str())),
            },
            statuses: if f.statuses.is_empty() {
                vec![ProgramStatus::Published]
            } else {
                f.statuses.clone()
            },
            stations: (!f.filter.stations.is_empty())
                .then(|| ids(&mut f.filter.stations.iter().map(|s| t.stations.get(s.as_str())))),
            languages: (!f.filter.languages.is_empty())
                .then(|| ids(&mut f.filter.languages.iter().map(|l| t.languages.get(l.as_str())))),
            available_at: f.available_at.map(to_micros),
            now: to_micros(f.available_at.unwrap_or_else(chrono::Utc::now)),
            aired_from: f.filter.aired_from.map(to_micros),
            aired_to: f.filter.aired_to.map(to_micros),
            listed_after: f.published_after.map(to_micros),
            cold_filters: f.filter.aired_from.is_some()
                || f.filter.aired_to.is_some()
                || f.filter.min_duration.is_some()
                || f.filter.max_duration.is_some()
                || f.filter.has_video.is_some()
                || !f.filter.codecs.is_empty(),
        }
    }

    /// Which programs are turned away by their origin alone, whatever else
    /// they are: `Some(true)` the mirrored ones (`origin=local`, or a peer
    /// looking: it never sees what this hub mirrors), `Some(false)` this
    /// hub's own (`origin=<peer>`), `None` neither.
    fn skips_mirrored(&self) -> Option<bool> {
        match (self.origin, self.me) {
            (OriginIs::Local, _) | (_, Some(Me { peer: true, .. })) => Some(true),
            (OriginIs::Peer(_), _) => Some(false),
            (OriginIs::Any, _) => None,
        }
    }

    /// Whether a kept program passes the "available now" filter (what that
    /// filter keeps: the viewer's own, and others' with an open window; the
    /// operator's view has no such filter).
    fn available_now(&self, h: &Hot) -> bool {
        match self.me {
            None => true,
            Some(me) => (!me.peer && me.station == Some(h.station) && h.flags & MIRRORED == 0) || open(h, self.now),
        }
    }

    /// The rights rule of `exchange::rights`, and the filters.
    fn keeps(&self, h: &Hot, e: Cold<'_>) -> bool {
        self.visible(h, e) && self.filters_keep(h, e)
    }

    /// The rights rule, with the statuses asked for.
    fn visible(&self, h: &Hot, e: Cold<'_>) -> bool {
        if !self.statuses.contains(&h.status) {
            return false;
        }
        let Some(Me {
            station: me,
            national,
            peer,
        }) = self.me
        else {
            return true;
        };
        if peer {
            let shared = h.audience == Audience::All && h.flags & MIRRORED == 0;
            return h.status == ProgramStatus::Published && shared && self.available_at.is_none_or(|at| open(h, at));
        }
        if me == Some(h.station) {
            return true;
        }
        let audience = match h.audience {
            Audience::Cluster | Audience::All => true,
            Audience::National => national,
            // Empty bits for a station the index has no number for.
            Audience::Stations => bits::has(self.named, e.at),
        };
        h.status == ProgramStatus::Published && audience && self.available_at.is_none_or(|at| open(h, at))
    }

    fn filters_keep(&self, h: &Hot, e: Cold<'_>) -> bool {
        let f = &self.f.filter;
        let mirrored = h.flags & MIRRORED != 0;
        let origin = match self.origin {
            OriginIs::Any => true,
            OriginIs::Local => !mirrored,
            OriginIs::Peer(p) => mirrored && p == Some(h.station),
        };
        let hot = origin
            && self.listed_after.is_none_or(|t| h.listed_at > t)
            && self.stations.as_ref().is_none_or(|s| s.contains(&h.station))
            && (f.kinds.is_empty() || f.kinds.contains(&h.kind))
            && (f.genres.is_empty() || f.genres.contains(&h.genre))
            && self
                .languages
                .as_ref()
                .is_none_or(|ls| languages(h, e).iter().any(|l| ls.contains(l)));
        if !hot || !self.cold_filters {
            return hot;
        }
        let Some(e) = e.get() else {
            return false;
        };
        self.aired_from
            .is_none_or(|t| e.aired != super::index::NEVER_AIRED && e.aired >= t)
            && self
                .aired_to
                .is_none_or(|t| e.aired != super::index::NEVER_AIRED && e.aired <= t)
            && f.min_duration.is_none_or(|d| e.duration.is_some_and(|x| x >= d))
            && f.max_duration.is_none_or(|d| e.duration.is_some_and(|x| x <= d))
            && f.has_video.is_none_or(|v| e.has_video == v)
            && (f.codecs.is_empty() || e.codecs.iter().any(|c| f.codecs.iter().any(|w| **c == **w)))
    }
}

/// Where a program's full entry is, read only when a filter, a count or a
/// key needs what [`Hot`] does not hold.
#[derive(Clone, Copy)]
struct Cold<'t> {
    entries: &'t [Option<Entry>],
    at: usize,
}

impl<'t> Cold<'t> {
    /// Not inlined: a reference the compiler could read ahead of the branch
    /// that needs it would bring every program's entry into the cache.
    #[inline(never)]
    fn get(self) -> Option<&'t Entry> {
        self.entries.get(self.at)?.as_ref()
    }
}

/// A program's languages.
fn languages<'t>(h: &'t Hot, e: Cold<'t>) -> &'t [NameId] {
    if h.flags & MORE_LANGUAGES != 0 {
        e.get().map_or(&[], |e| &e.languages)
    } else {
        let n = h.languages.iter().position(|l| *l == NO_LANGUAGE).unwrap_or(2);
        &h.languages[..n]
    }
}

/// Whether the program's window (if it has one) is open at `at`.
fn open(h: &Hot, at: i64) -> bool {
    h.from <= at && at < h.until
}

/// A sort key; the order is given by the sort.
#[derive(Debug, Clone, Copy)]
enum Key<'a> {
    /// Newest, aired: larger first.
    Desc(i64),
    /// Title: smaller first.
    Text(&'a str),
    /// Relevance: title matches first, then the newest.
    Tiered(u8, i64),
}

fn order(a: &(Key<'_>, i64), b: &(Key<'_>, i64)) -> Ordering {
    match (a.0, b.0) {
        (Key::Desc(x), Key::Desc(y)) => y.cmp(&x).then(b.1.cmp(&a.1)),
        (Key::Text(x), Key::Text(y)) => x.cmp(y).then(a.1.cmp(&b.1)),
        (Key::Tiered(t, x), Key::Tiered(u, y)) => t.cmp(&u).then(y.cmp(&x)).then(b.1.cmp(&a.1)),
        _ => Ordering::Equal,
    }
}

/// Whether `k` comes after the cursor `from`.
fn after(k: &(Key<'_>, i64), from: &Position) -> bool {
    match (k.0, from) {
        (Key::Desc(x), Position::AfterInt { key, seq }) => x < *key || (x == *key && k.1 < *seq),
        (Key::Text(x), Position::AfterText { key, seq }) => x > key.as_str() || (x == key.as_str() && k.1 > *seq),
        _ => true,
    }
}

struct Counts {
    station: Vec<u64>,
    /// This hub's own programs, and by peer (numbered as stations).
    local: u64,
    peer: Vec<u64>,
    kind: [u64; 2],
    genre: [u64; 12],
    language: Vec<u64>,
    available_now: u64,
}

impl Counts {
    fn new(t: &Tables) -> Self {
        Self {
            station: vec![0; t.stations.len()],
            local: 0,
            peer: vec![0; t.stations.len()],
            kind: [0; 2],
            genre: [0; 12],
            language: vec![0; t.languages.len()],
            available_now: 0,
        }
    }

    fn add(&mut self, h: &Hot, e: Cold<'_>) {
        // Names the index gave are below the table's length; a count of a
        // number it never gave is dropped (`get_mut`), never a panic.
        if let Some(n) = self.station.get_mut(h.station as usize) {
            *n += 1;
        }
        if h.flags & MIRRORED == 0 {
            self.local += 1;
        } else if let Some(n) = self.peer.get_mut(h.station as usize) {
            *n += 1;
        }
        // The enums' variants are in the order of their ALL lists.
        if let Some(n) = self.kind.get_mut(h.kind as usize) {
            *n += 1;
        }
        if let Some(n) = self.genre.get_mut(h.genre as usize) {
            *n += 1;
        }
        for l in languages(h, e) {
            if let Some(n) = self.language.get_mut(*l as usize) {
                *n += 1;
            }
        }
    }

    fn facets(&self, t: &Tables) -> Facets {
        let of =
            |names: &Names, i: usize| NameId::try_from(i).map_or_else(|_| String::new(), |i| names.name(i).to_owned());
        let named = |counts: &[u64], name: &dyn Fn(usize) -> String| -> BTreeMap<String, u64> {
            counts
                .iter()
                .enumerate()
                .filter(|(_, n)| **n > 0)
                .map(|(i, n)| (name(i), *n))
                .collect()
        };
        Facets {
            station: named(&self.station, &|i| of(&t.stations, i)),
            kind: named(&self.kind, &|i| ProgramKind::ALL[i].as_str().to_owned()),
            genre: named(&self.genre, &|i| Genre::ALL[i].as_str().to_owned()),
            language: named(&self.language, &|i| of(&t.languages, i)),
            origin: {
                let mut o = named(&self.peer, &|i| of(&t.stations, i));
                if self.local > 0 {
                    o.insert("local".to_owned(), self.local);
                }
                o
            },
            available_now: self.available_now,
        }
    }
}

/// The first `want` keys, in order, of all those offered, without keeping
/// or sorting them all: a key that comes after the worst of a full set is
/// turned away with one comparison.
struct Best<'a> {
    want: usize,
    keys: Vec<(Key<'a>, i64)>,
    worst: Option<(Key<'a>, i64)>,
}

impl<'a> Best<'a> {
    fn new(want: usize) -> Self {
        Self {
            want: want.max(1),
            keys: Vec::new(),
            worst: None,
        }
    }

    fn offer(&mut self, k: (Key<'a>, i64)) {
        if self.worst.is_some_and(|w| order(&k, &w) != Ordering::Less) {
            return;
        }
        self.keys.push(k);
        if self.keys.len() >= self.want.saturating_mul(2).max(64) {
            self.trim();
        }
    }

    fn trim(&mut self) {
        if self.keys.len() > self.want {
            self.keys.select_nth_unstable_by(self.want - 1, order);
            self.keys.truncate(self.want);
            self.worst = self.keys.last().copied();
        }
    }

    fn sorted(mut self) -> Vec<(Key<'a>, i64)> {
        self.trim();
        self.keys.sort_unstable_by(order);
        self.keys
    }
}

/// Whether the ascending `ids` hold `s`. The pass asks for descending
/// rowids, so each look walks down from where the last one stopped (`at`):
/// a step or two instead of a binary search's dozen dependent reads. Asked
/// out of that order, it searches.
fn has_walking(ids: &[u32], at: &std::cell::Cell<usize>, s: u32) -> bool {
    let mut i = at.get().min(ids.len());
    if ids.get(i).is_some_and(|&above| above <= s) {
        // Not below the last one asked: the walk says nothing about `s`.
        return ids.binary_search(&s).is_ok();
    }
    // Everything from `i` on is above `s`.
    while i > 0 && ids[i - 1] > s {
        i -= 1;
    }
    at.set(i);
    i > 0 && ids[i - 1] == s
}

/// How the page is ordered and where it starts.
struct Paging<'p> {
    sort: Sort,
    /// With relevance: the programs whose title has the words.
    in_title: Option<Matched>,
    /// Where the last look into `in_title` stopped (see [`has_walking`]).
    title_at: std::cell::Cell<usize>,
    from: Option<&'p Position>,
    offset: usize,
    limit: usize,
}

impl Paging<'_> {
    fn key<'t>(&self, h: &Hot, e: Cold<'t>, seq: i64) -> Key<'t> {
        match (self.sort, &self.in_title) {
            (Sort::Relevance, Some(ids)) => Key::Tiered(
                u8::from(!u32::try_from(seq).is_ok_and(|s| has_walking(ids, &self.title_at, s))),
                h.listed_at,
            ),
            (Sort::Newest | Sort::Relevance, _) => Key::Desc(h.listed_at),
            (Sort::Aired, _) => Key::Desc(e.get().map_or(super::index::NEVER_AIRED, |e| e.aired)),
            (Sort::Title, _) => Key::Text(e.get().map_or("", |e| &e.title_key)),
        }
    }

    /// The page's rowids and the position after it, from the best keys, in order.
    fn page(&self, keys: Vec<(Key<'_>, i64)>) -> (Vec<i64>, Option<Position>) {
        let end = self.offset.saturating_add(self.limit);
        let more = keys.len() > end;
        let page: Vec<(Key<'_>, i64)> = keys.into_iter().skip(self.offset).take(self.limit).collect();
        let next = match (more, page.last()) {
            (true, Some(&(key, seq))) => Some(match key {
                Key::Tiered(..) => Position::Offset {
                    n: u64::try_from(end).unwrap_or(u64::MAX),
                },
                Key::Desc(k) => Position::AfterInt { key: k, seq },
                Key::Text(k) => Position::AfterText { key: k.to_owned(), seq },
            }),
            _ => None,
        };
        (page.into_iter().map(|(_, seq)| seq).collect(), next)
    }
}

/// What one pass over the candidates gathers.
struct Visit<'t, 'r> {
    r: &'r Resolved<'r>,
    paging: &'r Paging<'r>,
    counts: Counts,
    best: Best<'t>,
    total: u64,
}

impl<'t> Visit<'t, '_> {
    fn see(&mut self, seq: i64, h: &Hot, e: Cold<'t>) {
        if !self.r.keeps(h, e) {
            return;
        }
        self.total += 1;
        self.counts.add(h, e);
        self.counts.available_now += u64::from(self.r.available_now(h));
        let k = (self.paging.key(h, e, seq), seq);
        if self.paging.from.is_none_or(|p| after(&k, p)) {
            self.best.offer(k);
        }
    }
}

/// The total, the facets, the page's rowids and the next position, in one
/// pass over the matched programs (every program when `matched` is `None`).
fn visit(
    t: &Tables,
    r: &Resolved<'_>,
    matched: Option<&[u32]>,
    paging: &Paging<'_>,
) -> (u64, Facets, Vec<i64>, Option<Position>) {
    let mut v = Visit {
        r,
        paging,
        counts: Counts::new(t),
        best: Best::new(paging.offset.saturating_add(paging.limit).saturating_add(1)),
        total: 0,
    };
    // What the origin turns away is told by one bit, not its row.
    let skip = r.skips_mirrored();
    let wanted = |at: usize| skip.is_none_or(|m| t.is_mirrored(at) != m);
    // Newest first: the page of the commonest sorts fills at once, and
    // the rest mostly comes after its worst key (one comparison each).
    match matched {
        Some(ids) => {
            for &seq in ids.iter().rev().filter(|&&s| wanted(s as usize)) {
                let at = seq as usize;
                if let Some(Some(h)) = t.hot.get(at) {
                    v.see(
                        i64::from(seq),
                        h,
                        Cold {
                            entries: &t.entries,
                            at,
                        },
                    );
                }
            }
        }
        // Filtered by genre: only that genre's programs, newest first.
        None if !r.f.filter.genres.is_empty() => {
            let mut genres = vec![0u64; bits::words_for(t.hot.len())];
            for &g in &r.f.filter.genres {
                bits::or(&mut genres, &t.values.genre[g as usize]);
            }
            for at in bits::descending(&genres).filter(|&at| wanted(at)) {
                if let Some(Some(h)) = t.hot.get(at) {
                    v.see(
                        at as i64,
                        h,
                        Cold {
                            entries: &t.entries,
                            at,
                        },
                    );
                }
            }
        }
        None => {
            for (at, h) in t.hot.iter().enumerate().rev().filter(|(at, _)| wanted(*at)) {
                if let Some(h) = h {
                    v.see(
                        at as i64,
                        h,
                        Cold {
                            entries: &t.entries,
                            at,
                        },
                    );
                }
            }
        }
    }
    let (chosen, next) = paging.page(v.best.sorted());
    (v.total, v.counts.facets(t), chosen, next)
}

/// One page of what `viewer` may see of the programs matching `f`, with the
/// total and the facets of the whole match.
pub fn search(
    conn: &Connection,
    index: &SearchIndex,
    viewer: &Viewer,
    f: &Filters,
    sort: Sort,
    from: Option<&Position>,
    limit: usize,
) -> rusqlite::Result<Page> {
    let matched = f.matching.as_deref().map(|m| index.matching(conn, m)).transpose()?;
    let sort = if sort == Sort::Relevance && matched.is_none() {
        Sort::Newest
    } else {
        sort
    };
    let in_title = match (&f.matching, sort) {
        (Some(m), Sort::Relevance) => Some(index.matching(conn, &format!("title : ({m})"))?),
        _ => None,
    };
    // A cursor's offset is checked where it is opened; here it only must
    // not overflow (past the end, the page is empty).
    let offset = match from {
        // Relevance's cursors, and any sort's numbered pages.
        Some(Position::Offset { n }) => usize::try_from(*n).unwrap_or(usize::MAX),
        _ => 0,
    };
    let paging = Paging {
        sort,
        in_title,
        title_at: std::cell::Cell::new(usize::MAX),
        from,
        offset,
        limit,
    };
    let (total, facets, chosen, next) = index.with(|t| {
        let r = Resolved::new(t, viewer, f);
        // By bits when the matches are more than one place in 32: below
        // that, visiting each match costs less than a pass over the words.
        let many = matched.as_ref().map_or(t.hot.len(), |m| m.len()) >= 2 * bits::words_for(t.hot.len());
        many.then(|| by_bits::answer(t, &r, matched.as_deref(), &paging))
            .flatten()
            .unwrap_or_else(|| visit(t, &r, matched.as_deref().map(|m| &**m), &paging))
    });
    let items = programs::get_many(conn, &chosen)?;
    Ok(Page {
        items,
        next,
        total,
        facets,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{programs, stations, Catalog};
    use crate::domain::OriginFilter;
    use crate::domain::{LanguageTag, ProgramId, ProgramMetadata, Station, StationId, StationKind};

    /// A catalog with `n` drafts titled "Bản tin", and its index.
    fn catalog(dir: &std::path::Path, n: usize) -> (Catalog, SearchIndex) {
        let c = Catalog::open(&dir.join("c.db")).unwrap();
        let index = c
            .write_blocking(|tx| {
                let id = StationId::parse("thai-nguyen").unwrap();
                stations::insert(
                    tx,
                    &Station {
                        id: id.clone(),
                        name: "Thái Nguyên".into(),
                        province: "Thái Nguyên".into(),
                        kind: StationKind::Provincial,
                    },
                )?;
                let input = serde_json::from_value(serde_json::json!({
                    "title": "Bản tin", "kind": "radio", "genre": "news", "languages": ["vi"]
                }))
                .unwrap();
                let meta = ProgramMetadata::parse(input).unwrap();
                for _ in 0..n {
                    programs::insert(tx, ProgramId::generate(), &id, &meta, crate::catalog::now())?;
                }
                SearchIndex::load(tx)
            })
            .unwrap();
        (c, index)
    }

    /// Runs `f` in a write and refreshes the index at the program it names.
    fn write_refreshed(
        c: &Catalog,
        index: &SearchIndex,
        f: &dyn Fn(&rusqlite::Transaction<'_>) -> rusqlite::Result<i64>,
    ) {
        c.write_blocking(|tx| {
            let seq = f(tx)?;
            index.refresh(tx, seq).map_err(|_| rusqlite::Error::InvalidQuery)
        })
        .unwrap()
    }

    /// The total and the page's places of `viewer`'s search `f`, newest first.
    fn found(c: &Catalog, index: &SearchIndex, viewer: &Viewer, f: &Filters) -> (u64, Vec<i64>) {
        let page = c
            .write_blocking(|tx| search(tx, index, viewer, f, Sort::Newest, None, 10))
            .unwrap();
        (page.total, page.items.iter().map(|s| s.seq).collect())
    }

    /// The bits of the stations an audience names follow every write: a
    /// program shown to named stations is found by them alone, by others
    /// once an edit names those, by nobody once deleted; the bits always
    /// say what the entries say.
    #[test]
    fn named_bits_follow_every_write() {
        let dir = tempfile::tempdir().unwrap();
        let (c, index) = catalog(dir.path(), 1);
        let station = |id: &str| Station {
            id: StationId::parse(id).unwrap(),
            name: id.into(),
            province: String::new(),
            kind: StationKind::Provincial,
        };
        c.write_blocking(|tx| {
            stations::insert(tx, &station("cao-bang"))?;
            stations::insert(tx, &station("lang-son"))
        })
        .unwrap();
        let meta = |named: &[&str]| {
            let input = serde_json::json!({
                "title": "Bản tin", "kind": "radio", "genre": "news", "languages": ["vi"],
                "rights": {"audience": "stations", "stations": named}
            });
            ProgramMetadata::parse(serde_json::from_value(input).unwrap()).unwrap()
        };
        let write = |f: &dyn Fn(&rusqlite::Transaction<'_>) -> rusqlite::Result<i64>| write_refreshed(&c, &index, f);
        let find = |id: &str| {
            let viewer = Viewer::Station {
                id: StationId::parse(id).unwrap(),
                national: false,
            };
            let f = Filters {
                matching: Some("\"ban\"*".into()),
                ..Filters::default()
            };
            found(&c, &index, &viewer, &f)
        };
        let bits_match_entries = || {
            index.with(|t| {
                for (at, e) in t.entries.iter().enumerate() {
                    for s in 0..t.stations.len() as NameId {
                        let named = e.as_ref().is_some_and(|e| e.audience_stations.contains(&s));
                        let bit = bits::has(t.named_bits(s), at);
                        assert_eq!(bit, named, "place {at}, station {s}");
                    }
                }
            })
        };
        let owner = StationId::parse("thai-nguyen").unwrap();
        let now = crate::catalog::now();
        write(&|tx| {
            let seq = programs::insert(tx, ProgramId::generate(), &owner, &meta(&["cao-bang"]), now)?;
            programs::publish(tx, seq, now)?;
            Ok(seq)
        });
        bits_match_entries();
        assert_eq!(find("cao-bang"), (1, vec![2]));
        assert_eq!(find("lang-son"), (0, vec![]));
        write(&|tx| programs::update_metadata(tx, 2, &meta(&["lang-son"]), now).map(|()| 2));
        bits_match_entries();
        assert_eq!(find("cao-bang"), (0, vec![]));
        assert_eq!(find("lang-son"), (1, vec![2]));
        write(&|tx| programs::update_metadata(tx, 2, &meta(&["cao-bang", "lang-son"]), now).map(|()| 2));
        bits_match_entries();
        assert_eq!((find("cao-bang").0, find("lang-son").0), (1, 1));
        write(&|tx| programs::delete(tx, 2).map(|()| 2));
        bits_match_entries();
        assert_eq!((find("cao-bang").0, find("lang-son").0), (0, 0));
    }

    /// The walk through the title matches answers as a binary search does,
    /// in the pass's descending order and out of it.
    #[test]
    fn the_title_walk_answers_as_a_search_does() {
        let ids: Vec<u32> = vec![2, 3, 5, 8, 13, 21, 34];
        let asks: Vec<u32> = (0..40).rev().collect();
        let at = std::cell::Cell::new(usize::MAX);
        for &s in &asks {
            assert_eq!(has_walking(&ids, &at, s), ids.binary_search(&s).is_ok(), "{s} in order");
        }
        // Out of order: upwards, repeated, jumping about, and past the end.
        let at = std::cell::Cell::new(usize::MAX);
        for s in [13, 13, 14, 2, 34, 35, 0, 21, 8, 9, 40, 5, 1, 3] {
            assert_eq!(
                has_walking(&ids, &at, s),
                ids.binary_search(&s).is_ok(),
                "{s} out of order"
            );
        }
        assert!(!has_walking(&[], &std::cell::Cell::new(usize::MAX), 1));
    }

    #[test]
    fn enums_count_at_their_place_in_all() {
        // Counts index the facets' arrays with `as usize`.
        for (i, k) in ProgramKind::ALL.iter().enumerate() {
            assert_eq!(*k as usize, i);
        }
        for (i, g) in Genre::ALL.iter().enumerate() {
            assert_eq!(*g as usize, i);
        }
        assert_eq!((ProgramKind::ALL.len(), Genre::ALL.len()), (2, 12));
    }

    /// A search filtered by genre visits the places of each genre's bits,
    /// which inserts, edits and deletions keep equal to the hot rows' genres,
    /// as they keep the listing order.
    #[test]
    fn genre_bits_and_the_listing_follow_every_write() {
        let dir = tempfile::tempdir().unwrap();
        let (c, index) = catalog(dir.path(), 3);
        let meta = |genre: &str| {
            let input = serde_json::json!({"title": "Tin", "kind": "radio", "genre": genre, "languages": ["vi"]});
            ProgramMetadata::parse(serde_json::from_value(input).unwrap()).unwrap()
        };
        let station = StationId::parse("thai-nguyen").unwrap();
        let find = |genres: &[Genre]| {
            let f = Filters {
                filter: SearchFilter {
                    genres: genres.to_vec(),
                    ..SearchFilter::default()
                },
                statuses: vec![ProgramStatus::Draft],
                ..Filters::default()
            };
            found(&c, &index, &Viewer::Admin, &f)
        };
        let lists_match_rows = || {
            index.with(|t| {
                for (g, list) in t.values.genre.iter().enumerate() {
                    let rows: Vec<usize> = (0..t.hot.len())
                        .rev()
                        .filter(|&i| t.hot[i].is_some_and(|h| h.genre as usize == g))
                        .collect();
                    assert_eq!(bits::descending(list).collect::<Vec<_>>(), rows, "genre {g}");
                }
                let mut listed: Vec<u32> = (0..t.hot.len() as u32)
                    .filter(|&i| t.hot[i as usize].is_some())
                    .collect();
                listed.sort_by_key(|&i| (t.hot[i as usize].map(|h| h.listed_at), i));
                assert_eq!(t.listed, listed, "the listing order");
            })
        };
        let write = |f: &dyn Fn(&rusqlite::Transaction<'_>) -> rusqlite::Result<i64>| write_refreshed(&c, &index, f);
        lists_match_rows();
        write(&|tx| {
            programs::insert(
                tx,
                ProgramId::generate(),
                &station,
                &meta("culture"),
                crate::catalog::now(),
            )
        });
        lists_match_rows();
        assert_eq!(find(&[Genre::News]), (3, vec![3, 2, 1]));
        assert_eq!(find(&[Genre::Culture]), (1, vec![4]));
        assert_eq!(find(&[Genre::News, Genre::Culture, Genre::News]), (4, vec![4, 3, 2, 1]));
        write(&|tx| programs::update_metadata(tx, 1, &meta("culture"), crate::catalog::now()).map(|_| 1));
        write(&|tx| programs::delete(tx, 2).map(|()| 2));
        lists_match_rows();
        assert_eq!(find(&[Genre::Culture]), (2, vec![4, 1]));
        assert_eq!(find(&[Genre::News]), (1, vec![3]));
        assert_eq!(find(&[Genre::Health]), (0, vec![]));
    }

    /// A search kept to one origin, or a peer's, turns programs away by the
    /// index's mirrored bits; every write keeps them equal to the hot rows'
    /// flags, also where a deleted mirror's place is taken by this hub's own.
    #[test]
    fn origin_bits_follow_every_write() {
        let dir = tempfile::tempdir().unwrap();
        let (c, index) = catalog(dir.path(), 2);
        let peer = StationId::parse("cum-3").unwrap();
        let meta = |audience: &str| {
            let input = serde_json::json!({
                "title": "Bản tin", "kind": "radio", "genre": "news", "languages": ["vi"],
                "rights": {"audience": audience}
            });
            ProgramMetadata::parse(serde_json::from_value(input).unwrap()).unwrap()
        };
        let write = |f: &dyn Fn(&rusqlite::Transaction<'_>) -> rusqlite::Result<i64>| write_refreshed(&c, &index, f);
        let mirror = |tx: &rusqlite::Transaction<'_>| {
            let origin = crate::domain::Origin {
                peer: peer.clone(),
                station: "bac-ninh".into(),
                station_name: "Bắc Ninh".into(),
                program_id: ProgramId::generate().to_string(),
            };
            let now = crate::catalog::now();
            let seq = crate::catalog::peers::insert_mirror(tx, ProgramId::generate(), &origin, &meta("all"), now)?;
            programs::publish(tx, seq, now)?;
            Ok(seq)
        };
        let local = |tx: &rusqlite::Transaction<'_>| {
            let station = StationId::parse("thai-nguyen").unwrap();
            let now = crate::catalog::now();
            let seq = programs::insert(tx, ProgramId::generate(), &station, &meta("all"), now)?;
            programs::publish(tx, seq, now)?;
            Ok(seq)
        };
        let find = |viewer: &Viewer, origin: Option<OriginFilter>| {
            let f = Filters {
                matching: Some("\"ban\"*".into()),
                filter: SearchFilter {
                    origin,
                    ..SearchFilter::default()
                },
                statuses: vec![ProgramStatus::Draft, ProgramStatus::Published],
                ..Filters::default()
            };
            found(&c, &index, viewer, &f)
        };
        let bits_match_rows = || {
            index.with(|t| {
                for (at, h) in t.hot.iter().enumerate() {
                    let flag = h.is_some_and(|h| h.flags & MIRRORED != 0);
                    assert_eq!(t.is_mirrored(at), flag, "place {at}");
                }
            })
        };
        c.write_blocking(|tx| {
            let s = Station {
                id: peer.clone(),
                name: "Cụm 3".into(),
                province: String::new(),
                kind: StationKind::Peer,
            };
            stations::insert(tx, &s)
        })
        .unwrap();
        write(&mirror);
        write(&local);
        write(&mirror);
        bits_match_rows();
        let (admin, other_peer) = (
            Viewer::Admin,
            Viewer::Peer {
                id: StationId::parse("cum-4").unwrap(),
            },
        );
        let local_only = Some(OriginFilter::Local);
        let from_peer = Some(OriginFilter::Peer(peer.clone()));
        assert_eq!(find(&admin, None), (5, vec![5, 4, 3, 2, 1]));
        assert_eq!(find(&admin, local_only.clone()), (3, vec![4, 2, 1]));
        assert_eq!(find(&admin, from_peer.clone()), (2, vec![5, 3]));
        assert_eq!(find(&other_peer, None), (1, vec![4]), "a peer never sees a mirror");
        // The last mirror goes; this hub's next program takes its place.
        write(&|tx| programs::delete(tx, 5).map(|()| 5));
        bits_match_rows();
        write(&local);
        bits_match_rows();
        assert_eq!(find(&admin, local_only), (4, vec![5, 4, 2, 1]));
        assert_eq!(find(&admin, from_peer), (1, vec![3]));
        assert_eq!(find(&other_peer, None), (2, vec![5, 4]));
    }

    /// Languages past the two the hot row holds are counted and filtered on
    /// from the full entry.
    #[test]
    fn a_third_language_is_counted_and_found() {
        let dir = tempfile::tempdir().unwrap();
        let (c, _) = catalog(dir.path(), 1);
        let index = c
            .write_blocking(|tx| {
                let input = serde_json::json!({
                    "title": "Ba thứ tiếng", "kind": "radio", "genre": "news", "languages": ["vi", "tyz", "nut"]
                });
                let meta = ProgramMetadata::parse(serde_json::from_value(input).unwrap()).unwrap();
                let station = StationId::parse("thai-nguyen").unwrap();
                programs::insert(tx, ProgramId::generate(), &station, &meta, crate::catalog::now())?;
                SearchIndex::load(tx)
            })
            .unwrap();
        let find = |languages: &[&str]| {
            let f = Filters {
                filter: SearchFilter {
                    languages: languages.iter().map(|l| LanguageTag::parse(l).unwrap()).collect(),
                    ..SearchFilter::default()
                },
                statuses: vec![ProgramStatus::Draft],
                ..Filters::default()
            };
            c.write_blocking(|tx| search(tx, &index, &Viewer::Admin, &f, Sort::Newest, None, 10))
                .unwrap()
        };
        let all = find(&[]);
        assert_eq!(all.total, 2);
        let counts: Vec<(&str, u64)> = all.facets.language.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        assert_eq!(counts, [("nut", 1), ("tyz", 1), ("vi", 2)]);
        assert_eq!(find(&["nut"]).total, 1);
        assert_eq!(find(&["tyz"]).total, 1);
        assert_eq!(find(&["vi"]).total, 2);
    }

    /// Every write that changes the text is seen by the next search of the
    /// same words, though the match sets of repeated words are kept.
    #[tokio::test]
    async fn kept_match_sets_never_outlive_a_write() {
        let dir = tempfile::tempdir().unwrap();
        let (c, index) = catalog(dir.path(), 3);
        let index = std::sync::Arc::new(index);
        let total = |words: &'static str| {
            let (c, index) = (c.clone(), index.clone());
            async move {
                let f = Filters {
                    matching: Some(words.into()),
                    statuses: vec![ProgramStatus::Draft],
                    ..Filters::default()
                };
                c.read(move |conn| search(conn, &index, &Viewer::Admin, &f, Sort::Relevance, None, 10))
                    .await
                    .unwrap()
                    .total
            }
        };
        let meta = |title: &str| {
            let input = serde_json::json!({"title": title, "kind": "radio", "genre": "news", "languages": ["vi"]});
            ProgramMetadata::parse(serde_json::from_value(input).unwrap()).unwrap()
        };
        type Change = Box<dyn FnOnce(&rusqlite::Transaction<'_>) -> rusqlite::Result<i64> + Send>;
        let write = |f: Change| {
            let (c, index) = (c.clone(), index.clone());
            async move {
                c.write(move |tx| {
                    let seq = f(tx)?;
                    index.refresh(tx, seq).map_err(|_| rusqlite::Error::InvalidQuery)
                })
                .await
                .unwrap()
            }
        };
        assert_eq!((total("\"ban\"*").await, total("\"ban\"*").await), (3, 3));
        assert_eq!(total("\"thoi\"*").await, 0);
        let station = StationId::parse("thai-nguyen").unwrap();
        let m = meta("Bản tin sáng");
        write(Box::new(move |tx| {
            programs::insert(tx, ProgramId::generate(), &station, &m, crate::catalog::now())
        }))
        .await;
        assert_eq!(total("\"ban\"*").await, 4, "an insert");
        let m = meta("Thời sự");
        write(Box::new(move |tx| {
            programs::update_metadata(tx, 1, &m, crate::catalog::now())?;
            Ok(1)
        }))
        .await;
        assert_eq!((total("\"ban\"*").await, total("\"thoi\"*").await), (3, 1), "an edit");
        write(Box::new(|tx| programs::delete(tx, 2).map(|()| 2))).await;
        assert_eq!(total("\"ban\"*").await, 2, "a deletion");
        assert_eq!(total("\"ban\"*").await, 2);
    }

    #[test]
    fn any_offset_gives_a_page_and_never_overflows() {
        let dir = tempfile::tempdir().unwrap();
        let (c, index) = catalog(dir.path(), 3);
        let f = Filters {
            matching: Some("\"ban\"*".into()),
            statuses: vec![ProgramStatus::Draft],
            ..Filters::default()
        };
        let page = |n: u64, limit: usize| {
            c.write_blocking(|tx| {
                search(
                    tx,
                    &index,
                    &Viewer::Admin,
                    &f,
                    Sort::Relevance,
                    Some(&Position::Offset { n }),
                    limit,
                )
            })
            .unwrap()
        };
        let first = page(0, 2);
        assert_eq!((first.items.len(), first.total), (2, 3));
        assert_eq!(first.next, Some(Position::Offset { n: 2 }));
        for n in [3, 4, u64::from(u32::MAX), u64::MAX - 1, u64::MAX] {
            for limit in [1, 100, usize::MAX] {
                let p = page(n, limit);
                assert!(p.items.is_empty() && p.next.is_none(), "offset {n}, limit {limit}");
                assert_eq!(p.total, 3);
            }
        }
    }
}
