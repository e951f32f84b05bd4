//! Where a delivered file goes (the pull agent's folder, a push target): a
//! template the station chooses, rendered into a relative path that Windows
//! and Linux file systems both take, with Vietnamese kept as it is.

use chrono::{DateTime, FixedOffset, Utc};
use serde_json::Value;
use unicode_normalization::UnicodeNormalization;

use crate::domain::text::is_hidden_or_bidi;

/// The template a provincial station's agent uses unless told otherwise.
pub const DEFAULT: &str = "{series}/{first_aired:%Y-%m-%d} {title}.{ext}";

/// Dates in file names are the stations' own (Asia/Ho_Chi_Minh, UTC+7 all
/// year).
const STATION_OFFSET_SECS: i32 = 7 * 3600;

/// The longest name a component may have, in bytes: under Linux's 255 and
/// Windows' 255 UTF-16 units, with room for the sidecars' suffixes
/// (`.program.json`) and the agent's own (`.pxhub-tmp`).
const MAX_COMPONENT_BYTES: usize = 200;

/// Names Windows keeps for devices, with or without an extension.
const RESERVED: [&str; 22] = [
    "con", "prn", "aux", "nul", "com1", "com2", "com3", "com4", "com5", "com6", "com7", "com8", "com9", "lpt1", "lpt2",
    "lpt3", "lpt4", "lpt5", "lpt6", "lpt7", "lpt8", "lpt9",
];

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Text(String),
    /// A field of the program.
    Field(Field),
    /// A date of the program, formatted with a chrono (strftime) format.
    Date(DateField, String),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Field {
    Series,
    Title,
    Station,
    Id,
    Episode,
    Genre,
    Kind,
    Role,
    Filename,
    Ext,
    CutId,
    Profile,
}

/// What a station's follow (or its default) asks for a program beyond the
/// master: a delivery profile's rendition, and the playout's cut ID.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Choice {
    pub profile: Option<String>,
    pub cut_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum DateField {
    FirstAired,
    Published,
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    parts: Vec<Part>,
    has_ext: bool,
    has_role: bool,
}

const FIELDS: &str = "series, title, station, id, episode, genre, kind, role, filename, ext, cut_id, profile, \
                      first_aired:FORMAT, published:FORMAT";

impl Template {
    /// Parses `raw`, refusing what could leave the delivery folder (`..`,
    /// an absolute path, a drive) and what cannot be rendered.
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.trim().is_empty() {
            return Err("the template is empty".into());
        }
        if raw.starts_with(['/', '\\']) || raw.as_bytes().get(1) == Some(&b':') {
            return Err("the template must be a relative path (no leading / or \\, no drive)".into());
        }
        let mut parts = Vec::new();
        let mut rest = raw;
        while let Some(open) = rest.find(['{', '}']) {
            if rest.as_bytes()[open] == b'}' {
                return Err("a `}` without its `{`".into());
            }
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_owned()));
            }
            let close = rest[open..].find('}').ok_or("a `{` without its `}`")? + open;
            let inner = &rest[open + 1..close];
            parts.push(parse_field(inner)?);
            rest = &rest[close + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        let literal: String = parts
            .iter()
            .map(|p| match p {
                Part::Text(t) => t.as_str(),
                _ => "x",
            })
            .collect();
        if literal.split(['/', '\\']).any(|c| c.trim() == "..") {
            return Err("the template must not contain `..`".into());
        }
        Ok(Self {
            has_ext: parts
                .iter()
                .any(|p| matches!(p, Part::Field(Field::Ext | Field::Filename))),
            has_role: parts.iter().any(|p| matches!(p, Part::Field(Field::Role))),
            parts,
        })
    }

    /// The relative path (components joined by `/`) of `program`'s `role`
    /// file, named `filename` by its station.
    pub fn render(&self, program: &Value, role: &str, filename: &str) -> Vec<String> {
        self.render_with(program, role, filename, &Choice::default())
    }

    /// The same, with the follow's cut ID and profile for `{cut_id}` and
    /// `{profile}` (empty when it names none).
    pub fn render_with(&self, program: &Value, role: &str, filename: &str, choice: &Choice) -> Vec<String> {
        let text = |k: &str| program[k].as_str().unwrap_or("").to_owned();
        let (stem, ext) = split_ext(filename);
        let ext = if ext.is_empty() { "bin".to_owned() } else { ext };
        let mut out = String::new();
        for p in &self.parts {
            let value = match p {
                Part::Text(t) => {
                    out.push_str(t);
                    continue;
                }
                Part::Field(f) => match f {
                    Field::Series => text("series"),
                    Field::Title => text("title"),
                    Field::Station => text("station"),
                    Field::Id => text("id"),
                    Field::Episode => program["episode"].as_u64().map(|n| n.to_string()).unwrap_or_default(),
                    Field::Genre => text("genre"),
                    Field::Kind => text("kind"),
                    Field::Role => role.to_owned(),
                    Field::Filename => stem.clone(),
                    Field::Ext => ext.clone(),
                    Field::CutId => choice.cut_id.clone().unwrap_or_default(),
                    Field::Profile => choice.profile.clone().unwrap_or_default(),
                },
                Part::Date(d, format) => {
                    let key = match d {
                        DateField::FirstAired => "first_aired_at",
                        DateField::Published => "published_at",
                    };
                    let at = program[key]
                        .as_str()
                        .or(program["published_at"].as_str())
                        .or(program["created_at"].as_str())
                        .and_then(|t| DateTime::parse_from_rfc3339(t).ok());
                    let offset = FixedOffset::east_opt(STATION_OFFSET_SECS).expect("a valid offset");
                    at.map(|t| t.with_timezone(&Utc).with_timezone(&offset).format(format).to_string())
                        .unwrap_or_default()
                }
            };
            // A value is text inside one component: it never separates.
            out.push_str(&value.replace(['/', '\\'], "_"));
        }
        if !self.has_ext {
            out.push('.');
            out.push_str(&ext);
        }
        let mut components: Vec<String> = out
            .split(['/', '\\'])
            .filter(|c| !c.trim().is_empty())
            .map(safe_component)
            .collect();
        if components.is_empty() {
            components.push(safe_component(&format!("{}.{ext}", text("id"))));
        }
        if role != "master" && !self.has_role {
            let last = components.pop().expect("one component at least");
            let (stem, ext) = split_ext(&last);
            components.push(safe_component(&format!("{stem}.{role}.{ext}")));
        }
        components
    }
}

