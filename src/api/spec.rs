//! What the OpenAPI document says of every operation alike, written once:
//! the bearer scheme, errors as problem+json with the statuses that every
//! JSON body and every bearer token can bring, and the links from what a
//! creation returns to the operations on what it created.

use utoipa::openapi::extensions::Extensions;
use utoipa::openapi::link::LinkBuilder;
use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::{Schema, SchemaType, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, OpenApi, Ref, RefOr, Response};
use utoipa::Modify;

pub const PROBLEM: &str = "application/problem+json";

/// Every operation of the document, with its method.
pub fn operations(doc: &mut OpenApi) -> impl Iterator<Item = (&'static str, &mut Operation)> {
    doc.paths.paths.values_mut().flat_map(|item| {
        [
            ("get", item.get.as_mut()),
            ("put", item.put.as_mut()),
            ("post", item.post.as_mut()),
            ("delete", item.delete.as_mut()),
            ("options", item.options.as_mut()),
            ("head", item.head.as_mut()),
            ("patch", item.patch.as_mut()),
            ("trace", item.trace.as_mut()),
        ]
        .into_iter()
        .filter_map(|(method, op)| op.map(|op| (method, op)))
    })
}

pub struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Errors are `application/problem+json` (utoipa writes `application/json`
/// for any body), and each operation lists the errors that its kind of
/// input brings: a JSON body 400, 413, 415 and 422; a required bearer token 401.
pub struct ProblemResponses;

fn problem(description: &str) -> Response {
    let mut r = Response::new(description);
    r.content
        .insert(PROBLEM.to_owned(), Content::new(Some(Ref::from_schema_name("Problem"))));
    r
}

fn is_json(media_type: &str) -> bool {
    media_type == "application/json" || (media_type.starts_with("application/") && media_type.ends_with("+json"))
}

impl Modify for ProblemResponses {
    fn modify(&self, openapi: &mut OpenApi) {
        for (_, op) in operations(openapi) {
            for (status, response) in op.responses.responses.iter_mut() {
                let RefOr::T(response) = response else { continue };
                let Ok(code) = status.parse::<u16>() else { continue };
                if code >= 400 {
                    if let Some(content) = response.content.shift_remove("application/json") {
                        response.content.insert(PROBLEM.to_owned(), content);
                    }
                }
                if response.description.is_empty() {
                    response.description = actix_web::http::StatusCode::from_u16(code)
                        .ok()
                        .and_then(|s| s.canonical_reason())
                        .unwrap_or("")
                        .to_owned();
                }
            }
            let json_body = op
                .request_body
                .as_ref()
                .is_some_and(|b| b.content.keys().any(|m| is_json(m)));
            let bearer_required = op.security.as_ref().is_some_and(|s| {
                serde_json::to_value(s).is_ok_and(|v| {
                    v.as_array()
                        .is_some_and(|reqs| !reqs.is_empty() && reqs.iter().all(|r| r.get("bearer").is_some()))
                })
            });
            let mut needed = Vec::new();
            if json_body {
                needed.extend([
                    ("400", "`malformed_json`: the body is not JSON"),
                    ("413", "`payload_too_large`: the body is larger than the hub accepts"),
                    ("415", "`unsupported_media_type`: the body is not JSON"),
                    (
                        "422",
                        "`validation_failed`: fields of the wrong type or value, each named",
                    ),
                ]);
            }
            if bearer_required {
                needed.push(("401", "`unauthorized`: no valid bearer token"));
            }
            for (status, description) in needed {
                op.responses
                    .responses
                    .entry(status.to_owned())
                    .or_insert_with(|| problem(description).into());
            }
        }
    }
}

/// A parameter is there or not: none is ever `null` (which a client would
/// send as the text `null`). An optional one (an `Option` in the handler's
/// declaration, which utoipa writes as "or null") is just not required.
pub struct ParametersAreNeverNull;

impl Modify for ParametersAreNeverNull {
    fn modify(&self, openapi: &mut OpenApi) {
        for (_, op) in operations(openapi) {
            for p in op.parameters.iter_mut().flatten() {
                let Some(RefOr::T(Schema::Object(o))) = p.schema.as_mut() else {
                    continue;
                };
                if let SchemaType::Array(types) = &mut o.schema_type {
                    types.retain(|t| *t != Type::Null);
                    if let [only] = types.as_slice() {
                        o.schema_type = SchemaType::Type(only.clone());
                    }
                }
            }
        }
    }
}

/// Links from a creation's answer to the operations on what it made.
pub struct Links;

/// `(operation, status, link name, target operation, parameters)`; each
/// parameter is `(name, runtime expression)`.
type LinkRow = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

const PROGRAM_ID: &[(&str, &str)] = &[("id", "$response.body#/id")];

const LINKS: &[LinkRow] = &[
    ("create_program", "201", "GetProgram", "get_program", PROGRAM_ID),
    ("create_program", "201", "PatchProgram", "patch_program", PROGRAM_ID),
    ("create_program", "201", "DeleteProgram", "delete_program", PROGRAM_ID),
    ("create_program", "201", "PublishProgram", "publish_program", PROGRAM_ID),
    (
        "create_program",
        "201",
        "WithdrawProgram",
        "withdraw_program",
        PROGRAM_ID,
    ),
    ("create_program", "201", "PutFile", "put_file", PROGRAM_ID),
    ("create_program", "201", "GetFile", "get_file", PROGRAM_ID),
    ("create_program", "201", "DeleteFile", "delete_file", PROGRAM_ID),
    ("create_program", "201", "Takes", "takes", PROGRAM_ID),
    (
        "create_program",
        "201",
        "ReportRebroadcast",
        "report_rebroadcast",
        PROGRAM_ID,
    ),
    ("create_upload", "201", "UploadStatus", "upload_status", &[]),
    ("create_upload", "201", "AppendUpload", "append_upload", &[]),
    ("create_upload", "201", "TerminateUpload", "terminate_upload", &[]),
    (
        "subscribe_webhook",
        "201",
        "ShowWebhook",
        "show_webhook",
        &[("id", "$response.body#/id")],
    ),
    (
        "subscribe_webhook",
        "201",
        "UnsubscribeWebhook",
        "unsubscribe_webhook",
        &[("id", "$response.body#/id")],
    ),
    (
        "create_follow",
        "201",
        "DeleteFollow",
        "delete_follow",
        &[("id", "$response.body#/id")],
    ),
    (
        "create_follow",
        "201",
        "FollowedPrograms",
        "followed_programs",
        &[("id", "$response.body#/id")],
    ),
    (
        "issue_token",
        "201",
        "RevokeToken",
        "revoke_token",
        &[("id", "$request.path.id"), ("token_id", "$response.body#/id")],
    ),
];

impl Modify for Links {
    fn modify(&self, openapi: &mut OpenApi) {
        for (_, op) in operations(openapi) {
            let Some(id) = op.operation_id.clone() else { continue };
            for (_, status, name, target, parameters) in LINKS.iter().filter(|row| row.0 == id) {
                let Some(RefOr::T(response)) = op.responses.responses.get_mut(*status) else {
                    panic!("{id} has no {status} response to link from");
                };
                // utoipa 5.5's Link writes `operation_id`, not `operationId`
                // (its fields lack a camelCase rename): the right name goes in
                // as a flattened extension instead.
                let mut link = LinkBuilder::new().extensions(Some(Extensions::from_iter([("operationId", *target)])));
                for (param, expression) in *parameters {
                    link = link.parameter(*param, *expression);
                }
                if parameters.is_empty() {
                    link = link.description(
                        "The upload's URL is this answer's `Location` (`/api/v1/uploads/{id}`): \
                         tus clients follow it as is; `id` is its last segment.",
                    );
                }
                response.links.insert((*name).to_owned(), link.build().into());
            }
        }
    }
}
