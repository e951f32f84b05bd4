//! Black-box tests: the real application on port 0 with a temporary data
//! folder, spoken to over HTTP.

mod cli;
mod exchange;
mod files;
mod helpers;
mod openapi;
mod programs;
mod search;
mod stations;
