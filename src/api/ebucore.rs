//! `/api/v1/programs/{id}/ebucore.xml`: the program's metadata as an EBUCore
//! document (EBU Tech 3293), for broadcast asset-management systems.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, SecondsFormat, Utc};

use super::extract::{program_id, Auth};
use super::xml::esc;
use crate::domain::{Program, ProgramMetadata, Station};
use crate::error::{ApiError, Problem};
use crate::exchange::Hub;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(super::routing::resource("/programs/{id}/ebucore.xml").get(ebucore));
}

const NAMESPACE: &str = "urn:ebu:metadata-schema:ebucore";

fn date(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

fn time(t: DateTime<Utc>) -> String {
    t.format("%H:%M:%SZ").to_string()
}

/// ISO 8601 duration, as EBUCore's normalPlayTime wants it.
fn duration(seconds: u32) -> String {
    let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    format!("PT{h}H{m}M{s}S")
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations_are_iso_8601() {
        assert_eq!(super::duration(1500), "PT0H25M0S");
        assert_eq!(super::duration(3725), "PT1H2M5S");
    }
}

/// The document, elements in the order of EBUCore's coreMetadataType.
pub fn render(p: &Program, origin: &Station) -> String {
    let m = &p.meta;
    let lang = m.languages.first().map_or("vi", |l| l.as_str());
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    x += &format!(
        "<ebucore:ebuCoreMain xmlns:ebucore=\"{NAMESPACE}\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\" \
         version=\"1.10\" dateLastModified=\"{}\" timeLastModified=\"{}\" documentId=\"pxhub-{}\" xml:lang=\"{}\">\n",
        date(p.updated_at),
        time(p.updated_at),
        p.id,
        esc(lang)
    );
    x += "  <ebucore:coreMetadata>\n";
    describe(&mut x, m, lang);
    publisher_and_dates(&mut x, p, origin);
    x += &format!(
        "    <ebucore:type><ebucore:genre typeLabel=\"{}\"/><ebucore:objectType typeLabel=\"{}\"/></ebucore:type>\n",
        m.genre.as_str(),
        m.kind.as_str()
    );
    formats(&mut x, p);
    x += &format!(
        "    <ebucore:identifier typeLabel=\"pxhub\"><dc:identifier>{}</dc:identifier></ebucore:identifier>\n",
        p.id
    );
    for l in &m.languages {
        x += &format!(
            "    <ebucore:language><dc:language>{}</dc:language></ebucore:language>\n",
            esc(l.as_str())
        );
    }
    x += &format!(
        "    <ebucore:rights typeLabel=\"exchange\"><dc:rights>{}</dc:rights></ebucore:rights>\n",
        esc(&rights_terms(p, origin))
    );
    x += "  </ebucore:coreMetadata>\n</ebucore:ebuCoreMain>\n";
    x
}

/// Title, series, creators, subjects and descriptions.
fn describe(x: &mut String, m: &ProgramMetadata, lang: &str) {
    *x += &format!(
        "    <ebucore:title><dc:title xml:lang=\"{}\">{}</dc:title></ebucore:title>\n",
        esc(lang),
        esc(&m.title)
    );
    if let Some(series) = &m.series {
        *x += &format!(
            "    <ebucore:alternativeTitle typeLabel=\"series\"><dc:title>{}</dc:title></ebucore:alternativeTitle>\n",
            esc(series)
        );
    }
    for c in &m.credits {
        *x += &format!(
            "    <ebucore:creator><ebucore:contactDetails><ebucore:name>{}</ebucore:name></ebucore:contactDetails>\
             <ebucore:role typeLabel=\"{}\"/></ebucore:creator>\n",
            esc(&c.name),
            esc(&c.role)
        );
    }
    for t in &m.tags {
        *x += &format!(
            "    <ebucore:subject><dc:subject>{}</dc:subject></ebucore:subject>\n",
            esc(t)
        );
    }
    if let Some(s) = &m.summary {
        *x += &format!("    <ebucore:description typeLabel=\"summary\"><dc:description>{}</dc:description></ebucore:description>\n", esc(s));
    }
    if let Some(d) = &m.description {
        *x += &format!("    <ebucore:description typeLabel=\"description\"><dc:description>{}</dc:description></ebucore:description>\n", esc(d));
    }
}

/// The originating station, and when the program was made and issued.
fn publisher_and_dates(x: &mut String, p: &Program, origin: &Station) {
    let m = &p.meta;
    *x += &format!(
        "    <ebucore:publisher><ebucore:organisationDetails organisationId=\"{}\"><ebucore:organisationName>{}</ebucore:organisationName>\
         </ebucore:organisationDetails></ebucore:publisher>\n",
        esc(origin.id.as_str()),
        esc(&origin.name)
    );
    *x += "    <ebucore:date>";
    *x += &format!(
        "<ebucore:created startDate=\"{}\" startTime=\"{}\"/>",
        date(p.created_at),
        time(p.created_at)
    );
    if let Some(t) = m.first_aired_at.or(p.published_at) {
        *x += &format!("<ebucore:issued startDate=\"{}\" startTime=\"{}\"/>", date(t), time(t));
    }
    *x += "</ebucore:date>\n";
}

/// One format per file (the master's with its duration), each with its
/// size, name, type and SHA-256.
fn formats(x: &mut String, p: &Program) {
    let m = &p.meta;
    let has_master = p.files.iter().any(|f| f.role == crate::domain::FileRole::Master);
    for (n, f) in p.files.iter().enumerate() {
        *x += &format!("    <ebucore:format formatName=\"{}\">\n", f.role.as_str());
        if let Some(a) = f
            .analysis
            .as_ref()
            .filter(|a| a.state == crate::domain::AnalysisState::Done)
        {
            technical(x, a, n);
        }
        if let (Some(d), "master") = (m.duration_seconds, f.role.as_str()) {
            *x += &format!(
                "      <ebucore:duration><ebucore:normalPlayTime>{}</ebucore:normalPlayTime></ebucore:duration>\n",
                duration(d)
            );
        }
        *x += &format!("      <ebucore:fileSize>{}</ebucore:fileSize>\n", f.size);
        *x += &format!("      <ebucore:fileName>{}</ebucore:fileName>\n", esc(&f.filename));
        *x += &format!("      <ebucore:mimeType typeLabel=\"{}\"/>\n", esc(&f.media_type));
        *x += &format!(
            "      <ebucore:hash><ebucore:hashValue>{}</ebucore:hashValue><ebucore:hashFunction typeLabel=\"SHA-256\"/></ebucore:hash>\n",
            f.sha256
        );
        *x += "    </ebucore:format>\n";
    }
    if let (Some(d), false) = (m.duration_seconds, has_master) {
        *x += &format!(
            "    <ebucore:format><ebucore:duration><ebucore:normalPlayTime>{}</ebucore:normalPlayTime></ebucore:duration></ebucore:format>\n",
            duration(d)
        );
    }
}

/// What the analysis found, as EBUCore's video, audio and container
/// formats (in the order of its formatType; each one's children in theirs).
fn technical(x: &mut String, a: &crate::domain::FileAnalysis, n: usize) {
    for s in a.streams.iter().filter(|s| s.is_video()) {
        *x += "      <ebucore:videoFormat>";
        if let (Some(w), Some(h)) = (s.width, s.height) {
            *x += &format!(
                "<ebucore:width unit=\"pixel\">{w}</ebucore:width><ebucore:height unit=\"pixel\">{h}</ebucore:height>"
            );
        }
        if let Some(r) = s.frame_rate {
            *x += &format!(
                "<ebucore:frameRate factorNumerator=\"{}\" factorDenominator=\"1000\">{}</ebucore:frameRate>",
                (r * 1000.0).round() as u64,
                r.round() as u64
            );
        }
        if let Some(c) = &s.codec {
            *x += &format!("<ebucore:videoEncoding typeLabel=\"{}\"/>", esc(c));
        }
        if let Some(b) = s.bit_rate {
            *x += &format!("<ebucore:bitRate>{b}</ebucore:bitRate>");
        }
        if let Some(scan) = &s.scan_type {
            let format = if scan == "progressive" {
                "progressive"
            } else {
                "interlaced"
            };
            *x += &format!("<ebucore:scanningFormat>{format}</ebucore:scanningFormat>");
        }
        *x += "</ebucore:videoFormat>\n";
    }
    for s in a.streams.iter().filter(|s| s.is_audio()) {
        *x += "      <ebucore:audioFormat>";
        if let Some(c) = &s.codec {
            *x += &format!("<ebucore:audioEncoding typeLabel=\"{}\"/>", esc(c));
        }
        if let Some(l) = &s.channel_layout {
            *x += &format!("<ebucore:audioTrackConfiguration typeLabel=\"{}\"/>", esc(l));
        }
        if let Some(r) = s.sample_rate {
            *x += &format!("<ebucore:samplingRate>{r}</ebucore:samplingRate>");
        }
        if let Some(b) = s.bit_rate {
            *x += &format!("<ebucore:bitRate>{b}</ebucore:bitRate>");
        }
        if let Some(c) = s.channels {
            *x += &format!("<ebucore:channels>{c}</ebucore:channels>");
        }
        *x += "</ebucore:audioFormat>\n";
    }
    if let Some(l) = &a.loudness {
        loudness(x, l, n);
    }
    if let Some(c) = &a.container {
        *x += &format!(
            "      <ebucore:containerFormat><ebucore:containerEncoding formatLabel=\"{}\"/></ebucore:containerFormat>\n",
            esc(c)
        );
    }
}

/// The loudness (of the first audio stream: the programme's) in EBUCore's
/// own loudness elements, which live in the extended audio format: the
/// programme, its one content and that content's one object, tied by IDs
/// unique to the file (`n`, its place in the document).
fn loudness(x: &mut String, l: &crate::domain::analysis::Loudness, n: usize) {
    let figures = [
        ("integratedLoudness", l.integrated_lufs),
        ("loudnessRange", l.range_lu),
        ("maxTruePeak", l.true_peak_dbtp),
    ];
    if figures.iter().all(|(_, v)| v.is_none()) {
        return;
    }
    let id = format!("{:04x}", 0x1000 + n % 0xf000);
    *x += &format!(
        "      <ebucore:audioFormatExtended><ebucore:audioProgramme audioProgrammeID=\"APR_{id}\">\
         <ebucore:audioContentIDRef>ACO_{id}</ebucore:audioContentIDRef>\
         <ebucore:loudnessMetadata loudnessMethod=\"ITU-R BS.1770-4\">"
    );
    for (element, v) in figures {
        if let Some(v) = v.filter(|v| v.is_finite()) {
            *x += &format!("<ebucore:{element}>{v}</ebucore:{element}>");
        }
    }
    *x += &format!(
        "</ebucore:loudnessMetadata></ebucore:audioProgramme>\
         <ebucore:audioContent audioContentID=\"ACO_{id}\"><ebucore:audioObjectIDRef>AO_{id}</ebucore:audioObjectIDRef></ebucore:audioContent>\
         <ebucore:audioObject audioObjectID=\"AO_{id}\"/></ebucore:audioFormatExtended>\n"
    );
}

/// The exchange terms in words: audience, window, credit, the station's own.
fn rights_terms(p: &Program, origin: &Station) -> String {
    let m = &p.meta;
    let r = &m.rights;
    let audience = match r.audience {
        crate::domain::Audience::Stations => {
            format!(
                "stations: {}",
                r.stations.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
            )
        }
        a => a.as_str().to_owned(),
    };
    let mut terms = format!("audience: {audience}");
    if let Some(from) = r.available_from {
        terms += &format!("; available from {}", from.to_rfc3339_opts(SecondsFormat::Secs, true));
    }
    if let Some(until) = r.available_until {
        terms += &format!("; until {}", until.to_rfc3339_opts(SecondsFormat::Secs, true));
    }
    if r.credit_required {
        terms += &format!("; credit required: {}", origin.name);
    }
    if let Some(t) = &r.terms {
        terms += &format!("; {t}");
    }
    terms
}

/// The program's metadata as EBUCore XML.
#[utoipa::path(get, path = "/api/v1/programs/{id}/ebucore.xml", tag = "programs",
    params(("id" = uuid::Uuid, Path, description = "program id")),
    responses((status = 200, content_type = "application/xml", body = String), (status = 401, body = Problem),
        (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn ebucore(
    Auth(caller): Auth,
    hub: web::Data<Hub>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = program_id(&path)?;
    let p = hub.program(&caller, id).await?;
    let origin = hub.station(p.station.clone()).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/xml; charset=utf-8"))
        .insert_header((header::ETAG, p.etag()))
        .body(render(&p, &origin)))
}
