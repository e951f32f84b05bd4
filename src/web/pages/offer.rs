//! Offering a program: the form with every metadata field and the rights
//! block, checked by the same validation as the API (its errors shown next
//! to their fields); then the upload page, where tus-js-client sends the
//! file through the API's tus endpoint, and the publish button.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{form, program_id, stations, FieldErrors};
use crate::domain::{
    Audience, Genre, ProgramInput, ProgramKind, ProgramMetadata, ProgramStatus, StationKind, CLUSTER_LANGUAGES,
};
use crate::exchange::programs::from_json;
use crate::exchange::ExchangeError;
use crate::web::visit::Chrome;
use crate::web::{format, page, page_with, see_other, words, Visit, WebError};

/// The offer form as posted (and as shown again with its errors).
#[derive(Debug, Default, Deserialize)]
pub(super) struct OfferForm {
    csrf: Option<String>,
    #[serde(default)]
    title: String,
    #[serde(default)]
    summary: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    tags: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    genre: String,
    #[serde(default)]
    languages: Vec<String>,
    #[serde(default)]
    other_languages: String,
    #[serde(default)]
    series: String,
    #[serde(default)]
    episode: String,
    #[serde(default)]
    first_aired_at: String,
    #[serde(default)]
    duration_minutes: String,
    #[serde(default)]
    duration_seconds: String,
    #[serde(default)]
    producer: String,
    #[serde(default)]
    editor: String,
    #[serde(default)]
    reporter: String,
    #[serde(default)]
    audience: String,
    #[serde(default)]
    rights_stations: Vec<String>,
    #[serde(default)]
    available_from: String,
    #[serde(default)]
    available_until: String,
    credit_required: Option<String>,
    #[serde(default)]
    terms: String,
    /// The version being edited (its ETag), sent back as `If-Match`.
    #[serde(default)]
    pub(super) version: String,
}

fn opt(s: &str) -> Value {
    match s.trim() {
        "" => Value::Null,
        s => Value::String(s.to_owned()),
    }
}

/// A whole number typed in a field; `None` when empty, or when it is not
/// one (said in `errors`).
fn number(s: &str, field: &str, errors: &mut Vec<(String, String)>) -> Option<i64> {
    match s.trim() {
        "" => None,
        s => match s.parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => {
                errors.push((field.to_owned(), "number".to_owned()));
                None
            }
        },
    }
}

/// A date typed in a field (its start, or with `end` its last instant);
/// null when empty, or when it is not one (said in `errors`).
fn input_date(s: &str, end: bool, field: &str, errors: &mut Vec<(String, String)>) -> Value {
    match s.trim() {
        "" => Value::Null,
        s => match format::parse_input_date(s, end) {
            Some(d) => json!(d),
            None => {
                errors.push((field.to_owned(), "date".to_owned()));
                Value::Null
            }
        },
    }
}

/// The credit roles the form has a field for.
const FORM_CREDITS: [&str; 3] = ["producer", "editor", "reporter"];

impl OfferForm {
    pub(super) fn csrf_field(&self) -> Option<&str> {
        self.csrf.as_deref()
    }

