//! The command line: `serve`, and the operator's commands that work on the
//! catalog directly, so a fresh install can be bootstrapped before the server
//! runs.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use crate::catalog::Catalog;
use crate::config::{self, Overrides, Secret, Settings, StorageOverrides};
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
    /// Re-read every stored object and check its size and SHA-256 against
    /// the catalog; exits non-zero on any mismatch or missing object.
    /// It takes the settings of `serve`, to find the store.
    Scrub(ServeArgs),
    /// Reports from the ledger.
    #[command(subcommand)]
    Report(ReportCommand),
    /// Take exchanged programs into a folder, following the change feed
    /// (national broadcasters' agent).
    Pull(PullArgs),
    /// The operator's clean-up of programs.
    #[command(subcommand)]
    Program(ProgramCommand),
}

#[derive(Subcommand, Debug)]
pub enum ProgramCommand {
    /// Delete a station's drafts (never its published programs), with their
    /// stored files unless another file shares them. It takes the storage
    /// settings of `serve`; a running hub's search counts catch up at its
    /// next start.
    DeleteDrafts {
        /// The station whose drafts go
        #[arg(long, value_name = "ID")]
        station: String,
        /// Only drafts created more than N days ago
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(..=36_500))]
        older_than_days: Option<u32>,
    },
}

#[derive(Args, Debug)]
pub struct PullArgs {
    /// The hub's address, e.g. https://hub.example.vn
    #[arg(long, env = "PXHUB_HUB", value_name = "URL")]
    pub hub: String,
    /// A national broadcaster's token
    #[arg(long, env = "PXHUB_TOKEN", value_name = "TOKEN", hide_env_values = true)]
    pub token: String,
    /// Where programs go: DIR/<station>/<program id>/
    #[arg(long, value_name = "DIR")]
    pub into: PathBuf,
    /// Keep following the feed instead of stopping when caught up
    #[arg(long)]
    pub follow: bool,
    /// Download at most this many bytes per second
    #[arg(long, value_name = "BYTES_PER_S")]
    pub limit_rate: Option<u64>,
    /// Seconds between polls of the feed when following [default: 30]
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    pub interval: u64,
}

#[derive(Subcommand, Debug)]
pub enum ReportCommand {
    /// The exchange report of one year: per station, and station by station.
    Exchange {
        /// The year, e.g. 2024 (1 January to 31 December, UTC)
        #[arg(long)]
        year: i32,
        #[arg(long, value_enum, default_value = "json")]
        format: ReportFormat,
    },
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum ReportFormat {
    Json,
    Csv,
}

#[derive(Args, Debug)]
#[command(after_help = "\
Every setting can also be given in a TOML file (--config), with the same names:
  listen = \"127.0.0.1:8080\"
  data_dir = \"storage\"
  max_json_bytes = 1048576
  workers = 0
  log = \"info\"
  max_upload_bytes = 53687091200
  part_size = 8388608
  sweep_interval_secs = 3600
  sweep_grace_secs = 600
  presign_downloads = false
  webhook_retry_ms = 5000
  upload_idle_secs = 120
  [storage]
  backend = \"s3\"                 # or \"local\", with path = \"storage/media\"
  endpoint = \"http://127.0.0.1:3900\"
  bucket = \"pxhub\"
  region = \"garage\"
  access_key_id = \"GK…\"
  secret_access_key = \"…\"
  prefix = \"\"
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
    /// Largest file accepted, in bytes [default: 53687091200, 50 GiB]
    #[arg(long, env = "PXHUB_MAX_UPLOAD_BYTES", value_name = "BYTES")]
    pub max_upload_bytes: Option<u64>,
    /// Size of the parts uploads are written in; with S3 at least 5 MiB, and
    /// 10,000 parts must hold the largest file [default: 8388608]
    #[arg(long, env = "PXHUB_PART_SIZE", value_name = "BYTES")]
    pub part_size: Option<usize>,
    /// Seconds between sweeps for what interrupted uploads left [default: 3600]
    #[arg(long, env = "PXHUB_SWEEP_INTERVAL_SECS", value_name = "SECS")]
    pub sweep_interval_secs: Option<u64>,
    /// Leftovers younger than this many seconds are not swept yet [default: 600]
    #[arg(long, env = "PXHUB_SWEEP_GRACE_SECS", value_name = "SECS")]
    pub sweep_grace_secs: Option<u64>,
    /// With S3, answer downloads with a short-lived presigned redirect [default: false]
    #[arg(long, env = "PXHUB_PRESIGN_DOWNLOADS", value_name = "BOOL")]
    pub presign_downloads: Option<bool>,
    /// Milliseconds before a failed webhook delivery is retried, doubled at each failure [default: 5000]
    #[arg(long, env = "PXHUB_WEBHOOK_RETRY_MS", value_name = "MS")]
    pub webhook_retry_ms: Option<u64>,
    /// Seconds an upload may go without a byte before the hub drops it [default: 120]
    #[arg(long, env = "PXHUB_UPLOAD_IDLE_SECS", value_name = "SECS")]
    pub upload_idle_secs: Option<u64>,
    /// Media store: local or s3 [default: local]
    #[arg(long = "storage", env = "PXHUB_STORAGE", value_name = "BACKEND")]
    pub storage_backend: Option<String>,
    /// Local media folder [default: DATA_DIR/media]
    #[arg(long, env = "PXHUB_STORAGE_PATH", value_name = "DIR")]
    pub storage_path: Option<PathBuf>,
    /// S3 endpoint URL, e.g. http://127.0.0.1:3900
    #[arg(long, env = "PXHUB_STORAGE_ENDPOINT", value_name = "URL")]
    pub storage_endpoint: Option<String>,
    /// S3 bucket
    #[arg(long, env = "PXHUB_STORAGE_BUCKET", value_name = "NAME")]
    pub storage_bucket: Option<String>,
    /// S3 region [default: us-east-1]
    #[arg(long, env = "PXHUB_STORAGE_REGION", value_name = "REGION")]
    pub storage_region: Option<String>,
    /// S3 access key id
    #[arg(long, env = "PXHUB_STORAGE_ACCESS_KEY_ID", value_name = "ID")]
    pub storage_access_key_id: Option<String>,
    /// S3 secret access key (prefer the environment variable or the file)
    #[arg(
        long,
        env = "PXHUB_STORAGE_SECRET_ACCESS_KEY",
        value_name = "SECRET",
        hide_env_values = true
    )]
    pub storage_secret_access_key: Option<String>,
    /// Key prefix inside the bucket, so several hubs can share one
    #[arg(long, env = "PXHUB_STORAGE_PREFIX", value_name = "PREFIX")]
    pub storage_prefix: Option<String>,
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

