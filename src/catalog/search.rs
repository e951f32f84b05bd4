//! The catalog search: one WHERE clause built from the filters and the
//! viewer's visibility, used for the page, the total and the facets.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use rusqlite::types::{Value, ValueRef};
use rusqlite::{params_from_iter, Connection};

use super::programs::{self, Stored, COLUMNS};
use super::to_micros;
use crate::domain::{Genre, LanguageTag, ProgramKind, ProgramStatus, StationId, Viewer};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    Relevance,
    Newest,
    Aired,
    Title,
}

#[derive(Debug, Clone, Default)]
pub struct Filters {
    /// An FTS5 expression over folded words (see exchange::search).
    pub matching: Option<String>,
    pub stations: Vec<StationId>,
    pub kinds: Vec<ProgramKind>,
    pub genres: Vec<Genre>,
    pub languages: Vec<LanguageTag>,
    pub aired_from: Option<DateTime<Utc>>,
    pub aired_to: Option<DateTime<Utc>>,
    pub min_duration: Option<u32>,
    pub max_duration: Option<u32>,
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

#[derive(Debug, Default)]
pub struct Facets {
    pub station: BTreeMap<String, u64>,
    pub kind: BTreeMap<String, u64>,
    pub genre: BTreeMap<String, u64>,
    pub language: BTreeMap<String, u64>,
}

#[derive(Debug)]
pub struct Page {
    pub items: Vec<Stored>,
    pub next: Option<Position>,
    pub total: u64,
    pub facets: Facets,
}

/// A WHERE clause with its parameters.
struct Clause {
    sql: String,
    params: Vec<Value>,
}

impl Clause {
    fn and(&mut self, sql: &str, params: impl IntoIterator<Item = Value>) {
        self.sql.push_str(" AND ");
        self.sql.push_str(sql);
        self.params.extend(params);
    }

    fn and_in(&mut self, column: &str, values: Vec<Value>) {
        if values.is_empty() {
            return;
        }
        let marks = vec!["?"; values.len()].join(", ");
        self.and(&format!("{column} IN ({marks})"), values);
    }
}

fn text(s: &str) -> Value {
    Value::Text(s.to_owned())
}

/// Never-aired programs sort last under `aired`.
const NEVER_AIRED: i64 = i64::MIN;

/// The WHERE clause of `f` for `viewer`. `fts_in_where` puts the full-text
/// match in it as a rowid set; without it the caller joins `program_fts`.
fn clause(viewer: &Viewer, f: &Filters, fts_in_where: bool) -> Clause {
    let mut c = Clause {
        sql: "1".into(),
        params: Vec::new(),
    };
    let statuses = if f.statuses.is_empty() {
        vec![ProgramStatus::Published]
    } else {
        f.statuses.clone()
    };
    c.and_in("p.status", statuses.iter().map(|s| text(s.as_str())).collect());
    if let Viewer::Station { id, national } = viewer {
        // Own programs in any asked status; others' only when published to an
        // audience that includes the viewer.
        c.and(
            "(p.station_id = ? OR (p.status = 'published' AND (p.audience = 'cluster'
                OR (p.audience = 'national' AND ?)
                OR (p.audience = 'stations' AND EXISTS (SELECT 1 FROM program_audience a
                    WHERE a.program_seq = p.seq AND a.station_id = ?)))))",
            [text(id.as_str()), Value::Integer(*national as i64), text(id.as_str())],
        );
        if let Some(at) = f.available_at {
            let at = to_micros(at);
            c.and(
                "(p.station_id = ? OR ((p.available_from IS NULL OR p.available_from <= ?)
                    AND (p.available_until IS NULL OR p.available_until > ?)))",
                [text(id.as_str()), Value::Integer(at), Value::Integer(at)],
            );
        }
    }
    if let Some(m) = f.matching.as_ref().filter(|_| fts_in_where) {
        c.and(
            "p.seq IN (SELECT rowid FROM program_fts WHERE program_fts MATCH ?)",
            [text(m)],
        );
    }
    c.and_in("p.station_id", f.stations.iter().map(|s| text(s.as_str())).collect());
    c.and_in("p.kind", f.kinds.iter().map(|k| text(k.as_str())).collect());
    c.and_in("p.genre", f.genres.iter().map(|g| text(g.as_str())).collect());
    if !f.languages.is_empty() {
        let marks = vec!["?"; f.languages.len()].join(", ");
        c.and(
            &format!("EXISTS (SELECT 1 FROM program_languages l WHERE l.program_seq = p.seq AND l.lang IN ({marks}))"),
            f.languages.iter().map(|l| text(l.as_str())),
        );
    }
    if let Some(t) = f.aired_from {
        c.and("p.first_aired_at >= ?", [Value::Integer(to_micros(t))]);
    }
    if let Some(t) = f.aired_to {
        c.and("p.first_aired_at <= ?", [Value::Integer(to_micros(t))]);
    }
    if let Some(d) = f.min_duration {
        c.and("p.duration_seconds >= ?", [Value::Integer(d.into())]);
    }
    if let Some(d) = f.max_duration {
        c.and("p.duration_seconds <= ?", [Value::Integer(d.into())]);
    }
    c
}

