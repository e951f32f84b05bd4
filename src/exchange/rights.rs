//! The one rule of who may see and who may take a program. Search asks the
//! same questions in SQL (`catalog::search`); the rights tests assert both
//! through every endpoint.

use chrono::{DateTime, Utc};

use crate::domain::{Audience, Program, ProgramStatus, Viewer};

/// Whether `viewer` may see `program` at all. Others' drafts are never seen;
/// a station outside the audience never sees it; a withdrawn program stays
/// visible to its audience (its downloads answer 410) but leaves search.
///
/// A peer hub sees exactly this hub's own programs whose audience is `all`,
/// never a draft, and never what this hub mirrored from a peer (no
/// transitive hops); it owns nothing, not even programs mirrored from it.
pub fn may_see(viewer: &Viewer, program: &Program) -> bool {
    match viewer {
        Viewer::Admin => true,
        Viewer::Peer { .. } => {
            program.status != ProgramStatus::Draft
                && program.meta.rights.audience == Audience::All
                && program.origin.is_none()
        }
        Viewer::Station { id, .. } if *id == program.station => true,
        Viewer::Station { .. } if program.status == ProgramStatus::Draft => false,
        Viewer::Station { id, national } => match program.meta.rights.audience {
            Audience::Cluster | Audience::All => true,
            Audience::National => *national,
            Audience::Stations => program.meta.rights.stations.contains(id),
        },
    }
}

/// Whether `viewer` may change `program` (its metadata, files, life cycle).
/// A mirrored program belongs to its origin, and no one here changes it.
pub fn owns(viewer: &Viewer, program: &Program) -> bool {
    program.origin.is_none() && matches!(viewer, Viewer::Station { id, .. } if *id == program.station)
}

/// Why a program that can be seen cannot be taken now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotNow {
    Withdrawn,
    /// Its rebroadcast window has not opened yet.
    NotYetAvailable,
    /// Its rebroadcast window has closed.
    NoLongerAvailable,
}

impl NotNow {
    pub fn as_str(self) -> &'static str {
        match self {
            NotNow::Withdrawn => "withdrawn",
            NotNow::NotYetAvailable => "not_yet_available",
            NotNow::NoLongerAvailable => "no_longer_available",
        }
    }
}

/// Whether `viewer`, who may see `program`, may take (download) it at `now`.
/// The owner and the admin always may.
pub fn may_take(viewer: &Viewer, program: &Program, now: DateTime<Utc>) -> Result<(), NotNow> {
    if owns(viewer, program) || *viewer == Viewer::Admin {
        return Ok(());
    }
    if program.status == ProgramStatus::Withdrawn {
        return Err(NotNow::Withdrawn);
    }
    let rights = &program.meta.rights;
    if rights.available_from.is_some_and(|from| now < from) {
        return Err(NotNow::NotYetAvailable);
    }
    if rights.available_until.is_some_and(|until| now >= until) {
        return Err(NotNow::NoLongerAvailable);
    }
    Ok(())
}
