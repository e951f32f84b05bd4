//! Programs' use-cases: create, read, merge-patch, publish, withdraw and
//! delete drafts, each with its rights check and its feed event in the same
//! transaction. Search lives in `search`, files in `files`.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::delivery::emit;
use super::rights::{may_see, owns};
use super::tokens::Caller;
use super::{ExchangeError, Hub};
use crate::catalog::index::SearchIndex;
use crate::catalog::programs::{self, Stored};
use crate::catalog::{self, media, stations};
use crate::catalog::{Connection, Transaction};
use crate::domain::{Action, ActionKind, Audience, EventType, PersonId};
use crate::domain::{FieldError, Program, ProgramId, ProgramInput, ProgramMetadata, ProgramStatus, StationId, Viewer};
use crate::exchange::error::code;

/// An `If-Match` precondition: the list of entity tags a write accepts.
#[derive(Debug, Clone, Default)]
pub struct IfMatch(pub Option<Vec<String>>);

impl IfMatch {
    fn check(&self, p: &Program) -> Result<(), ExchangeError> {
        match &self.0 {
            Some(tags) if !tags.iter().any(|t| t == "*" || *t == p.etag()) => Err(ExchangeError::PreconditionFailed),
            _ => Ok(()),
        }
    }
}

/// Parses metadata and checks what only the catalog knows (the stations a
/// rights block names exist).
pub(super) fn parse_metadata(tx: &Transaction<'_>, input: ProgramInput) -> Result<ProgramMetadata, ExchangeError> {
    let meta = ProgramMetadata::parse(input).map_err(ExchangeError::Invalid)?;
    let missing = stations::missing(tx, &meta.rights.stations)?;
    if missing.is_empty() {
        return Ok(meta);
    }
    Err(ExchangeError::Invalid(
        meta.rights
            .stations
            .iter()
            .enumerate()
            .filter(|(_, s)| missing.contains(s))
            .map(|(i, s)| FieldError::new(format!("rights.stations[{i}]"), format!("no station `{s}`")))
            .collect(),
    ))
}

/// The program `id` as `viewer` may see it, or `NotFound`.
pub(super) fn visible(conn: &Connection, viewer: &Viewer, id: ProgramId) -> Result<Stored, ExchangeError> {
    match programs::get(conn, id)? {
        Some(s) if may_see(viewer, &s.program) => Ok(s),
        _ => Err(ExchangeError::NotFound),
    }
}

/// The program `id` for a change by `viewer`: 404 when it cannot see it, 403
/// when it can but does not own it, 412 when `if_match` is stale.
pub(super) fn owned(
    tx: &Transaction<'_>,
    viewer: &Viewer,
    id: ProgramId,
    if_match: &IfMatch,
) -> Result<Stored, ExchangeError> {
    let s = visible(tx, viewer, id)?;
    if !owns(viewer, &s.program) {
        return Err(ExchangeError::Forbidden(
            "only the station that owns a program may change it",
        ));
    }
    if_match.check(&s.program)?;
    Ok(s)
}

/// The program `id` for what its owner may do, and the hub operator: 404
/// when `viewer` cannot see it, 403 (saying `why`) when it is neither, 412
/// when `if_match` is stale.
pub(super) fn owned_or_operated(
    conn: &Connection,
    viewer: &Viewer,
    id: ProgramId,
    if_match: &IfMatch,
    why: &'static str,
) -> Result<Stored, ExchangeError> {
    let s = visible(conn, viewer, id)?;
    if !(owns(viewer, &s.program) || *viewer == Viewer::Admin) {
        return Err(ExchangeError::Forbidden(why));
    }
    if_match.check(&s.program)?;
    Ok(s)
}

/// Deletes the draft `s` from the catalog and the index; returns the keys of
/// the objects no file uses any more.
fn delete_draft(tx: &Transaction<'_>, index: &SearchIndex, s: &Stored) -> Result<Vec<String>, ExchangeError> {
    if s.program.status != ProgramStatus::Draft {
        return Err(ExchangeError::conflict(
            code::NOT_A_DRAFT,
            "only a draft can be deleted; withdraw a published program instead",
        ));
    }
    programs::delete(tx, s.seq)?;
    index.refresh(tx, s.seq)?;
    let mut unused = Vec::new();
    for f in &s.program.files {
        unused.extend(media::release(tx, &f.sha256)?);
    }
    Ok(unused)
}

