//! The server side of what the pull agent fetches: its station's feed in
//! scope `follows` (see [`super::feed`]), and the back-fill of a follow, the
//! latest programs it matches, for a station that joins late. The agent
//! keeps its own place in the feed.

use chrono::Utc;

use super::follows::follower;
use crate::catalog::{download_lists, follows, programs};
use crate::domain::follow::{Rule, SavedSearch};
use crate::domain::{Login, Program, Sort, StationId, Viewer};
use crate::exchange::rights::{may_see, may_take, NotNow};
use crate::exchange::search::SearchRequest;
use crate::exchange::tokens::Caller;
use crate::exchange::{ExchangeError, Hub};

/// The agent channel's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentSettings {
    /// Pages of search candidates one back-fill looks through, at most.
    pub backfill_pages: usize,
}

impl Default for AgentSettings {
    fn default() -> Self {
        Self { backfill_pages: 10 }
    }
}

/// Whether the viewer may take `p` now or once its window opens: what a
/// follow delivers (a withdrawn program, one out of its window for good or
/// one it may not see, is not).
fn deliverable(viewer: &Viewer, p: &Program) -> bool {
    let open = match may_take(viewer, p, Utc::now()) {
        Ok(()) | Err(NotNow::NotYetAvailable) => true,
        Err(_) => false,
    };
    open && may_see(viewer, p)
}

/// A search that finds at least the programs `rule` matches, so that
/// back-filling looks through the index, not the whole catalog (a list is
/// read from the list, never searched).
fn search_for(rule: &Rule, value: &str) -> SearchRequest {
    let mut req = SearchRequest {
        sort: Some(Sort::Aired),
        limit: 100,
        ..Default::default()
    };
    match rule {
        Rule::Series(_) => req.q = Some(value.to_owned()),
        Rule::Station(s) => req.filter.stations = vec![s.clone()],
        Rule::Genre(g) => req.filter.genres = vec![*g],
        Rule::Search(SavedSearch { words, filter }) => {
            req.q = (!words.is_empty()).then(|| words.join(" "));
            req.filter = filter.clone();
        }
        Rule::List(_) => {}
    }
    req
}

impl Hub {
    /// The latest programs (by first airing) that follow `id` matches and the
    /// caller may still take, now or once their window opens: what a late
    /// joiner back-fills. At most `limit`.
    #[tracing::instrument(skip_all, fields(caller = %caller.token_id))]
    pub async fn followed_programs(
        &self,
        caller: &Caller,
        id: String,
        limit: usize,
    ) -> Result<Vec<Program>, ExchangeError> {
        let station = follower(caller)?.clone();
        let of = station.clone();
        let follow = self
            .catalog
            .read(move |c| follows::get(c, &of, &id))
            .await?
            .ok_or(ExchangeError::NotFound)?;
        let Some(rule) = follow.rule() else {
            return Ok(Vec::new());
        };
        let viewer: Viewer = caller.viewer();
        if let Rule::List(login) = rule {
            return self.listed_programs(viewer, station, login, limit).await;
        }
        let mut req = search_for(&rule, &follow.value);
        let mut out = Vec::new();
        // A bounded look: a few pages of the index's candidates.
        for _ in 0..self.settings.delivery.agent.backfill_pages {
            let page = self.search(caller, req.clone()).await?;
            for p in page.items {
                if out.len() < limit && deliverable(&viewer, &p) && rule.matches(&p) {
                    out.push(p);
                }
            }
            match page.next_cursor {
                Some(c) if out.len() < limit => req.cursor = Some(c),
                _ => break,
            }
        }
        Ok(out)
    }

    /// The programs on the download list of `station`'s person `login` that
    /// `viewer` may take now or once their window opens, in the order they
    /// were put on it; at most `limit`.
    async fn listed_programs(
        &self,
        viewer: Viewer,
        station: StationId,
        login: Login,
        limit: usize,
    ) -> Result<Vec<Program>, ExchangeError> {
        self.catalog
            .read(move |c| {
                let mut out = Vec::new();
                for id in download_lists::of_login(c, &station, &login)? {
                    match programs::get(c, id)? {
                        Some(s) if out.len() < limit && deliverable(&viewer, &s.program) => out.push(s.program),
                        _ => {}
                    }
                }
                Ok(out)
            })
            .await
    }
}
