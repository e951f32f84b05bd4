//! The catalog search: one WHERE clause built from the filters and the
//! viewer's visibility, used for the page, the total and the facets.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rusqlite::types::Value;
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

fn clause(viewer: &Viewer, f: &Filters) -> Clause {
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
    if let Some(m) = &f.matching {
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

/// One page of what `viewer` may see of the programs matching `f`, with the
/// total and the facets of the whole match.
pub fn search(
    conn: &Connection,
    viewer: &Viewer,
    f: &Filters,
    sort: Sort,
    from: Option<&Position>,
    limit: usize,
) -> rusqlite::Result<Page> {
    let base = clause(viewer, f);
    let (total, facets) = facets(conn, &base)?;

    let mut page = Clause {
        sql: base.sql.clone(),
        params: base.params.clone(),
    };
    let aired_key = format!("coalesce(p.first_aired_at, {NEVER_AIRED})");
    let (from_sql, order, key_sql) = match sort {
        Sort::Relevance if f.matching.is_some() => (
            "programs p JOIN (SELECT rowid AS fseq, bm25(program_fts, 10.0, 4.0, 1.0, 5.0, 3.0, 2.0) AS score
                FROM program_fts WHERE program_fts MATCH ?) f ON f.fseq = p.seq",
            "f.score, p.seq".to_string(),
            None,
        ),
        Sort::Relevance | Sort::Newest => ("programs p", "p.listed_at DESC, p.seq DESC".into(), Some("p.listed_at")),
        Sort::Aired => (
            "programs p",
            format!("{aired_key} DESC, p.seq DESC"),
            Some(aired_key.as_str()),
        ),
        Sort::Title => ("programs p", "p.title_key, p.seq".into(), Some("p.title_key")),
    };
    let mut params = Vec::new();
    if key_sql.is_none() {
        params.push(text(f.matching.as_deref().unwrap_or_default()));
    }
    let mut offset = 0;
    match (from, key_sql) {
        (Some(Position::Offset { n }), None) => offset = *n,
        (Some(Position::AfterInt { key, seq }), Some(k)) => page.and(
            &format!("({k} < ? OR ({k} = ? AND p.seq < ?))"),
            [Value::Integer(*key), Value::Integer(*key), Value::Integer(*seq)],
        ),
        (Some(Position::AfterText { key, seq }), Some(k)) => page.and(
            &format!("({k} > ? OR ({k} = ? AND p.seq > ?))"),
            [text(key), text(key), Value::Integer(*seq)],
        ),
        // A position from another sort: the caller checks cursors, so this
        // only starts from the top.
        _ => {}
    }
    params.extend(page.params);
    params.push(Value::Integer(limit as i64 + 1));
    params.push(Value::Integer(offset as i64));
    let sql = format!(
        "SELECT {COLUMNS}, p.title_key, {aired_key}, p.listed_at FROM {from_sql} WHERE {} ORDER BY {order} LIMIT ? OFFSET ?",
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
            _ if key_sql.is_none() => Position::Offset {
                n: offset + limit as u64,
            },
            Sort::Title => Position::AfterText { key: title_key, seq },
            Sort::Aired => Position::AfterInt { key: aired, seq },
            _ => Position::AfterInt { key: listed, seq },
        }),
        _ => None,
    };
    for s in &mut items {
        s.program.files = programs::files(conn, s.seq)?;
    }
    Ok(Page {
        items,
        next,
        total,
        facets,
    })
}

fn facets(conn: &Connection, c: &Clause) -> rusqlite::Result<(u64, Facets)> {
    let mut facets = Facets::default();
    let mut total = 0;
    let sql = format!(
        "SELECT p.station_id, p.kind, p.genre, count(*) FROM programs p WHERE {} GROUP BY 1, 2, 3",
        c.sql
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(params_from_iter(&c.params))?;
    while let Some(r) = rows.next()? {
        let n: u64 = r.get(3)?;
        total += n;
        *facets.station.entry(r.get(0)?).or_default() += n;
        *facets.kind.entry(r.get(1)?).or_default() += n;
        *facets.genre.entry(r.get(2)?).or_default() += n;
    }
    let sql = format!(
        "SELECT l.lang, count(*) FROM programs p JOIN program_languages l ON l.program_seq = p.seq
         WHERE {} GROUP BY 1",
        c.sql
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(params_from_iter(&c.params))?;
    while let Some(r) = rows.next()? {
        facets.language.insert(r.get(0)?, r.get(1)?);
    }
    Ok((total, facets))
}
