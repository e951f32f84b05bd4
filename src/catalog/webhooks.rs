//! Webhook subscriptions and their deliveries.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::stations::bad_column;
use super::{from_micros, to_micros};
use crate::domain::{Delivery, DeliveryState, EventType, Secret, StationId, Webhook};

/// Column `i`, a station id or NULL (the operator).
fn station(r: &Row<'_>, i: usize) -> rusqlite::Result<Option<StationId>> {
    r.get::<_, Option<String>>(i)?
        .map(|s| StationId::parse(&s).map_err(|e| bad_column(i, e)))
        .transpose()
}

fn webhook(r: &Row<'_>) -> rusqlite::Result<Webhook> {
    let events: String = r.get(3)?;
    let events: Vec<String> = serde_json::from_str(&events).map_err(|e| bad_column(3, e.to_string()))?;
    Ok(Webhook {
        id: r.get(0)?,
        station: station(r, 1)?,
        url: r.get(2)?,
        events: events
            .iter()
            .map(|e| EventType::parse(e).ok_or_else(|| bad_column(3, e.clone())))
            .collect::<Result<_, _>>()?,
        secret: Secret::new(r.get::<_, String>(4)?),
        created_at: from_micros(r.get(5)?),
        token_id: r.get(6)?,
    })
}

const WEBHOOK: &str = "SELECT id, station_id, url, events, secret, created_at, token_id FROM webhooks";

pub fn insert(conn: &Connection, w: &Webhook) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO webhooks (id, station_id, url, events, secret, created_at, token_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            w.id,
            w.station.as_ref().map(StationId::as_str),
            w.url,
            serde_json::to_string(&w.events.iter().map(|e| e.as_str()).collect::<Vec<_>>()).expect("strings"),
            w.secret.expose(),
            to_micros(w.created_at),
            w.token_id,
        ],
    )?;
    Ok(())
}

/// The live subscriptions of `station` (`None`: the operator's).
pub fn list(conn: &Connection, station: Option<&StationId>) -> rusqlite::Result<Vec<Webhook>> {
    let station = station.map(StationId::as_str);
    conn.prepare_cached(&format!(
        "{WEBHOOK} WHERE deleted_at IS NULL AND station_id IS ?1 ORDER BY created_at, id"
    ))?
    .query_map([station], webhook)?
    .collect()
}

/// How many live subscriptions `station` has (`None`: the operator).
pub fn count(conn: &Connection, station: Option<&StationId>) -> rusqlite::Result<usize> {
    let station = station.map(StationId::as_str);
    conn.prepare_cached("SELECT count(*) FROM webhooks WHERE deleted_at IS NULL AND station_id IS ?1")?
        .query_row([station], |r| r.get(0))
}

/// Every live subscription, of every subscriber.
pub fn all(conn: &Connection) -> rusqlite::Result<Vec<Webhook>> {
    conn.prepare_cached(&format!("{WEBHOOK} WHERE deleted_at IS NULL ORDER BY created_at, id"))?
        .query_map([], webhook)?
        .collect()
}

pub fn get(conn: &Connection, id: &str) -> rusqlite::Result<Option<Webhook>> {
    conn.prepare_cached(&format!("{WEBHOOK} WHERE deleted_at IS NULL AND id = ?1"))?
        .query_row([id], webhook)
        .optional()
}

/// Ends a subscription; its pending deliveries are dropped (the log stays).
pub fn delete(conn: &Connection, id: &str, now: DateTime<Utc>) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE webhooks SET deleted_at = ?2 WHERE id = ?1",
        params![id, to_micros(now)],
    )?;
    conn.execute(
        "UPDATE deliveries SET state = 'failed', last_error = 'subscription deleted' WHERE webhook_id = ?1 AND state = 'pending'",
        [id],
    )?;
    Ok(())
}

/// Ends every live subscription made with token `token_id`; returns how many.
pub fn delete_by_token(conn: &Connection, token_id: &str, now: DateTime<Utc>) -> rusqlite::Result<usize> {
    let ids: Vec<String> = conn
        .prepare_cached("SELECT id FROM webhooks WHERE deleted_at IS NULL AND token_id = ?1")?
        .query_map([token_id], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for id in &ids {
        delete(conn, id, now)?;
    }
    Ok(ids.len())
}

pub fn enqueue(
    conn: &Connection,
    id: &str,
    webhook_id: &str,
    event_seq: i64,
    now: DateTime<Utc>,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO deliveries (id, webhook_id, event_seq, state, next_attempt_at, created_at)
         VALUES (?1, ?2, ?3, 'pending', ?4, ?4)",
    )?
    .execute(params![id, webhook_id, event_seq, to_micros(now)])?;
    Ok(())
}

