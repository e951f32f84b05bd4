//! The catalog (home page): one search box that searches as you type
//! (htmx), facets with counts as filters, sorts, and cursor paging, all in
//! the page's URL (the search API's parameters), so Back and bookmarks work.

use std::collections::{BTreeMap, HashMap, HashSet};

use actix_web::{HttpRequest, HttpResponse};
use askama::Template;
use chrono::Utc;
use serde::Deserialize;

use super::{station_names, StationNames};
use crate::domain::SearchFilter;
use crate::domain::{Facets, FileRole, Genre, LanguageTag, Program, ProgramId, ProgramKind, StationId, Viewer};
use crate::exchange::analysis::{ListPreview, PreviewMedia};
use crate::exchange::rights::may_take;
use crate::exchange::{SearchRequest, Sort};
use crate::web::i18n::Tr;
use crate::web::visit::Chrome;
use crate::web::words::{self, Badge};
use crate::web::{format, page, Visit, WebError};

/// The catalog page's query: the search API's parameters (and `lang`).
#[derive(Debug, Default, Deserialize)]
pub struct CatalogQuery {
    q: Option<String>,
    #[serde(default)]
    station: Vec<String>,
    #[serde(default)]
    kind: Vec<String>,
    #[serde(default)]
    genre: Vec<String>,
    #[serde(default)]
    language: Vec<String>,
    available: Option<String>,
    sort: Option<String>,
    cursor: Option<String>,
    /// The numbered page (from 1), when no cursor is given.
    page: Option<String>,
}

/// Results on one page of the catalog.
const PER_PAGE: usize = 20;
/// The last page a number reaches (the search skips at most `MAX_SKIP`).
const LAST_PAGE: usize = crate::exchange::MAX_SKIP / PER_PAGE + 1;

impl CatalogQuery {
    fn sort(&self) -> Option<Sort> {
        match self.sort.as_deref()? {
            "relevance" => Some(Sort::Relevance),
            "newest" => Some(Sort::Newest),
            "aired" => Some(Sort::Aired),
            "title" => Some(Sort::Title),
            _ => None,
        }
    }

    /// The search the query asks for; values that name nothing are left out.
    fn request(&self) -> SearchRequest {
        SearchRequest {
            q: self.q.clone().filter(|q| !q.trim().is_empty()),
            filter: SearchFilter {
                stations: self.station.iter().filter_map(|s| StationId::parse(s).ok()).collect(),
                kinds: self.kind.iter().filter_map(|k| ProgramKind::parse(k)).collect(),
                genres: self.genre.iter().filter_map(|g| Genre::parse(g)).collect(),
                languages: self
                    .language
                    .iter()
                    .filter_map(|l| LanguageTag::parse(l).ok())
                    .collect(),
                ..Default::default()
            },
            available_now: self.available.as_deref() == Some("now"),
            sort: self.sort(),
            limit: PER_PAGE,
            cursor: self.cursor.clone().filter(|c| !c.is_empty()),
            skip: (self.page_number() - 1) * PER_PAGE,
            ..Default::default()
        }
    }

    /// The numbered page asked for: 1 unless a number within reach.
    fn page_number(&self) -> usize {
        match self.cursor.as_deref() {
            Some(c) if !c.is_empty() => 1,
            _ => self
                .page
                .as_deref()
                .and_then(|n| n.parse::<usize>().ok())
                .map_or(1, |n| n.clamp(1, LAST_PAGE)),
        }
    }

    /// The pairs of this query, without the cursor (a new filter starts
    /// from the first page).
    fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if let Some(q) = self.q.as_ref().filter(|q| !q.is_empty()) {
            out.push(("q", q.clone()));
        }
        for (name, values) in [
            ("station", &self.station),
            ("kind", &self.kind),
            ("genre", &self.genre),
            ("language", &self.language),
        ] {
            out.extend(values.iter().map(|v| (name, v.clone())));
        }
        if let Some(a) = self.available.as_ref().filter(|a| !a.is_empty()) {
            out.push(("available", a.clone()));
        }
        if let Some(s) = self.sort.as_ref().filter(|s| !s.is_empty()) {
            out.push(("sort", s.clone()));
        }
        out
    }
}