/// The weights of bm25 over program_fts's columns: title, summary,
/// description, tags, series, credits.
const BM25: &str = "bm25(program_fts, 10.0, 4.0, 1.0, 5.0, 3.0, 2.0)";

/// One page of what `viewer` may see of the programs matching `f`, with the
/// total and the facets of the whole match.
///
/// The whole match is visited once (`scan`) for the total and the facets.
/// With a query, that visit also collects every row's sort key, and the page
/// is the first rows of it in the sort's order (after `from`): the match is
/// not joined and sorted a second time. Without a query, the page walks an
/// index in the sort's order instead.
pub fn search(
    conn: &Connection,
    viewer: &Viewer,
    f: &Filters,
    sort: Sort,
    from: Option<&Position>,
    limit: usize,
) -> rusqlite::Result<Page> {
    let keyed = f.matching.is_some();
    let scan = scan(conn, viewer, f, keyed.then_some(sort))?;
    let mut page = if keyed {
        page_of_keys(conn, scan.keys, sort, from, limit)?
    } else {
        ordered_page(conn, viewer, f, sort, from, limit)?
    };
    for s in &mut page.items {
        s.program.files = programs::files(conn, s.seq)?;
    }
    page.total = scan.total;
    page.facets = scan.facets;
    Ok(page)
}

/// A row's place in a sort with a query: its bm25 (relevance), listing or
/// airing time (newest, aired), or folded title.
#[derive(Debug, Clone, PartialEq)]
enum Key {
    Score(f64),
    Int(i64),
    Text(String),
}

/// SQLite's order of the sort's `ORDER BY`, over (key, seq).
fn key_order(sort: Sort, a: &(Key, i64), b: &(Key, i64)) -> Ordering {
    let by_key = match (&a.0, &b.0) {
        // REALs compare by value (so -0.0 = 0.0), as in SQLite.
        (Key::Score(x), Key::Score(y)) => x.partial_cmp(y).unwrap_or(Ordering::Equal),
        (Key::Int(x), Key::Int(y)) => x.cmp(y),
        // BINARY collation: bytes, as Rust orders strings.
        (Key::Text(x), Key::Text(y)) => x.cmp(y),
        _ => Ordering::Equal,
    };
    match sort {
        // score, seq / title_key, seq
        Sort::Relevance | Sort::Title => by_key.then(a.1.cmp(&b.1)),
        // key DESC, seq DESC
        Sort::Newest | Sort::Aired => by_key.then(a.1.cmp(&b.1)).reverse(),
    }
}

