//! The nouns of the hub, as types that parse instead of being validated later.
//! Nothing here does I/O.

pub mod analysis;
pub mod bwf;
mod digest;
mod feed;
pub mod file;
pub mod finding;
pub mod follow;
mod ledger;
mod peer;
pub mod person;
pub mod profile;
mod program;
pub mod push;
mod search;
mod secret;
mod station;
pub mod template;
pub mod text;

pub use analysis::{AnalysisState, FileAnalysis, Findings, Loudness, Qc, QcProfile, StreamInfo, Verdict};
pub use digest::Sha256;
pub use feed::{Delivery, DeliveryState, Event, EventType, Webhook};
pub use follow::{Follow, FollowKind};
pub use ledger::{Rebroadcast, StationNumbers, Take};
pub use peer::{EagerMirror, Peer, PeerUse};
pub use person::{Action, ActionKind, Login, Person, PersonId, PersonRole};
pub use program::{
    Audience, Credit, FileRecord, FileRole, Genre, LanguageTag, Origin, Program, ProgramId, ProgramInput, ProgramKind,
    ProgramMetadata, ProgramStatus, Rights, RightsInput, CLUSTER_LANGUAGES,
};
pub use push::{PushDelivery, PushState, PushTarget, TargetKind};
pub use search::{DateOrTime, Facets, OriginFilter, SearchFilter, Sort};
pub use secret::Secret;
pub use station::{Role, Station, StationId, StationKind, Viewer};

/// One offending field of a request, named by its JSON path (`rights.stations[1]`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}