/// The fields of `program` a template reads, as the API's JSON names them
/// (what the pull agent renders from).
pub fn fields_of(program: &super::Program) -> Value {
    let at = |t: Option<DateTime<Utc>>| t.map(|t| t.to_rfc3339());
    serde_json::json!({
        "id": program.id.to_string(),
        "station": program.station.as_str(),
        "title": program.meta.title,
        "series": program.meta.series,
        "episode": program.meta.episode,
        "genre": program.meta.genre.as_str(),
        "kind": program.meta.kind.as_str(),
        "first_aired_at": at(program.meta.first_aired_at),
        "published_at": at(program.published_at),
        "created_at": at(Some(program.created_at)),
    })
}

fn parse_field(inner: &str) -> Result<Part, String> {
    let (name, format) = match inner.split_once(':') {
        Some((n, f)) => (n, Some(f)),
        None => (inner, None),
    };
    let date = match name {
        "first_aired" => Some(DateField::FirstAired),
        "published" => Some(DateField::Published),
        _ => None,
    };
    if let Some(d) = date {
        let format = format.unwrap_or("%Y-%m-%d");
        if format.is_empty()
            || chrono::format::StrftimeItems::new(format).any(|i| matches!(i, chrono::format::Item::Error))
        {
            return Err(format!("`{{{inner}}}`: not a date format (e.g. %Y-%m-%d)"));
        }
        return Ok(Part::Date(d, format.to_owned()));
    }
    if format.is_some() {
        return Err(format!("`{{{inner}}}`: only dates take a format"));
    }
    let f = match name {
        "series" => Field::Series,
        "title" => Field::Title,
        "station" => Field::Station,
        "id" => Field::Id,
        "episode" => Field::Episode,
        "genre" => Field::Genre,
        "kind" => Field::Kind,
        "role" => Field::Role,
        "filename" => Field::Filename,
        "ext" => Field::Ext,
        "cut_id" => Field::CutId,
        "profile" => Field::Profile,
        _ => return Err(format!("`{{{inner}}}` is not a field; the fields are {FIELDS}")),
    };
    Ok(Part::Field(f))
}

/// `name` as stem and extension (`Thời sự.MP4` → `Thời sự`, `mp4`); an
/// extension is 1 to 10 letters or digits.
fn split_ext(name: &str) -> (String, String) {
    match name.rsplit_once('.') {
        Some((stem, ext))
            if !stem.is_empty() && (1..=10).contains(&ext.len()) && ext.chars().all(|c| c.is_ascii_alphanumeric()) =>
        {
            (stem.to_owned(), ext.to_ascii_lowercase())
        }
        _ => (name.to_owned(), String::new()),
    }
}

