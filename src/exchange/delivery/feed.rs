//! The change feed: events written with the changes they describe, read in
//! one total order: by the national broadcasters whole, by every other
//! station for what it follows.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use super::follows::Following;
use crate::catalog::events;
use crate::catalog::programs::{self, Stored};
use crate::catalog::{Connection, DbResult};
use crate::domain::{Event, Program, ProgramStatus, Role, Viewer};
use crate::exchange::rights::may_see;
use crate::exchange::tokens::Caller;
use crate::exchange::{ExchangeError, Hub};

/// One event of the feed, with the program as it is now and the ids of the
/// caller's follows that match it.
pub type FeedItem = (Event, Program, Vec<String>);

/// A page of the feed.
pub struct FeedPage {
    pub items: Vec<FeedItem>,
    /// Where to ask next, also when the page is empty.
    pub next_cursor: String,
}

/// Which events a feed holds (of programs the caller may see).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedScope {
    /// Every event: the national broadcasters' and the operator's default.
    All,
    /// Events of programs the caller's station follows: a provincial
    /// station's feed, and a national broadcaster's when it asks.
    Follows,
}

fn encode(seq: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("e{seq}"))
}

/// A cursor [`encode`] wrote, and only that: one position has one cursor.
fn decode(cursor: &str) -> Option<i64> {
    let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(cursor).ok()?).ok()?;
    raw.strip_prefix('e')?
        .parse()
        .ok()
        .filter(|s: &i64| *s >= 0 && encode(*s) == cursor)
}

/// The scope a caller gets: a provincial station's feed is what it follows;
/// the whole feed is for the national broadcasters and the operator, who
/// follows nothing.
fn scope_for(caller: &Caller, asked: Option<FeedScope>) -> Result<FeedScope, ExchangeError> {
    match (caller.role, asked) {
        (Role::Station, None | Some(FeedScope::Follows)) => Ok(FeedScope::Follows),
        (Role::Station, Some(FeedScope::All)) => Err(ExchangeError::Forbidden(
            "the whole feed is for national broadcasters; a station's feed holds what it follows",
        )),
        (Role::National, asked) => Ok(asked.unwrap_or(FeedScope::All)),
        (Role::Peer, None | Some(FeedScope::All)) => Ok(FeedScope::All),
        (Role::Peer, Some(FeedScope::Follows)) => Err(ExchangeError::invalid(
            "scope",
            "a peer hub reads every event it may see and follows nothing",
        )),
        (Role::Admin, None | Some(FeedScope::All)) => Ok(FeedScope::All),
        (Role::Admin, Some(FeedScope::Follows)) => Err(ExchangeError::Forbidden(
            "the hub operator follows nothing; its feed is the whole feed",
        )),
    }
}

/// The feed's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedSettings {
    /// How many events one request looks at, at most, for the ones the
    /// caller may see.
    pub scan: usize,
}

impl Default for FeedSettings {
    fn default() -> Self {
        Self { scan: 5_000 }
    }
}

/// Who reads a feed, and what of it.
struct Reader {
    viewer: Viewer,
    scope: FeedScope,
    following: Following,
}

impl Reader {
    fn load(c: &Connection, caller: &Caller, scope: FeedScope) -> DbResult<Self> {
        Ok(Self {
            viewer: caller.viewer(),
            scope,
            following: match &caller.station {
                Some(s) => Following::load(c, s)?,
                None => Following::default(),
            },
        })
    }

    /// The event as this reader gets it, if it gets it at all.
    fn take(&self, c: &Connection, e: Event) -> DbResult<Option<FeedItem>> {
        let Some(Stored { program, seq }) = programs::get(c, e.program_id)? else {
            return Ok(None);
        };
        // A peer hub also hears of what it saw and may see no more (its
        // audience narrowed from `all`), to withdraw its mirror.
        let unshared = || -> DbResult<bool> {
            Ok(matches!(self.viewer, Viewer::Peer { .. })
                && program.status != ProgramStatus::Draft
                && program.origin.is_none()
                && crate::catalog::peers::is_unshared(c, seq)?)
        };
        let program = if may_see(&self.viewer, &program) {
            program
        } else if unshared()? {
            // What it may see no more is told by its id, status and audience
            // alone: enough to withdraw a mirror, nothing of what it holds.
            only_its_rights(program)
        } else {
            return Ok(None);
        };
        let follows = self.following.matching(&program);
        if self.scope == FeedScope::Follows && follows.is_empty() {
            return Ok(None);
        }
        Ok(Some((e, program, follows)))
    }
}

