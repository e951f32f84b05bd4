//! The command line: `serve`, and the operator's commands. These call the
//! same use-cases as the API, as the operator, on the catalog and store of
//! `--data-dir`, so a fresh install can be bootstrapped before the server
//! runs. One small function per command; no rule lives here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::{Overrides, Settings};
use crate::domain::{PersonRole, Role, StationId, StationKind};
use crate::exchange::people_manage::PersonChange;
use crate::exchange::report::Period;
use crate::exchange::{Caller, ExchangeError, Hub, NewPerson, NewStation};

#[derive(Parser, Debug)]
#[command(
    name = "pxhub",
    version,
    about = "Program exchange hub for regional radio and television stations"
)]
pub struct Cli {
    /// Folder of the catalog and local media [default: storage]
    #[arg(long, global = true, env = "PXHUB_DATA_DIR", value_name = "DIR")]
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
    /// People who use the web page.
    #[command(subcommand)]
    Person(PersonCommand),
    /// Queue files for analysis (probe, loudness, previews) again; a
    /// running hub picks them up within seconds.
    Analyze(AnalyzeArgs),
    /// The hubs of other clusters this hub follows.
    #[command(subcommand)]
    Peer(PeerCommand),
    /// Delivery profiles: what stations' playouts take.
    #[command(subcommand)]
    Profile(ProfileCommand),
}

#[derive(Subcommand, Debug)]
pub enum PeerCommand {
    /// Follow a peer hub; its token (issued by its operator with `pxhub
    /// token issue --station ID` for a station of kind peer) is read from
    /// standard input, never from the command line.
    Add {
        /// A slug such as cum-2
        #[arg(long)]
        id: String,
        /// How it is shown, e.g. "Cụm 2 — Đông Bắc"
        #[arg(long)]
        name: String,
        /// The peer hub's base URL
        #[arg(long)]
        url: String,
        /// Read the token from standard input (one line)
        #[arg(long, required = true)]
        token_stdin: bool,
        /// Fetch its programs' files ahead of need: none, all, or followed
        /// (those a station here follows)
        #[arg(long, default_value = "none")]
        eager: String,
        /// The most MiB of its programs' files eager mirroring keeps here
        /// (0: no limit)
        #[arg(long, default_value_t = 0)]
        eager_max_mib: u64,
    },
    /// List the peers: id, name, URL, and the last read's error.
    List,
    /// Stop following a peer; its mirrored programs are withdrawn here.
    Remove {
        #[arg(value_name = "ID")]
        id: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum ProfileCommand {
    /// Add a delivery profile; what is left out takes the container's
    /// defaults (PCM 24-bit, 48 kHz, stereo).
    Add {
        /// A slug, e.g. bwf-mp2-r128
        #[arg(long)]
        id: String,
        /// The name shown to stations
        #[arg(long)]
        name: String,
        /// keep, bwf, mp3, m4a, mp4 or mxf
        #[arg(long, value_name = "C")]
        container: String,
        /// pcm, mp2, mp3 or aac
        #[arg(long, value_name = "CODEC")]
        audio_codec: Option<String>,
        /// h264 or mpeg2
        #[arg(long, value_name = "CODEC")]
        video_codec: Option<String>,
        /// Hz, e.g. 48000
        #[arg(long, value_name = "HZ")]
        sample_rate: Option<u32>,
        /// 16 or 24 (PCM)
        #[arg(long, value_name = "BITS")]
        bit_depth: Option<u8>,
        #[arg(long, value_name = "N")]
        channels: Option<u8>,
        /// Integrated loudness target, LUFS (e.g. -23); none: left as it is
        #[arg(long, value_name = "LUFS", allow_hyphen_values = true)]
        target_lufs: Option<f64>,
        /// True-peak ceiling with --target-lufs, dBTP
        #[arg(
            long,
            value_name = "DBTP",
            allow_hyphen_values = true,
            default_value = "-1",
            requires = "target_lufs"
        )]
        max_true_peak_dbtp: f64,
    },
    /// List the delivery profiles, one JSON object a line.
    List,
    /// Remove a profile no follow and no station's default uses.
    Remove {
        /// The profile's id
        id: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum PersonCommand {
    /// Add a person of a station (or, with --operator, a hub operator). The
    /// password is read from standard input when it is not a terminal (one
    /// line); otherwise one is made up and printed alone on standard output.
    Add {
        /// The station the person works at
        #[arg(
            long,
            value_name = "ID",
            required_unless_present = "operator",
            conflicts_with = "operator"
        )]
        station: Option<String>,
        /// The person runs the hub (no station)
        #[arg(long)]
        operator: bool,
        /// Login name: 3 to 64 of a-z, 0-9, '.', '_', '-'
        #[arg(long)]
        login: String,
        /// The name shown on the pages, e.g. "Nguyễn Thị Hoa"
        #[arg(long)]
        name: String,
        /// editor (offers and takes programs) or viewer (finds and takes)
        #[arg(long, value_enum, default_value = "editor", conflicts_with = "operator")]
        role: PersonRole,
    },
    /// Stop a person signing in (their sessions end; what they did stays).
    Disable {
        #[arg(long)]
        login: String,
    },
    /// Let a disabled person sign in again.
    Enable {
        #[arg(long)]
        login: String,
    },
    /// Remove a person (kept only for the history of what they did).
    Remove {
        #[arg(long)]
        login: String,
    },
    /// Give a person a new one-time password, printed alone on standard
    /// output (their sessions end).
    ResetPassword {
        #[arg(long)]
        login: String,
    },
    /// Change a station person's role; --in-charge makes an editor the
    /// station's editor in charge (who manages its people on the page).
    Role {
        #[arg(long)]
        login: String,
        /// editor or viewer
        #[arg(long, value_enum)]
        role: PersonRole,
        #[arg(long)]
        in_charge: bool,
    },
    /// Let a login locked by failed sign-ins sign in again at once.
    Unlock {
        /// The login, as people type it
        #[arg(long)]
        login: String,
    },
}

