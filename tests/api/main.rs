//! Black-box tests: the real application on port 0 with a temporary data
//! folder, spoken to over HTTP.

#[macro_use]
mod helpers;
mod analysis;
mod cli;
mod exchange;
mod feed;
mod files;
mod layers;
mod limits;
mod openapi;
mod programs;
mod pull;
mod search;
mod stations;
mod tus;
mod webhooks;