fn reload(tx: &Transaction<'_>, id: ProgramId) -> Result<Program, ExchangeError> {
    Ok(programs::get(tx, id)?.ok_or(ExchangeError::NotFound)?.program)
}

/// RFC 7396 JSON merge patch.
fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(target) = target else { unreachable!() };
    for (k, v) in patch {
        if v.is_null() {
            target.remove(k);
        } else {
            merge_patch(target.entry(k.clone()).or_insert(Value::Null), v);
        }
    }
}

/// Reads JSON into `T`, naming the offending field on failure.
pub fn from_json<T: serde::de::DeserializeOwned>(v: Value) -> Result<T, ExchangeError> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." { String::new() } else { path };
        ExchangeError::invalid(field, e.into_inner().to_string())
    })
}

impl Hub {
    #[tracing::instrument(skip_all, fields(caller = %caller.token_id))]
    pub async fn create_program(&self, caller: &Caller, input: ProgramInput) -> Result<Program, ExchangeError> {
        let Some(station) = caller.station.clone() else {
            return Err(ExchangeError::Forbidden(
                "programs belong to stations; the hub operator has none",
            ));
        };
        require_offer(caller)?;
        let index = self.index.clone();
        let person = caller.person_id();
        self.catalog
            .write(move |tx| {
                let meta = parse_metadata(tx, input)?;
                let id = ProgramId::generate();
                let now = catalog::now();
                let seq = programs::insert(tx, id, &station, &meta, now)?;
                index.refresh(tx, seq)?;
                record_action(tx, seq, person.as_ref(), ActionKind::Created, None, now)?;
                reload(tx, id)
            })
            .await
    }

    #[tracing::instrument(skip_all, fields(caller = %caller.token_id, program = %id))]
    pub async fn program(&self, caller: &Caller, id: ProgramId) -> Result<Program, ExchangeError> {
        let viewer = caller.viewer();
        self.catalog
            .read(move |c| visible(c, &viewer, id).map(|s| s.program))
            .await
    }

    /// Applies a JSON merge patch to the program's metadata.
    #[tracing::instrument(skip_all, fields(caller = %caller.token_id, program = %id))]
    pub async fn patch_program(
        &self,
        caller: &Caller,
        id: ProgramId,
        patch: Value,
        if_match: IfMatch,
    ) -> Result<Program, ExchangeError> {
        if !patch.is_object() {
            return Err(ExchangeError::invalid("", "a merge patch must be a JSON object"));
        }
        require_offer(caller)?;
        let viewer = caller.viewer();
        let index = self.index.clone();
        let person = caller.person_id();
        let done = self
            .catalog
            .write(move |tx| {
                let s = owned(tx, &viewer, id, &if_match)?;
                let before = serde_json::to_value(s.program.meta.to_input()).expect("metadata serialises");
                let mut doc = before.clone();
                merge_patch(&mut doc, &patch);
                let meta = parse_metadata(tx, from_json(doc)?)?;
                if meta != s.program.meta {
                    let (was, is) = (s.program.meta.rights.audience, meta.rights.audience);
                    if (was == Audience::All) != (is == Audience::All) && s.program.origin.is_none() {
                        // Peer hubs still hear of it, to withdraw their mirrors.
                        crate::catalog::peers::set_unshared(tx, s.seq, is != Audience::All)?;
                    }
                    let now = catalog::now();
                    programs::update_metadata(tx, s.seq, &meta, now)?;
                    let after = serde_json::to_value(meta.to_input()).expect("metadata serialises");
                    let changed = changed_fields(&before, &after);
                    record_action(tx, s.seq, person.as_ref(), ActionKind::Edited, Some(&changed), now)?;
                    index.refresh(tx, s.seq)?;
                    if s.program.status != ProgramStatus::Draft {
                        emit(tx, EventType::Updated, id)?;
                    }
                }
                reload(tx, id)
            })
            .await;
        if done.is_ok() {
            self.delivered().await;
        }
        done
    }