#[derive(Args, Debug)]
#[group(required = true, multiple = false)]
pub struct AnalyzeArgs {
    /// The files of this program
    #[arg(long, value_name = "ID")]
    pub program: Option<String>,
    /// Every stored file
    #[arg(long)]
    pub all: bool,
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
    /// A station's token: a provincial station's agent delivers what its
    /// follows with `deliver` on match; a national broadcaster's takes every
    /// master it may
    #[arg(long, env = "PXHUB_TOKEN", value_name = "TOKEN", hide_env_values = true)]
    pub token: crate::domain::Secret,
    /// Where programs go (named by --template)
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
    /// How delivered files are named, relative to DIR. Fields: {series},
    /// {title}, {station}, {id}, {episode}, {genre}, {kind}, {role},
    /// {filename}, {ext}, {first_aired:FORMAT}, {published:FORMAT} (strftime,
    /// UTC+7). Default for a station: "{series}/{first_aired:%Y-%m-%d}
    /// {title}.{ext}"; for a national broadcaster: DIR/<station>/<program
    /// id>/<file name>
    #[arg(long, env = "PXHUB_PULL_TEMPLATE", value_name = "TEMPLATE")]
    pub template: Option<String>,
    /// The longest wait, in seconds, between retries after a network or
    /// server error (the agent never gives up on those)
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub retry_max: u64,
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

/// The settings of `serve` (and of `scrub`, which opens the same store): every
/// flag comes from the one table in `config`.
#[derive(Args, Debug)]
#[command(after_help = Settings::toml_example())]
pub struct ServeArgs {
    /// TOML file with settings
    #[arg(long, env = "PXHUB_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub settings: Overrides,
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
        /// Required but for a peer hub's station
        #[arg(long)]
        province: Option<String>,
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

/// An exchange error as an operator reads it: what went wrong, then the
/// table's status and code (`ExchangeError::answer`), as the API and the
/// pages answer it.
pub fn explain(e: ExchangeError) -> anyhow::Error {
    let answer = e.answer();
    let tag = format!("{} {}", answer.status, answer.code);
    let retry = match answer.retry_after_secs {
        Some(secs) => format!("; try again in {secs} s"),
        None => String::new(),
    };
    match e {
        ExchangeError::Invalid(errors) => {
            let lines: Vec<String> = errors.iter().map(|e| format!("  {}: {}", e.field, e.message)).collect();
            anyhow::anyhow!("invalid input ({tag}):\n{}", lines.join("\n"))
        }
        ExchangeError::NotFound => anyhow::anyhow!("no such station or token ({tag})"),
        ExchangeError::Conflict { detail, .. } => anyhow::anyhow!("{detail} ({tag})"),
        ExchangeError::StorageUnavailable(e) => anyhow::Error::new(e).context(format!(
            "the media store is unavailable; nothing was changed ({tag}){retry}"
        )),
        ExchangeError::StorageFull(e) => anyhow::Error::new(e).context(format!("the media store is full ({tag})")),
        other if answer.internal => anyhow::Error::new(other).context(format!("internal error ({tag})")),
        other => anyhow::anyhow!("{other} ({tag}){retry}"),
    }
}

pub fn settings_for_serve(data_dir: Option<PathBuf>, args: &ServeArgs) -> anyhow::Result<Settings> {
    let overrides = Overrides {
        data_dir,
        ..args.settings.clone()
    };
    Settings::load(args.config.as_deref(), overrides)
}

/// What an operator's command asks of the hub, read and checked from the
/// command line before the hub is opened, so that bad input changes nothing
/// (not even a data folder made).
enum Operation {
    Scrub,
    AddStation(NewStation),
    IssueToken {
        station: Option<StationId>,
        role: Option<Role>,
        label: String,
    },
    RevokeToken(String),
    Report(Period, ReportFormat),
    DeleteDrafts {
        station: StationId,
        before: Option<chrono::DateTime<chrono::Utc>>,
    },
    AddPerson(NewPerson),
    UnlockLogin(String),
    ManagePerson(String, crate::exchange::people_manage::PersonChange),
    Analyze(Option<crate::domain::ProgramId>),
    AddPeer(crate::exchange::delivery::peers::NewPeer),
    ListPeers,
    RemovePeer(StationId),
    AddProfile(crate::domain::profile::ProfileInput),
    ListProfiles,
    RemoveProfile(String),
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let dir = cli.data_dir;
    // `scrub` takes the settings of `serve`; the other operator's commands
    // those the environment gives.
    let (serve_args, operation) = match cli.command {
        Command::Serve(args) => return serve(dir, args).await,
        Command::Openapi => {
            print!("{}", crate::api::openapi_json());
            return Ok(());
        }
        Command::Pull(args) => return pull(args).await,
        Command::Scrub(args) => (args, Operation::Scrub),
        command => (settings_from_env(), operation(command)?),
    };
    // The one place an operator's command opens the hub.
    let hub = crate::app::open_hub(&settings_for_serve(dir, &serve_args)?)?;
    operate(&hub, operation).await
}

/// The operator's command, read and checked.
fn operation(command: Command) -> anyhow::Result<Operation> {
    let station_arg = |s: &str| StationId::parse(s).map_err(|e| anyhow::anyhow!("--station: {e}"));
    Ok(match command {
        Command::Station(StationCommand::Add {
            id,
            name,
            province,
            kind,
        }) => Operation::AddStation(NewStation {
            id,
            name,
            province: match (province, kind) {
                (Some(p), _) => p,
                (None, StationKind::Peer) => String::new(),
                (None, _) => anyhow::bail!("give --province PROVINCE"),
            },
            kind,
        }),
        Command::Peer(PeerCommand::Add {
            id,
            name,
            url,
            eager,
            eager_max_mib,
            ..
        }) => Operation::AddPeer(crate::exchange::delivery::peers::NewPeer {
            id,
            name,
            url,
            token: crate::domain::Secret::new(token_from_stdin()?),
            eager,
            eager_max_bytes: eager_max_mib.saturating_mul(1 << 20),
        }),
        Command::Peer(PeerCommand::List) => Operation::ListPeers,
        Command::Peer(PeerCommand::Remove { id }) => {
            Operation::RemovePeer(StationId::parse(&id).map_err(|e| anyhow::anyhow!("ID: {e}"))?)
        }
        Command::Token(TokenCommand::Issue { station, role, label }) => Operation::IssueToken {
            station: match (station, role) {
                (Some(s), _) => Some(station_arg(&s)?),
                (None, Some(Role::Admin)) => None,
                (None, _) => anyhow::bail!("give --station ID, or --role admin for the hub operator"),
            },
            role,
            label,
        },
        Command::Token(TokenCommand::Revoke { token_id }) => Operation::RevokeToken(token_id),
        Command::Report(ReportCommand::Exchange { year, format }) => match Period::year(year) {
            Some(period) => Operation::Report(period, format),
            None => anyhow::bail!("--year {year} is out of range"),
        },
        Command::Program(ProgramCommand::DeleteDrafts {
            station,
            older_than_days,
        }) => Operation::DeleteDrafts {
            station: station_arg(&station)?,
            before: older_than_days.map(|d| chrono::Utc::now() - chrono::Duration::days(d.into())),
        },
        Command::Person(PersonCommand::Add {
            station,
            operator,
            login,
            name,
            role,
        }) => {
            let (station, role) = match (station, operator) {
                (_, true) => (None, PersonRole::Operator),
                (Some(s), false) => (Some(station_arg(&s)?), role),
                (None, false) => anyhow::bail!("give --station ID, or --operator"),
            };
            Operation::AddPerson(NewPerson {
                station,
                login,
                name,
                role,
                password: password_from_stdin()?,
            })
        }
        Command::Person(PersonCommand::Unlock { login }) => Operation::UnlockLogin(login),
        Command::Person(PersonCommand::Disable { login }) => Operation::ManagePerson(login, PersonChange::Disable),
        Command::Person(PersonCommand::Enable { login }) => Operation::ManagePerson(login, PersonChange::Enable),
        Command::Person(PersonCommand::Remove { login }) => Operation::ManagePerson(login, PersonChange::Remove),
        Command::Person(PersonCommand::ResetPassword { login }) => {
            Operation::ManagePerson(login, PersonChange::ResetPassword)
        }
        Command::Person(PersonCommand::Role { login, role, in_charge }) => {
            Operation::ManagePerson(login, PersonChange::Role { role, in_charge })
        }
        Command::Analyze(args) => Operation::Analyze(match &args.program {
            Some(id) => Some(
                crate::domain::ProgramId::parse(id).ok_or_else(|| anyhow::anyhow!("--program: not a program id"))?,
            ),
            None => None,
        }),
        Command::Profile(ProfileCommand::Add {
            id,
            name,
            container,
            audio_codec,
            video_codec,
            sample_rate,
            bit_depth,
            channels,
            target_lufs,
            max_true_peak_dbtp,
        }) => Operation::AddProfile(crate::domain::profile::ProfileInput {
            id,
            name,
            container,
            audio_codec,
            video_codec,
            sample_rate,
            bit_depth,
            channels,
            loudness: target_lufs.map(|target_lufs| crate::domain::profile::LoudnessTarget {
                target_lufs,
                max_true_peak_dbtp,
            }),
        }),
        Command::Profile(ProfileCommand::List) => Operation::ListProfiles,
        Command::Profile(ProfileCommand::Remove { id }) => Operation::RemoveProfile(id),
        Command::Serve(_) | Command::Openapi | Command::Pull(_) | Command::Scrub(_) => {
            unreachable!("run answers these itself")
        }
    })
}

/// A peer's token: the first line of standard input.
fn token_from_stdin() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::stdin().lock(), &mut line)?;
    let token = line.trim().to_owned();
    if token.is_empty() {
        anyhow::bail!("--token-stdin: standard input holds no token");
    }
    Ok(token)
}

