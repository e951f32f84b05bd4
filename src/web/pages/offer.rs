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
pub struct OfferForm {
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

impl OfferForm {
    /// The program as the API's JSON would carry it, and the errors of what
    /// does not even have the shape (a date that is not a date).
    fn to_json(&self) -> (Value, Vec<(String, String)>) {
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
        let credits: Vec<Value> = [
            ("producer", &self.producer),
            ("editor", &self.editor),
            ("reporter", &self.reporter),
        ]
        .into_iter()
        .filter(|(_, n)| !n.trim().is_empty())
        .map(|(role, name)| json!({"role": role, "name": name.trim()}))
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

#[derive(Template)]
#[template(path = "offer.html")]
struct OfferPage {
    c: Chrome,
    f: OfferForm,
    kinds: Vec<Choice>,
    genres: Vec<Choice>,
    languages: Vec<Choice>,
    audiences: Vec<Choice>,
    stations: Vec<Choice>,
    errors: FieldErrors,
}

async fn offer_page(v: &Visit, f: OfferForm, errors: FieldErrors) -> Result<OfferPage, WebError> {
    let t = v.t();
    let mine = v.signed_in()?.caller.station.clone();
    let stations = stations(v)
        .await?
        .into_iter()
        .filter(|s| Some(&s.id) != mine.as_ref())
        .map(|s| Choice {
            chosen: f.rights_stations.iter().any(|x| x == s.id.as_str()),
            label: match s.kind {
                StationKind::National => format!("{} ({})", s.name, t.get("national-broadcaster")),
                StationKind::Provincial => s.name,
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
    page(&offer_page(&v, f, FieldErrors::default()).await?)
}

pub async fn offer(v: Visit, body: web::Bytes) -> Result<HttpResponse, WebError> {
    v.signed_in()?;
    let f: OfferForm = form(&v, &body)?;
    let s = v.check_csrf(f.csrf.as_deref())?;
    let t = v.t();
    let (json, mut errors) = f.to_json();
    // The form's own shape (a choice, a date) and the metadata's rules, all
    // at once, each next to its field in words.
    let input: Option<ProgramInput> = match from_json(json) {
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
    let input = match input {
        Some(input) if errors.is_empty() => input,
        _ => {
            let p = offer_page(&v, f, FieldErrors::words(&t, errors)).await?;
            return page_with(StatusCode::UNPROCESSABLE_ENTITY, &p);
        }
    };
    match v.hub.create_program(&s.caller, input).await {
        Ok(p) => Ok(see_other(&format!("/programs/{}/upload?saved=1", p.id))),
        Err(ExchangeError::Invalid(errors)) => {
            let e = errors.into_iter().map(|e| (e.field, e.message)).collect();
            let p = offer_page(&v, f, FieldErrors::words(&t, e)).await?;
            page_with(StatusCode::UNPROCESSABLE_ENTITY, &p)
        }
        Err(e) => Err(v.fail(e)),
    }
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
        saved: url::form_urlencoded::parse(req.query_string().as_bytes()).any(|(k, v)| k == "saved" && v == "1"),
    })
}