    /// The form filled with `p` as it is (to edit it).
    pub(super) fn from_program(p: &crate::domain::Program, csrf: &str) -> Self {
        let m = &p.meta;
        let r = &m.rights;
        let credits = |role: &str| {
            m.credits
                .iter()
                .filter(|c| c.role == role)
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        };
        let (cluster, other): (Vec<String>, Vec<String>) = m
            .languages
            .iter()
            .map(|l| l.as_str().to_owned())
            .partition(|l| CLUSTER_LANGUAGES.contains(&l.as_str()));
        let text = |s: &Option<String>| s.clone().unwrap_or_default();
        Self {
            csrf: Some(csrf.to_owned()),
            title: m.title.clone(),
            summary: text(&m.summary),
            description: text(&m.description),
            tags: m.tags.join(", "),
            kind: m.kind.as_str().to_owned(),
            genre: m.genre.as_str().to_owned(),
            languages: cluster,
            other_languages: other.join(", "),
            series: text(&m.series),
            episode: m.episode.map(|e| e.to_string()).unwrap_or_default(),
            first_aired_at: m.first_aired_at.map(format::input_date_time).unwrap_or_default(),
            duration_minutes: m.duration_seconds.map(|d| (d / 60).to_string()).unwrap_or_default(),
            duration_seconds: m.duration_seconds.map(|d| (d % 60).to_string()).unwrap_or_default(),
            producer: credits("producer"),
            editor: credits("editor"),
            reporter: credits("reporter"),
            audience: r.audience.as_str().to_owned(),
            rights_stations: r.stations.iter().map(|s| s.to_string()).collect(),
            available_from: r.available_from.map(format::input_date).unwrap_or_default(),
            available_until: r.available_until.map(format::input_date).unwrap_or_default(),
            credit_required: r.credit_required.then(|| "on".to_owned()),
            terms: text(&r.terms),
            version: p.etag(),
        }
    }

    /// `json` (this form's program) with the credits of `p` that the form
    /// has no field for kept as they are.
    pub(super) fn keep_other_credits(json: &mut Value, p: &crate::domain::Program) {
        let others = p
            .meta
            .credits
            .iter()
            .filter(|c| !FORM_CREDITS.contains(&c.role.as_str()));
        if let Some(list) = json.get_mut("credits").and_then(Value::as_array_mut) {
            list.extend(others.map(|c| json!({"role": c.role, "name": c.name})));
        }
    }

    /// The program as the API's JSON would carry it, and the errors of what
    /// does not even have the shape (a date that is not a date).
    pub(super) fn to_json(&self) -> (Value, Vec<(String, String)>) {
        let mut errors = Vec::new();
        let episode = number(&self.episode, "episode", &mut errors);
        let minutes = number(&self.duration_minutes, "duration_seconds", &mut errors);
        let seconds = number(&self.duration_seconds, "duration_seconds", &mut errors);
        let duration = match (minutes, seconds) {
            (None, None) => None,
            (m, s) => Some(m.unwrap_or(0).saturating_mul(60).saturating_add(s.unwrap_or(0))),
        };
        let first_aired = match self.first_aired_at.trim() {
            "" => None,
            s => format::parse_input_date_time(s).map(|d| json!(d)),
        };
        if first_aired.is_none() && !self.first_aired_at.trim().is_empty() {
            errors.push(("first_aired_at".to_owned(), "date".to_owned()));
        }
        let first_aired = first_aired.unwrap_or(Value::Null);
        let mut languages: Vec<String> = self.languages.clone();
        languages.extend(
            self.other_languages
                .split([',', ' '])
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
        );
        let credits: Vec<Value> = FORM_CREDITS
            .into_iter()
            .zip([&self.producer, &self.editor, &self.reporter])
            // Several people in one role: names apart by ";".
            .flat_map(|(role, names)| names.split(';').map(move |n| (role, n.trim())))
            .filter(|(_, n)| !n.is_empty())
            .map(|(role, name)| json!({"role": role, "name": name}))
            .collect();
        let tags: Vec<&str> = self.tags.split(',').map(str::trim).filter(|t| !t.is_empty()).collect();
        // A choice that names nothing (the empty "— Chọn —") is said here,
        // next to its field; a stand-in keeps the rest of the form checked,
        // so that every bad field is named at once.
        let mut choice = |value: &str, field: &str, ok: bool, stand_in: &str| -> String {
            if ok {
                value.to_owned()
            } else {
                errors.push((field.to_owned(), "choose".to_owned()));
                stand_in.to_owned()
            }
        };
        let kind = choice(&self.kind, "kind", ProgramKind::parse(&self.kind).is_some(), "radio");
        let genre = choice(&self.genre, "genre", Genre::parse(&self.genre).is_some(), "other");
        let audience = match self.audience.as_str() {
            "" => "cluster".to_owned(),
            a => choice(a, "rights.audience", Audience::parse(a).is_some(), "cluster"),
        };
        let body = json!({
            "title": self.title,
            "summary": opt(&self.summary),
            "description": opt(&self.description),
            "tags": tags,
            "kind": kind,
            "genre": genre,
            "languages": languages,
            "series": opt(&self.series),
            "episode": episode,
            "first_aired_at": first_aired,
            "duration_seconds": duration,
            "credits": credits,
            "rights": {
                "audience": audience,
                "stations": self.rights_stations,
                "available_from": input_date(&self.available_from, false, "rights.available_from", &mut errors),
                "available_until": input_date(&self.available_until, true, "rights.available_until", &mut errors),
                "credit_required": self.credit_required.is_some(),
                "terms": opt(&self.terms),
            }
        });
        (body, errors)
    }
}

