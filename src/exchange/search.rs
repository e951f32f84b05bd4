//! Catalog search: full text folded for Vietnamese, filters, facets, and
//! signed cursors.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use rand::RngCore;
use rusqlite::{OptionalExtension, Transaction};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::tokens::Caller;
use super::{ExchangeError, Hub};
use crate::catalog::search::{self as catalog_search, Filters, Position};
pub use crate::catalog::search::{Facets, Sort};
use crate::domain::text::{fold, words};
use crate::domain::{Genre, LanguageTag, Program, ProgramKind, ProgramStatus, StationId};

/// The most words of a query that are searched for.
const MAX_WORDS: usize = 16;

/// A search as the caller asked for it.
#[derive(Debug, Clone, Default)]
pub struct SearchRequest {
    pub q: Option<String>,
    pub stations: Vec<StationId>,
    pub kinds: Vec<ProgramKind>,
    pub genres: Vec<Genre>,
    pub languages: Vec<LanguageTag>,
    pub aired_from: Option<DateTime<Utc>>,
    pub aired_to: Option<DateTime<Utc>>,
    pub min_duration: Option<u32>,
    pub max_duration: Option<u32>,
    /// Only what the caller may download right now.
    pub available_now: bool,
    pub statuses: Vec<ProgramStatus>,
    pub sort: Option<Sort>,
    pub limit: usize,
    pub cursor: Option<String>,
}

pub struct SearchPage {
    pub items: Vec<Program>,
    pub next_cursor: Option<String>,
    pub total: u64,
    pub facets: Facets,
}

/// An FTS5 query that ANDs every folded word of `q` as a prefix. Words are
/// runs of letters and digits, so nothing of FTS5's syntax gets through.
fn fts_query(q: &str) -> Option<String> {
    let folded = fold(q);
    let terms: Vec<String> = words(&folded).take(MAX_WORDS).map(|w| format!("\"{w}\"*")).collect();
    (!terms.is_empty()).then(|| terms.join(" "))
}

/// What a cursor carries: where the next page starts, and which search it
/// belongs to.
#[derive(Serialize, Deserialize)]
struct CursorBody {
    p: Position,
    s: String,
}

type HmacSha256 = Hmac<Sha256>;

/// The catalog's cursor-signing key, made on first use.
pub(super) fn cursor_key(tx: &Transaction<'_>) -> rusqlite::Result<[u8; 32]> {
    let stored: Option<Vec<u8>> = tx
        .query_row("SELECT value FROM hub_settings WHERE key = 'cursor_key'", [], |r| {
            r.get(0)
        })
        .optional()?;
    if let Some(k) = stored.and_then(|k| <[u8; 32]>::try_from(k).ok()) {
        return Ok(k);
    }
    let mut key = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut key);
    tx.execute(
        "INSERT OR REPLACE INTO hub_settings (key, value) VALUES ('cursor_key', ?1)",
        [&key[..]],
    )?;
    Ok(key)
}

impl Hub {
    fn mac(&self) -> HmacSha256 {
        HmacSha256::new_from_slice(&self.cursor_key).expect("any key length")
    }

    fn sign_cursor(&self, body: &CursorBody) -> String {
        let json = serde_json::to_vec(body).expect("cursor serialises");
        let mut mac = self.mac();
        mac.update(&json);
        let tag = mac.finalize().into_bytes();
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&json),
            URL_SAFE_NO_PAD.encode(&tag[..16])
        )
    }

    fn open_cursor(&self, cursor: &str, search: &str) -> Result<Position, ExchangeError> {
        let bad = || ExchangeError::invalid("cursor", "not a cursor this search returned");
        let (body, tag) = cursor.split_once('.').ok_or_else(bad)?;
        let body = URL_SAFE_NO_PAD.decode(body).map_err(|_| bad())?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| bad())?;
        let mut mac = self.mac();
        mac.update(&body);
        mac.verify_truncated_left(&tag).map_err(|_| bad())?;
        let body: CursorBody = serde_json::from_slice(&body).map_err(|_| bad())?;
        if body.s != search {
            return Err(bad());
        }
        Ok(body.p)
    }

    pub async fn search(&self, caller: &Caller, req: SearchRequest) -> Result<SearchPage, ExchangeError> {
        let matching = match req.q.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(q) => Some(
                fts_query(q).ok_or_else(|| ExchangeError::invalid("q", "must contain at least one letter or digit"))?,
            ),
        };
        let sort = req.sort.unwrap_or(if matching.is_some() {
            Sort::Relevance
        } else {
            Sort::Newest
        });
        let filters = Filters {
            matching,
            stations: req.stations,
            kinds: req.kinds,
            genres: req.genres,
            languages: req.languages,
            aired_from: req.aired_from,
            aired_to: req.aired_to,
            min_duration: req.min_duration,
            max_duration: req.max_duration,
            available_at: req.available_now.then(Utc::now),
            statuses: req.statuses,
        };
        // Identifies this search (not the page or the clock), so a cursor is
        // only good for the search that returned it.
        let fingerprint = {
            let f = Filters {
                available_at: None,
                ..filters.clone()
            };
            let digest = Sha256::digest(format!("{f:?}|{}|{sort:?}", req.available_now));
            hex::encode(&digest[..12])
        };
        let from = req
            .cursor
            .as_deref()
            .map(|c| self.open_cursor(c, &fingerprint))
            .transpose()?;
        let viewer = caller.viewer();
        let limit = req.limit;
        let index = self.index.clone();
        let page = self
            .catalog
            .read(move |c| catalog_search::search(c, &index, &viewer, &filters, sort, from.as_ref(), limit))
            .await?;
        Ok(SearchPage {
            items: page.items.into_iter().map(|s| s.program).collect(),
            next_cursor: page.next.map(|p| self.sign_cursor(&CursorBody { p, s: fingerprint })),
            total: page.total,
            facets: page.facets,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_prefix_queries_from_folded_words() {
        assert_eq!(fts_query("Thời sự").as_deref(), Some("\"thoi\"* \"su\"*"));
        assert_eq!(fts_query("phong").as_deref(), Some("\"phong\"*"));
        // FTS5 operators and quotes are not words.
        assert_eq!(
            fts_query("a\" OR NEAR(b) *").as_deref(),
            Some("\"a\"* \"or\"* \"near\"* \"b\"*")
        );
        assert_eq!(fts_query("!!! --"), None);
    }
}