/// The page of the keyed rows of a scan in the sort's order, after `from`.
fn page_of_keys(
    conn: &Connection,
    mut keys: Vec<(Key, i64)>,
    sort: Sort,
    from: Option<&Position>,
    limit: usize,
) -> rusqlite::Result<Page> {
    let mut offset = 0;
    match (sort, from) {
        (Sort::Relevance, Some(Position::Offset { n })) => offset = usize::try_from(*n).unwrap_or(usize::MAX),
        (Sort::Newest | Sort::Aired, Some(Position::AfterInt { key, seq })) => {
            keys.retain(|(k, s)| matches!(k, Key::Int(k) if *k < *key || (*k == *key && *s < *seq)))
        }
        (Sort::Title, Some(Position::AfterText { key, seq })) => {
            keys.retain(|(k, s)| matches!(k, Key::Text(k) if *k > *key || (*k == *key && *s > *seq)))
        }
        // A position from another sort: the caller checks cursors, so this
        // only starts from the top.
        _ => {}
    }
    let want = offset.saturating_add(limit).saturating_add(1);
    let order = |a: &(Key, i64), b: &(Key, i64)| key_order(sort, a, b);
    if keys.len() > want {
        keys.select_nth_unstable_by(want - 1, order);
        keys.truncate(want);
    }
    keys.sort_unstable_by(order);
    let rows: Vec<(Key, i64)> = keys.into_iter().skip(offset).collect();
    let more = rows.len() > limit;
    let sql = format!("SELECT {COLUMNS} FROM programs p WHERE p.seq = ?1");
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut items = Vec::with_capacity(limit.min(rows.len()));
    for (_, seq) in rows.iter().take(limit) {
        items.push(stmt.query_row([seq], programs::from_row)?);
    }
    let next = match (more, rows.get(limit.wrapping_sub(1))) {
        (true, Some((key, seq))) if limit > 0 => Some(match (sort, key) {
            (Sort::Relevance, _) => Position::Offset {
                n: (offset + limit) as u64,
            },
            (_, Key::Text(key)) => Position::AfterText {
                key: key.clone(),
                seq: *seq,
            },
            (_, Key::Int(key)) => Position::AfterInt { key: *key, seq: *seq },
            (_, Key::Score(_)) => unreachable!("only relevance is scored"),
        }),
        _ => None,
    };
    Ok(Page {
        items,
        next,
        total: 0,
        facets: Facets::default(),
    })
}

