//! The catalog search. SQLite's full-text index finds the programs that
//! have the words; the in-memory [`SearchIndex`] decides, in one pass, which
//! of them the viewer may see and the filters keep, counts the facets and
//! picks the page; SQLite then reads just the page's programs.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rusqlite::Connection;

use super::index::{Entry, NameId, Names, SearchIndex, Tables};
use super::programs::{self, Stored};
use super::to_micros;
use crate::domain::{Audience, Facets, Genre, ProgramKind, ProgramStatus, SearchFilter, Sort, Viewer};

#[derive(Debug, Clone, Default)]
pub struct Filters {
    /// An FTS5 expression over folded words (see exchange::search).
    pub matching: Option<String>,
    pub filter: SearchFilter,
    /// Only what the viewer may download at this instant.
    pub available_at: Option<DateTime<Utc>>,
    /// Which statuses to list; others' programs only ever show when published.
    pub statuses: Vec<ProgramStatus>,
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

/// The rowids of the programs whose folded text matches `expr`, ascending.
fn fts_rowids(conn: &Connection, expr: &str) -> rusqlite::Result<Vec<i64>> {
    let mut ids: Vec<i64> = conn
        .prepare_cached("SELECT rowid FROM program_fts WHERE program_fts MATCH ?1")?
        .query_map([expr], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    ids.sort_unstable();
    Ok(ids)
}

/// The filters, as ids of the index.
struct Resolved<'a> {
    f: &'a Filters,
    me: Option<(Option<NameId>, bool)>,
    statuses: Vec<ProgramStatus>,
    stations: Option<Vec<NameId>>,
    languages: Option<Vec<NameId>>,
    available_at: Option<i64>,
    /// The instant "available now" counts at.
    now: i64,
    aired_from: Option<i64>,
    aired_to: Option<i64>,
}

impl<'a> Resolved<'a> {
    fn new(t: &Tables, viewer: &Viewer, f: &'a Filters) -> Self {
        let ids = |names: &mut dyn Iterator<Item = Option<NameId>>| names.flatten().collect::<Vec<NameId>>();
        Self {
            f,
            me: match viewer {
                Viewer::Admin => None,
                Viewer::Station { id, national } => Some((t.stations.get(id.as_str()), *national)),
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
        }
    }

    /// Whether a kept entry passes the "available now" filter (what that
    /// filter keeps: the viewer's own, and others' with an open window; the
    /// operator's view has no such filter).
    fn available_now(&self, e: &Entry) -> bool {
        match self.me {
            None => true,
            Some((me, _)) => me == Some(e.station) || open_at(e, self.now),
        }
    }

    /// The rights rule of `exchange::rights`, and the filters.
    fn keeps(&self, e: &Entry) -> bool {
        if !self.statuses.contains(&e.status) {
            return false;
        }
        if let Some((me, national)) = self.me {
            let own = me == Some(e.station);
            let audience = match e.audience {
                Audience::Cluster => true,
                Audience::National => national,
                Audience::Stations => me.is_some_and(|m| e.audience_stations.contains(&m)),
            };
            if !(own || (e.status == ProgramStatus::Published && audience)) {
                return false;
            }
            if let Some(at) = self.available_at {
                if !(own || open_at(e, at)) {
                    return false;
                }
            }
        }
        let f = &self.f.filter;
        self.stations.as_ref().is_none_or(|s| s.contains(&e.station))
            && (f.kinds.is_empty() || f.kinds.contains(&e.kind))
            && (f.genres.is_empty() || f.genres.contains(&e.genre))
            && self
                .languages
                .as_ref()
                .is_none_or(|ls| e.languages.iter().any(|l| ls.contains(l)))
            && self
                .aired_from
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

/// Whether `e`'s window is open at `at`.
fn open_at(e: &Entry, at: i64) -> bool {
    e.available_from.is_none_or(|from| from <= at) && e.available_until.is_none_or(|u| u > at)
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

#[derive(Default)]
struct Counts {
    station: Vec<u64>,
    kind: [u64; 2],
    genre: [u64; 12],
    language: Vec<u64>,
    available_now: u64,
}

impl Counts {
    fn add(&mut self, e: &Entry) {
        let s = e.station as usize;
        if self.station.len() <= s {
            self.station.resize(s + 1, 0);
        }
        self.station[s] += 1;
        self.kind[ProgramKind::ALL.iter().position(|k| *k == e.kind).unwrap_or(0)] += 1;
        self.genre[Genre::ALL.iter().position(|g| *g == e.genre).unwrap_or(0)] += 1;
        for l in e.languages.iter() {
            let l = *l as usize;
            if self.language.len() <= l {
                self.language.resize(l + 1, 0);
            }
            self.language[l] += 1;
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
            available_now: self.available_now,
        }
    }
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
    let matched = f.matching.as_deref().map(|m| fts_rowids(conn, m)).transpose()?;
    let sort = if sort == Sort::Relevance && matched.is_none() {
        Sort::Newest
    } else {
        sort
    };
    let in_title = match (&f.matching, sort) {
        (Some(m), Sort::Relevance) => Some(fts_rowids(conn, &format!("title : ({m})"))?),
        _ => None,
    };
    // A cursor's offset is checked where it is opened; here it only must
    // not overflow (past the end, the page is empty).
    let offset = match from {
        Some(Position::Offset { n }) if sort == Sort::Relevance => usize::try_from(*n).unwrap_or(usize::MAX),
        _ => 0,
    };
    let (total, facets, chosen, next) = index.with(|t| {
        let r = Resolved::new(t, viewer, f);
        let mut counts = Counts::default();
        let mut keys: Vec<(Key<'_>, i64)> = Vec::new();
        let mut total = 0u64;
        let candidates: Box<dyn Iterator<Item = i64>> = match &matched {
            Some(ids) => Box::new(ids.iter().copied()),
            None => Box::new(0..t.entries.len() as i64),
        };
        for seq in candidates {
            let Some(Some(e)) = t.entries.get(seq as usize) else {
                continue;
            };
            if !r.keeps(e) {
                continue;
            }
            total += 1;
            counts.add(e);
            counts.available_now += u64::from(r.available_now(e));
            let key = match sort {
                Sort::Newest | Sort::Relevance if in_title.is_none() => Key::Desc(e.listed_at),
                Sort::Relevance => {
                    let tier = u8::from(in_title.as_ref().is_some_and(|ids| ids.binary_search(&seq).is_err()));
                    Key::Tiered(tier, e.listed_at)
                }
                Sort::Newest => Key::Desc(e.listed_at),
                Sort::Aired => Key::Desc(e.aired),
                Sort::Title => Key::Text(&e.title_key),
            };
            let k = (key, seq);
            if from.is_none_or(|p| after(&k, p)) {
                keys.push(k);
            }
        }
        // The first offset + limit + 1 in order, without sorting them all.
        let end = offset.saturating_add(limit);
        let want = end.saturating_add(1);
        if keys.len() > want {
            keys.select_nth_unstable_by(want - 1, order);
            keys.truncate(want);
        }
        keys.sort_unstable_by(order);
        let more = keys.len() > end;
        let page: Vec<(Key<'_>, i64)> = keys.into_iter().skip(offset).take(limit).collect();
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
        (
            total,
            counts.facets(t),
            page.into_iter().map(|(_, seq)| seq).collect::<Vec<i64>>(),
            next,
        )
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
    use crate::domain::{ProgramId, ProgramMetadata, Station, StationKind};

    /// A catalog with `n` drafts titled "Bản tin", and its index.
    fn catalog(dir: &std::path::Path, n: usize) -> (Catalog, SearchIndex) {
        let c = Catalog::open(&dir.join("c.db")).unwrap();
        let index = c
            .write_blocking(|tx| {
                let id = crate::domain::StationId::parse("thai-nguyen").unwrap();
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
