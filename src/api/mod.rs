//! HTTP: one module per resource, each exporting its routes. Handlers are
//! thin: extract, call one use-case, map to a response DTO (the DTOs carry
//! the OpenAPI derives). No rule lives here, and nothing here touches the
//! catalog or the media store: only `exchange` does.

pub mod direct_send;
mod docs;
pub use docs::docs_headers;
mod deliveries;
pub mod ebucore;
pub mod extract;
pub mod feed;
pub mod files;
mod follows;
pub mod head_guard;
mod http_headers;
pub mod ledger;
pub mod limits;
pub mod log;
mod ops;
pub mod params;
mod peers;
mod problems;
pub use problems::problems;
mod previews;
mod profiles;
mod programs;
mod routing;
pub mod slow_bodies;
pub mod spec;
mod stations;
pub mod uploads;
pub mod webhooks;
mod xml;

use actix_web::{web, HttpResponse};
use utoipa::OpenApi;

use self::spec::{BearerAuth, Links, ParametersAreNeverNull, ProblemResponses};
use utoipa_swagger_ui::SwaggerUi;

use crate::domain::Secret;
use crate::error::ApiError;

/// What the HTTP layer knows of the site it serves, set at start.
#[derive(Clone, Debug)]
pub struct Site {
    /// The hub's address for links (feeds): `public_url`, never a client's
    /// `Host` or `X-Forwarded-*`.
    pub public_base: String,
    /// When set, `/metrics` needs it as a bearer token.
    pub metrics_token: Option<Secret>,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "pxhub",
        description = "Program exchange hub for regional radio and television stations.\n\n\
            Every error is an RFC 9457 `application/problem+json` document with a stable `code`. \
            Besides the answers listed on each operation, any request may get 414 (`uri_too_long`) \
            when its path and query exceed 16 KiB, 431 (`headers_too_large`) when its headers exceed \
            64 KiB, and 405 (`method_not_allowed`, with `Allow`) for a method a path does not have.",
        license(name = "MIT")
    ),
    paths(
        ops::healthz, ops::readyz, ops::metrics,
        stations::list_stations, stations::create_station, stations::issue_token, stations::revoke_token, stations::me,
        programs::search_programs, programs::create_program, programs::get_program, programs::patch_program,
        programs::delete_program, programs::publish_program, programs::withdraw_program,
        files::put_file, files::get_file, files::head_file, files::delete_file,
        previews::get_preview, previews::head_preview, previews::get_poster, previews::get_waveform,
        profiles::list, profiles::create, profiles::remove, profiles::patch_station,
        profiles::get_rendition, profiles::head_rendition,
        ledger::report_rebroadcast, ledger::report_take, ledger::takes, ledger::exchange_report,
        uploads::options, uploads::options_upload, uploads::create, uploads::status, uploads::append, uploads::terminate,
        feed::feed, feed::atom, follows::create, follows::list, follows::remove, follows::programs,
        webhooks::subscribe, webhooks::list, webhooks::show, webhooks::unsubscribe,
        peers::add, peers::list, peers::remove, peers::wake,
        deliveries::add_target, deliveries::targets, deliveries::remove_target, deliveries::list, deliveries::redeliver,
        ebucore::ebucore,
    ),
    components(schemas(crate::error::Problem, crate::domain::FieldError)),
    modifiers(&BearerAuth, &ProblemResponses, &Links, &ParametersAreNeverNull),
    tags(
        (name = "stations", description = "Stations, their tokens, and the caller"),
        (name = "programs", description = "Programs and the catalog search"),
        (name = "files", description = "A program's files: streamed upload, ranged download"),
        (name = "profiles", description = "Delivery profiles: what stations' playouts take"),
        (name = "ledger", description = "Takes, rebroadcasts and the exchange report"),
        (name = "uploads", description = "Resumable uploads: the tus 1.0.0 protocol"),
        (name = "feed", description = "The change feed (whole for national broadcasters, what it follows for every station), Atom, webhooks"),
        (name = "follows", description = "What a station follows, and what its pull agent delivers"),
        (name = "peers", description = "The hubs of other clusters this hub follows"),
        (name = "operations", description = "Health, readiness and metrics"),
    )
)]
pub struct ApiDoc;

/// The OpenAPI document of this build.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc
}

/// The OpenAPI document, as committed in `openapi/openapi.json`.
pub fn openapi_json() -> String {
    document().to_pretty_json().expect("the OpenAPI document serialises") + "\n"
}

/// Every route of the hub.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.configure(ops::routes)
        .service(
            web::scope("/api/v1")
                .configure(stations::routes)
                .configure(programs::routes)
                .configure(files::routes)
                .configure(previews::routes)
                .configure(profiles::routes)
                .configure(ledger::routes)
                .configure(uploads::routes)
                .configure(feed::routes)
                .configure(follows::routes)
                .configure(webhooks::routes)
                .configure(peers::routes)
                .configure(deliveries::routes)
                .configure(ebucore::routes),
        )
        .route(
            "/docs",
            web::get().to(|| async {
                HttpResponse::PermanentRedirect()
                    .insert_header(("Location", "/docs/"))
                    .finish()
            }),
        )
        .service(SwaggerUi::new("/docs/{_:.*}").url("/openapi.json", document()));
}

/// What an unknown path gets.
pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_found())
}
