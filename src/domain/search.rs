//! The search's nouns that cross the layers: how results are ordered, and
//! the counts per facet value.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// How search results are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Sort {
    /// Programs whose title has the words first, then the newest (the
    /// default with a query).
    Relevance,
    /// Newest publication first (the default without a query).
    Newest,
    /// Latest first aired first.
    Aired,
    /// By title.
    Title,
}

/// For each facet, the number of matching programs per value.
#[derive(Debug, Default)]
pub struct Facets {
    pub station: BTreeMap<String, u64>,
    pub kind: BTreeMap<String, u64>,
    pub genre: BTreeMap<String, u64>,
    pub language: BTreeMap<String, u64>,
    /// How many of the matching programs the viewer may take now (its own,
    /// and others' whose window is open): the "available now" filter's count.
    pub available_now: u64,
}
