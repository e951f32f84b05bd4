//! `/api/v1/programs`: create, read, merge-patch, delete, publish, withdraw,
//! and search.

use std::collections::BTreeMap;

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{AnyOfBuilder, Object, ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;
use utoipa::{IntoParams, PartialSchema, ToSchema};

use super::extract::{if_match, program_id, Auth, Json, Query};
use super::params::{DateOrTime, Limit, Seconds};
use crate::domain::{
    Credit, FieldError, FileRecord, Genre, LanguageTag, Program, ProgramInput, ProgramKind, ProgramStatus, RightsInput,
    StationId, Viewer,
};
use crate::domain::{Origin, OriginFilter, SearchFilter};
use crate::error::{ApiError, Problem};
use crate::exchange::rights::may_take;
use crate::exchange::{Caller, Hub, SearchPage, SearchRequest};
use crate::exchange::{Facets, Sort};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        super::routing::resource("/programs")
            .get(search_programs)
            .post(create_program),
    )
    .service(
        super::routing::resource("/programs/{id}")
            .get(get_program)
            .patch(patch_program)
            .delete(delete_program),
    )
    .service(super::routing::resource("/programs/{id}/publish").post(publish_program))
    .service(super::routing::resource("/programs/{id}/withdraw").post(withdraw_program));
}

/// A program as the hub returns it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProgramView {
    pub id: String,
    /// The owner's station id.
    pub station: String,
    pub status: ProgramStatus,
    pub title: String,
    pub summary: Option<String>,
    pub description: Option<String>,
    pub tags: Vec<String>,
    pub kind: ProgramKind,
    pub genre: Genre,
    pub languages: Vec<String>,
    pub series: Option<String>,
    pub episode: Option<i64>,
    pub first_aired_at: Option<DateTime<Utc>>,
    pub duration_seconds: Option<i64>,
    pub credits: Vec<Credit>,
    pub rights: RightsInput,
    pub files: Vec<FileRecord>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub published_at: Option<DateTime<Utc>>,
    pub withdrawn_at: Option<DateTime<Utc>>,
    pub withdrawal_reason: Option<String>,
    /// Whether the rights let the caller download it now (the owner and the
    /// admin always may).
    pub can_download: bool,
    /// Why not: `withdrawn`, `not_yet_available` or `no_longer_available`.
    pub unavailable_reason: Option<String>,
    /// Where a program mirrored from a peer hub comes from; `null` for this
    /// hub's own.
    pub origin: Option<Origin>,
}

impl ProgramView {
    /// The program as `viewer` sees it now.
    pub fn new(p: Program, viewer: &Viewer) -> Self {
        let access = may_take(viewer, &p, Utc::now());
        let m = p.meta.to_input();
        Self {
            id: p.id.to_string(),
            station: p.station.to_string(),
            status: p.status,
            title: m.title,
            summary: m.summary,
            description: m.description,
            tags: m.tags,
            kind: m.kind,
            genre: m.genre,
            languages: m.languages,
            series: m.series,
            episode: m.episode,
            first_aired_at: m.first_aired_at,
            duration_seconds: m.duration_seconds,
            credits: m.credits,
            rights: m.rights,
            files: p.files,
            created_at: p.created_at,
            updated_at: p.updated_at,
            published_at: p.published_at,
            withdrawn_at: p.withdrawn_at,
            withdrawal_reason: p.withdrawal_reason,
            can_download: access.is_ok(),
            unavailable_reason: access.err().map(|why| why.as_str().to_owned()),
            origin: p.origin,
        }
    }
}

