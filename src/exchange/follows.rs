//! Follows: a station says once what it carries; the feed, its webhooks and
//! its pull agent then bring each new matching program by themselves.

use chrono::Utc;
use rusqlite::Connection;

use super::rights::{may_see, may_take, NotNow};
use super::search::SearchRequest;
use super::tokens::Caller;
use super::{ExchangeError, Hub};
use crate::catalog::{self, follows, stations};
use crate::domain::follow::{Rule, SavedSearch};
use crate::domain::{FieldError, FileRole, Follow, FollowKind, Program, Sort, StationId, Viewer};

/// The most follows one station may have.
pub const MAX_FOLLOWS: usize = 200;
/// The most programs a follow back-fills.
pub const MAX_BACKFILL: u32 = 50;

/// A follow as a station asks for it.
#[derive(Debug, Clone)]
pub struct NewFollow {
    pub kind: FollowKind,
    pub value: String,
    pub deliver: bool,
    /// `master` when absent.
    pub roles: Option<Vec<FileRole>>,
    pub backfill: u32,
}

/// A station's follows, as rules, to judge programs by.
#[derive(Debug, Clone, Default)]
pub struct Following(Vec<(String, Rule)>);

impl Following {
    pub fn load(conn: &Connection, station: &StationId) -> rusqlite::Result<Self> {
        Ok(Self(
            follows::of_station(conn, station)?
                .into_iter()
                .filter_map(|f| Some((f.id.clone(), f.rule()?)))
                .collect(),
        ))
    }

    /// The ids of the follows that match `program`.
    pub fn matching(&self, program: &Program) -> Vec<String> {
        self.0
            .iter()
            .filter(|(_, rule)| rule.matches(program))
            .map(|(id, _)| id.clone())
            .collect()
    }
}

/// Follows belong to a station; the operator follows nothing.
fn follower(caller: &Caller) -> Result<&StationId, ExchangeError> {
    caller.station.as_ref().ok_or(ExchangeError::Forbidden(
        "follows belong to a station; the operator has none",
    ))
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
        Rule::Station(s) => req.stations = vec![s.clone()],
        Rule::Genre(g) => req.genres = vec![*g],
        Rule::Search(SavedSearch {
            words,
            stations,
            kinds,
            genres,
            languages,
            aired_from,
            aired_to,
            min_duration,
            max_duration,
        }) => {
            req.q = (!words.is_empty()).then(|| words.join(" "));
            req.stations = stations.clone();
            req.kinds = kinds.clone();
            req.genres = genres.clone();
            req.languages = languages.clone();
            req.aired_from = *aired_from;
            req.aired_to = *aired_to;
            req.min_duration = *min_duration;
            req.max_duration = *max_duration;
        }
    }
    req
}

impl Hub {
    #[tracing::instrument(skip_all, fields(caller = %caller.token_id))]
    pub async fn follow(&self, caller: &Caller, new: NewFollow) -> Result<Follow, ExchangeError> {
        let station = follower(caller)?.clone();
        if new.deliver && !caller.may_offer() {
            return Err(ExchangeError::Forbidden("delivery settings belong to editors"));
        }
        let mut errors = Vec::new();
        let value = match crate::domain::text::tidy(&new.value, false) {
            Ok(v) => v,
            Err(why) => {
                errors.push(FieldError::new("value", why));
                String::new()
            }
        };
        let rule = match Rule::parse(new.kind, &value) {
            Ok(rule) => Some(rule),
            Err(why) if errors.is_empty() => {
                errors.push(FieldError::new("value", why));
                None
            }
            Err(_) => None,
        };
        let mut roles: Vec<FileRole> = Vec::new();
        for r in new.roles.unwrap_or_else(|| vec![FileRole::Master]) {
            if !roles.contains(&r) {
                roles.push(r);
            }
        }
        if roles.is_empty() {
            errors.push(FieldError::new("roles", "name at least one file role"));
        }
        if new.backfill > MAX_BACKFILL {
            errors.push(FieldError::new("backfill", format!("must be at most {MAX_BACKFILL}")));
        }
        let Some(rule) = rule.filter(|_| errors.is_empty()) else {
            return Err(ExchangeError::Invalid(errors));
        };
        let f = Follow {
            id: uuid::Uuid::new_v4().to_string(),
            station,
            kind: new.kind,
            value,
            deliver: new.deliver,
            roles,
            backfill: new.backfill,
            created_at: catalog::now(),
        };
        let stored = f.clone();
        self.catalog
            .write(move |tx| {
                if let Rule::Station(id) = &rule {
                    if stations::get(tx, id)?.is_none() {
                        return Err(ExchangeError::invalid("value", "no station has this id"));
                    }
                }
                if follows::count(tx, &stored.station)? >= MAX_FOLLOWS {
                    return Err(ExchangeError::conflict(
                        "too_many_follows",
                        format!("a station may have at most {MAX_FOLLOWS} follows; remove one first"),
                    ));
                }
                if !follows::insert(tx, &stored, &rule.key())? {
                    return Err(ExchangeError::conflict(
                        "already_following",
                        "the station follows this already",
                    ));
                }
                Ok(())
            })
            .await?;
        Ok(f)
    }

    /// The caller station's follows, oldest first.
    #[tracing::instrument(skip_all, fields(caller = %caller.token_id))]
    pub async fn follows(&self, caller: &Caller) -> Result<Vec<Follow>, ExchangeError> {
        let station = follower(caller)?.clone();
        self.catalog.read(move |c| Ok(follows::of_station(c, &station)?)).await
    }

    /// Stops following; someone else's follow is not found.
    #[tracing::instrument(skip_all, fields(caller = %caller.token_id))]
    pub async fn unfollow(&self, caller: &Caller, id: String) -> Result<(), ExchangeError> {
        let station = follower(caller)?.clone();
        let gone = self.catalog.write(move |tx| follows::delete(tx, &station, &id)).await?;
        if gone {
            Ok(())
        } else {
            Err(ExchangeError::NotFound)
        }
    }

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
        // A bounded look: ten pages of the index's candidates.
        for _ in 0..10 {
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
