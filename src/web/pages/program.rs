//! A program's page: its metadata and rights in words, its files with a
//! player and the download button (or why not), the EBUCore link; for its
//! owner who took it and their rebroadcasts, publish and withdraw; for a
//! station that took it, the rebroadcast form; and who did what when.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::Utc;
use serde::Deserialize;

use super::{form, program_id, station_names, FieldErrors, StationNames};
use crate::domain::analysis::PreviewKind;
use crate::domain::follow::Rule;
use crate::domain::{AnalysisState, FileAnalysis, FileRole, FollowKind, Program, ProgramStatus};
use crate::exchange::error::code;
use crate::exchange::programs::IfMatch;
use crate::exchange::rights::{may_take, owns};
use crate::exchange::{ExchangeError, NewFollow, NewRebroadcast};
use crate::web::i18n::Tr;
use crate::web::visit::Chrome;
use crate::web::words::{self, Badge};
use crate::web::{format, page, page_with, see_other, Visit, WebError};

pub struct FileView {
    pub role: String,
    pub filename: String,
    pub media_type: String,
    pub size: String,
    /// The download (a take).
    pub href: String,
    /// The preview's URL and `audio` or `video`, when the analysis made one
    /// (hearing it is never a take; the master is never streamed here).
    pub preview: Option<(String, &'static str)>,
    /// The video poster's URL, when there is one.
    pub poster: Option<String>,
    pub analysis: Option<AnalysisView>,
    /// For a mirrored program's file not fetched yet while its origin hub
    /// cannot give it: that it waits for its origin, and since when it was
    /// last tried (said instead of a download that would fail).
    pub waiting: Option<String>,
}

/// A file's analysis in words.
pub struct AnalysisView {
    pub state: String,
    /// `pending`, `running`, `done` or `failed`.
    pub state_class: &'static str,
    pub error: String,
    pub facts: Vec<(String, String)>,
    /// The QC verdict in words, its class and its reasons.
    pub verdict: Option<(String, &'static str)>,
    pub reasons: Vec<String>,
}

pub(super) fn analysis_view(t: &crate::web::i18n::Tr, a: &FileAnalysis) -> AnalysisView {
    let lang = t.lang;
    let mut facts = Vec::new();
    if let Some(c) = &a.container {
        facts.push((t.get("analysis-container"), c.clone()));
    }
    if let Some(d) = a.duration_seconds {
        facts.push((t.get("field-duration"), format::duration(d.round() as u32, lang)));
    }
    for st in &a.streams {
        let mut parts: Vec<String> = Vec::new();
        if let Some(c) = &st.codec {
            parts.push(c.clone());
        }
        if let (Some(w), Some(h)) = (st.width, st.height) {
            parts.push(format!("{w}×{h}"));
        }
        if let Some(r) = st.frame_rate {
            parts.push(format!("{} fps", format::number(r, 2, lang)));
        }
        if let Some(r) = st.sample_rate {
            parts.push(format!("{} Hz", format::integer(u64::from(r), lang)));
        }
        if let Some(c) = st.channels {
            parts.push(t.arg("analysis-channels", "n", c));
        }
        if let Some(b) = st.bit_rate {
            parts.push(format!("{} kbit/s", format::integer(b / 1000, lang)));
        }
        let kind = match st.kind.as_str() {
            "audio" => t.get("analysis-audio"),
            "video" => t.get("analysis-video"),
            other => other.to_owned(),
        };
        facts.push((kind, parts.join(", ")));
    }
    if let Some(l) = &a.loudness {
        let fig = |v: Option<f64>, unit: &str| v.map(|v| format!("{} {unit}", format::number(v, 1, lang)));
        let figs: Vec<String> = [
            fig(l.integrated_lufs, "LUFS"),
            fig(l.range_lu, "LU"),
            fig(l.true_peak_dbtp, "dBTP"),
        ]
        .into_iter()
        .flatten()
        .collect();
        if !figs.is_empty() {
            facts.push((t.get("analysis-loudness"), figs.join(" · ")));
        }
    }
    AnalysisView {
        state: t.get(&format!("analysis-{}", a.state.as_str())),
        state_class: a.state.as_str(),
        // The analysis's own error is for the operator's log, not the page.
        error: a.error.as_ref().map(|_| t.get("analysis-error")).unwrap_or_default(),
        facts,
        verdict: a
            .qc
            .as_ref()
            .map(|q| (t.get(&format!("qc-{}", q.verdict.as_str())), q.verdict.as_str())),
        reasons: a
            .qc
            .as_ref()
            .map(|q| q.reasons.iter().map(|r| words::qc_reason(t, r)).collect())
            .unwrap_or_default(),
    }
}

pub struct TakeView {
    pub station: String,
    pub role: String,
    pub at: String,
}

pub struct RebroadcastView {
    pub station: String,
    pub channel: String,
    pub aired_at: String,
    pub note: String,
}

/// What "Theo dõi chương trình này" follows: the program's series, or its
/// station when it has none.
pub struct FollowOffer {
    /// The words for what is followed (the series' name, the station's).
    pub what: String,
    /// The caller's station follows it already.
    pub following: bool,
}

/// The follow a program offers: its series when it has one, else its station.
fn follow_of(p: &Program) -> (FollowKind, String) {
    match &p.meta.series {
        Some(series) => (FollowKind::Series, series.clone()),
        None => (FollowKind::Station, p.station.to_string()),
    }
}

pub struct ActionView {
    pub at: String,
    pub who: String,
    pub what: String,
    pub detail: String,
}

#[derive(Template)]
#[template(path = "program.html")]
struct ProgramPage {
    c: Chrome,
    id: String,
    title: String,
    status: String,
    is_draft: bool,
    is_published: bool,
    station: String,
    facts: Vec<(String, String)>,
    summary: String,
    description: String,
    rights: Vec<(String, String)>,
    /// The rights badge; none on a withdrawn program (its status says it).
    badge: Option<Badge>,
    /// The master is uploaded: the program may be published.
    has_master: bool,
    /// What was just done, confirmed ("Đã đăng chương trình").
    notice: Option<String>,
    /// Why publishing was refused, and what to do.
    publish_error: Option<String>,
    /// The version shown (its ETag), sent back by the delete form.
    version: String,
    /// Why it was withdrawn, for whoever may still see it and take it
    /// (its owner: `why_not` says it to the others).
    withdrawn_reason: Option<String>,
    files: Vec<FileView>,
    /// Why the files may not be taken now, if they may not.
    why_not: Option<String>,
    owner: bool,
    may_offer: bool,
    takes: Vec<TakeView>,
    rebroadcasts: Vec<RebroadcastView>,
    /// The caller's station took it: it may report a rebroadcast.
    taker: bool,
    actions: Vec<ActionView>,
    /// For a station's people (not the operator's) who do not own it.
    follow: Option<FollowOffer>,
    errors: FieldErrors,
    now_local: String,
}

async fn render(v: &Visit, id: crate::domain::ProgramId, errors: FieldErrors) -> Result<ProgramPage, WebError> {
    render_with(v, id, errors, None, None).await
}

async fn render_with(
    v: &Visit,
    id: crate::domain::ProgramId,
    errors: FieldErrors,
    notice: Option<String>,
    publish_error: Option<String>,
) -> Result<ProgramPage, WebError> {
    let s = v.signed_in()?;
    let t = v.t();
    let caller = &s.caller;
    let p: Program = v.hub.program(caller, id).await.map_err(|e| v.fail(e))?;
    let names = station_names(v).await?;
    let viewer = caller.viewer();
    let owner = owns(&viewer, &p);
    let now = Utc::now();
    let take = may_take(&viewer, &p, now);
    let m = &p.meta;
    let facts = facts(&t, &p);
    let rights = rights(&t, &m.rights, &names);
    let waiting = match take {
        Ok(()) => waiting_views(v, &p, &names).await?,
        Err(_) => Vec::new(),
    };
    let files = file_views(v, caller, &p, &waiting).await;
    let (takes, rebroadcasts) = match owner || caller.is_admin() {
        true => ledger_views(v, id, &names).await?,
        false => (Vec::new(), Vec::new()),
    };
    let taker = !owner && v.hub.has_taken(caller, id).await.map_err(|e| v.fail(e))?;
    let actions = action_views(v, id, &names).await?;
    let follow = match &caller.station {
        Some(_) if !owner => Some(follow_offer(v, &p, &names).await?),
        _ => None,
    };
    Ok(ProgramPage {
        c: v.chrome(),
        id: p.id.to_string(),
        title: m.title.clone(),
        status: words::status(&t, p.status),
        is_draft: p.status == ProgramStatus::Draft,
        is_published: p.status == ProgramStatus::Published,
        station: names.of_program(&p),
        facts,
        summary: m.summary.clone().unwrap_or_default(),
        description: m.description.clone().unwrap_or_default(),
        rights,
        badge: (p.status != ProgramStatus::Withdrawn).then(|| words::badge(&t, &p, take, now)),
        has_master: p.has_master(),
        version: p.etag(),
        withdrawn_reason: match (p.status, take) {
            (ProgramStatus::Withdrawn, Ok(())) => {
                Some(words::why_not(&t, crate::exchange::rights::NotNow::Withdrawn, &p))
            }
            _ => None,
        },
        notice,
        publish_error,
        files,
        why_not: take.err().map(|why| words::why_not(&t, why, &p)),
        owner,
        may_offer: caller.may_offer(),
        takes,
        rebroadcasts,
        taker,
        actions,
        follow,
        errors,
        now_local: format::input_date_time(now),
    })
}

/// For a mirrored program, what its files that wait for their origin hub
/// say instead of a download, by role.
async fn waiting_views(v: &Visit, p: &Program, names: &StationNames) -> Result<Vec<(FileRole, String)>, WebError> {
    let Some(o) = &p.origin else {
        return Ok(Vec::new());
    };
    let (t, peer) = (v.t(), names.of(o.peer.as_str()));
    let waits = v.hub.waiting_for_origin(p).await.map_err(|e| v.fail(e))?;
    Ok(waits
        .into_iter()
        .map(|(role, at)| {
            let when = format::date_time(at, t.lang);
            (
                role,
                t.args("waiting-for-origin", &[("name", peer.clone()), ("date", when)]),
            )
        })
        .collect())
}

/// What the program is, as label and value rows.
fn facts(t: &Tr, p: &Program) -> Vec<(String, String)> {
    let (m, lang) = (&p.meta, t.lang);
    let mut facts = vec![
        (t.get("field-kind"), words::kind(t, m.kind)),
        (t.get("field-genre"), words::genre(t, m.genre)),
        (
            t.get("field-languages"),
            m.languages
                .iter()
                .map(|l| words::language(t, l.as_str()))
                .collect::<Vec<_>>()
                .join(", "),
        ),
    ];
    if let Some(series) = &m.series {
        let ep = m
            .episode
            .map(|e| format!(" · {} {e}", t.get("field-episode")))
            .unwrap_or_default();
        facts.push((t.get("field-series"), format!("{series}{ep}")));
    }
    if let Some(d) = m.duration_seconds {
        facts.push((t.get("field-duration"), format::duration(d, lang)));
    }
    if let Some(a) = m.first_aired_at {
        facts.push((t.get("field-first-aired"), format::date_time(a, lang)));
    }
    if let Some(pb) = p.published_at {
        facts.push((t.get("published-at"), format::date_time(pb, lang)));
    }
    if !m.tags.is_empty() {
        facts.push((t.get("field-tags"), m.tags.join(", ")));
    }
    for c in &m.credits {
        let role = match c.role.as_str() {
            "producer" | "editor" | "reporter" => t.get(&format!("credit-{}", c.role)),
            other => other.to_owned(),
        };
        facts.push((role, c.name.clone()));
    }
    facts
}

/// The program's rights, as label and value rows.
fn rights(t: &Tr, r: &crate::domain::Rights, names: &StationNames) -> Vec<(String, String)> {
    let (lang, name) = (t.lang, |id: &str| names.of(id));
    let mut rights = vec![(t.get("field-audience"), words::audience(t, r.audience))];
    if !r.stations.is_empty() {
        rights.push((
            t.get("field-stations"),
            r.stations
                .iter()
                .map(|s| name(s.as_str()))
                .collect::<Vec<_>>()
                .join(", "),
        ));
    }
    rights.push((
        t.get("field-available-from"),
        r.available_from
            .map(|d| format::date(d, lang))
            .unwrap_or_else(|| t.get("from-publication")),
    ));
    rights.push((
        t.get("field-available-until"),
        r.available_until
            .map(|d| format::date(d, lang))
            .unwrap_or_else(|| t.get("no-end")),
    ));
    rights.push((
        t.get("field-credit-required"),
        t.get(if r.credit_required { "yes" } else { "no" }),
    ));
    if let Some(terms) = &r.terms {
        rights.push((t.get("field-terms"), terms.clone()));
    }
    rights
}

/// The program's files, each with its preview and poster when the analysis
/// made them.
async fn file_views(
    v: &Visit,
    caller: &crate::exchange::Caller,
    p: &Program,
    waiting: &[(FileRole, String)],
) -> Vec<FileView> {
    let (t, id) = (v.t(), p.id);
    let lang = t.lang;
    let mut files = Vec::new();
    for f in &p.files {
        let base = format!("/api/v1/programs/{}/files/{}", p.id, f.role.as_str());
        // The preview when the analysis made one (a withdrawn program has none).
        let analysed = f.analysis.as_ref().is_some_and(|a| a.state == AnalysisState::Done);
        let preview = match analysed {
            true => v.hub.preview(caller, id, f.role, PreviewKind::Media).await.ok(),
            false => None,
        };
        let preview = match preview {
            Some(d) if d.media_type.starts_with("video/") => Some((format!("{base}/preview"), "video")),
            Some(d) if d.media_type.starts_with("audio/") => Some((format!("{base}/preview"), "audio")),
            _ => None,
        };
        let poster = match preview {
            Some((_, "video")) => v
                .hub
                .preview(caller, id, f.role, PreviewKind::Poster)
                .await
                .ok()
                .map(|_| format!("{base}/poster.jpg")),
            _ => None,
        };
        files.push(FileView {
            role: words::file_role(&t, f.role),
            filename: f.filename.clone(),
            media_type: f.media_type.clone(),
            size: format::size(f.size, lang),
            href: base,
            preview,
            poster,
            analysis: f.analysis.as_ref().map(|a| analysis_view(&t, a)),
            waiting: waiting.iter().find(|(r, _)| *r == f.role).map(|(_, m)| m.clone()),
        });
    }
    files
}

/// Who took the program and who rebroadcast it (for its owner and the operator).
async fn ledger_views(
    v: &Visit,
    id: crate::domain::ProgramId,
    names: &StationNames,
) -> Result<(Vec<TakeView>, Vec<RebroadcastView>), WebError> {
    let (t, name) = (v.t(), |id: &str| names.of(id));
    let lang = t.lang;
    let caller = &v.signed_in()?.caller;
    let tk = v.hub.takes(caller, id).await.map_err(|e| v.fail(e))?;
    Ok((
        tk.takes
            .iter()
            .map(|x| TakeView {
                station: name(x.station.as_str()),
                role: words::file_role(&t, x.role),
                at: format::date_time(x.taken_at, lang),
            })
            .collect(),
        tk.rebroadcasts
            .iter()
            .map(|x| RebroadcastView {
                station: name(x.station.as_str()),
                channel: x.channel.clone(),
                aired_at: format::date_time(x.aired_at, lang),
                note: x.note.clone().unwrap_or_default(),
            })
            .collect(),
    ))
}

/// What people did to the program, in words.
async fn action_views(
    v: &Visit,
    id: crate::domain::ProgramId,
    names: &StationNames,
) -> Result<Vec<ActionView>, WebError> {
    let (t, name) = (v.t(), |id: &str| names.of(id));
    let lang = t.lang;
    let caller = &v.signed_in()?.caller;
    let actions = v
        .hub
        .program_actions(caller, id)
        .await
        .map_err(|e| v.fail(e))?
        .into_iter()
        .map(|a| ActionView {
            at: format::date_time(a.at, lang),
            who: match &a.station {
                Some(s) => format!("{} ({})", a.person_name, name(s.as_str())),
                None => a.person_name.clone(),
            },
            what: words::action(&t, a.kind),
            detail: match a.kind {
                crate::domain::ActionKind::Uploaded | crate::domain::ActionKind::Took => a
                    .detail
                    .as_deref()
                    .and_then(FileRole::parse)
                    .map(|r| words::file_role(&t, r))
                    .unwrap_or_default(),
                crate::domain::ActionKind::Edited => a
                    .detail
                    .as_deref()
                    .unwrap_or_default()
                    .split(',')
                    .filter(|f| !f.is_empty())
                    .map(|f| super::field_label(&t, f).1)
                    .collect::<Vec<_>>()
                    .join(", "),
                _ => a.detail.clone().unwrap_or_default(),
            },
        })
        .collect();
    Ok(actions)
}

/// Following what the program belongs to (its series, or else its station).
async fn follow_offer(v: &Visit, p: &Program, names: &StationNames) -> Result<FollowOffer, WebError> {
    let (t, name) = (v.t(), |id: &str| names.of(id));
    let caller = &v.signed_in()?.caller;
    let (kind, value) = follow_of(p);
    let key = Rule::parse(kind, &value).ok().map(|r| r.key());
    let following = v
        .hub
        .follows(caller)
        .await
        .map_err(|e| v.fail(e))?
        .iter()
        .any(|f| f.kind == kind && f.rule().map(|r| r.key()) == key);
    let what = match kind {
        FollowKind::Series => t.arg("follow-series", "name", &value),
        _ => t.arg("follow-station", "name", name(&value)),
    };
    Ok(FollowOffer { what, following })
}

pub async fn program(v: Visit, path: web::Path<String>, req: HttpRequest) -> Result<HttpResponse, WebError> {
    v.signed_in()?;
    let id = program_id(&v, &path)?;
    let notice = done_notice(&v, &req);
    let p = render_with(&v, id, FieldErrors::default(), notice, None).await?;
    page(&p)
}

/// The confirmation of what a form just did, named by the `done` of the
/// address it sent the browser to (only these words, never the address's).
fn done_notice(v: &Visit, req: &HttpRequest) -> Option<String> {
    let done = url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == "done")?
        .1;
    let id = match done.as_ref() {
        "published" => "done-published",
        "withdrawn" => "done-withdrawn",
        "rebroadcast" => "done-rebroadcast",
        "followed" => "done-followed",
        "edited" => "done-edited",
        _ => return None,
    };
    Some(v.t().get(id))
}

#[derive(Deserialize)]
pub struct RebroadcastForm {
    csrf: Option<String>,
    #[serde(default)]
    aired_at: String,
    #[serde(default)]
    channel: String,
    #[serde(default)]
    note: String,
}

pub async fn rebroadcast(v: Visit, path: web::Path<String>, body: web::Bytes) -> Result<HttpResponse, WebError> {
    v.signed_in()?;
    let f: RebroadcastForm = form(&v, &body)?;
    let s = v.check_csrf(f.csrf.as_deref())?;
    let id = program_id(&v, &path)?;
    let t = v.t();
    let Some(aired_at) = format::parse_input_date_time(&f.aired_at) else {
        let p = render(&v, id, FieldErrors(vec![("aired_at".into(), t.get("error-date"))])).await?;
        return page_with(StatusCode::UNPROCESSABLE_ENTITY, &p);
    };
    let new = NewRebroadcast {
        aired_at,
        channel: f.channel,
        note: Some(f.note).filter(|n| !n.trim().is_empty()),
    };
    match v.hub.report_rebroadcast(&s.caller, id, new).await {
        Ok(_) => Ok(see_other(&format!("/programs/{id}?done=rebroadcast#rebroadcast"))),
        Err(ExchangeError::Invalid(errors)) => {
            let errors = FieldErrors::words(&t, errors.into_iter().map(|e| (e.field, e.message)).collect());
            let p = render(&v, id, errors).await?;
            page_with(StatusCode::UNPROCESSABLE_ENTITY, &p)
        }
        Err(e) => Err(v.fail(e)),
    }
}

#[derive(Deserialize)]
pub struct ActionForm {
    csrf: Option<String>,
    #[serde(default)]
    reason: String,
}

pub async fn publish(v: Visit, path: web::Path<String>, body: web::Bytes) -> Result<HttpResponse, WebError> {
    v.signed_in()?;
    let f: ActionForm = form(&v, &body)?;
    let s = v.check_csrf(f.csrf.as_deref())?;
    let id = program_id(&v, &path)?;
    match v.hub.publish_program(&s.caller, id, IfMatch::default()).await {
        Ok(_) => Ok(see_other(&format!("/programs/{id}?done=published"))),
        // Not publishable yet: the program's page, saying why and what to
        // do, next to the button and above the master's analysis.
        Err(e @ (ExchangeError::Conflict { .. } | ExchangeError::AnalysisPending { .. })) => {
            let status = StatusCode::from_u16(e.answer().status).unwrap_or(StatusCode::CONFLICT);
            let why = crate::web::refusal_words(&v.t(), &e);
            let p = render_with(&v, id, FieldErrors::default(), None, Some(why)).await?;
            page_with(status, &p)
        }
        Err(e) => Err(v.fail(e)),
    }
}

pub async fn withdraw(v: Visit, path: web::Path<String>, body: web::Bytes) -> Result<HttpResponse, WebError> {
    v.signed_in()?;
    let f: ActionForm = form(&v, &body)?;
    let s = v.check_csrf(f.csrf.as_deref())?;
    let id = program_id(&v, &path)?;
    match v
        .hub
        .withdraw_program(&s.caller, id, f.reason, IfMatch::default())
        .await
    {
        Ok(_) => Ok(see_other(&format!("/programs/{id}?done=withdrawn"))),
        Err(ExchangeError::Invalid(errors)) => {
            let errors = FieldErrors::words(&v.t(), errors.into_iter().map(|e| (e.field, e.message)).collect());
            let p = render(&v, id, errors).await?;
            page_with(StatusCode::UNPROCESSABLE_ENTITY, &p)
        }
        Err(e) => Err(v.fail(e)),
    }
}

/// "Theo dõi chương trình này": the caller's station follows the program's
/// series (or its station), through the same use-case as the API. What is
/// followed comes from the program, not from the form.
pub async fn follow(v: Visit, path: web::Path<String>, body: web::Bytes) -> Result<HttpResponse, WebError> {
    v.signed_in()?;
    let f: ActionForm = form(&v, &body)?;
    let s = v.check_csrf(f.csrf.as_deref())?;
    let id = program_id(&v, &path)?;
    let p = v.hub.program(&s.caller, id).await.map_err(|e| v.fail(e))?;
    let (kind, value) = follow_of(&p);
    let new = NewFollow::plain(kind, value, false);
    match v.hub.follow(&s.caller, new).await {
        Ok(_)
        | Err(ExchangeError::Conflict {
            code: code::ALREADY_FOLLOWING,
            ..
        }) => Ok(see_other(&format!("/programs/{id}?done=followed#follow"))),
        Err(e) => Err(v.fail(e)),
    }
}
