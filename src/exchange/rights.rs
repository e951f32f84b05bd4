//! Who may see a program. Search asks the same question in SQL
//! (`catalog::search`); a test below keeps the two in step.

use crate::domain::{Audience, Program, ProgramStatus, Viewer};

/// Whether `viewer` may see `program` at all. Others' drafts are never seen;
/// a withdrawn program stays visible to its audience (its downloads answer
/// 410) but leaves search.
pub fn may_see(viewer: &Viewer, program: &Program) -> bool {
    match viewer {
        Viewer::Admin => true,
        Viewer::Station { id, .. } if *id == program.station => true,
        Viewer::Station { .. } if program.status == ProgramStatus::Draft => false,
        Viewer::Station { id, national } => match program.meta.rights.audience {
            Audience::Cluster => true,
            Audience::National => *national,
            Audience::Stations => program.meta.rights.stations.contains(id),
        },
    }
}

/// Whether `viewer` may change `program` (its metadata, files, life cycle).
pub fn owns(viewer: &Viewer, program: &Program) -> bool {
    matches!(viewer, Viewer::Station { id, .. } if *id == program.station)
}
