//! `/api/v1/uploads`: the tus 1.0.0 resumable upload protocol (core, with
//! creation, creation-with-upload, creation-defer-length, expiration,
//! checksum and termination), so tus-js-client, Uppy and tuspy work as is.

use std::collections::BTreeMap;

use actix_web::http::header::{self, HeaderMap};
use actix_web::http::StatusCode;
use actix_web::middleware::DefaultHeaders;
use actix_web::{web, HttpRequest, HttpResponse};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{DateTime, Utc};

use super::extract::Auth;
use crate::error::{ApiError, Problem};
use crate::exchange::error::code;
use crate::exchange::tus::{Append, Checksum, NewUpload, Upload};
use crate::exchange::Hub;

const TUS_VERSION: &str = "1.0.0";
const EXTENSIONS: &str = "creation,creation-with-upload,creation-defer-length,expiration,checksum,termination";
const OFFSET_OCTET_STREAM: &str = "application/offset+octet-stream";
/// What browsers may read of the answers (CORS).
const EXPOSED: &str = "Location, Upload-Offset, Upload-Length, Upload-Defer-Length, Upload-Metadata, Upload-Expires, \
     Tus-Version, Tus-Resumable, Tus-Max-Size, Tus-Extension, Tus-Checksum-Algorithm";
/// What browsers may send (CORS pre-flight).
const ALLOWED: &str =
    "Authorization, Content-Type, Tus-Resumable, Upload-Length, Upload-Defer-Length, Upload-Metadata, \
     Upload-Offset, Upload-Checksum, X-Requested-With, X-HTTP-Method-Override";

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/uploads")
            .wrap(
                DefaultHeaders::new()
                    .add(("Tus-Resumable", TUS_VERSION))
                    .add((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
                    .add((header::ACCESS_CONTROL_EXPOSE_HEADERS, EXPOSED)),
            )
            .service(super::routing::resource("").options(options).post(create))
            .service(
                super::routing::resource("/{id}")
                    .options(options_upload)
                    .head(status)
                    .patch(append)
                    .delete(terminate),
            ),
    );
}

/// How large an upload may be, set at start.
#[derive(Clone, Copy)]
pub struct TusLimits {
    pub max_size: u64,
}

/// The server's tus capabilities, and the CORS pre-flight answer. No token needed.
#[utoipa::path(options, path = "/api/v1/uploads", tag = "uploads", operation_id = "tus_options",
    responses((status = 204, headers(("Tus-Version" = String), ("Tus-Extension" = String), ("Tus-Max-Size" = u64),
        ("Tus-Checksum-Algorithm" = String)))))]
pub async fn options(limits: web::Data<TusLimits>) -> HttpResponse {
    HttpResponse::NoContent()
        .insert_header(("Tus-Version", TUS_VERSION))
        .insert_header(("Tus-Extension", EXTENSIONS))
        .insert_header(("Tus-Max-Size", limits.max_size.to_string()))
        .insert_header(("Tus-Checksum-Algorithm", "sha256,sha1"))
        .insert_header((
            header::ACCESS_CONTROL_ALLOW_METHODS,
            "POST, HEAD, PATCH, DELETE, OPTIONS",
        ))
        .insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, ALLOWED))
        .insert_header((header::ACCESS_CONTROL_MAX_AGE, "86400"))
        .finish()
}

/// The same answer for an upload's URL: browsers ask before a PATCH or DELETE.
#[utoipa::path(options, path = "/api/v1/uploads/{id}", tag = "uploads", operation_id = "tus_options_upload",
    params(("id" = String, Path, description = "upload id: the last segment of the creation's Location; the answer is the same for any")),
    responses((status = 204, headers(("Tus-Version" = String), ("Tus-Extension" = String), ("Tus-Max-Size" = u64),
        ("Tus-Checksum-Algorithm" = String)))))]
pub async fn options_upload(limits: web::Data<TusLimits>) -> HttpResponse {
    options(limits).await
}

