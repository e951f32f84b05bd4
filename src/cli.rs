//! The command line: `serve`, and the operator's commands that work on the
//! catalog directly, so a fresh install can be bootstrapped before the server
//! runs.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use crate::catalog::Catalog;
use crate::config::{self, Overrides, Settings};
use crate::domain::{Role, StationId, StationKind};
use crate::exchange::{self, ExchangeError, NewStation};

#[derive(Parser, Debug)]
#[command(
    name = "pxhub",
    version,
    about = "Program exchange hub for regional radio and television stations"
)]
pub struct Cli {
    /// Folder of the catalog and local media [env: PXHUB_DATA_DIR] [default: storage]
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the HTTP server.
    Serve(ServeArgs),
    /// Manage stations.
    #[command(subcommand)]
    Station(StationCommand),
    /// Issue and revoke API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Print the OpenAPI document.
    Openapi,
}

#[derive(Args, Debug)]
#[command(after_help = "\
Every setting can also be given in a TOML file (--config), with the same names:
  listen = \"127.0.0.1:8080\"
  data_dir = \"storage\"
  max_json_bytes = 1048576
  workers = 0
  log = \"info\"
A flag beats its environment variable, which beats the file, which beats the default.")]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080]
    #[arg(long, env = "PXHUB_LISTEN", value_name = "ADDR")]
    pub listen: Option<String>,
    /// TOML file with settings
    #[arg(long, env = "PXHUB_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Largest JSON request body in bytes [default: 1048576]
    #[arg(long, env = "PXHUB_MAX_JSON_BYTES", value_name = "BYTES")]
    pub max_json_bytes: Option<usize>,
    /// HTTP worker threads, 0 for one per core [default: 0]
    #[arg(long, env = "PXHUB_WORKERS", value_name = "N")]
    pub workers: Option<usize>,
    /// Log filter in RUST_LOG syntax [default: info]
    #[arg(long, env = "PXHUB_LOG", value_name = "FILTER")]
    pub log: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum StationCommand {
    /// Add a station.
    Add {
        /// A slug such as thai-nguyen
        #[arg(long)]
        id: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        province: String,
        #[arg(long, value_enum, default_value = "provincial")]
        kind: StationKind,
    },
}

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Issue a token; prints the token alone on standard output, its id on standard error.
    Issue {
        /// The station the token acts for (omit with --role admin)
        #[arg(long, value_name = "ID")]
        station: Option<String>,
        /// station, national or admin [default: what the station's kind implies]
        #[arg(long, value_enum)]
        role: Option<Role>,
        /// What the token is for, e.g. "playout server"
        #[arg(long, default_value = "")]
        label: String,
    },
    /// Revoke a token by its id.
    Revoke {
        #[arg(value_name = "TOKEN_ID")]
        token_id: String,
    },
}

/// `--data-dir`, else `PXHUB_DATA_DIR`, else `storage`.
fn data_dir(flag: Option<PathBuf>) -> PathBuf {
    flag.or_else(|| std::env::var_os("PXHUB_DATA_DIR").map(PathBuf::from))
        .unwrap_or_else(|| config::DEFAULT_DATA_DIR.into())
}

fn open_catalog(dir: &Path) -> anyhow::Result<Catalog> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    Catalog::open(&config::catalog_path(dir)).context("opening the catalog")
}

/// An exchange error as an operator reads it.
fn explain(e: ExchangeError) -> anyhow::Error {
    match e {
        ExchangeError::Invalid(errors) => {
            let lines: Vec<String> = errors
                .iter()
                .map(|e| format!("  {}: {}", e.field, e.message))
                .collect();
            anyhow::anyhow!("invalid input:\n{}", lines.join("\n"))
        }
        ExchangeError::NotFound => anyhow::anyhow!("no such station or token"),
        ExchangeError::Catalog(e) => anyhow::Error::new(e).context("catalog error"),
        other => anyhow::anyhow!("{other}"),
    }
}

pub fn settings_for_serve(
    data_dir_flag: Option<PathBuf>,
    args: &ServeArgs,
) -> anyhow::Result<Settings> {
    let overrides = Overrides {
        listen: args.listen.clone(),
        data_dir: data_dir_flag.or_else(|| std::env::var_os("PXHUB_DATA_DIR").map(PathBuf::from)),
        max_json_bytes: args.max_json_bytes,
        workers: args.workers,
        log: args.log.clone(),
    };
    Settings::load(args.config.as_deref(), overrides)
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => {
            let settings = settings_for_serve(cli.data_dir, &args)?;
            crate::init_tracing(&settings.log);
            crate::Application::build(settings).await?.run().await?;
        }
        Command::Openapi => print!("{}", crate::api::openapi_json()),
        Command::Station(StationCommand::Add {
            id,
            name,
            province,
            kind,
        }) => {
            let catalog = open_catalog(&data_dir(cli.data_dir))?;
            let station = catalog
                .write_blocking(|tx| {
                    exchange::stations::add(
                        tx,
                        NewStation {
                            id,
                            name,
                            province,
                            kind,
                        },
                    )
                })
                .map_err(explain)?;
            eprintln!(
                "added station {} ({}, {}, {})",
                station.id,
                station.name,
                station.province,
                station.kind.as_str()
            );
        }
        Command::Token(TokenCommand::Issue {
            station,
            role,
            label,
        }) => {
            let station = match (station, role) {
                (Some(s), _) => {
                    Some(StationId::parse(&s).map_err(|e| anyhow::anyhow!("--station: {e}"))?)
                }
                (None, Some(Role::Admin)) => None,
                (None, _) => {
                    anyhow::bail!("give --station ID, or --role admin for the hub operator")
                }
            };
            let catalog = open_catalog(&data_dir(cli.data_dir))?;
            let issued = catalog
                .write_blocking(|tx| exchange::tokens::issue(tx, station.as_ref(), role, &label))
                .map_err(explain)?;
            eprintln!(
                "issued token {} (role {}, station {})",
                issued.id,
                issued.role.as_str(),
                issued.station.as_ref().map_or("none", StationId::as_str)
            );
            println!("{}", issued.token);
        }
        Command::Token(TokenCommand::Revoke { token_id }) => {
            let catalog = open_catalog(&data_dir(cli.data_dir))?;
            catalog
                .write_blocking(|tx| exchange::tokens::revoke(tx, &token_id, None))
                .map_err(explain)?;
            eprintln!("revoked token {token_id}");
        }
    }
    Ok(())
}