/// The program as `caller` sees it, with its `ETag`.
fn program_response(status: StatusCode, p: Program, caller: &Caller) -> HttpResponse {
    let etag = p.etag();
    let mut res = HttpResponse::build(status);
    res.insert_header((header::ETAG, etag));
    if status == StatusCode::CREATED {
        res.insert_header((header::LOCATION, format!("/api/v1/programs/{}", p.id)));
    }
    res.json(ProgramView::new(p, &caller.viewer()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Withdrawal {
    /// Why the program is withdrawn (1 to 1000 characters).
    #[schema(
        min_length = 1,
        max_length = 1000,
        pattern = "^[^\\x00-\\x1f\\x7f-\\x9f]*[^\\s\\x00-\\x1f\\x7f-\\x9f][^\\x00-\\x1f\\x7f-\\x9f]*$"
    )]
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SearchResults {
    pub items: Vec<ProgramView>,
    pub next_cursor: Option<String>,
    /// How many programs match in all.
    pub total: u64,
    pub facets: FacetCounts,
}

/// For each facet, the number of matching programs per value.
#[derive(Debug, Serialize, ToSchema)]
pub struct FacetCounts {
    pub station: BTreeMap<String, u64>,
    pub kind: BTreeMap<String, u64>,
    pub genre: BTreeMap<String, u64>,
    pub language: BTreeMap<String, u64>,
    /// `local` for this hub's own programs, and each peer hub's id.
    pub origin: BTreeMap<String, u64>,
}

impl From<Facets> for FacetCounts {
    fn from(f: Facets) -> Self {
        Self {
            station: f.station,
            kind: f.kind,
            genre: f.genre,
            language: f.language,
            origin: f.origin,
        }
    }
}

/// The parameters of a search. Those marked repeatable may be given several
/// times (`genre=news&genre=report`): a program matches any of the values.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SearchParams {
    /// Full text over title, summary, description, tags, series and credits;
    /// case and Vietnamese diacritics ignored, word prefixes match.
    #[param(max_length = 500)]
    q: Option<String>,
    /// Owner station id (repeatable; an empty one asks for nothing).
    #[serde(default)]
    #[param(required = false, value_type = Vec<StationFilter>, inline)]
    station: Vec<String>,
    /// `radio` or `tv` (repeatable).
    #[serde(default)]
    #[param(required = false)]
    kind: Vec<ProgramKind>,
    /// Genre (repeatable).
    #[serde(default)]
    #[param(required = false)]
    genre: Vec<Genre>,
    /// BCP 47 language tag of a known language (repeatable; an empty one
    /// asks for nothing).
    #[serde(default)]
    #[param(required = false, value_type = Vec<LanguageFilter>, inline)]
    language: Vec<String>,
    /// First aired at or after (RFC 3339 date-time, or a date: from its start).
    #[param(inline)]
    aired_from: Option<DateOrTime>,
    /// First aired at or before (RFC 3339 date-time, or a date: the whole day).
    #[param(inline)]
    aired_to: Option<DateOrTime>,
    /// Minimum duration in seconds.
    #[param(inline)]
    min_duration: Option<Seconds>,
    /// Maximum duration in seconds.
    #[param(inline)]
    max_duration: Option<Seconds>,
    /// Only programs whose analysed master has video (`true`) or has none
    /// (`false`).
    has_video: Option<bool>,
    /// Codec of a stream of the analysed master, as FFmpeg names it (`mp3`,
    /// `aac`, `h264`, `pcm_s16le`…; repeatable: any of them; an empty one
    /// asks for nothing).
    #[serde(default)]
    #[param(required = false, value_type = Vec<CodecFilter>, inline)]
    codec: Vec<String>,
    /// `now`: only what the caller may download right now.
    #[param(inline)]
    available: Option<Available>,
    /// `draft`, `published` or `withdrawn` (repeatable); drafts and withdrawn
    /// programs only ever show to their owner. Default `published`.
    #[serde(default)]
    #[param(required = false)]
    status: Vec<ProgramStatus>,
    /// `relevance` (default with `q`: programs whose title has the words first, then
    /// the newest), `newest` (default without), `aired` (latest first), `title`.
    #[param(inline)]
    sort: Option<SearchSort>,
    /// 1 to 100, default 20.
    #[param(inline)]
    limit: Option<Limit>,
    /// `next_cursor` of the previous page, with the same other parameters.
    cursor: Option<String>,
    /// `local`: only this hub's own programs; a peer hub's id: only those
    /// mirrored from it.
    #[param(value_type = Option<StationId>, inline)]
    origin: Option<String>,
}

/// Schema-only: a JSON merge patch (RFC 7396) of a program's metadata,
/// made from [`ProgramInput`]'s own schema: the hub applies the patch to the
/// program's metadata and parses the result as a `ProgramInput`.
pub struct ProgramPatch;

impl PartialSchema for ProgramPatch {
    fn schema() -> RefOr<Schema> {
        let mut doc = patch_of(ProgramInput::schema());
        doc.properties
            .insert("rights".to_owned(), nullable(patch_of(RightsInput::schema()).into()));
        doc.description = Some(
            "A JSON merge patch (RFC 7396) of the program's metadata: any fields of ProgramInput. \
             `null` removes an optional field (its default returns); the required ones \
             (title, kind, genre, languages) cannot be removed. `rights` is merged field by \
             field; an array is replaced whole. Unknown fields are refused, in `rights` too."
                .to_owned(),
        );
        doc.into()
    }
}
impl ToSchema for ProgramPatch {}

/// The object `schema` as a merge patch of it: every field optional, an
/// optional one also `null` (which removes it); no example.
fn patch_of(schema: RefOr<Schema>) -> Object {
    let RefOr::T(Schema::Object(mut o)) = schema else {
        panic!("a merge patch is of an object's schema");
    };
    let required = std::mem::take(&mut o.required);
    o.example = None;
    o.examples.clear();
    o.description = None;
    for (name, prop) in o.properties.iter_mut() {
        if !required.contains(name) {
            *prop = nullable(prop.clone());
        }
    }
    o
}

/// `schema`, or `null`.
fn nullable(schema: RefOr<Schema>) -> RefOr<Schema> {
    AnyOfBuilder::new()
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .item(schema)
        .into()
}

/// Schema-only: a search's station filter, a station id or empty (as a
/// form's unchosen list sends it).
struct StationFilter;

/// Schema-only: a search's language filter, a language tag or empty.
struct LanguageFilter;

/// Schema-only: a search's codec filter, an FFmpeg codec name or empty.
struct CodecFilter;

/// The string `schema`, or the empty string.
fn or_empty(schema: RefOr<Schema>) -> RefOr<Schema> {
    let RefOr::T(Schema::Object(mut o)) = schema else {
        panic!("a string's schema");
    };
    o.pattern = o.pattern.map(|p| {
        let inner = p.strip_prefix('^').and_then(|p| p.strip_suffix('$')).unwrap_or(&p);
        format!("^({inner})?$")
    });
    o.min_length = None;
    o.into()
}

impl PartialSchema for StationFilter {
    fn schema() -> RefOr<Schema> {
        or_empty(StationId::schema())
    }
}

impl PartialSchema for LanguageFilter {
    fn schema() -> RefOr<Schema> {
        or_empty(LanguageTag::schema())
    }
}

/// What [`SearchParams::into_request`] takes for a codec.
const CODEC_PATTERN: &str = "^[A-Za-z0-9_]{1,32}$";

impl PartialSchema for CodecFilter {
    fn schema() -> RefOr<Schema> {
        or_empty(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .max_length(Some(32))
                .pattern(Some(CODEC_PATTERN))
                .into(),
        )
    }
}

/// `available`'s one value.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Available {
    Now,
}

