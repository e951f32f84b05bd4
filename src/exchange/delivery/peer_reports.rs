//! Takes and rebroadcasts crossing back to the origin hub. On the hub that
//! follows, a take or a rebroadcast of a mirrored program queues a report
//! in the same transaction (so a crash between recording and reporting
//! loses nothing), and the peer worker sends the queue until the origin
//! acknowledges each; on the origin, each report counts once by its key.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::peers::{describe, join};
use crate::catalog::{self, peers, programs, stations, Transaction};
use crate::domain::{FieldError, FileRecord, PeerUse, Program, ProgramId, StationId};
use crate::exchange::programs::visible;
use crate::exchange::{Caller, ExchangeError, Hub};

/// Reports sent in one round.
const BATCH: usize = 100;

/// What a peer says one of its stations did with one of this hub's programs.
#[derive(Debug, Clone)]
pub struct PeerReport {
    pub station: String,
    pub station_name: String,
    pub idempotency_key: String,
    /// A take's file role; a rebroadcast's time and channel.
    pub role: Option<String>,
    pub aired_at: Option<DateTime<Utc>>,
    pub channel: Option<String>,
}

impl PeerReport {
    fn check(&self) -> Result<(), ExchangeError> {
        let mut errors = Vec::new();
        if StationId::parse(&self.station).is_err() {
            errors.push(FieldError::new("station", "must be the station's id at the peer hub"));
        }
        let name = crate::domain::text::tidy(&self.station_name, false).unwrap_or_default();
        if name.is_empty() || name.chars().count() > 200 {
            errors.push(FieldError::new("station_name", "must be 1 to 200 characters of text"));
        }
        let key = &self.idempotency_key;
        if key.is_empty() || key.len() > 100 || !key.bytes().all(|b| b.is_ascii_graphic()) {
            errors.push(FieldError::new(
                "idempotency_key",
                "must be 1 to 100 printable characters",
            ));
        }
        if self
            .channel
            .as_ref()
            .is_some_and(|c| c.trim().is_empty() || c.chars().count() > 200)
        {
            errors.push(FieldError::new("channel", "must be 1 to 200 characters"));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ExchangeError::Invalid(errors))
        }
    }
}

impl Hub {
    /// Records a peer's report of a take or a rebroadcast (`kind`) of
    /// program `id` by one of its stations; `Ok((use, false))` when its key
    /// was recorded before (nothing counted twice).
    pub async fn record_peer_use(
        &self,
        caller: &Caller,
        id: ProgramId,
        kind: &'static str,
        report: PeerReport,
    ) -> Result<(PeerUse, bool), ExchangeError> {
        let Some(peer) = caller.station.clone().filter(|_| caller.is_peer()) else {
            return Err(ExchangeError::Forbidden(
                "takes of other clusters are reported by their hubs, with a peer token",
            ));
        };
        report.check()?;
        let viewer = caller.viewer();
        self.catalog
            .write(move |tx| {
                let s = visible(tx, &viewer, id)?;
                let u = PeerUse {
                    peer,
                    key: report.idempotency_key,
                    kind,
                    station: report.station,
                    station_name: crate::domain::text::tidy(&report.station_name, false).unwrap_or_default(),
                    role: report.role,
                    aired_at: report.aired_at,
                    channel: report.channel.map(|c| c.trim().to_owned()),
                    at: catalog::now(),
                };
                let new = peers::record_use(tx, s.seq, &u)?;
                Ok((u, new))
            })
            .await
    }

    /// Sends what waits in the outbox to the origins; what is not
    /// acknowledged stays for the next round.
    pub(super) async fn send_reports(&self, client: &reqwest::Client) {
        let due = match self.catalog.read(|c| peers::unsent_reports(c, BATCH)).await {
            Ok(due) => due,
            Err(e) => {
                tracing::error!(error = %e, "could not read the reports to peer hubs");
                return;
            }
        };
        for r in due {
            let outcome = self.send_report(client, &r).await;
            if let Err(why) = &outcome {
                tracing::warn!(peer = %r.peer, report = %r.id, "a report to the origin hub waits: {why}");
            }
            let id = r.id.clone();
            let error = outcome.err();
            if let Err(e) = self
                .catalog
                .write(move |tx| peers::report_tried(tx, &id, error.as_deref()))
                .await
            {
                tracing::error!(error = %e, "could not record a report's attempt");
            }
        }
    }

    async fn send_report(&self, client: &reqwest::Client, r: &peers::Outgoing) -> Result<(), String> {
        let id = r.peer.clone();
        let peer = self
            .catalog
            .read(move |c| peers::get(c, &id))
            .await
            .map_err(|e| e.to_string())?
            .ok_or("the hub no longer follows this peer")?;
        let base = url::Url::parse(&peer.url).map_err(|_| "not a URL")?;
        if let Some(Err(_)) = self.webhook_guard.judge_literal(&base) {
            return Err("the peer's address is refused".into());
        }
        let path = format!("api/v1/programs/{}/{}s", r.program_id, r.kind);
        let url = join(&base, &path).map_err(|e| e.to_string())?;
        let answer = client
            .post(url)
            .bearer_auth(peer.token.expose())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(r.body.clone())
            .send()
            .await
            .map_err(|e| describe(&e))?;
        match answer.status().as_u16() {
            200 | 201 => Ok(()),
            s => Err(format!("the peer answered {s}")),
        }
    }
}

/// Queues a report of a take of the mirrored `program` by `taker`.
pub(in crate::exchange) fn queue_take(
    tx: &Transaction<'_>,
    program: ProgramId,
    taker: &StationId,
    file: &FileRecord,
) -> Result<bool, ExchangeError> {
    let Some(s) = programs::get(tx, program)? else {
        return Ok(false);
    };
    let body = |station: &str, name: &str, key: &str| json!({"station": station, "station_name": name, "role": file.role.as_str(), "idempotency_key": key});
    queue(tx, &s.program, taker, "take", body)
}

/// Queues a report of a rebroadcast of the mirrored `program` by `station`.
pub(in crate::exchange) fn queue_rebroadcast(
    tx: &Transaction<'_>,
    program: &Program,
    station: &StationId,
    r: &crate::domain::Rebroadcast,
) -> Result<bool, ExchangeError> {
    let body = |id: &str, name: &str, key: &str| {
        json!({"station": id, "station_name": name, "aired_at": r.aired_at, "channel": r.channel,
               "note": r.note, "idempotency_key": key})
    };
    queue(tx, program, station, "rebroadcast", body)
}

fn queue(
    tx: &Transaction<'_>,
    program: &Program,
    station: &StationId,
    kind: &str,
    body: impl Fn(&str, &str, &str) -> serde_json::Value,
) -> Result<bool, ExchangeError> {
    let Some(origin) = &program.origin else {
        return Ok(false);
    };
    let name = stations::get(tx, station)?.map_or_else(|| station.to_string(), |s| s.name);
    let key = uuid::Uuid::new_v4().to_string();
    peers::queue_report(
        tx,
        &peers::Outgoing {
            id: key.clone(),
            peer: origin.peer.clone(),
            program_id: origin.program_id.clone(),
            kind: kind.to_owned(),
            body: body(station.as_str(), &name, &key).to_string(),
        },
    )?;
    Ok(true)
}
