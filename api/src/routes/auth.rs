//! Login, token refresh and logout.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, post, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::Utc;
use domain::UserId;
use persistence::auth::{NewRefreshToken, Refresh};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use crate::auth::AuthUser;
use crate::auth::credentials::{activation_code_hash, same_hash};
use crate::auth::throttle;
use crate::auth::tokens::sha256_hex;
use crate::error::{ApiError, OAuthError, Problem};
use crate::extract::ValidJson;
use crate::{AppState, password};

/// A login with a password.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// The account's login.
    #[validate(length(min = 1, max = 200, message = "must be 1 to 200 characters"))]
    #[schema(example = "demo-teacher", min_length = 1, max_length = 200)]
    pub login: String,
    /// The account's password.
    #[validate(length(min = 1, max = 1024, message = "must be 1 to 1024 characters"))]
    #[schema(example = "demo-password", format = Password, min_length = 1, max_length = 1024)]
    pub password: String,
}

/// A refresh token to exchange.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// The refresh token from the last login or refresh; it is used up by this call.
    #[validate(length(min = 1, max = 200, message = "must be 1 to 200 characters"))]
    #[schema(min_length = 1, max_length = 200)]
    pub refresh_token: String,
}

/// A pair of tokens.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    /// A JWT to send as `Authorization: Bearer ...`.
    pub access_token: String,
    /// Always `Bearer`.
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    #[schema(example = 900)]
    pub expires_in: i64,
    /// Exchanged for a new pair at `POST /api/v1/auth/refresh`; each is valid once.
    pub refresh_token: String,
    /// Seconds until the refresh token expires.
    #[schema(example = 2_592_000)]
    pub refresh_expires_in: i64,
}

fn tokens_for(
    state: &AppState,
    user: i64,
    session: i64,
    refresh: String,
    now: i64,
) -> Result<TokenResponse, ApiError> {
    Ok(TokenResponse {
        access_token: state.tokens.issue_access(user, session, now)?,
        token_type: "Bearer",
        expires_in: state.tokens.access_ttl(),
        refresh_token: refresh,
        refresh_expires_in: state.tokens.refresh_ttl(),
    })
}

/// Log in
///
/// Exchanges a login and password for an access token and a refresh token. A wrong password and
/// an unknown login get the same answer; repeated failures for a login or from an address are
/// refused for a while with 429 and `Retry-After`.
#[utoipa::path(
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in", body = TokenResponse),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "The login or the password is wrong", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is missing or invalid", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed attempts", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(())
)]
#[post("/auth/login")]
pub async fn post_login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: ValidJson<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let LoginRequest { login, password } = body.0;
    let address = peer_address(&req);
    let keys = [
        format!("login:{}", login.to_lowercase()),
        format!("addr:{address}"),
    ];
    let checked = throttle::check(&state, &keys).await?;
    let pool = state.pool.clone();
    let user = web::block(move || -> Result<Option<i64>, ApiError> {
        let mut conn = pool.get().map_err(persistence::PersistenceError::from)?;
        let account = persistence::auth::credentials(&mut conn, &login)?;
        let stored = account.as_ref().and_then(|a| a.password_hash.as_deref());
        Ok(password::verify_account(&password, stored)
            .then(|| account.map(|a| a.user))
            .flatten())
    })
    .await??;
    let Some(user) = user else {
        throttle::failed(&state, &keys).await?;
        return Err(ApiError::InvalidCredentials);
    };
    throttle::succeeded(&state, checked, &keys[0]).await?;

    let now = Utc::now();
    let refresh = state.tokens.new_refresh_token(now);
    let (pool, hash, expires_at) = (state.pool.clone(), refresh.hash.clone(), refresh.expires_at);
    let session = web::block(move || {
        let mut conn = pool.get()?;
        let token = NewRefreshToken {
            hash: &hash,
            expires_at,
        };
        persistence::auth::start_session(&mut conn, UserId(user), token, now.naive_utc())
    })
    .await??;
    tracing::info!(user_id = user, session_id = session, "login");
    Ok(no_store(tokens_for(
        &state,
        user,
        session,
        refresh.value,
        now.timestamp(),
    )?))
}

/// The client's address, for throttling (the proxy's, behind a reverse proxy).
fn peer_address(req: &HttpRequest) -> String {
    req.peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_default()
}

/// A token response: never cached (RFC 6749, section 5.1).
fn no_store(body: impl Serialize) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body)
}