fn text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim)
}

fn bad(code: &'static str, detail: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, code, detail)
}

/// Every request but OPTIONS names the protocol version it speaks.
fn check_version(headers: &HeaderMap) -> Result<(), ApiError> {
    if text(headers, "Tus-Resumable") == Some(TUS_VERSION) {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::PRECONDITION_FAILED,
        code::UNSUPPORTED_TUS_VERSION,
        "send Tus-Resumable: 1.0.0",
    )
    .with_header(header::HeaderName::from_static("tus-version"), TUS_VERSION))
}

fn number(headers: &HeaderMap, name: &'static str) -> Result<Option<u64>, ApiError> {
    match text(headers, name) {
        None => Ok(None),
        Some(v) if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) => v
            .parse()
            .map(Some)
            .map_err(|_| bad("invalid_header", format!("{name} is too large"))),
        Some(_) => Err(bad("invalid_header", format!("{name} must be a non-negative integer"))),
    }
}

/// `key base64,key base64,key` (values may be absent).
fn parse_metadata(raw: &str) -> Result<BTreeMap<String, String>, ApiError> {
    let mut out = BTreeMap::new();
    for pair in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once(' ').unwrap_or((pair, ""));
        let decoded = STANDARD
            .decode(value.trim())
            .ok()
            .and_then(|v| String::from_utf8(v).ok())
            .ok_or_else(|| {
                bad(
                    "invalid_metadata",
                    format!("Upload-Metadata: the value of `{key}` is not base64 of UTF-8"),
                )
            })?;
        out.insert(key.to_owned(), decoded);
    }
    Ok(out)
}

fn parse_checksum(headers: &HeaderMap) -> Result<Option<Checksum>, ApiError> {
    let Some(v) = text(headers, "Upload-Checksum") else {
        return Ok(None);
    };
    let (alg, b64) = v
        .split_once(' ')
        .ok_or_else(|| bad("invalid_checksum", "Upload-Checksum is `<algorithm> <base64>`"))?;
    let digest = STANDARD
        .decode(b64.trim())
        .map_err(|_| bad("invalid_checksum", "Upload-Checksum's digest is not base64"))?;
    let wrong = || bad("invalid_checksum", "Upload-Checksum's digest has the wrong length");
    match alg {
        "sha1" => Ok(Some(Checksum::Sha1(digest.try_into().map_err(|_| wrong())?))),
        "sha256" => Ok(Some(Checksum::Sha256(digest.try_into().map_err(|_| wrong())?))),
        _ => Err(bad(
            "checksum_algorithm_unsupported",
            "Upload-Checksum supports sha256 and sha1",
        )),
    }
}