fn url(pairs: &[(&str, String)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    match s.finish() {
        q if q.is_empty() => "/".to_owned(),
        q => format!("/?{q}"),
    }
}

/// One value of a facet: its words, count, whether chosen, and the URL that
/// toggles it.
pub struct FacetValue {
    pub label: String,
    pub count: String,
    pub chosen: bool,
    pub href: String,
}

pub struct Facet {
    pub title: String,
    pub values: Vec<FacetValue>,
}

/// One result.
pub struct Row {
    pub id: String,
    pub href: String,
    pub title: String,
    pub station: String,
    pub kind: String,
    pub genre: String,
    pub duration: String,
    pub date: String,
    pub badge: Badge,
    pub taken: bool,
    /// Matches one of the station's follows (the page of what is new).
    pub followed: bool,
    pub series: String,
    /// The master's preview, to hear or see in place.
    pub preview: Option<RowPreview>,
}

/// A result's preview: its URL, whether it is seen (`video`) or heard,
/// and the poster's or the waveform's URL.
pub struct RowPreview {
    pub src: String,
    pub video: bool,
    pub poster: Option<String>,
    pub waveform: Option<String>,
}

impl RowPreview {
    fn of(p: &Program, made: Option<&ListPreview>) -> Option<Self> {
        let made = made?;
        let base = format!("/api/v1/programs/{}/files/master", p.id);
        let video = made.kind == PreviewMedia::Video;
        Some(Self {
            src: format!("{base}/preview"),
            video,
            poster: (video && made.poster).then(|| format!("{base}/poster.jpg")),
            waveform: (!video && made.waveform).then(|| format!("{base}/waveform.json")),
        })
    }
}

/// A numbered page's link.
pub struct PageLink {
    pub number: usize,
    pub href: String,
    pub current: bool,
}

#[derive(Template)]
#[template(path = "catalog.html")]
struct CatalogPage {
    c: Chrome,
    r: Results,
}

#[derive(Template)]
#[template(path = "catalog_results.html")]
struct ResultsOnly {
    c: Chrome,
    r: Results,
}

struct Results {
    q: String,
    sort: String,
    available_now: bool,
    /// Hidden inputs that keep the chosen filters in the form.
    kept: Vec<(&'static str, String)>,
    total: String,
    rows: Vec<Row>,
    facets: Vec<Facet>,
    next: Option<String>,
    prev: Option<String>,
    first_page: Option<String>,
    pages: Vec<Option<PageLink>>,
}

/// The programs found, as the list shows them.
pub(super) fn rows(
    t: &Tr,
    items: &[Program],
    names: &StationNames,
    taken: &HashSet<ProgramId>,
    viewer: &Viewer,
    previews: &HashMap<ProgramId, ListPreview>,
) -> Vec<Row> {
    let now = Utc::now();
    items
        .iter()
        .map(|p| Row {
            id: p.id.to_string(),
            series: p.meta.series.clone().unwrap_or_default(),
            preview: RowPreview::of(p, previews.get(&p.id)),
            href: format!("/programs/{}", p.id),
            title: p.meta.title.clone(),
            station: names.of_program(p),
            kind: words::kind(t, p.meta.kind),
            genre: words::genre(t, p.meta.genre),
            duration: duration(p).map(|d| format::duration(d, t.lang)).unwrap_or_default(),
            date: p
                .meta
                .first_aired_at
                .or(p.published_at)
                .map(|d| format::date(d, t.lang))
                .unwrap_or_default(),
            badge: words::badge(t, p, may_take(viewer, p, now), now),
            taken: taken.contains(&p.id),
            followed: false,
        })
        .collect()
}

/// The master's measured duration once analysed, else the declared one
/// (as search filters on it).
fn duration(p: &Program) -> Option<u32> {
    p.files
        .iter()
        .find(|f| f.role == FileRole::Master)
        .and_then(|f| f.analysis.as_ref()?.duration_seconds)
        .map(|d| d.round().clamp(0.0, f64::from(u32::MAX)) as u32)
        .or(p.meta.duration_seconds)
}

/// The numbered pages around `current` (the first, the last, and two on
/// each side), with the links to them; `None` where numbers are left out.
fn page_links(pairs: &[(&'static str, String)], current: usize, total: u64) -> Vec<Option<PageLink>> {
    let last = usize::try_from(total.div_ceil(PER_PAGE as u64))
        .unwrap_or(usize::MAX)
        .clamp(1, LAST_PAGE);
    if last == 1 {
        return Vec::new();
    }
    let mut out = Vec::new();
    for n in 1..=last {
        let near = n == 1 || n == last || n.abs_diff(current) <= 2;
        if near {
            out.push(Some(PageLink {
                number: n,
                href: page_url(pairs, n),
                current: n == current,
            }));
        } else if out.last().is_some_and(Option::is_some) {
            out.push(None);
        }
    }
    out
}

/// The URL of numbered page `n` of the search `pairs`.
fn page_url(pairs: &[(&'static str, String)], n: usize) -> String {
    let mut p = pairs.to_vec();
    if n > 1 {
        p.push(("page", n.to_string()));
    }
    url(&p)
}

/// The facets of a search: each value with its count, and the link that
/// adds it to the search (or, when chosen, takes it away).
fn facets(t: &Tr, pairs: &[(&'static str, String)], counts: &Facets, names: &StationNames) -> Vec<Facet> {
    let facet = |title: &str, name: &'static str, counts: &BTreeMap<String, u64>, label: &dyn Fn(&str) -> String| {
        let mut values: Vec<FacetValue> = counts
            .iter()
            .map(|(value, n)| {
                let chosen = pairs.iter().any(|(k, v)| *k == name && v == value);
                let toggled: Vec<(&str, String)> = if chosen {
                    pairs
                        .iter()
                        .filter(|(k, v)| !(*k == name && v == value))
                        .cloned()
                        .collect()
                } else {
                    let mut p = pairs.to_vec();
                    p.push((name, value.clone()));
                    p
                };
                FacetValue {
                    label: label(value),
                    count: format::integer(*n, t.lang),
                    chosen,
                    href: url(&toggled),
                }
            })
            .collect();
        // In the order of their words, as a reader looks for them (not of
        // their codes).
        values.sort_by_cached_key(|v| words::sort_key(&v.label));
        Facet {
            title: t.get(title),
            values,
        }
    };
    vec![
        facet("facet-station", "station", &counts.station, &|s| names.of(s)),
        facet("facet-kind", "kind", &counts.kind, &|k| {
            ProgramKind::parse(k).map_or_else(|| k.to_owned(), |k| words::kind(t, k))
        }),
        facet("facet-genre", "genre", &counts.genre, &|g| {
            Genre::parse(g).map_or_else(|| g.to_owned(), |g| words::genre(t, g))
        }),
        facet("facet-language", "language", &counts.language, &|l| {
            words::language(t, l)
        }),
        facet(
            "facet-available",
            "available",
            &BTreeMap::from([("now".to_owned(), counts.available_now)])
                .into_iter()
                .filter(|(_, n)| *n > 0)
                .collect(),
            &|_| t.get("facet-available-now"),
        ),
    ]
}

pub async fn catalog(v: Visit, req: HttpRequest) -> Result<HttpResponse, WebError> {
    let session = v.signed_in()?;
    let t = v.t();
    // Unknown parameters (such as `lang`) are not the search's business.
    let q: CatalogQuery = serde_html_form::from_str(req.query_string()).unwrap_or_default();
    let caller = &session.caller;
    let found = match v.hub.search(caller, q.request()).await {
        Ok(found) => found,
        // A forged or stale cursor: the first page instead.
        Err(crate::exchange::ExchangeError::Invalid(_)) if q.cursor.is_some() => {
            let mut first = q.request();
            first.cursor = None;
            v.hub.search(caller, first).await.map_err(|e| v.fail(e))?
        }
        Err(e) => return Err(v.fail(e)),
    };
    let names = station_names(&v).await?;
    let taken = v
        .hub
        .taken_among(caller, found.items.iter().map(|p| p.id).collect())
        .await
        .map_err(|e| v.fail(e))?;
    let previews = v.hub.list_previews(caller, &found.items).await.map_err(|e| v.fail(e))?;
    let rows = rows(&t, &found.items, &names, &taken, &caller.viewer(), &previews);
    let pairs = q.pairs();
    let facets = facets(&t, &pairs, &found.facets, &names);
    let by_cursor = q.cursor.as_deref().is_some_and(|c| !c.is_empty());
    let n = q.page_number();
    // Numbered pages; a cursor (a link from before numbers, or the API's)
    // goes on by cursor.
    let next = match (by_cursor, found.next_cursor) {
        (true, Some(cur)) => {
            let mut p = pairs.clone();
            p.push(("cursor", cur));
            Some(url(&p))
        }
        (false, Some(_)) if n < LAST_PAGE => Some(page_url(&pairs, n + 1)),
        _ => None,
    };
    let prev = (!by_cursor && n > 1).then(|| page_url(&pairs, n - 1));
    let r = Results {
        q: q.q.clone().unwrap_or_default(),
        sort: q.sort().map(|s| format!("{s:?}").to_lowercase()).unwrap_or_default(),
        available_now: q.available.as_deref() == Some("now"),
        kept: pairs
            .iter()
            .filter(|(k, _)| !matches!(*k, "q" | "sort" | "available"))
            .cloned()
            .collect(),
        total: format::integer(found.total, t.lang),
        rows,
        facets,
        next,
        prev,
        first_page: by_cursor.then(|| url(&pairs)),
        pages: if by_cursor {
            Vec::new()
        } else {
            page_links(&pairs, n, found.total)
        },
    };
    if v.htmx {
        page(&ResultsOnly { c: v.chrome(), r })
    } else {
        page(&CatalogPage { c: v.chrome(), r })
    }
}