/// Refresh the tokens
///
/// Exchanges a refresh token for a new pair. Each refresh token works once: presenting one that
/// was already exchanged revokes the whole session (every token from that login).
#[utoipa::path(
    tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "A new pair of tokens", body = TokenResponse),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Unknown, expired, reused or revoked refresh token", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is missing or invalid", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(())
)]
#[post("/auth/refresh")]
pub async fn post_refresh(
    state: web::Data<AppState>,
    body: ValidJson<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    let presented = sha256_hex(&body.refresh_token);
    let now = Utc::now();
    let next = state.tokens.new_refresh_token(now);
    let (pool, hash, expires_at) = (state.pool.clone(), next.hash.clone(), next.expires_at);
    let outcome = web::block(move || {
        let mut conn = pool.get()?;
        let token = NewRefreshToken {
            hash: &hash,
            expires_at,
        };
        persistence::auth::rotate_refresh(&mut conn, &presented, token, now.naive_utc())
    })
    .await??;
    match outcome {
        Refresh::Rotated { session, user } => Ok(no_store(tokens_for(
            &state,
            user.get(),
            session,
            next.value,
            now.timestamp(),
        )?)),
        Refresh::Reused { session } => {
            tracing::warn!(
                session_id = session,
                "a used refresh token was presented again; session revoked"
            );
            Err(ApiError::Unauthorized)
        }
        Refresh::Invalid => Err(ApiError::Unauthorized),
    }
}

/// Log out
///
/// Revokes the caller's session: its access and refresh tokens stop working at once, and the
/// devices registered for push notifications under this session (`POST /api/v1/devices`) are
/// unregistered: the phone gets no more pushes.
#[utoipa::path(
    tag = "auth",
    responses(
        (status = 204, description = "Logged out"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "An integrator's token (it has no session to end)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/auth/logout")]
pub async fn post_logout(
    state: web::Data<AppState>,
    auth: AuthUser,
) -> Result<HttpResponse, ApiError> {
    let pool = state.pool.clone();
    web::block(move || {
        let mut conn = pool.get()?;
        persistence::auth::revoke_session(&mut conn, auth.session, "logout", Utc::now().naive_utc())
    })
    .await??;
    tracing::info!(user_id = %auth.user, session_id = auth.session, "logout");
    Ok(HttpResponse::NoContent().finish())
}

/// A client-credentials token request (RFC 6749, section 4.4), form-encoded. The client
/// authenticates with HTTP Basic (`client_id:client_secret`) or with `client_id` and
/// `client_secret` in the body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ClientCredentialsRequest {
    /// Always `client_credentials`.
    #[schema(example = "client_credentials")]
    pub grant_type: String,
    /// The client id, unless sent with HTTP Basic.
    #[serde(default)]
    pub client_id: Option<String>,
    /// The client secret, unless sent with HTTP Basic.
    #[serde(default)]
    #[schema(format = Password)]
    pub client_secret: Option<String>,
    /// Space-separated scopes to ask for; all the client's scopes when left out.
    #[serde(default)]
    #[schema(example = "grades:read roster:read")]
    pub scope: Option<String>,
}

/// An integrator's access token.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientTokenResponse {
    /// A JWT to send as `Authorization: Bearer ...`.
    pub access_token: String,
    /// Always `Bearer`.
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    /// Seconds until the token expires; ask for a new one then (there is no refresh token).
    #[schema(example = 3600)]
    pub expires_in: i64,
    /// The scopes granted, space-separated.
    #[schema(example = "grades:read roster:read")]
    pub scope: String,
}

/// The longest client id or secret read.
const MAX_CREDENTIAL_CHARS: usize = 200;

fn basic_credentials(req: &HttpRequest) -> Result<Option<(String, String)>, ApiError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let malformed = || ApiError::OAuth(OAuthError::InvalidClient);
    let value = value.to_str().map_err(|_| malformed())?;
    let (scheme, encoded) = value.split_once(' ').ok_or_else(malformed)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(malformed());
    }
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| malformed())?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
    Ok(Some((id.to_owned(), secret.to_owned())))
}

