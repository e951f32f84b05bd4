//! Black-box tests: the real application on port 0 with a temporary data
//! folder, spoken to over HTTP.

#[macro_use]
mod helpers;
mod accel;
mod analysis;
mod browser;
mod cli;
mod cluster;
mod delivery;
mod errors;
mod exchange;
mod fault_proxy;
mod faults;
mod feed;
mod files;
mod follows;
mod handover;
mod layers;
mod limits;
#[path = "../../benches/common/link.rs"]
mod link;
mod lists;
mod logs;
mod openapi;
mod peers;
mod preview_leftovers;
mod probes;
mod procs;
mod programs;
mod pull;
mod push;
mod renditions;
mod restore;
mod search;
mod sign_in;
mod stations;
mod tus;
mod web;
mod web_daily;
mod web_news;
mod webhooks;
