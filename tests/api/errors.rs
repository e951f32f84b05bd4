//! The one error table: every refusal of the use-cases answers with the same
//! status and code through the API, the pages and the command line.

use actix_web::body::to_bytes;
use actix_web::http::header;
use actix_web::ResponseError;
use pxhub::domain::FieldError;
use pxhub::error::ApiError;
use pxhub::exchange::ExchangeError;
use pxhub::media::MediaError;
use pxhub::web::i18n::Lang;
use pxhub::web::WebError;
use serde_json::Value;

/// One of each variant; `which` makes sure none is left out.
pub(crate) fn every_variant() -> Vec<ExchangeError> {
    let io = || std::io::Error::other("disk");
    vec![
        ExchangeError::Unauthorized,
        ExchangeError::Forbidden("no"),
        ExchangeError::NotFound,
        ExchangeError::conflict("station_exists", "a station has this id"),
        ExchangeError::PreconditionFailed,
        ExchangeError::Invalid(vec![FieldError::new("title", "must not be empty")]),
        ExchangeError::bad_request("length_exceeded", "too long"),
        ExchangeError::TooLarge { limit: 10 },
        ExchangeError::UnsupportedMediaType("text/plain".into()),
        ExchangeError::DigestMismatch,
        ExchangeError::RightsWindowClosed,
        ExchangeError::Gone,
        ExchangeError::PreviewNotReady,
        ExchangeError::Expired,
        ExchangeError::Locked,
        ExchangeError::ChecksumMismatch,
        ExchangeError::TooManyRequests {
            code: "too_many_uploads",
            detail: "wait".into(),
            retry_after_secs: 7,
        },
        ExchangeError::Broken("a row without its object"),
        ExchangeError::from(rusqlite::Error::QueryReturnedNoRows),
        ExchangeError::Media(MediaError::NotFound),
        ExchangeError::StorageUnavailable(MediaError::Unavailable("down".into())),
        ExchangeError::StorageFull(MediaError::Full(io())),
        ExchangeError::AnalysisPending { retry_after_secs: 5 },
        ExchangeError::OriginUnavailable,
        ExchangeError::RenditionFailed("the master holds no audio".into()),
    ]
}

/// The variant's place in the enum: a new variant does not compile here
/// until it is given a place, and then fails the test until it is listed.
fn which(e: &ExchangeError) -> usize {
    use ExchangeError as E;
    match e {
        E::Unauthorized => 0,
        E::Forbidden(_) => 1,
        E::NotFound => 2,
        E::Conflict { .. } => 3,
        E::PreconditionFailed => 4,
        E::Invalid(_) => 5,
        E::BadRequest { .. } => 6,
        E::TooLarge { .. } => 7,
        E::UnsupportedMediaType(_) => 8,
        E::DigestMismatch => 9,
        E::RightsWindowClosed => 10,
        E::Gone => 11,
        E::PreviewNotReady => 12,
        E::Expired => 13,
        E::Locked => 14,
        E::ChecksumMismatch => 15,
        E::TooManyRequests { .. } => 16,
        E::Broken(_) => 17,
        E::Catalog(_) => 18,
        E::Media(_) => 19,
        E::StorageUnavailable(_) => 20,
        E::StorageFull(_) => 21,
        E::AnalysisPending { .. } => 22,
        E::OriginUnavailable => 23,
        E::RenditionFailed(_) => 24,
    }
}

#[test]
fn every_variant_is_walked() {
    let seen: Vec<usize> = every_variant().iter().map(which).collect();
    assert_eq!(seen, (0..seen.len()).collect::<Vec<_>>());
    assert_eq!(seen.len(), 25, "every variant is listed once, in order");
}

#[actix_web::test]
async fn every_door_answers_a_refusal_with_the_tables_status_and_code() {
    // Each door takes the refusal by value: each gets its own.
    let fresh = |i: usize| every_variant().swap_remove(i);
    for i in 0..every_variant().len() {
        let api_e = fresh(i);
        let answer = api_e.answer();
        let name = format!("{api_e:?}");

        let api = ApiError::from(api_e).error_response();
        assert_eq!(api.status().as_u16(), answer.status, "API, {name}");
        assert_eq!(
            retry_after(api.headers()),
            answer.retry_after_secs,
            "API Retry-After, {name}"
        );
        let body: Value = serde_json::from_slice(&to_bytes(api.into_body()).await.unwrap()).unwrap();
        assert_eq!(body["status"], answer.status, "{name}");
        assert_eq!(body["code"], answer.code, "{name}");
        assert_eq!(body["type"], format!("urn:pxhub:problem:{}", answer.code), "{name}");
        assert_eq!(body["title"], answer.title, "{name}");
        // The title is the status's reason phrase, as it always was.
        let reason = actix_web::http::StatusCode::from_u16(answer.status)
            .unwrap()
            .canonical_reason()
            .unwrap_or("Error");
        assert_eq!(answer.title, reason, "{name}");

        for lang in [Lang::Vi, Lang::En] {
            let page = WebError::from_exchange(fresh(i), lang);
            assert_eq!(page.status_code().as_u16(), answer.status, "pages, {name}");
            let res = page.error_response();
            assert_eq!(res.status().as_u16(), answer.status, "pages, {name}");
            assert_eq!(
                retry_after(res.headers()),
                answer.retry_after_secs,
                "pages Retry-After, {name}"
            );
        }

        let said = pxhub::cli::explain(fresh(i)).to_string();
        assert!(
            said.contains(&format!("({} {})", answer.status, answer.code)),
            "the command line says the table's status and code for {name}: {said}"
        );
    }
}

/// The `Retry-After` of an answer, in seconds.
fn retry_after(headers: &actix_web::http::header::HeaderMap) -> Option<u64> {
    headers
        .get(header::RETRY_AFTER)
        .map(|v| v.to_str().unwrap().parse().unwrap())
}

#[test]
fn bad_requests_and_a_store_that_is_down_answer_alike_at_every_door() {
    // Where the pages once differed from the API.
    let bad = ExchangeError::bad_request("length_exceeded", "too long");
    assert_eq!(bad.answer().status, 400);
    assert_eq!(WebError::from_exchange(bad, Lang::Vi).status_code().as_u16(), 400);
    let down = ExchangeError::StorageUnavailable(MediaError::Unavailable("down".into()));
    assert_eq!(down.answer().status, 503);
    assert_eq!(WebError::from_exchange(down, Lang::Vi).status_code().as_u16(), 503);
}