    /// Deletes a draft, and the objects of its files that no other file
    /// shares. Its owner may, and the hub operator, who must be able to
    /// remove what a station should not have left.
    #[tracing::instrument(skip_all, fields(caller = %caller.token_id, program = %id))]
    pub async fn delete_program(&self, caller: &Caller, id: ProgramId, if_match: IfMatch) -> Result<(), ExchangeError> {
        require_offer(caller)?;
        let viewer = caller.viewer();
        let index = self.index.clone();
        let unused = self
            .catalog
            .write(move |tx| {
                let s = owned_or_operated(
                    tx,
                    &viewer,
                    id,
                    &if_match,
                    "only the owner or the hub operator may delete a program",
                )?;
                delete_draft(tx, &index, &s)
            })
            .await?;
        self.delete_objects(unused).await;
        Ok(())
    }

    /// Deletes the drafts of `station` created before `created_before` (all
    /// of them when `None`), as [`Hub::delete_program`] does one: the hub
    /// operator's clean-up. Returns how many went.
    #[tracing::instrument(skip_all, fields(caller = %caller.token_id))]
    pub async fn delete_drafts(
        &self,
        caller: &Caller,
        station: StationId,
        created_before: Option<DateTime<Utc>>,
    ) -> Result<usize, ExchangeError> {
        if !caller.is_admin() {
            return Err(ExchangeError::Forbidden(
                "only the hub operator may delete a station's drafts",
            ));
        }
        let index = self.index.clone();
        let (deleted, unused) = self
            .catalog
            .write(move |tx| {
                let mut unused = Vec::new();
                let mut deleted = 0;
                for id in programs::drafts_of(tx, &station, created_before)? {
                    if let Some(s) = programs::get(tx, id)? {
                        unused.extend(delete_draft(tx, &index, &s)?);
                        deleted += 1;
                    }
                }
                Ok::<_, ExchangeError>((deleted, unused))
            })
            .await?;
        self.delete_objects(unused).await;
        Ok(deleted)
    }

    /// Publishes a draft that has its master file. Publishing a published
    /// program again changes nothing, so a client may safely retry.
    #[tracing::instrument(skip_all, fields(caller = %caller.token_id, program = %id))]
    pub async fn publish_program(
        &self,
        caller: &Caller,
        id: ProgramId,
        if_match: IfMatch,
    ) -> Result<Program, ExchangeError> {
        require_offer(caller)?;
        let viewer = caller.viewer();
        let index = self.index.clone();
        let person = caller.person_id();
        let analysing = self.analysis.workers > 0;
        let done = self
            .catalog
            .write(move |tx| {
                let s = owned(tx, &viewer, id, &if_match)?;
                match s.program.status {
                    ProgramStatus::Published => return Ok(s.program),
                    ProgramStatus::Withdrawn => {
                        return Err(ExchangeError::conflict(
                            code::INVALID_STATUS,
                            "a withdrawn program cannot be published again",
                        ))
                    }
                    ProgramStatus::Draft => {}
                }
                if !s.program.has_master() {
                    return Err(ExchangeError::conflict(
                        code::MASTER_REQUIRED,
                        "upload the program's master file before publishing it",
                    ));
                }
                // Its analysis must have ended; QC warnings do not block,
                // a master that is no media does.
                Hub::master_analysed(tx, &s.program.files, analysing)?;
                if Hub::master_not_media(tx, &s.program.files)? {
                    return Err(ExchangeError::conflict(
                        code::MASTER_NOT_MEDIA,
                        "the master is not audio or video the hub can read (see files[].analysis.qc); upload another",
                    ));
                }
                let now = catalog::now();
                programs::publish(tx, s.seq, now)?;
                record_action(tx, s.seq, person.as_ref(), ActionKind::Published, None, now)?;
                index.refresh(tx, s.seq)?;
                emit(tx, EventType::Published, id)?;
                reload(tx, id)
            })
            .await;
        if done.is_ok() {
            self.delivered().await;
        }
        done
    }

