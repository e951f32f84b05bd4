//! Follows: what a station carries ("Thái Nguyên's *Nông nghiệp xanh*, every
//! week"), as a rule that says of any program whether it is followed. Parsed
//! types, no I/O: the saved search parses here, and matches a program the
//! way the catalog search would find it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::text::{fold, query_words, words};
use super::{DateOrTime, FileRole, Genre, LanguageTag, Login, Program, ProgramKind, SearchFilter, StationId};

/// What a follow names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FollowKind {
    /// A series, by its name (case and diacritics ignored).
    Series,
    /// Every program of a station.
    Station,
    /// Every program of a genre.
    Genre,
    /// A saved search: a query string as the search API takes it.
    Search,
    /// A person's download list ("Danh sách tải"), by the login of a person
    /// of the following station: the programs on it, whenever they were
    /// put there.
    List,
}

impl FollowKind {
    pub const ALL: [FollowKind; 5] = [Self::Series, Self::Station, Self::Genre, Self::Search, Self::List];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Series => "series",
            Self::Station => "station",
            Self::Genre => "genre",
            Self::Search => "search",
            Self::List => "list",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// One follow of a station.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Follow {
    pub id: String,
    pub station: StationId,
    pub kind: FollowKind,
    /// As the station gave it (tidied).
    pub value: String,
    /// Whether the station's pull agent delivers what it matches.
    pub deliver: bool,
    /// Which files the agent delivers.
    pub roles: Vec<FileRole>,
    /// How many of the latest programs already published the agent
    /// delivers when it first meets the follow.
    pub backfill: u32,
    /// The delivery profile the agent fetches (else the station's default).
    pub profile: Option<String>,
    /// The station's playout number for what this follow brings (digits).
    pub cut_id: Option<String>,
    /// The push target (a station's own server) a delivering follow
    /// writes what it matches to.
    pub target: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl Follow {
    /// The rule this follow stands for. A stored follow always parses (it was
    /// parsed when made); one that no longer would matches nothing.
    pub fn rule(&self) -> Option<Rule> {
        Rule::parse(self.kind, &self.value).ok()
    }
}

/// The longest series name, saved search or value a follow takes.
pub const MAX_VALUE_CHARS: usize = 1000;

/// A series name as follows compare it: folded as search folds text, words
/// only (`Nông nghiệp  xanh!` and `nong nghiep xanh` are one series).
pub fn series_key(name: &str) -> String {
    words(&fold(name)).collect::<Vec<_>>().join(" ")
}

/// What a follow matches.
#[derive(Debug, Clone, PartialEq)]
pub enum Rule {
    /// The [`series_key`] of the series.
    Series(String),
    Station(StationId),
    Genre(Genre),
    Search(SavedSearch),
    /// The download list of the person with this login (of the follow's
    /// station): which programs are on it is the catalog's to say, not the
    /// program's, so [`Rule::matches`] says no and the hub's matcher
    /// (`exchange::delivery::follows::Following`) asks the list.
    List(Login),
}

impl Rule {
    /// The rule of `kind` with `value`, or why the value is not one.
    pub fn parse(kind: FollowKind, value: &str) -> Result<Self, String> {
        if value.trim().is_empty() {
            return Err("must not be empty".into());
        }
        if value.chars().count() > MAX_VALUE_CHARS {
            return Err(format!("must be at most {MAX_VALUE_CHARS} characters"));
        }
        match kind {
            FollowKind::Series => {
                let key = series_key(value);
                if key.is_empty() {
                    return Err("must name a series (at least one letter or digit)".into());
                }
                Ok(Self::Series(key))
            }
            FollowKind::Station => StationId::parse(value.trim()).map(Self::Station),
            FollowKind::Genre => Genre::parse(value.trim()).map(Self::Genre).ok_or_else(|| {
                let all: Vec<&str> = Genre::ALL.iter().map(|g| g.as_str()).collect();
                format!("must be one of {}", all.join(", "))
            }),
            FollowKind::Search => SavedSearch::parse(value).map(Self::Search),
            FollowKind::List => Login::parse(value)
                .map(Self::List)
                .map_err(|_| "must be the login of a person of the station".to_owned()),
        }
    }

    /// A key that is the same for two follows that match the same programs
    /// as written (a station follows each thing once).
    pub fn key(&self) -> String {
        match self {
            Self::Series(k) => k.clone(),
            Self::Station(s) => s.to_string(),
            Self::Genre(g) => g.as_str().to_owned(),
            Self::Search(s) => format!("{s:?}"),
            Self::List(login) => login.to_string(),
        }
    }

    /// Whether `program` is one this rule follows (who may see it is the
    /// rights rule's question, not this one's). A list's programs are not
    /// known from the program: no.
    pub fn matches(&self, program: &Program) -> bool {
        match self {
            Self::List(_) => false,
            Self::Series(key) => program.meta.series.as_deref().is_some_and(|s| series_key(s) == *key),
            Self::Station(id) => program.station == *id,
            Self::Genre(g) => program.meta.genre == *g,
            Self::Search(s) => s.matches(program),
        }
    }
}

/// A search kept to follow: the search API's words and filter. Paging and
/// ordering (`sort`, `limit`, `cursor`) and `available`/`status` say nothing
/// about which programs match, so they are accepted and left aside.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SavedSearch {
    /// The folded words of `q`; a program matches when each is the prefix of
    /// one of its words (as the full-text search does).
    pub words: Vec<String>,
    pub filter: SearchFilter,
}

