//! The committed contract: `openapi/openapi.json` is what the server serves, and every
//! operation is documented completely.
//!
//! When this fails because you changed the API on purpose, rewrite the contract with
//! `cargo run -- openapi --output openapi/openapi.json` and commit it.

use std::path::Path;

use crate::support::{Backend, TestApp};

fn committed() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../openapi/openapi.json");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

#[test]
fn the_committed_contract_matches_the_code() {
    let generated = api::openapi::document_json().unwrap_or_else(|e| panic!("{e}"));
    assert!(
        generated == committed(),
        "openapi/openapi.json differs from the generated document: run \
         `cargo run -- openapi --output openapi/openapi.json` and commit the result"
    );
}

#[actix_web::test]
async fn the_server_serves_the_committed_contract() {
    let app = TestApp::new(Backend::Sqlite);
    let served = app.get("/openapi.json").await;
    assert_eq!(served.status, 200);
    let committed: serde_json::Value =
        serde_json::from_str(&committed()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(served.json(), committed);
}

#[test]
fn every_operation_is_documented_completely() {
    let doc: serde_json::Value =
        serde_json::from_str(&committed()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["components"]["schemas"]["Problem"].is_object());
    let paths = doc["paths"]
        .as_object()
        .unwrap_or_else(|| panic!("no paths"));
    let mut operations = 0;
    let mut ids = std::collections::HashSet::new();
    for (path, item) in paths {
        assert!(
            path == "/health/live" || path == "/health/ready" || path.starts_with("/api/v1"),
            "{path} is not versioned"
        );
        for (method, op) in item.as_object().into_iter().flatten() {
            operations += 1;
            let at = format!("{method} {path}");
            let id = op["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{at}: no operationId"));
            assert!(
                ids.insert(id.to_owned()),
                "{at}: operationId {id} is used twice"
            );
            assert!(
                op["summary"].as_str().is_some_and(|s| !s.is_empty()),
                "{at}: no summary"
            );
            assert!(op["security"].is_array(), "{at}: no security declared");
            let responses = op["responses"]
                .as_object()
                .unwrap_or_else(|| panic!("{at}: no responses"));
            let problems: Vec<_> = responses
                .iter()
                .filter(|(status, _)| status.starts_with('4') || status.starts_with('5'))
                .collect();
            assert!(!problems.is_empty(), "{at}: no error response documented");
            // A body that does not arrive in time is answered 408 (`api::body_deadline`).
            if op.get("requestBody").is_some() {
                assert!(responses.contains_key("408"), "{at}: takes a body, no 408");
            }
            for (status, response) in problems {
                assert_eq!(
                    response["content"]["application/problem+json"]["schema"]["$ref"],
                    "#/components/schemas/Problem",
                    "{at} {status}: errors must be problem+json"
                );
            }
        }
    }
    assert!(operations >= 3);
}
