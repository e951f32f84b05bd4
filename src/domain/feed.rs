//! The change feed's nouns: what happened to a program (an event), who is
//! told by webhook (a subscription), and each telling (a delivery).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ProgramId, Secret, StationId};

/// What happened to a program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub enum EventType {
    #[serde(rename = "program.published")]
    Published,
    #[serde(rename = "program.updated")]
    Updated,
    #[serde(rename = "program.withdrawn")]
    Withdrawn,
    #[serde(rename = "file.replaced")]
    FileReplaced,
    /// A file of the program was analysed (its QC verdict is in the
    /// program's `files[].analysis`).
    #[serde(rename = "file.analyzed")]
    FileAnalyzed,
}

impl EventType {
    pub const ALL: [EventType; 5] = [
        Self::Published,
        Self::Updated,
        Self::Withdrawn,
        Self::FileReplaced,
        Self::FileAnalyzed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Published => "program.published",
            Self::Updated => "program.updated",
            Self::Withdrawn => "program.withdrawn",
            Self::FileReplaced => "file.replaced",
            Self::FileAnalyzed => "file.analyzed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// One entry of the change feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Its place in the feed: increasing, never reused.
    pub seq: i64,
    pub kind: EventType,
    pub program_id: ProgramId,
    pub at: DateTime<Utc>,
}

/// A subscription: events of `events` are posted to `url`, signed with
/// `secret`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    pub id: String,
    /// The subscriber; `None`: the hub operator.
    pub station: Option<StationId>,
    pub url: String,
    pub events: Vec<EventType>,
    pub secret: Secret,
    pub created_at: DateTime<Utc>,
    /// The token that made it; revoking the token ends the subscription.
    /// `None` for subscriptions older than this record.
    pub token_id: Option<String>,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Not yet delivered; tried again at its next attempt.
    Pending,
    Delivered,
    /// Given up (too many attempts, a refused address, or the subscription
    /// ended).
    Failed,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Delivered, Self::Failed]
            .into_iter()
            .find(|t| t.as_str() == s)
    }
}

/// One event, told to one subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: String,
    pub webhook_id: String,
    pub event_seq: i64,
    pub state: DeliveryState,
    pub attempts: u32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_back() {
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Some(t));
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
        }
        assert_eq!(EventType::parse("program.deleted"), None);
        assert_eq!(DeliveryState::parse("delivered"), Some(DeliveryState::Delivered));
    }
}
