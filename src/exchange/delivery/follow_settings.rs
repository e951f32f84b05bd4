//! How a follow delivers: its station's editors switch automatic delivery
//! on and off and choose the delivery profile, on "My station".

use crate::catalog::{self, follows};
use crate::domain::Follow;
use crate::exchange::tokens::Caller;
use crate::exchange::{ExchangeError, Hub};

use super::follows::follower;

/// What a station changes of one of its follows.
#[derive(Debug, Clone)]
pub struct FollowDelivery {
    /// Whether the pull agent (and a push target, if the follow has one)
    /// delivers what it matches. Off, a push target is kept for later.
    pub deliver: bool,
    /// A delivery profile's id; `None`: the station's default.
    pub profile: Option<String>,
}

impl Hub {
    /// Sets how follow `id` of the caller's station delivers; someone
    /// else's follow is not found. Editors only, as when following.
    #[tracing::instrument(skip_all, fields(caller = %caller.token_id))]
    pub async fn set_follow_delivery(
        &self,
        caller: &Caller,
        id: String,
        change: FollowDelivery,
    ) -> Result<Follow, ExchangeError> {
        let station = follower(caller)?.clone();
        if !caller.may_offer() {
            return Err(ExchangeError::Forbidden("delivery settings belong to editors"));
        }
        self.catalog
            .write(move |tx| {
                if let Some(p) = &change.profile {
                    if catalog::renditions::profile(tx, p)?.is_none() {
                        return Err(ExchangeError::invalid("profile", "no profile has this id"));
                    }
                }
                if !follows::set_delivery(tx, &station, &id, change.deliver, change.profile.as_deref())? {
                    return Err(ExchangeError::NotFound);
                }
                follows::get(tx, &station, &id)?.ok_or(ExchangeError::NotFound)
            })
            .await
    }
}
