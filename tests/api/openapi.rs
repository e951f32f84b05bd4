use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::TestApp;

#[test]
fn the_committed_openapi_document_is_what_the_code_generates() {
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json"))
        .expect("openapi/openapi.json is committed");
    assert!(
        committed == pxhub::api::openapi_json(),
        "openapi/openapi.json is stale: run `cargo run -- openapi > openapi/openapi.json`"
    );
}

#[tokio::test]
async fn the_document_and_its_page_are_served_without_a_token() {
    let app = TestApp::spawn().await;
    let r = app
        .client
        .get(format!("{}/openapi.json", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let served: Value = r.json().await.unwrap();
    let generated: Value = serde_json::from_str(&pxhub::api::openapi_json()).unwrap();
    assert_eq!(served, generated);
    assert_eq!(served["openapi"], "3.1.0");
    for path in [
        "/api/v1/programs",
        "/api/v1/programs/{id}",
        "/api/v1/stations",
        "/api/v1/me",
    ] {
        assert!(served["paths"][path].is_object(), "{path}");
    }

    let r = app.client.get(format!("{}/docs", app.address)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "/docs redirects to the page");
    let page = r.text().await.unwrap();
    assert!(page.contains("swagger-ui"), "{page}");
    // Works offline: everything the page loads comes from the hub.
    for tag in ["src=\"http", "href=\"http", "src=\"//", "href=\"//"] {
        assert!(!page.contains(tag), "the page loads {tag}…");
    }
    let r = app
        .client
        .get(format!("{}/docs/swagger-ui-bundle.js", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn health_and_readiness_answer() {
    let app = TestApp::spawn().await;
    for (path, status) in [("/healthz", "ok"), ("/readyz", "ready")] {
        let r = app.client.get(format!("{}{path}", app.address)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.json::<Value>().await.unwrap()["status"], status);
    }
    let r = app
        .client
        .get(format!("{}/no/such/thing", app.address))
        .send()
        .await
        .unwrap();
    crate::helpers::assert_problem(r, StatusCode::NOT_FOUND, "not_found").await;
}

/// Every operation of a served document: (path, method, operation).
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if ["get", "put", "post", "delete", "options", "head", "patch", "trace"].contains(&method.as_str()) {
                out.push((path.clone(), method.clone(), op.clone()));
            }
        }
    }
    out
}

#[test]
fn errors_are_problems_and_json_bodies_list_their_errors() {
    let doc: Value = serde_json::from_str(&pxhub::api::openapi_json()).unwrap();
    for (path, method, op) in operations(&doc) {
        let responses = op["responses"].as_object().unwrap();
        for (status, response) in responses {
            assert!(
                !response["description"].as_str().unwrap().is_empty(),
                "{method} {path} {status}"
            );
            if status.as_str() >= "400" {
                if let Some(content) = response["content"].as_object() {
                    let types: Vec<&String> = content.keys().collect();
                    assert_eq!(types, ["application/problem+json"], "{method} {path} {status}");
                }
            }
        }
        let json_body = op["requestBody"]["content"]
            .as_object()
            .is_some_and(|c| c.keys().any(|m| m == "application/json" || m.ends_with("+json")));
        if json_body {
            for status in ["400", "413", "415", "422"] {
                assert!(responses.contains_key(status), "{method} {path} lacks {status}");
            }
        }
        let bearer_only = op["security"]
            .as_array()
            .is_some_and(|s| !s.is_empty() && s.iter().all(|r| r.get("bearer").is_some()));
        if bearer_only {
            assert!(responses.contains_key("401"), "{method} {path} lacks 401");
        }
    }
    // What the hub answers on particular operations.
    let has = |path: &str, method: &str, status: &str| {
        assert!(
            doc["paths"][path][method]["responses"][status].is_object(),
            "{method} {path} lacks {status}"
        );
    };
    for (method, path) in [
        ("post", "/api/v1/uploads"),
        ("head", "/api/v1/uploads/{id}"),
        ("patch", "/api/v1/uploads/{id}"),
        ("delete", "/api/v1/uploads/{id}"),
    ] {
        has(path, method, "412");
    }
    for (method, path) in [
        ("put", "/api/v1/programs/{id}/files/{role}"),
        ("post", "/api/v1/uploads"),
        ("patch", "/api/v1/uploads/{id}"),
    ] {
        has(path, method, "429");
        let headers = &doc["paths"][path][method]["responses"]["429"]["headers"];
        assert!(headers["Retry-After"].is_object(), "{method} {path}");
    }
    has("/api/v1/uploads", "post", "409");
    has("/api/v1/feed.atom", "get", "422");
}

#[test]
fn program_webhook_and_follow_ids_are_uuids() {
    let doc: Value = serde_json::from_str(&pxhub::api::openapi_json()).unwrap();
    for (path, method, op) in operations(&doc) {
        let id_is_uuid = [
            "/api/v1/programs/{id}",
            "/api/v1/webhooks/{id}",
            "/api/v1/follows/{id}",
            "/api/v1/deliveries/",
        ]
        .iter()
        .any(|p| path.starts_with(p));
        for p in op["parameters"].as_array().into_iter().flatten() {
            if p["in"] == "path" && p["name"] == "id" {
                assert_eq!(p["schema"]["format"] == "uuid", id_is_uuid, "{method} {path}");
            }
        }
    }
}

#[test]
fn links_lead_from_creations_to_operations_that_exist() {
    let doc: Value = serde_json::from_str(&pxhub::api::openapi_json()).unwrap();
    let ops = operations(&doc);
    let ids: Vec<&str> = ops.iter().filter_map(|(_, _, op)| op["operationId"].as_str()).collect();
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "operation ids are unique");
    let links_of = |path: &str, method: &str, status: &str| -> Vec<String> {
        let links = doc["paths"][path][method]["responses"][status]["links"]
            .as_object()
            .unwrap_or_else(|| panic!("{method} {path} {status} has no links"));
        links
            .values()
            .map(|l| {
                let target = l["operationId"].as_str().expect("a link names its operationId");
                assert!(ids.contains(&target), "{target}");
                target.to_owned()
            })
            .collect()
    };
    let from_program = links_of("/api/v1/programs", "post", "201");
    for (path, method) in [
        ("/api/v1/programs/{id}", "get"),
        ("/api/v1/programs/{id}", "patch"),
        ("/api/v1/programs/{id}", "delete"),
        ("/api/v1/programs/{id}/publish", "post"),
        ("/api/v1/programs/{id}/withdraw", "post"),
        ("/api/v1/programs/{id}/files/{role}", "put"),
        ("/api/v1/programs/{id}/files/{role}", "get"),
        ("/api/v1/programs/{id}/files/{role}", "delete"),
        ("/api/v1/programs/{id}/takes", "get"),
        ("/api/v1/programs/{id}/rebroadcasts", "post"),
    ] {
        let id = doc["paths"][path][method]["operationId"].as_str().unwrap();
        assert!(from_program.iter().any(|t| t == id), "{method} {path}");
    }
    assert_eq!(links_of("/api/v1/uploads", "post", "201").len(), 3);
    assert_eq!(links_of("/api/v1/webhooks", "post", "201").len(), 2);
    assert_eq!(
        links_of("/api/v1/stations/{id}/tokens", "post", "201"),
        ["revoke_token"]
    );
}

#[tokio::test]
async fn every_method_a_path_lacks_answers_405_with_the_methods_it_has() {
    let app = TestApp::spawn().await;
    let served: Value = app
        .client
        .get(format!("{}/openapi.json", app.address))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let all = ["GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH", "TRACE"];
    for (path, item) in served["paths"].as_object().unwrap() {
        let mut declared: Vec<String> = item
            .as_object()
            .unwrap()
            .keys()
            .map(|m| m.to_ascii_uppercase())
            .filter(|m| all.contains(&m.as_str()))
            .collect();
        declared.sort();
        let url = format!(
            "{}{}",
            app.address,
            path.replace("{id}", "6f9619ff-8b86-4011-b42d-00c04fc964ff")
                .replace("{role}", "master")
                .replace("{token_id}", "0123456789abcdef")
        );
        for method in all.iter().filter(|m| !declared.iter().any(|d| d == *m)) {
            let r = app
                .client
                .request(reqwest::Method::from_bytes(method.as_bytes()).unwrap(), &url)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            let mut allow: Vec<String> = r.headers()["allow"]
                .to_str()
                .unwrap()
                .split(',')
                .map(|m| m.trim().to_owned())
                .collect();
            allow.sort();
            assert_eq!(allow, declared, "Allow of {method} {path}");
            if *method != "HEAD" {
                crate::helpers::assert_problem(r, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
            }
        }
    }
}

/// The served document passes openapi-spec-validator, which scripts/test.sh
/// installs (pinned) into the Python of `PXHUB_TEST_PYTHON`.
#[tokio::test]
async fn the_served_document_passes_a_maintained_validator() {
    let strict = crate::helpers::strict();
    let Ok(python) = std::env::var("PXHUB_TEST_PYTHON") else {
        assert!(
            !strict,
            "the OpenAPI validator must run here: scripts/test.sh installs it"
        );
        eprintln!("PXHUB_TEST_PYTHON not set: skipping openapi-spec-validator (scripts/test.sh runs it)");
        return;
    };
    let found = std::process::Command::new(&python)
        .args(["-c", "import openapi_spec_validator"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            !strict,
            "{python} has no openapi_spec_validator: scripts/test.sh installs it"
        );
        eprintln!("{python} has no openapi_spec_validator: skipping");
        return;
    }
    let app = TestApp::spawn().await;
    let served = app.text("/openapi.json").await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, served).unwrap();
    let o = std::process::Command::new(&python)
        .args(["-m", "openapi_spec_validator"])
        .arg(&file)
        .output()
        .expect("python runs");
    assert!(
        o.status.success(),
        "openapi-spec-validator refuses the served document:\n{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// What schema-driven testing met (issue 23): values the document let
/// through and the hub refused. The document now refuses them too, and the
/// hub still does.
#[tokio::test]
async fn the_document_refuses_what_the_hub_refuses() {
    let doc: Value = serde_json::from_str(&pxhub::api::openapi_json()).unwrap();
    let schemas = &doc["components"]["schemas"];
    let app = TestApp::spawn().await;
    let tn = app.station("thai-nguyen", "provincial").await;

    // An empty tag.
    assert_eq!(schemas["ProgramInput"]["properties"]["tags"]["items"]["minLength"], 1);
    let mut p = crate::helpers::program("Thời sự");
    p["tags"] = serde_json::json!(["nông nghiệp", ""]);
    let r = app.post(&tn, "/api/v1/programs", &p).await;
    let problem = crate::helpers::assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(crate::helpers::fields(&problem), ["tags[1]"]);

    // A merge patch is ProgramInput's fields, each optional, and no other.
    let body =
        &doc["paths"]["/api/v1/programs/{id}"]["patch"]["requestBody"]["content"]["application/merge-patch+json"];
    assert_eq!(body["schema"]["$ref"], "#/components/schemas/ProgramPatch");
    let patch = &schemas["ProgramPatch"];
    assert_eq!(patch["additionalProperties"], false);
    assert!(patch.get("required").is_none());
    let input = schemas["ProgramInput"]["properties"].as_object().unwrap();
    let fields: Vec<&String> = patch["properties"].as_object().unwrap().keys().collect();
    assert_eq!(fields, input.keys().collect::<Vec<_>>());
    assert_eq!(patch["properties"]["rights"]["anyOf"][1]["additionalProperties"], false);
    // The required fields cannot be removed (null); the optional ones can.
    assert_eq!(patch["properties"]["title"]["type"], "string");
    assert_eq!(patch["properties"]["summary"]["anyOf"][0]["type"], "null");
    let created = app.create_program(&tn, &crate::helpers::program("Thời sự")).await;
    let path = format!("/api/v1/programs/{}", crate::helpers::id(&created));
    for bad in [
        serde_json::json!({"": {}}),
        serde_json::json!({"rights": {"colour": "red"}}),
    ] {
        let r = app.patch(&tn, &path, &bad).await;
        crate::helpers::assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    }

    // A rebroadcast's note: up to 2000 characters, tabs and line breaks
    // the only control characters.
    let note = &schemas["RebroadcastInput"]["properties"]["note"];
    assert_eq!(note["maxLength"], 2000);
    assert!(note["pattern"].as_str().unwrap().contains("\\x0e-\\x1f"));

    // Search filters: a station id, a language tag, a codec name, or empty.
    let params = doc["paths"]["/api/v1/programs"]["get"]["parameters"]
        .as_array()
        .unwrap();
    let param = |name: &str| params.iter().find(|p| p["name"] == name).unwrap()["schema"].clone();
    assert_eq!(param("origin")["pattern"], "^[a-z](-?[a-z0-9])+$");
    assert!(param("station")["items"]["pattern"].as_str().unwrap().ends_with(")?$"));
    assert!(param("language")["items"]["pattern"]
        .as_str()
        .unwrap()
        .starts_with("^([A-Za-z]{2,3}"));
    for query in ["origin=", "station=Th%C3%A1i", "language=vi_VN", "codec=h.264"] {
        let r = app.get(&tn, &format!("/api/v1/programs?{query}")).await;
        crate::helpers::assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    }
    let r = app.get(&tn, "/api/v1/programs?station=&language=&codec=").await;
    assert_eq!(r.status(), StatusCode::OK);
}