/// One path component that Windows and Linux both take: NFC; no control,
/// hidden or direction-changing characters; none of `<>:"/\|?*`; no
/// leading dot or space, no trailing dot or space; not a device name; at
/// most [`MAX_COMPONENT_BYTES`] bytes (the extension kept).
pub fn safe_component(raw: &str) -> String {
    let mut s = String::with_capacity(raw.len());
    let mut last_space = false;
    for c in raw.nfc() {
        if is_hidden_or_bidi(c) {
            continue;
        }
        let c = if c.is_control() || matches!(c, '<' | '>' | ':' | '"' | '/' | '\\' | '|' | '?' | '*') {
            '_'
        } else if c.is_whitespace() {
            ' '
        } else {
            c
        };
        if c == ' ' && last_space {
            continue;
        }
        last_space = c == ' ';
        s.push(c);
    }
    let trim = |s: &str| s.trim_start_matches([' ', '.']).trim_end_matches([' ', '.']).to_owned();
    let mut s = trim(&s);
    if s.len() > MAX_COMPONENT_BYTES {
        let (stem, ext) = split_ext(&s);
        let keep = MAX_COMPONENT_BYTES - if ext.is_empty() { 0 } else { ext.len() + 1 };
        let mut cut = keep.min(stem.len());
        while !stem.is_char_boundary(cut) {
            cut -= 1;
        }
        let stem = trim(&stem[..cut]);
        s = if ext.is_empty() { stem } else { format!("{stem}.{ext}") };
    }
    let base = s.split('.').next().unwrap_or("").trim().to_ascii_lowercase();
    if RESERVED.contains(&base.as_str()) {
        s.insert(0, '_');
    }
    if s.is_empty() {
        s.push('_');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn program() -> Value {
        json!({
            "id": "0b7e8c1e-0000-4000-8000-000000000001", "station": "thai-nguyen",
            "title": "Nông nghiệp xanh: số 12 / tháng 3?", "series": "Nông nghiệp xanh",
            "episode": 12, "genre": "agriculture", "kind": "radio",
            "first_aired_at": "2024-03-12T20:30:00Z", "published_at": "2024-03-10T01:00:00Z",
        })
    }

    #[test]
    fn a_cut_id_and_a_profile_name_the_file_for_the_playout() {
        let t = Template::parse("{cut_id}/{profile} {episode}.{ext}").unwrap();
        let choice = Choice {
            profile: Some("bwf-r128".into()),
            cut_id: Some("4501".into()),
        };
        assert_eq!(
            t.render_with(&program(), "master", "a.wav", &choice),
            ["4501", "bwf-r128 12.wav"]
        );
        // A follow that names neither: the components are left out, never `..`.
        assert_eq!(t.render(&program(), "master", "a.wav"), ["12.wav"]);
    }

    #[test]
    fn the_default_names_a_file_in_its_series_folder() {
        let t = Template::parse(DEFAULT).unwrap();
        // 20:30 UTC is the next morning in Vietnam.
        assert_eq!(
            t.render(&program(), "master", "NNX 12.MP4"),
            ["Nông nghiệp xanh", "2024-03-13 Nông nghiệp xanh_ số 12 _ tháng 3_.mp4"]
        );
        assert_eq!(
            t.render(&program(), "script", "kịch bản.pdf"),
            [
                "Nông nghiệp xanh",
                "2024-03-13 Nông nghiệp xanh_ số 12 _ tháng 3_.script.pdf"
            ]
        );
        let mut no_series = program();
        no_series["series"] = Value::Null;
        no_series["first_aired_at"] = Value::Null;
        assert_eq!(
            t.render(&no_series, "master", "a"),
            ["2024-03-10 Nông nghiệp xanh_ số 12 _ tháng 3_.bin"]
        );
    }

    #[test]
    fn templates_that_leave_the_folder_or_do_not_parse_are_refused() {
        for bad in [
            "../{title}",
            "{series}/../../etc/{title}",
            "a/ .. /b",
            "/srv/{title}",
            "\\\\server\\{title}",
            "C:{title}",
            "C:\\{title}",
            "",
            "{nope}",
            "{title",
            "title}",
            "{title:%Y}",
            "{first_aired:%Q}",
        ] {
            assert!(Template::parse(bad).is_err(), "{bad}");
        }
        let t = Template::parse("{station}/{episode} - {filename}.{ext}").unwrap();
        assert_eq!(t.render(&program(), "master", "x.wav"), ["thai-nguyen", "12 - x.wav"]);
        // A value never climbs out: its separators are text.
        let mut evil = program();
        evil["series"] = json!("../../etc");
        assert_eq!(
            Template::parse(DEFAULT).unwrap().render(&evil, "master", "a.mp3")[0],
            "_.._etc"
        );
    }

    #[test]
    fn components_are_safe_on_windows_and_linux() {
        assert_eq!(safe_component("a<b>c:d\"e|f?g*h"), "a_b_c_d_e_f_g_h");
        assert_eq!(safe_component("CON"), "_CON");
        assert_eq!(safe_component("nul.txt"), "_nul.txt");
        assert_eq!(safe_component("com1 .mp3"), "_com1 .mp3");
        assert_eq!(safe_component("  Thời sự tối...  "), "Thời sự tối");
        assert_eq!(safe_component("..."), "_");
        assert_eq!(safe_component("a\u{7}b\u{202E}c\td  e"), "a_bc_d e");
        let nfd: String = "Định Hóa".nfd().collect();
        assert_eq!(safe_component(&nfd), "Định Hóa");
        let long = format!("{}.mp4", "ệ".repeat(200));
        let cut = safe_component(&long);
        assert!(cut.len() <= MAX_COMPONENT_BYTES && cut.ends_with("ệ.mp4"), "{cut}");
    }
}
