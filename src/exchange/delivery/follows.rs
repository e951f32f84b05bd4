//! Follows: a station says once what it carries; the feed, its webhooks and
//! its pull agent then bring each new matching program by themselves.

use std::collections::HashSet;

use crate::catalog::{self, download_lists, follows, stations};
use crate::catalog::{Connection, DbResult};
use crate::domain::follow::Rule;
use crate::domain::{FieldError, FileRole, Follow, FollowKind, Program, ProgramId, StationId};
use crate::exchange::error::code;
use crate::exchange::tokens::Caller;
use crate::exchange::{ExchangeError, Hub};

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
    /// A delivery profile's id.
    pub profile: Option<String>,
    /// Digits.
    pub cut_id: Option<String>,
    /// A push target of the station's, for a delivering follow.
    pub target: Option<String>,
}

impl NewFollow {
    /// A follow of the master, without profile, cut ID, target or back-fill:
    /// what the pages make.
    pub fn plain(kind: FollowKind, value: String, deliver: bool) -> Self {
        Self {
            kind,
            value,
            deliver,
            roles: None,
            backfill: 0,
            profile: None,
            cut_id: None,
            target: None,
        }
    }
}

/// What one follow matches: a rule judges the program; a list is asked.
#[derive(Debug, Clone)]
enum Matcher {
    Rule(Rule),
    /// The programs on the person's download list now.
    Listed(HashSet<ProgramId>),
}

/// A station's follows, as rules (and lists), to judge programs by: the
/// hub's one follow matcher, for the feed, webhooks and renditions' cut IDs.
#[derive(Debug, Clone, Default)]
pub struct Following(Vec<(String, Matcher)>);

impl Following {
    pub(in crate::exchange) fn load(conn: &Connection, station: &StationId) -> DbResult<Self> {
        let mut all = Vec::new();
        for f in follows::of_station(conn, station)? {
            let matcher = match f.rule() {
                Some(Rule::List(login)) => {
                    Matcher::Listed(download_lists::of_login(conn, station, &login)?.into_iter().collect())
                }
                Some(rule) => Matcher::Rule(rule),
                None => continue,
            };
            all.push((f.id, matcher));
        }
        Ok(Self(all))
    }

    /// The ids of the follows that match `program`.
    pub fn matching(&self, program: &Program) -> Vec<String> {
        self.0
            .iter()
            .filter(|(_, m)| match m {
                Matcher::Rule(rule) => rule.matches(program),
                Matcher::Listed(ids) => ids.contains(&program.id),
            })
            .map(|(id, _)| id.clone())
            .collect()
    }
}

/// Follows belong to a station; the operator follows nothing.
pub(super) fn follower(caller: &Caller) -> Result<&StationId, ExchangeError> {
    caller.station.as_ref().ok_or(ExchangeError::Forbidden(
        "follows belong to a station; the operator has none",
    ))
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
        if new.target.is_some() && !new.deliver {
            errors.push(FieldError::new("target", "a push target needs `deliver: true`"));
        } else if new.target.is_some() && new.kind == FollowKind::List {
            errors.push(FieldError::new(
                "target",
                "a list is handed to the station's pull agent, not pushed: put it on a series, station, genre or search follow",
            ));
        }
        if new.backfill > MAX_BACKFILL {
            errors.push(FieldError::new("backfill", format!("must be at most {MAX_BACKFILL}")));
        }
        let cut_id = match new.cut_id.as_deref().map(crate::domain::profile::parse_cut_id) {
            Some(Err(why)) => {
                errors.push(FieldError::new("cut_id", why));
                None
            }
            Some(Ok(c)) => Some(c),
            None => None,
        };
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
            profile: new.profile,
            cut_id,
            target: new.target,
            created_at: catalog::now(),
        };
        let stored = f.clone();
        self.catalog
            .write(move |tx| {
                match &rule {
                    Rule::Station(id) if stations::get(tx, id)?.is_none() => {
                        return Err(ExchangeError::invalid("value", "no station has this id"));
                    }
                    // Another station's people are not told apart from nobody.
                    Rule::List(login) if download_lists::owner(tx, &stored.station, login)?.is_none() => {
                        return Err(ExchangeError::invalid(
                            "value",
                            "no person of the station has this login",
                        ));
                    }
                    _ => {}
                }
                if let Some(p) = &stored.profile {
                    if catalog::renditions::profile(tx, p)?.is_none() {
                        return Err(ExchangeError::invalid("profile", "no profile has this id"));
                    }
                }
                if let Some(target) = &stored.target {
                    if crate::catalog::push::target_of(tx, Some(&stored.station), target)?.is_none() {
                        return Err(ExchangeError::invalid(
                            "target",
                            "no push target of the station has this id",
                        ));
                    }
                }
                if follows::count(tx, &stored.station)? >= MAX_FOLLOWS {
                    return Err(ExchangeError::conflict(
                        code::TOO_MANY_FOLLOWS,
                        format!("a station may have at most {MAX_FOLLOWS} follows; remove one first"),
                    ));
                }
                if !follows::insert(tx, &stored, &rule.key())? {
                    return Err(ExchangeError::conflict(
                        code::ALREADY_FOLLOWING,
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
}
