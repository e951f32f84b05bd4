//! The use-cases: every business rule of the hub lives here, once, between
//! the HTTP layer and the catalog.

mod error;
pub mod programs;
pub mod rights;
mod search;
pub mod stations;
pub mod tokens;

pub use error::ExchangeError;
pub use search::{Facets, SearchPage, SearchRequest, Sort};
pub use stations::NewStation;
pub use tokens::{Caller, IssuedToken};

use crate::catalog::Catalog;

/// The hub's use-cases, over one catalog.
#[derive(Clone)]
pub struct Hub {
    catalog: Catalog,
    /// Signs search cursors so that a forged one is refused.
    cursor_key: [u8; 32],
}

impl Hub {
    pub fn new(catalog: Catalog) -> Result<Self, rusqlite::Error> {
        let cursor_key = catalog.write_blocking(search::cursor_key)?;
        Ok(Self {
            catalog,
            cursor_key,
        })
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }
}