/// The orders of a search.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SearchSort {
    Relevance,
    Newest,
    Aired,
    Title,
}

impl SearchParams {
    /// The search these parameters ask for; what their types cannot say is checked here.
    fn into_request(mut self) -> Result<SearchRequest, ApiError> {
        // An empty value (`language=`, as a form's unchosen list sends it)
        // asks for nothing, as no value does.
        for list in [&mut self.station, &mut self.language, &mut self.codec] {
            list.retain(|v| !v.is_empty());
        }
        let mut errors = Vec::new();
        let stations = each(&mut errors, "station", &self.station, StationId::parse);
        let languages = each(&mut errors, "language", &self.language, LanguageTag::parse);
        for c in &self.codec {
            if !codec_name(c) {
                errors.push(FieldError::new(
                    "codec",
                    "must be a codec name such as `mp3`, `aac` or `h264`",
                ));
            }
        }
        let origin = match self.origin.as_deref().map(OriginFilter::parse) {
            None => None,
            Some(Ok(o)) => Some(o),
            Some(Err(e)) => {
                errors.push(FieldError::new("origin", e));
                None
            }
        };
        if self.q.as_ref().is_some_and(|q| q.chars().count() > 500) {
            errors.push(FieldError::new("q", "must be at most 500 characters"));
        }
        if !errors.is_empty() {
            return Err(ApiError::invalid(errors));
        }
        Ok(SearchRequest {
            q: self.q,
            filter: SearchFilter {
                stations,
                kinds: self.kind,
                genres: self.genre,
                languages,
                aired_from: self.aired_from.map(DateOrTime::start),
                aired_to: self.aired_to.map(DateOrTime::end_of_day),
                min_duration: self.min_duration.map(|s| s.0),
                max_duration: self.max_duration.map(|s| s.0),
                has_video: self.has_video,
                codecs: self.codec,
                origin,
            },
            available_now: matches!(self.available, Some(Available::Now)),
            statuses: self.status,
            sort: self.sort.map(|s| match s {
                SearchSort::Relevance => Sort::Relevance,
                SearchSort::Newest => Sort::Newest,
                SearchSort::Aired => Sort::Aired,
                SearchSort::Title => Sort::Title,
            }),
            limit: Limit::or_default(self.limit),
            cursor: self.cursor,
            ..Default::default()
        })
    }
}