/// A page in the order of a column (or by relevance without a query, which
/// is by newest), after `from`.
fn ordered_page(
    conn: &Connection,
    viewer: &Viewer,
    f: &Filters,
    sort: Sort,
    from: Option<&Position>,
    limit: usize,
) -> rusqlite::Result<Page> {
    let mut page = clause(viewer, f, true);
    let aired_key = format!("coalesce(p.first_aired_at, {NEVER_AIRED})");
    let (order, key_sql) = match sort {
        Sort::Relevance | Sort::Newest => ("p.listed_at DESC, p.seq DESC".into(), "p.listed_at"),
        Sort::Aired => (format!("{aired_key} DESC, p.seq DESC"), aired_key.as_str()),
        Sort::Title => ("p.title_key, p.seq".to_string(), "p.title_key"),
    };
    match from {
        Some(Position::AfterInt { key, seq }) if sort != Sort::Title => page.and(
            &format!("({key_sql} < ? OR ({key_sql} = ? AND p.seq < ?))"),
            [Value::Integer(*key), Value::Integer(*key), Value::Integer(*seq)],
        ),
        Some(Position::AfterText { key, seq }) if sort == Sort::Title => page.and(
            &format!("({key_sql} > ? OR ({key_sql} = ? AND p.seq > ?))"),
            [text(key), text(key), Value::Integer(*seq)],
        ),
        // A position from another sort: the caller checks cursors, so this
        // only starts from the top.
        _ => {}
    }
    let mut params = page.params;
    params.push(Value::Integer(limit as i64 + 1));
    let sql = format!(
        "SELECT {COLUMNS}, p.title_key, {aired_key}, p.listed_at FROM programs p WHERE {} ORDER BY {order} LIMIT ?",
        page.sql
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(params_from_iter(params))?;
    let mut items = Vec::new();
    let mut last_keys = None;
    let mut more = false;
    while let Some(r) = rows.next()? {
        if items.len() == limit {
            more = true;
            break;
        }
        let stored = programs::from_row(r)?;
        let title_key: String = r.get(28)?;
        let aired: i64 = r.get(29)?;
        let listed: i64 = r.get(30)?;
        last_keys = Some((stored.seq, title_key, aired, listed));
        items.push(stored);
    }
    drop(rows);
    let next = match (more, last_keys) {
        (true, Some((seq, title_key, aired, listed))) => Some(match sort {
            Sort::Title => Position::AfterText { key: title_key, seq },
            Sort::Aired => Position::AfterInt { key: aired, seq },
            _ => Position::AfterInt { key: listed, seq },
        }),
        _ => None,
    };
    Ok(Page {
        items,
        next,
        total: 0,
        facets: Facets::default(),
    })
}

/// What one visit of the whole match collects.
struct Scan {
    total: u64,
    facets: Facets,
    /// Every row's sort key and seq, when asked for.
    keys: Vec<(Key, i64)>,
}

/// Counts by name, without allocating for names seen before.
#[derive(Default)]
struct Counts(HashMap<String, u64>);

impl Counts {
    fn bump(&mut self, key: &str) {
        match self.0.get_mut(key) {
            Some(n) => *n += 1,
            None => {
                self.0.insert(key.to_owned(), 1);
            }
        }
    }

    fn into_map(self) -> BTreeMap<String, u64> {
        self.0.into_iter().collect()
    }
}

fn str_at<'r>(r: &'r rusqlite::Row<'_>, i: usize) -> rusqlite::Result<&'r str> {
    r.get_ref(i)?.as_str().map_err(Into::into)
}

/// Visits every row the viewer may see of the match once: the total, the
/// facets, and with `scores` each row's bm25.
///
/// With a query, the visit is driven by the full-text index (its rowids,
/// ascending) and looks each row up in `programs_search`, which holds every
/// column the filters read, so the wide table rows are never touched. The
/// languages come from a LEFT JOIN, so a program's rows are adjacent: it is
/// counted once, its languages once each.
fn scan(conn: &Connection, viewer: &Viewer, f: &Filters, keyed: Option<Sort>) -> rusqlite::Result<Scan> {
    let (sql, params) = match &f.matching {
        Some(m) => {
            let c = clause(viewer, f, false);
            let aired_key = format!("coalesce(p.first_aired_at, {NEVER_AIRED})");
            let (score_col, score_sql) = match keyed {
                Some(Sort::Relevance) => ("f.score", format!(", {BM25} AS score")),
                Some(Sort::Newest) => ("p.listed_at", String::new()),
                Some(Sort::Aired) => (aired_key.as_str(), String::new()),
                Some(Sort::Title) => ("p.title_key", String::new()),
                None => ("NULL", String::new()),
            };
            let sql = format!(
                "SELECT p.seq, p.station_id, p.kind, p.genre, pl.lang, {score_col}
                 FROM (SELECT rowid AS fseq{score_sql} FROM program_fts WHERE program_fts MATCH ?) f
                 CROSS JOIN programs p INDEXED BY programs_search ON p.seq = f.fseq
                 LEFT JOIN program_languages pl INDEXED BY program_languages_by_program
                     ON pl.program_seq = p.seq
                 WHERE {}",
                c.sql
            );
            let mut params = vec![text(m)];
            params.extend(c.params);
            (sql, params)
        }
        None => {
            let c = clause(viewer, f, true);
            let sql = format!(
                "SELECT p.seq, p.station_id, p.kind, p.genre, pl.lang, NULL
                 FROM programs p
                 LEFT JOIN program_languages pl INDEXED BY program_languages_by_program
                     ON pl.program_seq = p.seq
                 WHERE {}",
                c.sql
            );
            (sql, c.params)
        }
    };
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(params_from_iter(params))?;
    let (mut station, mut kind, mut genre, mut language) = Default::default();
    let mut total = 0;
    let mut keys = Vec::new();
    let mut last = None;
    while let Some(r) = rows.next()? {
        let seq: i64 = r.get(0)?;
        if last != Some(seq) {
            last = Some(seq);
            total += 1;
            Counts::bump(&mut station, str_at(r, 1)?);
            Counts::bump(&mut kind, str_at(r, 2)?);
            Counts::bump(&mut genre, str_at(r, 3)?);
            let key = match (keyed, r.get_ref(5)?) {
                (None, _) => None,
                (Some(_), ValueRef::Real(x)) => Some(Key::Score(x)),
                (Some(_), ValueRef::Integer(x)) => Some(Key::Int(x)),
                (Some(_), ValueRef::Text(x)) => Some(Key::Text(String::from_utf8_lossy(x).into_owned())),
                (Some(_), _) => return Err(super::stations::bad_column(5, "a sort key".into())),
            };
            keys.extend(key.map(|k| (k, seq)));
        }
        if let Some(lang) = r.get_ref(4)?.as_str_or_null()? {
            Counts::bump(&mut language, lang);
        }
    }
    Ok(Scan {
        total,
        facets: Facets {
            station: Counts::into_map(station),
            kind: Counts::into_map(kind),
            genre: Counts::into_map(genre),
            language: Counts::into_map(language),
        },
        keys,
    })
}