pub struct Choice {
    pub value: String,
    pub label: String,
    pub chosen: bool,
}

/// A file role to upload as, and what files it takes, in words.
pub struct RoleChoice {
    pub value: String,
    pub label: String,
    pub chosen: bool,
    pub expects: String,
}

/// What the form is for: offering a new program, or editing one.
pub(super) struct FormMode {
    pub action: String,
    pub heading: String,
    pub submit: String,
    /// Someone else changed the program since this form was loaded.
    pub stale: bool,
    /// Where "Hủy" leads (editing: back to the program).
    pub cancel: Option<String>,
}

impl FormMode {
    /// Editing the program `id`.
    pub(super) fn edit(v: &Visit, id: &str, stale: bool) -> Self {
        let t = v.t();
        Self {
            action: format!("/programs/{id}/edit"),
            heading: t.get("edit-title"),
            submit: t.get("save"),
            stale,
            cancel: Some(format!("/programs/{id}")),
        }
    }

    fn offer(v: &Visit) -> Self {
        let t = v.t();
        Self {
            action: "/offer".into(),
            heading: t.get("offer-title"),
            submit: t.get("offer-next"),
            stale: false,
            cancel: None,
        }
    }
}

#[derive(Template)]
#[template(path = "offer.html")]
pub(super) struct OfferPage {
    c: Chrome,
    m: FormMode,
    f: OfferForm,
    kinds: Vec<Choice>,
    genres: Vec<Choice>,
    languages: Vec<Choice>,
    audiences: Vec<Choice>,
    stations: Vec<Choice>,
    errors: FieldErrors,
}

pub(super) async fn offer_page(
    v: &Visit,
    m: FormMode,
    f: OfferForm,
    errors: FieldErrors,
) -> Result<OfferPage, WebError> {
    let t = v.t();
    let mine = v.signed_in()?.caller.station.clone();
    let stations = stations(v)
        .await?
        .into_iter()
        .filter(|s| Some(&s.id) != mine.as_ref() && s.kind != StationKind::Peer)
        .map(|s| Choice {
            chosen: f.rights_stations.iter().any(|x| x == s.id.as_str()),
            label: match s.kind {
                StationKind::National => format!("{} ({})", s.name, t.get("national-broadcaster")),
                StationKind::Provincial | StationKind::Peer => s.name,
            },
            value: s.id.to_string(),
        })
        .collect();
    let kind = if f.kind.is_empty() { "radio" } else { f.kind.as_str() };
    let kinds = ProgramKind::ALL
        .iter()
        .map(|k| Choice {
            value: k.as_str().to_owned(),
            label: words::kind(&t, *k),
            chosen: k.as_str() == kind,
        })
        .collect();
    let genres = Genre::ALL
        .iter()
        .map(|g| Choice {
            value: g.as_str().to_owned(),
            label: words::genre(&t, *g),
            chosen: g.as_str() == f.genre,
        })
        .collect();
    let fresh = f.csrf.is_none();
    let languages = CLUSTER_LANGUAGES
        .iter()
        .map(|l| Choice {
            value: (*l).to_owned(),
            label: words::language(&t, l),
            chosen: f.languages.iter().any(|x| x == l) || (fresh && *l == "vi"),
        })
        .collect();
    let audience = if f.audience.is_empty() {
        "cluster"
    } else {
        f.audience.as_str()
    };
    let audiences = crate::domain::Audience::ALL
        .iter()
        .map(|a| Choice {
            value: a.as_str().to_owned(),
            label: words::audience(&t, *a),
            chosen: a.as_str() == audience,
        })
        .collect();
    Ok(OfferPage {
        c: v.chrome(),
        m,
        f,
        kinds,
        genres,
        languages,
        audiences,
        stations,
        errors,
    })
}