/// The settings of `serve` as the environment gives them, for commands that
/// open the whole hub without taking every flag.
fn settings_from_env() -> ServeArgs {
    #[derive(Parser)]
    struct FromEnv {
        #[command(flatten)]
        serve: ServeArgs,
    }
    FromEnv::parse_from(["pxhub"]).serve
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
            let lines: Vec<String> = errors.iter().map(|e| format!("  {}: {}", e.field, e.message)).collect();
            anyhow::anyhow!("invalid input:\n{}", lines.join("\n"))
        }
        ExchangeError::NotFound => anyhow::anyhow!("no such station or token"),
        ExchangeError::Catalog(e) => anyhow::Error::new(e).context("catalog error"),
        ExchangeError::Media(e) => anyhow::Error::new(e).context("media store error"),
        other => anyhow::anyhow!("{other}"),
    }
}

pub fn settings_for_serve(data_dir_flag: Option<PathBuf>, args: &ServeArgs) -> anyhow::Result<Settings> {
    let overrides = Overrides {
        listen: args.listen.clone(),
        data_dir: data_dir_flag.or_else(|| std::env::var_os("PXHUB_DATA_DIR").map(PathBuf::from)),
        max_json_bytes: args.max_json_bytes,
        workers: args.workers,
        log: args.log.clone(),
        max_upload_bytes: args.max_upload_bytes,
        part_size: args.part_size,
        sweep_interval_secs: args.sweep_interval_secs,
        sweep_grace_secs: args.sweep_grace_secs,
        presign_downloads: args.presign_downloads,
        webhook_retry_ms: args.webhook_retry_ms,
        upload_idle_secs: args.upload_idle_secs,
        storage: StorageOverrides {
            backend: args.storage_backend.clone(),
            path: args.storage_path.clone(),
            endpoint: args.storage_endpoint.clone(),
            bucket: args.storage_bucket.clone(),
            region: args.storage_region.clone(),
            access_key_id: args.storage_access_key_id.clone(),
            secret_access_key: args.storage_secret_access_key.clone().map(Secret::new),
            prefix: args.storage_prefix.clone(),
        },
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
        Command::Scrub(args) => {
            let settings = settings_for_serve(cli.data_dir, &args)?;
            let hub = crate::app::open_hub(&settings)?;
            let report = hub.scrub().await.map_err(explain)?;
            for (key, problem) in &report.problems {
                println!("BAD {key}: {problem}");
            }
            eprintln!(
                "checked {} objects, {} bytes: {} problem(s)",
                report.checked,
                report.bytes,
                report.problems.len()
            );
            if !report.problems.is_empty() {
                std::process::exit(1);
            }
        }
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
        Command::Token(TokenCommand::Issue { station, role, label }) => {
            let station = match (station, role) {
                (Some(s), _) => Some(StationId::parse(&s).map_err(|e| anyhow::anyhow!("--station: {e}"))?),
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
        Command::Report(ReportCommand::Exchange { year, format }) => {
            let (Some(from), Some(to)) = (
                crate::api::ledger::year_start(year),
                crate::api::ledger::year_start(year + 1),
            ) else {
                anyhow::bail!("--year {year} is out of range");
            };
            let hub = crate::app::open_hub(&settings_for_serve(cli.data_dir, &settings_from_env())?)?;
            let report = hub.exchange_report(None, from, to).await.map_err(explain)?;
            match format {
                ReportFormat::Csv => print!("{}", report.to_csv()),
                ReportFormat::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&crate::api::ledger::ExchangeReportView::from(&report))?
                ),
            }
        }
        Command::Pull(args) => {
            crate::pull::run(crate::pull::PullOptions {
                hub: args.hub,
                token: args.token,
                into: args.into,
                follow: args.follow,
                limit_rate: args.limit_rate,
                interval: std::time::Duration::from_secs(args.interval.max(1)),
            })
            .await?
        }
        Command::Program(ProgramCommand::DeleteDrafts {
            station,
            older_than_days,
        }) => {
            let station = StationId::parse(&station).map_err(|e| anyhow::anyhow!("--station: {e}"))?;
            let before = older_than_days.map(|d| chrono::Utc::now() - chrono::Duration::days(d.into()));
            let hub = crate::app::open_hub(&settings_for_serve(cli.data_dir, &settings_from_env())?)?;
            let deleted = hub
                .delete_drafts(&exchange::Caller::operator(), station.clone(), before)
                .await
                .map_err(explain)?;
            eprintln!("deleted {deleted} draft(s) of station {station}");
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
