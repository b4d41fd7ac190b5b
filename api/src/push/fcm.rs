//! A small client of the FCM HTTP v1 API.
//!
//! - **Credentials**: a Google service-account key (JSON: `client_email`, `private_key`,
//!   `token_uri`, `project_id`).
//! - **Access token**: an OAuth2 JWT-bearer grant (RFC 7523): a JWT signed with RS256 by the
//!   key (`iss` = the client e-mail, `scope` = Firebase messaging, `aud` = the token URI,
//!   one hour), posted to the token URI; the access token is cached and fetched again a
//!   minute before it expires, or at once when FCM answers 401.
//! - **Send**: `POST {base}/v1/projects/{project}/messages:send` with the notification, the
//!   data payload, Android priority `high` and APNs priority 10, and a collapse key.
//!
//! Why not the `fcm-rs` crate: see the README ("Push notifications").

use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use persistence::notifications::Payload;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::Mutex;

use crate::config::{ConfigError, PushSettings};

/// The OAuth scope of FCM sends.
const SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
/// An access token is fetched again this long before it expires.
const REFRESH_MARGIN: Duration = Duration::from_secs(60);
/// The lifetime asked for in the JWT assertion (Google's maximum).
const ASSERTION_TTL_SECS: i64 = 3600;

#[derive(Deserialize)]
struct KeyFile {
    client_email: String,
    private_key: String,
    #[serde(default)]
    private_key_id: Option<String>,
    #[serde(default)]
    token_uri: Option<String>,
    #[serde(default)]
    project_id: Option<String>,
}

/// A service account, ready to sign assertions.
#[derive(Clone)]
pub struct Credentials {
    pub client_email: String,
    pub project_id: String,
    pub token_uri: String,
    key_id: Option<String>,
    key: EncodingKey,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("client_email", &self.client_email)
            .field("project_id", &self.project_id)
            .field("token_uri", &self.token_uri)
            .finish_non_exhaustive()
    }
}

impl Credentials {
    /// The configured service account, `None` when no key is configured.
    ///
    /// # Errors
    /// A message naming the setting when the key cannot be read or used.
    pub fn from_settings(push: &PushSettings) -> Result<Option<Self>, ConfigError> {
        let (json, key) = match (
            &push.service_account_key_file,
            &push.service_account_key_json,
        ) {
            (Some(_), Some(_)) => {
                return Err(ConfigError(
                    "set push.service_account_key_file or push.service_account_key_json, not both"
                        .into(),
                ));
            }
            (None, None) => return Ok(None),
            (Some(path), None) => (
                std::fs::read_to_string(path).map_err(|e| {
                    ConfigError(format!(
                        "push.service_account_key_file `{path}` cannot be read: {e}"
                    ))
                })?,
                "push.service_account_key_file",
            ),
            (None, Some(inline)) => (
                inline.expose_secret().to_owned(),
                "push.service_account_key_json",
            ),
        };
        let file: KeyFile = serde_json::from_str(&json).map_err(|e| {
            ConfigError(format!(
                "{key} is not a service-account key (JSON with client_email and private_key): {e}"
            ))
        })?;
        let signing = EncodingKey::from_rsa_pem(file.private_key.as_bytes()).map_err(|e| {
            ConfigError(format!("{key}: private_key is not an RSA key in PEM: {e}"))
        })?;
        let project_id = push.project_id.clone().or(file.project_id).ok_or_else(|| {
            ConfigError(format!("push.project_id is required ({key} names none)"))
        })?;
        let token_uri =
            push.token_uri.clone().or(file.token_uri).ok_or_else(|| {
                ConfigError(format!("push.token_uri is required ({key} names none)"))
            })?;
        Ok(Some(Self {
            client_email: file.client_email,
            project_id,
            token_uri,
            key_id: file.private_key_id,
            key: signing,
        }))
    }
}

#[derive(Serialize)]
struct Assertion<'a> {
    iss: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    expires_in: u64,
}

#[derive(Debug, Clone)]
struct CachedToken {
    value: String,
    renew_at: Instant,
}

/// What FCM made of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Accepted: the message name (`projects/p/messages/123`).
    Sent(String),
    /// A transient fault (429, 5xx, a network error): try again, not before `after` if given.
    Retry {
        after: Option<Duration>,
        reason: String,
    },
    /// The token is no longer valid (`UNREGISTERED`, an invalid registration token, a sender
    /// mismatch): deactivate it.
    TokenGone(String),
    /// Refused for good (another 4xx).
    Failed(String),
}

/// The FCM client: cheap to clone, the access token is shared.
#[derive(Debug, Clone)]
pub struct FcmClient {
    http: reqwest::Client,
    credentials: Arc<Credentials>,
    send_url: String,
    token: Arc<Mutex<Option<CachedToken>>>,
}