pub async fn offer_form(v: Visit) -> Result<HttpResponse, WebError> {
    let s = v.signed_in()?;
    if !s.caller.may_offer() || s.caller.station.is_none() {
        return Err(v.refuse(StatusCode::FORBIDDEN, "error-forbidden"));
    }
    let f = OfferForm {
        credit_required: Some("on".into()),
        ..Default::default()
    };
    page(&offer_page(&v, FormMode::offer(&v), f, FieldErrors::default()).await?)
}

pub async fn offer(v: Visit, body: web::Bytes) -> Result<HttpResponse, WebError> {
    v.signed_in()?;
    let f: OfferForm = form(&v, &body)?;
    let s = v.check_csrf(f.csrf.as_deref())?;
    let t = v.t();
    let (json, errors) = f.to_json();
    let input = match checked(&v, json, errors)? {
        Ok((input, _)) => input,
        Err(errors) => {
            let p = offer_page(&v, FormMode::offer(&v), f, FieldErrors::words(&t, errors)).await?;
            return page_with(StatusCode::UNPROCESSABLE_ENTITY, &p);
        }
    };
    match v.hub.create_program(&s.caller, input).await {
        Ok(p) => Ok(see_other(&format!("/programs/{}/upload?saved=1", p.id))),
        Err(ExchangeError::Invalid(errors)) => {
            let e = errors.into_iter().map(|e| (e.field, e.message)).collect();
            let p = offer_page(&v, FormMode::offer(&v), f, FieldErrors::words(&t, e)).await?;
            page_with(StatusCode::UNPROCESSABLE_ENTITY, &p)
        }
        Err(e) => Err(v.fail(e)),
    }
}

/// The form's program as the use-case takes it and its JSON, or the
/// fields in error with why.
pub(super) type Checked = Result<(ProgramInput, Value), Vec<(String, String)>>;

/// The form's program as the use-case takes it (and its JSON), or every
/// field in error at once: the form's own shape (a choice, a date) and the
/// metadata's rules.
pub(super) fn checked(v: &Visit, json: Value, mut errors: Vec<(String, String)>) -> Result<Checked, WebError> {
    let input: Option<ProgramInput> = match from_json(json.clone()) {
        Ok(input) => Some(input),
        Err(ExchangeError::Invalid(e)) => {
            errors.extend(e.into_iter().map(|e| (e.field, e.message)));
            None
        }
        Err(e) => return Err(v.fail(e)),
    };
    if let Some(Err(e)) = input.clone().map(ProgramMetadata::parse) {
        errors.extend(e.into_iter().map(|e| (e.field, e.message)));
    }
    Ok(match input {
        Some(input) if errors.is_empty() => Ok((input, json)),
        _ => Err(errors),
    })
}

/// One of the program's files as the upload page lists it.
pub struct UploadedFile {
    pub role: String,
    pub filename: String,
    pub size: String,
    pub analysis: Option<super::program::AnalysisView>,
}

