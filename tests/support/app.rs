//! `TestApp`: the application the binary serves, over a test database, called in-process.

use std::sync::Arc;

use actix_web::http::{StatusCode, header::HeaderMap};
use actix_web::test;
use api::config::{Settings, Sources};
use api::{AppState, build_app};
use persistence::{Pool, PoolOptions};

use super::db::{Backend, TestDb};

pub struct TestApp {
    pub db: TestDb,
    pub state: AppState,
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: actix_web::web::Bytes,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts an RFC 9457 problem with this status and code, and returns its body.
    pub fn assert_problem(&self, status: u16, code: &str) -> serde_json::Value {
        assert_eq!(
            self.status.as_u16(),
            status,
            "body: {}",
            String::from_utf8_lossy(&self.body)
        );
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json")
        );
        let body = self.json();
        assert_eq!(body["status"], status);
        assert_eq!(body["code"], code);
        assert_eq!(body["type"], format!("urn:gradebook:problem:{code}"));
        assert!(body["title"].as_str().is_some_and(|t| !t.is_empty()));
        body
    }
}

impl TestApp {
    pub fn new(backend: Backend) -> Self {
        Self::with_pool_options(backend, PoolOptions::default())
    }

    pub fn with_pool_options(backend: Backend, options: PoolOptions) -> Self {
        let db = TestDb::migrated(backend);
        let settings = Settings::load(&Sources {
            env: vec![("DATABASE_URL".to_owned(), db.url.clone())],
            ..Sources::default()
        })
        .unwrap_or_else(|e| panic!("{e}"));
        let pool = db.pool_with(options);
        let state = AppState {
            pool,
            settings: Arc::new(settings),
        };
        Self { db, state }
    }

    pub fn pool(&self) -> &Pool {
        &self.state.pool
    }

    pub async fn call(&self, request: test::TestRequest) -> Reply {
        let app = test::init_service(build_app(self.state.clone())).await;
        let response = test::call_service(&app, request.to_request()).await;
        let status = response.status();
        let headers = response.headers().clone();
        let body = test::read_body(response).await;
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.call(test::TestRequest::get().uri(path)).await
    }
}
