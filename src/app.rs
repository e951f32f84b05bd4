//! Building and running the server; `pxhub serve` and the tests use the same
//! function.

use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use actix_http::{HttpService, Request, Response};
use actix_service::{fn_service, map_config, IntoServiceFactory, ServiceFactory, ServiceFactoryExt};
use actix_web::body::MessageBody;
use actix_web::dev::{AppConfig, Server, Service};
use actix_web::{web, App};
use anyhow::Context;
use futures_util::FutureExt;
use tracing_actix_web::TracingLogger;

use crate::api;
use crate::api::uploads::TusLimits;
use crate::catalog::{Catalog, CatalogOptions};
use crate::config::Settings;
use crate::exchange::{Channel, Hub};
use crate::media::MediaStore;

pub struct Application {
    server: Server,
    address: SocketAddr,
    hub: Hub,
    sweep_interval: Duration,
    sweep_grace: Duration,
}

/// Every way a program leaves the hub, each with its own cursor or outbox,
/// settings (`ExchangeSettings::delivery`) and worker. A new way out is a
/// new channel, registered here.
const CHANNELS: &[Channel] = &[
    Channel::Feed,
    Channel::Agent,
    Channel::Webhooks,
    Channel::Peers,
    Channel::Push,
];

/// How much of a response body actix-http gathers before it writes: a local
/// read's block ([`crate::media::LOCAL_READ_BLOCK`]), handed on in eight
/// parts. actix-http drops its write buffer after a write when it has grown
/// past this (and past 128 KiB), and grows a new one for the next: with
/// parts that add up to it exactly, the buffer (grown by doubling from the
/// first part) is kept from one write to the next instead of being mapped
/// and faulted in again for every megabyte sent (the first write, which
/// also carries the response head, outgrows it once).
const WRITE_BUFFER: usize = crate::media::LOCAL_READ_BLOCK;

/// A connection as the server reads it: its heads watched, its local files
/// sent by the socket itself.
type Guarded = api::head_guard::HeadGuard<api::direct_send::DirectSocket>;

/// Serves the application `app` makes on `listener`, as actix-web's
/// `HttpServer` does with its defaults (keep-alive 5 s, a head within 5 s),
/// with each connection's heads watched by [`api::head_guard`] so that the
/// heads actix-http refuses on its own get problem documents too.
fn serve<F, I, S, B>(listener: TcpListener, workers: usize, app: F) -> std::io::Result<Server>
where
    F: Fn() -> I + Send + Clone + 'static,
    I: IntoServiceFactory<S, Request>,
    S: ServiceFactory<Request, Config = AppConfig> + 'static,
    S::Error: Into<actix_web::Error> + 'static,
    S::InitError: std::fmt::Debug,
    S::Response: Into<Response<B>> + 'static,
    <S::Service as Service<Request>>::Future: 'static,
    S::Service: 'static,
    B: MessageBody + 'static,
{
    let address = listener.local_addr()?;
    let mut builder = actix_server::Server::build();
    if workers > 0 {
        builder = builder.workers(workers);
    }
    let shutdown = builder.graceful_shutdown_signal();
    let builder = builder.listen("pxhub", listener, move || {
        let shutdown = shutdown.clone();
        let http = HttpService::build()
            .graceful_shutdown_signal(move || {
                let shutdown = shutdown.clone();
                async move { shutdown.notified().await }
            })
            .client_disconnect_timeout(Duration::from_secs(1))
            .h1_write_buffer_size(WRITE_BUFFER)
            .local_addr(address)
            .on_connect_ext(|io: &Guarded, data: &mut actix_http::Extensions| {
                data.insert(io.get_ref().direct());
            })
            .h1(map_config(
                app().into_factory().map_err(|e| e.into().error_response()),
                |_| AppConfig::default(),
            ));
        fn_service(|io: tokio::net::TcpStream| {
            let peer = io.peer_addr().ok();
            let io = api::head_guard::HeadGuard::new(api::direct_send::DirectSocket::new(io));
            std::future::ready(Ok((io, peer)))
        })
        .and_then(http)
    })?;
    Ok(builder.run())
}

/// Opens the catalog and the media store of `settings`.
pub fn open_hub(settings: &Settings) -> anyhow::Result<Hub> {
    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("creating the data folder {}", settings.data_dir.display()))?;
    let options = CatalogOptions {
        wal_autocheckpoint: settings.catalog_autocheckpoint,
    };
    let catalog = Catalog::open_with(&settings.catalog_path(), options).context("opening the catalog")?;
    let media = MediaStore::open(&settings.media()).context("opening the media store")?;
    let exchange = crate::exchange::ExchangeSettings {
        channels: CHANNELS.to_vec(),
        ..settings.exchange()?
    };
    Hub::new(catalog, media, exchange).context("preparing the catalog")
}

