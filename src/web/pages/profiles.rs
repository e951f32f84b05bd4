//! `/admin/profiles`, for the hub's operators: the delivery profiles
//! ("Định dạng nhận") stations' playouts take; listed, added (what FFmpeg
//! cannot make is refused field by field, in the page's words) and removed
//! while nothing names them.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::form;
use crate::domain::profile::{Container, LoudnessTarget, Profile, ProfileInput};
use crate::domain::FieldError;
use crate::exchange::ExchangeError;
use crate::web::i18n::Tr;
use crate::web::visit::Chrome;
use crate::web::{page_with, Visit, WebError};

/// A profile as the page lists it.
pub struct ProfileLine {
    pub id: String,
    pub name: String,
    pub container: String,
    pub audio: String,
    pub video: String,
    pub loudness: String,
}

#[derive(Template)]
#[template(path = "admin_profiles.html")]
struct ProfilesPage {
    c: Chrome,
    profiles: Vec<ProfileLine>,
    containers: Vec<(&'static str, String)>,
    message: Option<String>,
    /// Each refused field: its label and why, in the page's words.
    errors: Vec<(String, String)>,
    refusal: Option<String>,
}

fn line(t: &Tr, p: Profile) -> ProfileLine {
    let dash = || "—".to_owned();
    let audio = match (&p.audio_codec, p.sample_rate, p.channels) {
        (Some(codec), Some(rate), Some(ch)) => {
            let bits = p.bit_depth.map(|b| format!(", {b} bit")).unwrap_or_default();
            let channels = t.get(if ch == 1 { "channels-1" } else { "channels-2" });
            let channels = if ch > 2 { format!("{ch}") } else { channels };
            format!("{} {} Hz{bits}, {channels}", t.get(&format!("codec-{codec}")), rate)
        }
        _ => dash(),
    };
    let loudness = match p.loudness {
        Some(l) => {
            let n = |x: f64| crate::web::format::number(x, 1, t.lang);
            t.args(
                "loudness-target",
                &[("value", n(l.target_lufs)), ("max", n(l.max_true_peak_dbtp))],
            )
        }
        None if p.container == Container::Keep => dash(),
        None => t.get("loudness-keep"),
    };
    ProfileLine {
        container: t.get(&format!("container-{}", p.container.as_str())),
        video: p.video_codec.map(|v| t.get(&format!("codec-{v}"))).unwrap_or_else(dash),
        id: p.id,
        name: p.name,
        audio,
        loudness,
    }
}

async fn render(
    v: &Visit,
    status: StatusCode,
    message: Option<String>,
    errors: Vec<(String, String)>,
    refusal: Option<String>,
) -> Result<HttpResponse, WebError> {
    let s = v.operator()?;
    let t = v.t();
    let profiles = v.hub.profiles(&s.caller).await.map_err(|e| v.fail(e))?;
    let page = ProfilesPage {
        c: v.chrome(),
        profiles: profiles.into_iter().map(|p| line(&t, p)).collect(),
        containers: Container::ALL
            .iter()
            .map(|c| (c.as_str(), t.get(&format!("container-{}", c.as_str()))))
            .collect(),
        message,
        errors,
        refusal,
    };
    page_with(status, &page)
}

pub async fn profiles(v: Visit) -> Result<HttpResponse, WebError> {
    render(&v, StatusCode::OK, None, Vec::new(), None).await
}

#[derive(Deserialize)]
pub struct ProfileForm {
    csrf: Option<String>,
    #[serde(default)]
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    container: String,
    #[serde(default)]
    audio_codec: String,
    #[serde(default)]
    sample_rate: String,
    #[serde(default)]
    bit_depth: String,
    #[serde(default)]
    channels: String,
    /// `none` or `target`.
    #[serde(default)]
    loudness: String,
    #[serde(default)]
    target_lufs: String,
    #[serde(default)]
    max_true_peak_dbtp: String,
}

/// A number as people type it: `-23`, `−23`, `-23,5`.
fn number(raw: &str) -> Option<f64> {
    raw.trim().replace('−', "-").replace(',', ".").parse().ok()
}

/// What the form asks for, or the fields that are not numbers.
fn input(f: ProfileForm) -> Result<ProfileInput, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut whole = |field: &str, raw: &str| -> Option<u32> {
        let raw = raw.trim();
        if raw.is_empty() {
            return None;
        }
        let n = raw.parse().ok();
        if n.is_none() {
            errors.push(FieldError::new(field, "number"));
        }
        n
    };
    let sample_rate = whole("sample_rate", &f.sample_rate);
    let bit_depth = whole("bit_depth", &f.bit_depth).map(|n| n.min(255) as u8);
    let channels = whole("channels", &f.channels).map(|n| n.min(255) as u8);
    let loudness = if f.loudness == "target" {
        match (number(&f.target_lufs), number(&f.max_true_peak_dbtp)) {
            (Some(target_lufs), Some(max_true_peak_dbtp)) => Some(LoudnessTarget {
                target_lufs,
                max_true_peak_dbtp,
            }),
            (target, _) => {
                let field = if target.is_none() {
                    "loudness.target_lufs"
                } else {
                    "loudness.max_true_peak_dbtp"
                };
                errors.push(FieldError::new(field, "number"));
                None
            }
        }
    } else {
        None
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    let codec = f.audio_codec.trim();
    Ok(ProfileInput {
        id: f.id.trim().to_owned(),
        name: f.name,
        container: f.container,
        audio_codec: (!codec.is_empty()).then(|| codec.to_owned()),
        video_codec: None,
        sample_rate,
        bit_depth,
        channels,
        loudness,
    })
}

/// A refused field of a profile in the page's words: its label, and why.
fn field_words(t: &Tr, field: &str, why: &str) -> (String, String) {
    let label = match field.split('.').next_back().unwrap_or(field) {
        "id" => "profile-id",
        "name" => "name",
        "container" => "profile-container",
        "audio_codec" => "profile-audio-codec",
        "video_codec" => "profile-video",
        "sample_rate" => "profile-sample-rate",
        "bit_depth" => "profile-bit-depth",
        "channels" => "profile-channels",
        "target_lufs" => "profile-target-lufs",
        "max_true_peak_dbtp" => "profile-max-true-peak",
        _ => "field-other",
    };
    // The use-case's fixed shapes; the values they name are codes and
    // numbers, the same in every language.
    let takes = |values: &str| {
        let values = values
            .trim_end_matches(" Hz")
            .trim_end_matches(" channels")
            .replace(" or ", " / ")
            .replace(" to ", "–");
        t.arg("profile-error-takes", "value", values)
    };
    let message = if why == "number" {
        t.get("error-number")
    } else if why.starts_with("must be null") {
        t.get("profile-error-keep")
    } else if why.ends_with("carries no video") {
        t.get("profile-error-no-video")
    } else if why.starts_with("only PCM") {
        t.get("profile-error-bit-depth")
    } else if why.starts_with("PCM is written at") {
        takes("16 / 24")
    } else if let Some(range) = why.strip_prefix("must be from ") {
        takes(&range.replace('-', "−"))
    } else if let Some((_, values)) = why.split_once(" takes ") {
        takes(values)
    } else if field == "id" {
        t.get("profile-error-id")
    } else if let Some(n) = why
        .strip_prefix("must be 1 to ")
        .and_then(|r| r.split_whitespace().next())
    {
        t.arg("error-too-long", "n", n)
    } else {
        t.get("error-field-invalid")
    };
    (t.get(label), message)
}

pub async fn add_profile(v: Visit, body: web::Bytes) -> Result<HttpResponse, WebError> {
    v.signed_in()?;
    let f: ProfileForm = form(&v, &body)?;
    let s = v.check_csrf(f.csrf.as_deref())?;
    let t = v.t();
    let refused = |errors: Vec<FieldError>| -> Vec<(String, String)> {
        errors.iter().map(|e| field_words(&t, &e.field, &e.message)).collect()
    };
    let made = match input(f) {
        Ok(i) => v.hub.create_profile(&s.caller, i).await,
        Err(errors) => Err(ExchangeError::Invalid(errors)),
    };
    match made {
        Ok(p) => {
            let msg = t.arg("profile-added", "name", p.name);
            render(&v, StatusCode::OK, Some(msg), Vec::new(), None).await
        }
        Err(ExchangeError::Invalid(errors)) => {
            render(&v, StatusCode::UNPROCESSABLE_ENTITY, None, refused(errors), None).await
        }
        Err(e @ ExchangeError::Conflict { .. }) => {
            let why = crate::web::refusal_words(&t, &e);
            render(&v, StatusCode::CONFLICT, None, Vec::new(), Some(why)).await
        }
        Err(e) => Err(v.fail(e)),
    }
}

#[derive(Deserialize)]
pub struct RemoveForm {
    csrf: Option<String>,
    #[serde(default)]
    id: String,
}

pub async fn remove_profile(v: Visit, body: web::Bytes) -> Result<HttpResponse, WebError> {
    v.signed_in()?;
    let f: RemoveForm = form(&v, &body)?;
    let s = v.check_csrf(f.csrf.as_deref())?;
    let t = v.t();
    match v.hub.remove_profile(&s.caller, &f.id).await {
        Ok(()) => {
            let msg = t.arg("profile-removed", "name", f.id);
            render(&v, StatusCode::OK, Some(msg), Vec::new(), None).await
        }
        Err(e @ (ExchangeError::Conflict { .. } | ExchangeError::NotFound)) => {
            let status = if matches!(e, ExchangeError::NotFound) {
                StatusCode::NOT_FOUND
            } else {
                StatusCode::CONFLICT
            };
            let why = crate::web::refusal_words(&t, &e);
            render(&v, status, None, Vec::new(), Some(why)).await
        }
        Err(e) => Err(v.fail(e)),
    }
}