/// Get an integrator token
///
/// The OAuth2 client-credentials grant for integrator clients a school or municipality has
/// registered. The token reaches only that school or municipality, and only the scopes asked
/// for (all the client's scopes when `scope` is left out). Errors carry the RFC 6749 `error`
/// code beside this API's problem fields.
#[utoipa::path(
    tag = "auth",
    request_body(content = ClientCredentialsRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "A token", body = ClientTokenResponse),
        (status = 400, description = "`invalid_request`, `unsupported_grant_type` or `invalid_scope`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`invalid_client`: unknown or revoked client, or a wrong secret", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not form-encoded", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed attempts", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(())
)]
#[post("/auth/token")]
pub async fn post_token(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<ClientCredentialsRequest>,
) -> Result<HttpResponse, ApiError> {
    let form = form.into_inner();
    if form.grant_type != "client_credentials" {
        return Err(ApiError::OAuth(OAuthError::UnsupportedGrantType));
    }
    let (client_id, secret) = match (basic_credentials(&req)?, form.client_id, form.client_secret) {
        (Some(basic), None, None) => basic,
        (None, Some(id), Some(secret)) => (id, secret),
        (Some(_), _, _) => {
            return Err(ApiError::OAuth(OAuthError::InvalidRequest(
                "send the client credentials once: with HTTP Basic or in the body".into(),
            )));
        }
        (None, _, _) => return Err(ApiError::OAuth(OAuthError::InvalidClient)),
    };
    if client_id.len() > MAX_CREDENTIAL_CHARS || secret.len() > MAX_CREDENTIAL_CHARS {
        return Err(ApiError::OAuth(OAuthError::InvalidClient));
    }
    // An empty `scope` is taken as left out.
    let requested = form
        .scope
        .as_deref()
        .filter(|scope| !scope.trim().is_empty())
        .map(domain::access::Scope::parse_list)
        .transpose()
        .map_err(|e| ApiError::OAuth(OAuthError::InvalidScope(e.to_string())))?;

    let address = peer_address(&req);
    // Client secrets are 256-bit: failures count per address only (a client id is no secret,
    // and locking it out would let anyone shut an integrator out), apart from logins.
    let keys = [format!("token-addr:{address}")];
    let _ = throttle::check(&state, &keys).await?;
    let pool = state.pool.clone();
    let lookup = client_id.clone();
    let found = web::block(move || -> Result<_, ApiError> {
        let mut conn = pool.get().map_err(persistence::PersistenceError::from)?;
        let Some((id, stored)) = persistence::integrators::credentials(&mut conn, &lookup)? else {
            return Ok(None);
        };
        Ok(
            persistence::access::integrator(&mut conn, domain::IntegratorId(id))?
                .map(|grant| (stored, grant)),
        )
    })
    .await??;
    let Some((_, grant)) = found.filter(|(stored, _)| same_hash(stored, &sha256_hex(&secret)))
    else {
        throttle::failed(&state, &keys).await?;
        tracing::info!(client_id = %client_id, "integrator authentication failed");
        return Err(ApiError::OAuth(OAuthError::InvalidClient));
    };
    let granted = match requested {
        None => grant.scopes.clone(),
        Some(requested) => {
            if let Some(extra) = requested.difference(&grant.scopes).next() {
                return Err(ApiError::OAuth(OAuthError::InvalidScope(format!(
                    "the client is not granted {extra}"
                ))));
            }
            requested
        }
    };
    let scope = granted
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let now = Utc::now().timestamp();
    let token = state.tokens.issue_integrator(grant.id.get(), &scope, now)?;
    tracing::info!(integrator_id = grant.id.get(), %scope, "integrator token issued");
    Ok(no_store(ClientTokenResponse {
        access_token: token,
        token_type: "Bearer",
        expires_in: state.tokens.integrator_ttl(),
        scope,
    }))
}

/// An activation code and the password to set.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActivateRequest {
    /// The one-time code from the school, as printed (`XXXX-XXXX-XXXX`); case, dashes and
    /// spaces do not matter.
    #[validate(length(min = 1, max = 64, message = "must be 1 to 64 characters"))]
    #[schema(example = "7KQ2-M9XD-4TRA", min_length = 1, max_length = 64)]
    pub code: String,
    /// The new password: at least 8 characters.
    #[validate(length(min = 8, max = 1024, message = "must be 8 to 1024 characters"))]
    #[schema(format = Password, min_length = 8, max_length = 1024)]
    pub password: String,
}

/// Activate an account
///
/// Sets the password of an account the school created, with the one-time activation code it
/// handed out, and logs in. The same works as a password reset with a new code from the
/// school. An unknown, used or expired code gets 401; repeated failures from an address are
/// refused for a while with 429.
#[utoipa::path(
    tag = "auth",
    request_body = ActivateRequest,
    responses(
        (status = 200, description = "Activated and logged in", body = TokenResponse),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Unknown, used or expired code", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is missing or invalid", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed attempts", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(())
)]
#[post("/auth/activate")]
pub async fn post_activate(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: ValidJson<ActivateRequest>,
) -> Result<HttpResponse, ApiError> {
    let ActivateRequest { code, password } = body.0;
    let address = peer_address(&req);
    let keys = [format!("activate-addr:{address}")];
    let _ = throttle::check(&state, &keys).await?;
    let Some(code_hash) = activation_code_hash(&code) else {
        throttle::failed(&state, &keys).await?;
        return Err(ApiError::InvalidCredentials);
    };
    let now = Utc::now();
    let refresh = state.tokens.new_refresh_token(now);
    let (pool, refresh_hash, expires_at) =
        (state.pool.clone(), refresh.hash.clone(), refresh.expires_at);
    let activated = web::block(move || -> Result<Option<(i64, i64)>, ApiError> {
        let password_hash =
            password::hash(&password).map_err(|e| ApiError::Internal(e.to_string()))?;
        let mut conn = pool.get().map_err(persistence::PersistenceError::from)?;
        let outcome =
            persistence::admin::activate(&mut conn, &code_hash, &password_hash, now.naive_utc())?;
        let persistence::admin::Activation::Activated(user) = outcome else {
            return Ok(None);
        };
        let token = NewRefreshToken {
            hash: &refresh_hash,
            expires_at,
        };
        let session = persistence::auth::start_session(&mut conn, user, token, now.naive_utc())?;
        Ok(Some((user.get(), session)))
    })
    .await??;
    let Some((user, session)) = activated else {
        throttle::failed(&state, &keys).await?;
        return Err(ApiError::InvalidCredentials);
    };
    tracing::info!(user_id = user, session_id = session, "account activated");
    Ok(no_store(tokens_for(
        &state,
        user,
        session,
        refresh.value,
        now.timestamp(),
    )?))
}