impl Application {
    /// Opens the catalog and the store, binds the listener (port 0 works; see
    /// [`Application::address`]) and wires the routes.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        settings.check()?;
        let hub = open_hub(&settings)?;
        // Checked once at start: its version goes to /readyz and /metrics;
        // without it the hub runs and files wait for analysis.
        hub.check_ffmpeg().await;
        let listener =
            TcpListener::bind(&settings.listen).with_context(|| format!("listening on {}", settings.listen))?;
        let address = listener.local_addr()?;
        let json_limit = settings.max_json_bytes;
        let body_deadline = api::slow_bodies::BodyDeadline(Duration::from_secs(settings.body_timeout_secs.max(1)));
        let tus = web::Data::new(TusLimits {
            max_size: settings.max_upload_bytes,
        });
        let site = web::Data::new(api::Site {
            public_base: settings.public_base(address),
            metrics_token: Some(settings.metrics_token.clone()).filter(|t| !t.expose().is_empty()),
        });
        hub.set_public_base(settings.public_base(address));
        if settings.public_url.is_empty() && address.ip().is_unspecified() {
            tracing::warn!(%address, "listening on every address without public_url: feed links will name {address}; set public_url");
        }
        let pages = web::Data::new(crate::web::WebSite {
            secure_cookies: settings.behind_tls,
            upload_chunk_bytes: settings.web_upload_chunk_bytes,
            default_lang: crate::web::i18n::Lang::parse(&settings.web_default_language)
                .unwrap_or(crate::web::i18n::Lang::Vi),
            hub_name: Some(settings.hub_name.trim().to_owned()).filter(|n| !n.is_empty()),
            favicon: settings
                .favicon()?
                .map(|(bytes, kind)| (std::sync::Arc::from(bytes), kind)),
        });
        let data = web::Data::new(hub.clone());
        let server = serve(listener, settings.workers, move || {
            let metrics = data.clone();
            App::new()
                .wrap_fn(move |req, srv| {
                    let (started, method, metrics) = (Instant::now(), req.method().to_string(), metrics.clone());
                    srv.call(req).map(move |res| {
                        if let Ok(r) = &res {
                            metrics
                                .metrics()
                                .record_request(&method, r.status().as_u16(), started.elapsed());
                        }
                        res
                    })
                })
                .wrap(actix_web::middleware::from_fn(api::problems))
                .wrap(actix_web::middleware::from_fn(api::docs_headers))
                .wrap(actix_web::middleware::from_fn(api::slow_bodies::body_deadline))
                .wrap(actix_web::middleware::from_fn(api::limits::request_head))
                .wrap(
                    actix_web::middleware::DefaultHeaders::new()
                        // Browsers must take every answer for what its
                        // Content-Type says, never guess at a file's bytes.
                        .add(("X-Content-Type-Options", "nosniff")),
                )
                .wrap(TracingLogger::<api::log::RedactingRootSpan>::new())
                .app_data(data.clone())
                .app_data(tus.clone())
                .app_data(site.clone())
                .app_data(pages.clone())
                .app_data(web::PayloadConfig::new(json_limit))
                .app_data(body_deadline)
                .configure(api::routes)
                .configure(crate::web::routes)
                .default_service(web::to(unknown_address))
        })?;
        tracing::info!(%address, data_dir = %settings.data_dir.display(), "pxhub listening");
        Ok(Self {
            server,
            address,
            hub,
            sweep_interval: Duration::from_secs(settings.sweep_interval_secs.max(1)),
            sweep_grace: Duration::from_secs(settings.sweep_grace_secs),
        })
    }

    /// The address the server is bound to.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// Sweeps once, then serves until the process is told to stop (Ctrl-C,
    /// SIGTERM), sweeping every `sweep_interval_secs`, delivering webhooks and
    /// analysing files.
    pub async fn run(self) -> std::io::Result<()> {
        let hub = self.hub.clone();
        let (interval, grace) = (self.sweep_interval, self.sweep_grace);
        let sweeper = tokio::spawn(async move {
            loop {
                if let Err(e) = hub.sweep(grace).await {
                    tracing::error!(error = %e, "sweep failed");
                }
                tokio::time::sleep(interval).await;
            }
        });
        let channels: Vec<_> = CHANNELS
            .iter()
            .map(|&c| tokio::spawn(self.hub.clone().run_channel(c, api::webhooks::render)))
            .collect();
        let analysis = tokio::spawn(self.hub.clone().run_analysis());
        let result = self.server.await;
        sweeper.abort();
        channels.iter().for_each(|c| c.abort());
        analysis.abort();
        result
    }
}

/// An address that names nothing: a page in words for a person's browser,
/// the API's problem document for everyone else.
async fn unknown_address(req: actix_web::HttpRequest) -> actix_web::HttpResponse {
    use actix_web::ResponseError;
    if crate::web::wants_page(&req) {
        return crate::web::not_found_page(req).await;
    }
    match api::not_found().await {
        Ok(r) => r,
        Err(e) => e.error_response(),
    }
}
