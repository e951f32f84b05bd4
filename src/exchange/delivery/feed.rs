//! The change feed: events written with the changes they describe, read in
//! one total order: by the national broadcasters whole, by every other
//! station for what it follows.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rusqlite::Transaction;

use super::follows::Following;
use super::rights::may_see;
use super::tokens::Caller;
use super::{ExchangeError, Hub};
use crate::catalog::events;
use crate::catalog::programs::{self, Stored};
use crate::catalog::{self, stations, webhooks};
use crate::domain::{Event, EventType, Program, Role, StationId, StationKind, Viewer};

/// Records `kind` for the program (as the transaction has it now), and a
/// delivery for every webhook subscribed to it whose owner may see it.
pub(super) fn emit(
    tx: &Transaction<'_>,
    kind: EventType,
    program_id: crate::domain::ProgramId,
) -> rusqlite::Result<()> {
    let Some(stored) = programs::get(tx, program_id)? else {
        return Ok(());
    };
    let now = catalog::now();
    let seq = events::append(tx, kind, stored.seq, now)?;
    for hook in webhooks::all(tx)? {
        if !hook.events.contains(&kind) {
            continue;
        }
        let viewer = subscriber(tx, hook.station.as_ref())?;
        // A provincial station hears of what it follows, as its feed shows.
        let follows_it = match (&viewer, &hook.station) {
            (Viewer::Station { national: false, .. }, Some(station)) => {
                !Following::load(tx, station)?.matching(&stored.program).is_empty()
            }
            _ => true,
        };
        if follows_it && may_see(&viewer, &stored.program) {
            webhooks::enqueue(tx, &uuid::Uuid::new_v4().to_string(), &hook.id, seq, now)?;
        }
    }
    Ok(())
}

/// Who a webhook's owner is, for the rights rule.
pub(super) fn subscriber(conn: &rusqlite::Connection, station: Option<&StationId>) -> rusqlite::Result<Viewer> {
    let Some(id) = station else {
        return Ok(Viewer::Admin);
    };
    let national = stations::get(conn, id)?.is_some_and(|s| s.kind == StationKind::National);
    Ok(Viewer::Station {
        id: id.clone(),
        national,
    })
}

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
        (Role::Admin, None | Some(FeedScope::All)) => Ok(FeedScope::All),
        (Role::Admin, Some(FeedScope::Follows)) => {
            Err(ExchangeError::invalid("scope", "the hub operator follows nothing"))
        }
    }
}

/// How many events one request looks at, at most, for the ones the caller
/// may see.
const SCAN: usize = 5_000;

/// Who reads a feed, and what of it.
struct Reader {
    viewer: Viewer,
    scope: FeedScope,
    following: Following,
}

impl Reader {
    fn load(c: &rusqlite::Connection, caller: &Caller, scope: FeedScope) -> rusqlite::Result<Self> {
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
    fn take(&self, c: &rusqlite::Connection, e: Event) -> rusqlite::Result<Option<FeedItem>> {
        let Some(Stored { program, .. }) = programs::get(c, e.program_id)? else {
            return Ok(None);
        };
        if !may_see(&self.viewer, &program) {
            return Ok(None);
        }
        let follows = self.following.matching(&program);
        if self.scope == FeedScope::Follows && follows.is_empty() {
            return Ok(None);
        }
        Ok(Some((e, program, follows)))
    }
}

impl Hub {
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
        let scope = scope_for(caller, scope)?;
        let mut seq = match after.as_deref() {
            None => 0,
            Some(c) => decode(c).ok_or_else(|| ExchangeError::invalid("after", "not a cursor this feed returned"))?,
        };
        let caller = caller.clone();
        self.catalog
            .read(move |c| {
                let reader = Reader::load(c, &caller, scope)?;
                let mut items = Vec::new();
                let mut scanned = 0;
                'scan: while scanned < SCAN {
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
        let scope = scope_for(caller, scope)?;
        let caller = caller.clone();
        self.catalog
            .read(move |c| {
                let reader = Reader::load(c, &caller, scope)?;
                let mut items = Vec::new();
                let mut before = None;
                let mut scanned = 0;
                while items.len() < limit && scanned < SCAN {
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
