//! Stations' use-cases: add (the operator's), list, read. The names a
//! station is shown by are checked here; storing them is the catalog's.

use super::tokens::{require_admin, Caller};
use super::{ExchangeError, Hub};
use crate::catalog::stations;
use crate::catalog::Transaction;
use crate::domain::{FieldError, Station, StationId, StationKind};
use crate::exchange::error::code;

/// A station as an operator describes it, before it is checked.
#[derive(Debug, Clone)]
pub struct NewStation {
    pub id: String,
    pub name: String,
    pub province: String,
    pub kind: StationKind,
}

impl NewStation {
    fn parse(self) -> Result<Station, ExchangeError> {
        let mut errors = Vec::new();
        let id = StationId::parse(&self.id).map_err(|e| errors.push(FieldError::new("id", e)));
        let mut text = |field: &str, s: &str, max: usize| {
            let s = crate::domain::text::tidy(s, false).unwrap_or_default();
            if s.is_empty() || s.chars().count() > max {
                errors.push(FieldError::new(
                    field,
                    format!(
                        "must be 1 to {max} characters, without control, invisible or direction-changing characters"
                    ),
                ));
            }
            s
        };
        let name = text("name", &self.name, 200);
        // Another cluster's hub is in no one province.
        let province = match self.kind {
            StationKind::Peer if self.province.trim().is_empty() => String::new(),
            _ => text("province", &self.province, 100),
        };
        match id {
            Ok(id) if errors.is_empty() => Ok(Station {
                id,
                name,
                province,
                kind: self.kind,
            }),
            _ => Err(ExchangeError::Invalid(errors)),
        }
    }
}

/// Adds a station; a station with the same id is a conflict.
pub(super) fn add(tx: &Transaction<'_>, new: NewStation) -> Result<Station, ExchangeError> {
    let station = new.parse()?;
    if stations::insert(tx, &station)? {
        Ok(station)
    } else {
        Err(ExchangeError::conflict(
            code::STATION_EXISTS,
            format!("a station with id `{}` already exists", station.id),
        ))
    }
}

impl Hub {
    #[tracing::instrument(skip_all, fields(caller = %caller.token_id))]
    pub async fn create_station(&self, caller: &Caller, new: NewStation) -> Result<Station, ExchangeError> {
        require_admin(caller)?;
        self.catalog.write(move |tx| add(tx, new)).await
    }

    /// Stations in id order; `after` is the last id of the previous page.
    #[tracing::instrument(skip_all)]
    pub async fn list_stations(&self, after: Option<String>, limit: usize) -> Result<Vec<Station>, ExchangeError> {
        self.catalog
            .read(move |c| stations::list(c, after.as_deref(), limit).map_err(ExchangeError::from))
            .await
    }

    #[tracing::instrument(skip_all)]
    pub async fn station(&self, id: StationId) -> Result<Station, ExchangeError> {
        self.catalog
            .read(move |c| stations::get(c, &id)?.ok_or(ExchangeError::NotFound))
            .await
    }
}