impl FcmClient {
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn new(
        credentials: Credentials,
        fcm_base_url: &str,
        timeout: Duration,
    ) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .map_err(|e| format!("building the HTTP client: {e}"))?;
        let send_url = format!(
            "{}/v1/projects/{}/messages:send",
            fcm_base_url.trim_end_matches('/'),
            credentials.project_id
        );
        Ok(Self {
            http,
            credentials: Arc::new(credentials),
            send_url,
            token: Arc::new(Mutex::new(None)),
        })
    }

    /// A valid access token: the cached one, or a new one from the token URI.
    async fn access_token(&self) -> Result<String, String> {
        let mut cached = self.token.lock().await;
        if let Some(token) = cached.as_ref()
            && Instant::now() < token.renew_at
        {
            return Ok(token.value.clone());
        }
        let creds = &self.credentials;
        let iat = chrono::Utc::now().timestamp();
        let mut header = Header::new(Algorithm::RS256);
        header.kid.clone_from(&creds.key_id);
        let assertion = jsonwebtoken::encode(
            &header,
            &Assertion {
                iss: &creds.client_email,
                scope: SCOPE,
                aud: &creds.token_uri,
                iat,
                exp: iat + ASSERTION_TTL_SECS,
            },
            &creds.key,
        )
        .map_err(|e| format!("signing the token assertion: {e}"))?;
        let response = self
            .http
            .post(&creds.token_uri)
            .form(&[
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                ("assertion", assertion.as_str()),
            ])
            .send()
            .await
            .map_err(|e| format!("token endpoint unreachable: {e}"))?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            return Err(format!(
                "token endpoint answered {status}: {}",
                truncate(&body)
            ));
        }
        let answer: TokenAnswer = response
            .json()
            .await
            .map_err(|e| format!("token endpoint answer unreadable: {e}"))?;
        let lifetime = Duration::from_secs(answer.expires_in);
        let renew_at = Instant::now() + lifetime.saturating_sub(REFRESH_MARGIN).max(lifetime / 2);
        *cached = Some(CachedToken {
            value: answer.access_token.clone(),
            renew_at,
        });
        Ok(answer.access_token)
    }

    /// The message FCM gets for an outbox row.
    #[must_use]
    pub fn message(token: &str, payload: &Payload, notification_id: i64) -> serde_json::Value {
        let mut data = payload.data.clone();
        data.insert("notification_id".to_owned(), notification_id.to_string());
        json!({
            "message": {
                "token": token,
                "notification": {"title": payload.title, "body": payload.body},
                "data": data,
                "android": {
                    "priority": "high",
                    "collapse_key": payload.collapse_key,
                },
                "apns": {
                    "headers": {
                        "apns-priority": "10",
                        "apns-collapse-id": payload.collapse_key,
                    },
                    "payload": {"aps": {"sound": "default"}},
                },
            }
        })
    }

    /// Sends one message.
    pub async fn send(&self, token: &str, payload: &Payload, notification_id: i64) -> Delivery {
        let bearer = match self.access_token().await {
            Ok(bearer) => bearer,
            Err(reason) => {
                return Delivery::Retry {
                    after: None,
                    reason,
                };
            }
        };
        let response = self
            .http
            .post(&self.send_url)
            .bearer_auth(&bearer)
            .json(&Self::message(token, payload, notification_id))
            .send()
            .await;
        let response = match response {
            Ok(response) => response,
            Err(e) => {
                return Delivery::Retry {
                    after: None,
                    reason: format!("FCM unreachable: {e}"),
                };
            }
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = response.text().await.unwrap_or_default();
        if (200..300).contains(&status) {
            return serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["name"].as_str().map(str::to_owned))
                .map_or_else(
                    || Delivery::Failed(format!("FCM answered {status} without a message name")),
                    Delivery::Sent,
                );
        }
        if status == 401 {
            // The access token was refused (revoked, or the clocks disagree): get a new one.
            *self.token.lock().await = None;
        }
        classify(status, retry_after, &body)
    }
}

/// Maps an FCM error answer (HTTP v1: `{"error": {"status", "message", "details": [{"errorCode"}]}}`)
/// to what to do, as FCM's error guide says.
fn classify(status: u16, retry_after: Option<Duration>, body: &str) -> Delivery {
    let error: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    let message = error["error"]["message"].as_str().unwrap_or("");
    let code = error["error"]["details"]
        .as_array()
        .into_iter()
        .flatten()
        .find_map(|d| d["errorCode"].as_str())
        .or_else(|| error["error"]["status"].as_str())
        .unwrap_or("");
    let reason = format!("FCM {status} {code}: {}", truncate(message));
    let token_invalid =
        code == "INVALID_ARGUMENT" && message.to_ascii_lowercase().contains("registration token");
    match (status, code) {
        (_, "UNREGISTERED" | "SENDER_ID_MISMATCH") => Delivery::TokenGone(reason),
        (400, _) if token_invalid => Delivery::TokenGone(reason),
        (401 | 429 | 500..=599, _) => Delivery::Retry {
            after: retry_after,
            reason,
        },
        _ => Delivery::Failed(reason),
    }
}

fn truncate(text: &str) -> String {
    text.chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fcm_errors_map_to_what_to_do() {
        let unregistered = r#"{"error":{"code":404,"message":"Requested entity was not found.","status":"NOT_FOUND","details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"UNREGISTERED"}]}}"#;
        assert!(matches!(
            classify(404, None, unregistered),
            Delivery::TokenGone(_)
        ));
        let bad_token = r#"{"error":{"code":400,"message":"The registration token is not a valid FCM registration token","status":"INVALID_ARGUMENT","details":[{"errorCode":"INVALID_ARGUMENT"}]}}"#;
        assert!(matches!(
            classify(400, None, bad_token),
            Delivery::TokenGone(_)
        ));
        let bad_message = r#"{"error":{"code":400,"message":"Invalid value at 'message.data'","status":"INVALID_ARGUMENT"}}"#;
        assert!(matches!(
            classify(400, None, bad_message),
            Delivery::Failed(_)
        ));
        assert_eq!(
            classify(429, Some(Duration::from_secs(7)), "{}"),
            Delivery::Retry {
                after: Some(Duration::from_secs(7)),
                reason: "FCM 429 : ".into()
            }
        );
        assert!(matches!(
            classify(503, None, "busy"),
            Delivery::Retry { after: None, .. }
        ));
        assert!(matches!(classify(403, None, "{}"), Delivery::Failed(_)));
    }
}
