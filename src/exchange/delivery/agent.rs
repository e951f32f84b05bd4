//! The server side of what the pull agent fetches: its station's feed in
//! scope `follows` (see [`super::feed`]), and the back-fill of a follow, the
//! latest programs it matches, for a station that joins late. The agent
//! keeps its own place in the feed.

use chrono::Utc;

use super::follows::follower;
use crate::catalog::follows;
use crate::domain::follow::{Rule, SavedSearch};
use crate::domain::{Program, Sort, Viewer};
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

/// A search that finds at least the programs `rule` matches, so that
/// back-filling looks through the index, not the whole catalog.
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
        let follow = self
            .catalog
            .read(move |c| follows::get(c, &station, &id))
            .await?
            .ok_or(ExchangeError::NotFound)?;
        let Some(rule) = follow.rule() else {
            return Ok(Vec::new());
        };
        let viewer: Viewer = caller.viewer();
        let mut req = search_for(&rule, &follow.value);
        let mut out = Vec::new();
        // A bounded look: a few pages of the index's candidates.
        for _ in 0..self.settings.delivery.agent.backfill_pages {
            let page = self.search(caller, req.clone()).await?;
            for p in page.items {
                let open = match may_take(&viewer, &p, Utc::now()) {
                    Ok(()) | Err(NotNow::NotYetAvailable) => true,
                    Err(_) => false,
                };
                if out.len() < limit && open && may_see(&viewer, &p) && rule.matches(&p) {
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
}