/// Whether `c` is a codec name as FFmpeg writes them ([`CODEC_PATTERN`]).
fn codec_name(c: &str) -> bool {
    (1..=32).contains(&c.len()) && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Every value of a repeatable parameter, parsed.
fn each<T>(
    errors: &mut Vec<FieldError>,
    name: &str,
    values: &[String],
    parse: fn(&str) -> Result<T, String>,
) -> Vec<T> {
    values
        .iter()
        .filter_map(|v| parse(v).map_err(|e| errors.push(FieldError::new(name, e))).ok())
        .collect()
}

/// Search the catalog.
#[utoipa::path(get, path = "/api/v1/programs", tag = "programs", params(SearchParams),
    responses((status = 200, body = SearchResults), (status = 401, body = Problem),
        (status = 422, body = Problem, description = "a parameter is invalid, or the cursor is not one this search returned")),
    security(("bearer" = [])))]
pub async fn search_programs(
    Auth(caller): Auth,
    hub: web::Data<Hub>,
    query: Query<SearchParams>,
) -> Result<HttpResponse, ApiError> {
    let page: SearchPage = hub.search(&caller, query.parsed()?.into_request()?).await?;
    let viewer = caller.viewer();
    Ok(HttpResponse::Ok().json(SearchResults {
        items: page.items.into_iter().map(|p| ProgramView::new(p, &viewer)).collect(),
        next_cursor: page.next_cursor,
        total: page.total,
        facets: page.facets.into(),
    }))
}

/// Create a draft program.
#[utoipa::path(post, path = "/api/v1/programs", tag = "programs", request_body = ProgramInput,
    responses((status = 201, body = ProgramView, headers(("Location" = String), ("ETag" = String))),
        (status = 400, body = Problem, description = "malformed JSON"), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 413, body = Problem), (status = 415, body = Problem),
        (status = 422, body = Problem, description = "invalid fields, each named")),
    security(("bearer" = [])))]
pub async fn create_program(
    Auth(caller): Auth,
    hub: web::Data<Hub>,
    body: Json<ProgramInput>,
) -> Result<HttpResponse, ApiError> {
    let p = hub.create_program(&caller, body.parsed()?).await?;
    Ok(program_response(StatusCode::CREATED, p, &caller))
}

/// A program, if the caller may see it.
#[utoipa::path(get, path = "/api/v1/programs/{id}", tag = "programs",
    params(("id" = uuid::Uuid, Path, description = "program id")),
    responses((status = 200, body = ProgramView, headers(("ETag" = String))), (status = 401, body = Problem),
        (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn get_program(
    Auth(caller): Auth,
    hub: web::Data<Hub>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let p = hub.program(&caller, program_id(&path)?).await?;
    Ok(program_response(StatusCode::OK, p, &caller))
}

/// Change a program's metadata with a JSON merge patch (RFC 7396). `If-Match` is honoured.
#[utoipa::path(patch, path = "/api/v1/programs/{id}", tag = "programs",
    params(("id" = uuid::Uuid, Path, description = "program id"), ("If-Match" = Option<String>, Header)),
    request_body(content = ProgramPatch, content_type = "application/merge-patch+json"),
    responses((status = 200, body = ProgramView, headers(("ETag" = String))), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 412, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn patch_program(
    Auth(caller): Auth,
    hub: web::Data<Hub>,
    path: web::Path<String>,
    req: HttpRequest,
    body: Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let p = hub
        .patch_program(&caller, program_id(&path)?, body.parsed()?, if_match(&req))
        .await?;
    Ok(program_response(StatusCode::OK, p, &caller))
}

/// Delete a draft, with its stored files unless shared: its owner may, and the hub operator.
#[utoipa::path(delete, path = "/api/v1/programs/{id}", tag = "programs",
    params(("id" = uuid::Uuid, Path, description = "program id"), ("If-Match" = Option<String>, Header)),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem, description = "`not_a_draft`"),
        (status = 412, body = Problem)),
    security(("bearer" = [])))]
pub async fn delete_program(
    Auth(caller): Auth,
    hub: web::Data<Hub>,
    path: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    hub.delete_program(&caller, program_id(&path)?, if_match(&req)).await?;
    Ok(HttpResponse::new(StatusCode::NO_CONTENT))
}