impl SavedSearch {
    /// Parses a query string as `GET /api/v1/programs` takes it
    /// (`q=nong+nghiep&genre=agriculture`, a leading `?` allowed).
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        let raw = raw.strip_prefix('?').unwrap_or(raw);
        let mut s = Self::default();
        let mut criteria = 0;
        for (k, v) in url::form_urlencoded::parse(raw.as_bytes()) {
            let field = |why: String| format!("`{k}`: {why}");
            match k.as_ref() {
                "q" => {
                    s.words = query_words(&v);
                    if s.words.is_empty() {
                        return Err(field("must contain at least one letter or digit".into()));
                    }
                }
                "station" => s.filter.stations.push(StationId::parse(&v).map_err(field)?),
                "kind" => s
                    .filter
                    .kinds
                    .push(ProgramKind::parse(&v).ok_or_else(|| field("must be radio or tv".into()))?),
                "genre" => s
                    .filter
                    .genres
                    .push(Genre::parse(&v).ok_or_else(|| field("is not a genre".into()))?),
                "language" => s.filter.languages.push(LanguageTag::parse(&v).map_err(field)?),
                "aired_from" => s.filter.aired_from = Some(DateOrTime::parse(&v).map_err(field)?.start()),
                "aired_to" => s.filter.aired_to = Some(DateOrTime::parse(&v).map_err(field)?.end_of_day()),
                "min_duration" | "max_duration" => {
                    let n = v
                        .parse::<u32>()
                        .map_err(|_| field("must be a whole number of seconds".into()))?;
                    if k == "min_duration" {
                        s.filter.min_duration = Some(n);
                    } else {
                        s.filter.max_duration = Some(n);
                    }
                }
                "available" | "status" | "sort" | "limit" | "cursor" => continue,
                _ => return Err(format!("`{k}` is not a parameter of the search")),
            }
            criteria += 1;
        }
        if criteria == 0 {
            return Err("must hold at least one of q, station, kind, genre, language, aired_from, aired_to, min_duration, max_duration".into());
        }
        Ok(s)
    }

    /// Whether the search would find `program` (the full text as the index
    /// holds it: title, summary, description, tags, series, credits).
    pub fn matches(&self, p: &Program) -> bool {
        if !self.filter.keeps_metadata(p) {
            return false;
        }
        let m = &p.meta;
        if self.words.is_empty() {
            return true;
        }
        let mut text = vec![m.title.as_str()];
        text.extend(m.summary.as_deref());
        text.extend(m.description.as_deref());
        text.extend(m.tags.iter().map(String::as_str));
        text.extend(m.series.as_deref());
        text.extend(m.credits.iter().map(|c| c.name.as_str()));
        let folded: Vec<String> = text.iter().map(|t| fold(t)).collect();
        let have: Vec<&str> = folded.iter().flat_map(|t| words(t)).collect();
        self.words
            .iter()
            .all(|w| have.iter().any(|h| h.starts_with(w.as_str())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_names_fold_as_search_folds() {
        assert_eq!(series_key("Nông nghiệp  XANH!"), "nong nghiep xanh");
        assert_eq!(series_key("Đường lên Mẫu Sơn"), series_key("duong len mau son"));
        assert_eq!(
            Rule::parse(FollowKind::Series, "  !! ").unwrap_err(),
            "must name a series (at least one letter or digit)"
        );
    }

    #[test]
    fn saved_searches_parse_like_the_search_api() {
        let s = SavedSearch::parse("?q=Nông+nghiệp&genre=agriculture&language=vi&sort=newest").unwrap();
        assert_eq!(s.words, ["nong", "nghiep"]);
        assert_eq!(s.filter.genres, [Genre::parse("agriculture").unwrap()]);
        for bad in [
            "",
            "sort=newest",
            "genre=gardening",
            "q=!!!",
            "colour=red",
            "aired_from=last+week",
        ] {
            assert!(SavedSearch::parse(bad).is_err(), "{bad}");
        }
        assert!(Rule::parse(FollowKind::Search, &"q=a&".repeat(300)).is_err());
    }

    #[test]
    fn the_other_kinds_parse_their_values() {
        assert!(Rule::parse(FollowKind::Station, "thai-nguyen").is_ok());
        assert!(Rule::parse(FollowKind::Station, "Thái Nguyên").is_err());
        assert!(Rule::parse(FollowKind::Genre, "news").is_ok());
        assert!(Rule::parse(FollowKind::Genre, "gardening").is_err());
        assert_eq!(FollowKind::parse("series"), Some(FollowKind::Series));
        assert_eq!(FollowKind::parse("program"), None);
        assert_eq!(FollowKind::parse("list"), Some(FollowKind::List));
        assert_eq!(Rule::parse(FollowKind::List, " Binh ").unwrap().key(), "binh");
        for bad in ["bi", "lê văn bình", "-binh", "a/b"] {
            assert!(Rule::parse(FollowKind::List, bad).is_err(), "{bad}");
        }
    }
}