/// A person's password from standard input when it is not a terminal; `None`
/// (the hub makes one up) from a terminal or an empty input.
fn password_from_stdin() -> anyhow::Result<Option<String>> {
    use std::io::IsTerminal;
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Ok(None);
    }
    // Nothing at all (an empty or closed input): make one up, as from a
    // terminal; an empty line is a mistake.
    let mut line = String::new();
    match std::io::BufRead::read_line(&mut stdin.lock(), &mut line)? {
        0 => Ok(None),
        _ => {
            let line = line.trim_end_matches(['\n', '\r']).to_owned();
            if line.is_empty() {
                anyhow::bail!("the password line on standard input is empty");
            }
            Ok(Some(line))
        }
    }
}

/// Runs the operator's command on the hub, as the operator.
async fn operate(hub: &Hub, operation: Operation) -> anyhow::Result<()> {
    let me = Caller::operator();
    match operation {
        Operation::Scrub => scrub(hub).await,
        Operation::AddStation(new) => {
            let station = hub.create_station(&me, new).await.map_err(explain)?;
            eprintln!(
                "added station {} ({}, {}, {})",
                station.id,
                station.name,
                station.province,
                station.kind.as_str()
            );
            Ok(())
        }
        Operation::IssueToken { station, role, label } => {
            let issued = hub.issue_token(&me, station, role, label).await.map_err(explain)?;
            eprintln!(
                "issued token {} (role {}, station {})",
                issued.id,
                issued.role.as_str(),
                issued.station.as_ref().map_or("none", StationId::as_str)
            );
            println!("{}", issued.token);
            Ok(())
        }
        Operation::RevokeToken(token_id) => {
            hub.revoke_token(&me, None, token_id.clone()).await.map_err(explain)?;
            eprintln!("revoked token {token_id}");
            Ok(())
        }
        Operation::Report(period, format) => {
            let report = hub.exchange_report(&me, period).await.map_err(explain)?;
            match format {
                ReportFormat::Csv => print!("{}", report.to_csv()),
                ReportFormat::Json => println!("{}", serde_json::to_string_pretty(&report.view())?),
            }
            Ok(())
        }
        Operation::DeleteDrafts { station, before } => {
            let deleted = hub.delete_drafts(&me, station.clone(), before).await.map_err(explain)?;
            eprintln!("deleted {deleted} draft(s) of station {station}");
            Ok(())
        }
        Operation::AddPerson(new) => add_person(hub, new).await,
        Operation::AddPeer(new) => {
            let peer = hub.add_peer(&me, new).await.map_err(explain)?;
            eprintln!("following peer {} ({}) at {}", peer.id, peer.name, peer.url);
            Ok(())
        }
        Operation::ListPeers => {
            for p in hub.peers(&me).await.map_err(explain)? {
                let state = p.last_error.as_deref().unwrap_or("ok");
                let limit = match p.eager_max_bytes {
                    0 => String::new(),
                    n => format!(", at most {} MiB", n >> 20),
                };
                let eager = format!("eager {}{limit}", p.eager.as_str());
                println!("{}\t{}\t{}\t{}\t{}", p.id, p.name, p.url, state, eager);
            }
            Ok(())
        }
        Operation::RemovePeer(id) => {
            hub.remove_peer(&me, id.clone()).await.map_err(explain)?;
            eprintln!("no longer following peer {id}; its programs are withdrawn here");
            Ok(())
        }
        Operation::UnlockLogin(login) => unlock_login(hub, login).await,
        Operation::ManagePerson(login, change) => manage_person(hub, login, change).await,
        Operation::Analyze(program) => {
            let queued = hub.requeue_analysis(&me, program).await.map_err(explain)?;
            eprintln!("queued {queued} file(s) for analysis");
            Ok(())
        }
        Operation::AddProfile(input) => {
            let p = hub.create_profile(&me, input).await.map_err(explain)?;
            eprintln!("added profile {} ({}, {})", p.id, p.name, p.container.as_str());
            Ok(())
        }
        Operation::ListProfiles => {
            for p in hub.profiles(&me).await.map_err(explain)? {
                println!("{}", serde_json::to_string(&p)?);
            }
            Ok(())
        }
        Operation::RemoveProfile(id) => {
            hub.remove_profile(&me, &id).await.map_err(explain)?;
            eprintln!("removed profile {id}");
            Ok(())
        }
    }
}

