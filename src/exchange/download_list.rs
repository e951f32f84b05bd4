//! A person's download list ("Danh sách tải"): programs they may see,
//! picked to take one by one; for each, whether their station took it and
//! whether it reported a rebroadcast of it.

use super::programs::visible;
use super::tokens::Caller;
use super::{ExchangeError, Hub};
use crate::catalog::{self, download_lists, ledger, programs, DbError};
use crate::domain::{PersonId, Program, ProgramId};

/// The most programs one list holds: as many as one answer of a follow's
/// programs (`GET /api/v1/follows/{id}/programs?limit=100`), so that the
/// pull agent reads a list handed to it whole.
pub const MAX_LISTED: usize = 100;

/// A program on the list.
#[derive(Debug, Clone)]
pub struct Listed {
    pub program: Program,
    /// The caller's station took it (a file of it).
    pub taken: bool,
    /// The caller's station reported a rebroadcast of it.
    pub rebroadcast: bool,
}

/// The list belongs to a person (a token has none).
fn person(caller: &Caller) -> Result<PersonId, ExchangeError> {
    caller
        .person
        .as_ref()
        .map(|p| p.id.clone())
        .ok_or(ExchangeError::Forbidden("the download list belongs to a person"))
}

impl Hub {
    /// Puts program `id`, which the caller may see, on their list (once).
    #[tracing::instrument(skip_all, fields(caller = %caller.token_id, program = %id))]
    pub async fn list_add(&self, caller: &Caller, id: ProgramId) -> Result<(), ExchangeError> {
        let (who, viewer) = (person(caller)?, caller.viewer());
        self.catalog
            .write(move |tx| {
                let s = visible(tx, &viewer, id)?;
                if download_lists::count(tx, &who)? >= MAX_LISTED {
                    return Err(ExchangeError::invalid(
                        "id",
                        format!("the download list holds at most {MAX_LISTED} programs"),
                    ));
                }
                download_lists::add(tx, &who, s.seq, catalog::now())?;
                Ok(())
            })
            .await
    }

    /// Takes program `id` off the caller's list; not found when it is not on it.
    #[tracing::instrument(skip_all, fields(caller = %caller.token_id, program = %id))]
    pub async fn list_remove(&self, caller: &Caller, id: ProgramId) -> Result<(), ExchangeError> {
        let who = person(caller)?;
        self.catalog
            .write(move |tx| {
                let seq = programs::seq(tx, id)?.ok_or(ExchangeError::NotFound)?;
                if download_lists::remove(tx, &who, seq)? {
                    Ok(())
                } else {
                    Err(ExchangeError::NotFound)
                }
            })
            .await
    }

    /// The caller's list, in the order it was made, with what their station
    /// did with each; a program they may no longer see is left out.
    #[tracing::instrument(skip_all, fields(caller = %caller.token_id))]
    pub async fn download_list(&self, caller: &Caller) -> Result<Vec<Listed>, ExchangeError> {
        let (who, viewer, station) = (person(caller)?, caller.viewer(), caller.station.clone());
        self.catalog
            .read(move |c| {
                let mut out = Vec::new();
                for id in download_lists::list(c, &who)? {
                    let Ok(s) = visible(c, &viewer, id) else { continue };
                    let (taken, rebroadcast) = match &station {
                        Some(me) => (
                            ledger::has_taken(c, me, s.seq)?,
                            ledger::rebroadcasts(c, s.seq)?.iter().any(|r| r.station == *me),
                        ),
                        None => (false, false),
                    };
                    out.push(Listed {
                        program: s.program,
                        taken,
                        rebroadcast,
                    });
                }
                Ok::<_, DbError>(out)
            })
            .await
            .map_err(Into::into)
    }

    /// The number of programs on the caller's list.
    pub async fn list_count(&self, caller: &Caller) -> Result<usize, ExchangeError> {
        let who = person(caller)?;
        Ok(self.catalog.read(move |c| download_lists::count(c, &who)).await?)
    }
}