/// RFC 9110 HTTP-date.
fn http_date(t: DateTime<Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

fn upload_headers(res: &mut actix_web::HttpResponseBuilder, u: &Upload) {
    res.insert_header(("Upload-Offset", u.offset.to_string()));
    res.insert_header(("Upload-Expires", http_date(u.expires_at)));
    match u.length {
        Some(l) => res.insert_header(("Upload-Length", l.to_string())),
        None => res.insert_header(("Upload-Defer-Length", "1")),
    };
}

fn is_octet_stream(headers: &HeaderMap) -> bool {
    text(headers, "Content-Type").is_some_and(|c| {
        c.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .eq_ignore_ascii_case(OFFSET_OCTET_STREAM)
    })
}

/// Create an upload (`Upload-Length` or `Upload-Defer-Length: 1`;
/// `Upload-Metadata` with `program`, `role`, `filename`, optional `filetype`).
/// With a body of type application/offset+octet-stream, its first bytes too.
#[utoipa::path(post, path = "/api/v1/uploads", tag = "uploads", operation_id = "create_upload",
    params(("Tus-Resumable" = String, Header, pattern = "^1\\.0\\.0$", description = "`1.0.0`, the tus version"), ("Upload-Length" = Option<u64>, Header),
        ("Upload-Defer-Length" = Option<u8>, Header, minimum = 1, maximum = 1, description = "`1`: the length is told later"),
        ("Upload-Metadata" = String, Header, description = "program <base64 id>,role <base64>,filename <base64>[,filetype <base64>]")),
    responses((status = 201, headers(("Location" = String), ("Upload-Offset" = u64), ("Upload-Expires" = String))),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem),
        (status = 409, body = Problem, description = "`too_many_open_uploads`: the station has as many unfinished uploads as the hub allows"),
        (status = 412, body = Problem, description = "`unsupported_tus_version`", headers(("Tus-Version" = String))),
        (status = 413, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem),
        (status = 429, body = Problem, description = "`too_many_uploads`: the station has as many uploads running as the hub allows",
            headers(("Retry-After" = u32, description = "seconds to wait"))),
        (status = 503, body = Problem, description = "`storage_unavailable`: the media store is down or failing; nothing was recorded (HEAD tells the offset to resume from)",
            headers(("Retry-After" = u32, description = "seconds to wait"))),
        (status = 507, body = Problem, description = "`storage_full`: the hub's disk is full; nothing was recorded")),
    security(("bearer" = [])))]
pub async fn create(
    Auth(caller): Auth,
    hub: web::Data<Hub>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let headers = req.headers();
    check_version(headers)?;
    let length = number(headers, "Upload-Length")?;
    let deferred = text(headers, "Upload-Defer-Length");
    match (length, deferred) {
        (Some(_), Some(_)) => {
            return Err(bad(
                "invalid_header",
                "send Upload-Length or Upload-Defer-Length, not both",
            ))
        }
        (None, None) => return Err(bad("invalid_header", "send Upload-Length, or Upload-Defer-Length: 1")),
        (None, Some(d)) if d != "1" => return Err(bad("invalid_header", "Upload-Defer-Length must be 1")),
        _ => {}
    }
    let metadata_raw = text(headers, "Upload-Metadata").unwrap_or("").to_owned();
    let metadata = parse_metadata(&metadata_raw)?;
    // Every header is read before the upload exists, so a bad one leaves
    // nothing behind.
    let with_data =
        number(headers, "Content-Length")?.unwrap_or(0) > 0 || headers.contains_key(header::TRANSFER_ENCODING);
    let checksum = parse_checksum(headers)?;
    let mut upload = hub
        .tus_create(
            &caller,
            NewUpload {
                length,
                metadata_raw,
                metadata,
            },
        )
        .await?;
    if with_data && is_octet_stream(headers) {
        let append = Append {
            offset: 0,
            length: None,
            checksum,
        };
        upload = hub.tus_append_first(&caller, &upload.id, append, body).await?;
    }
    let mut res = HttpResponse::Created();
    res.insert_header((header::LOCATION, format!("/api/v1/uploads/{}", upload.id)));
    upload_headers(&mut res, &upload);
    Ok(res.finish())
}

/// Where an upload stands: `Upload-Offset` is where to resume.
#[utoipa::path(head, path = "/api/v1/uploads/{id}", tag = "uploads", operation_id = "upload_status",
    params(("id" = String, Path, pattern = "^[0-9a-f]{32}$", description = "upload id: the last segment of the creation's Location"), ("Tus-Resumable" = String, Header, pattern = "^1\\.0\\.0$", description = "`1.0.0`, the tus version")),
    responses((status = 200, headers(("Upload-Offset" = u64), ("Upload-Length" = u64), ("Upload-Metadata" = String),
        ("Upload-Expires" = String))), (status = 401), (status = 404), (status = 410, description = "expired"),
        (status = 412, description = "`unsupported_tus_version`", headers(("Tus-Version" = String)))),
    security(("bearer" = [])))]