/// Publish a draft; it needs a `master` file whose analysis has ended (when
/// the hub analyses files) and found media. Publishing again changes nothing.
#[utoipa::path(post, path = "/api/v1/programs/{id}/publish", tag = "programs",
    params(("id" = uuid::Uuid, Path, description = "program id"), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = ProgramView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem, description = "`master_required`, `invalid_status`, `master_not_media`, or `analysis_pending` (with `Retry-After`: publish again once the master's analysis has ended)"),
        (status = 412, body = Problem)),
    security(("bearer" = [])))]
pub async fn publish_program(
    Auth(caller): Auth,
    hub: web::Data<Hub>,
    path: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let p = hub.publish_program(&caller, program_id(&path)?, if_match(&req)).await?;
    Ok(program_response(StatusCode::OK, p, &caller))
}

/// Withdraw a published program (owner or admin): hidden from search, downloads answer 410.
#[utoipa::path(post, path = "/api/v1/programs/{id}/withdraw", tag = "programs", request_body = Withdrawal,
    params(("id" = uuid::Uuid, Path, description = "program id"), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = ProgramView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem, description = "`invalid_status`: a draft"),
        (status = 412, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn withdraw_program(
    Auth(caller): Auth,
    hub: web::Data<Hub>,
    path: web::Path<String>,
    req: HttpRequest,
    body: Json<Withdrawal>,
) -> Result<HttpResponse, ApiError> {
    let p = hub
        .withdraw_program(&caller, program_id(&path)?, body.parsed()?.reason, if_match(&req))
        .await?;
    Ok(program_response(StatusCode::OK, p, &caller))
}

#[cfg(test)]
mod tests {
    use actix_web::ResponseError;
    use proptest::prelude::*;

    use super::super::extract::parse_query;
    use super::*;

    /// A search's query string (without its `?`), every parameter checked,
    /// as the handler parses it.
    fn parse_search_query(query: &str) -> Result<SearchRequest, ApiError> {
        parse_query::<SearchParams>(query)?.into_request()
    }

    /// A value that is sometimes right for the parameter, mostly not.
    fn value() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(String::new()),
            "[0-9]{1,25}",
            "-[0-9]{1,5}",
            "(news|radio|tv|draft|published|relevance|title|now|vi|tyz|en-US|thai-nguyen)",
            "[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}:[0-9]{2}Z)?",
            "[a-zA-Z0-9._~-]{0,20}",
            "(%[0-9A-Fa-f]{2}|%|\\+|[^&=#]){0,20}",
        ]
    }

    /// The names the search's document declares.
    fn search_params() -> Vec<String> {
        SearchParams::into_params(|| None).into_iter().map(|p| p.name).collect()
    }

    fn name() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => proptest::sample::select(search_params()),
            1 => "[a-z_%]{0,10}",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1_000))]

        /// Any query string gives a search or a clean refusal naming fields.
        #[test]
        fn any_query_string_parses_or_is_refused_cleanly(
            pairs in proptest::collection::vec((name(), value()), 0..8),
            tail in ".{0,10}",
        ) {
            let mut query: String = pairs.iter().map(|(k, v)| format!("{k}={v}&")).collect();
            query.push_str(&tail);
            match parse_search_query(&query) {
                Ok(r) => {
                    prop_assert!((1..=100).contains(&r.limit), "{query}: limit {}", r.limit);
                    prop_assert!(r.q.as_ref().is_none_or(|q| q.chars().count() <= 500));
                }
                Err(e) => prop_assert_eq!(e.status_code(), StatusCode::UNPROCESSABLE_ENTITY, "{}", query),
            }
        }
    }

    #[test]
    fn numbers_out_of_range_are_named() {
        for (query, field) in [
            ("limit=18446744073709551616", "limit"),
            ("min_duration=4294967296", "min_duration"),
            ("max_duration=99999999999999999999", "max_duration"),
        ] {
            let e = parse_search_query(query)
                .err()
                .unwrap_or_else(|| panic!("{query} parsed"));
            assert_eq!(e.status_code(), StatusCode::UNPROCESSABLE_ENTITY, "{query}");
            let body = actix_web::body::to_bytes(e.error_response().into_body());
            let body = futures_util::FutureExt::now_or_never(body).unwrap().unwrap();
            let problem: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(problem["errors"][0]["field"], field, "{query}");
        }
    }
}
