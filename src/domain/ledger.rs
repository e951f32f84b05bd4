//! The ledger's nouns: a take (a station received a whole file), a
//! rebroadcast, and one station's numbers over a period.

use chrono::{DateTime, Utc};

use super::{FileRole, ProgramId, Sha256, StationId};

/// A station received every byte of one of a program's files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Take {
    pub station: StationId,
    pub role: FileRole,
    /// The SHA-256 of the bytes taken.
    pub sha256: Sha256,
    pub size: u64,
    /// When its last byte reached the station.
    pub taken_at: DateTime<Utc>,
}

/// A station aired a program it took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rebroadcast {
    pub id: String,
    /// The station that aired it.
    pub station: StationId,
    pub program_id: ProgramId,
    pub aired_at: DateTime<Utc>,
    pub channel: String,
    pub note: Option<String>,
    pub reported_at: DateTime<Utc>,
}

/// One station's numbers over a period.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct StationNumbers {
    /// Programs it registered (created) in the period.
    pub contributed: u64,
    /// Programs it published in the period.
    pub published: u64,
    /// (Taker, program) pairs: its programs that other stations took.
    pub taken_by_others: u64,
    /// Programs of other stations it took.
    pub taken_from_others: u64,
    /// Rebroadcasts of its programs by other stations.
    pub rebroadcasts_of_its_programs: u64,
    /// Rebroadcasts it reported.
    pub rebroadcasts_made: u64,
}

impl std::ops::AddAssign for StationNumbers {
    fn add_assign(&mut self, n: Self) {
        self.contributed += n.contributed;
        self.published += n.published;
        self.taken_by_others += n.taken_by_others;
        self.taken_from_others += n.taken_from_others;
        self.rebroadcasts_of_its_programs += n.rebroadcasts_of_its_programs;
        self.rebroadcasts_made += n.rebroadcasts_made;
    }
}