async fn add_person(hub: &Hub, new: NewPerson) -> anyhow::Result<()> {
    let added = hub.add_person(&Caller::operator(), new).await.map_err(explain)?;
    let p = &added.person;
    eprintln!(
        "added person {} ({}, {}, station {})",
        p.login,
        p.name,
        p.role.as_str(),
        p.station.as_ref().map_or("none", StationId::as_str)
    );
    if let Some(password) = added.generated_password {
        println!("{password}");
    }
    Ok(())
}

async fn manage_person(hub: &Hub, login: String, change: PersonChange) -> anyhow::Result<()> {
    let done = hub
        .manage_person(&Caller::operator(), &login, change)
        .await
        .map_err(explain)?;
    let what = match change {
        PersonChange::Disable => "disabled: it can no longer sign in".to_owned(),
        PersonChange::Enable => "enabled: it can sign in again".to_owned(),
        PersonChange::Remove => "removed".to_owned(),
        PersonChange::ResetPassword => "given a new one-time password (on standard output)".to_owned(),
        PersonChange::Role { role, in_charge } => {
            format!(
                "now {}{}",
                role.as_str(),
                if in_charge { ", in charge of its station" } else { "" }
            )
        }
    };
    eprintln!("{login} {what}");
    if let Some(password) = done.password {
        println!("{password}");
    }
    Ok(())
}

