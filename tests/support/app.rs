//! `TestApp`: the application the binary serves, over a test database, called in-process.

use actix_web::http::{StatusCode, header::HeaderMap};
use actix_web::test;
use api::auth::KeySet;
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

    /// Asserts the status (showing the body when it differs), and returns the reply.
    #[must_use]
    pub fn expect(self, status: u16) -> Self {
        assert_eq!(
            self.status.as_u16(),
            status,
            "body: {}",
            String::from_utf8_lossy(&self.body)
        );
        self
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
        Self::over(TestDb::migrated(backend), options)
    }

    /// The app over an existing (migrated) database.
    pub fn over(db: TestDb, options: PoolOptions) -> Self {
        let settings = Settings::load(&Sources {
            env: vec![("DATABASE_URL".to_owned(), db.url.clone())],
            ..Sources::default()
        })
        .unwrap_or_else(|e| panic!("{e}"));
        let pool = db.pool_with(options);
        let state = AppState::new(pool, settings, KeySet::generate("test-key"));
        Self { db, state }
    }

    /// Loads the demo school with its demo accounts (password `demo-password`), as seeded on
    /// the morning of Monday 23 November 2026, so that its timetable and filled-in lessons
    /// are the same whatever day the tests run.
    pub fn with_demo(self) -> Self {
        let mut conn = self.pool().get().unwrap_or_else(|e| panic!("{e}"));
        let hash = |pw: &str| api::password::hash(pw).unwrap_or_else(|e| panic!("{e}"));
        persistence::demo::seed(&mut conn, demo_morning(), &hash).unwrap_or_else(|e| panic!("{e}"));
        drop(conn);
        self
    }

    /// Logs in and returns the token response.
    pub async fn login(&self, login: &str, password: &str) -> Reply {
        self.call(
            test::TestRequest::post()
                .uri("/api/v1/auth/login")
                .set_json(serde_json::json!({"login": login, "password": password})),
        )
        .await
    }

    /// Logs in a demo account and returns its access and refresh tokens.
    pub async fn tokens(&self, login: &str) -> (String, String) {
        let reply = self.login(login, "demo-password").await;
        assert_eq!(
            reply.status,
            200,
            "login {login}: {}",
            String::from_utf8_lossy(&reply.body)
        );
        let body = reply.json();
        let field = |name: &str| {
            body[name]
                .as_str()
                .unwrap_or_else(|| panic!("no {name}"))
                .to_owned()
        };
        (field("access_token"), field("refresh_token"))
    }

    /// A GET with a bearer token.
    pub async fn get_as(&self, token: &str, path: &str) -> Reply {
        self.call(
            test::TestRequest::get()
                .uri(path)
                .insert_header(("Authorization", format!("Bearer {token}"))),
        )
        .await
    }

    /// A request with a bearer token (none for `""`) and an optional JSON body.
    pub async fn send_as(
        &self,
        token: &str,
        method: actix_web::http::Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Reply {
        let mut request = test::TestRequest::default().method(method).uri(path);
        if !token.is_empty() {
            request = request.insert_header(("Authorization", format!("Bearer {token}")));
        }
        if let Some(body) = body {
            request = request.set_json(body);
        }
        self.call(request).await
    }

    /// A POST of JSON with a bearer token.
    pub async fn post_as(&self, token: &str, path: &str, body: &serde_json::Value) -> Reply {
        self.send_as(token, actix_web::http::Method::POST, path, Some(body))
            .await
    }

    /// An integrator's token from the client-credentials grant (credentials in the body).
    pub async fn client_token(&self, client_id: &str, secret: &str, scope: Option<&str>) -> Reply {
        let mut form = vec![
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", secret),
        ];
        if let Some(scope) = scope {
            form.push(("scope", scope));
        }
        self.call(
            test::TestRequest::post()
                .uri("/api/v1/auth/token")
                .set_form(form),
        )
        .await
    }

    /// The configuration with push pointed at the fake FCM server (and `extra` settings).
    pub fn push_settings(
        &self,
        fake: &super::fake_fcm::FakeFcm,
        extra: &[(&str, &str)],
    ) -> Settings {
        let mut env = vec![("DATABASE_URL".to_owned(), self.db.url.clone())];
        env.extend(fake.env());
        env.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        Settings::load(&Sources {
            env,
            ..Sources::default()
        })
        .unwrap_or_else(|e| panic!("{e}"))
    }

    /// A dispatcher of this app (woken by its writes) sending to the fake FCM server.
    pub fn dispatcher(
        &self,
        fake: &super::fake_fcm::FakeFcm,
        extra: &[(&str, &str)],
    ) -> api::push::Dispatcher {
        api::push::Dispatcher::from_settings(
            self.pool().clone(),
            &self.push_settings(fake, extra),
            self.state.outbox.clone(),
        )
        .unwrap_or_else(|e| panic!("{e}"))
        .sharing_writes_with(&self.state)
    }

    pub fn pool(&self) -> &Pool {
        &self.state.pool
    }

    pub async fn call(&self, request: test::TestRequest) -> Reply {
        call_on(self.state.clone(), request).await
    }

    /// This app's state as a second server process over the same database would have it: the
    /// same configuration and keys, but nothing kept in memory.
    pub fn another_process(&self) -> AppState {
        AppState {
            grants: std::sync::Arc::default(),
            rankings: std::sync::Arc::default(),
            grading: std::sync::Arc::default(),
            ..self.state.clone()
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.call(test::TestRequest::get().uri(path)).await
    }
}

/// A request served by the app over `state`.
pub async fn call_on(state: AppState, request: test::TestRequest) -> Reply {
    let app = test::init_service(build_app(state)).await;
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

/// 08:00 UTC on Monday 23 November 2026, inside the demo's second term.
pub fn demo_morning() -> chrono::NaiveDateTime {
    chrono::NaiveDate::from_ymd_opt(2026, 11, 23)
        .and_then(|d| d.and_hms_opt(8, 0, 0))
        .unwrap_or_default()
}
