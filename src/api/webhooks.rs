//! `/api/v1/webhooks`: subscriptions of the stations (a provincial station
//! hears of what it follows, a national broadcaster of all it may see), and their
//! delivery logs; the operator sees and may end everyone's.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::{Auth, Json, Query};
use super::feed::FeedEvent;
use crate::domain::{Delivery, DeliveryState, Event, EventType, Webhook};
use crate::domain::{Program, Secret, Viewer};
use crate::error::{ApiError, Problem};
use crate::exchange::delivery::webhooks::NewWebhook;
use crate::exchange::Hub;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(super::routing::resource("/webhooks").get(list).post(subscribe))
        .service(super::routing::resource("/webhooks/{id}").get(show).delete(unsubscribe));
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookInput {
    /// Where to POST deliveries: an http or https URL whose host is public;
    /// loopback, private, link-local, shared, multicast and reserved
    /// addresses (and names resolving to one) are refused unless the
    /// operator allows them.
    #[schema(pattern = "^[Hh][Tt][Tt][Pp][Ss]?://[^/?#\\s]+")]
    pub url: String,
    /// The event types to receive: `program.published`, `program.updated`,
    /// `program.withdrawn`, `file.replaced`.
    #[schema(value_type = Vec<EventType>, min_items = 1)]
    pub events: Vec<String>,
    /// Keys the `X-Hub-Signature-256` HMAC (16 to 256 characters, no
    /// control character); made by the hub and shown once when absent.
    #[serde(default)]
    #[schema(value_type = Option<String>, min_length = 16, max_length = 256, pattern = "^[^\\x00-\\x1f\\x7f-\\x9f]*$")]
    pub secret: Option<Secret>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookView {
    pub id: String,
    /// The subscriber: a station's id, or null for the hub operator.
    pub station: Option<String>,
    pub url: String,
    pub events: Vec<EventType>,
    pub created_at: DateTime<Utc>,
    /// Only in the answer to the subscription, when the hub made it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

impl WebhookView {
    fn new(w: Webhook, show_secret: bool) -> Self {
        Self {
            id: w.id,
            station: w.station.map(|s| s.to_string()),
            url: w.url,
            events: w.events,
            created_at: w.created_at,
            secret: show_secret.then(|| w.secret.expose().to_owned()),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryView {
    /// Also sent as `X-Hub-Delivery`.
    pub id: String,
    pub event_seq: i64,
    /// `failed`: given up after 10 attempts, or refused, or the
    /// subscription ended.
    pub state: DeliveryState,
    pub attempts: u32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The receiver's last HTTP status.
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

impl From<Delivery> for DeliveryView {
    fn from(d: Delivery) -> Self {
        Self {
            next_attempt_at: (d.state == DeliveryState::Pending).then_some(d.next_attempt_at),
            id: d.id,
            event_seq: d.event_seq,
            state: d.state,
            attempts: d.attempts,
            last_status: d.last_status,
            last_error: d.last_error,
            created_at: d.created_at,
            delivered_at: d.delivered_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookDetail {
    #[serde(flatten)]
    pub webhook: WebhookView,
    /// The latest deliveries, newest first.
    pub deliveries: Vec<DeliveryView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookList {
    pub items: Vec<WebhookView>,
}

/// The body of a delivery: its id and the event, with the program as it is
/// when delivered. Signed with `X-Hub-Signature-256: sha256=<hex HMAC-SHA256>`.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryBody {
    pub delivery: String,
    pub event: FeedEvent,
}

/// Renders a delivery (the dispatcher calls this).
pub fn render(delivery: &str, event: &Event, program: &Program, viewer: &Viewer) -> Vec<u8> {
    let body = DeliveryBody {
        delivery: delivery.to_owned(),
        event: FeedEvent::new(event, program.clone(), viewer),
    };
    serde_json::to_vec(&body).expect("a delivery serialises")
}

/// Subscribe a URL to event types (any station, the operator).
#[utoipa::path(post, path = "/api/v1/webhooks", tag = "feed", operation_id = "subscribe_webhook", request_body = WebhookInput,
    responses((status = 201, body = WebhookView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 409, body = Problem,
            description = "`too_many_webhooks`: the subscriber has as many webhooks as the hub allows (10 unless the operator says)"),
        (status = 422, body = Problem,
            description = "`validation_failed`; `url` is refused when its host is, or resolves to, an internal address")),
    security(("bearer" = [])))]
pub async fn subscribe(
    Auth(caller): Auth,
    hub: web::Data<Hub>,
    body: Json<WebhookInput>,
) -> Result<HttpResponse, ApiError> {
    let b = body.parsed()?;
    let made = b.secret.is_none();
    let hook = hub
        .subscribe(
            &caller,
            NewWebhook {
                url: b.url,
                events: b.events,
                secret: b.secret,
            },
        )
        .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/webhooks/{}", hook.id)))
        .json(WebhookView::new(hook, made)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct WebhookListParams {
    /// Only this station's subscriptions. The operator may name any station,
    /// and sees everyone's without it; others may name only their own.
    #[param(min_length = 2, max_length = 64, pattern = "^[a-z](?:[a-z0-9]|-(?=[a-z0-9])){1,63}$")]
    station: Option<String>,
}

/// Live subscriptions: the caller's own, or, for the operator, everyone's.
#[utoipa::path(get, path = "/api/v1/webhooks", tag = "feed", operation_id = "list_webhooks", params(WebhookListParams),
    responses((status = 200, body = WebhookList), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn list(
    Auth(caller): Auth,
    hub: web::Data<Hub>,
    query: Query<WebhookListParams>,
) -> Result<HttpResponse, ApiError> {
    let WebhookListParams { station } = query.parsed()?;
    let hooks = hub.webhooks(&caller, station).await?;
    Ok(HttpResponse::Ok().json(WebhookList {
        items: hooks.into_iter().map(|h| WebhookView::new(h, false)).collect(),
    }))
}

/// A subscription and its delivery log (its subscriber's, or the operator).
#[utoipa::path(get, path = "/api/v1/webhooks/{id}", tag = "feed", operation_id = "show_webhook", params(("id" = uuid::Uuid, Path, description = "webhook id")),
    responses((status = 200, body = WebhookDetail), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn show(Auth(caller): Auth, hub: web::Data<Hub>, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let (hook, log) = hub.deliveries(&caller, path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(WebhookDetail {
        webhook: WebhookView::new(hook, false),
        deliveries: log.into_iter().map(Into::into).collect(),
    }))
}

/// End a subscription (its subscriber, or the operator); its pending
/// deliveries are dropped.
#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", tag = "feed", operation_id = "unsubscribe_webhook", params(("id" = uuid::Uuid, Path, description = "webhook id")),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn unsubscribe(
    Auth(caller): Auth,
    hub: web::Data<Hub>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    hub.unsubscribe(&caller, path.into_inner()).await?;
    Ok(HttpResponse::new(StatusCode::NO_CONTENT))
}
