//! Building and running the server; `pxhub serve` and the tests use the same
//! function.

use std::net::{SocketAddr, TcpListener};

use actix_web::dev::Server;
use actix_web::{web, App, HttpServer};
use anyhow::Context;
use tracing_actix_web::TracingLogger;

use crate::api;
use crate::catalog::Catalog;
use crate::config::Settings;
use crate::exchange::Hub;

pub struct Application {
    server: Server,
    address: SocketAddr,
}

impl Application {
    /// Opens the catalog, binds the listener (port 0 works; see
    /// [`Application::address`]) and wires the routes.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&settings.data_dir)
            .with_context(|| format!("creating the data folder {}", settings.data_dir.display()))?;
        let catalog = Catalog::open(&settings.catalog_path()).context("opening the catalog")?;
        let hub = web::Data::new(Hub::new(catalog).context("preparing the catalog")?);
        let listener = TcpListener::bind(&settings.listen)
            .with_context(|| format!("listening on {}", settings.listen))?;
        let address = listener.local_addr()?;
        let json_limit = settings.max_json_bytes;
        let mut server = HttpServer::new(move || {
            App::new()
                .wrap(TracingLogger::default())
                .app_data(hub.clone())
                .app_data(web::PayloadConfig::new(json_limit))
                .configure(api::routes)
                .default_service(web::to(api::not_found))
        })
        .listen(listener)?;
        if settings.workers > 0 {
            server = server.workers(settings.workers);
        }
        tracing::info!(%address, data_dir = %settings.data_dir.display(), "pxhub listening");
        Ok(Self {
            server: server.run(),
            address,
        })
    }

    /// The address the server is bound to.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// Serves until the process is told to stop (Ctrl-C, SIGTERM).
    pub async fn run(self) -> std::io::Result<()> {
        self.server.await
    }
}