/// `program` without its words, people, files or named stations.
fn only_its_rights(mut program: Program) -> Program {
    let m = &mut program.meta;
    m.title.clear();
    (m.summary, m.description, m.series, m.episode) = (None, None, None, None);
    (m.first_aired_at, m.duration_seconds) = (None, None);
    m.tags.clear();
    m.credits.clear();
    m.rights.stations.clear();
    m.rights.terms = None;
    program.withdrawal_reason = None;
    program.files.clear();
    program
}

impl Hub {
    /// Runs `read` on the catalog with the reader `caller` is, in the scope
    /// it gets, and how many events one request may look at.
    async fn read_feed<R: Send + 'static>(
        &self,
        caller: &Caller,
        scope: Option<FeedScope>,
        read: impl FnOnce(&Connection, &Reader, usize) -> Result<R, ExchangeError> + Send + 'static,
    ) -> Result<R, ExchangeError> {
        let scope = scope_for(caller, scope)?;
        let caller = caller.clone();
        let scan = self.settings.delivery.feed.scan;
        self.catalog
            .read(move |c| read(c, &Reader::load(c, &caller, scope)?, scan))
            .await
    }

    /// Events after `after`, oldest first, of programs the caller may see
    /// (and, in scope `Follows`, follows).
    #[tracing::instrument(skip_all, fields(caller = %caller.token_id))]
    pub async fn feed(
        &self,
        caller: &Caller,
        after: Option<String>,
        limit: usize,
        scope: Option<FeedScope>,
    ) -> Result<FeedPage, ExchangeError> {
        self.read_feed(caller, scope, move |c, reader, scan| {
            // `after=` (empty) is the start, as no `after` is.
            let mut seq = match after.as_deref().filter(|a| !a.is_empty()) {
                None => 0,
                Some(cursor) => {
                    decode(cursor).ok_or_else(|| ExchangeError::invalid("after", "not a cursor this feed returned"))?
                }
            };
            let mut items = Vec::new();
            let mut scanned = 0;
            'scan: while scanned < scan {
                let batch = events::after(c, seq, 200)?;
                if batch.is_empty() {
                    break;
                }
                for e in batch {
                    scanned += 1;
                    seq = e.seq;
                    if let Some(item) = reader.take(c, e)? {
                        items.push(item);
                        if items.len() == limit {
                            break 'scan;
                        }
                    }
                }
            }
            Ok(FeedPage {
                items,
                next_cursor: encode(seq),
            })
        })
        .await
    }

    /// The newest `limit` events the caller gets, newest first (Atom).
    #[tracing::instrument(skip_all, fields(caller = %caller.token_id))]
    pub async fn recent(
        &self,
        caller: &Caller,
        limit: usize,
        scope: Option<FeedScope>,
    ) -> Result<Vec<FeedItem>, ExchangeError> {
        self.read_feed(caller, scope, move |c, reader, scan| {
            let mut items = Vec::new();
            let mut before = None;
            let mut scanned = 0;
            while items.len() < limit && scanned < scan {
                let batch = events::before(c, before, 200)?;
                if batch.is_empty() {
                    break;
                }
                for e in batch {
                    scanned += 1;
                    before = Some(e.seq);
                    if items.len() < limit {
                        items.extend(reader.take(c, e)?);
                    }
                }
            }
            Ok(items)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_forgeries() {
        assert_eq!(decode(&encode(0)), Some(0));
        assert_eq!(decode(&encode(12345)), Some(12345));
        for bad in [
            "",
            "12",
            "ZQ",
            "!!!",
            &URL_SAFE_NO_PAD.encode("e-1"),
            &URL_SAFE_NO_PAD.encode("x5"),
        ] {
            assert_eq!(decode(bad), None, "{bad}");
        }
    }

    mod prop {
        use proptest::prelude::*;

        use super::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(1_000))]

            #[test]
            fn cursors_round_trip(seq in 0..=i64::MAX) {
                prop_assert_eq!(decode(&encode(seq)), Some(seq));
            }

            /// Any `after=` decodes to a position the feed wrote, or to nothing.
            #[test]
            fn any_cursor_decodes_to_a_canonical_position_or_nothing(
                cursor in prop_oneof![
                    ".{0,30}",
                    "[+-]?[0-9]{0,25}".prop_map(|n| URL_SAFE_NO_PAD.encode(format!("e{n}"))),
                ],
            ) {
                if let Some(seq) = decode(&cursor) {
                    prop_assert!(seq >= 0);
                    prop_assert_eq!(encode(seq), cursor);
                }
            }
        }
    }
}
