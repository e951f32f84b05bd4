//! "Mới từ lần trước": what was published since the person's previous visit
//! that they may see (the search, and so its one rights rule, decides), with
//! what their station follows first; the count in every page's header; the
//! Atom link of the person's feed.

use std::collections::HashSet;

use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use askama::Template;
use chrono::{DateTime, Utc};

use super::catalog::{rows, Row};
use super::station_names;
use crate::domain::follow::Rule;
use crate::domain::{Program, ProgramId};
use crate::exchange::{SearchRequest, Session, Sort};
use crate::web::visit::Chrome;
use crate::web::{format, html, page, Visit, WebError};

/// How far back a first visit looks.
const FIRST_VISIT_DAYS: i64 = 7;
/// The most programs the page lists.
const LISTED: usize = 100;

#[derive(Template)]
#[template(path = "news.html")]
struct NewsPage {
    c: Chrome,
    since: String,
    /// What the station follows, among the new.
    followed: Vec<Row>,
    /// Whether the person has a station (whose follows count).
    has_station: bool,
    all: Vec<Row>,
    total: String,
    /// How many more there are than the page lists.
    more: Option<String>,
    atom: String,
}

/// Since when "new" counts for this session.
fn since(s: &Session) -> DateTime<Utc> {
    s.since
        .unwrap_or_else(|| Utc::now() - chrono::Duration::days(FIRST_VISIT_DAYS))
}

/// The published programs the person may see that were listed after
/// `since`, newest first.
fn request(since: DateTime<Utc>, limit: usize) -> SearchRequest {
    SearchRequest {
        published_after: Some(since),
        sort: Some(Sort::Newest),
        limit,
        ..Default::default()
    }
}

/// The programs among `items` that one of the station's follows matches.
async fn followed_among(v: &Visit, s: &Session, items: &[Program]) -> Result<HashSet<ProgramId>, WebError> {
    if s.caller.station.is_none() {
        return Ok(HashSet::new());
    }
    let rules: Vec<Rule> = v
        .hub
        .follows(&s.caller)
        .await
        .map_err(|e| v.fail(e))?
        .iter()
        .filter_map(|f| f.rule())
        .collect();
    Ok(items
        .iter()
        .filter(|p| rules.iter().any(|r| r.matches(p)))
        .map(|p| p.id)
        .collect())
}

pub async fn news(v: Visit) -> Result<HttpResponse, WebError> {
    let s = v.signed_in()?;
    let t = v.t();
    let from = since(s);
    let found = v
        .hub
        .search(&s.caller, request(from, LISTED))
        .await
        .map_err(|e| v.fail(e))?;
    let names = station_names(&v).await?;
    let taken = v
        .hub
        .taken_among(&s.caller, found.items.iter().map(|p| p.id).collect())
        .await
        .map_err(|e| v.fail(e))?;
    let followed_ids = followed_among(&v, s, &found.items).await?;
    let previews = v
        .hub
        .list_previews(&s.caller, &found.items)
        .await
        .map_err(|e| v.fail(e))?;
    let mut all = rows(&t, &found.items, &names, &taken, &s.caller.viewer(), &previews);
    for (row, p) in all.iter_mut().zip(&found.items) {
        row.followed = followed_ids.contains(&p.id);
    }
    let followed_items: Vec<Program> = found
        .items
        .iter()
        .filter(|p| followed_ids.contains(&p.id))
        .cloned()
        .collect();
    let mut followed = rows(&t, &followed_items, &names, &taken, &s.caller.viewer(), &previews);
    followed.iter_mut().for_each(|r| r.followed = true);
    let listed = found.items.len() as u64;
    page(&NewsPage {
        since: match s.since {
            Some(when) => t.arg("news-since", "date", format::date_time(when, t.lang)),
            None => t.arg("news-first-visit", "n", FIRST_VISIT_DAYS),
        },
        has_station: s.caller.station.is_some(),
        followed,
        all,
        total: format::integer(found.total, t.lang),
        more: (found.total > listed).then(|| format::integer(found.total - listed, t.lang)),
        atom: format!("/api/v1/feed.atom?key={}", v.hub.feed_key(&s.caller.token_id)),
        c: v.chrome(),
    })
}

/// The count of what is new, for every page's header (htmx asks once the
/// page is shown, so no page waits for it). Nothing for a visitor signed
/// out: the header then has no such link.
pub async fn news_count(v: Visit) -> Result<HttpResponse, WebError> {
    let Some((_, s)) = &v.session else {
        return Ok(html(StatusCode::OK, "<span id=\"news-count\"></span>".into()));
    };
    let from = since(s);
    // Since the previous visit: the same for the whole visit, so counted
    // once a while, not on every page.
    let key = (s.person.id.to_string(), s.since);
    let total = match counted(&key) {
        Some(n) => n,
        None => {
            let n = v
                .hub
                .search(&s.caller, request(from, 0))
                .await
                .map_err(|e| v.fail(e))?
                .total;
            remember(key, n);
            n
        }
    };
    let body = match total {
        0 => "<span id=\"news-count\"></span>".to_owned(),
        n => format!(
            "<span id=\"news-count\" class=\"count-badge\">({})</span>",
            format::integer(n, v.lang)
        ),
    };
    Ok(html(StatusCode::OK, body))
}

/// How long a count of what is new is reused (a program published meanwhile
/// shows at most this late in the header; the page itself is never late).
const COUNT_FOR: std::time::Duration = std::time::Duration::from_secs(30);
/// The most counts kept (one per person in a visit).
const COUNTS_KEPT: usize = 10_000;

type CountKey = (String, Option<DateTime<Utc>>);

fn counts() -> &'static std::sync::Mutex<std::collections::HashMap<CountKey, (std::time::Instant, u64)>> {
    static COUNTS: std::sync::OnceLock<
        std::sync::Mutex<std::collections::HashMap<CountKey, (std::time::Instant, u64)>>,
    > = std::sync::OnceLock::new();
    COUNTS.get_or_init(Default::default)
}

/// The count for `key` made less than [`COUNT_FOR`] ago.
fn counted(key: &CountKey) -> Option<u64> {
    let map = counts().lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    map.get(key).filter(|(at, _)| at.elapsed() < COUNT_FOR).map(|(_, n)| *n)
}

fn remember(key: CountKey, n: u64) {
    let mut map = counts().lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if map.len() >= COUNTS_KEPT {
        map.retain(|_, (at, _)| at.elapsed() < COUNT_FOR);
        if map.len() >= COUNTS_KEPT {
            map.clear();
        }
    }
    map.insert(key, (std::time::Instant::now(), n));
}