    /// Withdraws a published program: the owner or the admin may.
    #[tracing::instrument(skip_all, fields(caller = %caller.token_id, program = %id))]
    pub async fn withdraw_program(
        &self,
        caller: &Caller,
        id: ProgramId,
        reason: String,
        if_match: IfMatch,
    ) -> Result<Program, ExchangeError> {
        let reason = reason.trim().to_owned();
        if reason.is_empty() || reason.chars().count() > 1000 {
            return Err(ExchangeError::invalid("reason", "must be 1 to 1000 characters"));
        }
        require_offer(caller)?;
        let viewer = caller.viewer();
        let index = self.index.clone();
        let person = caller.person_id();
        let done = self
            .catalog
            .write(move |tx| {
                let s = owned_or_operated(
                    tx,
                    &viewer,
                    id,
                    &if_match,
                    "only the owner or the hub operator may withdraw a program",
                )?;
                match s.program.status {
                    ProgramStatus::Withdrawn => return Ok(s.program),
                    ProgramStatus::Draft => {
                        return Err(ExchangeError::conflict(
                            code::INVALID_STATUS,
                            "a draft is not published; delete it instead",
                        ))
                    }
                    ProgramStatus::Published => {}
                }
                let now = catalog::now();
                programs::withdraw(tx, s.seq, &reason, now)?;
                record_action(tx, s.seq, person.as_ref(), ActionKind::Withdrew, Some(&reason), now)?;
                index.refresh(tx, s.seq)?;
                emit(tx, EventType::Withdrawn, id)?;
                reload(tx, id)
            })
            .await;
        if done.is_ok() {
            self.delivered().await;
        }
        done
    }
}

/// Refuses a person whose role does not let them offer programs.
pub(super) fn require_offer(caller: &Caller) -> Result<(), ExchangeError> {
    if caller.is_peer() {
        return Err(ExchangeError::Forbidden(
            "a peer hub reads what it may see and reports takes; it offers nothing",
        ));
    }
    if caller.may_offer() {
        Ok(())
    } else {
        Err(ExchangeError::Forbidden(
            "a viewer finds and takes programs; an editor offers them",
        ))
    }
}

/// Notes what a person did to a program (machines' tokens leave no name).
/// The top-level fields that differ between two metadata documents, as
/// `title,rights` (what an edit changed, for the program's history).
fn changed_fields(before: &Value, after: &Value) -> String {
    let (Some(b), Some(a)) = (before.as_object(), after.as_object()) else {
        return String::new();
    };
    a.iter()
        .filter(|(k, v)| b.get(*k) != Some(*v))
        .map(|(k, _)| k.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

pub(super) fn record_action(
    tx: &Connection,
    seq: i64,
    person: Option<&PersonId>,
    kind: ActionKind,
    detail: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), ExchangeError> {
    if let Some(p) = person {
        crate::catalog::people::record_action(tx, seq, p, kind, detail, now)?;
    }
    Ok(())
}

impl Hub {
    /// Who did what when to a program the caller may see.
    pub async fn program_actions(&self, caller: &Caller, id: ProgramId) -> Result<Vec<Action>, ExchangeError> {
        let viewer = caller.viewer();
        self.catalog
            .read(move |c| {
                let s = visible(c, &viewer, id)?;
                Ok(crate::catalog::people::actions(c, s.seq)?)
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_follows_rfc_7396() {
        // The examples of RFC 7396, appendix A.
        let cases = [
            (json!({"a": "b"}), json!({"a": "c"}), json!({"a": "c"})),
            (json!({"a": "b"}), json!({"b": "c"}), json!({"a": "b", "b": "c"})),
            (json!({"a": "b"}), json!({"a": null}), json!({})),
            (
                json!({"a": {"b": "c"}}),
                json!({"a": {"b": "d", "c": null}}),
                json!({"a": {"b": "d"}}),
            ),
            (json!({"a": [{"b": "c"}]}), json!({"a": [1]}), json!({"a": [1]})),
            (json!(["a", "b"]), json!({"a": "c"}), json!({"a": "c"})),
            (json!({"e": null}), json!({"a": 1}), json!({"e": null, "a": 1})),
            (json!({}), json!({"a": {"bb": {"ccc": null}}}), json!({"a": {"bb": {}}})),
        ];
        for (mut target, patch, expected) in cases {
            merge_patch(&mut target, &patch);
            assert_eq!(target, expected, "patch {patch}");
        }
    }
}