/// The program's files and where their analysis stands: the part of the
/// upload page that htmx asks for again every 2 s while an analysis runs.
pub struct FilesStatus {
    pub id: String,
    pub files: Vec<UploadedFile>,
    /// An analysis waits or runs: ask again.
    pub polling: bool,
    /// The master's check failed: it must be uploaded again.
    pub master_unusable: bool,
}

fn files_status(t: &crate::web::i18n::Tr, p: &crate::domain::Program) -> FilesStatus {
    use crate::domain::{AnalysisState, FileRole, Verdict};
    let files = p
        .files
        .iter()
        .map(|f| UploadedFile {
            role: words::file_role(t, f.role),
            filename: f.filename.clone(),
            size: format::size(f.size, t.lang),
            analysis: f.analysis.as_ref().map(|a| super::program::analysis_view(t, a)),
        })
        .collect();
    let analyses = || p.files.iter().filter_map(|f| f.analysis.as_ref().map(|a| (f.role, a)));
    FilesStatus {
        id: p.id.to_string(),
        files,
        polling: analyses().any(|(_, a)| matches!(a.state, AnalysisState::Pending | AnalysisState::Running)),
        master_unusable: analyses().any(|(role, a)| {
            role == FileRole::Master
                && (a.state == AnalysisState::Failed || a.qc.as_ref().is_some_and(|q| q.verdict == Verdict::Fail))
        }),
    }
}

#[derive(Template)]
#[template(path = "files_part.html")]
struct FilesPart {
    c: Chrome,
    s: FilesStatus,
}

/// The program's files and their analysis, for htmx (the upload page asks
/// again while an analysis runs); a browser that asks itself goes to the
/// upload page.
pub async fn files_part(v: Visit, path: web::Path<String>) -> Result<HttpResponse, WebError> {
    let s = v.signed_in()?;
    let id = program_id(&v, &path)?;
    if !v.htmx {
        return Ok(see_other(&format!("/programs/{id}/upload")));
    }
    let p = v.hub.program(&s.caller, id).await.map_err(|e| v.fail(e))?;
    if !crate::exchange::rights::owns(&s.caller.viewer(), &p) {
        return Err(v.refuse(StatusCode::FORBIDDEN, "error-forbidden"));
    }
    page(&FilesPart {
        c: v.chrome(),
        s: files_status(&v.t(), &p),
    })
}

#[derive(Template)]
#[template(path = "upload.html")]
struct UploadPage {
    c: Chrome,
    id: String,
    title: String,
    is_draft: bool,
    has_master: bool,
    chunk_size: u64,
    roles: Vec<RoleChoice>,
    /// Just saved from the offer form: say so.
    saved: bool,
    s: FilesStatus,
}

pub async fn upload_page(v: Visit, path: web::Path<String>, req: HttpRequest) -> Result<HttpResponse, WebError> {
    let s = v.signed_in()?;
    let id = program_id(&v, &path)?;
    let p = v.hub.program(&s.caller, id).await.map_err(|e| v.fail(e))?;
    if !crate::exchange::rights::owns(&s.caller.viewer(), &p) || !s.caller.may_offer() {
        return Err(v.refuse(StatusCode::FORBIDDEN, "error-forbidden"));
    }
    let t = v.t();
    let roles = crate::domain::FileRole::ALL
        .iter()
        .map(|r| RoleChoice {
            value: r.as_str().to_owned(),
            label: words::file_role(&t, *r),
            chosen: *r == crate::domain::FileRole::Master,
            expects: t.get(&format!("expects-{}", r.as_str())),
        })
        .collect();
    page(&UploadPage {
        c: v.chrome(),
        id: p.id.to_string(),
        title: p.meta.title.clone(),
        is_draft: p.status == ProgramStatus::Draft,
        has_master: p.has_master(),
        chunk_size: v.site.upload_chunk_bytes,
        roles,
        s: files_status(&t, &p),
        saved: url::form_urlencoded::parse(req.query_string().as_bytes()).any(|(k, v)| k == "saved" && v == "1"),
    })
}
