//! Catalog search: full text folded for Vietnamese, filters, facets, and
//! signed cursors.

use crate::catalog::{self, DbResult, Transaction};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::Utc;
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::tokens::Caller;
use super::{ExchangeError, Hub};
use crate::catalog::search::{self as catalog_search, Filters, Position};
use crate::domain::text::query_words;
pub use crate::domain::{Facets, Sort};
use crate::domain::{Program, ProgramStatus, SearchFilter};

/// A search as the caller asked for it.
#[derive(Debug, Clone, Default)]
pub struct SearchRequest {
    pub q: Option<String>,
    pub filter: SearchFilter,
    /// Only what the caller may download right now.
    pub available_now: bool,
    pub statuses: Vec<ProgramStatus>,
    pub sort: Option<Sort>,
    pub limit: usize,
    pub cursor: Option<String>,
    /// Only what was published (listed) after this instant.
    pub published_after: Option<chrono::DateTime<Utc>>,
    /// Without a cursor: the results to skip (the pages' numbered pages),
    /// at most [`MAX_SKIP`].
    pub skip: usize,
}

/// The most results a numbered page may skip: 500 pages of 20. The one pass
/// of a search visits every match anyway; skipping only keeps more keys.
pub const MAX_SKIP: usize = 10_000;

pub struct SearchPage {
    pub items: Vec<Program>,
    pub next_cursor: Option<String>,
    pub total: u64,
    pub facets: Facets,
}

/// An FTS5 query that ANDs every folded word of `q` as a prefix. Words are
/// runs of letters and digits, so nothing of FTS5's syntax gets through.
fn fts_query(q: &str) -> Option<String> {
    let terms: Vec<String> = query_words(q).iter().map(|w| format!("\"{w}\"*")).collect();
    (!terms.is_empty()).then(|| terms.join(" "))
}

/// Longer than any cursor the hub writes (a title key is at most a few
/// hundred characters).
const MAX_CURSOR_LEN: usize = 4096;

/// The most results a relevance cursor may skip: far more than anyone pages
/// through, far less than arithmetic on it could overflow.
pub const MAX_OFFSET: u64 = 1 << 32;

/// Whether `p` is a position that `sort` makes (see `catalog::search`).
fn position_fits(p: &Position, sort: Sort) -> bool {
    match (p, sort) {
        (Position::Offset { n }, Sort::Relevance) => *n <= MAX_OFFSET,
        // Relevance without words sorts by newest.
        (Position::AfterInt { seq, .. }, Sort::Newest | Sort::Aired | Sort::Relevance) => *seq > 0,
        (Position::AfterText { key, seq }, Sort::Title) => *seq > 0 && key.len() <= MAX_CURSOR_LEN,
        _ => false,
    }
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
pub(super) fn cursor_key(tx: &Transaction<'_>) -> DbResult<[u8; 32]> {
    let stored = catalog::hub_setting(tx, "cursor_key")?;
    if let Some(k) = stored.and_then(|k| <[u8; 32]>::try_from(k).ok()) {
        return Ok(k);
    }
    let mut key = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut key);
    catalog::set_hub_setting(tx, "cursor_key", &key)?;
    Ok(key)
}

/// Cursors signed with the hub's key (HMAC-SHA256, the whole tag).
struct Signer<'a>(&'a [u8; 32]);

impl Signer<'_> {
    fn mac(&self) -> HmacSha256 {
        // HMAC takes keys of any length; 32 bytes is one of them.
        HmacSha256::new_from_slice(self.0).expect("any key length")
    }

    fn sign(&self, body: &CursorBody) -> String {
        let json = serde_json::to_vec(body).expect("cursor serialises");
        let mut mac = self.mac();
        mac.update(&json);
        let tag = mac.finalize().into_bytes();
        format!("{}.{}", URL_SAFE_NO_PAD.encode(&json), URL_SAFE_NO_PAD.encode(tag))
    }

    /// The position of a cursor this hub signed for this search (and sort).
    /// The whole 32-byte tag must match: a shorter one would be a shorter
    /// guess. What the body says is checked too, though only the hub can
    /// have written it.
    fn open(&self, cursor: &str, search: &str, sort: Sort) -> Result<Position, ExchangeError> {
        let bad = || ExchangeError::invalid("cursor", "not a cursor this search returned");
        if cursor.len() > MAX_CURSOR_LEN {
            return Err(bad());
        }
        let (body, tag) = cursor.split_once('.').ok_or_else(bad)?;
        let body = URL_SAFE_NO_PAD.decode(body).map_err(|_| bad())?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| bad())?;
        let mut mac = self.mac();
        mac.update(&body);
        mac.verify_slice(&tag).map_err(|_| bad())?;
        let body: CursorBody = serde_json::from_slice(&body).map_err(|_| bad())?;
        if body.s != search || !position_fits(&body.p, sort) {
            return Err(bad());
        }
        Ok(body.p)
    }
}