fn delivery(r: &Row<'_>) -> rusqlite::Result<Delivery> {
    let state: String = r.get(3)?;
    Ok(Delivery {
        id: r.get(0)?,
        webhook_id: r.get(1)?,
        event_seq: r.get(2)?,
        state: DeliveryState::parse(&state).ok_or_else(|| bad_column(3, state))?,
        attempts: r.get(4)?,
        next_attempt_at: from_micros(r.get(5)?),
        last_status: r.get(6)?,
        last_error: r.get(7)?,
        created_at: from_micros(r.get(8)?),
        delivered_at: r.get::<_, Option<i64>>(9)?.map(from_micros),
    })
}

const DELIVERY: &str = "SELECT id, webhook_id, event_seq, state, attempts, next_attempt_at, last_status, last_error,
    created_at, delivered_at FROM deliveries";

/// Each subscriber (station; `None`: the operator) with pending deliveries,
/// and when its first is due; soonest first.
pub fn pending_by_subscriber(conn: &Connection) -> rusqlite::Result<Vec<(Option<StationId>, DateTime<Utc>)>> {
    conn.prepare_cached(
        "SELECT w.station_id, min(d.next_attempt_at) AS due
         FROM deliveries d JOIN webhooks w ON w.id = d.webhook_id
         WHERE d.state = 'pending' GROUP BY w.station_id ORDER BY due",
    )?
    .query_map([], |r| Ok((station(r, 0)?, from_micros(r.get(1)?))))?
    .collect()
}

/// Pending deliveries of `station`'s subscriptions (`None`: the operator's)
/// whose time has come, oldest first.
pub fn due_for(
    conn: &Connection,
    station: Option<&StationId>,
    now: DateTime<Utc>,
    limit: usize,
) -> rusqlite::Result<Vec<Delivery>> {
    let station = station.map(StationId::as_str);
    conn.prepare_cached(
        "SELECT d.id, d.webhook_id, d.event_seq, d.state, d.attempts, d.next_attempt_at, d.last_status,
             d.last_error, d.created_at, d.delivered_at
         FROM deliveries d JOIN webhooks w ON w.id = d.webhook_id
         WHERE d.state = 'pending' AND d.next_attempt_at <= ?1 AND w.station_id IS ?2
         ORDER BY d.next_attempt_at, d.event_seq LIMIT ?3",
    )?
    .query_map(params![to_micros(now), station, limit as i64], delivery)?
    .collect()
}

pub fn log(conn: &Connection, webhook_id: &str, limit: usize) -> rusqlite::Result<Vec<Delivery>> {
    conn.prepare_cached(&format!(
        "{DELIVERY} WHERE webhook_id = ?1 ORDER BY event_seq DESC LIMIT ?2"
    ))?
    .query_map(params![webhook_id, limit as i64], delivery)?
    .collect()
}

/// Takes delivery `id` for one attempt: pushes its due time past the attempt,
/// so that no other dispatcher sends it meanwhile. False when it was not due
/// (another took it).
pub fn claim(conn: &Connection, id: &str, now: DateTime<Utc>, until: DateTime<Utc>) -> rusqlite::Result<bool> {
    let n = conn
        .prepare_cached(
            "UPDATE deliveries SET next_attempt_at = ?3 WHERE id = ?1 AND state = 'pending' AND next_attempt_at <= ?2",
        )?
        .execute(params![id, to_micros(now), to_micros(until)])?;
    Ok(n == 1)
}

/// Records an attempt: delivered, or another try at `retry_at`, or given up.
pub fn attempted(
    conn: &Connection,
    id: &str,
    status: Option<u16>,
    error: Option<&str>,
    outcome: Outcome,
    now: DateTime<Utc>,
) -> rusqlite::Result<()> {
    let (state, next, delivered) = match outcome {
        Outcome::Delivered => (DeliveryState::Delivered, now, Some(to_micros(now))),
        Outcome::RetryAt(at) => (DeliveryState::Pending, at, None),
        Outcome::GaveUp => (DeliveryState::Failed, now, None),
    };
    conn.prepare_cached(
        "UPDATE deliveries SET state = ?2, attempts = attempts + 1, next_attempt_at = ?3, last_status = ?4,
             last_error = ?5, delivered_at = ?6
         WHERE id = ?1 AND state = 'pending'",
    )?
    .execute(params![id, state.as_str(), to_micros(next), status, error, delivered])?;
    Ok(())
}

#[derive(Debug, Clone, Copy)]
pub enum Outcome {
    Delivered,
    RetryAt(DateTime<Utc>),
    GaveUp,
}
