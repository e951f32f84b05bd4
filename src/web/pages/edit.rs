//! Managing what a station offers: editing a program's metadata and rights
//! on the offer form (sent with the version it showed, as the API's
//! `If-Match`: someone else's change in between is said, never
//! overwritten), and deleting a draft. Each goes through the API's
//! use-case; who did what stays in the program's history.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde::Deserialize;

use super::offer::{checked, offer_page, FormMode, OfferForm};
use super::{form, program_id, FieldErrors};
use crate::exchange::programs::IfMatch;
use crate::exchange::rights::owns;
use crate::exchange::ExchangeError;
use crate::web::{page, page_with, see_other, Visit, WebError};

/// The program `id` for its owner's editor, or the refusal.
async fn own_program(v: &Visit, raw: &str) -> Result<crate::domain::Program, WebError> {
    let s = v.signed_in()?;
    let id = program_id(v, raw)?;
    let p = v.hub.program(&s.caller, id).await.map_err(|e| v.fail(e))?;
    if !owns(&s.caller.viewer(), &p) || !s.caller.may_offer() {
        return Err(v.refuse(StatusCode::FORBIDDEN, "error-forbidden"));
    }
    Ok(p)
}

pub async fn edit_form(v: Visit, path: web::Path<String>) -> Result<HttpResponse, WebError> {
    let p = own_program(&v, &path).await?;
    let csrf = v.signed_in()?.csrf.clone();
    let f = OfferForm::from_program(&p, &csrf);
    let m = FormMode::edit(&v, &p.id.to_string(), false);
    page(&offer_page(&v, m, f, FieldErrors::default()).await?)
}

pub async fn edit(v: Visit, path: web::Path<String>, body: web::Bytes) -> Result<HttpResponse, WebError> {
    v.signed_in()?;
    let f: OfferForm = form(&v, &body)?;
    let s = v.check_csrf(f.csrf_field())?;
    let p = own_program(&v, &path).await?;
    let id = p.id;
    let t = v.t();
    let (json, errors) = f.to_json();
    let mut json = match checked(&v, json, errors)? {
        Ok((_, json)) => json,
        Err(errors) => {
            let m = FormMode::edit(&v, &id.to_string(), false);
            let page = offer_page(&v, m, f, FieldErrors::words(&t, errors)).await?;
            return page_with(StatusCode::UNPROCESSABLE_ENTITY, &page);
        }
    };
    OfferForm::keep_other_credits(&mut json, &p);
    let version = IfMatch(Some(vec![f.version.clone()]));
    match v.hub.patch_program(&s.caller, id, json, version).await {
        Ok(_) => Ok(see_other(&format!("/programs/{id}?done=edited"))),
        // Someone changed it since this form was loaded: their change
        // stays; this form shows again with what the person typed.
        Err(ExchangeError::PreconditionFailed) => {
            let m = FormMode::edit(&v, &id.to_string(), true);
            let page = offer_page(&v, m, f, FieldErrors::default()).await?;
            page_with(StatusCode::PRECONDITION_FAILED, &page)
        }
        Err(ExchangeError::Invalid(errors)) => {
            let e = errors.into_iter().map(|e| (e.field, e.message)).collect();
            let m = FormMode::edit(&v, &id.to_string(), false);
            let page = offer_page(&v, m, f, FieldErrors::words(&t, e)).await?;
            page_with(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(e) => Err(v.fail(e)),
    }
}

#[derive(Deserialize)]
pub struct DeleteForm {
    csrf: Option<String>,
    #[serde(default)]
    version: String,
}

/// "Xóa bản nháp": the draft and its files go; to "Đài của tôi", which
/// says so.
pub async fn delete(v: Visit, path: web::Path<String>, body: web::Bytes) -> Result<HttpResponse, WebError> {
    v.signed_in()?;
    let f: DeleteForm = form(&v, &body)?;
    let s = v.check_csrf(f.csrf.as_deref())?;
    let p = own_program(&v, &path).await?;
    match v
        .hub
        .delete_program(&s.caller, p.id, IfMatch(Some(vec![f.version])))
        .await
    {
        Ok(()) => Ok(see_other("/station?done=deleted")),
        Err(e) => Err(v.fail(e)),
    }
}