pub async fn status(
    Auth(caller): Auth,
    hub: web::Data<Hub>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    check_version(req.headers())?;
    let upload = hub.tus_status(&caller, &path).await?;
    let mut res = HttpResponse::Ok();
    upload_headers(&mut res, &upload);
    res.insert_header((header::CACHE_CONTROL, "no-store"));
    if !upload.metadata.is_empty() {
        res.insert_header(("Upload-Metadata", upload.metadata.clone()));
    }
    Ok(res.finish())
}

/// Append bytes at `Upload-Offset`. A chunk that does not match its
/// `Upload-Checksum` is discarded (460). One writer at a time (423).
#[utoipa::path(patch, path = "/api/v1/uploads/{id}", tag = "uploads", operation_id = "append_upload",
    params(("id" = String, Path, pattern = "^[0-9a-f]{32}$", description = "upload id: the last segment of the creation's Location"), ("Tus-Resumable" = String, Header, pattern = "^1\\.0\\.0$", description = "`1.0.0`, the tus version"), ("Upload-Offset" = u64, Header),
        ("Upload-Length" = Option<u64>, Header, description = "once, for a deferred length"),
        ("Upload-Checksum" = Option<String>, Header, description = "sha256 <base64> or sha1 <base64> (padded, canonical) of the chunk",
            pattern = "^(sha1 [A-Za-z0-9+/]{26}[AEIMQUYcgkosw048]=|sha256 [A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=)$")),
    request_body(content = Vec<u8>, content_type = "application/offset+octet-stream"),
    responses((status = 204, headers(("Upload-Offset" = u64), ("Upload-Expires" = String))),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "`offset_mismatch`"), (status = 410, body = Problem),
        (status = 412, body = Problem, description = "`unsupported_tus_version`", headers(("Tus-Version" = String))),
        (status = 413, body = Problem), (status = 415, body = Problem),
        (status = 423, body = Problem),
        (status = 429, body = Problem, description = "`too_many_uploads`: the station has as many uploads running as the hub allows",
            headers(("Retry-After" = u32, description = "seconds to wait"))),
        (status = 460, body = Problem, description = "`checksum_mismatch`"),
        (status = 503, body = Problem, description = "`storage_unavailable`: the media store is down or failing; nothing was recorded (HEAD tells the offset to resume from)",
            headers(("Retry-After" = u32, description = "seconds to wait"))),
        (status = 507, body = Problem, description = "`storage_full`: the hub's disk is full; nothing was recorded")),
    security(("bearer" = [])))]
pub async fn append(
    Auth(caller): Auth,
    hub: web::Data<Hub>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let headers = req.headers();
    check_version(headers)?;
    if !is_octet_stream(headers) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            code::UNSUPPORTED_MEDIA_TYPE,
            "a PATCH body is Content-Type: application/offset+octet-stream",
        ));
    }
    let offset = number(headers, "Upload-Offset")?.ok_or_else(|| bad("invalid_header", "send Upload-Offset"))?;
    let append = Append {
        offset,
        length: number(headers, "Upload-Length")?,
        checksum: parse_checksum(headers)?,
    };
    let upload = hub.tus_append(&caller, &path, append, body).await?;
    let mut res = HttpResponse::NoContent();
    upload_headers(&mut res, &upload);
    Ok(res.finish())
}

/// Terminate an upload: what it received is removed.
#[utoipa::path(delete, path = "/api/v1/uploads/{id}", tag = "uploads", operation_id = "terminate_upload",
    params(("id" = String, Path, pattern = "^[0-9a-f]{32}$", description = "upload id: the last segment of the creation's Location"), ("Tus-Resumable" = String, Header, pattern = "^1\\.0\\.0$", description = "`1.0.0`, the tus version")),
    responses((status = 204), (status = 401, body = Problem), (status = 404, body = Problem),
        (status = 412, body = Problem, description = "`unsupported_tus_version`", headers(("Tus-Version" = String))),
        (status = 423, body = Problem),
        (status = 503, body = Problem, description = "`storage_unavailable`: the upload could not be removed yet; it is kept, try again",
            headers(("Retry-After" = u32, description = "seconds to wait")))),
    security(("bearer" = [])))]