impl Hub {
    #[tracing::instrument(skip_all, fields(caller = %caller.token_id))]
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
            filter: req.filter,
            available_at: req.available_now.then(Utc::now),
            statuses: req.statuses,
            published_after: req.published_after,
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
            // `cursor=` (an empty field of a form) is the first page.
            .filter(|c| !c.is_empty())
            .as_deref()
            .map(|c| Signer(&self.cursor_key).open(c, &fingerprint, sort))
            .transpose()?
            .or_else(|| {
                (req.skip > 0).then(|| Position::Offset {
                    n: req.skip.min(MAX_SKIP) as u64,
                })
            });
        let viewer = caller.viewer();
        let limit = req.limit;
        let index = self.index.clone();
        let page = self
            .catalog
            .read(move |c| catalog_search::search(c, &index, &viewer, &filters, sort, from.as_ref(), limit))
            .await?;
        Ok(SearchPage {
            items: page.items.into_iter().map(|s| s.program).collect(),
            next_cursor: page
                .next
                .map(|p| Signer(&self.cursor_key).sign(&CursorBody { p, s: fingerprint })),
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

    const KEY: [u8; 32] = [7; 32];

    fn body(p: Position) -> CursorBody {
        CursorBody { p, s: "search".into() }
    }

    #[test]
    fn cursors_open_only_with_their_whole_tag() {
        let signer = Signer(&KEY);
        let p = Position::AfterInt { key: 5, seq: 3 };
        let cursor = signer.sign(&body(p.clone()));
        assert_eq!(signer.open(&cursor, "search", Sort::Newest).unwrap(), p);
        assert!(signer.open(&cursor, "another search", Sort::Newest).is_err());
        assert!(signer.open(&cursor, "search", Sort::Title).is_err());
        assert!(Signer(&[8; 32]).open(&cursor, "search", Sort::Newest).is_err());
        // Every shorter prefix of the right tag is refused, down to one byte.
        let (payload, tag) = cursor.split_once('.').unwrap();
        let tag = URL_SAFE_NO_PAD.decode(tag).unwrap();
        assert_eq!(tag.len(), 32);
        for n in 0..32 {
            let short = format!("{payload}.{}", URL_SAFE_NO_PAD.encode(&tag[..n]));
            assert!(signer.open(&short, "search", Sort::Newest).is_err(), "{n} bytes");
        }
    }

    #[test]
    fn signed_cursors_with_impossible_positions_are_refused() {
        let signer = Signer(&KEY);
        for (p, sort) in [
            (Position::Offset { n: u64::MAX }, Sort::Relevance),
            (Position::Offset { n: MAX_OFFSET + 1 }, Sort::Relevance),
            (Position::Offset { n: 0 }, Sort::Newest),
            (Position::AfterInt { key: 0, seq: -1 }, Sort::Newest),
            (Position::AfterInt { key: 0, seq: 1 }, Sort::Title),
            (
                Position::AfterText {
                    key: "x".into(),
                    seq: 0,
                },
                Sort::Title,
            ),
        ] {
            let cursor = signer.sign(&body(p.clone()));
            assert!(signer.open(&cursor, "search", sort).is_err(), "{p:?} {sort:?}");
        }
    }

    mod prop {
        use proptest::prelude::*;

        use super::*;

        fn position() -> impl Strategy<Value = Position> {
            prop_oneof![
                any::<u64>().prop_map(|n| Position::Offset { n }),
                (any::<i64>(), any::<i64>()).prop_map(|(key, seq)| Position::AfterInt { key, seq }),
                (".{0,20}", any::<i64>()).prop_map(|(key, seq)| Position::AfterText { key, seq }),
            ]
        }

        fn sort() -> impl Strategy<Value = Sort> {
            prop_oneof![
                Just(Sort::Relevance),
                Just(Sort::Newest),
                Just(Sort::Aired),
                Just(Sort::Title)
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(1_000))]

            /// Whatever a client sends as a cursor, opening it answers, and
            /// only what the hub signed opens.
            #[test]
            fn random_cursors_are_refused_without_panicking(
                cursor in prop_oneof![".{0,80}", "[A-Za-z0-9_-]{0,60}\\.[A-Za-z0-9_-]{0,50}"],
                sort in sort(),
            ) {
                prop_assert!(Signer(&KEY).open(&cursor, "search", sort).is_err());
            }

            /// A signed cursor opens to its position exactly when that
            /// position is one the sort can make.
            #[test]
            fn signed_cursors_open_to_fitting_positions(p in position(), sort in sort(), tag_byte in any::<u8>()) {
                let signer = Signer(&KEY);
                let cursor = signer.sign(&body(p.clone()));
                let opened = signer.open(&cursor, "search", sort);
                prop_assert_eq!(opened.ok(), position_fits(&p, sort).then_some(p));
                // One byte of tag is one guess in 256: never enough.
                let (payload, _) = cursor.split_once('.').unwrap();
                let guess = format!("{payload}.{}", URL_SAFE_NO_PAD.encode([tag_byte]));
                prop_assert!(signer.open(&guess, "search", sort).is_err());
            }
        }
    }
}
