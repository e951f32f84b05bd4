//! Black-box tests: the real application on port 0 with a temporary data
//! folder, spoken to over HTTP.

#[macro_use]
mod helpers;
mod cli;
mod cluster;
mod exchange;
mod feed;
mod files;
mod layers;
mod limits;
mod openapi;
mod procs;
mod programs;
mod pull;
mod restore;
mod search;
mod stations;
mod tus;
mod webhooks;
