//! Health, errors and limits through HTTP.

use std::time::Duration;

use actix_web::test::TestRequest;
use persistence::PoolOptions;

use crate::support::{Backend, TestApp, on_both_backends};

on_both_backends!(
    health_endpoints_answer,
    unknown_paths_get_a_problem_404,
    wrong_methods_get_a_problem_405_with_allow,
    an_exhausted_pool_answers_503_and_recovers,
    docs_are_served_from_the_binary,
);

async fn health_endpoints_answer(backend: Backend) {
    let app = TestApp::new(backend);
    let live = app.get("/health/live").await;
    assert_eq!(live.status, 200);
    assert_eq!(live.json(), serde_json::json!({"status": "ok"}));
    let ready = app.get("/health/ready").await;
    assert_eq!(ready.status, 200);
    assert_eq!(ready.json(), serde_json::json!({"status": "ready"}));
    let index = app.get("/api/v1").await;
    assert_eq!(index.status, 200);
    assert_eq!(index.json()["api_version"], "v1");
}

async fn unknown_paths_get_a_problem_404(backend: Backend) {
    let app = TestApp::new(backend);
    for path in [
        "/nothing",
        "/api/v1/nothing",
        "/api/v2",
        "/health/live/extra",
    ] {
        let body = app.get(path).await.assert_problem(404, "not_found");
        assert!(body.get("errors").is_none(), "{path}: {body}");
    }
}

async fn wrong_methods_get_a_problem_405_with_allow(backend: Backend) {
    let app = TestApp::new(backend);
    let reply = app.call(TestRequest::post().uri("/health/ready")).await;
    reply.assert_problem(405, "method_not_allowed");
    assert_eq!(reply.header("allow"), Some("GET"));
    let reply = app.call(TestRequest::delete().uri("/api/v1")).await;
    reply.assert_problem(405, "method_not_allowed");
}

async fn an_exhausted_pool_answers_503_and_recovers(backend: Backend) {
    let app = TestApp::with_pool_options(
        backend,
        PoolOptions {
            max_size: 1,
            acquire_timeout: Duration::from_millis(200),
            ..PoolOptions::default()
        },
    );
    let held = app.pool().get().unwrap_or_else(|e| panic!("{e}"));
    let reply = app.get("/health/ready").await;
    let body = reply.assert_problem(503, "service_unavailable");
    assert_eq!(reply.header("retry-after"), Some("1"));
    assert!(
        !body.to_string().to_lowercase().contains("pool"),
        "no internals: {body}"
    );
    drop(held);
    assert_eq!(app.get("/health/ready").await.status, 200);
}

async fn docs_are_served_from_the_binary(backend: Backend) {
    let app = TestApp::new(backend);
    let redirect = app.get("/docs").await;
    assert!(redirect.status.is_redirection());
    assert_eq!(redirect.header("location"), Some("/docs/"));
    let page = app.get("/docs/").await;
    assert_eq!(page.status, 200);
    let html = String::from_utf8_lossy(&page.body);
    assert!(html.contains("swagger-ui"), "{html}");
    assert!(
        !html.contains("https://"),
        "the page must not load anything from the internet"
    );
    let bundle = app.get("/docs/swagger-ui-bundle.js").await;
    assert_eq!(bundle.status, 200);
    assert!(
        bundle.body.len() > 100_000,
        "the bundle is embedded in the binary"
    );
    let init = app.get("/docs/swagger-initializer.js").await;
    assert!(String::from_utf8_lossy(&init.body).contains("/openapi.json"));
}
