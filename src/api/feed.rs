//! `/api/v1/feed` and `/api/v1/feed.atom`: the change feed; whole for the
//! national broadcasters, what it follows for every other station.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};

use super::extract::{parse_query, Auth, Query};
use super::params::Limit;
use super::programs::ProgramView;
use super::xml::esc;
use crate::domain::{Event, EventType, Program, Viewer};
use crate::error::{ApiError, Problem};
use crate::exchange::{Caller, FeedScope, Hub};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(super::routing::resource("/feed").get(feed))
        .service(super::routing::resource("/feed.atom").get(atom));
}

/// One event of the feed, with the program as it is now.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeedEvent {
    /// The event's place in the one total order.
    pub seq: i64,
    #[serde(rename = "type")]
    pub kind: EventType,
    pub at: DateTime<Utc>,
    pub program_id: String,
    /// The program as it is now. One whose rebroadcast window has not opened
    /// has `can_download: false` and `rights.available_from`: wait for it.
    pub program: ProgramView,
    /// The ids of the caller's follows that match the program (empty when
    /// none does, and in webhook deliveries).
    pub follows: Vec<String>,
}

impl FeedEvent {
    pub fn new(e: &Event, p: Program, viewer: &Viewer) -> Self {
        Self::following(e, p, viewer, Vec::new())
    }

    pub fn following(e: &Event, p: Program, viewer: &Viewer, follows: Vec<String>) -> Self {
        Self {
            seq: e.seq,
            kind: e.kind,
            at: e.at,
            program_id: e.program_id.to_string(),
            program: ProgramView::new(p, viewer),
            follows,
        }
    }
}

/// Which events a feed holds.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Every event the caller may see (national broadcasters, operator).
    All,
    /// Events of programs the caller's station follows.
    Follows,
}