pub async fn terminate(
    Auth(caller): Auth,
    hub: web::Data<Hub>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    check_version(req.headers())?;
    hub.tus_terminate(&caller, &path).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The document's pattern for `Upload-Checksum` takes what
    /// [`parse_checksum`] takes: a known algorithm, one space, the digest's
    /// canonical padded base64 of the algorithm's length.
    #[test]
    fn the_checksum_pattern_is_the_parser_s_rule() {
        let doc: serde_json::Value = serde_json::from_str(&crate::api::openapi_json()).unwrap();
        let params = doc["paths"]["/api/v1/uploads/{id}"]["patch"]["parameters"]
            .as_array()
            .unwrap();
        let param = params.iter().find(|p| p["name"] == "Upload-Checksum").unwrap();
        let pattern = regex::Regex::new(param["schema"]["pattern"].as_str().unwrap()).unwrap();
        let parses = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(
                header::HeaderName::from_static("upload-checksum"),
                header::HeaderValue::from_str(v).unwrap(),
            );
            matches!(parse_checksum(&h), Ok(Some(_)))
        };
        let mut values = Vec::new();
        for (alg, n) in [("sha1", 20), ("sha256", 32), ("md5", 16), ("sha1", 32), ("sha256", 20)] {
            for fill in [0u8, 1, 0x7f, 0xff] {
                let digest: Vec<u8> = (0..n).map(|i| fill ^ (i as u8).wrapping_mul(37)).collect();
                let b64 = STANDARD.encode(&digest);
                let flipped = {
                    // The last letter before `=` with a low bit set: not canonical.
                    let mut c: Vec<char> = b64.chars().collect();
                    let at = c.len() - 2;
                    c[at] = if c[at] == 'B' { 'C' } else { 'B' };
                    c.into_iter().collect::<String>()
                };
                values.push(format!("{alg} {b64}"));
                values.push(format!("{alg} {}", b64.trim_end_matches('=')));
                values.push(format!("{alg} {flipped}"));
                values.push(format!("{alg}{b64}"));
            }
        }
        values.extend(["X".to_owned(), "sha1".to_owned(), "sha1 ".to_owned(), String::new()]);
        let mut taken = 0;
        for v in &values {
            assert_eq!(pattern.is_match(v), parses(v), "{v:?}");
            taken += usize::from(parses(v));
        }
        assert_eq!(taken, 8, "every canonical sha1 and sha256 digest of the right length");
    }

    #[test]
    fn reads_upload_metadata() {
        let m = parse_metadata("program NmY5NjE5ZmY=,filename VGjhu51pIHPhu7EubXA0,is_confidential").unwrap();
        assert_eq!(m["program"], "6f9619ff");
        assert_eq!(m["filename"], "Thời sự.mp4");
        assert_eq!(m["is_confidential"], "");
        assert!(parse_metadata("filename !!!").is_err());
    }

    mod prop {
        use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
        use proptest::prelude::*;

        use super::super::*;

        /// Header bytes as a client may send them: any visible ASCII, spaces,
        /// tabs and bytes past ASCII (which are not text).
        fn raw_value() -> impl Strategy<Value = Vec<u8>> {
            prop_oneof![
                "[ -~\t]{0,40}".prop_map(String::into_bytes),
                "[0-9 ]{0,30}".prop_map(String::into_bytes),
                proptest::collection::vec(prop_oneof![32u8..127, 128u8..=255], 0..40),
            ]
        }

        fn headers(name: &'static str, raw: &[u8]) -> HeaderMap {
            let mut h = HeaderMap::new();
            if let Ok(v) = HeaderValue::from_bytes(raw) {
                h.insert(HeaderName::from_static(name), v);
            }
            h
        }

        /// `Upload-Offset`/`Upload-Length` as tus defines them, read
        /// independently: a run of digits (around optional whitespace) that
        /// fits 64 bits.
        fn reference_number(raw: &[u8]) -> Option<Option<u64>> {
            // Header text is ASCII; anything else is no value at all.
            let Some(text) = raw.is_ascii().then(|| std::str::from_utf8(raw).ok()).flatten() else {
                return Some(None);
            };
            let digits = text.trim_matches([' ', '\t']);
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                let n = digits.trim_start_matches('0');
                // At most 20 digits, and then not past u64::MAX.
                let fits = n.len() < 20 || (n.len() == 20 && n <= "18446744073709551615");
                fits.then(|| Some(n.parse().unwrap_or(0)))
            } else {
                None
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(1_000))]

            #[test]
            fn offsets_and_lengths_agree_with_the_reference(raw in raw_value()) {
                let h = headers("upload-offset", &raw);
                let got = number(&h, "Upload-Offset");
                let want = if h.is_empty() { Some(None) } else { reference_number(&raw) };
                prop_assert_eq!(got.ok(), want, "{:?}", String::from_utf8_lossy(&raw));
            }

            #[test]
            fn big_numbers_are_read_or_refused(n in any::<u128>()) {
                let h = headers("upload-length", n.to_string().as_bytes());
                prop_assert_eq!(number(&h, "Upload-Length").ok(), u64::try_from(n).ok().map(Some));
            }

            #[test]
            fn metadata_round_trips(
                pairs in proptest::collection::btree_map("[a-z][a-z0-9_.-]{0,10}", ".{0,20}", 0..6),
            ) {
                let raw: Vec<String> = pairs
                    .iter()
                    .map(|(k, v)| if v.is_empty() { k.clone() } else { format!("{k} {}", STANDARD.encode(v)) })
                    .collect();
                prop_assert_eq!(parse_metadata(&raw.join(",")).unwrap(), pairs);
            }

            #[test]
            fn any_metadata_parses_or_is_refused(raw in ".{0,80}") {
                let _ = parse_metadata(&raw);
            }

            #[test]
            fn checksums_agree_with_the_reference(
                alg in prop_oneof![Just("sha256".to_owned()), Just("sha1".to_owned()), Just("md5".to_owned()), "[a-z0-9]{0,8}"],
                digest in proptest::collection::vec(any::<u8>(), 0..40),
                mangled in proptest::option::of(raw_value()),
            ) {
                let value = match &mangled {
                    Some(raw) => raw.clone(),
                    None => format!("{alg} {}", STANDARD.encode(&digest)).into_bytes(),
                };
                let h = headers("upload-checksum", &value);
                let got = parse_checksum(&h);
                if mangled.is_none() {
                    match (alg.as_str(), digest.len(), got) {
                        ("sha256", 32, Ok(Some(Checksum::Sha256(d)))) => prop_assert_eq!(&d[..], &digest[..]),
                        ("sha1", 20, Ok(Some(Checksum::Sha1(d)))) => prop_assert_eq!(&d[..], &digest[..]),
                        (_, _, Ok(c)) => prop_assert!(false, "{alg} of {} bytes gave {c:?}", digest.len()),
                        (_, _, Err(_)) => {}
                    }
                }
            }

            #[test]
            fn only_tus_1_0_0_is_spoken(raw in raw_value()) {
                let h = headers("tus-resumable", &raw);
                let ok = raw.is_ascii() && std::str::from_utf8(&raw).is_ok_and(|v| v.trim() == "1.0.0");
                prop_assert_eq!(check_version(&h).is_ok(), ok);
            }
        }
    }

    #[test]
    fn writes_http_dates() {
        let t = DateTime::parse_from_rfc3339("1994-11-06T08:49:37Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(http_date(t), "Sun, 06 Nov 1994 08:49:37 GMT");
    }
}
