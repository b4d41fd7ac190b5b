//! A fake Firebase Cloud Messaging server on the loopback interface: the OAuth2 token endpoint
//! (checks the RS256 assertion with the test key's public key) and the HTTP v1
//! `messages:send` (checks the bearer token, records each accepted message). It can be told
//! to fail (a status, with `Retry-After`), to delay, or to answer `UNREGISTERED` for a token.
//!
//! The service account is `tests/fixtures/fcm-test-service-account.json`: a key made for these
//! tests only.

use std::collections::{HashSet, VecDeque};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};

pub const PROJECT: &str = "gradebook-test";
pub const CLIENT_EMAIL: &str = "push-tests@gradebook-test.iam.gserviceaccount.com";

/// The test-only service-account key file.
pub fn key_file() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/fcm-test-service-account.json")
}

fn public_key() -> DecodingKey {
    let pem = std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures/fcm-test-service-account.pub.pem"),
    )
    .unwrap_or_else(|e| panic!("test public key: {e}"));
    DecodingKey::from_rsa_pem(&pem).unwrap_or_else(|e| panic!("test public key: {e}"))
}

/// A scripted answer to a send.
#[derive(Debug, Clone, Copy)]
pub struct Failure {
    pub status: u16,
    pub retry_after_secs: Option<u64>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Accepted messages (the `message` object), in order.
    messages: Vec<Value>,
    /// Every send request that reached the endpoint (accepted or not).
    send_requests: usize,
    /// Access tokens handed out.
    issued: Vec<String>,
    /// Assertions refused at the token endpoint.
    refused_assertions: usize,
    /// The next sends fail like this, one each.
    script: VecDeque<Failure>,
    /// Tokens answered with `UNREGISTERED`.
    unregistered: HashSet<String>,
    delay: Duration,
}

struct Shared {
    inner: Mutex<Inner>,
    key: DecodingKey,
    token_uri: String,
}

/// The running fake.
pub struct FakeFcm {
    pub base_url: String,
    shared: Arc<Shared>,
    handle: actix_web::dev::ServerHandle,
}

impl FakeFcm {
    /// Starts the fake on a free loopback port (inside an actix system, as the tests run).
    pub fn start() -> Self {
        let listener =
            TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("fake FCM bind: {e}"));
        let port = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("{e}"))
            .port();
        let base_url = format!("http://127.0.0.1:{port}");
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner::default()),
            key: public_key(),
            token_uri: format!("{base_url}/token"),
        });
        let data = web::Data::from(shared.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route("/token", web::post().to(token))
                .route("/v1/projects/{project}/messages:send", web::post().to(send))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .unwrap_or_else(|e| panic!("fake FCM listen: {e}"))
        .run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        Self {
            base_url,
            shared,
            handle,
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        let mut inner = self
            .shared
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut inner)
    }

    /// The configuration that points the server's push settings here.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            (
                "APP__PUSH__SERVICE_ACCOUNT_KEY_FILE",
                key_file().display().to_string(),
            ),
            ("APP__PUSH__TOKEN_URI", self.shared.token_uri.clone()),
            ("APP__PUSH__FCM_BASE_URL", self.base_url.clone()),
            ("APP__PUSH__POLL_INTERVAL_MS", "200".to_owned()),
            ("APP__PUSH__BACKOFF_INITIAL_MS", "20".to_owned()),
            ("APP__PUSH__BACKOFF_MAX_MS", "200".to_owned()),
            ("APP__PUSH__REQUEST_TIMEOUT_SECS", "5".to_owned()),
            ("APP__PUSH__LEASE_SECS", "30".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// The accepted messages so far.
    pub fn messages(&self) -> Vec<Value> {
        self.with(|i| i.messages.clone())
    }

    pub fn send_requests(&self) -> usize {
        self.with(|i| i.send_requests)
    }

    pub fn tokens_issued(&self) -> usize {
        self.with(|i| i.issued.len())
    }

    pub fn refused_assertions(&self) -> usize {
        self.with(|i| i.refused_assertions)
    }

    /// The next `n` sends fail like this.
    pub fn fail_next(&self, n: usize, failure: Failure) {
        self.with(|i| i.script.extend(std::iter::repeat_n(failure, n)));
    }

    /// Sends still scripted to fail.
    pub fn failures_left(&self) -> usize {
        self.with(|i| i.script.len())
    }

    pub fn unregister(&self, token: &str) {
        self.with(|i| i.unregistered.insert(token.to_owned()));
    }

    pub fn delay(&self, delay: Duration) {
        self.with(|i| i.delay = delay);
    }

    /// Waits (at most 10 s, checking every 20 ms) until `done` holds for the accepted
    /// messages; panics naming `what` otherwise.
    pub async fn wait_for(&self, what: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        for _ in 0..500 {
            let messages = self.messages();
            if done(&messages) {
                return messages;
            }
            actix_web::rt::time::sleep(Duration::from_millis(20)).await;
        }
        panic!(
            "timed out waiting for {what}; the fake FCM got {:#?}",
            self.messages()
        );
    }
}