impl From<Scope> for FeedScope {
    fn from(s: Scope) -> Self {
        match s {
            Scope::All => FeedScope::All,
            Scope::Follows => FeedScope::Follows,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FeedPageView {
    pub items: Vec<FeedEvent>,
    /// Where to ask next (`after`), also when the page is empty.
    pub next_cursor: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct FeedParams {
    /// `next_cursor` of the previous page; from the beginning when absent.
    after: Option<String>,
    /// 1 to 100, default 20.
    #[param(inline)]
    limit: Option<Limit>,
    /// `follows` (a provincial station's feed, and its only one) or `all`
    /// (the default of national broadcasters and the operator).
    #[param(inline)]
    scope: Option<Scope>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AtomParams {
    /// The caller's feed key (see `feed_url` in `/api/v1/me`), instead of a header.
    key: Option<String>,
    /// As for `/api/v1/feed`.
    #[param(inline)]
    scope: Option<Scope>,
}

/// Events since the cursor, in order: every one exactly once.
#[utoipa::path(get, path = "/api/v1/feed", tag = "feed", params(FeedParams),
    responses((status = 200, body = FeedPageView), (status = 401, body = Problem),
        (status = 403, body = Problem, description = "a provincial station asked for `scope=all`"), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn feed(Auth(caller): Auth, hub: web::Data<Hub>, query: Query<FeedParams>) -> Result<HttpResponse, ApiError> {
    let FeedParams { after, limit, scope } = query.parsed()?;
    let limit = Limit::or_default(limit);
    let page = hub.feed(&caller, after, limit, scope.map(Into::into)).await?;
    let viewer = caller.viewer();
    Ok(HttpResponse::Ok().json(FeedPageView {
        items: page
            .items
            .into_iter()
            .map(|(e, p, follows)| FeedEvent::following(&e, p, &viewer, follows))
            .collect(),
        next_cursor: page.next_cursor,
    }))
}

/// How many entries the Atom feed carries.
const ATOM_ENTRIES: usize = 50;

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The caller: by header, or by the per-token `key` of a feed URL for readers
/// that cannot send headers.
async fn atom_caller(req: &HttpRequest, hub: &Hub) -> Result<(Caller, Option<Scope>), ApiError> {
    let AtomParams { key, scope } = parse_query::<AtomParams>(req.query_string())?;
    if let Some(key) = key {
        return Ok((hub.authenticate_feed_key(&key).await?, scope));
    }
    let mut payload = actix_web::dev::Payload::None;
    let Auth(caller) = <Auth as actix_web::FromRequest>::from_request(req, &mut payload).await?;
    Ok((caller, scope))
}

/// The same events as an Atom 1.0 feed, newest first, with a file enclosure
/// per file. Token by header, or `?key=` (see `feed_url` in `/api/v1/me`).
#[utoipa::path(get, path = "/api/v1/feed.atom", tag = "feed", operation_id = "feed_atom",
    params(AtomParams, ("If-None-Match" = Option<String>, Header)),
    responses((status = 200, content_type = "application/atom+xml", body = String, headers(("ETag" = String))),
        (status = 304), (status = 401, body = Problem, description = "no token, or a `key` that is not one"),
        (status = 403, body = Problem),
        (status = 422, body = Problem, description = "an unknown parameter, or `key` given twice")),
    security((), ("bearer" = [])))]
pub async fn atom(
    hub: web::Data<Hub>,
    site: web::Data<super::Site>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (caller, scope) = atom_caller(&req, &hub).await?;
    let entries = hub.recent(&caller, ATOM_ENTRIES, scope.map(Into::into)).await?;
    let newest = entries.first().map(|(e, _, _)| e.seq).unwrap_or(0);
    // Same caller, scope and newest event, same programs: the same document.
    let mut h = Sha256::new();
    h.update(format!("{}|{scope:?}|{newest}", caller.token_id));
    for (_, p, _) in &entries {
        h.update(format!("|{}:{}", p.id, p.version));
    }
    let etag = format!("\"{}\"", hex::encode(&h.finalize()[..16]));
    if req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag))
    {
        return Ok(HttpResponse::NotModified().insert_header((header::ETAG, etag)).finish());
    }
    // Links come from the configured address, never from the request's
    // Host or X-Forwarded-* (which a client or a proxy's client sets).
    let base = &site.public_base;
    let who = caller.station.as_ref().map_or("operator".to_owned(), |s| s.to_string());
    let updated = entries.first().map_or_else(Utc::now, |(e, _, _)| e.at);
    let mut xml =
        String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\n");
    xml += &format!("  <id>urn:pxhub:feed:{}</id>\n", esc(&who));
    xml += &format!("  <title>pxhub: programs for {}</title>\n", esc(&who));
    xml += &format!("  <updated>{}</updated>\n", rfc3339(updated));
    xml += &format!("  <link rel=\"self\" href=\"{}/api/v1/feed.atom\"/>\n", esc(base));
    xml += "  <author><name>pxhub</name></author>\n  <generator>pxhub</generator>\n";
    for (e, p, _) in &entries {
        let link = format!("{base}/api/v1/programs/{}", p.id);
        xml += "  <entry>\n";
        xml += &format!("    <id>urn:pxhub:event:{}</id>\n", e.seq);
        xml += &format!("    <title>{}</title>\n", esc(&p.meta.title));
        xml += &format!("    <updated>{}</updated>\n", rfc3339(e.at));
        if let Some(published) = p.published_at {
            xml += &format!("    <published>{}</published>\n", rfc3339(published));
        }
        xml += &format!("    <author><name>{}</name></author>\n", esc(p.station.as_str()));
        xml += &format!("    <category term=\"{}\"/>\n", e.kind.as_str());
        xml += &format!("    <category term=\"{}\" label=\"genre\"/>\n", p.meta.genre.as_str());
        xml += &format!(
            "    <summary>{}</summary>\n",
            esc(p.meta.summary.as_deref().unwrap_or(&p.meta.title))
        );
        xml += &format!(
            "    <link rel=\"alternate\" type=\"application/json\" href=\"{}\"/>\n",
            esc(&link)
        );
        for f in &p.files {
            xml += &format!(
                "    <link rel=\"enclosure\" href=\"{}/files/{}\" type=\"{}\" length=\"{}\" title=\"{}\"/>\n",
                esc(&link),
                f.role.as_str(),
                esc(&f.media_type),
                f.size,
                esc(&f.filename)
            );
        }
        xml += "  </entry>\n";
    }
    xml += "</feed>\n";
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/atom+xml; charset=utf-8"))
        .insert_header((header::ETAG, etag))
        .body(xml))
}
