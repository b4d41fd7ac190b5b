//! Access tokens (JWT, EdDSA) and opaque refresh tokens.
//!
//! Validation is spelled out: the algorithm is pinned to EdDSA (so `alg: none` and HS256 signed
//! with a public key are refused), the `kid` must name a known key, and `iss`, `aud`, `exp`,
//! `nbf`, `iat`, `sub` and `sid` are required, with a small leeway for clock skew.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::KeySet;
use crate::ApiError;
use crate::config::AuthSettings;

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    /// The subject: a user id for a person, `integrator:<id>` for an integrator client.
    pub sub: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    /// A unique token id.
    pub jti: String,
    /// A person's session (refresh-token family); revoking it revokes the token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<i64>,
    /// An integrator's granted scopes, space-separated (OAuth `scope`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// Who a verified token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// A person in a session.
    Person { user: i64, session: i64 },
    /// An integrator client with the scopes granted to this token.
    Integrator { client: i64, scope: String },
}

/// The `sub` prefix of an integrator's token.
const INTEGRATOR_SUBJECT: &str = "integrator:";

impl Claims {
    /// Who the token speaks for, if its claims are consistent.
    #[must_use]
    pub fn subject(&self) -> Option<Subject> {
        match (&self.sid, &self.scope) {
            (Some(session), None) => Some(Subject::Person {
                user: self.sub.parse().ok()?,
                session: *session,
            }),
            (None, Some(scope)) => Some(Subject::Integrator {
                client: self.sub.strip_prefix(INTEGRATOR_SUBJECT)?.parse().ok()?,
                scope: scope.clone(),
            }),
            _ => None,
        }
    }
}

/// Issues and verifies tokens.
#[derive(Debug)]
pub struct TokenIssuer {
    keys: KeySet,
    issuer: String,
    audience: String,
    access_ttl: i64,
    refresh_ttl: i64,
    integrator_ttl: i64,
    leeway: u64,
}

/// A new refresh token: the value for the client, and the hash and expiry to store.
#[derive(Debug)]
pub struct RefreshToken {
    pub value: String,
    pub hash: String,
    pub expires_at: chrono::NaiveDateTime,
}

/// `bytes` random bytes from the OS, base64url without padding.
#[must_use]
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0_u8; bytes];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// The stored form of a high-entropy secret (refresh token, client secret, activation code);
/// also what an answer's `ETag` is cut from ([`crate::extract::conditional_json`]).
#[must_use]
pub fn sha256_hex(value: impl AsRef<[u8]>) -> String {
    Sha256::digest(value.as_ref())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl TokenIssuer {
    #[must_use]
    pub fn new(keys: KeySet, settings: &AuthSettings) -> Self {
        Self {
            keys,
            issuer: settings.issuer.clone(),
            audience: settings.audience.clone(),
            access_ttl: i64::try_from(settings.access_token_ttl_secs).unwrap_or(900),
            refresh_ttl: i64::try_from(settings.refresh_token_ttl_secs).unwrap_or(86_400),
            integrator_ttl: i64::try_from(settings.integrator_token_ttl_secs).unwrap_or(3600),
            leeway: settings.leeway_secs,
        }
    }

    /// Lifetime of an access token, in seconds.
    #[must_use]
    pub fn access_ttl(&self) -> i64 {
        self.access_ttl
    }

    /// Lifetime of a refresh token, in seconds.
    #[must_use]
    pub fn refresh_ttl(&self) -> i64 {
        self.refresh_ttl
    }

    /// Signs an access token for `user` in `session`, valid from `now` (Unix seconds).
    ///
    /// # Errors
    /// Only if signing fails.
    pub fn issue_access(&self, user: i64, session: i64, now: i64) -> Result<String, ApiError> {
        let claims = Claims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: user.to_string(),
            iat: now,
            nbf: now,
            exp: now + self.access_ttl,
            jti: random_token(16),
            sid: Some(session),
            scope: None,
        };
        self.sign(&claims)
    }

    /// Lifetime of an integrator's access token, in seconds.
    #[must_use]
    pub fn integrator_ttl(&self) -> i64 {
        self.integrator_ttl
    }

    /// Signs an integrator's access token with the granted `scope` (space-separated).
    ///
    /// # Errors
    /// Only if signing fails.
    pub fn issue_integrator(&self, client: i64, scope: &str, now: i64) -> Result<String, ApiError> {
        let claims = Claims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: format!("{INTEGRATOR_SUBJECT}{client}"),
            iat: now,
            nbf: now,
            exp: now + self.integrator_ttl,
            jti: random_token(16),
            sid: None,
            scope: Some(scope.to_owned()),
        };
        self.sign(&claims)
    }

    /// Signs arbitrary claims with the active key (tests build bad tokens with it).
    ///
    /// # Errors
    /// Only if signing fails.
    pub fn sign(&self, claims: &Claims) -> Result<String, ApiError> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.keys.active_kid().to_owned());
        jsonwebtoken::encode(&header, claims, self.keys.encoding())
            .map_err(|e| ApiError::Internal(format!("signing a token: {e}")))
    }

    /// A new random refresh token (256 bits), expiring a refresh lifetime after `now`.
    #[must_use]
    pub fn new_refresh_token(&self, now: chrono::DateTime<chrono::Utc>) -> RefreshToken {
        let value = random_token(32);
        let hash = sha256_hex(&value);
        let expires_at = (now + chrono::Duration::seconds(self.refresh_ttl)).naive_utc();
        RefreshToken {
            value,
            hash,
            expires_at,
        }
    }

    /// Verifies an access token.
    ///
    /// # Errors
    /// [`ApiError::Unauthorized`] for any token that is not valid now; the reason is logged at
    /// debug level, never sent.
    pub fn verify(&self, token: &str) -> Result<Claims, ApiError> {
        let refuse = |why: &dyn std::fmt::Display| {
            tracing::debug!(reason = %why, "access token refused");
            ApiError::Unauthorized
        };
        let header = jsonwebtoken::decode_header(token).map_err(|e| refuse(&e))?;
        if header.alg != Algorithm::EdDSA {
            return Err(refuse(&format!("algorithm {:?}", header.alg)));
        }
        let kid = header.kid.ok_or_else(|| refuse(&"no kid"))?;
        let key = self
            .keys
            .decoding(&kid)
            .ok_or_else(|| refuse(&"unknown kid"))?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = self.leeway;
        jsonwebtoken::decode::<Claims>(token, key, &validation)
            .map(|data| data.claims)
            .map_err(|e| refuse(&e))
    }
}