impl Drop for FakeFcm {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

#[derive(serde::Deserialize)]
struct TokenForm {
    grant_type: String,
    assertion: String,
}

#[derive(serde::Deserialize)]
struct AssertionClaims {
    scope: String,
}

async fn token(shared: web::Data<Shared>, form: web::Form<TokenForm>) -> HttpResponse {
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[shared.token_uri.as_str()]);
    validation.set_issuer(&[CLIENT_EMAIL]);
    validation.set_required_spec_claims(&["exp", "iat", "aud", "iss"]);
    let checked =
        jsonwebtoken::decode::<AssertionClaims>(&form.assertion, &shared.key, &validation);
    let mut inner = shared
        .inner
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let valid = form.grant_type == "urn:ietf:params:oauth:grant-type:jwt-bearer"
        && checked
            .is_ok_and(|t| t.claims.scope == "https://www.googleapis.com/auth/firebase.messaging");
    if !valid {
        inner.refused_assertions += 1;
        return HttpResponse::BadRequest()
            .json(json!({"error": "invalid_grant", "error_description": "bad assertion"}));
    }
    let access = format!("fake-access-{}", inner.issued.len() + 1);
    inner.issued.push(access.clone());
    HttpResponse::Ok()
        .json(json!({"access_token": access, "expires_in": 3599, "token_type": "Bearer"}))
}

fn fcm_error(status: u16, code: &str, message: &str) -> HttpResponse {
    HttpResponse::build(
        actix_web::http::StatusCode::from_u16(status)
            .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR),
    )
    .json(json!({"error": {
        "code": status,
        "message": message,
        "status": code,
        "details": [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": code}]
    }}))
}

async fn send(
    shared: web::Data<Shared>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Json<Value>,
) -> HttpResponse {
    let delay = {
        let mut inner = shared
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        inner.send_requests += 1;
        inner.delay
    };
    if !delay.is_zero() {
        actix_web::rt::time::sleep(delay).await;
    }
    let mut inner = shared
        .inner
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let bearer = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !inner.issued.iter().any(|t| t == bearer) {
        return fcm_error(
            401,
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials.",
        );
    }
    if path.into_inner() != PROJECT {
        return fcm_error(403, "PERMISSION_DENIED", "wrong project");
    }
    if let Some(failure) = inner.script.pop_front() {
        let mut response = fcm_error(
            failure.status,
            "UNAVAILABLE",
            "The service is currently unavailable.",
        );
        if let Some(secs) = failure.retry_after_secs
            && let Ok(value) = actix_web::http::header::HeaderValue::from_str(&secs.to_string())
        {
            response
                .headers_mut()
                .insert(actix_web::http::header::RETRY_AFTER, value);
        }
        return response;
    }
    let message = body.into_inner()["message"].clone();
    let token = message["token"].as_str().unwrap_or("").to_owned();
    if inner.unregistered.contains(&token) {
        return fcm_error(404, "UNREGISTERED", "Requested entity was not found.");
    }
    inner.messages.push(message);
    let name = format!("projects/{PROJECT}/messages/{}", inner.messages.len());
    HttpResponse::Ok().json(json!({ "name": name }))
}