async fn unlock_login(hub: &Hub, login: String) -> anyhow::Result<()> {
    let was_locked = hub.unlock_login(&Caller::operator(), &login).await.map_err(explain)?;
    if was_locked {
        eprintln!("unlocked {login}: it may sign in again");
    } else {
        eprintln!("{login} was not locked; its failed sign-ins are forgotten");
    }
    Ok(())
}

async fn serve(dir: Option<PathBuf>, args: ServeArgs) -> anyhow::Result<()> {
    let settings = settings_for_serve(dir, &args)?;
    crate::init_logs(&settings.log, settings.log_format()?);
    crate::app::Application::build(settings).await?.run().await?;
    Ok(())
}

async fn scrub(hub: &Hub) -> anyhow::Result<()> {
    let report = hub.scrub(&Caller::operator()).await.map_err(explain)?;
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
    Ok(())
}

async fn pull(args: PullArgs) -> anyhow::Result<()> {
    let stop = crate::pull::Stop::default();
    let on_signal = stop.clone();
    tokio::spawn(async move {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
        }
        on_signal.ask();
    });
    let ended = crate::pull::run(
        crate::pull::PullOptions {
            hub: args.hub,
            token: args.token,
            into: args.into,
            follow: args.follow,
            limit_rate: args.limit_rate,
            interval: std::time::Duration::from_secs(args.interval.max(1)),
            template: args.template,
            retry_max: std::time::Duration::from_secs(args.retry_max.max(1)),
        },
        stop,
    )
    .await;
    if let Err(e) = ended {
        // One line, no backtrace: what went wrong and what to do.
        eprintln!("pxhub pull: {e:#}");
        std::process::exit(1);
    }
    Ok(())
}
